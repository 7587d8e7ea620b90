"""The estimator contract (issue 17 item 5), run over every method in the table.

Every registered method: a frozen dataclass whose init fields are its options; its spec round-trips
through JSON (``to_dict``/``from_dict``) exactly; the same seed gives the same numbers; a bad option
value is an InputError naming the option (never a TypeError or ValueError); an unknown option is an
InputError with a did-you-mean; every public reference table is estimated (a finite estimate ≥ the
observed count) or refused with an InputError or ModelError, never another exception.

Rcapture's heterogeneity models (``m0``, ``mh-*``, ``mth-*``) are skipped only while their module
is missing (``pytest.importorskip``).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import subprocess
import sys
import warnings
from typing import Any

import pandas as pd
import pytest

from cifranegra.datasets.reference import load_reference, reference_path, reference_tables
from cifranegra.errors import InputError, ModelError
from cifranegra.estimation import api
from cifranegra.estimation.api import (
    METHODS,
    check_estimator,
    estimate,
    from_dict,
    methods,
    option_names,
    spec_class,
    to_dict,
)
from cifranegra.estimation.histories import MAX_LISTS, CaptureHistories
from cifranegra.estimation.registry import TABLE
from refdata import table

#: options that keep a fit fast (the contract is about behaviour, not about precision)
FAST: dict[str, dict[str, Any]] = {
    "loglinear": {"n_boot": 20},
    "lcmcr": {"chains": 2, "samples": 20, "burn_in": 40, "thin": 1},
    "sample-coverage": {"n_boot": 20},
}
#: a valid spec other than the default, per method (level = 0.9 for the others)
NON_DEFAULT: dict[str, dict[str, Any]] = {
    "loglinear": {"select": "stepwise", "max_order": 2, "ntop": 5, "n_boot": 50, "level": 0.9},
    "dga": {"delta": 0.5, "prior": "rissanen", "max_n": 5000, "top_models": 3},
    "lcmcr": {"max_classes": 3, "init": "alternate", "chains": 2, "a_alpha": 0.5},
    "sample-coverage": {"variant": "low", "n_boot": 10},
}
#: values no option takes in the form given (a spec may accept some; it must never raise anything
#: but an InputError)
ODD_VALUES: list[Any] = ["nonsense", -1, -0.5, 0, True, 1e300, math.nan, math.inf, [1], {"a": 1}, object()]


def _name(name: str) -> str:
    """The method, skipped only when its estimator's module is not there yet."""
    if name not in methods():
        pytest.importorskip(TABLE[name].module)
        pytest.fail(f"{name} is in the table and its module imports, but methods() does not list it")
    return name


ALL = sorted(TABLE)


def _small(name: str) -> CaptureHistories:
    """The first small public table the method estimates: Korea (3 lists, 123 people; its first two
    lists for two-list methods), spina bifida (3 lists, 621), Kosovo (4 lists, 4,400)."""
    if api.list_limits(name).max_lists == 2:
        h = table("MultipleSystemsEstimation_Korea")
        return h.select_lists(list(h.lists[:2]))
    for ref in ("MultipleSystemsEstimation_Korea", "conting_spina", "MultipleSystemsEstimation_Kosovo"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                estimate(table(ref), name, seed=1, **FAST.get(name, {}))
        except ModelError:  # e.g. the saturated model has no extended MLE on Korea
            continue
        return table(ref)
    pytest.fail(f"{name} estimates none of the small tables")


def _public_tables(two_lists: bool = False) -> list[tuple[str, CaptureHistories]]:
    """Every bundled public table; a stratified one (a column other than count that is not 0/1)
    pooled and stratum by stratum. With ``two_lists``, each table's first two lists."""
    if two_lists:
        return [(f"{ref}, first two lists", h.select_lists(list(h.lists[:2]))) for ref, h in _public_tables()]
    out = []
    for ref in sorted(reference_tables()):
        path = reference_path(ref)
        df = pd.read_csv(path)
        strata = [c for c in df.columns if c != "count" and not df[c].isin([0, 1]).all()]
        if not strata:
            out.append((ref, load_reference(ref)))
            continue
        lists = [c for c in df.columns if c != "count" and c not in strata]
        pooled = df.groupby(lists, as_index=False)["count"].sum()
        out.append((f"{ref} pooled", CaptureHistories.from_frame(pooled, source=path.name)))
        by = CaptureHistories.stratified_from_frame(df, strata=strata, source=path.name)
        out += [(f"{ref} {key}", h) for key, h in by.items()]
    return out


def _scrub(obj: Any) -> Any:
    """A result's dict without timings (the only thing allowed to differ between two fits)."""
    if isinstance(obj, dict):
        timing = ("elapsed" in k or "per_second" in k or k.endswith(("_seconds", "_s")) for k in obj)
        return {k: _scrub(v) for (k, v), t in zip(obj.items(), timing, strict=True) if not t}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------- the table itself
def test_table_lists_every_method_of_the_issue() -> None:
    want = {
        "loglinear", "independence", "mt", "chao", "saturated", "petersen", "chapman", "lcmcr", "dga",
        "sample-coverage", "m0", "mh-chao", "mh-poisson2", "mh-darroch", "mh-gamma3.5", "mth-chao",
        "mth-poisson2", "mth-darroch", "mth-gamma3.5",
    }  # fmt: skip
    assert set(TABLE) == want
    assert TABLE["mt"] == TABLE["independence"]
    assert api.DENSE_MAX_LISTS == MAX_LISTS


def test_registry_imports_nothing_of_the_package() -> None:
    import ast
    from pathlib import Path

    import cifranegra.estimation.registry as reg

    tree = ast.parse(Path(reg.__file__).read_text(encoding="utf-8"))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and m.startswith("cifranegra")], imported


@pytest.mark.parametrize("module", ["cifranegra.estimation", "cifranegra.estimation.api"])
def test_importing_the_estimation_layer_is_light(module: str) -> None:
    """Listing the methods imports no scipy, pandas, numba or estimator module."""
    code = (
        f"import sys, {module}\n"
        "from cifranegra.estimation.api import methods\n"
        "assert 'dga' in methods()\n"
        "heavy = [m for m in ('scipy.stats', 'scipy', 'pandas', 'numba', 'cifranegra.estimation.dga',"
        " 'cifranegra.estimation.loglinear', 'cifranegra.estimation.histories') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# ---------------------------------------------------------------------------- per method
@pytest.mark.parametrize("name", ALL)
def test_spec_is_a_frozen_dataclass_of_its_options(name: str) -> None:
    cls = spec_class(_name(name))
    assert dataclasses.is_dataclass(cls), f"{cls.__name__} is not a dataclass"
    assert cls.__dataclass_params__.frozen, f"{cls.__name__} is not frozen"  # type: ignore[attr-defined]
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    assert set(option_names(name, plumbing=True)) == fields - set(TABLE[name].preset)


@pytest.mark.parametrize("name", ALL)
def test_json_round_trip(name: str) -> None:
    _name(name)
    options = NON_DEFAULT.get(name, {"level": 0.9})
    for spec in (from_dict({"method": name}), from_dict({"method": name, "options": options})):
        d = to_dict(spec)
        text = json.dumps(d, allow_nan=False)  # JSON-safe: no NaN, no tuples, no objects
        back = from_dict(json.loads(text))
        assert back == spec
        assert type(back) is type(spec)
        assert to_dict(back) == d
        assert set(d["options"]) == set(option_names(name))  # every option written, plumbing not
    assert to_dict(from_dict({"method": name, "options": options}))["options"].items() >= {
        k: list(v) if isinstance(v, tuple) else v for k, v in options.items()
    }.items()
    assert to_dict(METHODS[name](), method=name)["method"] == name


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_numbers(name: str) -> None:
    _name(name)
    h = _small(name)
    opts = FAST.get(name, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = estimate(h, name, seed=20251, **opts).to_dict()
        b = estimate(h, name, seed=20251, **opts).to_dict()
    assert _scrub(a) == _scrub(b)
    assert from_dict(a["settings"]["spec"]) == from_dict({"method": name, "options": opts})


@pytest.mark.parametrize("name", ALL)
def test_bad_option_values_are_input_errors(name: str) -> None:
    """Every option given an odd value: accepted or an InputError naming it — from the spec itself
    (Python users) and from check_estimator (CLI, project files)."""
    _name(name)
    factory = METHODS[name]
    for option in option_names(name):
        for value in ODD_VALUES:
            try:
                factory(**{option: value})
            except InputError as exc:
                assert option in str(exc), (option, value, str(exc))
            except Exception as exc:  # the point: nothing else may escape
                pytest.fail(f"{name}({option}={value!r}) raised {type(exc).__name__}: {exc}")
            try:
                check_estimator(name, {option: value}, labels={option: f"--{option}"})
            except InputError as exc:
                assert f"--{option}" in str(exc), (option, value, str(exc))
    if "level" in option_names(name):
        for bad in (1.5, "high", None):
            with pytest.raises(InputError, match="level"):
                factory(level=bad)
        # one wording for every method, as docs/estimation.md quotes it (two wordings before)
        with pytest.raises(InputError, match=r"level must be a number between 0 and 1 \(e\.g\. 0\.95\), got 'high'"):
            check_estimator(name, {"level": "high"})


@pytest.mark.parametrize("name", ALL)
def test_unknown_option_suggests_the_closest(name: str) -> None:
    _name(name)
    real = option_names(name)
    assert real, f"{name} has no options"
    typo = real[0][:-1] + "x" + real[0][-1]  # one letter more
    with pytest.raises(InputError, match=rf"no option '{typo}' \(did you mean '{real[0]}'\?\)") as e:
        check_estimator(name, {typo: 1})
    assert ", ".join(real) in str(e.value)
    with pytest.raises(InputError, match="did you mean"):
        from_dict({"method": name, "options": {typo: 1}})


@pytest.mark.parametrize("name", ALL)
def test_every_reference_table_estimated_or_refused(name: str) -> None:
    _name(name)
    outcomes = {}
    for ref, h in _public_tables(two_lists=api.list_limits(name).max_lists == 2):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = estimate(h, name, seed=3, **FAST.get(name, {}))
        except (InputError, ModelError) as exc:
            assert str(exc), ref
            outcomes[ref] = "refused"
            continue
        assert math.isfinite(r.estimate) and r.estimate >= h.observed, (ref, r.estimate, h.observed)
        outcomes[ref] = "estimated"
    assert "estimated" in outcomes.values(), outcomes  # every method estimates some public table


# ---------------------------------------------------------------------------- to_dict / from_dict
def test_from_dict_refuses_what_is_not_a_spec() -> None:
    with pytest.raises(InputError, match=r"unknown method 'dgaa' \(did you mean 'dga'\?\)"):
        from_dict({"method": "dgaa"})
    with pytest.raises(InputError, match="is a mapping"):
        from_dict(["dga"])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="remove seed"):
        from_dict({"method": "dga", "seed": 1})
    with pytest.raises(InputError, match="needs a 'method'"):
        from_dict({"options": {}})
    with pytest.raises(InputError, match="must be a mapping"):
        from_dict({"method": "dga", "options": [1]})
    with pytest.raises(InputError, match="prior must be one of"):
        from_dict({"method": "dga", "options": {"prior": "jeffreys"}})


def test_alias_and_canonical_names() -> None:
    spec = from_dict({"method": "mt", "options": {"level": 0.9}})
    assert to_dict(spec) == {"method": "independence", "options": {"interval": "profile", "level": 0.9}}
    assert to_dict(spec, method="mt")["method"] == "mt"
    with pytest.raises(InputError, match="is not a"):
        to_dict(spec, method="dga")


class _Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass(frozen=True)
class _Toy:
    """A spec with an enum and a tuple option, and a plumbing option."""

    colour: _Colour = _Colour.RED
    cut: tuple[float, ...] = (0.5, 0.9)
    scale: float = 1.0
    progress: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.colour, _Colour):
            raise InputError(f"colour must be red or blue, got {self.colour!r}")

    def fit(self, histories: CaptureHistories, rng: Any = None) -> Any:  # pragma: no cover - never fitted
        raise NotImplementedError


def test_enums_tuples_and_presets_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "_EXTRA", dict(api._EXTRA))
    monkeypatch.setattr(api, "_LOADED", dict(api._LOADED))
    api.register("toy", _Toy)
    api.register("toy-blue", _Toy, preset={"colour": _Colour.BLUE})
    spec = _Toy(colour=_Colour.BLUE, cut=(0.1,), scale=2.5)
    d = to_dict(spec)
    assert d == {"method": "toy", "options": {"colour": "blue", "cut": [0.1], "scale": 2.5}}
    assert from_dict(json.loads(json.dumps(d))) == spec
    # a preset fixes its options: not listed, not settable, written under the preset's name
    assert option_names("toy-blue") == ["cut", "scale"]
    assert from_dict({"method": "toy-blue", "options": {"scale": 3.0}}) == _Toy(colour=_Colour.BLUE, scale=3.0)
    with pytest.raises(InputError, match="fixed at"):
        check_estimator("toy-blue", {"colour": "red"})
    assert to_dict(_Toy(colour=_Colour.BLUE), method="toy-blue") == {
        "method": "toy-blue",
        "options": {"cut": [0.5, 0.9], "scale": 1.0},
    }
    with pytest.raises(InputError, match="colour must be red or blue"):
        from_dict({"method": "toy", "options": {"colour": "green"}})
    with pytest.raises(InputError, match="finite"):
        to_dict(_Toy(scale=math.inf))
    with pytest.raises(InputError, match="not an estimator known"):
        to_dict(CaptureHistories(("a", "b"), [0, 1, 1, 1]))
