"""The stratified total: the sum of the stratum estimates, with a joint interval.

When capture depends on a stratum (women listed more often than men, say), a log-linear or
latent-class fit of the pooled table mixes groups with different capture probabilities and is
biased, usually downwards; each stratum's own fit is not, and their sum is the estimate of the
total. Its interval must be a joint one:

- every stratum has bootstrap replicates, as many in each: replicate *b* of the total is the sum of
  replicate *b* of each stratum (the strata are independent tables with independent seeds, so this
  is the stratified bootstrap); interval ``stratified-bootstrap-percentile``;
- every stratum has posterior draws, as many in each (independent chains): draws summed;
  interval ``posterior-sum``;
- otherwise (profile, Wald or other analytic intervals, or samples of different sizes): each
  stratum's uncertainty is simulated, on the log(N − n) scale, from a split normal that reproduces
  its own interval exactly (a stratum with replicates or draws is resampled from them), and the
  simulated totals' percentiles are the interval; ``simulated-sum``.

Persons whose stratum value is unknown are not dropped: they are allocated to the known strata in
proportion to the strata's observed counts, which multiplies the total (and every replicate) by
(observed in all strata) / (observed in known strata). A stratum that cannot be estimated leaves no
total (estimate and interval ``None``, the stratum listed): a sum without it would be a number for
part of the population presented as the whole, and a "lower bound" made of the other strata's
estimates plus its observed count is not a bound at any stated level.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from cifranegra.errors import InputError
from cifranegra.estimation.result import EstimateResult, Interval, percentile_interval

#: joint replicates drawn when the total's interval is simulated
N_SIMULATED = 4000

_UNKNOWN = {"unknown", "(unknown)", "<na>", "nan", ""}

#: why a stratum of unknown value is not estimated (runs write it; reports translate it)
UNKNOWN_STRATUM_WHY = ("the stratum value is unknown (these persons count in 'all', and in the stratified total "
                       "allocated in proportion to the strata's observed counts)")


def is_unknown(value: Any) -> bool:
    """True for a stratum value nobody recorded (blank, NaN, None or the word ``unknown``)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, (np.datetime64, np.timedelta64)) and np.isnat(value):
        return True  # NaT: pandas' NaT is a datetime subclass that str() shows as "NaT"
    if type(value).__name__ in ("NaTType", "NAType"):
        return True
    return str(value).strip().lower() in _UNKNOWN


def stratum_seed(seed: int, label: str) -> int:
    """The seed of one stratum, derived from the run's ``seed`` and the stratum's label as shown
    (masked when identifying), so that strata get independent streams and a stratum's numbers do not
    depend on which other strata the table has."""
    digest = hashlib.sha256(label.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    state = np.random.SeedSequence([int(seed), *words]).generate_state(2, np.uint32)
    return int(state[0]) | (int(state[1] & 0x7FFFFFFF) << 32)


@dataclass(frozen=True)
class StratifiedTotal:
    """The stratified total of one method; ``estimate``/``interval`` are None when a stratum could
    not be estimated (``strata_not_estimated``) and ``note`` says why."""

    estimate: float | None
    interval: Interval | None
    strata_estimated: tuple[str, ...]
    strata_not_estimated: tuple[str, ...]
    observed: int
    unknown_observed: int = 0
    unknown_factor: float = 1.0
    samples: int = 0
    note: str | None = None
    seed: int | None = None
    strata_estimates: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "interval": None if self.interval is None else self.interval.to_dict(),
            "strata_estimated": list(self.strata_estimated),
            "strata_not_estimated": list(self.strata_not_estimated),
            "observed": self.observed,
            "unknown_allocated": {"observed": self.unknown_observed, "factor": self.unknown_factor},
            "samples": self.samples,
            "note": self.note,
            "seed": self.seed,
        }

    def comparison(self, pooled: float | None) -> str | None:
        """One sentence setting the total next to the pooled estimate, and why the two differ."""
        if self.estimate is None or pooled is None or not math.isfinite(pooled) or pooled <= 0:
            return None
        diff = self.estimate / pooled - 1
        return (
            f"stratified total {self.estimate:,.0f} vs pooled {pooled:,.0f} ({diff:+.1%}): the pooled fit assumes "
            "one pattern of capture for everyone, and when capture differs between strata that heterogeneity "
            "biases it (most often downwards); each stratum's own fit avoids that bias but rests on fewer "
            "people and its own model choice, so a large gap calls for a look at the strata's fits"
        )


def stratified_total(
    estimated: Mapping[str, EstimateResult],
    *,
    not_estimated: Mapping[str, int | None] | None = None,
    unknown: Mapping[str, int] | None = None,
    level: float = 0.95,
    seed: int | None = None,
) -> StratifiedTotal:
    """The sum of the known strata's estimates with a joint interval at ``level``.

    ``estimated``: label → result for each stratum with a known value that was estimated;
    ``not_estimated``: label → observed count (None if unknown) of each known stratum that was not;
    ``unknown``: label → observed count of each stratum whose value is unknown (estimated or not:
    its persons are allocated in proportion, its own estimate is not added). ``seed`` drives the
    simulation and resampling (none is needed when the strata's samples are summed directly).
    """
    not_estimated = dict(not_estimated or {})
    unknown = dict(unknown or {})
    n_unknown = int(sum(unknown.values()))
    known_observed = int(sum(r.observed for r in estimated.values()))
    known_observed += int(sum(v for v in not_estimated.values() if v))
    observed = known_observed + n_unknown
    base: dict[str, Any] = {
        "strata_estimated": tuple(estimated),
        "strata_not_estimated": tuple(not_estimated),
        "observed": observed,
        "unknown_observed": n_unknown,
        "seed": seed,
        "strata_estimates": {k: float(r.estimate) for k, r in estimated.items()},
    }
    if not_estimated:
        return StratifiedTotal(
            estimate=None, interval=None, **base,
            note=f"no total: {len(not_estimated)} stratum(s) could not be estimated "
            f"({', '.join(not_estimated)}); a sum without them would count only part of the population",
        )
    if not estimated:
        return StratifiedTotal(estimate=None, interval=None, **base, note="no total: no stratum was estimated")
    factor = observed / known_observed if known_observed else 1.0
    total = factor * float(sum(r.estimate for r in estimated.values()))
    samples, method, why = _joint_samples(estimated, level, seed)
    interval = None
    note = why
    if samples is not None:
        lo, hi = percentile_interval(factor * samples, level)
        interval = Interval(lo, hi, level, method)
        note = None
    if n_unknown:
        extra = (f"{n_unknown} person(s) with an unknown stratum value allocated to the strata in proportion "
                 f"to their observed counts (total × {factor:.4f})")
        note = f"{note}; {extra}" if note else extra
    return StratifiedTotal(
        estimate=total, interval=interval, **base, unknown_factor=factor,
        samples=0 if samples is None else int(samples.size), note=note,
    )


def _joint_samples(
    estimated: Mapping[str, EstimateResult], level: float, seed: int | None
) -> tuple[np.ndarray | None, str, str | None]:
    """Joint replicates of the known strata's sum, how they were made, or why there are none."""
    results = list(estimated.values())
    reps = [r.replicates for r in results]
    draws = [r.draws for r in results]
    if all(x is not None for x in reps) and len({len(x) for x in reps if x is not None}) == 1:
        arr = np.sum([np.asarray(x, dtype=float) for x in reps if x is not None], axis=0)
        return arr[np.isfinite(arr)], "stratified-bootstrap-percentile", None
    if all(x is not None for x in draws) and len({len(x) for x in draws if x is not None}) == 1:
        arr = np.sum([np.asarray(x, dtype=float) for x in draws if x is not None], axis=0)
        return arr[np.isfinite(arr)], "posterior-sum", None
    rng = np.random.default_rng(seed)
    parts = []
    for label, r in estimated.items():
        part = _stratum_sample(r, level, rng)
        if part is None:
            return None, "", f"no interval for the total: stratum {label} has no interval"
        parts.append(part)
    arr = np.sum(parts, axis=0)
    return arr[np.isfinite(arr)], "simulated-sum", None


def _stratum_sample(r: EstimateResult, level: float, rng: np.random.Generator) -> np.ndarray | None:
    """N_SIMULATED values from one stratum's sampling distribution: resampled from its replicates or
    draws, else a split normal on log(N − n) matching its interval at ``level``."""
    own = r.replicates if r.replicates is not None else r.draws
    if own is not None:
        arr = np.asarray(own, dtype=float)
        arr = arr[np.isfinite(arr)]
        if arr.size:
            return rng.choice(arr, size=N_SIMULATED, replace=True)
    try:
        iv = r.interval(level)
    except InputError:  # no interval at this level and nothing to recompute it from: the stored one
        iv = r.interval()
    if iv is None or not (math.isfinite(iv.lower) and math.isfinite(iv.upper)):
        return None
    if not iv.upper > iv.lower:  # a zero-width interval: no spread to simulate
        return np.full(N_SIMULATED, float(r.estimate))
    return split_normal_sample(r.estimate, r.observed, iv, rng, N_SIMULATED)


def split_normal_sample(
    estimate: float, observed: int, iv: Interval, rng: np.random.Generator, size: int
) -> np.ndarray:
    """Values of N whose log(N − n) follows a split normal centred on log(N̂ − n), with each side's
    spread set so that its ``iv.level`` quantiles are the interval's ends (on the N scale when an
    end is at or below the observed count)."""
    z = NormalDist().inv_cdf(0.5 + iv.level / 2)
    u = rng.standard_normal(size)
    dark, lo, hi = estimate - observed, iv.lower - observed, iv.upper - observed
    if dark > 0 and lo > 0 and hi > 0:
        mu = math.log(dark)
        s_lo, s_hi = (mu - math.log(lo)) / z, (math.log(hi) - mu) / z
        return observed + np.exp(mu + np.where(u < 0, s_lo, s_hi) * u)
    s_lo, s_hi = (estimate - iv.lower) / z, (iv.upper - estimate) / z
    return np.maximum(observed, estimate + np.where(u < 0, s_lo, s_hi) * u)
