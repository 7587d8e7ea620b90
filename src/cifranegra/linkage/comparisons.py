"""Splink comparisons, blocking and training rules designed for Mexican records.

Each comparison is a ladder of agreement levels, most specific first; Splink learns how much each
level weighs (m and u probabilities, Fellegi & Sunter 1969) by expectation–maximisation. Only
dialect-neutral levels are used, so the same settings run on DuckDB and on Spark.

- given names: canonical forms (nicknames expanded) exact with term-frequency adjustment, then
  Jaro–Winkler ≥ 0.92, then "share a name" (``MARIA GUADALUPE`` vs ``GUADALUPE``), then ≥ 0.80;
- surnames: both agree (term frequency on the full pair: ``HERNANDEZ GARCIA``), swapped, first
  agrees and the second is missing on one side, first agrees with a near second, near first with the
  second agreeing, one surname in common in any position, first agrees only;
- CURP: exact, one or two edits (Damerau–Levenshtein, typos and transpositions), same first ten
  characters (name initials and birth date);
- birth date: exact, one edit or one transposition, day and month swapped, same year, ±1, ±3 years;
  for a record with an age but no birth date, birth years consistent with the ages (or within 2);
- sex and state (entidad federativa, term-frequency adjusted): exact.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cifranegra.linkage.settings import LinkageSettings

_D = "duckdb"  # dialect the custom SQL below is written in; Splink translates it for Spark

#: m probabilities used for a comparison that no EM session could estimate (lists too small to
#: hold pairs in an EM block): one per agreement level, most specific first, summing to 1. They are
#: the medians of the EM estimates on three simulated sets of Mexican lists (tests/linkage/
#: linkage_synth.py, 1,500 persons, seeds 0-2, default settings), rounded, with the "else" levels
#: raised to 1-3% and state agreement lowered to 0.9 (real records of one person carry different
#: states more often than the simulation does). Agreement levels are still weighed against u
#: probabilities estimated from the lists themselves.
FIXED_M_PROBABILITIES: dict[str, tuple[float, ...]] = {
    # exact, Jaro-Winkler >= 0.92, a name in common, Jaro-Winkler >= 0.80, else
    "given_names": (0.90, 0.045, 0.025, 0.01, 0.02),
    # both, swapped, first + second missing, first + second near, first near, one in common,
    # first only, else
    "surnames": (0.70, 0.08, 0.08, 0.03, 0.05, 0.03, 0.01, 0.02),
    # exact, 1 edit, 2 edits, same first ten characters, else
    "curp": (0.86, 0.10, 0.015, 0.015, 0.01),
    # exact, 1 edit, day/month swapped, same year, +-1 year, +-3 years, ages consistent,
    # ages within 2 years, else
    "birth_date": (0.62, 0.02, 0.02, 0.10, 0.15, 0.01, 0.04, 0.01, 0.03),
    "sex": (0.98, 0.02),
    "state": (0.90, 0.10),
}


def _custom(sql: str, label: str) -> Any:
    from splink.internals.comparison_level_library import CustomLevel

    return CustomLevel(sql, label_for_charts=label, base_dialect_str=_D)


def _given_names(tf: bool) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    exact: Any = cll.ExactMatchLevel("given")
    if tf:
        exact = exact.configure(tf_adjustment_column="given", tf_adjustment_weight=1.0)
    return cl.CustomComparison(
        output_column_name="given_names",
        comparison_description="given names (canonical, nicknames expanded)",
        comparison_levels=[
            cll.NullLevel("given"),
            exact,
            cll.JaroWinklerLevel("given", 0.92),
            cll.ArrayIntersectLevel("given_tokens", 1).configure(label_for_charts="a given name in common"),
            cll.JaroWinklerLevel("given", 0.80),
            cll.ElseLevel(),
        ],
    )


def _surnames(tf: bool) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    both: Any = cll.ExactMatchLevel("surnames_full")
    first_only_missing = _custom(
        "surname1_l = surname1_r AND (surname2_l IS NULL OR surname2_r IS NULL)",
        "first surname agrees, second missing on one side",
    )
    if tf:
        both = both.configure(tf_adjustment_column="surnames_full", tf_adjustment_weight=1.0)
        first_only_missing = first_only_missing.configure(
            tf_adjustment_column="surname1", tf_adjustment_weight=1.0
        )
    return cl.CustomComparison(
        output_column_name="surnames",
        comparison_description="first and second surnames, with swaps and missing second surname",
        comparison_levels=[
            cll.NullLevel("surname1"),
            both,
            _custom("surname1_l = surname2_r AND surname2_l = surname1_r", "surnames swapped"),
            first_only_missing,
            cll.And(cll.ExactMatchLevel("surname1"), cll.JaroWinklerLevel("surname2", 0.88)).configure(
                label_for_charts="first agrees, second near"
            ),
            cll.And(
                cll.JaroWinklerLevel("surname1", 0.88),
                cll.Or(cll.ExactMatchLevel("surname2"), cll.NullLevel("surname2")),
            ).configure(label_for_charts="first near, second agrees or missing"),
            _custom(
                "surname1_l = surname2_r OR surname2_l = surname1_r OR surname2_l = surname2_r",
                "a surname in common in another position",
            ),
            _custom("surname1_l = surname1_r", "first agrees, second differs"),
            cll.ElseLevel(),
        ],
    )


def _curp() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="curp",
        comparison_description="CURP: exact, near (typos), same name-and-birth prefix",
        comparison_levels=[
            cll.NullLevel("curp"),
            cll.ExactMatchLevel("curp"),
            cll.DamerauLevenshteinLevel("curp", 1),
            cll.DamerauLevenshteinLevel("curp", 2),
            cll.ExactMatchLevel("curp10").configure(label_for_charts="same first ten characters"),
            cll.ElseLevel(),
        ],
    )


def _birth_date() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def years_within(k: int) -> str:
        # the two records' birth-year ranges overlap (k = 0), or come within k years
        return f"birth_year_lo_l <= birth_year_hi_r + {k} AND birth_year_lo_r <= birth_year_hi_l + {k}"

    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_description=(
            "birth date: exact, typo or transposition, day/month swapped, year; "
            "for records with an age but no birth date, birth years consistent with the ages"
        ),
        comparison_levels=[
            cll.NullLevel("birth_year_lo"),
            cll.ExactMatchLevel("birth_date"),
            cll.DamerauLevenshteinLevel("birth_date", 1),
            _custom(
                "birth_date_l = birth_date_swapped_r OR birth_date_swapped_l = birth_date_r",
                "day and month swapped",
            ),
            cll.ExactMatchLevel("birth_year").configure(label_for_charts="same birth year"),
            cll.AbsoluteDifferenceLevel("birth_year", 1),
            cll.AbsoluteDifferenceLevel("birth_year", 3),
            # reached only when a record has no birth year of its own (exact years were compared
            # above): an age-only record whose possible birth years fit the other record's
            _custom(
                f"(birth_year_l IS NULL OR birth_year_r IS NULL) AND {years_within(0)}",
                "birth years consistent with the ages",
            ),
            _custom(
                f"(birth_year_l IS NULL OR birth_year_r IS NULL) AND {years_within(2)}",
                "birth years from ages within 2 years",
            ),
            cll.ElseLevel(),
        ],
    )


def _exact(col: str, tf: bool) -> Any:
    import splink.comparison_library as cl

    c: Any = cl.ExactMatch(col)
    if tf:
        c = c.configure(term_frequency_adjustments=True)
    return c


def build_comparisons(settings: LinkageSettings, prepared: pd.DataFrame) -> list[Any]:
    """The Splink comparison creators for these settings, dropping those with no data at all."""
    have = {c for c in prepared.columns if prepared[c].notna().any()}
    tf = settings.term_frequency
    out: list[Any] = []
    for name in settings.comparisons:
        if name == "given_names" and "given" in have:
            out.append(_given_names(tf))
        elif name == "surnames" and "surname1" in have:
            out.append(_surnames(tf))
        elif name == "curp" and "curp" in have:
            out.append(_curp())
        elif name == "birth_date" and "birth_year_lo" in have:
            out.append(_birth_date())
        elif name == "sex" and "sex" in have:
            out.append(_exact("sex", False))
        elif name == "state" and "state" in have:
            out.append(_exact("state", tf))
    return out


def _rule_columns(rule: tuple[str, ...]) -> set[str]:
    return {c for part in rule for c in part.split("~")}


def build_blocking_rules(settings: LinkageSettings, prepared: pd.DataFrame) -> list[Any]:
    """Splink blocking rules for prediction; rules on columns with no data are dropped.

    A part ``"a~b"`` of a rule means "column a of one record equals column b of the other", in
    either direction (it becomes two Splink rules, since Splink orders each pair).
    """
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    have = {c for c in prepared.columns if prepared[c].notna().any()}
    out: list[Any] = []
    for rule in settings.blocking:
        if not _rule_columns(rule) <= have:
            continue
        cross = [p for p in rule if "~" in p]
        if not cross:
            out.append(block_on(*rule))
            continue
        plain = [f"l.{c} = r.{c}" for c in rule if "~" not in c]
        for flip in (False, True):
            conds = list(plain)
            for part in cross:
                a, b = part.split("~")
                conds.append(f"l.{b} = r.{a}" if flip else f"l.{a} = r.{b}")
            out.append(CustomRule(" AND ".join(conds), sql_dialect="duckdb"))
    return out


def training_plan(prepared: pd.DataFrame) -> tuple[list[Any], list[Any]]:
    """Deterministic rules for the prior match probability, and EM blocking rules.

    Two EM sessions on complementary blocks let every comparison be estimated at least once: one
    blocked on the birth date (names, surnames, CURP estimated), one on the phonetic keys of the
    given name and the surnames (birth date, CURP, sex, state estimated).
    """
    from splink import block_on

    have = {c for c in prepared.columns if prepared[c].notna().any()}
    deterministic = []
    if "curp" in have:
        deterministic.append(block_on("curp"))
    if {"given", "surnames_full", "birth_date"} <= have:
        deterministic.append(block_on("given", "surnames_full", "birth_date"))
    elif {"given", "surname1", "birth_year"} <= have:
        deterministic.append(block_on("given", "surname1", "birth_year"))
    elif {"given", "surnames_full"} <= have:
        # lists with names but no birth data: without a rule the prior stays at Splink's default
        # (1 in 10,000 pairs) and name agreement alone never reaches the threshold
        deterministic.append(block_on("given", "surnames_full"))
    elif {"given", "surname1"} <= have:
        deterministic.append(block_on("given", "surname1"))
    em = []
    if "birth_date" in have:
        em.append(block_on("birth_date"))
    elif "birth_year" in have:
        em.append(block_on("birth_year"))
    # the session that estimates the birth-date levels: blocked on names as they sound. Blocked on
    # exact first given name and first surname, EM once settled (lists with three times the default
    # errors) on "true matches never differ in birth date", which vetoed every match with a date
    # typo or an age only (recall 0.55); the phonetic block holds more of the true matches that
    # differ, and EM found the usual solution on every list tried (docs/notes/issue-5.md)
    if {"given_sound", "surname_sound_set"} <= have:
        em.append(block_on("given_sound", "surname_sound_set"))
    elif {"given1", "surname1"} <= have:
        em.append(block_on("given1", "surname1"))
    elif "curp" in have:
        em.append(block_on("curp"))
    return deterministic, em


def count_blocked_pairs(
    prepared: pd.DataFrame, rules: tuple[tuple[str, ...], ...]
) -> list[tuple[tuple[str, ...], int, int]]:
    """Per blocking rule whose columns have data: (rule, record pairs it makes, records in its
    largest block), counted in pandas before any engine starts (an upper bound for ``a~b`` parts)."""
    have = {c for c in prepared.columns if prepared[c].notna().any()}
    out: list[tuple[tuple[str, ...], int, int]] = []
    for rule in rules:
        if not _rule_columns(rule) <= have:
            continue
        plain = [c for c in rule if "~" not in c]
        cross = [tuple(p.split("~")) for p in rule if "~" in p]
        if not cross:
            sizes = prepared.dropna(subset=plain).groupby(plain, sort=False).size()
            n = sizes.to_numpy(dtype=float)
            out.append((rule, int((n * (n - 1) / 2).sum()), int(n.max()) if len(n) else 0))
            continue
        # l.a = r.b (and the mirror rule): join the value counts of the two sides
        left_cols = plain + [a for a, _ in cross]
        right_cols = plain + [b for _, b in cross]
        key = [f"k{i}" for i in range(len(left_cols))]
        left = prepared[left_cols].dropna().set_axis(key, axis=1).value_counts().rename("nl").reset_index()
        right = prepared[right_cols].dropna().set_axis(key, axis=1).value_counts().rename("nr").reset_index()
        both = left.merge(right, on=key)
        pairs = int(2 * (both["nl"].astype(float) * both["nr"].astype(float)).sum())
        largest = int(both[["nl", "nr"]].max(axis=1).max()) if len(both) else 0
        out.append((rule, pairs, largest))
    return out
