"""Rcapture's classic closed-population models, for comparison (Baillargeon & Rivest 2007).

* :class:`Independence` — model Mt: lists independent (main effects only).
* :class:`Chao` — model Mth with Chao's heterogeneity columns, a lower bound for N under
  heterogeneous capture probabilities (Chao 1987; Rivest & Baillargeon 2007): the same fit as
  :class:`~cifranegra.estimation.heterogeneity.MthChao` (negative heterogeneity parameters removed
  and the model refitted, as Rcapture does; Wald interval N̂ ± z·SE with SE² = μ̂₀ + μ̂₀² var(intercept)).
* :class:`SaturatedMinusTop` — every (K−1)-way interaction: the richest log-linear model an
  incomplete table allows, reported only when its extended MLE exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from cifranegra.errors import InputError, ModelError
from cifranegra.estimation.heterogeneity import MthChao
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.loglinear import INTERVALS, LogLinear
from cifranegra.estimation.loglinear import MAX_LISTS as LOGLINEAR_MAX_LISTS
from cifranegra.estimation.models import HierarchicalModel
from cifranegra.estimation.result import EstimateResult


@dataclass(frozen=True)
class Independence:
    """Lists independent (Rcapture's Mt): the log-linear main-effects model."""

    max_lists: ClassVar[int] = LOGLINEAR_MAX_LISTS
    lists_limit_reason: ClassVar[str] = LogLinear.lists_limit_reason

    interval: str = "profile"
    level: float = 0.95

    def __post_init__(self) -> None:
        _check_interval_and_level(self.interval, self.level)

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        spec = LogLinear(
            model="[" + ",".join(str(i + 1) for i in range(histories.n_lists)) + "]",
            interval=self.interval,
            level=self.level,
        )
        r = spec.fit(histories, rng=rng)
        d = r.to_dict()
        d["method"] = "independence"
        se_b0 = r.diagnostics.get("intercept_std_error")
        if isinstance(se_b0, float) and math.isfinite(se_b0):  # Rcapture's delta-method SE of N̂ (model Mt)
            m0 = r.dark_figure
            d["diagnostics"]["std_error"] = math.sqrt(m0 + m0 * m0 * se_b0 * se_b0)
        return EstimateResult.from_dict(d)


@dataclass(frozen=True)
class SaturatedMinusTop:
    """All (K−1)-way terms; an error (not an absurd number) when its extended MLE fails."""

    min_lists: ClassVar[int] = 3
    max_lists: ClassVar[int] = 10
    lists_limit_reason: ClassVar[str] = (
        "the model has 2^K − 2 parameters, so its design is a dense 2^K × 2^K matrix "
        "(8 MiB and seconds at 10 lists, 0.5 GiB at 13), and with many lists its extended MLE "
        "almost never exists"
    )

    interval: str = "profile"
    level: float = 0.95

    def __post_init__(self) -> None:
        _check_interval_and_level(self.interval, self.level)

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        m = HierarchicalModel.saturated_minus_top(histories.n_lists)
        r = LogLinear(model=m.notation(), interval=self.interval, level=self.level).fit(histories, rng=rng)
        return _renamed(r, "saturated")


def _check_interval_and_level(interval: object, level: object) -> None:
    """Refuse, with an InputError naming the option, an interval or level a fixed log-linear model
    cannot take (checked when the spec is built, before any data are read)."""
    problems = []
    if interval not in INTERVALS:
        problems.append(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    if not (isinstance(level, (int, float)) and not isinstance(level, bool) and 0 < level < 1):
        problems.append(f"level must be a number between 0 and 1 (e.g. 0.95), got {level!r}")
    if problems:
        raise InputError("; ".join(problems))


def _renamed(r: EstimateResult, method: str) -> EstimateResult:
    d = r.to_dict()
    d["method"] = method
    return EstimateResult.from_dict(d)


@dataclass(frozen=True)
class Chao(MthChao):
    """Chao's lower bound under heterogeneity (Rcapture ``closedp.t`` model "Mth Chao (LB)").

    The same model and numbers as :class:`~cifranegra.estimation.heterogeneity.MthChao`, under the
    name ``chao``; Wald interval by default, ``interval="profile"`` for the profile likelihood."""

    method: ClassVar[str] = "chao"


__all__ = ["Chao", "Independence", "ModelError", "SaturatedMinusTop"]
