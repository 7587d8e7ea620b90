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
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from cifranegra._random import as_seed_sequence, make_rng
from cifranegra.estimation import specs
from cifranegra.estimation.diagnostics import require_usable
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.result import EstimateResult, Interval
from cifranegra.estimation.wording import flag, option

VARIANTS = ("high", "low", "independence")
#: below this estimated coverage we warn. Chao & Tsay (1998) derive the high-coverage estimator for
#: "sufficiently high" coverage without a number; CARE1 warns only when the high-coverage equation
#: has no positive solution (we do too). 0.55 is our own conservative choice, not a published
#: threshold.
LOW_COVERAGE = 0.55


def _stats(masks: np.ndarray, counts: np.ndarray, k: int) -> dict[str, Any]:
    """The statistics of the estimators from the observed patterns only (``masks``, their
    ``counts``): the cost grows with the patterns seen, not with the 2^K cells."""
    c = np.asarray(counts, dtype=float)
    masks = np.asarray(masks, dtype=np.int64)
    on = ((masks[:, None] >> np.arange(k)) & 1).astype(float)  # patterns × lists
    m = float(c.sum())
    n = on.T @ c
    both = (on * c[:, None]).T @ on  # people on lists j and q (j, q)
    cell = dict(zip(masks.tolist(), c.tolist(), strict=True))
    f = np.array([cell.get(1 << j, 0.0) for j in range(k)])
    pairs = [(j, q) for j in range(k) for q in range(j + 1, k)]
    n_pair = np.array([both[j, q] for j, q in pairs])
    a_pair = np.array([f[j] + f[q] + 2 * cell.get((1 << j) | (1 << q), 0.0) for j, q in pairs])
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


def _high_denominator(s: dict[str, Any], k: int) -> float:
    """``K C - Σ a_jk n_jk / (n_j n_k)``: the high-coverage equation has a positive solution only
    when this is positive."""
    return k * s["coverage"] - float(np.sum(s["a_pair"] * s["n_pair"] / s["nn"]))


def _estimate(masks: np.ndarray, counts: np.ndarray, k: int, variant: str) -> float:
    s = _stats(masks, counts, k)
    cov, d, m = s["coverage"], s["D"], s["M"]
    if cov <= 0:
        return math.inf
    n0 = d / cov
    if variant == "independence":
        return n0
    a, npair, nn = s["a_pair"], s["n_pair"], s["nn"]
    if variant == "high":
        x = _high_denominator(s, k)
        y = (k * d - float(a.sum())) / x if x != 0 else math.inf
        return m if (x < 1e-4 or y < m) else y
    # low coverage: one step from N0, then evaluate the CCVs at that N
    n1 = n0 + float(np.sum(a * (n0 * npair / nn - 1))) / (k * cov)
    gamma = n1 * npair / nn - 1
    return d / cov + float(np.sum(a * gamma)) / (k * cov)


def coverage_statistics(histories: CaptureHistories, n_hat: float | None = None) -> dict[str, Any]:
    """Coverage estimate and, given ``n_hat``, the capture probabilities and pairwise CCVs."""
    k = histories.n_lists
    masks = histories.masks()
    s = _stats(masks, histories.counts[masks], k)
    out: dict[str, Any] = {"coverage": s["coverage"], "D": s["D"], "observed": int(s["M"])}
    if n_hat is not None and math.isfinite(n_hat):
        out["mean_capture_probability"] = {histories.lists[j]: float(s["n"][j] / n_hat) for j in range(k)}
        out["ccv"] = {
            f"{histories.lists[j]}:{histories.lists[q]}": float(n_hat * s["n_pair"][i] / s["nn"][i] - 1)
            for i, (j, q) in enumerate(s["pairs"])
        }
    return out


@dataclass(frozen=True)
class SampleCoverage:
    """Chao & Tsay's sample-coverage estimator (``variant`` "high", "low" or "independence").

    ``n_boot`` bootstrap replicates for the standard error (0 for none), ``level`` of the interval.
    """

    min_lists: ClassVar[int] = 3

    variant: str = "high"
    n_boot: int = 1000
    level: float = 0.95

    def __post_init__(self) -> None:
        specs.raise_problems(
            specs.choice("variant", self.variant, VARIANTS),
            specs.whole("n_boot", self.n_boot, 0),
            specs.level("level", self.level),
        )

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        require_usable(
            histories,
            "sample-coverage",
            min_lists=3,
            alternatives="with 2 lists use 'chapman' or 'petersen'",
        )
        k = histories.n_lists
        masks = histories.masks()
        counts = histories.counts[masks]
        m = histories.observed
        est = _estimate(masks, counts, k, self.variant)
        stats_ = coverage_statistics(histories, est)
        cov = stats_["coverage"]
        warns: list[str] = []
        diagnostics: dict[str, Any] = {"coverage": cov}
        if cov < LOW_COVERAGE:
            warns.append(
                f"estimated sample coverage is {cov:.2f} (< {LOW_COVERAGE}): the lists overlap "
                "too little "
                "for the sample-coverage approach to be reliable"
                + (f"; the high-coverage estimate is unstable, prefer {option('variant', 'low')}"
                   if self.variant == "high" else "")
            )
        if est <= m:
            at_obs = self._at_observed(masks, counts, k, m, est)
            diagnostics["at_observed_count"] = at_obs
            warns.insert(0, at_obs["reason"] + "; " + at_obs["advice"])
        seed_seq = None
        intervals: tuple[Interval, ...] = ()
        se = math.nan
        replicates: list[float] = []
        if self.n_boot and math.isfinite(est) and est > m:
            # no seed: fresh entropy, recorded as the seed (as log-linear's bootstrap records it), so
            # that the run can be repeated from its record; a Generator gives the seed drawn from it
            ss = as_seed_sequence(rng)
            rng_ = make_rng(ss)
            entropy = ss.entropy
            seed_seq = int(entropy) if isinstance(entropy, (int, np.integer)) and not ss.spawn_key else None
            n_round = round(est)
            # the unseen cell and the observed patterns only: cells never seen have probability 0
            # and numpy's multinomial spends no random numbers on them, so the draws are those of
            # the full 2^K table, provided the last cell (seen on every list) stays the last category
            bmasks, bcounts = masks, counts
            full = 2**k - 1
            if bmasks.size == 0 or bmasks[-1] != full:
                bmasks, bcounts = np.append(masks, full), np.append(counts, 0)
            probs = np.concatenate([[max(n_round - m, 0)], bcounts]).astype(float)
            probs /= probs.sum()
            draws = rng_.multinomial(n_round, probs, size=int(self.n_boot))
            on = ((bmasks[:, None] >> np.arange(k)) & 1).astype(np.int64)
            for row in draws:
                z = row[1:]
                if z.sum() == 0 or np.any(z @ on == 0):
                    continue
                replicates.append(_estimate(bmasks, z, k, self.variant))
            rep = np.asarray(replicates, dtype=float)
            rep = rep[np.isfinite(rep)]
            if rep.size > 1:
                se = float(rep.std(ddof=1))
            if se > 0:
                z_q = _normal_quantile(1 - (1 - self.level) / 2)
                c = math.exp(z_q * math.sqrt(math.log(1 + se**2 / (est - m) ** 2)))
                intervals = (Interval(m + (est - m) / c, m + (est - m) * c, self.level, "log-transformed"),)
            else:
                diagnostics["interval_unavailable"] = (
                    "the bootstrap replicates have no spread (or too few could be estimated), so no "
                    "interval is reported"
                )
        elif self.n_boot and est <= m:
            diagnostics["interval_unavailable"] = (
                "the estimate is the observed count itself, a lower bound for N: there is no interval "
                "to report"
            )
        diagnostics.update({"std_error": se, "bootstrap_replicates_used": len(replicates)})
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
            diagnostics=diagnostics,
            details=stats_,
            seed=seed_seq,
            input_fingerprint=histories.fingerprint(),
            warnings=tuple(warns),
        )

    def _at_observed(self, masks: np.ndarray, counts: np.ndarray, k: int, m: int, est: float) -> dict[str, Any]:
        """Why the estimate is the observed count, and what to run instead."""
        s = _stats(masks, counts, k)
        if self.variant == "high" and _high_denominator(s, k) < 1e-4:
            reason = (
                "the high-coverage equation has no positive solution (the lists overlap too little), so "
                f"the estimate falls back to the observed count {m:,}, which is only a lower bound for N"
            )
        else:
            reason = (
                f"the {self.variant} sample-coverage estimate is not above the observed count {m:,}, so "
                "it says only that N is at least the number observed"
            )
        others = [v for v in ("low", "independence") if v != self.variant]
        alternatives = {v: _estimate(masks, counts, k, v) for v in others}
        tries = [
            f"{flag('variant')} {v} (gives {alternatives[v]:,.0f}; variant={v!r} in Python)"
            for v in others
            if alternatives[v] > m
        ]
        advice = (
            "do not report it as an estimate; try "
            + ("; ".join(tries) + "; or " if tries else "")
            + "another method (--method loglinear or lcmcr, or `cifranegra compare`)"
        )
        return {
            "reason": reason,
            "advice": advice,
            "alternatives": {f"variant={v}": float(x) for v, x in alternatives.items()},
        }


def _normal_quantile(p: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(p))
