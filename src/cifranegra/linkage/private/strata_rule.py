"""Linking encoded records on their Dice score *and* the strata the hub holds in clear.

One Dice score over a whole record cannot tell a pair that differs by a missing CURP or birth date
from two namesakes who share them (docs/private-linkage.md, "What limits private linkage's N̂"). The
encoded files carry, in clear, each record's strata (state, form of exploitation, ...) so that the
hub can tabulate; two records of one person mostly agree on them, namesakes mostly do not. This
module weighs that evidence with a Fellegi–Sunter model fitted without labels: a two-class latent
model (Fellegi & Sunter 1969; EM as in Winkler 1988 and Jaro 1989) over the candidate pairs of
different lists, whose comparisons are the Dice score in bins crossed with the pair's fill ratio (the
smaller popcount over the larger: two records of one person often differ in which fields were
recorded, namesakes near the threshold mostly do not), and the agreement of each compared stratum (a
missing or ``unknown`` value compares as nothing), assumed independent given the class.

Only columns the encoding does not already hold belong here: sex and the age group are read from the
record's names, birth date and sex bits too, so their agreement is not independent of the Dice score
among non-matches (measured: namesakes above the threshold agree on sex 95% of the time, random
pairs 69%); the state and the form of exploitation are not encoded, and their agreement among
non-matches does not rise with the Dice score (0.10 → 0.15 and 0.28 → 0.33 from random pairs to
pairs at the threshold). Nothing new is revealed: the strata are in the encoded files already, and
the popcounts are those the Dice score is computed from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cifranegra.errors import InputError


class NoStrataModel(ValueError):  # noqa: N818 - a reason, not an error of the user's
    """The candidate pairs cannot support the model; the message says why (linking then uses Dice alone)."""


_MISSING = frozenset({"", "unknown", "desconocido", "no especificado", "nan", "<na>"})
_PSEUDO = 0.5  # pseudo-count added to every cell of the class-conditional tables (Jeffreys-like)
_NEAR_CONSTANT = 0.95  # a column on which this share of non-matches agrees tells no one apart
#: A two-class mixture needs three conditionally independent comparisons to be identified (Hall &
#: Zhou 2003, Ann. Statist. 31:201-224); the Dice-and-fill comparison is one, so at least two strata
#: must inform. With one (a single-state study, the state dropped) EM found a split by the remaining
#: column instead of by identity on simulated lists (seed 4: N-hat -10.8%, precision 0.83).
MIN_COLUMNS = 2


@dataclass(frozen=True)
class StrataRule:
    """How a spec's encodings are linked with the strata: the candidate floor, the lowest Dice and
    the lowest posterior probability of a match at which two records of different lists are linked.

    ``columns``: strata compared (those of them the lists carry); ``floor``: pairs below this Dice
    are not candidates (nor part of the fit); ``dice``: the lowest Dice linked; ``posterior``: the
    lowest P(match | Dice, strata) linked; ``bins``: Dice bins between ``floor`` and 1;
    ``fill_edges``: cut points of the fill ratio (the smaller popcount of the pair over the larger),
    whose classes cross the Dice bins into one comparison (empty: Dice bins alone).
    """

    columns: tuple[str, ...] = ("state", "exploitation")
    floor: float = 0.60
    dice: float = 0.62
    posterior: float = 0.2
    bins: int = 20
    fill_edges: tuple[float, ...] = (0.8, 0.9)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fill_edges", tuple(float(x) for x in self.fill_edges))
        if any(not 0.0 < x < 1.0 for x in self.fill_edges) or list(self.fill_edges) != sorted(set(self.fill_edges)):
            raise InputError(f"a strata rule's fill_edges must rise strictly within (0, 1); got {self.fill_edges}")
        if not 0.0 < self.floor <= self.dice <= 1.0:
            raise InputError(f"a strata rule needs 0 < floor ≤ dice ≤ 1; got floor {self.floor}, dice {self.dice}")
        if not 0.0 < self.posterior < 1.0:
            raise InputError(f"a strata rule's posterior must be in (0, 1); got {self.posterior}")
        if self.bins < 2:
            raise InputError(f"a strata rule needs at least 2 Dice bins; got {self.bins}")


@dataclass(frozen=True)
class StrataFit:
    """The fitted model: the posterior per candidate pair and what was learned (for the record)."""

    posterior: np.ndarray
    columns: tuple[str, ...]
    m_agree: dict[str, float]
    u_agree: dict[str, float]
    dropped: dict[str, str]
    iterations: int

    @property
    def match_share(self) -> float:
        """The model's share of matches among the candidate pairs."""
        return float(self.posterior.mean())

    def summary(self) -> dict[str, Any]:
        """JSON-ready account of the fit (what the run records)."""
        return {
            "columns": list(self.columns),
            "match_share_of_candidates": round(self.match_share, 6),
            "agree_if_match": {k: round(v, 4) for k, v in self.m_agree.items()},
            "agree_if_not": {k: round(v, 4) for k, v in self.u_agree.items()},
            "dropped": dict(self.dropped),
            "iterations": self.iterations,
        }


def agreement(records: pd.DataFrame, column: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Per pair: 0 the two records agree on ``column``, 1 they differ, 2 either value is missing."""
    values = records[column].astype("string").str.strip().str.lower()
    missing = values.isna().to_numpy() | values.fillna("").isin(_MISSING).to_numpy()
    codes = pd.factorize(values.fillna(""))[0]
    a, b = codes[i], codes[j]
    return np.where(missing[i] | missing[j], 2, np.where(a == b, 0, 1)).astype(np.int64)


def fit_strata_model(
    records: pd.DataFrame,
    i: np.ndarray,
    j: np.ndarray,
    dice: np.ndarray,
    columns: Sequence[str],
    *,
    floor: float,
    start: float,
    bins: int = 20,
    fill: np.ndarray | None = None,
    fill_edges: Sequence[float] = (),
    max_iter: int = 500,
    tol: float = 1e-7,
    min_columns: int = MIN_COLUMNS,
) -> StrataFit:
    """Fit the two-class model to candidate pairs ``(i, j)`` of different lists (Dice ≥ ``floor``).

    EM starts from "a match is a pair at or above ``start``" (the spec's Dice threshold). The Dice
    part of the likelihood ratio is made non-decreasing over the bins (a higher score is never
    evidence against a match); a column whose agreement turns out no likelier among matches than
    among non-matches, or on which nearly every non-match agrees (a study of one state), is dropped
    from the weight. Raises :class:`NoStrataModel` when the pairs cannot support the model: too few,
    nothing above ``start``, fewer than ``min_columns`` informative columns, or classes that do not
    separate by Dice.

    ``fill``: per pair, the smaller popcount over the larger; with ``fill_edges`` its classes cross
    the Dice bins into one comparison. Two records of one person often differ in which fields were
    recorded (a CURP or birth date missing from one), which lowers both their Dice and their fill
    ratio; namesakes near the threshold mostly carry the same fields (ratio near 1). The Dice part
    is made non-decreasing over the bins within each fill class.
    """
    d = np.asarray(dice, dtype=np.float64)
    if len(d) < 50 or (d >= start).sum() < 10 or (d < start).sum() < 10:
        raise NoStrataModel(f"too few candidate pairs ({len(d)}; {int((d >= start).sum())} at or above Dice {start:g})")
    edges = np.linspace(floor, 1.0, bins + 1)
    dbin = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, bins - 1)
    n_fill = 1
    if fill is not None and len(fill_edges):
        n_fill = len(fill_edges) + 1
        fclass = np.searchsorted(np.asarray(fill_edges, dtype=np.float64), np.asarray(fill, dtype=np.float64),
                                 side="right")
        dbin = fclass * bins + dbin
    agree = {c: agreement(records, c, i, j) for c in columns}
    p = np.where(d >= start, 0.95, 0.05)
    m_agree: dict[str, float] = {}
    u_agree: dict[str, float] = {}
    dropped: dict[str, str] = {}
    active = list(columns)
    iterations = 0
    for it in range(1, max_iter + 1):
        lam = float(np.clip(p.mean(), 1e-6, 1 - 1e-6))
        m_bins = np.bincount(dbin, weights=p, minlength=bins * n_fill) + _PSEUDO
        u_bins = np.bincount(dbin, weights=1 - p, minlength=bins * n_fill) + _PSEUDO
        llr_bins = np.log(m_bins / m_bins.sum()) - np.log(u_bins / u_bins.sum())
        llr_bins = np.maximum.accumulate(llr_bins.reshape(n_fill, bins), axis=1).ravel()
        llr = np.log(lam / (1 - lam)) + llr_bins[dbin]
        for c in list(active):
            a = agree[c]
            seen = a < 2
            m_ag = (p[seen & (a == 0)].sum() + _PSEUDO) / (p[seen].sum() + 2 * _PSEUDO)
            u_ag = ((1 - p)[seen & (a == 0)].sum() + _PSEUDO) / ((1 - p)[seen].sum() + 2 * _PSEUDO)
            m_agree[c], u_agree[c] = float(m_ag), float(u_ag)
            if m_ag <= u_ag or u_ag >= _NEAR_CONSTANT:
                active.remove(c)
                dropped[c] = ("nearly every pair agrees on it" if u_ag >= _NEAR_CONSTANT
                                  else "agreement no likelier among matches than among non-matches")
                continue
            llr = llr + np.where(a == 0, np.log(m_ag / u_ag), np.where(a == 1, np.log((1 - m_ag) / (1 - u_ag)), 0.0))
        if len(active) < min_columns:
            raise NoStrataModel(
                f"fewer than {min_columns} strata tell records apart"
                + (f" ({'; '.join(f'{c}: {why}' for c, why in dropped.items())})" if dropped else "")
                + ", too few for the model to be identified")
        new = 1.0 / (1.0 + np.exp(-np.clip(llr, -700, 700)))
        delta = float(np.max(np.abs(new - p)))
        p, iterations = new, it
        if delta < tol:
            break
    match_dice = np.average(d, weights=p) if p.sum() > 0 else 0.0
    other_dice = np.average(d, weights=1 - p) if (1 - p).sum() > 0 else 1.0
    if not match_dice > other_dice:
        raise NoStrataModel("the fitted classes do not separate by Dice score")
    return StrataFit(p, tuple(active), m_agree, u_agree, dropped, iterations)
