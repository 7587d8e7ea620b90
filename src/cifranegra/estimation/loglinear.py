"""Poisson log-linear multiple systems estimation with model selection and honest intervals.

The hidden count is N̂ = observed + exp(intercept) of a hierarchical log-linear model fitted to the
incomplete 2^K table (Fienberg 1972; Bishop, Fienberg & Holland 1975). Models whose extended MLE
does not exist or is not identifiable on the data (Chan, Silverman & Vincent 2021) are reported and
excluded from selection, never fitted to an absurd number.

Selection, as the R packages the field uses:

* ``bic`` / ``aic``: every hierarchical model up to a maximum order, ranked by BIC (or AIC) with the
  number of observed people as sample size and every parameter counted, those at −∞ included
  (MultipleSystemsEstimation ``estimate_population(method="bic")``; Silverman, Chan & Vincent 2024).
* ``stepwise``: forward selection of two-list terms by Poisson p-values with threshold 0.02
  (SparseMSE; Chan, Silverman & Vincent 2021).
* ``auto``: BIC up to five lists, stepwise beyond (what MultipleSystemsEstimation does).

Intervals: ``profile`` (the multinomial profile likelihood of Cormack 1992, as Rcapture's
``closedpCI.t``), ``wald`` (normal on the log dark figure, as SparseMSE ``estimatepopulation.0``),
``bootstrap`` (multinomial resampling of the observed people with the model re-selected in every
replicate, restricted to the original data's top models for BIC/AIC, then BCa or percentile;
Silverman, Chan & Vincent 2024) and ``parametric`` (complete populations, the unseen included, drawn
from the fitted model and put through the same selection; Buckland & Garthwaite 1991). Which one
``auto`` gives is :data:`DEFAULT_INTERVAL`, chosen by the coverage study ``bench/bench_coverage.py``.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import gammaincinv, gammaln, ndtri, pdtr, pdtrc  # no scipy.stats: its start-up costs more

from cifranegra._random import as_seed_sequence
from cifranegra.errors import InputError, ModelError
from cifranegra.estimation import fitting as F  # noqa: N812
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.models import (
    HierarchicalModel,
    ModelSpace,
    count_hierarchical,
    default_max_order,
    default_ntop,
)
from cifranegra.estimation.result import EstimateResult, Interval, bca_interval, percentile_interval
from cifranegra.estimation.wording import option

SELECTIONS = ("bic", "aic", "stepwise", "auto", "fixed")
INTERVALS = ("auto", "none", "profile", "wald", "bootstrap", "parametric")
#: the interval ``interval="auto"`` gives, when the model is fixed and when it is selected: the one
#: whose coverage stayed in 93–97% in the most designs of bench/bench_coverage.py (seed set "choose"),
#: nearest 95% on average (fixed: profile, in band in all; selected: the parametric pivot, out in one
#: of five at 97.2%, where SparseMSE's BCa was out in three, over-covering); the table in
#: docs/estimation.md is from the other seed set
DEFAULT_INTERVAL = {"fixed": "profile", "selected": "parametric"}
#: the interval read from each bootstrap's replicates, and the default (first) of each
BOOTSTRAP_INTERVALS = {"bootstrap": ("bca", "percentile"), "parametric": ("pivot", "percentile", "lognormal")}
STATUS_TEXT = {
    0: "ok",
    1: "no extended MLE (the data cannot bound some parameter)",
    2: "not identifiable (too few informative cells for the parameters)",
    3: "no extended MLE and not identifiable",
    F.FAILED: "the fit failed numerically (no finite solution from a warm start nor from R glm's start)",
}
MAX_LISTS = 15  # 2^15 cells; beyond, use a latent-class model
#: the most models the all-model BIC/AIC search fits: 6 lists up to order 2, the largest catalogue of
#: MultipleSystemsEstimation, seconds per table with its bootstrap. The next sets are 64 to 113 times
#: larger (7 lists up to order 2: 2,097,152; 6 lists up to order 3: 3,702,013): minutes to hours
#: per table, and gigabytes for the fitted means of every model.
MAX_ALL_MODELS = 32_768

ProgressFn = Callable[[int, int], None]


#: the most bootstrap replicates (each is a fitted table; 10^6 is minutes to hours)
MAX_BOOT = 1_000_000


def _one_of(value: object, choices: tuple[str, ...]) -> bool:
    return isinstance(value, str) and value in choices


def _real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
        and math.isfinite(float(value))


def _whole(value: object, lo: int, hi: int) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and bool(lo <= value <= hi)


def _shown(value: object) -> str:
    """An option's value in a message: short, never a long text."""
    text = repr(value)
    return text if len(text) <= 40 else f"a {type(value).__name__}"


@dataclass(frozen=True)
class Selected:
    model: HierarchicalModel
    abundance: float
    fit: F.SingleFit
    table: list[dict[str, Any]]  # ranked candidate models (top rows)
    n_candidates: int
    n_excluded: int
    excluded: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    all_fits: F.ModelSetFit | None = None


@dataclass(frozen=True)
class LogLinear:
    """Log-linear MSE: select (or fix) a hierarchical model, estimate N, and an interval.

    Parameters mirror ``cifranegra estimate``: ``select`` in bic/aic/stepwise/auto (ignored when
    ``model`` fixes the generating class, e.g. ``"[12,13,4]"``), ``max_order`` (default as
    MultipleSystemsEstimation), ``pthresh`` for stepwise, ``interval`` in
    auto/none/profile/wald/bootstrap/parametric (auto: :data:`DEFAULT_INTERVAL`), ``n_boot``,
    ``level``, ``ntop`` (models kept in the bootstraps; default as MultipleSystemsEstimation),
    ``bootstrap_interval`` (how the replicates are read: bca/percentile for ``bootstrap``,
    pivot/percentile/lognormal for ``parametric``; default the first), ``workers`` (processes for the
    bootstrap; results do not depend on it).
    """

    max_lists: ClassVar[int] = MAX_LISTS
    lists_limit_reason: ClassVar[str] = (
        f"a log-linear fit works on the 2^K-cell design (2^{MAX_LISTS} rows × up to "
        f"{1 + MAX_LISTS + MAX_LISTS * (MAX_LISTS - 1) // 2} columns at {MAX_LISTS} lists)"
    )

    select: str = "auto"
    model: str | None = None
    max_order: int | None = None
    pthresh: float = 0.02
    interval: str = "auto"
    n_boot: int = 1000
    level: float = 0.95
    ntop: int | None = None
    bootstrap_interval: str | None = None
    workers: int | None = None
    progress: ProgressFn | None = None

    def __post_init__(self) -> None:
        problems = []
        if not _one_of(self.select, SELECTIONS):
            problems.append(f"select must be one of {', '.join(SELECTIONS[:4])}, got {_shown(self.select)}")
        if not _one_of(self.interval, INTERVALS):
            problems.append(f"interval must be one of {', '.join(INTERVALS)}, got {_shown(self.interval)}")
        if self.model is not None and not isinstance(self.model, str):
            problems.append(f'model must be a generating class such as "[12,3]", got {_shown(self.model)}')
        if self.max_order is not None and not _whole(self.max_order, 1, MAX_LISTS):
            problems.append(f"max_order must be a whole number from 1 to {MAX_LISTS}, got {_shown(self.max_order)}")
        if not (_real(self.pthresh) and 0 <= self.pthresh <= 1):
            problems.append(f"pthresh must be a number between 0 and 1, got {_shown(self.pthresh)}")
        if not _whole(self.n_boot, 0, MAX_BOOT):
            problems.append(f"n_boot must be a whole number from 0 to {MAX_BOOT:,}, got {_shown(self.n_boot)}")
        if not (_real(self.level) and 0 < self.level < 1):
            problems.append(f"level must be a number between 0 and 1 (e.g. 0.95), got {_shown(self.level)}")
        if self.ntop is not None and not _whole(self.ntop, 1, MAX_ALL_MODELS):
            problems.append(f"ntop must be a whole number from 1 to {MAX_ALL_MODELS:,}, got {_shown(self.ntop)}")
        if self.workers is not None and not _whole(self.workers, 1, 1024):
            problems.append(f"workers must be a whole number from 1 to 1024, got {_shown(self.workers)}")
        kinds = tuple(sorted({x for v in BOOTSTRAP_INTERVALS.values() for x in v}))
        if self.bootstrap_interval is not None and not _one_of(self.bootstrap_interval, kinds):
            problems.append(
                f"bootstrap_interval must be one of {', '.join(kinds)}, got {_shown(self.bootstrap_interval)}"
            )
        elif self.bootstrap_interval is not None and _one_of(self.interval, tuple(BOOTSTRAP_INTERVALS)):
            allowed = BOOTSTRAP_INTERVALS[self.interval]
            if self.bootstrap_interval not in allowed:
                problems.append(
                    f"bootstrap_interval {self.bootstrap_interval} does not apply to the {self.interval} interval "
                    f"(it takes {' or '.join(allowed)})"
                )
        if problems:
            raise InputError("; ".join(problems))

    # ------------------------------------------------------------------ fit
    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        h = histories
        k = h.n_lists
        if k > MAX_LISTS:
            raise InputError(
                f"{k} lists: log-linear models need 2^{k} cells; use --method lcmcr (latent classes) for "
                f"more than {MAX_LISTS} lists, or merge lists"
            )
        select = "fixed" if self.model is not None else self.select
        if select == "auto":
            select = "bic" if k <= 5 else "stepwise"
        max_order = self.max_order if self.max_order is not None else default_max_order(k)
        warnings_: list[str] = []
        if self.max_order is not None and self.max_order > k - 1:
            warnings_.append(
                f"{option('max_order', self.max_order)} lowered to {k - 1}: the K-way term is not estimable"
            )
            max_order = k - 1
        pairs = h.non_overlapping_pairs()
        if pairs:
            warnings_.append(
                "lists with no one in common: "
                + ", ".join(f"{a}&{b}" for a, b in pairs)
                + " (their interaction is fixed at −∞ where a model includes it)"
            )
        if self.model is not None and self.select not in ("auto", "fixed"):
            warnings_.append(
                f"{option('select', self.select)} ignored: the model is fixed by --model {self.model}"
            )
        if select in ("bic", "aic"):
            check_search(k, max_order, select)  # counted before anything is fitted
        if select == "fixed":
            assert self.model is not None
            chosen = select_fixed(h, HierarchicalModel.parse(self.model, h.lists))
        elif select in ("bic", "aic"):
            chosen = select_by_criterion(h, max_order, criterion=select, workers=self.workers)
        else:
            chosen = select_stepwise(h, self.pthresh)
        if chosen.all_fits is not None:
            failed = [chosen.all_fits.space.model(int(i)).notation()
                      for i in np.flatnonzero(chosen.all_fits.status == F.FAILED)]
            if failed:
                warnings_.append(
                    f"{len(failed)} candidate model(s) could not be fitted numerically and were left out "
                    f"of the selection (first: {', '.join(failed[:3])}); see the excluded models"
                )
        interval_kind = self.interval
        if interval_kind == "auto":
            interval_kind = DEFAULT_INTERVAL["fixed" if select == "fixed" else "selected"]
        boot_kind = self.bootstrap_interval or BOOTSTRAP_INTERVALS.get(interval_kind, ("",))[0]
        details_extra: dict[str, Any] = {}
        intervals: list[Interval] = []
        replicates = None
        accel = None
        diagnostics: dict[str, Any] = {
            "log_likelihood": chosen.fit.log_likelihood,
            "deviance": chosen.fit.deviance,
            "df": chosen.fit.df,
            "aic": chosen.fit.aic,
            "bic": chosen.fit.bic,
            "n_parameters": chosen.fit.prepared.n_parameters,
            "terms_at_minus_infinity": [
                ":".join(h.lists[i] for i in range(k) if (t >> i) & 1) for t in chosen.fit.prepared.sparse
            ],
            "intercept": chosen.fit.intercept,
            "intercept_std_error": chosen.fit.intercept_se,
            "candidates": chosen.n_candidates,
            "excluded_candidates": chosen.n_excluded,
        }
        seed_used: int | None = None
        seed_record: dict[str, Any] = {}
        if interval_kind == "profile":
            lo, hi, mle = profile_interval(h, chosen.fit, self.level)
            intervals.append(Interval(lo, hi, self.level, "profile"))
            diagnostics["profile_mle"] = mle
        elif interval_kind == "wald":
            lo, hi = wald_interval(h, chosen.fit, self.level)
            intervals.append(Interval(lo, hi, self.level, "wald"))
        elif interval_kind in BOOTSTRAP_INTERVALS:
            if self.n_boot < 2:
                raise InputError(f"a bootstrap interval needs {option('n_boot')} ≥ 2 (1000 is usual)")
            seed_seq = as_seed_sequence(rng)
            # an integer seed reproduces the run; a spawned seed sequence (e.g. from compare) is
            # recorded as entropy + spawn key in the settings instead (as LCMCR and sample coverage)
            entropy = seed_seq.entropy
            seed_used = int(entropy) if isinstance(entropy, (int, np.integer)) and not seed_seq.spawn_key else None
            if seed_used is None:
                seed_record = {"seed_entropy": seed_seq.entropy,
                               "seed_spawn_key": [int(x) for x in seed_seq.spawn_key]}
            run = bootstrap if interval_kind == "bootstrap" else parametric_bootstrap
            boot = run(
                h,
                select=select,
                chosen=chosen,
                max_order=max_order,
                pthresh=self.pthresh,
                n_boot=int(self.n_boot),
                ntop=self.ntop if self.ntop is not None else default_ntop(k),
                seed=seed_seq,
                workers=self.workers,
                progress=self.progress,
            )
            replicates = tuple(float(x) for x in boot["replicates"])
            reps = np.asarray(replicates)
            n_failed = int(np.sum(~np.isfinite(reps)))
            diagnostics["bootstrap"] = {
                "kind": "nonparametric" if interval_kind == "bootstrap" else "parametric",
                "replicates": int(reps.size),
                "failed_replicates": n_failed,
                "ntop": boot["ntop"],
                "models_selected": boot["models_selected"],
            }
            if interval_kind == "bootstrap":
                accel = float(boot["acceleration"])
                if boot_kind == "bca":
                    lo, hi = bca_interval(reps, chosen.abundance, accel, self.level)
                else:
                    lo, hi = percentile_interval(reps, self.level)
                diagnostics["bootstrap"].update(
                    acceleration=accel,
                    bias_correction_share_below=float(np.mean(reps[np.isfinite(reps)] < chosen.abundance)),
                )
                intervals.append(Interval(lo, hi, self.level, f"bootstrap-{boot_kind}"))
                if n_failed:
                    warnings_.append(f"{n_failed} bootstrap replicate(s) had no usable model and were left out")
            else:
                lo, hi = parametric_interval(
                    reps, boot["unseen"], boot["population"], h.observed, chosen.abundance, self.level, boot_kind
                )
                diagnostics["bootstrap"].update(population=boot["population"])
                details_extra["parametric_unseen"] = [int(x) for x in boot["unseen"]]
                intervals.append(Interval(lo, hi, self.level, f"parametric-{boot_kind}"))
                if n_failed:
                    warnings_.append(
                        f"{n_failed} parametric bootstrap replicate(s) had no usable model; they count as "
                        "unbounded estimates (the upper end is then less certain)"
                    )
        settings = {
            "select": select,
            "requested_select": self.select,
            "model": self.model,
            "max_order": max_order,
            "pthresh": self.pthresh,
            "interval": interval_kind,
            "n_boot": self.n_boot if interval_kind in BOOTSTRAP_INTERVALS else 0,
            "level": self.level,
            "ntop": self.ntop if self.ntop is not None else default_ntop(k),
            "bootstrap_interval": boot_kind or None,
            **seed_record,
        }
        return EstimateResult(
            method="loglinear",
            estimate=chosen.abundance,
            observed=h.observed,
            lists=h.lists,
            model=chosen.model.notation(),
            intervals=tuple(intervals),
            settings=settings,
            diagnostics=diagnostics,
            details={"models": chosen.table, "excluded": chosen.excluded, "steps": chosen.steps, **details_extra},
            replicates=replicates,
            interval_method=(boot_kind if interval_kind == "bootstrap" else None),
            acceleration=accel,
            seed=seed_used,
            input_fingerprint=h.fingerprint(),
            warnings=tuple(warnings_),
        )


# ---------------------------------------------------------------------- selection
def _terms_text(model: HierarchicalModel, lists: tuple[str, ...]) -> str:
    return " ".join(n for n in model.term_names(lists) if ":" in n)


def select_fixed(h: CaptureHistories, model: HierarchicalModel) -> Selected:
    prep = F.prepare(model, h.counts)
    st = F.status_of(prep, h.counts)
    if st != 0:
        raise ModelError(
            f"model {model.notation()} cannot be fitted to {h.source or 'these data'}: "
            f"{STATUS_TEXT[st]} (status {st}, Chan, Silverman & Vincent 2021). Drop the terms involving "
            "lists with no one in common, choose a simpler model, or let selection choose "
            "(--select bic or stepwise)"
        )
    fit = F.fit_one(model, h.counts)
    row = _row(model, fit, h.lists)
    return Selected(model, fit.abundance, fit, [row], 1, 0, [], [])


def _row(model: HierarchicalModel, fit: F.SingleFit, lists: tuple[str, ...]) -> dict[str, Any]:
    return {
        "model": model.notation(),
        "terms": _terms_text(model, lists),
        "estimate": fit.abundance,
        "bic": fit.bic,
        "aic": fit.aic,
        "deviance": fit.deviance,
        "df": fit.df,
        "n_parameters": fit.prepared.n_parameters,
        "status": 0,
    }


def fit_all_models(h: CaptureHistories, max_order: int, workers: int | None = None) -> F.ModelSetFit:
    """Every hierarchical model up to ``max_order`` checked and fitted (vectorized).

    Large candidate sets are split in two by the first interaction term, a split that keeps almost
    every model's warm-start parent on its side, and fitted on two processes. The split does not
    depend on ``workers`` (one worker fits the same two halves in turn): warm starts change the
    last digits of a fit, and the same seed gives the same numbers on any number of cores.
    """
    space = ModelSpace.all_hierarchical(h.n_lists, max_order)
    if len(space) < 3000:
        return F.fit_model_set(space, h.counts)
    first = h.n_lists + 1  # column of the first two-list term
    part = space.matrix[:, first]
    idx = [np.flatnonzero(part), np.flatnonzero(~part)]
    subs = [ModelSpace(space.n_lists, space.columns, space.matrix[i]) for i in idx]
    if _default_workers(workers) < 2:
        return F.merge_model_set_fits(space, idx, [F.fit_model_set(sub, h.counts) for sub in subs])
    from cifranegra._pool import process_pool

    with process_pool(2, _mp_context()) as pool:
        fits = list(pool.map(F.fit_model_set, subs, [h.counts, h.counts]))
    return F.merge_model_set_fits(space, idx, fits)


def check_search(n_lists: int, max_order: int, select: str = "bic") -> int:
    """The number of hierarchical models the all-model search fits on ``n_lists`` lists up to
    ``max_order``, counted without listing them; an :class:`InputError` above
    :data:`MAX_ALL_MODELS`, before anything is fitted."""
    count, exact = count_hierarchical(n_lists, max_order, cap=MAX_ALL_MODELS)
    if count > MAX_ALL_MODELS:
        many = f"{count:,}" if exact else f"more than {count:,}"
        lower = ", or --max-order 2 (32,768 models)" if n_lists == 6 else ""
        raise InputError(
            f"all-model {select.upper()} on {n_lists} lists up to order {max_order} would fit {many} "
            f"hierarchical models, more than the {MAX_ALL_MODELS:,} (6 lists up to order 2) it is limited to: "
            "minutes of fitting per table and gigabytes of memory. Use --select stepwise (or --select auto, "
            f"which chooses stepwise beyond 5 lists){lower}"
        )
    return count


def _default_workers(workers: int | None) -> int:
    return min(os.cpu_count() or 1, 8) if workers is None else int(workers)


def _mp_context():  # type: ignore[no-untyped-def]
    import multiprocessing as mp

    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def select_by_criterion(
    h: CaptureHistories, max_order: int, criterion: str = "bic", table_rows: int = 200, workers: int | None = None
) -> Selected:
    res = fit_all_models(h, max_order, workers)
    crit = res.bic if criterion == "bic" else res.aic
    ok = np.flatnonzero(np.isfinite(crit))
    if ok.size == 0:
        if h.counts_by_number_of_lists().iloc[1:].sum() == 0:
            raise ModelError(
                f"no one in {h.source or 'these data'} is on more than one list: with no overlap, "
                "capture–recapture cannot estimate how many were missed (the estimate would be infinite). "
                "Link the lists again, or add a list that overlaps the others"
            )
        raise ModelError(
            f"no hierarchical model up to order {max_order} can be fitted to {h.source or 'these data'} "
            "(every one lacks an extended MLE or is not identifiable); "
            + ("try a lower --max-order, " if max_order > 1 else "")
            + "merge lists with no overlap, or use --method lcmcr"
        )
    order = ok[np.lexsort((np.arange(ok.size), crit[ok]))]
    best = int(order[0])
    model = res.space.model(best)
    fit = F.fit_one(model, h.counts)
    rows = []
    for rank, i in enumerate(order[:table_rows], start=1):
        m = res.space.model(int(i))
        rows.append(
            {
                "rank": rank,
                "model": m.notation(),
                "terms": _terms_text(m, h.lists),
                "estimate": float(res.abundance[i]),
                "bic": float(res.bic[i]),
                "aic": float(res.aic[i]),
                "deviance": float(res.deviance[i]),
                "df": int(res.df[i]),
                "n_parameters": int(res.n_parameters[i]),
                "status": 0,
            }
        )
    bad = np.flatnonzero(res.status != 0)
    excluded = [
        {
            "model": res.space.model(int(i)).notation(),
            "status": int(res.status[i]),
            "reason": STATUS_TEXT[int(res.status[i])],
        }
        for i in bad[:200]
    ]
    return Selected(model, fit.abundance, fit, rows, len(res.space), int(bad.size), excluded, [], res)


def _poisson_pvalues(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """min(P(X ≤ n), P(X ≥ n)) for X ~ Poisson(expected), as SparseMSE's stepwise uses."""
    lower = pdtr(observed, expected)
    upper = np.where(observed > 0, pdtrc(observed - 1, expected), 1.0)
    return np.minimum(lower, upper)


def select_stepwise(h: CaptureHistories, pthresh: float = 0.02, cache: F.StatusCache | None = None) -> Selected:
    """Forward selection of two-list terms by Poisson p-values (SparseMSE ``stepwisefit``).

    From the main-effects model, each step adds the pair whose overlap is least compatible with the
    current fit (smallest two-sided Poisson p-value; the first such pair on ties), among the pairs
    whose enlarged model passes the extended-MLE checks, until no p-value is below ``pthresh``.
    Checks run in p-value order and stop at the first pair that passes, which selects the same pair
    as checking every candidate.
    """
    k = h.n_lists
    cache = cache or F.StatusCache()
    counts = h.counts
    marg = F.margins(counts)
    pairs = np.array([(1 << i) | (1 << j) for i in range(k) for j in range(i + 1, k)])
    cells = np.arange(1, 2**k)
    inside = ((cells[None, :] & pairs[:, None]) == pairs[:, None]).astype(np.float64)  # pairs × cells
    model = HierarchicalModel.independence(k)
    steps: list[dict[str, Any]] = []
    fit = F.fit_one(model, counts)
    if pthresh >= 1.0:
        full = HierarchicalModel.from_generators(k, pairs.tolist())
        if cache.status(full, counts) == 0:
            model = full
            fit = F.fit_one(model, counts)
    elif pthresh > 0:
        included = np.zeros(pairs.size, dtype=bool)
        for _ in range(pairs.size):
            pv = _poisson_pvalues(marg[pairs], inside @ fit.fitted)
            pv[included] = np.inf
            chosen = -1
            for j in np.lexsort((np.arange(pairs.size), pv)):
                if pv[j] >= pthresh:
                    break
                if cache.status(model.with_term(int(pairs[j])), counts) == 0:
                    chosen = int(j)
                    break
            if chosen < 0:
                break
            included[chosen] = True
            t = int(pairs[chosen])
            model = model.with_term(t)
            fit = F.fit_one(model, counts, mu_start=fit.fitted)
            added = ":".join(h.lists[i] for i in range(k) if (t >> i) & 1)
            steps.append({"added": added, "p_value": float(pv[chosen])})
    return Selected(model, fit.abundance, fit, [_row(model, fit, h.lists)], 1, 0, [], steps)


def stepwise_tables(
    h: CaptureHistories, tables: np.ndarray, pthresh: float = 0.02, cache: F.StatusCache | None = None
) -> tuple[np.ndarray, list[str]]:
    """:func:`select_stepwise` on each row of ``tables`` (bootstrap replicates of ``h``): N̂ and the
    model chosen for each. The tables take their steps together, so each step fits every table's
    next model in one batch (:func:`fitting.fit_each`); the choices and numbers are those of one
    table at a time."""
    k = h.n_lists
    tables = np.asarray(tables)
    T = tables.shape[0]
    cache = cache or F.StatusCache()
    pairs = np.array([(1 << i) | (1 << j) for i in range(k) for j in range(i + 1, k)])
    cells = np.arange(1, 2**k)
    inside = ((cells[None, :] & pairs[:, None]) == pairs[:, None]).astype(np.float64)  # pairs × cells
    models = [HierarchicalModel.independence(k)] * T
    mu, abundance = F.fit_each(models, tables)
    if pthresh >= 1.0:
        full = HierarchicalModel.from_generators(k, pairs.tolist())
        ok = [t for t in range(T) if cache.status(full, tables[t]) == 0]
        if ok:
            mu[ok], abundance[ok] = F.fit_each([full] * len(ok), tables[ok])
            for t in ok:
                models[t] = full
    elif pthresh > 0:
        marg = [F.margins(tables[t])[pairs] for t in range(T)]
        included = np.zeros((T, pairs.size), dtype=bool)
        active = list(range(T))
        for _ in range(pairs.size):
            moved = []
            for t in active:
                pv = _poisson_pvalues(marg[t], inside @ mu[t])
                pv[included[t]] = np.inf
                for j in np.lexsort((np.arange(pairs.size), pv)):
                    if pv[j] >= pthresh:
                        break
                    if cache.status(models[t].with_term(int(pairs[j])), tables[t]) == 0:
                        included[t, j] = True
                        models[t] = models[t].with_term(int(pairs[j]))
                        moved.append(t)
                        break
            if not moved:
                break
            active = moved
            mu[active], abundance[active] = F.fit_each([models[t] for t in active], tables[active], mu[active])
    return abundance, [m.notation() for m in models]


# ---------------------------------------------------------------------- intervals
def wald_interval(h: CaptureHistories, fit: F.SingleFit, level: float) -> tuple[float, float]:
    """Normal interval on the log dark figure, shifted by the observed count (SparseMSE)."""
    if not math.isfinite(fit.intercept_se):
        raise ModelError(
            f"model {fit.model.notation()}: the information matrix is singular at the fit, so the Wald "
            "interval is not defined; use --interval profile or bootstrap"
        )
    z = ndtri(0.5 + level / 2)
    top = fit.intercept + z * fit.intercept_se
    if top > 700.0:  # exp would overflow: the standard error is too large for the interval to mean anything
        raise ModelError(
            f"model {fit.model.notation()}: the standard error of the log dark figure is so large "
            f"({fit.intercept_se:.3g}) that the Wald interval's upper end overflows; the data barely bound "
            "this model: use --interval profile or bootstrap, or a smaller model"
        )
    lo = h.observed + math.exp(fit.intercept - z * fit.intercept_se)
    hi = h.observed + math.exp(top)
    return lo, hi


def _profile_loglik(h: CaptureHistories, fit: F.SingleFit, n0: np.ndarray) -> np.ndarray:
    """Multinomial profile log-likelihood of N = n + n0 (up to a constant), for many n0 at once.

    For each n0 the model is fitted by Poisson regression to the complete table with the unobserved
    cell set to n0; the multinomial log-likelihood is −deviance/2 plus
    log(N!/N^N) − log(n0!/n0^n0) (Cormack 1992; Rcapture's closedpCI.t).
    """
    k = h.n_lists
    prep = fit.prepared
    cols = prep.model.columns
    n0 = np.atleast_1d(np.asarray(n0, dtype=float))
    B = n0.size
    Y = np.zeros((B, 2**k))
    Y[:, 1:] = h.counts[1:]
    Y[:, 0] = n0
    colmask = np.array([t in prep.estimated for t in cols])[None, :].repeat(B, axis=0)
    rowmask = np.concatenate([[True], prep.kept])[None, :].repeat(B, axis=0)
    start = np.concatenate([[max(fit.dark_figure, 1.0)], np.where(fit.fitted > 0, fit.fitted, 0.1)])
    start = np.where(rowmask, start[None, :], 1.0)
    start[:, 0] = np.maximum(n0, 0.5)
    res = F.fit_batch(k, cols, Y, colmask, rowmask, mu_start=start, zero_cell=True)
    N = h.observed + n0
    with np.errstate(divide="ignore", invalid="ignore"):
        n0logn0 = np.where(n0 > 0, n0 * np.log(np.where(n0 > 0, n0, 1.0)), 0.0)
    ct = gammaln(N + 1) - N * np.log(N) - gammaln(n0 + 1) + n0logn0
    return -res.deviance / 2.0 + ct


def profile_interval(h: CaptureHistories, fit: F.SingleFit, level: float) -> tuple[float, float, float]:
    """Profile-likelihood interval for N (and the multinomial MLE of N), as Rcapture's closedpCI.t."""
    n = h.observed
    from scipy import optimize  # only a profile interval needs it

    crit = 2 * gammaincinv(0.5, level) / 2.0  # chi2.ppf(level, 1) / 2, as scipy.stats computes it
    m0 = max(fit.dark_figure, 1e-9)
    var_b0 = fit.intercept_se**2 if math.isfinite(fit.intercept_se) else 1.0  # only sizes the first grid
    se = math.sqrt(max(m0 + m0 * m0 * var_b0, 1.0))
    top = m0 + 8 * se + 10
    grid = np.unique(np.concatenate([np.linspace(0, top, 161), [m0]]))
    ll = _profile_loglik(h, fit, grid)
    while ll[-1] > ll.max() - crit - 1 and top < 1e12:
        top *= 4
        grid = np.unique(np.concatenate([grid, np.linspace(grid[-1], top, 81)]))
        ll = _profile_loglik(h, fit, grid)
    if not np.all(np.isfinite(ll)):
        raise ModelError("the profile likelihood could not be evaluated for this model; use --interval bootstrap")
    i = int(np.argmax(ll))

    def f1(x: float) -> float:
        return float(_profile_loglik(h, fit, np.array([x]))[0])

    lo_b, hi_b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    if hi_b > lo_b:
        opt = optimize.minimize_scalar(
            lambda x: -f1(x), bounds=(lo_b, hi_b), method="bounded", options={"xatol": 1e-6 * max(1.0, hi_b)}
        )
        x_max, l_max = float(opt.x), -float(opt.fun)
        if ll[i] > l_max:
            x_max, l_max = float(grid[i]), float(ll[i])
    else:
        x_max, l_max = float(grid[i]), float(ll[i])
    target = l_max - crit

    def g(x: float) -> float:
        return f1(x) - target

    below = np.flatnonzero((grid < x_max) & (ll < target))
    if below.size == 0:
        lower = float(n)  # the likelihood stays within the cut down to n0 = 0 (as Rcapture reports)
    else:
        a = float(grid[below[-1]])
        lower = n + optimize.brentq(g, a, x_max, xtol=1e-6)
    above = np.flatnonzero((grid > x_max) & (ll < target))
    if above.size == 0:
        upper = math.inf
    else:
        b = float(grid[above[0]])
        upper = n + optimize.brentq(g, x_max, b, xtol=1e-6)
    return lower, upper, n + x_max


# ---------------------------------------------------------------------- bootstrap
def bootstrap(
    h: CaptureHistories,
    *,
    select: str,
    chosen: Selected,
    max_order: int,
    pthresh: float,
    n_boot: int,
    ntop: int | None,
    seed: np.random.SeedSequence,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Bootstrap replicates of N̂ with the model re-selected in each, and the jackknife acceleration.

    Replicates resample the observed people (multinomial on the observed patterns); the jackknife
    removes one person from each observed pattern in turn, weighting by the pattern's count
    (Silverman, Chan & Vincent 2024). Tables are drawn in this process from ``seed``, so the numbers
    do not depend on ``workers``.
    """
    rng = np.random.default_rng(seed)
    counts = h.counts
    n = int(counts.sum())
    probs = counts / n
    tables = rng.multinomial(n, probs, size=n_boot)
    pos = np.flatnonzero(counts > 0)
    jack = np.repeat(counts[None, :], pos.size, axis=0)
    jack[np.arange(pos.size), pos] -= 1
    all_tables = np.vstack([tables, jack])
    job, kept = _selection_job(h, select, chosen, max_order, pthresh, ntop)
    info: dict[str, Any] = {"ntop": kept}
    estimates, labels = _run_jobs(h, all_tables, job, workers, progress)
    reps = estimates[:n_boot]
    jack_est = estimates[n_boot:]
    w = counts[pos].astype(float)
    if np.all(np.isfinite(jack_est)):
        jmean = float(np.sum(w * jack_est) / w.sum())
        d = jmean - jack_est
        denom = float(np.sum(w * d**2))
        accel = float(np.sum(w * d**3) / (6.0 * denom**1.5)) if denom > 0 else 0.0
    else:
        accel = 0.0
    info.update(replicates=reps, acceleration=accel, models_selected=_model_shares(labels[:n_boot]))
    return info


def _model_shares(labels: list[str]) -> list[dict[str, Any]]:
    """The ten models most often selected in the replicates, with their shares."""
    uniq, cnt = np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True)
    top = sorted(zip(uniq.tolist(), cnt.tolist(), strict=True), key=lambda x: -x[1])[:10]
    return [{"model": m, "share": c / max(len(labels), 1)} for m, c in top]


def _selection_job(
    h: CaptureHistories, select: str, chosen: Selected, max_order: int, pthresh: float, ntop: int | None
) -> tuple[tuple[Any, ...], int | None]:
    """What a replicate table is put through: the fixed model, the original data's ``ntop`` best
    BIC/AIC models (as MultipleSystemsEstimation), or the whole stepwise selection; and how many
    models were kept (None unless BIC/AIC)."""
    if select == "fixed":
        return ("models", ModelSpace.from_models([chosen.model]), "bic", None), None
    if select in ("bic", "aic"):
        full = chosen.all_fits if chosen.all_fits is not None else fit_all_models(h, max_order)
        crit_vals = full.bic if select == "bic" else full.aic
        ok = np.flatnonzero(np.isfinite(crit_vals))
        order = ok[np.lexsort((np.arange(ok.size), crit_vals[ok]))]
        keep = order if ntop is None else order[:ntop]
        space = ModelSpace(h.n_lists, full.space.columns, full.space.matrix[keep])
        mu0 = np.vstack([F.fit_one(space.model(i), h.counts).fitted for i in range(len(space))])
        return ("models", space, select, mu0), int(keep.size)
    return ("stepwise", None, None, pthresh), None


def parametric_bootstrap(
    h: CaptureHistories,
    *,
    select: str,
    chosen: Selected,
    max_order: int,
    pthresh: float,
    n_boot: int,
    ntop: int | None,
    seed: np.random.SeedSequence,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Parametric bootstrap from the fitted model, the unseen count included.

    Each replicate is a complete population of round(N̂) people drawn from the fitted model's cell
    probabilities over all 2^K patterns, the unobserved one included (multinomial; Buckland &
    Garthwaite 1991). Its observed part is put through the same selection as
    the data (the fixed model, the original data's ``ntop`` best BIC/AIC models, or the whole stepwise
    search), so the replicates carry the variation of the unseen count, of the observed table and of
    the selection. Returns the replicate estimates N̂*, the unseen count of each replicate population
    and its size (for the pivot interval), the failed replicates and the models selected.
    """
    rng = np.random.default_rng(seed)
    mu = np.concatenate([[chosen.fit.dark_figure], np.asarray(chosen.fit.fitted, dtype=float)])
    mu = np.where(np.isfinite(mu) & (mu > 0), mu, 0.0)
    total = max(round(float(mu.sum())), h.observed)
    complete = rng.multinomial(total, mu / mu.sum(), size=n_boot)
    unseen = complete[:, 0].copy()
    tables = complete
    tables[:, 0] = 0
    job, kept = _selection_job(h, select, chosen, max_order, pthresh, ntop)
    estimates, labels = _run_jobs(h, tables, job, workers, progress)
    return {
        "replicates": estimates,
        "unseen": unseen,
        "population": total,
        "ntop": kept,
        "models_selected": _model_shares(labels),
    }


PARAMETRIC_INTERVALS = ("pivot", "percentile", "lognormal")


def _quantiles(x: np.ndarray, probs: tuple[float, float]) -> tuple[float, float]:
    """Quantiles as numpy's default (R's type 7), +∞ values allowed: a quantile that interpolates
    towards +∞ is +∞."""
    srt = np.sort(np.asarray(x, dtype=float))
    out = []
    for q in probs:
        h = (srt.size - 1) * q
        j = math.floor(h)
        g = h - j
        a, b = srt[j], srt[min(j + 1, srt.size - 1)]
        out.append(float(a) if g == 0 or a == b else float(a + g * (b - a)) if math.isfinite(b) else math.inf)
    return out[0], out[1]


def parametric_interval(
    replicates: np.ndarray,
    unseen: np.ndarray,
    population: int,
    observed: int,
    estimate: float,
    level: float,
    kind: str = "pivot",
) -> tuple[float, float]:
    """An interval for N from parametric-bootstrap replicates.

    A failed replicate (no usable model: no finite MLE) is not left out but counts as an unbounded
    estimate: an infinite upper end for ``percentile`` and ``lognormal`` when there are enough of
    them, and for ``pivot`` an unbounded over-estimate, which lowers the lower end.

    * ``pivot``: the distribution of log((N̂* − n*) / (N* − n*)) — the estimated over the true unseen
      count of the replicate population (each + ½) — stands in for that of log(f̂0 / f0), which is
      inverted: f0 = f̂0 / ratio. It carries the unseen count's variation and its skew, and never
      goes below the observed count.
    * ``percentile``: the quantiles of N̂* (Buckland & Garthwaite 1991).
    * ``lognormal``: Chao's (1987) log-normal interval n + f̂0/C … n + f̂0·C,
      C = exp(z·√log(1 + var(N̂*)/f̂0²)), with the bootstrap variance.
    """
    reps = np.where(np.isfinite(replicates), np.asarray(replicates, dtype=float), np.inf)
    a = (1 - level) / 2
    f0 = max(estimate - observed, 0.0)
    if kind == "percentile":
        lo, hi = _quantiles(reps, (a, 1 - a))
        return lo, hi
    if kind == "lognormal":
        finite = reps[np.isfinite(reps)]
        if finite.size < reps.size or finite.size < 2:
            return observed + 0.0, math.inf
        if f0 <= 0:
            return float(observed), float(observed)
        c = math.exp(float(ndtri(1 - a)) * math.sqrt(math.log1p(float(np.var(finite, ddof=1)) / f0**2)))
        return observed + f0 / c, observed + f0 * c
    if kind != "pivot":
        raise InputError(f"parametric interval must be one of {', '.join(PARAMETRIC_INTERVALS)}, got {kind!r}")
    seen = population - np.asarray(unseen, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = np.log(np.maximum(reps - seen, 0.0) + 0.5) - np.log(np.asarray(unseen, dtype=float) + 0.5)
    q_lo, q_hi = _quantiles(ratio, (a, 1 - a))
    lower = observed + max((f0 + 0.5) * math.exp(-float(q_hi)) - 0.5, 0.0) if math.isfinite(q_hi) else observed
    upper = observed + max((f0 + 0.5) * math.exp(-float(q_lo)) - 0.5, 0.0) if math.isfinite(q_lo) else math.inf
    return float(lower), float(upper)


#: the existence-check cache of the bootstrap under way in this process, with its token: chunks of
#: one bootstrap share it, in the main process and in each worker (a new bootstrap gets a new token;
#: the pair is read and replaced whole, so a bootstrap never gets another one's cache)
_chunk_cache: tuple[tuple[int, int] | None, F.StatusCache | None] = (None, None)
_TOKENS = itertools.count()


def _cache_for(token: tuple[int, int] | None) -> F.StatusCache:
    global _chunk_cache
    if token is None:
        return F.StatusCache()
    held, cache = _chunk_cache
    if held != token or cache is None:
        cache = F.StatusCache()
        _chunk_cache = (token, cache)
    return cache


def _drop_cache() -> None:
    global _chunk_cache
    _chunk_cache = (None, None)


def _evaluate_chunk(
    h: CaptureHistories, tables: np.ndarray, job: tuple[Any, ...], token: tuple[int, int] | None = None
) -> tuple[np.ndarray, list[str]]:
    kind = job[0]
    cache = _cache_for(token)
    if kind == "models":
        _, space, crit, mu0 = job
        res = F.fit_tables(space, tables, mu_start=mu0, cache=cache)
        vals = res.bic if crit == "bic" else res.aic
        est = np.full(tables.shape[0], np.nan)
        labels: list[str] = [""] * tables.shape[0]
        for t in range(tables.shape[0]):
            row = vals[t]
            ok = np.flatnonzero(np.isfinite(row))
            if ok.size:
                j = int(ok[np.argmin(row[ok])])
                est[t] = res.abundance[t, j]
                labels[t] = space.model(j).notation()
        return est, labels
    pthresh = job[3]
    try:
        return stepwise_tables(h, tables, pthresh, cache=cache)
    except (ModelError, np.linalg.LinAlgError, FloatingPointError):
        pass  # one table at a time, leaving out those that fail
    est = np.full(tables.shape[0], np.nan)
    labels = [""] * tables.shape[0]
    for t in range(tables.shape[0]):
        try:
            hh = h.with_counts(tables[t])
            sel = select_stepwise(hh, pthresh, cache=cache)
            est[t] = sel.abundance
            labels[t] = sel.model.notation()
        except (ModelError, np.linalg.LinAlgError, FloatingPointError):
            pass
    return est, labels


def _run_jobs(
    h: CaptureHistories,
    tables: np.ndarray,
    job: tuple[Any, ...],
    workers: int | None,
    progress: ProgressFn | None,
) -> tuple[np.ndarray, list[str]]:
    """Evaluate the tables in chunks, on ``workers`` processes (default: all cores).

    Each distinct table is evaluated once (small strata resample the same few people, so most
    replicates repeat an earlier one) and the results are put back in the tables' order; the
    existence checks are shared by the chunks a process evaluates. Neither changes a number: an
    evaluation depends on its table only.
    """
    T = tables.shape[0]
    distinct, where = np.unique(tables, axis=0, return_inverse=True)
    where = np.asarray(where).reshape(-1)
    U = distinct.shape[0]
    workers = _default_workers(workers)
    n_chunks = max(1, min(U, 4 * workers if workers > 1 else 1))
    if job[0] == "stepwise":
        n_chunks = max(n_chunks, min(U, 20))
    bounds = np.linspace(0, U, n_chunks + 1).astype(int)
    chunks = [distinct[bounds[i] : bounds[i + 1]] for i in range(n_chunks) if bounds[i + 1] > bounds[i]]
    token = (os.getpid(), next(_TOKENS))
    results: list[tuple[np.ndarray, list[str]]] = []
    done = 0
    if workers > 1 and len(chunks) > 1:
        from cifranegra._pool import process_pool

        with process_pool(workers, _mp_context()) as pool:
            futures = [pool.submit(_evaluate_chunk, h, c, job, token) for c in chunks]
            for fut, c in zip(futures, chunks, strict=True):
                results.append(fut.result())
                done += c.shape[0]
                if progress:
                    progress(done * T // U, T)
    else:
        try:
            for c in chunks:
                results.append(_evaluate_chunk(h, c, job, token))
                done += c.shape[0]
                if progress:
                    progress(done * T // U, T)
        finally:
            _drop_cache()
    est = np.concatenate([r[0] for r in results])
    labels = [x for r in results for x in r[1]]
    return est[where], [labels[i] for i in where]
