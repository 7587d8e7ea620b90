"""One surface for every estimator (DESIGN.md: spec, fit, result).

Every ``fit`` returns a frozen :class:`EstimateResult`: ``estimate``, ``std_error`` (None where the
method has none), ``interval(level)``, ``summary()`` (a tidy DataFrame), ``models()`` (the ranked
model table, when there is one),
``to_dict()``/``from_dict()`` (JSON with package version, seed, settings and input fingerprint). A new
estimator declares only what is specific to it: its ``method`` name, its settings, its diagnostics, and
either stored intervals or the replicates/draws from which intervals at any level are computed.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from cifranegra._version import __version__
from cifranegra.errors import InputError


@dataclass(frozen=True)
class Interval:
    """A confidence or credible interval for the population size N."""

    lower: float
    upper: float
    level: float
    method: str  # "profile", "wald", "bootstrap-bca", "bootstrap-percentile", "posterior", ...

    def to_dict(self) -> dict[str, Any]:
        return {"lower": _num(self.lower), "upper": _num(self.upper), "level": self.level, "method": self.method}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Interval:
        return cls(_unnum(d["lower"]), _unnum(d["upper"]), float(d["level"]), str(d["method"]))


def _num(x: float) -> float | str:
    if isinstance(x, (float, np.floating)) and not math.isfinite(float(x)):
        return "inf" if x > 0 else "-inf" if x < 0 else "nan"
    return float(x)


def _unnum(x: Any) -> float:
    return float(x)


def percentile_interval(replicates: np.ndarray, level: float) -> tuple[float, float]:
    """Equal-tailed percentile interval of bootstrap replicates or posterior draws."""
    r = np.asarray(replicates, dtype=float)
    r = r[np.isfinite(r)]
    a = (1 - level) / 2
    lo, hi = np.quantile(r, [a, 1 - a])
    return float(lo), float(hi)


def bca_interval(replicates: np.ndarray, estimate: float, acceleration: float, level: float) -> tuple[float, float]:
    """Bias-corrected and accelerated bootstrap interval (Efron 1987; DiCiccio & Efron 1996).

    The bias correction z0 is the normal quantile of the share of replicates below the estimate; the
    adjusted percentiles are read with quantile type 8 (Hyndman & Fan 1996), as
    MultipleSystemsEstimation and SparseMSE do, so results agree with them.
    """
    r = np.sort(np.asarray(replicates, dtype=float))
    r = r[np.isfinite(r)]
    if r.size == 0:
        return (math.nan, math.nan)
    share = float(np.mean(r < estimate))
    if share <= 0.0 or share >= 1.0:  # all replicates on one side: BCa undefined; fall back to percentiles
        return percentile_interval(r, level)
    from scipy.special import ndtr, ndtri  # the normal cdf and quantile, without scipy.stats' start-up

    z0 = ndtri(share)
    alphas = np.array([(1 - level) / 2, 1 - (1 - level) / 2])
    za = ndtri(alphas)
    za0 = za + z0
    q = ndtr(z0 + za0 / (1 - acceleration * za0))
    lo, hi = _quantile_type8(r, q)
    return float(lo), float(hi)


def _quantile_type8(sorted_x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's quantile type 8 (median-unbiased), on sorted data."""
    n = sorted_x.size
    m = (np.asarray(probs) + 1.0) / 3.0
    h = n * np.asarray(probs) + m  # 1-based position
    j = np.floor(h).astype(int)
    g = h - j
    lo = np.clip(j, 1, n) - 1
    hi = np.clip(j + 1, 1, n) - 1
    out = (1 - g) * sorted_x[lo] + g * sorted_x[hi]
    out = np.where(h < 1, sorted_x[0], out)
    return np.where(h >= n, sorted_x[-1], out)


@dataclass(frozen=True, kw_only=True)
class EstimateResult:
    """What an estimator returns: frozen, serializable, the same surface for every method.

    ``estimate`` is the point estimate of N (observed + dark figure; the posterior median for
    Bayesian methods). ``intervals`` holds the intervals computed at fit time. When ``replicates``
    (bootstrap) or ``draws`` (posterior) are kept, ``interval(level)`` works at any level.
    """

    method: str
    estimate: float
    observed: int
    lists: tuple[str, ...]
    model: str | None = None
    intervals: tuple[Interval, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    replicates: tuple[float, ...] | None = None
    draws: tuple[float, ...] | None = None
    interval_method: str | None = None  # how to recompute from replicates/draws: "bca", "percentile", "posterior"
    acceleration: float | None = None
    seed: int | None = None
    input_fingerprint: str | None = None
    version: str = __version__
    warnings: tuple[str, ...] = ()

    # -- surface
    @property
    def dark_figure(self) -> float:
        """Estimated number never observed on any list."""
        return self.estimate - self.observed

    @property
    def n_lists(self) -> int:
        return len(self.lists)

    @property
    def std_error(self) -> float | None:
        """The standard error of the estimate, for methods that give one (Chao, the Rcapture models,
        Petersen/Chapman, sample coverage, log-linear Mt); None otherwise."""
        se = self.diagnostics.get("std_error")
        if isinstance(se, (int, float, np.floating)) and not isinstance(se, bool) and math.isfinite(float(se)):
            return float(se)
        return None

    def interval(self, level: float | None = None) -> Interval | None:
        """The interval at ``level`` (default: the first computed); None if none was requested."""
        if level is None:
            if self.intervals:
                return self.intervals[0]
            return None
        if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
            raise InputError(f"level must be a number between 0 and 1 (e.g. 0.95), got {level!r}")
        for iv in self.intervals:
            if abs(iv.level - level) < 1e-12:
                return iv
        sample = self.replicates if self.replicates is not None else self.draws
        if sample is not None and self.interval_method is not None:
            arr = np.asarray(sample, dtype=float)
            if self.interval_method == "bca":
                lo, hi = bca_interval(arr, self.estimate, float(self.acceleration or 0.0), level)
                return Interval(lo, hi, level, "bootstrap-bca")
            lo, hi = percentile_interval(arr, level)
            name = "posterior" if self.interval_method == "posterior" else "bootstrap-percentile"
            return Interval(lo, hi, level, name)
        if not self.intervals:
            return None
        have = ", ".join(f"{iv.level:g}" for iv in self.intervals)
        raise InputError(
            f"no {level:g} interval was computed for this result (have: {have}); refit with --level {level:g} "
            f"(level={level:g} in Python)"
        )

    def reported_interval(self, level: float | None = None) -> tuple[Interval | None, str | None]:
        """The interval to show, or None with the reason: a method may have none to offer (its
        ``diagnostics["interval_unavailable"]`` says why), and a zero-width interval is not
        presented as an interval. None and no reason when none was asked for (``interval = none``):
        summaries then leave the interval out without comment."""
        iv = self.interval(level)
        if iv is None:
            note = self.diagnostics.get("interval_unavailable")
            return None, str(note) if note else None
        if not iv.upper > iv.lower:
            return None, (
                f"the {iv.method} interval has zero width ({iv.lower:,.0f}): it measures no uncertainty, "
                "so it is not reported as an interval"
            )
        return iv, None

    @property
    def at_observed_count(self) -> dict[str, Any] | None:
        """Why the estimate is no more than the observed count, and what to try, when it is."""
        info = self.diagnostics.get("at_observed_count")
        return dict(info) if info else None

    def models(self) -> pd.DataFrame:
        """The ranked model table (one row per candidate model), empty when not applicable."""
        import pandas as pd

        rows = self.details.get("models")
        if not rows:
            return pd.DataFrame()
        return pd.DataFrame(list(rows))

    def summary(self) -> pd.DataFrame:
        """One tidy row: method, model, estimate, observed, dark figure, interval."""
        import pandas as pd

        iv = self.interval()
        row = {
            "method": self.method,
            "model": self.model,
            "lists": self.n_lists,
            "observed": self.observed,
            "estimate": self.estimate,
            "dark_figure": self.dark_figure,
            "std_error": self.std_error if self.std_error is not None else np.nan,
            "lower": iv.lower if iv else np.nan,
            "upper": iv.upper if iv else np.nan,
            "level": iv.level if iv else np.nan,
            "interval_method": iv.method if iv else None,
        }
        return pd.DataFrame([row])

    # -- serialization
    def to_dict(self) -> dict[str, Any]:
        return {
            "cifranegra_version": self.version,
            "method": self.method,
            "estimate": _num(self.estimate),
            "std_error": self.std_error,
            "observed": int(self.observed),
            "lists": list(self.lists),
            "model": self.model,
            "intervals": [iv.to_dict() for iv in self.intervals],
            "settings": _jsonable(self.settings),
            "diagnostics": _jsonable(self.diagnostics),
            "details": _jsonable(self.details),
            "replicates": None if self.replicates is None else [_num(x) for x in self.replicates],
            "draws": None if self.draws is None else [_num(x) for x in self.draws],
            "interval_method": self.interval_method,
            "acceleration": self.acceleration,
            "seed": self.seed,
            "input_fingerprint": self.input_fingerprint,
            "warnings": list(self.warnings),
        }

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EstimateResult:
        """The result :meth:`to_dict` wrote; anything else is an :class:`InputError` naming what is wrong."""
        if not isinstance(d, Mapping):
            raise InputError(f"an estimate result is a JSON object (a dict), not {type(d).__name__}")
        missing = [k for k in ("method", "estimate", "observed", "lists") if k not in d]
        if missing:
            raise InputError(f"not an estimate result written by cifranegra: no {', '.join(missing)}")
        try:
            return cls._from_checked_dict(d)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not an estimate result written by cifranegra ({type(exc).__name__}: a field of "
                             "the wrong kind)") from None

    @classmethod
    def _from_checked_dict(cls, d: Mapping[str, Any]) -> EstimateResult:
        return cls(
            method=str(d["method"]),
            estimate=_unnum(d["estimate"]),
            observed=int(d["observed"]),
            lists=tuple(d["lists"]),
            model=d.get("model"),
            intervals=tuple(Interval.from_dict(x) for x in d.get("intervals", [])),
            settings=dict(d.get("settings", {})),
            diagnostics=dict(d.get("diagnostics", {})),
            details=dict(d.get("details", {})),
            replicates=None if d.get("replicates") is None else tuple(_unnum(x) for x in d["replicates"]),
            draws=None if d.get("draws") is None else tuple(_unnum(x) for x in d["draws"]),
            interval_method=d.get("interval_method"),
            acceleration=d.get("acceleration"),
            seed=d.get("seed"),
            input_fingerprint=d.get("input_fingerprint"),
            version=str(d.get("cifranegra_version", __version__)),
            warnings=tuple(d.get("warnings", [])),
        )

    @classmethod
    def from_json(cls, text: str) -> EstimateResult:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise InputError(f"not JSON ({type(exc).__name__}); give the text that to_json() wrote") from None
        return cls.from_dict(data)


def _jsonable(obj: Any) -> Any:
    """Plain JSON types from numpy scalars/arrays, tuples and DataFrames."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    pandas = sys.modules.get("pandas")  # a DataFrame exists only once pandas is imported
    if pandas is not None and isinstance(obj, pandas.DataFrame):
        return [_jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, (list, tuple, Sequence)) and not isinstance(obj, (str, bytes)):
        return [_jsonable(x) for x in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(x) for x in obj.tolist()]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return _num(float(obj))
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
