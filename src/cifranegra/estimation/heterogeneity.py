"""Rcapture's closed-population models M0, Mh and Mth (Rcapture ``closedp.t``; Baillargeon & Rivest 2007).

Each model is a Poisson log-linear regression on the 2^K − 1 observed capture-history counts:
``log E[y_ω] = u + (capture effects) + η·h(n_ω)``, where ``n_ω`` is the number of lists that history ω
is on. The capture effects are one slope on ``n_ω`` (M0, Mh: every list equally likely) or one
parameter per list (Mth). The heterogeneity column ``h`` is that of Rivest & Lévesque (2001):

* Chao's lower bound: K − 2 columns ``max(n_ω − j + 1, 0)`` for j = 3..K; a column whose η is fitted
  negative is removed (the first such, then refit, until none is negative), as Rcapture does;
* Poisson2: ``2^{n_ω} − 1``; Darroch: ``n_ω²/2``; Gamma3.5: ``log 3.5 − log(3.5 + n_ω)``.

Every column is zero for the never-seen history, so the dark figure is ``exp(u)``: N̂ = n + exp(û),
with Rcapture's delta-method standard error SE² = exp(û) + exp(2û)·var(û). Intervals: the
multinomial profile likelihood of N (Cormack 1992, Rcapture's ``closedpCI.t``), or Wald N̂ ± z·SE.
Rcapture's asymptotic bias of N̂ is reported; when it exceeds a tenth of N̂ a warning says so (the
condition behind Rcapture's ``infoFit`` code 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from cifranegra.errors import InputError, ModelError
from cifranegra.estimation._special import lgamma as gammaln  # no scipy: its import costs 0.25 s here
from cifranegra.estimation._special import minimize_bounded, norm_ppf, root_brent
from cifranegra.estimation.fitting import solve_batch
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.result import EstimateResult, Interval

#: heterogeneity forms: name → Rcapture's label
FORMS: dict[str, str] = {"chao": "Chao (LB)", "poisson2": "Poisson2", "darroch": "Darroch", "gamma3.5": "Gamma3.5"}
INTERVALS = ("profile", "wald")
MAX_LISTS = 15
#: |asymptotic bias| above this share of N̂: Rcapture's "the asymptotic bias is large" (infoFit 1)
LARGE_BIAS = 0.1
#: a standard error of log(dark figure) above this means the data do not bound N (the reference
#: tables reach 1.2; an unbounded fit reaches 10^5)
MAX_LOG_SE = 10.0


def design(n_lists: int, *, time: bool, form: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The design over histories 0..2^K − 1 (bit i = on list i): (intercept and capture effects,
    heterogeneity columns). Row 0, the never-seen history, is (1, 0, …, 0) in both."""
    cells = np.arange(2**n_lists)
    main = ((cells[:, None] >> np.arange(n_lists)) & 1).astype(float)
    ncap = main.sum(axis=1)
    base = np.column_stack([np.ones(cells.size), main if time else ncap])
    if form is None:
        het = np.zeros((cells.size, 0))
    elif form == "chao":
        het = np.column_stack([np.maximum(ncap - j + 1, 0) for j in range(3, n_lists + 1)])
    elif form == "poisson2":
        het = (2.0**ncap - 1)[:, None]
    elif form == "darroch":
        het = (ncap**2 / 2)[:, None]
    elif form == "gamma3.5":
        het = (math.log(3.5) - np.log(3.5 + ncap))[:, None]
    else:
        raise InputError(f"unknown heterogeneity form {form!r}; choose one of {', '.join(FORMS)}")
    return base, het


@dataclass(frozen=True)
class PoissonFit:
    """A Poisson regression fit: coefficients, their covariance (None when singular), fitted means."""

    beta: np.ndarray
    cov: np.ndarray | None
    mu: np.ndarray
    deviance: float
    converged: bool


def poisson_fit(X: np.ndarray, y: np.ndarray, start: np.ndarray | None = None, max_iter: int = 200) -> PoissonFit:
    """Poisson regression with log link by iteratively reweighted least squares.

    Converged when the deviance changes by less than 1e−10 relative (glm's rule, tighter). A singular
    step is taken by least squares; ``cov`` is None when the information matrix is singular.
    """
    mu = np.where(y > 0, y, 0.1) + 0.0 if start is None else np.maximum(start, 1e-8)
    eta = np.log(mu)
    dev_old = math.inf
    beta = np.zeros(X.shape[1])
    converged = False
    dev = math.inf
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(max_iter):
            z = eta + (y - mu) / mu
            A = X.T @ (mu[:, None] * X)
            sol, _singular = solve_batch(A[None], (X.T @ (mu * z))[None, :, None])
            beta = sol[0, :, 0]
            eta = np.minimum(X @ beta, 700.0)
            mu = np.exp(eta)
            dev = 2.0 * float(np.sum(np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)))
            if abs(dev - dev_old) < 1e-10 * (abs(dev) + 0.1):
                converged = True
                break
            dev_old = dev
        info = X.T @ (mu[:, None] * X)
    if not (np.all(np.isfinite(beta)) and np.all(np.isfinite(info)) and math.isfinite(dev)):
        return PoissonFit(beta, None, mu, math.inf, False)
    cov: np.ndarray | None = None
    try:
        inv = np.linalg.inv(info)
        if np.all(np.isfinite(inv)) and np.linalg.cond(info) <= 1e14:
            cov = inv
    except np.linalg.LinAlgError:
        pass
    return PoissonFit(beta, cov, mu, dev, converged)


@dataclass(frozen=True)
class ClosedPopulationModel:
    """Shared fitting for M0, Mh and Mth (a subclass fixes ``time_effects``, ``form`` and names)."""

    method: ClassVar[str] = ""
    time_effects: ClassVar[bool] = False
    form: ClassVar[str | None] = None
    min_lists: ClassVar[int] = 3
    max_lists: ClassVar[int] = MAX_LISTS
    lists_limit_reason: ClassVar[str] = (
        "its Poisson regression runs on a dense design of 2^K rows (2^15 = 32,768 rows at 15 lists, "
        "doubling with each list)"
    )

    interval: str = "profile"
    level: float = 0.95

    def __post_init__(self) -> None:
        problems = []
        if self.interval not in INTERVALS:
            problems.append(f"interval must be one of {', '.join(INTERVALS)} for this method, got {self.interval!r}")
        if not (isinstance(self.level, (int, float)) and 0 < self.level < 1):
            problems.append(f"level must be a number between 0 and 1 (e.g. 0.95), got {self.level!r}")
        if problems:
            raise InputError("; ".join(problems))

    @classmethod
    def rcapture_model(cls) -> str:
        """The model's row label in Rcapture's ``closedp.t`` table, e.g. ``"Mh Poisson2"``."""
        if cls.form is None:
            return "Mt" if cls.time_effects else "M0"
        return ("Mth " if cls.time_effects else "Mh ") + FORMS[cls.form]

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        """Fit the model to ``histories`` (``rng`` is unused: the fit is deterministic)."""
        h = histories
        k = h.n_lists
        label = self.rcapture_model()
        where = h.source or "these data"
        if k < self.min_lists:
            alt = "--method chapman" if k == 2 else "a table with more lists"
            raise InputError(
                f"{where}: {label} needs at least {self.min_lists} lists (Rcapture fits heterogeneity models from "
                f"3 capture occasions), got {k}; with 2 lists use {alt}"
            )
        if k > self.max_lists:
            raise InputError(
                f"{where}: {label} takes at most {self.max_lists} lists, got {k}: {self.lists_limit_reason}; "
                "merge lists (--merge) or use --method lcmcr"
            )
        if h.observed <= 0:
            raise InputError(f"{where}: no one is observed on any list, so there is nothing to estimate")
        base, het = design(k, time=self.time_effects, form=self.form)
        y = h.counts[1:].astype(float)
        fit, cols, removed = self._fit_observed(base[1:], het[1:], y, where, label)
        X_full = np.column_stack([base, het[:, cols]])
        return self._result(h, fit, X_full, y, removed, label)

    # ---------------------------------------------------------------- pieces
    def _fit_observed(
        self, base: np.ndarray, het: np.ndarray, y: np.ndarray, where: str, label: str
    ) -> tuple[PoissonFit, list[int], list[int]]:
        """Fit on the observed histories; for Chao's form, drop negative η one at a time as Rcapture."""
        cols = list(range(het.shape[1]))
        removed: list[int] = []
        nbase = base.shape[1]
        while True:
            fit = poisson_fit(np.column_stack([base, het[:, cols]]), y)
            on_boundary = fit.converged and fit.beta[0] < math.log(0.5)  # reported as such, with no interval
            if not fit.converged or (fit.cov is None and not on_boundary):
                why = (
                    "the fit does not converge (the likelihood keeps rising as the number never seen grows)"
                    if not fit.converged
                    else "the data do not determine every parameter (singular information matrix)"
                )
                raise ModelError(
                    f"{label} cannot be fitted to {where}: {why}; too few capture patterns are observed, or "
                    "too few people are on more than one list. Use --method loglinear or lcmcr, or "
                    "`cifranegra compare` to see every family"
                )
            if self.form != "chao":
                return fit, cols, removed
            etas = fit.beta[nbase:]
            neg = [c for c, b in zip(cols, etas, strict=True) if b < 0]
            if not neg:
                return fit, cols, removed
            removed.append(neg[0] + 3)  # Chao's column for "seen on at least j lists", j = index + 3
            cols = [c for c in cols if c != neg[0]]

    def _result(
        self,
        h: CaptureHistories,
        fit: PoissonFit,
        X_full: np.ndarray,
        y: np.ndarray,
        removed: list[int],
        label: str,
    ) -> EstimateResult:
        b0 = float(fit.beta[0])
        var_b0 = math.nan if fit.cov is None else max(float(fit.cov[0, 0]), 0.0)
        sd_b0 = math.sqrt(var_b0)
        m0 = math.exp(min(b0, 700.0))
        if m0 >= 0.5 and (b0 > 700.0 or sd_b0 > MAX_LOG_SE):
            raise ModelError(
                f"{label} cannot be fitted to {h.source or 'these data'}: the data do not bound the number never "
                f"seen under this model (the standard error of its logarithm is {sd_b0:.3g}); too few people are "
                "seen on more than one list. Use --method loglinear or lcmcr, or `cifranegra compare` to see "
                "every family"
            )
        se = math.sqrt(m0 + m0 * m0 * var_b0)  # nan only on the boundary with a singular information matrix
        est = h.observed + m0
        X = X_full[1:]
        bias = _asymptotic_bias(X, fit)
        nbase = 1 + (h.n_lists if self.time_effects else 1)
        diagnostics: dict[str, Any] = {
            "std_error": se if math.isfinite(se) else None,
            "rcapture_model": label,
            "deviance": fit.deviance,
            "df": int(y.size - X.shape[1]),
            "aic": _aic(y, fit),
            "asymptotic_bias": bias,
            "coefficients": [float(b) for b in fit.beta],
        }
        if self.form == "chao":
            diagnostics["heterogeneity_terms_removed"] = removed
            diagnostics["eta"] = [float(x) for x in fit.beta[nbase:]]
        warnings: list[str] = []
        if math.isfinite(bias) and abs(bias) > LARGE_BIAS * est:
            warnings.append(
                f"the asymptotic bias of the estimate is large ({bias:+,.0f} on {est:,.0f}; Rcapture flags this "
                "fit with infoFit 1): too few people are seen on several lists for this model; compare with "
                "other models (`cifranegra compare`)"
            )
        z = float(norm_ppf(0.5 + self.level / 2))
        intervals: tuple[Interval, ...] = ()
        if m0 < 0.5:  # less than half a person unseen: the fit sits on the boundary, not a finding
            reason = (
                f"the fitted number never seen is {m0:.2g}: the observed patterns leave {label} nothing "
                f"to extrapolate from (its fit lies on the boundary), so the estimate is the observed count "
                f"{h.observed:,} itself"
            )
            advice = "do not report it as an estimate; use --method loglinear or lcmcr (or `cifranegra compare`)"
            diagnostics["at_observed_count"] = {"reason": reason, "advice": advice}
            diagnostics["interval_unavailable"] = "the fit is on the boundary: no interval to report"
            warnings.insert(0, f"{reason}; {advice}")
        elif self.interval == "wald":
            lo, hi = est - z * se, est + z * se
            intervals = (Interval(lo, hi, self.level, "wald"),)
            if lo < h.observed:
                warnings.append(
                    f"the Wald interval's lower end ({lo:,.0f}) is below the {h.observed:,} people observed: the "
                    "standard error is too large for a symmetric interval; use --interval profile"
                )
        else:
            lo, hi, mle = profile_interval(X_full, y, fit, h.observed, self.level)
            intervals = (Interval(lo, hi, self.level, "profile"),)
            diagnostics["profile_mle"] = mle
        return EstimateResult(
            method=self.method,
            estimate=est,
            observed=h.observed,
            lists=h.lists,
            model=label,
            intervals=intervals,
            settings={"interval": self.interval, "level": self.level},
            diagnostics=diagnostics,
            input_fingerprint=h.fingerprint(),
            warnings=tuple(warnings),
        )


def _aic(y: np.ndarray, fit: PoissonFit) -> float:
    """Poisson AIC as R's glm reports it: −2 Σ log dpois(y; μ̂) + 2 × parameters."""
    mu = fit.mu
    loglik = float(np.sum(y * np.log(np.where(mu > 0, mu, 1.0)) - mu - gammaln(y + 1)))
    return -2.0 * loglik + 2.0 * fit.beta.size


def _asymptotic_bias(X: np.ndarray, fit: PoissonFit) -> float:
    """Rcapture's first-order bias of N̂ for a Poisson log-linear fit (Rivest & Lévesque 2001).

    With V the inverse information, ξ_ω = −½ x_ωᵀ V x_ω and ψ = −2 Xᵀ diag(μ̂) ξ − e₁, the bias is
    ½ exp(û) (−V ψ)₁."""
    V = fit.cov
    if V is None:
        return math.nan
    xi = -0.5 * np.einsum("ij,jk,ik->i", X, V, X)
    psi = -2.0 * (X.T @ (fit.mu * xi))
    psi[0] -= 1.0
    return float(0.5 * math.exp(fit.beta[0]) * (-(V @ psi))[0])


def profile_loglik(X_full: np.ndarray, y: np.ndarray, n0: float, start: np.ndarray | None = None) -> float:
    """Multinomial profile log-likelihood of N = n + n0, up to a constant (Cormack 1992).

    The model is fitted by Poisson regression to the complete table, the never-seen cell set to n0;
    the multinomial log-likelihood is then −deviance/2 + log(N!/N^N) − log(n0!/n0^n0)."""
    yy = np.concatenate([[n0], y])
    fit = poisson_fit(X_full, yy, start=start)
    if not math.isfinite(fit.deviance):
        return -math.inf
    N = float(y.sum()) + n0
    n0logn0 = n0 * math.log(n0) if n0 > 0 else 0.0
    return -fit.deviance / 2.0 + float(gammaln(N + 1)) - N * math.log(N) - float(gammaln(n0 + 1)) + n0logn0


def profile_interval(
    X_full: np.ndarray, y: np.ndarray, fit: PoissonFit, observed: int, level: float
) -> tuple[float, float, float]:
    """Profile-likelihood interval for N and the multinomial MLE of N (Rcapture's ``closedpCI.t``)."""
    m0 = math.exp(float(fit.beta[0]))
    assert fit.cov is not None
    se = math.sqrt(m0 + m0 * m0 * float(fit.cov[0, 0]))
    start = np.concatenate([[max(m0, 0.5)], fit.mu])

    def ll(x: float) -> float:
        return profile_loglik(X_full, y, x, start)

    crit = float(norm_ppf(0.5 + level / 2)) ** 2 / 2.0  # chi2.ppf(level, 1) / 2: a 1-df chi-square is z^2
    hi_b = m0 + 3 * se + 1
    x_max = minimize_bounded(lambda x: -ll(x), 0.0, hi_b, xatol=1e-7 * max(1.0, m0))
    l_max, l_m0 = ll(x_max), ll(m0)
    if l_m0 > l_max:
        x_max, l_max = m0, l_m0
    target = l_max - crit

    def g(x: float) -> float:
        return ll(x) - target

    lower = float(observed) if g(0.0) >= 0 else observed + root_brent(g, 0.0, x_max, xtol=1e-6)
    b, step = x_max, max(se, 1.0)
    upper = math.inf
    while b < 1e12:
        a, b = b, b + step
        if g(b) < 0:
            upper = observed + root_brent(g, a, b, xtol=1e-6)
            break
        step *= 2
    return lower, upper, observed + x_max


# ---------------------------------------------------------------------- the nine specs
@dataclass(frozen=True)
class M0(ClosedPopulationModel):
    """Rcapture's M0: every list has the same capture probability and people are alike."""

    method: ClassVar[str] = "m0"
    min_lists: ClassVar[int] = 2


@dataclass(frozen=True)
class MhChao(ClosedPopulationModel):
    """Rcapture's "Mh Chao (LB)": Chao's lower bound under heterogeneity, lists alike."""

    method: ClassVar[str] = "mh-chao"
    form: ClassVar[str | None] = "chao"


@dataclass(frozen=True)
class MhPoisson2(ClosedPopulationModel):
    """Rcapture's "Mh Poisson2": heterogeneity column 2^n − 1, lists alike."""

    method: ClassVar[str] = "mh-poisson2"
    form: ClassVar[str | None] = "poisson2"


@dataclass(frozen=True)
class MhDarroch(ClosedPopulationModel):
    """Rcapture's "Mh Darroch": heterogeneity column n²/2, lists alike."""

    method: ClassVar[str] = "mh-darroch"
    form: ClassVar[str | None] = "darroch"


@dataclass(frozen=True)
class MhGamma35(ClosedPopulationModel):
    """Rcapture's "Mh Gamma3.5": heterogeneity column log 3.5 − log(3.5 + n), lists alike."""

    method: ClassVar[str] = "mh-gamma3.5"
    form: ClassVar[str | None] = "gamma3.5"


@dataclass(frozen=True)
class MthChao(ClosedPopulationModel):
    """Rcapture's "Mth Chao (LB)": Chao's lower bound, one capture effect per list (= ``chao``).

    Its default interval is Wald, as ``chao`` always had, so the two names give the same numbers."""

    method: ClassVar[str] = "mth-chao"
    time_effects: ClassVar[bool] = True
    form: ClassVar[str | None] = "chao"

    interval: str = "wald"


@dataclass(frozen=True)
class MthPoisson2(ClosedPopulationModel):
    """Rcapture's "Mth Poisson2": heterogeneity column 2^n − 1, one capture effect per list."""

    method: ClassVar[str] = "mth-poisson2"
    time_effects: ClassVar[bool] = True
    form: ClassVar[str | None] = "poisson2"


@dataclass(frozen=True)
class MthDarroch(ClosedPopulationModel):
    """Rcapture's "Mth Darroch": heterogeneity column n²/2, one capture effect per list."""

    method: ClassVar[str] = "mth-darroch"
    time_effects: ClassVar[bool] = True
    form: ClassVar[str | None] = "darroch"


@dataclass(frozen=True)
class MthGamma35(ClosedPopulationModel):
    """Rcapture's "Mth Gamma3.5": heterogeneity column log 3.5 − log(3.5 + n), one effect per list."""

    method: ClassVar[str] = "mth-gamma3.5"
    time_effects: ClassVar[bool] = True
    form: ClassVar[str | None] = "gamma3.5"


#: method name → spec class, in Rcapture's table order (Mt is ``independence``)
SPECS: dict[str, type[ClosedPopulationModel]] = {
    cls.method: cls
    for cls in (M0, MhChao, MhPoisson2, MhDarroch, MhGamma35, MthChao, MthPoisson2, MthDarroch, MthGamma35)
}

__all__ = [
    "FORMS",
    "M0",
    "SPECS",
    "ClosedPopulationModel",
    "MhChao",
    "MhDarroch",
    "MhGamma35",
    "MhPoisson2",
    "MthChao",
    "MthDarroch",
    "MthGamma35",
    "MthPoisson2",
]
