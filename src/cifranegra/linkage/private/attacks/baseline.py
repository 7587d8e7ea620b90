"""What counts as a re-identification, the baseline it is measured above, and the one scorer.

A re-identification is a record's first surname, given name(s) or year of birth guessed exactly
(the attribute's normalized text, compared as text). The **baseline** is what an attacker gets
without looking at the encodings at all: for every record, the value that is most frequent in the
attacker's reference population among people who share the record's attributes carried *in clear*
in the encoded file (:data:`BASELINE_BY`: given names by sex; years of birth by registration year and
age group; first surnames unconditionally). An attack's success is its rate **above** that baseline,
with a 95% Wilson interval (the baseline is a fixed number given the records, so the interval is the
attack's binomial interval shifted by it).

Attacks return one row per encoded record, columns :data:`ATTRIBUTES`, ``None`` where they make no
guess; the scorer fills a missing guess with the baseline's, so an attack is never penalized for
abstaining, nor credited for what guessing alone gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cifranegra.errors import InputError

#: The attributes whose recovery counts as a re-identification.
ATTRIBUTES = ("first_surname", "given_name", "birth_year")

#: Clear columns (stratum fields of the encoded file) each attribute's baseline is conditioned on.
BASELINE_BY: Mapping[str, tuple[str, ...]] = {
    "first_surname": (),
    "given_name": ("sex",),
    "birth_year": ("year", "age_group"),
}


@dataclass(frozen=True)
class AttackResult:
    """One attack's per-record guesses (columns :data:`ATTRIBUTES`, ``None``: no guess) and what
    it found along the way (``details``: counts and settings, never an identifier of the target)."""

    attack: str
    guesses: pd.DataFrame
    details: dict[str, Any] = field(default_factory=dict)


def normalize_values(values: pd.Series | Sequence[Any] | np.ndarray) -> np.ndarray:
    """Values as comparable text (object array): trimmed, whitespace collapsed, integral numbers
    without ``.0``; ``None`` when missing or empty."""
    out: list[str | None] = []
    for v in pd.Series(values, dtype=object).tolist():
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
            out.append(None)
            continue
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        text = " ".join(str(v).split())
        out.append(text or None)
    return np.array(out, dtype=object)


def _group_keys(frame: pd.DataFrame, by: Sequence[str]) -> np.ndarray:
    if not by:
        return np.zeros(len(frame), dtype=object)
    parts = [normalize_values(frame[c]).astype(str) for c in by]
    return np.array(["\x1f".join(t) for t in zip(*parts, strict=True)], dtype=object)


def mode_guesses(
    reference: pd.DataFrame, target: pd.DataFrame, attribute: str, by: Sequence[str] = ()
) -> np.ndarray:
    """For each ``target`` row, the most frequent ``attribute`` among ``reference`` rows with the
    same ``by`` values (the overall mode when no reference row has them); ties broken by text."""
    values = normalize_values(reference[attribute])
    keep = np.array([v is not None for v in values], dtype=bool)
    if not keep.any():
        raise InputError(f"the attacker's reference has no value of {attribute!r}")
    ref = pd.DataFrame({"key": _group_keys(reference, by)[keep], "value": values[keep]})
    counts = ref.groupby(["key", "value"]).size().reset_index(name="n")
    counts = counts.sort_values(["key", "n", "value"], ascending=[True, False, True], kind="stable")
    best = counts.drop_duplicates("key").set_index("key")["value"]
    overall = ref["value"].value_counts().sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    guesses = pd.Series(_group_keys(target, by)).map(best).to_numpy(dtype=object)
    guesses[pd.isna(guesses)] = overall.index[0]
    return guesses


def baseline_guesses(
    reference: pd.DataFrame, target: pd.DataFrame, by: Mapping[str, Sequence[str]] | None = None
) -> pd.DataFrame:
    """The baseline's guesses for every ``target`` row (see the module docstring).

    ``reference``: the attacker's plaintext population (columns :data:`ATTRIBUTES` and the clear
    columns); ``target``: the encoded file's clear columns (its ``records`` frame). A clear column
    missing from either side is simply not conditioned on.
    """
    by = BASELINE_BY if by is None else by
    out = {}
    for attr in ATTRIBUTES:
        cols = [c for c in by.get(attr, ()) if c in reference.columns and c in target.columns]
        out[attr] = mode_guesses(reference, target, attr, cols) if attr in reference.columns else None
    return pd.DataFrame(out, index=range(len(target)), dtype=object)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    from scipy.stats import norm

    if n <= 0:
        return (0.0, 1.0)
    z = float(norm.ppf(0.5 + level / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, min(p, centre - half))
    high = 1.0 if successes == n else min(1.0, max(p, centre + half))
    return (low, high)


def score_attack(
    result: AttackResult | pd.DataFrame,
    truth: pd.DataFrame,
    baseline: pd.DataFrame,
    *,
    level: float = 0.95,
) -> pd.DataFrame:
    """Re-identification rate of an attack, per attribute, and its rate above the baseline.

    ``truth``: the true values (columns :data:`ATTRIBUTES`, one row per encoded record, same
    order); ``baseline``: :func:`baseline_guesses`. Records whose true value is missing are left
    out. Returns one row per attribute: ``attribute, n, guessed`` (records the attack guessed
    itself), ``correct, rate, baseline_rate, above, above_low, above_high``.
    """
    guesses = result.guesses if isinstance(result, AttackResult) else result
    if not len(guesses) == len(truth) == len(baseline):
        raise InputError(
            f"{len(guesses)} guesses, {len(truth)} true records and {len(baseline)} baseline guesses: "
            "an attack must return one row per encoded record, in the file's order"
        )
    rows = []
    for attr in ATTRIBUTES:
        if attr not in truth.columns:
            continue
        true = normalize_values(truth[attr])
        known = np.array([t is not None for t in true], dtype=bool)
        base = normalize_values(baseline[attr]) if attr in baseline.columns else np.full(len(true), None)
        own = normalize_values(guesses[attr]) if attr in guesses.columns else np.full(len(true), None)
        has_own = np.array([g is not None for g in own], dtype=bool)
        final = np.where(has_own, own, base)
        n = int(known.sum())
        correct = int(sum(f == t for f, t in zip(final[known], true[known], strict=True)))
        base_ok = int(sum(b == t for b, t in zip(base[known], true[known], strict=True)))
        rate = correct / n if n else 0.0
        base_rate = base_ok / n if n else 0.0
        low, high = wilson_interval(correct, n, level)
        rows.append({
            "attribute": attr, "n": n, "guessed": int((has_own & known).sum()), "correct": correct,
            "rate": rate, "baseline_rate": base_rate, "above": rate - base_rate,
            "above_low": low - base_rate, "above_high": high - base_rate,
        })
    return pd.DataFrame(rows)
