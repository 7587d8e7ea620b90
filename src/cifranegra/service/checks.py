"""Checks of a submitted file: is it an encoded list of this study, from this agency, made with the
study's spec and key, carrying only known stratum values?

The file is read from memory (:class:`pyarrow.BufferReader`), never written in clear to disk, by
:func:`cifranegra.ingest.encoded.read_encoded` — the same reader the pipeline uses, so a file the hub
accepts is a file a run can link. Every problem is collected before answering (an agency fixes them
all at once). Messages name the column, the rule and the fix; they never quote a value from the file
(no record id, no stratum value, not even the other study's name).

Rules (docs/hub.md, 'Submissions'):

- only files written by ``cifranegra encode`` (plaintext CSV/XLSX, other Parquet, truncated or
  damaged files are refused with the command that encodes a list);
- the project salt must be the study's name;
- the encoding spec fingerprint and the key-check value must equal the study's pinned ones (the first
  accepted submission pins them; until then any valid spec and key are accepted);
- **source rule**: the file holds exactly one list, and its ``source`` equals the submitting agency's
  name in the hub exactly (surrounding spaces ignored) — the agency encodes with
  ``--source "AGENCY NAME"``; one agency's list can then never be submitted as another's;
- when the study lists allowed values for a stratum column (``settings["strata"]``), every non-empty
  value of that column must be one of them (compared as text); empty values are allowed (unknown);
- a file with no records is refused; repeated record ids are a warning.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ENCODE_HINT = (
    "encode it first: cifranegra encode LIST --project {study} --secret-file F -o OUT.parquet"
)

_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls


@dataclass(frozen=True)
class CheckReport:
    """What the checks found. ``problems``: dicts ``{"severity", "code", "message"}`` (JSON-ready;
    severity ``error`` refuses the file, ``warning`` does not); ``ok``: no error."""

    ok: bool
    problems: list[dict[str, str]] = field(default_factory=list)
    n_records: int = 0
    source: str | None = None
    spec_fingerprint: str | None = None
    key_check: str | None = None
    sha256: str = ""

    @property
    def errors(self) -> list[dict[str, str]]:
        return [p for p in self.problems if p["severity"] == "error"]

    @property
    def warnings(self) -> list[dict[str, str]]:
        return [p for p in self.problems if p["severity"] == "warning"]


def _problem(code: str, message: str, severity: str = "error") -> dict[str, str]:
    return {"severity": severity, "code": code, "message": message}


def _not_encoded(data: bytes, study: str) -> dict[str, str] | None:
    """A refusal when ``data`` is not a Parquet file at all (None when it looks like one)."""
    hint = ENCODE_HINT.format(study=_quote(study))
    if not data:
        return _problem("empty_file", f"the file is empty; this is not a file written by `cifranegra encode`; {hint}")
    if data[:4] == _PARQUET_MAGIC and data[-4:] == _PARQUET_MAGIC and len(data) > 12:
        return None
    if data[:4] == _PARQUET_MAGIC:
        return _problem(
            "truncated",
            "the file starts like Parquet but is incomplete (truncated or damaged in transfer); this is not a "
            f"complete file written by `cifranegra encode`: send the encoded file again, or {hint}",
        )
    if data[:4] == _ZIP_MAGIC or data[:4] == _OLE_MAGIC:
        kind = "a spreadsheet (XLSX/XLS) or another archive"
    elif _looks_like_text(data):
        kind = "a plaintext list (CSV or text)"
    else:
        kind = "neither Parquet nor an encoded list"
    return _problem(
        "not_encoded",
        f"this is not a file written by `cifranegra encode` (it looks like {kind}); plaintext lists are "
        f"never accepted: {hint}",
    )


def _looks_like_text(data: bytes) -> bool:
    head = data[:4096]
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "latin-1"):
        try:
            head.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False  # pragma: no cover - latin-1 decodes every byte


def _quote(text: str) -> str:
    """``text`` as a shell word for a command shown to the user."""
    import shlex

    return shlex.quote(text)


def _read(data: bytes, study: str) -> tuple[Any, dict[str, str] | None]:
    """(EncodedList, None) or (None, problem) for Parquet ``data``."""
    import pyarrow as pa

    from cifranegra.errors import CifranegraError
    from cifranegra.ingest.encoded import read_encoded

    hint = ENCODE_HINT.format(study=_quote(study))
    reader = pa.BufferReader(data)
    name = repr(str(reader))
    damaged = _problem(
        "damaged",
        "the file could not be read as an encoded list (its metadata or columns are damaged); "
        f"send the file written by `cifranegra encode` unchanged, or {hint}",
    )
    try:
        return read_encoded(reader), None
    except CifranegraError as exc:
        message = str(exc)
        if "not a readable Parquet file" in message:
            return None, _problem(
                "damaged",
                "the file is not a readable Parquet file (damaged or truncated in transfer); send the encoded "
                f"file again, or {hint}",
            )
        if "no cifranegra.encoding metadata" in message:
            return None, _problem(
                "not_encoded",
                f"this is not a file written by `cifranegra encode` (a Parquet file without the encoding "
                f"metadata); plaintext lists are never accepted: {hint}",
            )
        if "metadata is damaged" in message:
            return None, damaged
        # the reader's own messages name columns, versions and the fix, never a record's value
        return None, _problem("invalid_encoded", message.replace(name, "the file").replace(str(reader), "the file"))
    except Exception:  # any failure to parse foreign bytes is the sender's file, not a crash
        return None, damaged


def check_submission(
    data: bytes,
    *,
    study: str,
    agency: str,
    pinned_fingerprint: str | None,
    pinned_key_check: str | None,
    allowed_strata: Mapping[str, Sequence[Any]] | None = None,
) -> CheckReport:
    """Check the bytes of a submitted file for ``study`` from ``agency`` (see the module's rules)."""
    sha256 = hashlib.sha256(data).hexdigest()
    refusal = _not_encoded(data, study)
    if refusal is not None:
        return CheckReport(ok=False, problems=[refusal], sha256=sha256)
    enc, refusal = _read(data, study)
    if refusal is not None:
        return CheckReport(ok=False, problems=[refusal], sha256=sha256)
    problems: list[dict[str, str]] = []
    fingerprint = enc.spec.fingerprint()
    if enc.project != study.strip():
        problems.append(_problem(
            "other_study",
            f"this file was encoded for another study (another project salt); every agency of this study "
            f"encodes with --project {_quote(study)} (the study name salts the encodings), so encode the list "
            "again with it",
        ))
    problems.extend(_source_problems(enc, agency))
    if pinned_fingerprint is not None and fingerprint != pinned_fingerprint:
        problems.append(_problem(
            "other_spec",
            f"the file uses encoding spec {enc.spec.version!r} with settings that differ from the spec this "
            "study's first accepted file used; encode with the same cifranegra encoding spec as the other "
            "agencies (ask the coordinator which version)",
        ))
    if pinned_key_check is not None and enc.key_check != pinned_key_check:
        problems.append(_problem(
            "other_key",
            "the file was encoded with a different secret than this study's accepted files (the key-check "
            "value differs); get the study's shared secret from the coordinator through a secure channel and "
            "encode again with --secret-file",
        ))
    if len(enc) == 0:
        problems.append(_problem("no_records", "the file holds no records; encode a list with at least one record"))
    problems.extend(_strata_problems(enc.records, allowed_strata or {}))
    problems.extend(_record_id_warnings(enc.records))
    sources = enc.sources
    return CheckReport(
        ok=not any(p["severity"] == "error" for p in problems),
        problems=problems,
        n_records=len(enc),
        source=sources[0] if len(sources) == 1 else None,
        spec_fingerprint=fingerprint,
        key_check=enc.key_check,
        sha256=sha256,
    )


def _source_problems(enc: Any, agency: str) -> list[dict[str, str]]:
    sources = [s.strip() for s in enc.sources]
    fix = f"encode your own list with --source {_quote(agency.strip())} (your agency's name in the hub)"
    if len(sources) > 1:
        return [_problem(
            "several_sources",
            f"the file holds the records of {len(sources)} lists; each agency submits only its own list: {fix}",
        )]
    if sources and sources[0] != agency.strip():
        return [_problem(
            "wrong_source",
            f"the file's source is not your agency; a file can only be submitted by the agency that encoded "
            f"it: {fix}",
        )]
    return []


def _strata_problems(records: Any, allowed: Mapping[str, Sequence[Any]]) -> list[dict[str, str]]:
    """Unknown values of the stratum columns whose values the study lists (rows named, values never)."""
    problems = []
    for column, values in allowed.items():
        if column not in records.columns:
            problems.append(_problem(
                "missing_stratum",
                f"the file has no stratum column {column!r}, which this study uses; its tables will count "
                "these records as unknown for it",
                "warning",
            ))
            continue
        known = {str(v) for v in values}
        col = records[column]
        present = col.notna().to_numpy(dtype=bool)
        text = col.astype("string").fillna("")
        bad = [i for i, (p, v) in enumerate(zip(present, text, strict=True)) if p and str(v) not in known]
        if bad:
            rows = ", ".join(str(i + 1) for i in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
            listed = ", ".join(sorted(known)) if len(known) <= 40 else f"{len(known)} values"
            problems.append(_problem(
                "unknown_stratum_value",
                f"column {column!r}: {len(bad)} record(s) (rows {rows}) have a value this study does not "
                f"list (allowed: {listed}); correct them, or leave them empty for unknown, and encode again",
            ))
    return problems


def _record_id_warnings(records: Any) -> list[dict[str, str]]:
    ids = records["record_id"]
    repeated = int(ids.duplicated(keep="first").sum())
    if repeated:
        return [_problem(
            "duplicate_record_id",
            f"{repeated} record id(s) appear more than once; each record should have its own id "
            "(the file is accepted; duplicates within a list are linked as one person when they match)",
            "warning",
        )]
    return []
