"""Encode a normalized Records frame into what an agency may share: encodings, blocking keys,
the agreed stratum fields, and the spec version. Never a plaintext identifier."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cifranegra.errors import InputError, Problem, ValidationError
from cifranegra.linkage.private.blocking import blocking_keys
from cifranegra.linkage.private.bloom import column_text, encode_fields
from cifranegra.linkage.private.keys import LinkageSecret, key_check
from cifranegra.linkage.private.spec import MEXICO_SPEC, EncodingSpec
from cifranegra.schema.codes import STRATUM_YEAR_RANGE as YEAR_RANGE


@dataclass(frozen=True)
class EncodedList:
    """One agency's encoded list.

    ``records``: one row per record with ``source``, ``record_id``, the blocking signatures
    (``block_<name>``) and the stratum columns; ``clks``: uint8 array (n, spec.encoded_bytes), row
    ``i`` the encoding of ``records`` row ``i``; ``key_check``: equal for lists encoded under the
    same secret, project and spec (see :func:`~cifranegra.linkage.private.keys.key_check`).
    """

    records: pd.DataFrame
    clks: np.ndarray
    spec: EncodingSpec
    project: str
    key_check: str
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.clks.dtype != np.uint8 or self.clks.ndim != 2:
            raise InputError("encodings must be a 2-D uint8 array")
        if self.clks.shape != (len(self.records), self.spec.encoded_bytes):
            raise InputError(
                f"{self.clks.shape[0]} encodings of {self.clks.shape[1]} bytes for {len(self.records)} "
                f"records; spec {self.spec.version} needs {self.spec.encoded_bytes} bytes each"
            )

    def __len__(self) -> int:
        return len(self.records)

    @property
    def sources(self) -> list[str]:
        return sorted(self.records["source"].astype(str).unique().tolist())

    def words(self) -> np.ndarray:
        """The encodings as uint64 words (for popcounts; byte order irrelevant to counts)."""
        return np.ascontiguousarray(self.clks).view(np.uint64)


def estimated_birth_year(records: pd.DataFrame) -> pd.Series:
    """The year of birth, or when unknown its best guess from the age at registration.

    ``birth_year`` when present; otherwise ``registration year − age``, minus one more when the
    registration falls in the first half of the year (the birthday is then more likely still to
    come), which agrees with the true year about three times in four. Used to salt names and in
    blocking, so that records with only an age can still match records with a birth date.
    """
    n = len(records)
    year = (
        pd.to_numeric(records["birth_year"], errors="coerce").astype("Float64")
        if "birth_year" in records.columns
        else pd.Series([pd.NA] * n, dtype="Float64", index=records.index)
    )
    if "age" in records.columns and "registration_date" in records.columns:
        reg = pd.to_datetime(records["registration_date"], errors="coerce")
        age = pd.to_numeric(records["age"], errors="coerce").astype("Float64")
        guess = reg.dt.year.astype("Float64") - age - (reg.dt.month < 7).astype("Float64")
        year = year.fillna(guess)
    return year.round().astype("Int64")


def _canonical_given_names(records: pd.DataFrame) -> pd.Series:
    """Given names with nicknames expanded (issue 4's ``canonical_given_name``), once per distinct value."""
    from cifranegra.schema.nicknames import canonical_given_name

    if "given_names" not in records.columns:
        return pd.Series([None] * len(records), dtype=object, index=records.index)
    codes, uniques = pd.factorize(records["given_names"], use_na_sentinel=True)
    table = np.array([*(canonical_given_name(str(u)) for u in uniques), None], dtype=object)
    return pd.Series(table[codes], index=records.index, dtype=object)


def _with_derived(records: pd.DataFrame, spec: EncodingSpec) -> pd.DataFrame:
    """Add the derived columns the spec reads when the records lack them (see the spec docs)."""
    if "birth_year_est" in spec.columns and "birth_year_est" not in records.columns:
        records = records.assign(birth_year_est=estimated_birth_year(records))
    if "given_names_canonical" in spec.columns and "given_names_canonical" not in records.columns:
        records = records.assign(given_names_canonical=_canonical_given_names(records))
    return records


def _strata_frame(records: pd.DataFrame, spec: EncodingSpec) -> pd.DataFrame:
    out = pd.DataFrame(index=records.index)
    for col in spec.strata:
        if col in records.columns:
            out[col] = records[col]
        elif col == "year" and "registration_date" in records.columns:
            dates = pd.to_datetime(records["registration_date"], errors="coerce")
            out[col] = dates.dt.year.astype("Int64")
    return out


def _row_number(records: pd.DataFrame, i: int) -> int:
    """The row of the ``i``-th record in its file (``source_row``, as validation numbers rows), or its
    position from 1 where the records do not say."""
    if "source_row" in records.columns:
        row = records["source_row"].iloc[i]
        if pd.notna(row):
            return int(row)
    return i + 1


def _check_years(strata: pd.DataFrame, records: pd.DataFrame, file: str | None) -> None:
    """Refuse a registration year that the hub's reader refuses (:data:`cifranegra.schema.codes.STRATUM_YEAR_RANGE`).

    The reader takes such a year for a file altered after encoding; written here, it would make an
    encoded list that no study can read and that the agency cannot fix by encoding again. Named by
    row, the year not shown."""
    if "year" not in strata.columns:
        return
    years = pd.to_numeric(strata["year"], errors="coerce")
    bad = np.flatnonzero((years.notna() & ~years.between(*YEAR_RANGE)).to_numpy(dtype=bool))
    if len(bad) == 0:
        return
    problems = [
        Problem(file, _row_number(records, i), "registration_date", "error",
                "registration_year_out_of_range",
                f"the registration date is not within {YEAR_RANGE[0]}–{YEAR_RANGE[1]} (value masked); an encoded "
                "list keeps the registration year as a stratum and studies accept only those years: correct "
                "the date, or leave it empty if it is not known")
        for i in bad.tolist()
    ]
    raise ValidationError(problems=problems, summary="registration dates out of range")


_WORD = re.compile(r"[A-ZÑ]{3,}")


#: letter runs found in at least this share of a file's record ids (of at least _CONSTANT_MIN_IDS ids)
#: are the list's own prefix or suffix ("REFU-2023-000125"), not a record's identifier: no given
#: name or surname is carried by 90% of a list's people
_CONSTANT_SHARE = 0.9
_CONSTANT_MIN_IDS = 20


def _id_constants(upper: pd.Series) -> set[str]:
    """Letter runs (4 or more) present in at least 90% of the record ids of a file of 20 or more."""
    if len(upper) < _CONSTANT_MIN_IDS:
        return set()
    runs = upper.str.findall(r"[A-ZÑ]{4,}").map(frozenset)
    counts = pd.Series([r for rs in runs for r in rs], dtype=object).value_counts()
    return set(counts.index[counts >= _CONSTANT_SHARE * len(upper)])


#: separators an id may put inside a date or a CURP ("X-1911-11-11", "VUQZ-111111")
_SEPARATORS = re.compile(r"[\s\-/._]")


def _birth_date_forms(records: pd.DataFrame) -> list[list[str]]:
    """Each record's birth date as an id could carry it, separators removed: YYYYMMDD, DDMMYYYY and
    MMDDYYYY (empty when unknown). Six-digit forms are left out: sequence numbers hold them by chance."""
    if "birth_date" not in records.columns:
        return [[] for _ in range(len(records))]
    dates = pd.to_datetime(records["birth_date"], errors="coerce")
    forms = [dates.dt.strftime(f).tolist() for f in ("%Y%m%d", "%d%m%Y", "%m%d%Y")]
    return [[] if pd.isna(d) else [f[i] for f in forms] for i, d in enumerate(dates.tolist())]


def _in_record_id(col: str, value: str, rid: str, squeezed: str) -> bool:
    """Whether the record id (``rid``, upper case, the list's constant runs removed; ``squeezed``, also
    without separators) carries ``value`` of column ``col``: the CURP or its head (name letters and
    birth date), or a name word of 4 letters or more."""
    if col == "curp":
        return value in rid or value[:10] in squeezed
    return any(len(w) >= 4 and w in rid for w in _WORD.findall(value))


def _check_record_ids(records: pd.DataFrame, ids: pd.Series, spec: EncodingSpec, file: str | None) -> None:
    """Refuse record ids that contain an identifier of the same record: its CURP or the CURP's first
    ten characters, a name word, or its birth date written with a four-digit year.

    A name word is ignored where it lies inside a letter run that nearly every id of the file
    carries (the list's prefix: a shelter's "REFU-…" ids and a person called Refu)."""
    upper = ids.fillna("").str.upper()
    squeezed_ids = upper.str.replace(_SEPARATORS, "", regex=True)
    suspects = np.flatnonzero(
        (upper.str.contains(r"[A-ZÑ]{4,}", regex=True) | squeezed_ids.str.contains(r"\d{8}", regex=True))
        .to_numpy(dtype=bool)
    )
    if len(suspects) == 0:
        return
    constants = _id_constants(upper)
    id_fields = [f.name for f in spec.fields if f.tokenizer in ("bigram", "positional")]
    texts = {c: column_text(records, c) for c in id_fields}
    births = _birth_date_forms(records)
    problems: list[Problem] = []
    for i in suspects.tolist():
        rid = str(upper.iloc[i])
        for run in constants:
            rid = rid.replace(run, "-")
        squeezed = _SEPARATORS.sub("", rid)
        found = [c for c, values in texts.items()
                 if values.iloc[i] and _in_record_id(c, str(values.iloc[i]), rid, squeezed)]
        if not found and any(form in squeezed for form in births[i]):
            found = ["birth_date"]
        if found:
            problems.append(
                Problem(file, _row_number(records, i), "record_id", "error", "identifier_in_record_id",
                        f"the record id contains the record's {found[0]} (value masked); record ids are "
                        "shared in clear, so replace them with opaque numbers (or pass --renumber; "
                        "renumber=True in Python)")
            )
    if problems:
        raise ValidationError(problems=problems, summary="record ids would reveal identifiers")


def encode_records(
    records: pd.DataFrame,
    secret: LinkageSecret,
    project: str,
    spec: EncodingSpec = MEXICO_SPEC,
    *,
    source: str | None = None,
    renumber: bool = False,
    file: str | None = None,
) -> EncodedList:
    """Encode a normalized Records frame (issue 4's schema) for private linkage.

    Parameters: ``records`` already validated and normalized (``cifranegra.ingest.read_list``);
    ``secret`` and ``project`` shared by all agencies of the study; ``source`` overrides the
    ``source`` column; ``renumber`` replaces record ids by ``1..n`` (keep your own copy of the order);
    ``file`` only names the input in error messages. Returns an :class:`EncodedList` holding no
    plaintext identifier.
    """
    if not isinstance(secret, LinkageSecret):
        raise TypeError("secret must be a LinkageSecret (never a plain string)")
    records = records.reset_index(drop=True)
    n = len(records)
    if source is not None:
        sources = pd.Series([str(source)] * n, dtype="string")
    elif "source" in records.columns:
        sources = records["source"].astype("string")
        if sources.isna().any():
            raise InputError("some records have no source; pass source=... (CLI: --source)")
    else:
        raise InputError("the records have no 'source' column; pass source=... (CLI: --source)")
    if renumber:
        ids = pd.Series([str(i) for i in range(1, n + 1)], dtype="string")
    elif "record_id" in records.columns:
        ids = records["record_id"].astype("string")
        if ids.isna().any():
            row = int(np.flatnonzero(ids.isna().to_numpy())[0]) + 1
            raise InputError(f"row {row}: the record id is missing; every record needs one (or use --renumber)")
        _check_record_ids(records, ids, spec, file)
    else:
        ids = pd.Series([str(i) for i in range(1, n + 1)], dtype="string")
    meta = pd.DataFrame({"source": sources.to_numpy(), "record_id": ids.to_numpy()})
    meta["source"] = meta["source"].astype("string")
    # the identifying fields the spec reads (sex and the estimated birth year identify no one alone);
    # the canonical given names are derived from given_names
    identifying = sorted({f.name for f in spec.fields} - {"sex", "birth_year_est"})
    if "given_names_canonical" in identifying:
        identifying = sorted({*identifying, "given_names"} - {"given_names_canonical"})
    if n and identifying and not any(c in records.columns for c in (*identifying, "given_names_canonical")):
        # an agency's raw frame (its own headers) would encode to empty filters and link to nobody
        raise InputError(f"the records have none of the columns the encoding reads ({', '.join(identifying)}): "
                         "read and normalize the list first (cifranegra.ingest.read_list; the CLI's "
                         "`cifranegra encode` does)")
    records = _with_derived(records, spec)
    blocks = blocking_keys(records, secret, project, spec)
    strata = _strata_frame(records, spec)
    _check_years(strata, records, file)
    meta = pd.concat([meta, blocks.reset_index(drop=True), strata.reset_index(drop=True)], axis=1)
    clks = encode_fields(records, secret, project, spec)
    if n and not clks.any():
        raise InputError("no record has a name, birth date or CURP to encode: every encoding would be empty and "
                         "link to no one; check that the list was read with its column mapping")
    return EncodedList(
        records=meta,
        clks=clks,
        spec=spec,
        project=project.strip(),
        key_check=key_check(secret, project, spec.version),
    )
