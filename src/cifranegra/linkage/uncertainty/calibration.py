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
    """

    knots: tuple[float, ...]
    values: tuple[float, ...]
    n_pairs: int
    clip: float = 1e-4

    def predict(self, scores: Any) -> np.ndarray:
        """Calibrated probabilities for ``scores`` (same scale as those the calibration was fitted on)."""
        s = np.asarray(scores, dtype=float)
        out = np.interp(s, np.asarray(self.knots), np.asarray(self.values))
        return np.clip(out, self.clip, 1.0 - self.clip)

    def to_dict(self) -> dict[str, Any]:
        return {"knots": list(self.knots), "values": list(self.values), "n_pairs": self.n_pairs, "clip": self.clip}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls(tuple(map(float, d["knots"])), tuple(map(float, d["values"])), int(d["n_pairs"]), float(d["clip"]))


def calibrate(scores: Any, labels: Any, *, clip: float = 1e-4) -> Calibration:
    """Isotonic regression of ``labels`` (1 = same person) on ``scores`` (e.g. Splink's match weight).

    The fit is the pool-adjacent-violators solution (scipy's ``isotonic_regression``) on the scores
    sorted, tied scores pooled first, so the map is a function of the score.
    """
    from scipy.optimize import isotonic_regression

    s, y = _scores_and_labels(scores, labels)
    if not 0.0 <= clip < 0.5:
        raise InputError(f"clip must be at least 0 and below 0.5, not {clip}")
    frame = pd.DataFrame({"s": s, "y": y}).groupby("s", sort=True)["y"].agg(["sum", "count"])
    means = (frame["sum"] / frame["count"]).to_numpy(float)
    fit = isotonic_regression(means, weights=frame["count"].to_numpy(float), increasing=True).x
    return Calibration(tuple(frame.index.to_numpy(float)), tuple(np.asarray(fit, float)), int(s.size), clip)


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
