"""Bayesian model averaging over decomposable graphical models (Madigan & York 1997, Biometrika
84(1)).

Each decomposable graph on the K lists is a log-linear model whose complete 2^K table has a
hyper-Dirichlet prior (Dawid & Lauritzen 1993) with ``delta`` prior counts per cell (the marginal
table of a clique of size c gets ``delta * 2^(K-c)`` per cell, so the marginals are consistent). The
marginal likelihood of the complete table, for each candidate number never seen, is closed form;
with a prior on N (``1/N`` by default, as R ``dga``; Rissanen's universal prior or flat as options)
and a uniform prior over graphs, the joint posterior over (graph, N) is computed exactly on a grid
of N and summed either way: the posterior of N averaged over models, and the posterior weight of
each model. Same formulas as R ``dga::bma.cr`` (Johndrow, Lum & Ball), so results agree with it;
unlike R
``dga`` (3–5 lists) this enumerates the decomposable graphs up to 7 lists (:mod:`.graphs`).

Deterministic: no seed. Cost: the number of graphs (8, 61, 822, 18,154, 617,675 for 3–7 lists)
times 2K times the grid length; the grid is sized so that a fit takes about a second or less up to
six lists and a few seconds with seven. The sum over graphs is plain numpy (a matrix product per
chunk of graphs), and graphs up to 5 lists are enumerated in plain Python, so a dga fit on 3–5 lists
never imports numba (a whole ``cifranegra estimate --method dga`` process pays no compiler).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from cifranegra.errors import InputError
from cifranegra.estimation import specs
from cifranegra.estimation._special import lgamma as gammaln  # scipy.special's import costs 0.1 s
from cifranegra.estimation.diagnostics import require_usable
from cifranegra.estimation.graphs import MAX_LISTS, cliques, decomposable_graphs, edge_names
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.result import EstimateResult, Interval
from cifranegra.estimation.wording import option

_PRIORS = ("1/N", "rissanen", "uniform")
_EXTRA_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)
_RISSANEN_C0 = 2.865064


def rissanen_log_prior(n: np.ndarray) -> np.ndarray:
    """Natural log of Rissanen's (1983) universal prior on the positive integers, unnormalized:
    ``2^{-log*(n)}`` with ``log*(n) = log2(n) + log2(log2(n)) + ...`` (positive terms only)."""
    n = np.asarray(n, dtype=float)
    total = np.full(n.shape, math.log2(_RISSANEN_C0))
    term = np.log2(np.maximum(n, 1.0))
    while np.any(term > 0):
        total += np.where(term > 0, term, 0.0)
        term = np.where(term > 0, np.log2(np.maximum(term, 1e-300)), 0.0)
    return -total * math.log(2.0)


def _average(ml: np.ndarray, fam: np.ndarray, par: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-graph log evidence (log-sum over the grid) and the model-averaged posterior on the grid
    (up to one constant). ``ml[s, j]`` is the log marginal likelihood of list subset ``s``.

    Each graph's log posterior row is ``base + Σ_i ml[fam_i] - ml[par_i]``, written as a product of
    a (graphs × subsets) matrix of +1/-1 coefficients with ``ml``, in chunks of graphs; the sum
    over graphs is kept on a running scale, so no row is held twice.
    """
    n_graphs = fam.shape[0]
    n_sets = ml.shape[0]
    chunk = max(1, int(4_000_000 // max(ml.shape[1], n_sets)))
    graph_lse = np.empty(n_graphs)
    post = np.zeros(ml.shape[1])
    scale = -np.inf
    rows_idx = np.arange(min(chunk, n_graphs))[:, None]
    for lo in range(0, n_graphs, chunk):
        f, p = fam[lo : lo + chunk], par[lo : lo + chunk]
        coef = np.zeros((f.shape[0], n_sets))
        idx = rows_idx[: f.shape[0]]
        np.add.at(coef, (np.broadcast_to(idx, f.shape), f), 1.0)
        np.add.at(coef, (np.broadcast_to(idx, p.shape), p), -1.0)
        coef[:, 0] = 0.0  # subset 0 (no list) has ml 0
        rows = coef @ ml + base
        top = rows.max(axis=1)
        ex = np.exp(rows - top[:, None])
        graph_lse[lo : lo + f.shape[0]] = top + np.log(ex.sum(axis=1))
        m = float(top.max())
        if m > scale:
            post *= math.exp(scale - m) if np.isfinite(scale) else 0.0
            scale = m
        post += (ex * np.exp(top - scale)[:, None]).sum(axis=0)
    return graph_lse, post


def _marginal_ml(counts: np.ndarray, k: int, delta: float, missing: np.ndarray) -> np.ndarray:
    """Log marginal likelihood of each list subset's marginal table, for each number missing.

    Row ``s`` (a bit mask of lists) holds the hyper-Dirichlet marginal likelihood of the marginal
    table over the lists in ``s``, with the all-zero cell increased by the number missing; row 0 is
    0.
    """
    masks = np.arange(2**k)
    m_obs = float(counts.sum())
    a_total = delta * 2**k
    norm = gammaln(a_total) - gammaln(m_obs + missing + a_total)
    out = np.zeros((2**k, missing.size))
    for s in range(1, 2**k):
        size = bin(s).count("1")
        a = delta * 2 ** (k - size)
        marg = np.bincount(masks & s, weights=counts, minlength=2**k)
        cells = marg[[c for c in range(2**k) if (c & ~s) == 0]]  # cells of this marginal, cell 0 first
        const = float(np.sum(gammaln(cells[1:] + a))) - cells.size * float(gammaln(a))
        out[s] = const + gammaln(cells[0] + missing + a) + norm
    return out


@dataclass(frozen=True)
class DGA:
    """Decomposable-graph model averaging (Madigan & York 1997; R ``dga``).

    Settings: ``delta`` hyper-Dirichlet prior count per cell (default ``2^-K`` as R dga recommends),
    ``prior`` on N (``"1/N"``, ``"rissanen"``, ``"uniform"``), ``max_n`` the grid's upper end for N
    (default: grown from 10× the observed count until under 10^-4 of the mass lies in its top
    tenth),
    ``grid_points`` (default: sized by the number of graphs), ``level`` of the reported interval,
    ``top_models`` how many models to list in the result.
    """

    min_lists: ClassVar[int] = 3
    max_lists: ClassVar[int] = MAX_LISTS
    lists_limit_reason: ClassVar[str] = (
        "it enumerates every decomposable graph on the lists: 617,675 graphs at 7 lists, "
        "30.9 million at 8 (gigabytes, and hours)"
    )

    delta: float | None = None
    prior: str = "1/N"
    max_n: int | None = None
    grid_points: int | None = None
    level: float = 0.95
    top_models: int = 10

    def __post_init__(self) -> None:
        specs.raise_problems(
            specs.positive("delta", self.delta, optional=True, what="prior count per cell"),
            specs.choice("prior", self.prior, _PRIORS),
            specs.whole("max_n", self.max_n, 1, optional=True),
            specs.whole("grid_points", self.grid_points, 10, optional=True),
            specs.level("level", self.level),
            specs.whole("top_models", self.top_models, 1),
        )

    def settings(self, k: int) -> dict[str, Any]:
        return {
            "delta": self.delta if self.delta is not None else 2.0**-k,
            "prior": self.prior,
            "max_n": self.max_n,
            "grid_points": self.grid_points,
            "level": self.level,
            "graph_prior": "uniform over decomposable graphs",
        }

    # ------------------------------------------------------------------ core computation
    def posterior(self, histories: CaptureHistories) -> dict[str, Any]:
        """The model-averaged posterior of N on a grid and the posterior weight of every graph."""
        require_usable(
            histories,
            "dga",
            min_lists=3,
            max_lists=MAX_LISTS,
            alternatives="with 2 lists use 'chapman' or 'petersen'",
            too_many="use --method lcmcr or log-linear stepwise selection, or merge lists down to 7",
        )
        k = histories.n_lists
        delta = self.delta if self.delta is not None else 2.0**-k
        fam, par, edges = decomposable_graphs(k)
        counts = histories.counts.astype(float)
        m_obs = histories.observed
        budget = 4e7  # graph-steps x grid points per pass: well under a second compiled

        def run(
            lo: int, hi: int, points: int, fam_: np.ndarray, par_: np.ndarray
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            step = max(1, math.ceil((hi - lo) / points))
            missing = np.arange(lo, hi + 1, step, dtype=float)
            n_tot = missing + m_obs
            base = gammaln(n_tot + 1) - gammaln(missing + 1) - float(np.sum(gammaln(counts[1:] + 1)))
            if self.prior == "1/N":
                base = base - np.log(n_tot)
            elif self.prior == "rissanen":
                base = base + rissanen_log_prior(n_tot)
            ml = _marginal_ml(counts, k, delta, missing)
            lse, post = _average(ml, fam_, par_, base)
            return missing, lse, post

        fam64, par64 = fam.astype(np.int64), par.astype(np.int64)
        coarse = self.grid_points or int(min(2000, max(128, budget / (len(edges) * 2 * k))))
        hi = int(self.max_n - m_obs) if self.max_n else 10 * m_obs
        if hi < 1:
            raise InputError(f"max_n must exceed the observed count {m_obs}")
        tail = 1.0
        grows = 0
        while True:
            missing, lse, post = run(0, hi, coarse, fam64, par64)
            p = post / post.sum()
            tail = float(p[missing >= 0.9 * hi].sum())
            if self.max_n or tail < 1e-4 or grows >= 4:
                break
            hi *= 2
            grows += 1
        # refine: the grid over the region that holds the mass, the graphs that hold the mass (a
        # graph more than e^60 below the best one cannot move any reported figure)
        keep = np.flatnonzero(lse > lse.max() - 60.0)
        cdf = np.cumsum(p)
        lo_i = int(np.searchsorted(cdf, 1e-7))
        hi_i = min(int(np.searchsorted(cdf, 1 - 1e-7)) + 1, missing.size - 1)
        lo_r, hi_r = int(missing[max(lo_i - 1, 0)]), int(missing[hi_i])
        fine = self.grid_points or int(min(20000, max(400, budget / (keep.size * 2 * k))))
        if missing.size > 1 and missing[1] - missing[0] > 1 and hi_r > lo_r:
            missing, lse_keep, post = run(lo_r, hi_r, fine, fam64[keep], par64[keep])
            p = post / post.sum()
            lse = np.full(len(edges), -np.inf)
            lse[keep] = lse_keep
        weights = np.exp(lse - lse.max())
        weights /= weights.sum()
        return {
            "n": missing + m_obs,
            "probability": p,
            "model_weights": weights,
            "edges": edges,
            "tail_mass": tail,
            "delta": delta,
            "step": float(missing[1] - missing[0]) if missing.size > 1 else 1.0,
            "graphs_refined": int(keep.size),
        }

    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult:
        t0 = time.perf_counter()
        post = self.posterior(histories)
        n, p = post["n"], post["probability"]
        cdf = np.cumsum(p)

        def q(prob: float) -> float:
            return float(n[min(int(np.searchsorted(cdf, prob - 1e-12)), n.size - 1)])

        median = q(0.5)
        levels = [self.level, *[lv for lv in _EXTRA_LEVELS if abs(lv - self.level) > 1e-12]]
        intervals = tuple(Interval(q((1 - lv) / 2), q(1 - (1 - lv) / 2), lv, "posterior") for lv in levels)
        k = histories.n_lists
        lists = histories.lists
        w = post["model_weights"]
        order = np.argsort(-w)[: self.top_models]
        models = []
        for rank, g in enumerate(order, 1):
            em = int(post["edges"][g])
            cl = cliques(em, k)
            models.append(
                {
                    "rank": rank,
                    "model": "".join("[" + ",".join(lists[i] for i in sorted(c)) + "]" for c in cl),
                    "edges": edge_names(em, lists),
                    "posterior_probability": float(w[g]),
                }
            )
        warnings_: list[str] = []
        if post["tail_mass"] >= 1e-4:
            warnings_.append(
                f"{post['tail_mass']:.2g} of the posterior mass of N lies in the top tenth of the "
                f"grid (N up to {int(n[-1])}); the posterior is heavy-tailed and the estimate "
                "depends on where the "
                f"grid stops: set {option('max_n')}, or prefer a method with more structure"
            )
        mean = float(np.sum(n * p))
        diagnostics: dict[str, Any] = {
            "grid_min": float(n[0]),
            "grid_max": float(n[-1]),
            "grid_step": post["step"],
            "grid_points": int(n.size),
            "tail_mass": post["tail_mass"],
            "n_graphs": len(w),
            "graphs_refined": post["graphs_refined"],
        }
        if median <= histories.observed:
            info = _at_observed(histories, models[0], float(p[0]), self.delta is None)
            diagnostics["at_observed_count"] = info
            warnings_.insert(0, info["reason"] + "; " + info["advice"])
        if all(iv.upper <= iv.lower for iv in intervals[:1]):
            diagnostics["interval_unavailable"] = (
                f"the posterior of N sits on one grid point ({intervals[0].lower:,.0f}): no interval to report"
            )
            intervals = ()
        diagnostics["elapsed_s"] = time.perf_counter() - t0
        return EstimateResult(
            method="dga",
            estimate=median,
            observed=histories.observed,
            lists=lists,
            model=f"average over {len(w)} decomposable graphs (top: {models[0]['model']})",
            intervals=intervals,
            settings=self.settings(k),
            diagnostics=diagnostics,
            details={
                "posterior_mean": mean,
                "posterior_mode": float(n[int(np.argmax(p))]),
                "top_model_probability": float(w[order[0]]),
                "models": models,
            },
            input_fingerprint=histories.fingerprint(),
            warnings=tuple(warnings_),
        )


def _at_observed(
    histories: CaptureHistories, top: dict[str, Any], mass_at_observed: float, default_delta: bool
) -> dict[str, Any]:
    """Why the posterior median of N is the observed count, and what to try instead."""
    k = histories.n_lists
    m = histories.observed
    complete = len(top["edges"]) == k * (k - 1) // 2
    if complete:
        reason = (
            f"the posterior median of N is the observed count {m:,}: the data put "
            f"{top['posterior_probability']:.0%} of the posterior weight on the complete graph {top['model']} "
            "(every pair of lists dependent, the saturated model), under which the data say nothing about "
            "the people no list saw, so the posterior of N is what the prior on the unseen cell makes it "
            f"({'delta = 2^-K, ' if default_delta else ''}{mass_at_observed:.0%} of the mass at no one missed)"
        )
    else:
        reason = (
            f"the posterior median of N is the observed count {m:,}: {mass_at_observed:.0%} of the "
            "posterior mass says no one was missed"
        )
    advice = (
        "do not report it as an estimate: the prior decides it (--delta and --prior move it, the data do "
        "not; delta= and prior= in Python), so use a family that models the dependence with fewer "
        "parameters: --method loglinear, lcmcr or sample-coverage (or `cifranegra compare`), or add a list"
    )
    return {"reason": reason, "advice": advice, "complete_graph": complete, "top_model": top["model"]}
