"""Two-list estimators: Lincoln–Petersen and Chapman.

Lincoln–Petersen: N̂ = n₁n₂/m, variance n₁n₂(n₁−m)(n₂−m)/m³ (Seber 1982, §3.1.1). Chapman's
nearly unbiased form: N̂ = (n₁+1)(n₂+1)/(m+1) − 1, variance
(n₁+1)(n₂+1)(n₁−m)(n₂−m)/((m+1)²(m+2)) (Chapman 1951; Seber 1970). Intervals are Chao's (1987)
log-normal intervals for the unseen part, which never fall below the number observed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from cifranegra.errors import InputError, ModelError
from cifranegra.estimation import specs
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.result import EstimateResult, Interval


def _two_lists(h: CaptureHistories, method: str) -> tuple[int, int, int]:
    if h.n_lists != 2:
        raise InputError(
            f"{method} needs exactly two lists, these data have {h.n_lists} ({', '.join(h.lists)}); "
            "use --method loglinear, or keep two lists"
        )
    m = int(h.counts[3])
    return int(h.counts[1] + m), int(h.counts[2] + m), m


def _lognormal_interval(observed: int, est: float, var: float, level: float) -> Interval | None:
    """Chao's log-normal interval; None when the unseen part or its variance is zero (no interval)."""
    from scipy.special import ndtri  # the normal quantile, without scipy.stats' start-up

    z = ndtri(0.5 + level / 2)
    unseen = est - observed
    if unseen <= 0 or var <= 0:
        return None
    c = math.exp(z * math.sqrt(math.log(1 + var / unseen**2)))
    return Interval(observed + unseen / c, observed + unseen * c, level, "lognormal")


@dataclass(frozen=True)
class Petersen:
    """Lincoln–Petersen estimator for two lists."""

    min_lists: ClassVar[int] = 2
    max_lists: ClassVar[int] = 2
    lists_limit_reason: ClassVar[str] = "a two-list estimator"

    level: float = 0.95

    def __post_init__(self) -> None:
        specs.raise_problems(specs.level("level", self.level))

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        n1, n2, m = _two_lists(histories, "petersen")
        if m == 0:
            raise ModelError(
                "the two lists have no one in common: Lincoln–Petersen is infinite. Use "
                "--method chapman (finite, but uninformative) or find more overlap"
            )
        est = n1 * n2 / m
        var = n1 * n2 * (n1 - m) * (n2 - m) / m**3
        return _result("petersen", histories, est, var, self.level, n1, n2, m)


@dataclass(frozen=True)
class Chapman:
    """Chapman's bias-corrected two-list estimator."""

    min_lists: ClassVar[int] = 2
    max_lists: ClassVar[int] = 2
    lists_limit_reason: ClassVar[str] = "a two-list estimator"

    level: float = 0.95

    def __post_init__(self) -> None:
        specs.raise_problems(specs.level("level", self.level))

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        n1, n2, m = _two_lists(histories, "chapman")
        est = (n1 + 1) * (n2 + 1) / (m + 1) - 1
        var = (n1 + 1) * (n2 + 1) * (n1 - m) * (n2 - m) / ((m + 1) ** 2 * (m + 2))
        return _result("chapman", histories, est, var, self.level, n1, n2, m)


def _result(
    method: str, h: CaptureHistories, est: float, var: float, level: float, n1: int, n2: int, m: int
) -> EstimateResult:
    iv = _lognormal_interval(h.observed, est, var, level)
    diagnostics: dict[str, Any] = {"std_error": math.sqrt(max(var, 0.0)), "list_sizes": [n1, n2], "overlap": m}
    warnings: tuple[str, ...] = ()
    if est <= h.observed:
        inner = h.lists[0] if n1 == m else h.lists[1]
        outer = h.lists[1] if n1 == m else h.lists[0]
        reason = (
            f"everyone on list {inner!r} is also on {outer!r}, so the {method} estimate is the observed "
            f"count {h.observed:,}: with two lists that means one list was drawn from the other or they are "
            "strongly dependent, not that no one was missed"
        )
        advice = "do not report it as an estimate; add a third list and use --method loglinear or lcmcr"
        diagnostics["at_observed_count"] = {"reason": reason, "advice": advice}
        diagnostics["interval_unavailable"] = "the estimate has no unseen part and no variance: no interval"
        warnings = (f"{reason}; {advice}",)
    elif iv is None:
        diagnostics["interval_unavailable"] = "the variance of the estimate is zero: no interval"
    return EstimateResult(
        method=method,
        estimate=est,
        observed=h.observed,
        lists=h.lists,
        model=None,
        intervals=(iv,) if iv is not None else (),
        settings={"level": level},
        diagnostics=diagnostics,
        input_fingerprint=h.fingerprint(),
        warnings=warnings,
    )
