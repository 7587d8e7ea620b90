"""Rcapture's classic closed-population models, for comparison (Baillargeon & Rivest 2007).

* :class:`Independence` — model Mt: lists independent (main effects only).
* :class:`Chao` — model Mth with Chao's heterogeneity columns, a lower bound for N under
  heterogeneous capture probabilities (Chao 1987; Rivest & Baillargeon 2007). Heterogeneity
  parameters estimated negative are set to zero and the model refitted, as Rcapture does; the
  interval is N̂ ± z·SE with SE² = μ̂₀ + μ̂₀² var(intercept).
* :class:`SaturatedMinusTop` — every (K−1)-way interaction: the richest log-linear model an
  incomplete table allows, reported only when its extended MLE exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import stats

from cifranegra.errors import InputError, ModelError
from cifranegra.estimation.fitting import solve_batch
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.loglinear import MAX_LISTS as LOGLINEAR_MAX_LISTS
from cifranegra.estimation.loglinear import LogLinear
from cifranegra.estimation.models import HierarchicalModel
from cifranegra.estimation.result import EstimateResult, Interval


@dataclass(frozen=True)
class Independence:
    """Lists independent (Rcapture's Mt): the log-linear main-effects model."""

    max_lists: ClassVar[int] = LOGLINEAR_MAX_LISTS
    lists_limit_reason: ClassVar[str] = LogLinear.lists_limit_reason

    interval: str = "profile"
    level: float = 0.95

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        spec = LogLinear(
            model="[" + ",".join(str(i + 1) for i in range(histories.n_lists)) + "]",
            interval=self.interval,
            level=self.level,
        )
        r = spec.fit(histories, rng=rng)
        return _renamed(r, "independence")


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

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        m = HierarchicalModel.saturated_minus_top(histories.n_lists)
        r = LogLinear(model=m.notation(), interval=self.interval, level=self.level).fit(histories, rng=rng)
        return _renamed(r, "saturated")


def _renamed(r: EstimateResult, method: str) -> EstimateResult:
    d = r.to_dict()
    d["method"] = method
    return EstimateResult.from_dict(d)


def _irls(X: np.ndarray, y: np.ndarray, max_iter: int = 100, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Poisson regression by IRLS on a dense design; returns (coefficients, information matrix).

    A singular step is taken by least squares (:func:`~cifranegra.estimation.fitting.solve_batch`);
    a fit that ends non-finite raises :class:`ModelError`."""
    mu = y + 0.1
    eta = np.log(mu)
    dev_old = math.inf
    beta = np.zeros(X.shape[1])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(max_iter):
            w = mu
            z = eta + (y - mu) / mu
            A = X.T @ (w[:, None] * X)
            sol, _singular = solve_batch(A[None], (X.T @ (w * z))[None, :, None])
            beta = sol[0, :, 0]
            eta = np.minimum(X @ beta, 700.0)
            mu = np.exp(eta)
            dev = 2 * float(np.sum(np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)))
            if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
                break
            dev_old = dev
        info = X.T @ (mu[:, None] * X)
    if not (np.all(np.isfinite(beta)) and np.all(np.isfinite(info))):
        raise ModelError("the fit did not converge to finite values")
    return beta, info


@dataclass(frozen=True)
class Chao:
    """Chao's lower bound under heterogeneity (Rcapture ``closedp.t`` model "Mth Chao (LB)")."""

    min_lists: ClassVar[int] = 3
    max_lists: ClassVar[int] = 15
    lists_limit_reason: ClassVar[str] = (
        "its Poisson regression runs on a dense design of 2^K rows (about 10 s at 15 lists, "
        "doubling with each list)"
    )

    level: float = 0.95

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        h = histories
        k = h.n_lists
        if k < 3:
            raise InputError("Chao's Mth lower bound needs at least 3 lists (with 2 lists use --method chapman)")
        cells = np.arange(1, 2**k)
        main = ((cells[:, None] >> np.arange(k)) & 1).astype(float)
        ncap = main.sum(axis=1)
        het = np.column_stack([np.maximum(ncap - j + 1, 0) for j in range(3, k + 1)])
        y = h.counts[1:].astype(float)
        cols = list(range(het.shape[1]))
        removed: list[int] = []
        while True:
            X = np.column_stack([np.ones(cells.size), main, het[:, cols]])
            try:
                beta, info = _irls(X, y)
            except ModelError as exc:
                raise ModelError(
                    f"Chao's Mth lower bound cannot be fitted to {h.source or 'these data'}: {exc}; too few "
                    "capture patterns are observed for its parameters. Use --method loglinear or lcmcr"
                ) from None
            etas = beta[k + 1 :]
            neg = [c for c, b in zip(cols, etas, strict=True) if b < 0]
            if not neg:
                break
            removed.append(neg[0] + 3)
            cols = [c for c in cols if c != neg[0]]
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            raise ModelError(
                f"Chao's Mth lower bound cannot be fitted to {h.source or 'these data'}: the data do not "
                "determine every parameter (singular information matrix). Use --method loglinear or lcmcr"
            ) from None
        b0 = float(beta[0])
        m0 = math.exp(b0)
        se = math.sqrt(m0 + m0 * m0 * float(cov[0, 0]))
        est = h.observed + m0
        z = stats.norm.ppf(0.5 + self.level / 2)
        diagnostics: dict[str, Any] = {
            "std_error": se,
            "heterogeneity_terms_removed": removed,
            "eta": [float(x) for x in beta[k + 1 :]],
        }
        intervals: tuple[Interval, ...] = (Interval(est - z * se, est + z * se, self.level, "wald"),)
        warnings: tuple[str, ...] = ()
        if m0 < 0.5:  # less than half a person unseen: the fit sits on the boundary, not a finding
            reason = (
                f"the fitted number never seen is {m0:.2g}: the observed patterns leave Chao's model nothing "
                f"to extrapolate from (its fit lies on the boundary), so the lower bound is the observed count "
                f"{h.observed:,} itself"
            )
            advice = "do not report it as an estimate; use --method loglinear or lcmcr (or `cifranegra compare`)"
            diagnostics["at_observed_count"] = {"reason": reason, "advice": advice}
            diagnostics["interval_unavailable"] = "the fit is on the boundary: no interval to report"
            intervals, warnings = (), (f"{reason}; {advice}",)
        return EstimateResult(
            method="chao",
            estimate=est,
            observed=h.observed,
            lists=h.lists,
            model="Mth Chao (LB)",
            intervals=intervals,
            settings={"level": self.level},
            diagnostics=diagnostics,
            input_fingerprint=h.fingerprint(),
            warnings=warnings,
        )


__all__ = ["Chao", "Independence", "ModelError", "SaturatedMinusTop"]
