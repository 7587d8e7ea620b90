"""Every model family on the same capture histories, side by side, with list sensitivity.

Estimates of trafficking populations swing by factors of 2–10 between reasonable models, so a
serious analysis shows several families together (Binette & Steorts 2022, JRSS A; Silverman 2020,
JRSS A): log-linear (BIC over all hierarchical models, and stepwise) with bootstrap intervals,
independence, Chao's lower bound, Rcapture's Mth heterogeneity models (Poisson2, Darroch, Gamma3.5;
M0 and Mh on request), sample coverage (Chao & Tsay 1998), latent classes (LCMCR) and decomposable-
graph averaging (dga). :func:`compare` fits them all, with standard errors where a method has one; a
family that cannot apply to these data gets a row saying why instead of a number. The sensitivity
table re-estimates with each list left out and with chosen lists merged, as MSETools and the Home
Office analysis (Silverman 2014) do by hand.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cifranegra._names import as_items
from cifranegra._random import as_seed_sequence
from cifranegra._version import __version__
from cifranegra.errors import CifranegraError, InputError
from cifranegra.estimation import api, heterogeneity
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.result import EstimateResult

#: family id → (label, registered method, options); the order is the table's and fixes each
#: family's child seed, so adding a family at the end changes no other row.
FAMILIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "loglinear-bic": (
        "log-linear, lowest BIC",
        "loglinear",
        {"select": "bic", "interval": "auto"},
    ),
    "loglinear-stepwise": (
        "log-linear, stepwise",
        "loglinear",
        {"select": "stepwise", "interval": "auto"},
    ),
    "independence": ("independence", "independence", {}),
    "chao": ("Chao lower bound", "chao", {}),
    "sample-coverage": ("sample coverage (high)", "sample-coverage", {"variant": "high"}),
    "sample-coverage-low": (
        "sample coverage (low, one step)",
        "sample-coverage",
        {"variant": "low"},
    ),
    "lcmcr": ("latent classes (LCMCR)", "lcmcr", {}),
    "dga": ("decomposable-graph averaging (dga)", "dga", {}),
    "chapman": ("Chapman (two lists)", "chapman", {}),
    # Rcapture's closedp.t heterogeneity models (Mt is "independence", Mth Chao is "chao")
    "m0": ("Rcapture M0", "m0", {}),
    "mh-chao": ("Rcapture Mh Chao (LB)", "mh-chao", {}),
    "mh-poisson2": ("Rcapture Mh Poisson2", "mh-poisson2", {}),
    "mh-darroch": ("Rcapture Mh Darroch", "mh-darroch", {}),
    "mh-gamma3.5": ("Rcapture Mh Gamma3.5", "mh-gamma3.5", {}),
    "mth-poisson2": ("Rcapture Mth Poisson2", "mth-poisson2", {}),
    "mth-darroch": ("Rcapture Mth Darroch", "mth-darroch", {}),
    "mth-gamma3.5": ("Rcapture Mth Gamma3.5", "mth-gamma3.5", {}),
}
#: Rcapture models left out of the default table: M0 and Mh assume every list catches people with
#: the same probability, which agency lists of very different sizes never do (ask for them by name)
_EQUAL_LISTS = ("m0", "mh-chao", "mh-poisson2", "mh-darroch", "mh-gamma3.5")
#: families fitted by default: all but Chapman, which only applies to two lists, and M0/Mh
DEFAULT_FAMILIES: tuple[str, ...] = tuple(f for f in FAMILIES if f != "chapman" and f not in _EQUAL_LISTS)
#: cheap families used for the drop-one-list and merge scenarios by default
SENSITIVITY_FAMILIES: tuple[str, ...] = (
    "loglinear-bic",
    "independence",
    "sample-coverage-low",
    "dga",
    "chapman",
)
_BOOTSTRAP_FAMILIES = {
    "loglinear-bic",
    "loglinear-stepwise",
    "sample-coverage",
    "sample-coverage-low",
}


@dataclass(frozen=True)
class Comparison:
    """The comparison table (one row per family) and the sensitivity table (scenario × family)."""

    table: pd.DataFrame
    sensitivity: pd.DataFrame
    observed: int
    lists: tuple[str, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    results: Mapping[str, EstimateResult] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for rec in df.to_dict(orient="records"):
                out.append({str(k): _plain(v) for k, v in rec.items()})
            return out

        return {
            "observed": self.observed,
            "lists": list(self.lists),
            "settings": {k: _plain(v) for k, v in self.settings.items()},
            "table": rows(self.table),
            "sensitivity": rows(self.sensitivity),
        }


def _plain(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if np.isnan(f) else f
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def _run(
    histories: CaptureHistories,
    family: str,
    seed: np.random.SeedSequence,
    options: Mapping[str, Any],
) -> tuple[dict[str, Any], EstimateResult | None]:
    label, method, base = FAMILIES[family]
    opts = {**base, **options}
    row: dict[str, Any] = {"family": family, "label": label, "method": method}
    t0 = time.perf_counter()
    result = None
    try:
        result = _estimate(histories, method, seed, opts)
        iv, note = result.reported_interval()
        at_obs = result.at_observed_count
        row.update(
            {
                "model": result.model,
                "estimate": float(result.estimate),
                "std_error": result.std_error if result.std_error is not None else np.nan,
                "lower": iv.lower if iv else np.nan,
                "upper": iv.upper if iv else np.nan,
                "interval_method": iv.method if iv else None,
                "interval_note": note,
                "at_observed_count": f"{at_obs['reason']}; {at_obs['advice']}" if at_obs else None,
                "status": "ok",
                "warnings": " | ".join(result.warnings),
            }
        )
        diag = result.diagnostics
        if "rhat" in diag:
            row["rhat"] = diag["rhat"]
        if "coverage" in diag:
            row["coverage"] = diag["coverage"]
    except CifranegraError as exc:
        row.update(
            {
                "estimate": np.nan,
                "lower": np.nan,
                "upper": np.nan,
                "status": "not applicable",
                "warnings": str(exc),
            }
        )
    except (ImportError, NotImplementedError) as exc:  # a family not installed/landed yet
        row.update(
            {
                "estimate": np.nan,
                "lower": np.nan,
                "upper": np.nan,
                "status": "unavailable",
                "warnings": f"{type(exc).__name__}: {exc}",
            }
        )
    except (ArithmeticError, ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        # one family failing numerically must not take the whole comparison down; say so in its row
        row.update(
            {
                "estimate": np.nan,
                "lower": np.nan,
                "upper": np.nan,
                "status": "failed",
                "warnings": f"{type(exc).__name__}: {exc}",
            }
        )
    row["elapsed_s"] = time.perf_counter() - t0
    return row, result


def _check_merges(merges: Sequence[Sequence[str]], lists: Sequence[str]) -> None:
    """Each merge group names two or more different lists of the table."""
    for group in merges:
        unknown = [x for x in group if x not in lists]
        if unknown:
            raise InputError(f"merge group {list(group)}: {unknown} not among the lists {list(lists)}")
        if len(set(group)) < 2:
            raise InputError(f"merge group {list(group)} must name at least two different lists of {list(lists)}")
        if len(set(group)) != len(group):
            raise InputError(f"merge group {list(group)} names a list twice; name each list once")


def _check_families_once(families: Sequence[str], prefix: str) -> None:
    """Each family named once: a family named twice would be fitted and shown twice (as
    :func:`_check_merges` refuses a list named twice in a merge group)."""
    twice = sorted({f for f in families if list(families).count(f) > 1})
    if twice:
        raise InputError(f"{prefix}method famil(ies) {twice} named twice; name each method once")


def _check_options(family: str, opts: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse an option value that ``family`` refuses (as :func:`api.check_estimator`: builds the spec,
    fits nothing), naming the family; the spec as data (:func:`api.to_dict`, every option resolved)."""
    _, method, base = FAMILIES[family]
    merged = {**base, **opts}
    try:
        if method in heterogeneity.SPECS:
            spec: Any = heterogeneity.SPECS[method](**merged)
        else:
            api.check_estimator(method, merged)
            spec = api.from_dict({"method": method, "options": merged})
        return api.to_dict(spec, method=method)
    except CifranegraError as exc:
        raise InputError(f"{family}: {exc}") from None
    except TypeError:
        raise InputError(f"{family}: options {sorted(opts)} are not all options of method {method!r}") from None


def _estimate(
    histories: CaptureHistories, method: str, seed: np.random.SeedSequence, opts: Mapping[str, Any]
) -> EstimateResult:
    """Fit one family: the Rcapture models straight from their specs (deterministic, so no seed),
    the others through the estimator registry."""
    if method in heterogeneity.SPECS:
        return heterogeneity.SPECS[method](**opts).fit(histories)
    return api.estimate(histories, method, seed=seed, **opts)


def compare(
    histories: CaptureHistories,
    *,
    families: Sequence[str] | None = None,
    seed: Any = None,
    n_boot: int = 200,
    level: float = 0.95,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    sensitivity: bool = True,
    sensitivity_families: Sequence[str] | None = None,
    merges: Sequence[Sequence[str]] = (),
) -> Comparison:
    """Fit every family in ``families`` (default :data:`DEFAULT_FAMILIES`, plus Chapman with two
    lists) to ``histories``.

    ``options`` maps a family id to extra keyword options (e.g. ``{"lcmcr": {"samples": 2000}}``).
    With ``sensitivity``, re-estimate with the ``sensitivity_families`` after leaving out each list
    and after merging each group in ``merges`` (each a list of list names).
    """
    if families is not None:
        fams = as_items(families)
    else:
        fams = list(DEFAULT_FAMILIES) if histories.n_lists > 2 else ["chapman", *DEFAULT_FAMILIES]
    unknown = [f for f in fams if f not in FAMILIES]
    sens_fams = as_items(sensitivity_families) if sensitivity_families is not None else list(SENSITIVITY_FAMILIES)
    unknown += [f for f in sens_fams if f not in FAMILIES]
    if unknown:
        raise InputError(f"unknown method famil(ies) {sorted(set(unknown))}; choose from {list(FAMILIES)}")
    _check_families_once(fams, "")
    _check_families_once(sens_fams, "sensitivity_families: ")
    _check_merges(merges, histories.lists)
    if any(f.startswith("loglinear") for f in fams) and not (
        isinstance(n_boot, int) and not isinstance(n_boot, bool) and n_boot >= 2
    ):  # the log-linear rows' bootstrap interval: a caller's setting, not a property of the table
        raise InputError(f"n_boot must be a whole number of at least 2 (the log-linear families' bootstrap "
                         f"intervals), not {n_boot!r}")
    options = options or {}
    api.check_seed(seed)
    root = as_seed_sequence(seed)
    children = root.spawn(len(FAMILIES))
    child_of = dict(zip(FAMILIES, children, strict=True))

    def opts_for(family: str, *, quick: bool) -> dict[str, Any]:
        o: dict[str, Any] = {}
        if family in _BOOTSTRAP_FAMILIES:
            o["n_boot"] = n_boot
        o["level"] = level
        if quick and family.startswith("loglinear"):
            o["interval"] = "none"
        if quick and family.startswith("sample-coverage"):
            o["n_boot"] = 0
        o.update(options.get(family, {}))
        return o

    # a bad option is the caller's mistake, refused before any fit, not a table of "not applicable"
    specs = {fam: _check_options(fam, opts_for(fam, quick=False))
             for fam in dict.fromkeys([*fams, *(sens_fams if sensitivity else [])])}
    sens_specs = {fam: _check_options(fam, opts_for(fam, quick=True)) for fam in (sens_fams if sensitivity else [])}

    rows = []
    results: dict[str, EstimateResult] = {}
    for fam in fams:
        row, res = _run(histories, fam, child_of[fam], opts_for(fam, quick=False))
        rows.append(row)
        if res is not None:
            results[fam] = res
    table = pd.DataFrame(rows)

    sens_rows: list[dict[str, Any]] = []
    if sensitivity:
        scenarios: list[tuple[str, CaptureHistories | None, str]] = []
        for name in histories.lists:
            keep = [x for x in histories.lists if x != name]
            try:
                scenarios.append((f"drop {name}", histories.select_lists(keep), ""))
            except CifranegraError as exc:
                scenarios.append((f"drop {name}", None, str(exc)))
        for group in merges:
            label = "merge " + "+".join(group)
            try:
                scenarios.append((label, histories.merge_lists([list(group)]), ""))
            except CifranegraError as exc:
                scenarios.append((label, None, str(exc)))
        for scen, h, err in scenarios:
            for fam in sens_fams:
                if fam == "chapman" and h is not None and h.n_lists != 2:
                    continue
                if h is None:
                    sens_rows.append(
                        {
                            "scenario": scen,
                            "family": fam,
                            "estimate": np.nan,
                            "lower": np.nan,
                            "upper": np.nan,
                            "status": "not applicable",
                            "warnings": err,
                        }
                    )
                    continue
                row, _ = _run(h, fam, child_of[fam], opts_for(fam, quick=True))
                row = {"scenario": scen, "lists": h.n_lists, "observed": h.observed, **row}
                sens_rows.append(row)
    sens = pd.DataFrame(sens_rows)
    return Comparison(
        table=table,
        sensitivity=sens,
        observed=histories.observed,
        lists=histories.lists,
        settings={
            "cifranegra_version": __version__,
            "families": fams,
            "sensitivity_families": sens_fams if sensitivity else [],
            "n_boot": n_boot,
            "level": level,
            "merges": [list(g) for g in merges],
            "seed_entropy": root.entropy,
            "input_fingerprint": histories.fingerprint(),
            # what each family was fitted with, defaults resolved (the table, then the quick
            # sensitivity fits), so that the numbers can be traced and re-run
            "specs": {fam: specs[fam] for fam in fams},
            "sensitivity_specs": sens_specs,
        },
        results=results,
    )
