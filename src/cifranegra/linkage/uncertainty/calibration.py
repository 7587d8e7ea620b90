"""Calibrate pair match probabilities against a truth sample, and report how well calibrated they are.

Splink's probabilities come from a Fellegi–Sunter model whose conditional-independence assumption
makes them over-confident (agreement on name and on surname is counted as two pieces of evidence
although they are correlated). Multiple imputation of the linkage draws links with these
probabilities, so they should mean what they say: of pairs given 0.7, about 70% should be the same
person. :func:`calibrate` fits an isotonic (monotone, non-parametric) regression of the truth label
on the match weight, from a reviewed sample or from a simulation with known truth; the result maps
any score to a calibrated probability. :func:`reliability_table` and :func:`brier_score` report the
calibration (Brier 1950; the reliability diagram of Murphy & Winkler 1977).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cifranegra.errors import InputError


def _scores_and_labels(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise InputError(f"scores and labels must have the same length, got {s.size} and {y.size}")
    if s.size == 0:
        raise InputError("calibration needs at least one scored pair with a known truth label")
    if not np.all(np.isfinite(s)):
        raise InputError(f"{int((~np.isfinite(s)).sum())} score(s) are missing or infinite; drop those pairs first")
    if y.dtype == bool:
        return s, y.astype(float)
    yf = y.astype(float)
    if not np.all((yf == 0) | (yf == 1)):
        raise InputError("labels must be 0/1 (or true/false): 1 when the pair is the same person")
    return s, yf


@dataclass(frozen=True)
class Calibration:
    """A monotone map from a pair score (match weight or probability) to a calibrated probability.

    ``knots`` are increasing scores and ``values`` the calibrated probabilities at them (a
    non-decreasing step function, linearly interpolated between knots, flat beyond the ends).
    Probabilities are kept within ``[clip, 1 - clip]`` so that no pair is certain either way.
    ``score`` names the pair column the knots are on: ``"match_weight"`` (Splink's) or ``"dice"``
    (private linkage's Dice similarity), so that a calibration is never applied to another scale.
    ``within_knots``/``within_values``: a separate map for pairs of records of one list (where a
    match is a duplicate, much rarer at a given score than between lists), when it was fitted
    with them apart; empty: one map for every pair.
    """

    knots: tuple[float, ...]
    values: tuple[float, ...]
    n_pairs: int
    clip: float = 1e-4
    score: str = "match_weight"
    within_knots: tuple[float, ...] = ()
    within_values: tuple[float, ...] = ()

    def predict(self, scores: Any, within: Any = None) -> np.ndarray:
        """Calibrated probabilities for ``scores`` (same scale as those the calibration was fitted
        on); ``within`` (one flag per score) picks the within-list map where there is one."""
        s = np.asarray(scores, dtype=float)
        out = np.interp(s, np.asarray(self.knots), np.asarray(self.values))
        if within is not None and self.within_knots:
            w = np.asarray(within, dtype=bool)
            out = np.where(w, np.interp(s, np.asarray(self.within_knots), np.asarray(self.within_values)), out)
        return np.clip(out, self.clip, 1.0 - self.clip)

    def to_dict(self) -> dict[str, Any]:
        return {"knots": list(self.knots), "values": list(self.values), "n_pairs": self.n_pairs, "clip": self.clip,
                "score": self.score, "within_knots": list(self.within_knots),
                "within_values": list(self.within_values)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls(tuple(map(float, d["knots"])), tuple(map(float, d["values"])), int(d["n_pairs"]), float(d["clip"]),
                   str(d.get("score", "match_weight")), tuple(map(float, d.get("within_knots", ()))),
                   tuple(map(float, d.get("within_values", ()))))


#: the pair scores a truth-sample calibration can map (columns of a linkage's pairs)
CALIBRATION_SCORES = ("match_weight", "dice")


def _isotonic(s: np.ndarray, y: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    from scipy.optimize import isotonic_regression

    frame = pd.DataFrame({"s": s, "y": y}).groupby("s", sort=True)["y"].agg(["sum", "count"])
    means = (frame["sum"] / frame["count"]).to_numpy(float)
    fit = isotonic_regression(means, weights=frame["count"].to_numpy(float), increasing=True).x
    return tuple(frame.index.to_numpy(float)), tuple(np.asarray(fit, float))


def calibrate(
    scores: Any, labels: Any, *, clip: float = 1e-4, score: str = "match_weight", within: Any = None
) -> Calibration:
    """Isotonic regression of ``labels`` (1 = same person) on ``scores`` (e.g. Splink's match weight).

    The fit is the pool-adjacent-violators solution (scipy's ``isotonic_regression``) on the scores
    sorted, tied scores pooled first, so the map is a function of the score. ``score`` says which
    pair column the scores are (``"match_weight"``, or ``"dice"`` for private linkage's pairs);
    :func:`~cifranegra.linkage.uncertainty.impute_linkage` maps that column and no other.
    ``within`` (one flag per pair: both records on one list) fits pairs within lists apart from
    pairs between lists: a within-list match is a duplicate, far rarer at a given score, and one
    map for both gives within-list non-matches the between-list rate (private linkage on the
    simulator's lists: truth-sample imputation +6.9% against the true linkage's N̂ pooled, +2.2%
    apart; docs/private-linkage.md).
    """
    if score not in CALIBRATION_SCORES:
        raise InputError(f"score must be one of {', '.join(CALIBRATION_SCORES)}, not {score!r}")
    s, y = _scores_and_labels(scores, labels)
    if not 0.0 <= clip < 0.5:
        raise InputError(f"clip must be at least 0 and below 0.5, not {clip}")
    if within is None:
        knots, values = _isotonic(s, y)
        return Calibration(knots, values, int(s.size), clip, score)
    w = np.asarray(within, dtype=bool).ravel()
    if w.shape != s.shape:
        raise InputError("the within-list flags must be one per scored pair")
    if w.all() or not w.any():
        raise InputError("a calibration fitted apart within and between lists needs labelled pairs of both kinds")
    knots, values = _isotonic(s[~w], y[~w])
    w_knots, w_values = _isotonic(s[w], y[w])
    return Calibration(knots, values, int(s.size), clip, score, w_knots, w_values)


def brier_score(probabilities: Any, labels: Any) -> float:
    """Mean squared difference between the probabilities and the 0/1 truth (0 is perfect)."""
    p, y = _scores_and_labels(probabilities, labels)
    return float(np.mean((p - y) ** 2))


def reliability_table(probabilities: Any, labels: Any, *, bins: int = 10) -> pd.DataFrame:
    """Pairs binned by probability (equal-width bins on [0, 1]): per bin the number of pairs, the
    mean probability and the observed share of true matches (with a 95% Wilson interval). A
    calibrated model has ``mean_probability`` close to ``observed_share`` in every bin."""
    from scipy import stats

    p, y = _scores_and_labels(probabilities, labels)
    if np.any((p < 0) | (p > 1)):
        raise InputError("probabilities must lie between 0 and 1")
    if not isinstance(bins, int) or isinstance(bins, bool) or not 1 <= bins <= 1000:
        raise InputError(f"bins must be a whole number from 1 to 1000, not {bins!r}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    z = float(stats.norm.ppf(0.975))
    rows = []
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        share = float(y[sel].mean()) if n else np.nan
        if n:
            centre = (share + z * z / (2 * n)) / (1 + z * z / n)
            half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
            lo, hi = centre - half, centre + half
        else:
            lo = hi = np.nan
        rows.append(
            {
                "bin_lower": edges[b],
                "bin_upper": edges[b + 1],
                "pairs": n,
                "mean_probability": float(p[sel].mean()) if n else np.nan,
                "observed_share": share,
                "share_lower": lo,
                "share_upper": hi,
            }
        )
    return pd.DataFrame(rows)


def pair_truth_labels(pairs: pd.DataFrame, truth: pd.DataFrame, *, entity: str = "person_id") -> np.ndarray:
    """1 where the two records of a pair belong to the same true person, from ``truth`` (one row per
    record: ``source``, ``record_id`` and the ``entity`` column): simulated truth or a reviewed sample.
    Pairs with a record missing from ``truth`` are an error (label only the reviewed pairs)."""
    missing = [c for c in ("source", "record_id", entity) if c not in truth.columns]
    if missing:
        raise InputError(f"the truth table lacks column(s) {missing}")
    key = pd.MultiIndex.from_arrays([truth["source"].astype(str), truth["record_id"].astype(str)])
    if not key.is_unique:
        raise InputError("the truth table lists a (source, record_id) more than once")
    li = key.get_indexer(pd.MultiIndex.from_arrays([pairs["source_l"].astype(str), pairs["record_id_l"].astype(str)]))
    ri = key.get_indexer(pd.MultiIndex.from_arrays([pairs["source_r"].astype(str), pairs["record_id_r"].astype(str)]))
    if (li < 0).any() or (ri < 0).any():
        raise InputError(f"{int(((li < 0) | (ri < 0)).sum())} pair(s) have a record that the truth table does not list")
    ids = truth[entity].to_numpy()
    return (ids[li] == ids[ri]).astype(np.int64)


_NOT_IDENTIFIED = (
    "the within-list pairs do not identify a calibration: too few of them score where matches and non-matches "
    "overlap, as when identifiers separate the two well"
)


@dataclass(frozen=True)
class WithinListCalibration:
    """Pair probabilities calibrated without a truth sample, from pairs of records of one list.

    The model (:func:`calibrate_within_lists`): a pair between two lists is the same person with
    probability ``σ(a_between + slope·x)`` and a pair within one list (a duplicate) with
    ``σ(a_within + slope·x)``, ``x`` the linkage model's log-odds (``logit`` of Splink's probability).
    ``theta`` = (a_between, a_within, slope), ``covariance`` its approximate sampling covariance
    (inverse observed information), ``n_between``/``n_within`` the pairs it was fitted on.
    """

    theta: tuple[float, float, float]
    covariance: tuple[tuple[float, float, float], ...]
    n_between: int
    n_within: int
    log_opportunity_ratio: float

    def probabilities(self, x: Any, within: Any, theta: Any = None) -> np.ndarray:
        """Calibrated match probabilities of pairs with log-odds ``x`` (``within``: one list)."""
        a_b, a_w, slope = self.theta if theta is None else theta
        xs = np.asarray(x, dtype=float)
        return np.asarray(_expit(np.where(np.asarray(within, bool), a_w, a_b) + slope * xs))

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` parameter vectors from the normal approximation to the fit's sampling distribution
        (:func:`bootstrap_within_lists` draws from the bootstrap instead: the imputation's choice)."""
        return rng.multivariate_normal(np.asarray(self.theta), np.asarray(self.covariance), size=n)

    def standard_errors(self) -> tuple[float, float, float]:
        d = np.sqrt(np.diag(np.asarray(self.covariance)))
        return (float(d[0]), float(d[1]), float(d[2]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "within-lists",
            "a_between": self.theta[0],
            "a_within": self.theta[1],
            "slope": self.theta[2],
            "standard_errors": list(self.standard_errors()),
            "covariance": [list(r) for r in self.covariance],
            "pairs_between": self.n_between,
            "pairs_within": self.n_within,
            "log_opportunity_ratio": self.log_opportunity_ratio,
        }


def _expit(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float))))


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.asarray(np.logaddexp(0.0, z))


def calibrate_within_lists(
    x: Any,
    within: Any,
    *,
    opportunities_within: float,
    opportunities_between: float,
    min_pairs: int = 30,
    weights: Any = None,
    start: Any = None,
) -> WithinListCalibration:
    """Calibrate pair probabilities using the pairs of records of one list as a control sample.

    Why: Splink's probabilities are over-confident where many people share a name (docs/linkage.md:
    among pairs it gives 0.2–0.5, 4–16% are the same person), and the linkage imputation draws links
    with them. Two records of one agency's list are rarely the same person (only its duplicates), but
    they are blocked, compared and scored exactly like two records of different lists. So, per pair
    opportunity, the two kinds share one distribution of non-matches and differ in how many matches
    they hold. With ``x`` the model's log-odds of a scored pair, suppose the likelihood ratio of a
    match is ``exp(slope·x + κ)``; then, given its score, a pair is within one list with probability
    ``1 / (1 + R·g(x))``, ``g(x) = (1 + exp(a_b + slope·x)) / (1 + exp(a_w + slope·x))``, ``R`` the ratio
    of between-list to within-list pair opportunities (fixed by the list sizes) — a logistic-type
    regression of "within" on the score that identifies ``a_b`` (the between-list calibration),
    ``a_w`` (duplicates) and ``slope``. Fitted by maximum likelihood on the kept pairs (selection on
    the score does not bias a model conditional on the score). This is the idea of estimating
    non-match distributions from pairs known to be non-matches, here the within-list pairs
    (a control group; cf. the mixture-proportion estimation of Blanchard & Scott 2014 with two
    samples sharing one component).

    Assumes the lists' non-matching pairs look alike within and between lists: where one agency's
    list is much more homogeneous than the others (say, one municipality, and place is compared),
    within-list pairs agree more often by chance, the fit calls more between-list pairs non-matches,
    and the imputation links less (N̂ moves up). Raises :class:`InputError` when there are fewer than
    ``min_pairs`` within- or between-list pairs or the fit is degenerate; the caller then goes on
    uncalibrated and says so. ``weights`` (one per pair; a bootstrap's counts) weight the likelihood;
    ``start`` replaces the default starting points with one.
    """
    from scipy.optimize import minimize

    xs = np.asarray(x, dtype=float).ravel()
    w = np.asarray(within, dtype=bool).ravel()
    if xs.shape != w.shape:
        raise InputError("scores and the within-list flags must have the same length")
    n_within, n_between = int(w.sum()), int((~w).sum())
    if n_within < min_pairs or n_between < min_pairs:
        raise InputError(
            f"calibration from within-list pairs needs at least {min_pairs} scored pairs of each kind; "
            f"there are {n_within} within lists and {n_between} between lists"
        )
    if not (opportunities_within > 0 and opportunities_between > 0):
        raise InputError("pair opportunities must be positive")
    if not np.all(np.isfinite(xs)):
        raise InputError("every pair needs a finite score")
    c = float(np.log(opportunities_between / opportunities_within))
    y = (~w).astype(float)  # 1: between lists
    wt = np.ones_like(xs) if weights is None else np.asarray(weights, dtype=float).ravel()
    if wt.shape != xs.shape or np.any(wt < 0):
        raise InputError("pair weights must be non-negative, one per pair")

    def nll_grad(th: np.ndarray) -> tuple[float, np.ndarray]:
        a_b, a_w, slope = th
        zb, zw = a_b + slope * xs, a_w + slope * xs
        eta = c + _softplus(zb) - _softplus(zw)
        nll = float(np.sum(wt * (y * _softplus(-eta) + (1.0 - y) * _softplus(eta))))
        r = wt * (_expit(eta) - y)
        sb, sw = _expit(zb), _expit(zw)
        grad = np.array([np.sum(r * sb), -np.sum(r * sw), np.sum(r * xs * (sb - sw))])
        return nll, grad

    best = None
    starts = ((0.0, -3.0, 1.0), (-2.0, -5.0, 1.0), (1.0, -1.0, 0.5), (-1.0, -4.0, 1.5)) if start is None else (start,)
    for s0 in starts:
        fit = minimize(nll_grad, np.asarray(s0, dtype=float), jac=True, method="L-BFGS-B",
                       bounds=[(-30.0, 30.0), (-30.0, 30.0), (1e-3, 20.0)])
        if np.all(np.isfinite(fit.x)) and (best is None or fit.fun < best.fun):
            best = fit
    if best is None:
        raise InputError("the within-list calibration did not converge")
    theta = best.x
    # a_within far below the scores' range: the lists hold (almost) no duplicates, a legitimate answer
    # whose exact value the data cannot give; it is then held fixed in the information matrix
    free = [0, 2] if theta[1] < -10.0 else [0, 1, 2]
    # observed information by central differences of the analytic gradient
    hess = np.empty((3, 3))
    for j in range(3):
        h = 1e-4 * max(1.0, abs(theta[j]))
        e = np.zeros(3)
        e[j] = h
        hess[:, j] = (nll_grad(theta + e)[1] - nll_grad(theta - e)[1]) / (2 * h)
    hess = ((hess + hess.T) / 2)[np.ix_(free, free)]
    eig = np.linalg.eigvalsh(hess) if np.all(np.isfinite(hess)) else np.array([0.0])
    at_bound = abs(theta[0]) >= 30.0 - 1e-3 or not 2e-3 < theta[2] < 20.0 - 1e-3
    if eig.min() <= 1e-9 * max(eig.max(), 1e-300) or at_bound:
        raise InputError(_NOT_IDENTIFIED)
    cov = np.zeros((3, 3))
    cov[np.ix_(free, free)] = np.linalg.inv(hess)
    if np.max(np.diag(cov)) > 100.0:  # a standard error above 10 on the log-odds scale: no information
        raise InputError(_NOT_IDENTIFIED)
    return WithinListCalibration(
        (float(theta[0]), float(theta[1]), float(theta[2])),
        tuple((float(r[0]), float(r[1]), float(r[2])) for r in cov),
        n_between,
        n_within,
        c,
    )


def bootstrap_within_lists(
    fit: WithinListCalibration, x: Any, within: Any, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` parameter vectors of :func:`calibrate_within_lists` refitted on bootstrap resamples of
    the pairs (Poisson(1) counts as weights, started from ``fit``): the calibration's sampling
    variation, without the normal approximation, whose tails reach absurd amounts of linking where
    the likelihood is flat in one direction. A resample that cannot be fitted is drawn again."""
    xs = np.asarray(x, dtype=float).ravel()
    w = np.asarray(within, dtype=bool).ravel()
    opp_w = 1.0
    opp_b = float(np.exp(fit.log_opportunity_ratio))
    out = np.empty((n, 3))
    for j in range(n):
        for _ in range(20):
            try:
                out[j] = calibrate_within_lists(
                    xs, w, opportunities_within=opp_w, opportunities_between=opp_b, min_pairs=1,
                    weights=rng.poisson(1.0, xs.size), start=fit.theta,
                ).theta
                break
            except InputError:
                continue
        else:
            out[j] = fit.theta
    return out
