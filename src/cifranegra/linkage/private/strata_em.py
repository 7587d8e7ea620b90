"""A label-free Fellegi–Sunter model of encoded record pairs: the Dice score in levels and agreement
on strata carried in the clear, fitted by EM.

An encoding leaves one comparison, the Dice score, and a two-component mixture on that score alone
is fragile: the non-matches' upper tail (similar names, shared birth years) looks like a component
of its own, and on lists compared pair by pair EM ends in that tail. Agreement on strata that the
hub holds anyway (state, form of exploitation) is a second and third comparison, and with three
comparisons that are independent given match status the two-class model is identified (Goodman
1974, Biometrika 61): the share of pairs in a Dice level that agree on the state tells how many of
them are matches, because matches agree far more often than non-matches do. This is the EM of
Winkler (1988, "Using the EM algorithm for weight computation in the Fellegi–Sunter model of record
linkage", Proc. Section on Survey Research Methods, ASA), with the Dice score cut into levels of
``width`` and a level for everything below ``floor``, unknown values counting as missing. Pairs
below ``floor`` are held to be non-matches (their class is fixed, not estimated): they are almost
all pairs, so they pin u, and without that anchor EM can explain a weak association of the strata
among non-matches by a second class of agreeing pairs far below any match's score (seen on the
simulator's lists: a "match" class of 0.4% of all pairs, ten times the true matches).

The fit runs on the aggregated patterns (level × agreement of each column), so its cost does not
grow with the pairs. Its output: the posterior log-odds of a match given the Dice score alone
(monotone in the score), and m = P(agree | match), u = P(agree | non-match) per column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Log-odds are kept within this bound (probabilities 1e-13 .. 1 - 1e-13).
_MAX_LOG_ODDS = 30.0
_SMOOTH = 1e-9  # pseudo-share added to every level and agreement count (no log of zero)


@dataclass(frozen=True)
class StratumAgreement:
    """How agreement on one clear stratum weighs in the linkage: ``m`` = P(agree | match), ``u`` =
    P(agree | non-match), both among pairs whose two values are known; ``known_pairs`` = the
    (weighted) number of candidate pairs with both values known."""

    column: str
    m: float
    u: float
    known_pairs: float

    @property
    def agree(self) -> float:
        """Log-odds added when the two records agree."""
        return float(np.log(self.m / self.u))

    @property
    def disagree(self) -> float:
        """Log-odds added when they disagree."""
        return float(np.log((1.0 - self.m) / (1.0 - self.u)))

    def to_dict(self) -> dict[str, object]:
        return {"column": self.column, "m": round(self.m, 4), "u": round(self.u, 4),
                "known_pairs": round(self.known_pairs), "log_odds_agree": round(self.agree, 3),
                "log_odds_disagree": round(self.disagree, 3)}


@dataclass(frozen=True)
class StrataModel:
    """The fitted model (see the module docstring). ``centers``/``log_odds``: the posterior log-odds
    of a match given the Dice score alone at each level's centre (levels at or above ``floor``),
    made nondecreasing; between centres it is interpolated linearly."""

    floor: float
    centers: np.ndarray
    log_odds: np.ndarray
    agreements: tuple[StratumAgreement, ...]
    match_share: float
    iterations: int
    converged: bool

    def dice_log_odds(self, dice: np.ndarray) -> np.ndarray:
        """Posterior log-odds of a match given the Dice score alone."""
        return np.interp(np.asarray(dice, dtype=np.float64), self.centers, self.log_odds)

    def dice_for(self, log_odds: np.ndarray) -> np.ndarray:
        """The Dice score whose log-odds alone are ``log_odds`` (the inverse; clipped to the levels)."""
        ramp = self.log_odds + 1e-9 * np.arange(len(self.log_odds))  # strictly increasing for np.interp
        return np.interp(np.asarray(log_odds, dtype=np.float64), ramp, self.centers)

    def strata_log_odds(self, agree: dict[str, np.ndarray]) -> np.ndarray:
        """Summed strata evidence per pair; ``agree[column]`` per pair: 1 agree, 0 disagree, -1 unknown."""
        total: np.ndarray | None = None
        for ag in self.agreements:
            col = agree[ag.column]
            part = np.where(col == 1, ag.agree, np.where(col == 0, ag.disagree, 0.0))
            total = part if total is None else total + part
        return np.zeros(0) if total is None else total

    def report(self) -> dict[str, object]:
        return {"match_share": float(self.match_share), "iterations": self.iterations, "converged": self.converged,
                "floor": round(self.floor, 4), "strata": [a.to_dict() for a in self.agreements]}


def fit_strata_model(
    dice: np.ndarray,
    agree: np.ndarray,
    weights: np.ndarray,
    columns: Sequence[str],
    *,
    floor: float,
    threshold: float,
    width: float = 0.02,
    max_iter: int = 500,
    tol: float = 1e-10,
) -> StrataModel | None:
    """Fit the two-class model to pairs with Dice ``dice``, strata agreement ``agree`` (pairs ×
    columns: 1, 0 or -1 for unknown) and ``weights`` (a pair may stand for many: the background
    sample below ``floor``). EM starts from the split at ``threshold``. Returns None when no column
    is informative at the fit (agreement not more frequent among matches, m ≤ u), or when the fit
    finds no matches: the caller then links on the Dice score alone."""
    dice = np.asarray(dice, dtype=np.float64)
    agree = np.asarray(agree, dtype=np.int64).reshape(len(dice), len(columns))
    weights = np.asarray(weights, dtype=np.float64)
    n_cols = len(columns)
    if len(dice) == 0 or n_cols == 0:
        return None
    edges = np.concatenate([[0.0], np.arange(floor, 1.0, width), [np.inf]])
    n_levels = len(edges) - 1
    level = np.clip(np.searchsorted(edges, dice, side="right") - 1, 0, n_levels - 1)
    # aggregate: one row per (level, agreement of each column)
    key = level.copy()
    for c in range(n_cols):
        key = key * 3 + (agree[:, c] + 1)
    uniq, inverse = np.unique(key, return_inverse=True)
    w = np.bincount(inverse, weights=weights)
    pat_level = uniq.copy()
    pat_agree = np.empty((len(uniq), n_cols), dtype=np.int64)
    for c in range(n_cols - 1, -1, -1):
        pat_agree[:, c] = pat_level % 3 - 1
        pat_level //= 3
    centers_all = np.append((edges[:-2] + edges[1:-1]) / 2.0, (edges[-2] + 1.0) / 2.0)
    r = (centers_all[pat_level] >= threshold).astype(np.float64)  # start: the threshold's split
    below = pat_level == 0
    total = w.sum()
    loglik_old = -np.inf
    converged = False
    iterations = 0
    m_lvl = u_lvl = np.full(n_levels, 1.0 / n_levels)
    m_c = np.full(n_cols, 0.9)
    u_c = np.full(n_cols, 0.1)
    pi = 0.5
    while iterations < max_iter:
        iterations += 1
        wr, wn = w * r, w * (1.0 - r)
        pi = float(np.clip(wr.sum() / total, 1e-12, 1.0 - 1e-12))
        m_lvl = np.bincount(pat_level, weights=wr, minlength=n_levels) + _SMOOTH * total
        u_lvl = np.bincount(pat_level, weights=wn, minlength=n_levels) + _SMOOTH * total
        m_lvl, u_lvl = m_lvl / m_lvl.sum(), u_lvl / u_lvl.sum()
        for c in range(n_cols):
            known = pat_agree[:, c] >= 0
            yes = pat_agree[:, c] == 1
            m_c[c] = (wr[yes].sum() + _SMOOTH) / (wr[known].sum() + 2 * _SMOOTH)
            u_c[c] = (wn[yes].sum() + _SMOOTH) / (wn[known].sum() + 2 * _SMOOTH)
        m_c = np.clip(m_c, 1e-6, 1.0 - 1e-6)
        u_c = np.clip(u_c, 1e-6, 1.0 - 1e-6)
        log_m = np.log(m_lvl[pat_level]) + np.log(pi)
        log_u = np.log(u_lvl[pat_level]) + np.log1p(-pi)
        for c in range(n_cols):
            a = pat_agree[:, c]
            log_m += np.where(a == 1, np.log(m_c[c]), np.where(a == 0, np.log1p(-m_c[c]), 0.0))
            log_u += np.where(a == 1, np.log(u_c[c]), np.where(a == 0, np.log1p(-u_c[c]), 0.0))
        hi = np.maximum(log_m, log_u)
        log_total = hi + np.log(np.exp(log_m - hi) + np.exp(log_u - hi))
        r = np.exp(log_m - log_total)
        r[below] = 0.0  # far below the threshold nothing is a match: anchors u on the background
        loglik = float((w * log_total).sum())
        if abs(loglik - loglik_old) <= tol * max(1.0, abs(loglik)):
            converged = True
            break
        loglik_old = loglik
    if not pi * total >= 1.0:
        return None
    informative = tuple(
        StratumAgreement(columns[c], float(m_c[c]), float(u_c[c]), float(w[pat_agree[:, c] >= 0].sum()))
        for c in range(n_cols)
        if m_c[c] > u_c[c]
    )
    if not informative:
        return None
    lo = np.log(pi) - np.log1p(-pi) + np.log(m_lvl) - np.log(u_lvl)
    lo = np.clip(np.maximum.accumulate(lo[1:]), -_MAX_LOG_ODDS, _MAX_LOG_ODDS)  # levels at or above the floor
    return StrataModel(float(floor), centers_all[1:], lo, informative, pi, iterations, converged)
