"""Which persons each agency records: heterogeneous capture probabilities and referrals.

For person *i* and agency *k*: ``logit p_ik = logit(capture_rate_k) + heterogeneity_k · z_i +
Σ log focus_k[stratum of i]``, with ``z_i ~ N(0, 1)`` a visibility shared by all agencies (the
source of positive dependence through heterogeneity). Captures are drawn independently given ``p_ik``;
then each referral (a → b, q) records with probability ``q`` in b a person recorded by a and not
yet by b (direct dependence between lists, applied in the order given).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cifranegra.datasets.synthetic.profiles import AgencyProfile
from cifranegra.errors import InputError

__all__ = ["capture_probabilities", "draw_captures"]


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def capture_probabilities(
    people: pd.DataFrame, profiles: Sequence[AgencyProfile], visibility: np.ndarray
) -> np.ndarray:
    """(n persons × K agencies) capture probabilities before referrals."""
    n = len(people)
    minor = (people["age_group"] == "0-17").to_numpy()
    female = (people["sex"] == "female").to_numpy()
    foreign = (people["nationality"] != "MEX").to_numpy()
    groups = {
        "minor": minor,
        "adult": ~minor,
        "female": female,
        "male": ~female,
        "foreign": foreign,
        "mexican": ~foreign,
    }
    out = np.empty((n, len(profiles)))
    for k, prof in enumerate(profiles):
        eta = _logit(prof.capture_rate) + prof.heterogeneity * visibility
        for key, mult in prof.focus.items():
            if key not in groups:
                raise InputError(
                    f"agency {prof.id}: unknown focus group {key!r}; use {sorted(groups)}"
                )
            eta = eta + np.where(groups[key], np.log(mult), 0.0)
        out[:, k] = 1.0 / (1.0 + np.exp(-eta))
    return out


def draw_captures(
    people: pd.DataFrame,
    profiles: Sequence[AgencyProfile],
    referrals: Sequence[tuple[str, str, float]],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(captured n×K booleans, probabilities before referrals, referred n×K booleans)."""
    n = len(people)
    visibility = rng.standard_normal(n)
    prob = capture_probabilities(people, profiles, visibility)
    captured = rng.random(prob.shape) < prob
    referred = np.zeros_like(captured)
    index = {p.id: k for k, p in enumerate(profiles)}
    for a, b, q in referrals:
        if a not in index or b not in index:
            continue
        ka, kb = index[a], index[b]
        candidates = captured[:, ka] & ~captured[:, kb]
        hit = candidates & (rng.random(n) < q)
        captured[:, kb] |= hit
        referred[:, kb] |= hit
    return captured, prob, referred
