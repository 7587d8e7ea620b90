"""Sample-coverage estimators of population size (Chao & Tsay 1998, JASA 93(441); Chao et al. 2001,
Statistics in Medicine 20; R package CARE1).

The sample coverage ``C`` is the average, over lists, of the share of each list's people who are
also on some other list: ``C = 1 - (1/K) Σ_j f_j / n_j`` with ``f_j`` the people seen only on list
``j`` and ``n_j`` the list size. Dependence between lists enters through the pairwise coefficients
of covariation ``γ_jk = N n_jk / (n_j n_k) - 1``. Three estimators, written for any K ≥ 3 (CARE1
spells out K = 3, 4, 5 and gives the same numbers):

* ``"independence"`` (CARE1 Nhat-0, eq. 15): ``N0 = D / C`` with ``D = M - (1/K) Σ_j f_j`` (the
  mean, over lists, of the people on the other lists); right when the lists are independent.
* ``"high"`` (CARE1 Nhat, eq. 20): solves ``N = D/C + (1/(K C)) Σ_{j<k} a_jk γ_jk(N)`` for N, where
  ``a_jk`` counts the captures of people seen only within lists j and k; needs enough overlap.
* ``"low"`` (CARE1 Nhat-1; Chao et al. 1996 eq. 2.21): one step of that equation from ``N0``,
  recommended when the coverage is low and the high-coverage estimate is unstable.

Standard errors by the parametric bootstrap CARE1 uses (multinomial resampling of the estimated
population), with the log-transformed interval of Chao (1987), lower limit above the observed count.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cifranegra._random import make_rng
from cifranegra.errors import InputError
from cifranegra.estimation.diagnostics import require_usable
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.result import EstimateResult, Interval

VARIANTS = ("high", "low", "independence")
#: below this estimated coverage we warn. Chao & Tsay (1998) derive the high-coverage estimator for
#: "sufficiently high" coverage without a number; CARE1 warns only when the high-coverage equation
#: has no positive solution (we do too). 0.55 is our own conservative choice, not a published
#: threshold.
LOW_COVERAGE = 0.55


def _stats(counts: np.ndarray, k: int) -> dict[str, Any]:
    masks = np.arange(2**k)
    c = counts.astype(float)
    m = float(c.sum())
    on = [(masks >> j) & 1 == 1 for j in range(k)]
    n = np.array([c[on[j]].sum() for j in range(k)])
    f = np.array([c[1 << j] for j in range(k)])
    pairs = [(j, q) for j in range(k) for q in range(j + 1, k)]
    n_pair = np.array([c[on[j] & on[q]].sum() for j, q in pairs])
    a_pair = np.array([c[1 << j] + c[1 << q] + 2 * c[(1 << j) | (1 << q)] for j, q in pairs])
    nj = np.array([n[j] * n[q] for j, q in pairs])
    coverage = 1.0 - float(np.mean(f / n))
    d = m - float(f.mean())
    return {
        "M": m,
        "n": n,
        "f": f,
        "pairs": pairs,
        "n_pair": n_pair,
        "a_pair": a_pair,
        "nn": nj,
        "coverage": coverage,
        "D": d,
    }


def _estimate(counts: np.ndarray, k: int, variant: str) -> float:
    s = _stats(counts, k)
    cov, d, m = s["coverage"], s["D"], s["M"]
    if cov <= 0:
        return math.inf
    n0 = d / cov
    if variant == "independence":
        return n0
    a, npair, nn = s["a_pair"], s["n_pair"], s["nn"]
    if variant == "high":
        x = k * cov - float(np.sum(a * npair / nn))
        y = (k * d - float(a.sum())) / x if x != 0 else math.inf
        return m if (x < 1e-4 or y < m) else y
    # low coverage: one step from N0, then evaluate the CCVs at that N
    n1 = n0 + float(np.sum(a * (n0 * npair / nn - 1))) / (k * cov)
    gamma = n1 * npair / nn - 1
    return d / cov + float(np.sum(a * gamma)) / (k * cov)


def coverage_statistics(histories: CaptureHistories, n_hat: float | None = None) -> dict[str, Any]:
    """Coverage estimate and, given ``n_hat``, the capture probabilities and pairwise CCVs."""
    k = histories.n_lists
    s = _stats(histories.counts, k)
    out: dict[str, Any] = {"coverage": s["coverage"], "D": s["D"], "observed": int(s["M"])}
    if n_hat is not None and math.isfinite(n_hat):
        out["mean_capture_probability"] = {histories.lists[j]: float(s["n"][j] / n_hat) for j in range(k)}
        out["ccv"] = {
            f"{histories.lists[j]}:{histories.lists[q]}": float(n_hat * s["n_pair"][i] / s["nn"][i] - 1)
            for i, (j, q) in enumerate(s["pairs"])
        }
    return out


class SampleCoverage:
    """Chao & Tsay's sample-coverage estimator (``variant`` "high", "low" or "independence").

    ``n_boot`` bootstrap replicates for the standard error (0 for none), ``level`` of the interval.
    """

    min_lists = 3
    max_lists = 20
    lists_limit_reason = (
        "each bootstrap replicate is a dense 2^K table (1000 replicates × 2^20 cells is 8 GiB)"
    )

    def __init__(self, *, variant: str = "high", n_boot: int = 1000, level: float = 0.95) -> None:
        if variant not in VARIANTS:
            raise InputError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
        if n_boot < 0:
            raise InputError(f"n_boot must be 0 or more, got {n_boot}")
        if not 0 < level < 1:
            raise InputError(f"level must be between 0 and 1 (e.g. 0.95), got {level}")
        self.variant = variant
        self.n_boot = n_boot
        self.level = level

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        require_usable(
            histories,
            "sample-coverage",
            min_lists=3,
            alternatives="with 2 lists use 'chapman' or 'petersen'",
        )
        k = histories.n_lists
        counts = histories.counts
        m = histories.observed
        est = _estimate(counts, k, self.variant)
        stats_ = coverage_statistics(histories, est)
        cov = stats_["coverage"]
        warns: list[str] = []
        if cov < LOW_COVERAGE:
            warns.append(
                f"estimated sample coverage is {cov:.2f} (< {LOW_COVERAGE}): the lists overlap "
                "too little "
                "for the sample-coverage approach to be reliable"
                + ("; the high-coverage estimate is unstable, prefer variant='low'" if self.variant == "high" else "")
            )
        if self.variant == "high":
            s = _stats(counts, k)
            x = k * cov - float(np.sum(s["a_pair"] * s["n_pair"] / s["nn"]))
            if x <= 0:
                warns.append(
                    "the high-coverage equation has no positive solution (too little overlap); "
                    "the estimate falls back to the observed count: use variant='low'"
                )
        seed_seq = None
        intervals: tuple[Interval, ...] = ()
        se = math.nan
        replicates: list[float] = []
        if self.n_boot and math.isfinite(est):
            rng_ = make_rng(rng)
            seed_seq = rng if isinstance(rng, int) else None
            n_round = round(est)
            probs = np.concatenate([[max(n_round - m, 0)], counts[1:]]).astype(float)
            probs /= probs.sum()
            draws = rng_.multinomial(n_round, probs, size=self.n_boot)
            for row in draws:
                z = row.copy()
                z[0] = 0
                if z.sum() == 0 or np.any(_list_sizes(z, k) == 0):
                    continue
                replicates.append(_estimate(z, k, self.variant))
            rep = np.asarray(replicates, dtype=float)
            rep = rep[np.isfinite(rep)]
            if rep.size > 1:
                se = float(rep.std(ddof=1))
                if est > m and se > 0:
                    z = _normal_quantile(1 - (1 - self.level) / 2)
                    c = math.exp(z * math.sqrt(math.log(1 + se**2 / (est - m) ** 2)))
                    intervals = (Interval(m + (est - m) / c, m + (est - m) * c, self.level, "log-transformed"),)
                else:
                    intervals = (Interval(float(m), float(m), self.level, "log-transformed"),)
        return EstimateResult(
            method="sample-coverage",
            estimate=float(est),
            observed=m,
            lists=histories.lists,
            model={
                "high": "high sample coverage (Chao-Tsay Nhat)",
                "low": "low sample coverage, one step (Nhat-1)",
                "independence": "independence (Nhat-0)",
            }[self.variant],
            intervals=intervals,
            settings={
                "variant": self.variant,
                "n_boot": self.n_boot,
                "level": self.level,
                **(
                    {"seed_entropy": rng.entropy, "seed_spawn_key": [int(x) for x in rng.spawn_key]}
                    if isinstance(rng, np.random.SeedSequence)
                    else {}
                ),
            },
            diagnostics={
                "coverage": cov,
                "std_error": se,
                "bootstrap_replicates_used": len(replicates),
            },
            details=stats_,
            seed=seed_seq,
            input_fingerprint=histories.fingerprint(),
            warnings=tuple(warns),
        )


def _list_sizes(z: np.ndarray, k: int) -> np.ndarray:
    masks = np.arange(2**k)
    return np.array([z[(masks >> j) & 1 == 1].sum() for j in range(k)])


def _normal_quantile(p: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(p))
