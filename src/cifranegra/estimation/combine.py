"""Combine estimates made on M imputed linkages into one, whose interval includes the linkage's
uncertainty (docs/linkage.md, 'Linkage uncertainty').

Frequentist results: Rubin's rules (Rubin 1987, *Multiple Imputation for Nonresponse in Surveys*)
on θ = log(N − c), with c the smallest observed count over the imputations minus ½: a fixed
reference, so that linkages that find more or fewer distinct people (the observed count n moves
with the linkage) add to the between-imputation variance instead of being subtracted away; the log
makes θ close to normal and keeps the interval above c. Each imputation's variance of θ comes from
its interval (half-width on the log scale over the normal quantile) or, without one, its standard
error (delta method). The interval uses Student's t with the Barnard–Rubin (1999, Biometrika
86:948–955) degrees of freedom, and is transformed back: N = c + exp(θ). The share of the variance
due to linkage is (1 + 1/M)·B / T.

Bayesian results (those with posterior ``draws``, e.g. LCMCR, dga): the draws of the M posteriors
are pooled, the same number from each (Zhou & Reiter 2010, The American Statistician 64:159–163):
the estimate is the pooled median and the interval its equal-tailed quantiles.

This module knows nothing of linkage: :func:`impute_and_estimate` takes any object with
``n_imputations`` and ``entities(m)`` (an entities table per imputation), such as
:class:`cifranegra.linkage.uncertainty.LinkageImputations`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from cifranegra._pool import process_pool
from cifranegra.errors import InputError, ModelError
from cifranegra.estimation.result import EstimateResult, Interval, percentile_interval

if TYPE_CHECKING:
    import pandas as pd

    from cifranegra.estimation.histories import CaptureHistories


@dataclass(frozen=True)
class RubinPooled:
    """Rubin's rules on M estimates of a scalar: ``mean`` (q̄), ``within`` (Ū), ``between`` (B),
    ``total`` (T = Ū + (1 + 1/M) B), ``df`` (Barnard–Rubin), ``linkage_share`` ((1 + 1/M) B / T)."""

    mean: float
    within: float
    between: float
    total: float
    df: float
    linkage_share: float
    n_imputations: int

    def interval(self, level: float) -> tuple[float, float]:
        """q̄ ± t_{df, (1+level)/2} √T."""
        from scipy import stats

        q = stats.norm.ppf((1 + level) / 2) if math.isinf(self.df) else stats.t.ppf((1 + level) / 2, self.df)
        half = float(q) * math.sqrt(self.total)
        return self.mean - half, self.mean + half


def rubin(
    estimates: Sequence[float] | np.ndarray, variances: Sequence[float] | np.ndarray, *, df_complete: float = math.inf
) -> RubinPooled:
    """Rubin's rules with Barnard–Rubin degrees of freedom.

    ``df_complete`` is the degrees of freedom of one complete-data estimate (infinite for the
    large-sample estimators here; then df = (M − 1)/λ², Rubin's own).
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = q.size
    if m < 2 or u.size != m:
        raise InputError(f"Rubin's rules need at least 2 estimates with one variance each, got {m} and {u.size}")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(u)) and np.all(u >= 0)):
        raise InputError("every estimate and variance must be finite (variances not negative)")
    if not df_complete > 0:
        raise InputError(f"df_complete must be positive, not {df_complete}")
    qbar = float(q.mean())
    ubar = float(u.mean())
    b = float(q.var(ddof=1))
    t = ubar + (1 + 1 / m) * b
    share = (1 + 1 / m) * b / t if t > 0 else 0.0
    if share <= 0:
        df = df_complete
    else:
        df_old = (m - 1) / share**2
        if math.isinf(df_complete):
            df = df_old
        else:
            df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - share)
            df = 1 / (1 / df_old + 1 / df_obs) if df_obs > 0 else df_old
    return RubinPooled(qbar, ubar, b, t, float(df), float(share), m)


def _check_same(results: Sequence[EstimateResult]) -> None:
    if len(results) < 2:
        raise InputError(f"combining needs the estimates of at least 2 imputed linkages, got {len(results)}")
    methods = {r.method for r in results}
    lists = {r.lists for r in results}
    if len(methods) > 1 or len(lists) > 1:
        raise InputError(
            "the estimates to combine must come from one method on the same lists; got methods "
            f"{sorted(methods)} and {len(lists)} different list sets"
        )


def _log_variance(result: EstimateResult, c: float, index: int) -> float:
    """Variance of log(N − c) for one imputation's estimate, from its interval or standard error."""
    from scipy import stats

    iv = result.interval()
    if iv is not None and math.isfinite(iv.lower) and math.isfinite(iv.upper) and iv.upper > iv.lower:
        z = float(stats.norm.ppf((1 + iv.level) / 2))
        lo, hi = max(iv.lower - c, 0.5), max(iv.upper - c, 0.5)
        return ((math.log(hi) - math.log(lo)) / (2 * z)) ** 2
    se = result.std_error
    if se is not None:
        return (se / (result.estimate - c)) ** 2
    why = result.diagnostics.get("interval_unavailable") or "it has no finite interval and no standard error"
    raise ModelError(
        f"the estimate on imputed linkage {index + 1} cannot be combined: {why}. Choose a method that "
        "gives an interval, or turn linkage imputation off"
    )


def _provenance(results: Sequence[EstimateResult]) -> tuple[dict[str, Any], str | None]:
    """What the combined result records of its inputs: each imputation's seed (in the settings) and
    one fingerprint of the M input tables, in order (SHA-256 of their fingerprints; None when one
    is missing)."""
    prints = [r.input_fingerprint for r in results]
    joined = None
    if all(prints):
        joined = hashlib.sha256("\x1f".join(f"{x}" for x in prints).encode()).hexdigest()
    return {"linkage_imputations": len(results), "imputation_seeds": [r.seed for r in results]}, joined


def _settings(first: EstimateResult, recorded: Mapping[str, Any]) -> dict[str, Any]:
    """The first imputation's settings less its own seed (each imputation's is in ``recorded``)."""
    own = {k: v for k, v in first.settings.items() if k not in ("seed_entropy", "seed_spawn_key")}
    return {**own, **recorded}


def combine_estimates(results: Sequence[EstimateResult], *, level: float = 0.95) -> EstimateResult:
    """One result from the estimates made on M imputed linkages (module docstring): pooled
    posterior draws when every result has draws, Rubin's rules on log(N − c) otherwise."""
    _check_same(results)
    if not 0 < level < 1:
        raise InputError(f"level must be a number between 0 and 1 (e.g. 0.95), got {level}")
    observed = np.array([r.observed for r in results], dtype=float)
    estimates = np.array([r.estimate for r in results], dtype=float)
    if not np.all(np.isfinite(estimates)):
        bad = int(np.flatnonzero(~np.isfinite(estimates))[0]) + 1
        raise ModelError(f"the estimate on imputed linkage {bad} is not finite; the imputations cannot be combined")
    c = float(observed.min()) - 0.5
    m = len(results)
    first = results[0]
    recorded, fingerprint = _provenance(results)
    common = {
        "n_imputations": m,
        "reference_count": c,
        "estimates": estimates.tolist(),
        "observed_counts": observed.astype(int).tolist(),
        "interval_includes_linkage": True,
    }
    models = Counter(r.model for r in results)
    model = models.most_common(1)[0][0]
    warnings = tuple(dict.fromkeys(w for r in results for w in r.warnings))
    if all(r.draws is not None and len(r.draws) > 0 for r in results):
        return _pool_draws(results, c, level, common, model, warnings)
    theta = np.log(np.maximum(estimates - c, 0.5))
    variances = [_log_variance(r, c, i) for i, r in enumerate(results)]
    pooled = rubin(theta, variances)
    lo, hi = pooled.interval(level)
    diagnostics = {
        **common,
        "combination": "rubin",
        "linkage_share_of_variance": pooled.linkage_share,
        "within_variance": pooled.within,
        "between_variance": pooled.between,
        "total_variance": pooled.total,
        "degrees_of_freedom": pooled.df if math.isfinite(pooled.df) else "inf",
    }
    return EstimateResult(
        method=first.method,
        estimate=c + math.exp(pooled.mean),
        observed=round(float(np.median(observed))),
        lists=first.lists,
        model=model,
        intervals=(Interval(c + math.exp(lo), c + math.exp(hi), level, "rubin-t"),),
        settings=_settings(first, recorded),
        diagnostics=diagnostics,
        input_fingerprint=fingerprint,
        warnings=warnings,
    )


def _pool_draws(
    results: Sequence[EstimateResult],
    c: float,
    level: float,
    common: Mapping[str, Any],
    model: str | None,
    warnings: tuple[str, ...],
) -> EstimateResult:
    samples = [np.asarray(r.draws, dtype=float) for r in results]
    samples = [s[np.isfinite(s)] for s in samples]
    size = min(s.size for s in samples)
    if size < 1:
        raise ModelError("an imputed linkage's posterior has no finite draws; the imputations cannot be combined")
    # the same number of draws from each posterior, evenly spaced (deterministic thinning)
    even = [s[np.linspace(0, s.size - 1, size).round().astype(int)] for s in samples]
    pooled = np.concatenate(even)
    logs = [np.log(np.maximum(s - c, 0.5)) for s in even]
    means = np.array([x.mean() for x in logs])
    within = float(np.mean([x.var(ddof=1) if x.size > 1 else 0.0 for x in logs]))
    m = len(results)
    between = float(means.var(ddof=1))
    total = within + (1 + 1 / m) * between
    lo, hi = percentile_interval(pooled, level)
    first = results[0]
    recorded, fingerprint = _provenance(results)
    diagnostics = {
        **common,
        "combination": "pooled-draws",
        "draws_per_imputation": int(size),
        "linkage_share_of_variance": (1 + 1 / m) * between / total if total > 0 else 0.0,
        "within_variance": within,
        "between_variance": between,
        "total_variance": total,
    }
    return EstimateResult(
        method=first.method,
        estimate=float(np.median(pooled)),
        observed=round(float(np.median([r.observed for r in results]))),
        lists=first.lists,
        model=model,
        intervals=(Interval(lo, hi, level, "posterior"),),
        settings=_settings(first, recorded),
        diagnostics=diagnostics,
        draws=tuple(float(x) for x in pooled),
        interval_method="posterior",
        input_fingerprint=fingerprint,
        warnings=warnings,
    )


class Imputations(Protocol):
    """What :func:`impute_and_estimate` needs of a set of imputed linkages."""

    @property
    def n_imputations(self) -> int: ...

    def entities(self, m: int) -> pd.DataFrame: ...


def _fit_one(args: tuple[CaptureHistories, str, dict[str, Any], int]) -> EstimateResult:
    from cifranegra.estimation.api import estimate

    histories, method, options, seed = args
    return estimate(histories, method, seed=seed, **options)


def impute_and_estimate(
    imputations: Imputations,
    method: str = "loglinear",
    options: Mapping[str, Any] | None = None,
    *,
    lists: Sequence[str] | None = None,
    seed: int | None = None,
    workers: int = 1,
    level: float = 0.95,
) -> tuple[EstimateResult, list[EstimateResult]]:
    """Tabulate each imputed linkage, estimate with ``method`` and ``options`` (as
    :func:`cifranegra.estimation.api.estimate`), and combine (:func:`combine_estimates`).

    Imputation m is estimated with a seed derived from ``seed`` and m only, so results do not
    depend on ``workers`` (processes; 1 runs in this process). Returns the combined result and the
    M single results.
    """
    from cifranegra._random import as_seed_sequence
    from cifranegra.estimation.api import check_estimator, check_seed
    from cifranegra.estimation.histories import CaptureHistories

    options = dict(options or {})
    check_seed(seed)
    check_estimator(method, options)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 1024:
        raise InputError(f"workers must be a whole number from 1 to 1024 (--workers N), not {workers!r}")
    m = int(imputations.n_imputations)
    root = as_seed_sequence(seed)  # no seed: fresh entropy, recorded as the combined result's seed
    seeds = [int(s.generate_state(1)[0]) for s in root.spawn(m)]
    tables = [CaptureHistories.from_entities(imputations.entities(i), lists=lists) for i in range(m)]
    tasks = [(t, method, options, s) for t, s in zip(tables, seeds, strict=True)]
    if workers == 1 or m == 1:
        singles = [_fit_one(t) for t in tasks]
    else:
        with process_pool(min(workers, m)) as pool:
            singles = list(pool.map(_fit_one, tasks))
    combined = combine_estimates(singles, level=level)
    entropy = root.entropy
    seed_used = int(entropy) if isinstance(entropy, (int, np.integer)) and not root.spawn_key else None
    return dataclasses.replace(combined, seed=seed_used), singles
