"""One entry point, ``estimate(histories, method=...)``, over every estimator family.

Each family is a spec class (settings only, validated at construction) with
``fit(histories, rng=None) -> EstimateResult``. ``METHODS`` maps the public method names (those of
``cifranegra estimate --method``) to a factory taking the keyword options.

A spec class may declare, as class attributes, the number of lists it accepts: ``min_lists``
(default 2), ``max_lists`` (default :data:`~cifranegra.estimation.histories.MAX_LISTS`, the
largest dense table) and ``lists_limit_reason`` (why, in one phrase). :func:`check_estimator` and
:func:`check_lists` let callers (the pipeline, the CLI) refuse a method, its options or a number of
lists before any linkage or allocation.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from cifranegra.errors import InputError
from cifranegra.estimation.histories import MAX_LISTS, CaptureHistories
from cifranegra.estimation.result import EstimateResult


class Estimator(Protocol):
    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult: ...


METHODS: dict[str, Callable[..., Estimator]] = {}

#: keyword options that are plumbing, not settings (not listed in messages)
_HIDDEN_OPTIONS = frozenset({"progress"})


class ListLimits(NamedTuple):
    """How many lists a method accepts, and why no more."""

    min_lists: int
    max_lists: int
    reason: str


def register(name: str, factory: Callable[..., Estimator]) -> None:
    """Make an estimator available to ``estimate`` and the CLI under ``name``."""
    METHODS[name] = factory


def methods() -> list[str]:
    """The registered method names, sorted."""
    _load_builtin()
    return sorted(METHODS)


def _factory(name: str) -> Callable[..., Estimator]:
    _load_builtin()
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name), list(METHODS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InputError(f"unknown method {name!r}{hint}; choose one of: {', '.join(sorted(METHODS))}")


def option_names(name: str, *, plumbing: bool = False) -> list[str]:
    """The keyword options the estimator ``name`` accepts (its constructor's parameters); with
    ``plumbing``, also those that are not settings (a progress callback)."""
    accepted = _accepted(_factory(name))
    return sorted(accepted if plumbing else accepted - _HIDDEN_OPTIONS)


def _accepted(factory: Any) -> set[str]:
    if dataclasses.is_dataclass(factory):
        return {f.name for f in dataclasses.fields(factory) if f.init}
    params = inspect.signature(factory).parameters.values()
    return {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def check_estimator(name: str, options: Mapping[str, Any], *, labels: Mapping[str, str] | None = None) -> None:
    """Refuse, with an :class:`~cifranegra.errors.InputError`, an unknown method, an option the
    method does not take, or an option value it refuses; silent when the spec can be built.

    ``labels`` maps option names to how the caller's users write them (the CLI passes
    ``{"n_boot": "--n-boot", ...}``, a project file its keys), so that messages speak their language.
    Cheap (builds the spec, fits nothing), so it can run before any linkage.
    """
    _build(name, options, labels)


def _build(name: str, options: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> Estimator:
    factory = _factory(name)
    accepted = _accepted(factory)
    labels = dict(labels or {})

    def label(key: str) -> str:
        return labels.get(key, repr(key))

    unknown = [k for k in options if k not in accepted]
    if unknown:
        valid = sorted(accepted - _HIDDEN_OPTIONS)
        parts = []
        for k in unknown:
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
    except (TypeError, ValueError) as exc:
        culprit = _culprit(factory, options)
        if culprit is None:
            raise InputError(f"the options of method {name!r} cannot be used together ({exc})") from None
        want = _expected(factory, culprit)
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
        except (TypeError, ValueError):
            return str(key)
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    kind = type(value).__name__
    return f"{text} ({kind})" if len(text) <= 40 else f"a {kind} of {len(text)} characters"


def _expected(factory: Callable[..., Estimator], option: str) -> str:
    """What an option takes, read from its default value or, failing that, its annotation."""
    if dataclasses.is_dataclass(factory):
        fields = {f.name: f for f in dataclasses.fields(factory)}
        default = fields[option].default if option in fields else None
        annotation = str(fields[option].type) if option in fields else ""
    else:
        params = inspect.signature(factory).parameters
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
    factory = _factory(name)
    return ListLimits(
        int(getattr(factory, "min_lists", 2)),
        int(getattr(factory, "max_lists", MAX_LISTS)),
        str(
            getattr(
                factory,
                "lists_limit_reason",
                f"the capture-history table has 2^K cells, held in memory up to {MAX_LISTS} lists",
            )
        ),
    )


def max_lists(name: str) -> int:
    """Largest number of lists method ``name`` accepts (see :func:`list_limits` for the reason)."""
    return list_limits(name).max_lists


def check_lists(name: str, n_lists: int) -> None:
    """Refuse ``n_lists`` lists for method ``name`` before anything is allocated or linked."""
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
    """Fit ``method`` with ``options`` to ``histories``; ``seed`` drives every random step."""
    check_seed(seed)
    spec = _build(method, options)
    check_lists(method, histories.n_lists)
    return spec.fit(histories, rng=seed)


def _load_builtin() -> None:
    # importing the modules registers their methods
    from cifranegra.estimation import registry  # noqa: F401
