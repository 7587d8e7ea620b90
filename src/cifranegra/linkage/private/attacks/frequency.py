"""Attack (a): frequency analysis of everything deterministic an encoded file carries.

The hub sees, next to each encoding, keyed blocking signatures and the stratum fields in clear. A
signature hides its value, not its equality: records sharing ``sn3_yob`` share the first three
letters of the surname and the year of birth. For each attribute the attacker joins records that
must agree on it — every signature with a part read from the attribute's column, plus identical
encodings — into connected components: each holds one value of the coarsest part (the first two
letters of the first surname when ``sn3_yob`` and ``gn2_sn2_ssn2`` are joined; the year of birth when
``sn3_yob``, ``gn3_yob_sex`` and ``dob`` are). The attacker builds the same components on a plaintext
reference population, signing it with the public spec under a key of their own (only equality
matters), and matches the file's components to the reference's one to one (Hungarian assignment)
by size and by the profile of the clear stratum fields the attribute depends on (sex for given
names; registration year and age group for years of birth: a component of minors registered in 2021
cannot be born in 1980). Each record's guess is the most frequent value in its matched reference
component among people of the record's clear stratum (e.g. ``HERNANDEZ`` for the ``HE`` component).
This is the rank alignment of Kuzu et al. (2011), refined by the co-occurrence of signatures and
strata. No secret is used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cifranegra.linkage.private.attacks.baseline import BASELINE_BY, AttackResult, normalize_values
from cifranegra.linkage.private.blocking import block_column
from cifranegra.linkage.private.spec import EncodingSpec

#: Columns of an encoding spec whose values determine each attribute.
ATTRIBUTE_COLUMNS: dict[str, tuple[str, ...]] = {
    "first_surname": ("first_surname", "surname"),
    "given_name": ("given_names_canonical", "given_names", "given_name"),
    "birth_year": ("birth_year_est", "birth_year", "birth_date", "date_of_birth"),
}
_DATE_COLUMNS = ("birth_date", "date_of_birth")


def _class_width(spec: EncodingSpec, attribute: str) -> tuple[list[str], int | None]:
    """The signatures that reveal equality of (part of) an attribute, and the prefix length every
    one of them implies (``None``: the whole value; for years always the whole year)."""
    names: list[str] = []
    width: int | None = None
    for block in spec.blocks:
        widths: list[int | None] = []
        for col, transform, n in block.parts:
            if col not in ATTRIBUTE_COLUMNS[attribute]:
                continue
            if attribute == "birth_year" or transform in ("value", "year"):
                widths.append(None)
            else:
                widths.append(n)
        if not widths:
            continue
        names.append(block.name)
        own = None if any(w is None for w in widths) else max(w for w in widths if w is not None)
        if own is not None:  # width None = the whole value, coarser than nothing
            width = own if width is None else min(width, own)
    return names, width


def _components(records: pd.DataFrame, columns: Sequence[str], clks: np.ndarray | None) -> np.ndarray:
    """Connected components of records joined by equal values of any of ``columns`` (and by
    identical encodings): each record linked to a node per distinct value."""
    n = len(records)
    rows, cols = [np.arange(n)], [np.arange(n)]
    offset = n
    keys = [records[c] for c in columns if c in records.columns]
    if clks is not None:
        keys.append(pd.Series([bytes(r) for r in np.ascontiguousarray(clks)], dtype=object))
    for values in keys:
        codes, uniques = pd.factorize(pd.Series(values).reset_index(drop=True), use_na_sentinel=True)
        ok = codes >= 0
        rows.append(np.flatnonzero(ok))
        cols.append(codes[ok] + offset)
        offset += len(uniques)
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r)), (r, c)), shape=(offset, offset))
    _, labels = connected_components(graph, directed=False)
    _, comp = np.unique(labels[:n], return_inverse=True)
    return comp


def _profile(keys: np.ndarray, groups: np.ndarray, n_groups: int, vocab: dict[str, int]) -> np.ndarray:
    """Share of each clear-stratum key within each group (rows: groups)."""
    codes = np.array([vocab.get(k, -1) for k in keys], dtype=np.int64)
    ok = codes >= 0
    prof = np.zeros((n_groups, max(len(vocab), 1)))
    np.add.at(prof, (groups[ok], codes[ok]), 1.0)
    return prof / np.maximum(prof.sum(axis=1, keepdims=True), 1.0)


def _clear_keys(frame: pd.DataFrame, clear: Sequence[str]) -> np.ndarray:
    if not clear:
        return np.array(["" for _ in range(len(frame))], dtype=object)
    parts = [normalize_values(frame[c]).astype(str) for c in clear]
    return np.array(["|".join(t) for t in zip(*parts, strict=True)], dtype=object)


def _assign(comp_sizes: np.ndarray, comp_prof: np.ndarray, cls_sizes: np.ndarray, cls_prof: np.ndarray,
            weight: float, overall: np.ndarray) -> np.ndarray:
    """Reference component per file component (``-1``: none), by a one-to-one minimum-cost
    assignment of squared log-size difference plus ``weight`` × the total-variation distance of the clear
    profiles in excess of what sampling alone gives two groups of those sizes drawn from
    ``overall`` (so an uninformative profile, as for surnames, adds no noise)."""
    # squared, not absolute: a strictly convex cost makes the size-only optimum the rank alignment
    # (with |.|, crossing matchings can tie with it)
    size_cost = (np.log(comp_sizes)[:, None] - np.log(np.maximum(cls_sizes, 1e-9))[None, :]) ** 2
    tv = 0.5 * np.abs(comp_prof[:, None, :] - cls_prof[None, :, :]).sum(axis=2)
    spread = 0.5 * float(np.sqrt(2 * overall * (1 - overall) / np.pi).sum())
    noise = spread * np.sqrt(1 / comp_sizes[:, None] + 1 / np.maximum(cls_sizes, 1e-9)[None, :])
    r, c = linear_sum_assignment(size_cost + weight * np.maximum(tv - noise, 0.0))
    out = np.full(len(comp_sizes), -1, dtype=np.int64)
    out[r] = c
    return out


def frequency_attack(
    records: pd.DataFrame,
    spec: EncodingSpec,
    reference: pd.DataFrame,
    reference_records: pd.DataFrame,
    *,
    clks: np.ndarray | None = None,
    reference_clks: np.ndarray | None = None,
    min_size: int = 3,
    max_components: int = 600,
    profile_weight: float = 2.0,
) -> AttackResult:
    """Guess each record's attributes from its signatures' and strata's frequencies alone.

    ``records``: the encoded file's clear frame (``EncodedList.records``: ``block_*`` columns and
    strata); ``spec``: its (public) encoding spec; ``reference``: the attacker's plaintext
    population (columns ``first_surname``, ``given_name``, ``birth_year`` and the clear stratum
    columns); ``reference_records``: the same people's signatures and strata as the attacker
    computes them with the public spec under a key of their own (equality is all that matters, so
    any key gives the same structure), row for row; ``clks``/``reference_clks``: the encodings
    (identical encodings are joined too). Components smaller than ``min_size`` are not guessed.
    """
    records = records.reset_index(drop=True)
    reference_records = reference_records.reset_index(drop=True)
    reference = reference.reset_index(drop=True)
    n, n_ref = len(records), len(reference_records)
    guesses = pd.DataFrame({a: [None] * n for a in ATTRIBUTE_COLUMNS}, dtype=object)
    details: dict[str, object] = {}
    for attribute, by in BASELINE_BY.items():
        if attribute not in reference.columns:
            continue
        names, _ = _class_width(spec, attribute)
        if not names:
            details[attribute] = "no signature reveals it"
            continue
        cols = [block_column(b) for b in names]
        _, t_big = _big_components(records, cols, clks, min_size, max_components)
        _, r_big = _big_components(reference_records, cols, reference_clks, min_size, max_components)
        if not len(t_big) or not len(r_big):
            continue
        t_sizes = np.array([len(m) for m in t_big], dtype=float)
        r_sizes = np.array([len(m) for m in r_big], dtype=float) * (n / max(n_ref, 1))
        # the profile: the clear fields the attribute depends on (BASELINE_BY: sex for given names,
        # registration year and age group for years of birth, none for surnames)
        by_cols = [c for c in by if c in records.columns and c in reference_records.columns]
        t_keys, r_keys = _clear_keys(records, by_cols), _clear_keys(reference_records, by_cols)
        vocab = {k: i for i, k in enumerate(sorted(set(r_keys)))}
        t_prof = _profile_of(t_keys, t_big, vocab)
        r_prof = _profile_of(r_keys, r_big, vocab)
        overall = _profile(r_keys, np.zeros(len(r_keys), dtype=np.int64), 1, vocab)[0]
        assigned = _assign(t_sizes, t_prof, r_sizes, r_prof, profile_weight, overall)
        details[attribute] = {"signatures": names, "components_guessed": int((assigned >= 0).sum()),
                              "records_in_them": int(sum(len(m) for m in t_big))}
        values = normalize_values(reference[attribute])
        guesses[attribute] = _component_modes(values, r_keys, r_big, t_keys, t_big, assigned)
    return AttackResult("frequency", guesses, details)


def _big_components(
    frame: pd.DataFrame, columns: Sequence[str], clks: np.ndarray | None, min_size: int, limit: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Components (see :func:`_components`) of records with a signature, and the members of the
    ``limit`` largest of at least ``min_size`` records, largest first."""
    comp = _components(frame, columns, clks)
    has_sig = frame[[c for c in columns if c in frame.columns]].notna().any(axis=1).to_numpy()
    comp = np.where(has_sig, comp, -1)
    order = np.argsort(comp, kind="stable")
    order = order[comp[order] >= 0]
    bounds = np.flatnonzero(np.diff(comp[order])) + 1
    groups = [g for g in np.split(order, bounds) if len(g) >= min_size]
    groups.sort(key=len, reverse=True)
    return comp, groups[:limit]


def _profile_of(keys: np.ndarray, groups: list[np.ndarray], vocab: dict[str, int]) -> np.ndarray:
    if not groups:
        return np.zeros((0, max(len(vocab), 1)))
    members = np.concatenate(groups)
    labels = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    return _profile(keys[members], labels, len(groups), vocab)


def _component_modes(
    values: np.ndarray, r_keys: np.ndarray, r_groups: list[np.ndarray], t_keys: np.ndarray,
    t_groups: list[np.ndarray], assigned: np.ndarray,
) -> np.ndarray:
    """Each record of a matched file component gets the most frequent value among the members of
    its reference component who share its clear key (the component's mode when none does); ties
    broken by text. Other records: ``None``."""
    out = np.full(len(t_keys), None, dtype=object)
    if not r_groups:
        return out
    members = np.concatenate(r_groups)
    ref = pd.DataFrame({"comp": np.repeat(np.arange(len(r_groups)), [len(g) for g in r_groups]),
                        "key": r_keys[members], "value": values[members]}).dropna()
    if ref.empty:
        return out
    counts = ref.groupby(["comp", "key", "value"]).size().reset_index(name="n")
    counts = counts.sort_values(["comp", "key", "n", "value"], ascending=[True, True, False, True], kind="stable")
    by_key = counts.drop_duplicates(["comp", "key"]).set_index(["comp", "key"])["value"]
    overall = (ref.groupby(["comp", "value"]).size().reset_index(name="n")
               .sort_values(["comp", "n", "value"], ascending=[True, False, True], kind="stable")
               .drop_duplicates("comp").set_index("comp")["value"])
    rows = [g for g, k in zip(t_groups, assigned, strict=True) if k >= 0]
    if not rows:
        return out
    idx = np.concatenate(rows)
    comp = np.repeat(assigned[assigned >= 0], [len(g) for g in rows])
    wanted = pd.MultiIndex.from_arrays([comp, t_keys[idx]])
    found = by_key.reindex(wanted).to_numpy(dtype=object)
    fallback = overall.reindex(comp).to_numpy(dtype=object)
    out[idx] = np.where(pd.isna(found), fallback, found)
    return out
