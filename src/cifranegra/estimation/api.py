"""One entry point, ``estimate(histories, method=...)``, over every estimator family, and the
estimator contract.

The methods and where their spec classes live are one table, :data:`~.registry.TABLE`; a spec class
is imported on first use, so importing this module (and listing the methods) imports no estimator,
scipy or pandas. ``METHODS`` maps each public method name (those of ``cifranegra estimate
--method``) to its spec factory, loaded when looked up.

A spec is a frozen dataclass whose init fields are exactly its options, validated at construction
(an :class:`~cifranegra.errors.InputError` naming the option), with ``fit(histories, rng=None) ->
EstimateResult``. :func:`to_dict` / :func:`from_dict` turn a spec into JSON-safe data and back
(``{"method": name, "options": {...}}``); ``from_dict`` validates as :func:`check_estimator` does.

A spec class may declare, as class attributes, the number of lists it accepts: ``min_lists``
(default 2), ``max_lists`` (default :data:`~cifranegra.estimation.histories.MAX_LISTS`, the
largest dense table) and ``lists_limit_reason`` (why, in one phrase). :func:`check_estimator` and
:func:`check_lists` let callers (the pipeline, the CLI) refuse a method, its options or a number of
lists before any linkage or allocation.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import inspect
import math
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from cifranegra.errors import InputError
from cifranegra.estimation.registry import TABLE, MethodEntry

if TYPE_CHECKING:
    from cifranegra.estimation.histories import CaptureHistories
    from cifranegra.estimation.result import EstimateResult

#: the largest dense capture-history table (kept equal to histories.MAX_LISTS by a test; written
#: here so that reading the limits imports no pandas)
DENSE_MAX_LISTS = 24


class Estimator(Protocol):
    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult: ...


#: keyword options that are plumbing, not settings (not listed in messages, not in to_dict)
_HIDDEN_OPTIONS = frozenset({"progress"})

#: methods added at run time by :func:`register` (built-ins are in registry.TABLE)
_EXTRA: dict[str, MethodEntry] = {}
#: spec factories already loaded, by method name
_LOADED: dict[str, Callable[..., Estimator]] = {}


def _entries() -> dict[str, MethodEntry]:
    """Every method whose module can be imported: the table, then those registered at run time."""
    out = {name: e for name, e in TABLE.items() if e.available()}
    out.update(_EXTRA)
    return out


class _Methods(Mapping[str, Callable[..., Estimator]]):
    """Method name → spec factory; names come from the table, a factory is imported when looked up."""

    def __getitem__(self, name: str) -> Callable[..., Estimator]:
        if name in _LOADED:
            return _LOADED[name]
        entry = _entries()[name]  # KeyError for an unknown name, as a dict
        cls = entry.load()
        factory: Callable[..., Estimator] = functools.partial(cls, **entry.preset) if entry.preset else cls
        _LOADED[name] = factory
        return factory

    def __iter__(self) -> Iterator[str]:
        return iter(_entries())

    def __len__(self) -> int:
        return len(_entries())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in _entries()


METHODS: Mapping[str, Callable[..., Estimator]] = _Methods()


class ListLimits(NamedTuple):
    """How many lists a method accepts, and why no more."""

    min_lists: int
    max_lists: int
    reason: str


def register(name: str, factory: Callable[..., Estimator], *, preset: Mapping[str, Any] | None = None) -> None:
    """Make a spec class available to ``estimate`` and the CLI under ``name`` (for methods outside
    the package; built-ins are in :data:`~cifranegra.estimation.registry.TABLE`). ``preset`` fixes
    some of its options under this name."""
    entry = MethodEntry(factory.__module__, factory.__qualname__, dict(preset or {}))
    _EXTRA[name] = entry
    _LOADED[name] = functools.partial(factory, **entry.preset) if entry.preset else factory


def methods() -> list[str]:
    """The registered method names, sorted."""
    return sorted(METHODS)


def _entry_of(name: str) -> MethodEntry:
    entries = _entries()
    if isinstance(name, str) and name in entries:
        return entries[name]
    close = difflib.get_close_matches(str(name), list(entries), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InputError(f"unknown method {name!r}{hint}; choose one of: {', '.join(sorted(entries))}")


def _factory(name: str) -> Callable[..., Estimator]:
    _entry_of(name)
    return METHODS[name]


def spec_class(name: str) -> type:
    """The spec class behind method ``name`` (imported now)."""
    factory = _factory(name)
    return factory.func if isinstance(factory, functools.partial) else factory  # type: ignore[return-value]


def option_names(name: str, *, plumbing: bool = False) -> list[str]:
    """The keyword options the estimator ``name`` accepts (its spec's init fields, less those its
    name fixes); with ``plumbing``, also those that are not settings (a progress callback)."""
    accepted = _accepted(name)
    return sorted(accepted if plumbing else accepted - _HIDDEN_OPTIONS)


def _accepted(name: str) -> set[str]:
    cls = spec_class(name)
    fixed = set(_entry_of(name).preset)
    if dataclasses.is_dataclass(cls):
        names = {f.name for f in dataclasses.fields(cls) if f.init}
    else:
        params = inspect.signature(cls).parameters.values()
        names = {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return names - fixed


def check_estimator(name: str, options: Mapping[str, Any], *, labels: Mapping[str, str] | None = None) -> None:
    """Refuse, with an :class:`~cifranegra.errors.InputError`, an unknown method, an option the
    method does not take, or an option value it refuses; silent when the spec can be built.

    ``labels`` maps option names to how the caller's users write them (the CLI passes
    ``{"n_boot": "--n-boot", ...}``, a project file its keys), so that messages speak their language.
    Cheap (builds the spec, fits nothing), so it can run before any linkage.
    """
    if not isinstance(options, Mapping):
        raise InputError(f"options must be a table of option names and values (a dict), not {type(options).__name__}")
    _build(name, options, labels)


def _build(name: str, options: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> Estimator:
    factory = _factory(name)
    accepted = _accepted(name)
    labels = dict(labels or {})

    def label(key: str) -> str:
        return labels.get(key, repr(key))

    unknown = [k for k in options if k not in accepted]
    if unknown:
        valid = sorted(accepted - _HIDDEN_OPTIONS)
        fixed = _entry_of(name).preset
        parts = []
        for k in unknown:
            if k in fixed:
                parts.append(f"{label(str(k))} (fixed at {fixed[k]!r} by the method's name)")
                continue
            close = difflib.get_close_matches(str(k), valid, n=1)
            parts.append(label(str(k)) + (f" (did you mean {label(close[0])}?)" if close else ""))
        raise InputError(
            f"method {name!r} has no option {', '.join(parts)}; its options are: "
            + (", ".join(labels.get(v, v) for v in valid) or "(none)")
        )
    try:
        return factory(**options)
    except InputError as exc:
        if not labels:
            raise
        raise InputError(_relabel(str(exc), labels)) from None
    except (TypeError, ValueError, OverflowError) as exc:
        culprit = _culprit(factory, options)
        if culprit is None:
            raise InputError(f"the options of method {name!r} cannot be used together ({exc})") from None
        want = _expected(spec_class(name), culprit)
        raise InputError(
            f"option {label(culprit)} of method {name!r} cannot be {_shown(options[culprit])}"
            + (f"; it takes {want}" if want else "")
        ) from None


def _relabel(text: str, labels: Mapping[str, str]) -> str:
    """A spec's message ("n_boot must be ...; level must be ...") with each clause's leading option
    name written as the caller's users write it ("--n-boot must be ...")."""
    out = []
    for part in text.split("; "):
        for key, lab in labels.items():
            if part.startswith(key + " "):
                part = lab + part[len(key) :]
                break
        out.append(part)
    return "; ".join(out)


def _culprit(factory: Callable[..., Estimator], options: Mapping[str, Any]) -> str | None:
    """The first option that the factory refuses on its own (None if only the combination fails)."""
    for key, value in options.items():
        try:
            factory(**{key: value})
        except (TypeError, ValueError, OverflowError):
            return str(key)
        except InputError:
            pass
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    kind = type(value).__name__
    return f"{text} ({kind})" if len(text) <= 40 else f"a {kind} of {len(text)} characters"


def _expected(cls: Any, option: str) -> str:
    """What an option takes, read from its default value or, failing that, its annotation."""
    if dataclasses.is_dataclass(cls):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        default = fields[option].default if option in fields else None
        annotation = str(fields[option].type) if option in fields else ""
    else:
        params = inspect.signature(cls).parameters
        default = params[option].default if option in params else None
        annotation = str(params[option].annotation) if option in params else ""
    if isinstance(default, bool) or annotation.startswith("bool"):
        return "true or false"
    if isinstance(default, int) or annotation.startswith("int"):
        return "a whole number"
    if isinstance(default, float) or annotation.startswith("float"):
        return "a number"
    if isinstance(default, str) or annotation.startswith("str"):
        return "a word (see the method's documentation)"
    return ""


def list_limits(name: str) -> ListLimits:
    """Smallest and largest number of lists method ``name`` accepts, with the reason for the limit."""
    cls = spec_class(name)
    return ListLimits(
        int(getattr(cls, "min_lists", 2)),
        int(getattr(cls, "max_lists", DENSE_MAX_LISTS)),
        str(
            getattr(
                cls,
                "lists_limit_reason",
                f"the capture-history table has 2^K cells, held in memory up to {DENSE_MAX_LISTS} lists",
            )
        ),
    )


def max_lists(name: str) -> int:
    """Largest number of lists method ``name`` accepts (see :func:`list_limits` for the reason)."""
    return list_limits(name).max_lists


def check_lists(name: str, n_lists: int) -> None:
    """Refuse ``n_lists`` lists for method ``name`` before anything is allocated or linked."""
    import numbers

    if isinstance(n_lists, bool) or not isinstance(n_lists, numbers.Integral):  # "2" gave "needs two, got 2"
        raise InputError(f"n_lists must be a whole number, not {n_lists!r}")
    lo, hi, reason = list_limits(name)
    if lo == hi == 2 and n_lists != 2:
        raise InputError(
            f"method {name!r} needs exactly two lists, got {n_lists}: {reason}; use --method loglinear, "
            "or keep two lists"
        )
    if n_lists > hi:
        raise InputError(
            f"method {name!r} supports at most {hi} lists, got {n_lists}: {reason}. Use fewer lists "
            "(leave out or merge lists that hold the same kind of source), or another method "
            "(see the table of limits in docs/estimation.md)"
        )
    if n_lists < lo:
        two = "; with 2 lists use --method chapman or petersen" if n_lists == 2 else ""
        raise InputError(f"method {name!r} needs at least {lo} lists, got {n_lists}{two}")


def check_seed(seed: Any) -> None:
    """Refuse a seed that is not a whole number ≥ 0 (or a numpy SeedSequence/Generator, or None)."""
    import numpy as np

    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.Generator)):
        return
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputError(f"the seed must be a whole number ≥ 0 (--seed N), got a {type(seed).__name__}")
    if seed < 0:
        raise InputError(f"the seed must be a whole number ≥ 0 (--seed N), got {int(seed)}")


def estimate(
    histories: CaptureHistories, method: str = "loglinear", *, seed: Any = None, **options: Any
) -> EstimateResult:
    """Fit ``method`` with ``options`` to ``histories``; ``seed`` drives every random step.

    The result's settings record the spec as ``settings["spec"]`` (:func:`to_dict`), so that
    ``from_dict(result.settings["spec"])`` rebuilds the estimator that made it."""
    check_seed(seed)
    spec = _build(method, options)
    check_lists(method, histories.n_lists)
    result = spec.fit(histories, rng=seed)
    if "spec" in result.settings:
        return result
    return dataclasses.replace(result, settings={**result.settings, "spec": to_dict(spec, method=method)})


# ---------------------------------------------------------------------------- specs as data
def method_name(spec: Any) -> str:
    """The method name of a spec: the first name in the table for its class whose fixed options
    the spec has (``Independence()`` → ``"independence"``, not its alias ``"mt"``)."""
    cls = type(spec)
    for name, entry in _entries().items():
        same = entry.module == cls.__module__ and entry.cls == cls.__qualname__
        if same and all(getattr(spec, k, _NOTHING) == v for k, v in entry.preset.items()):
            return name
    raise InputError(
        f"{cls.__name__} is not an estimator known to cifranegra; add it to "
        "cifranegra.estimation.registry.TABLE (or call cifranegra.estimation.register)"
    )


_NOTHING = object()


def _spec_options(spec: Any, name: str) -> dict[str, Any]:
    """The spec's option values by name (init fields; for a plain class, its constructor's
    parameters read back as attributes), less plumbing and the options its name fixes."""
    keep = _accepted(name) - _HIDDEN_OPTIONS
    cls = type(spec)
    if dataclasses.is_dataclass(cls):
        order = [f.name for f in dataclasses.fields(cls) if f.init]
    else:
        order = list(inspect.signature(cls).parameters)
    return {k: getattr(spec, k) for k in order if k in keep}


def to_dict(spec: Any, *, method: str | None = None) -> dict[str, Any]:
    """``{"method": name, "options": {every option: its value}}``, JSON-safe (tuples as lists,
    enums as their values, numpy scalars as numbers); :func:`from_dict` gives the spec back.

    ``method`` names an alias of the spec's class (``"mt"`` for ``Independence``); by default the
    class's first name in the table."""
    name = method_name(spec) if method is None else method
    if method is not None and spec_class(name) is not type(spec):
        raise InputError(f"method {name!r} is not a {type(spec).__name__}")
    return {"method": name, "options": {k: _to_json(v, k) for k, v in _spec_options(spec, name).items()}}


def _to_json(value: Any, option: str) -> Any:
    if isinstance(value, enum.Enum):
        return _to_json(value.value, option)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"option {option!r} is {value}: a spec holds finite numbers only")
        return float(value)
    kind = type(value).__module__
    if kind == "numpy":
        return _to_json(value.item(), option)
    if isinstance(value, (list, tuple)):
        return [_to_json(v, option) for v in value]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _to_json(v, option) for k, v in value.items()}
    raise InputError(f"option {option!r} holds a {type(value).__name__}, which a spec cannot write as JSON")


def from_dict(data: Mapping[str, Any]) -> Estimator:
    """The spec that :func:`to_dict` wrote; validated as :func:`check_estimator` validates (an
    unknown method or option, or a value the spec refuses, is an InputError naming the valid ones)."""
    if not isinstance(data, Mapping):
        raise InputError(
            f'an estimator spec is a mapping {{"method": ..., "options": {{...}}}}, got a {type(data).__name__}'
        )
    stray = sorted(str(k) for k in data if k not in ("method", "options"))
    if stray:
        raise InputError(f"an estimator spec has only 'method' and 'options'; remove {', '.join(stray)}")
    if "method" not in data:
        raise InputError(f"an estimator spec needs a 'method', one of: {', '.join(methods())}")
    name = data["method"]
    options = data.get("options") or {}
    if not isinstance(options, Mapping):
        raise InputError(f"the 'options' of method {name!r} must be a mapping of option names to values")
    _entry_of(name)
    cls = spec_class(name)
    return _build(name, {str(k): _from_json(cls, str(k), v) for k, v in options.items()})


def _from_json(cls: Any, option: str, value: Any) -> Any:
    """A JSON value as the spec wants it: lists as tuples, an enum option's value as its member."""
    if isinstance(value, list):
        value = tuple(_from_json(cls, "", v) for v in value)
    if value is None or not option:
        return value
    for kind in _enum_types(cls, option):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def _enum_types(cls: Any, option: str) -> list[type[enum.Enum]]:
    try:
        hint = typing.get_type_hints(cls).get(option)
    except Exception:  # an annotation that cannot be resolved: no enum conversion
        return []
    todo, out = [hint], []
    while todo:
        h = todo.pop()
        if isinstance(h, type) and issubclass(h, enum.Enum):
            out.append(h)
        todo.extend(typing.get_args(h))
    return out


def _load_builtin() -> None:
    """Kept for callers of the former registry: the table needs no loading now."""
