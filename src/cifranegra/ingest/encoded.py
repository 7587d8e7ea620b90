"""Reading and writing encoded lists (the versioned Parquet format of private linkage), and reading
the linkage secret from a file or the environment.

An encoded file holds only: ``source``, ``record_id``, ``clk`` (the encoding, fixed-size binary),
the blocking signatures ``block_<name>``, the agreed stratum columns of the spec, and in the Parquet
schema metadata under ``cifranegra.encoding`` a JSON object with the format name and version, the
full encoding spec and its fingerprint, the project salt, the key-check value and the package
version. Any other column is refused on reading and on writing. See docs/private-linkage.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cifranegra._version import __version__
from cifranegra.errors import InputError
from cifranegra.linkage.private.encode import EncodedList
from cifranegra.linkage.private.keys import LinkageSecret, generate_secret
from cifranegra.linkage.private.spec import FORMAT_NAME, FORMAT_VERSION, EncodingSpec

METADATA_KEY = b"cifranegra.encoding"
SECRET_ENV_VAR = "CIFRANEGRA_SECRET"


# --- the secret -----------------------------------------------------------------------------------


def read_secret(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> LinkageSecret:
    """The linkage secret from ``path`` (hex text) or, when no path, from ``$CIFRANEGRA_SECRET``.

    Errors name the file or variable and the fix, never the content.
    """
    if path is None:
        env = os.environ if environ is None else environ
        text = env.get(SECRET_ENV_VAR)
        if not text:
            raise InputError(
                f"no linkage secret: give --secret-file FILE or set the environment variable {SECRET_ENV_VAR}"
            )
        return LinkageSecret.from_hex(text, origin=f"environment variable {SECRET_ENV_VAR}")
    name = str(path)
    if _looks_like_secret(name):
        # `--secret-file 3fa9...` (or an abbreviated `--secret 3fa9...`): the secret itself was typed on
        # the command line; never echo it, and say why it must not be there
        raise InputError(
            "the value given to --secret-file looks like a secret itself, not a file name; never type the "
            "secret on the command line (it stays in the shell history and the process list): save it in "
            f"a file and give that file, or set the environment variable {SECRET_ENV_VAR}"
        )
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"secret file {name!r} not found; check the path given to --secret-file") from None
    except IsADirectoryError:
        raise InputError(f"secret file {name!r} is a folder; give the file holding the secret") from None
    except OSError as exc:
        raise InputError(f"cannot read secret file {name!r}: {exc.strerror}") from None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(
            f"secret file {name!r} is not hexadecimal text; create one with "
            "`cifranegra encode --new-secret FILE`"
        ) from None
    return LinkageSecret.from_hex(text, origin=f"secret file {name!r}")


def _looks_like_secret(text: str) -> bool:
    """True for a long run of hex digits with no path separator: a secret, not a file name."""
    digits = text.strip()
    return len(digits) >= 32 and "/" not in digits and all(c in "0123456789abcdefABCDEF" for c in digits)


def check_output_path(path: str | os.PathLike[str], *, what: str, option: str, example: str) -> Path:
    """``path`` as a new file to write: its folder must exist and it must not be a folder.

    A missing folder is an error rather than created: it is most often a typo, and a file written
    where nobody looks (an encoded list, a secret) is worse than a clear refusal.
    """
    out = Path(path)
    if out.is_dir():
        raise InputError(f"{option} {str(out)!r} is a folder; give the name of the {what} to write in it, "
                         f"e.g. {str(out / example)!r}")
    folder = out.parent
    if not folder.exists():
        raise InputError(f"{option} {str(out)!r}: the folder {str(folder)!r} does not exist; create it first "
                         "or choose another path")
    if not folder.is_dir():
        raise InputError(f"{option} {str(out)!r}: {str(folder)!r} is a file, not a folder; check the path")
    return out


def write_new_secret(path: str | os.PathLike[str]) -> None:
    """Create ``path`` holding a fresh 256-bit secret (hex), readable by its owner only; never
    overwrites, never creates a folder."""
    check_output_path(path, what="secret file", option="--new-secret", example="study.secret")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{str(path)!r} already exists; a secret file is never overwritten") from None
    except OSError as exc:
        raise InputError(f"cannot create the secret file {str(path)!r}: {exc.strerror}; choose a folder you "
                         "can write to") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(generate_secret() + "\n")


# --- encoded lists --------------------------------------------------------------------------------


def _allowed_columns(spec: EncodingSpec) -> set[str]:
    return {"source", "record_id", "clk", *(f"block_{b.name}" for b in spec.blocks), *spec.strata}


def write_encoded(encoded: EncodedList, path: str | os.PathLike[str]) -> None:
    """Write an encoded list as Parquet (format ``cifranegra-encoded`` version 1)."""
    spec = encoded.spec
    allowed = _allowed_columns(spec)
    extra = [c for c in encoded.records.columns if c not in allowed]
    if extra:
        raise InputError(
            f"refusing to write columns {extra} into an encoded file: only {sorted(allowed)} may be shared"
        )
    table = pa.Table.from_pandas(encoded.records, preserve_index=False)
    clk = pa.array(
        [bytes(row) for row in encoded.clks], type=pa.binary(spec.encoded_bytes)
    ) if len(encoded) else pa.array([], type=pa.binary(spec.encoded_bytes))
    table = table.add_column(2, "clk", clk)
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "spec_version": spec.version,
        "spec_fingerprint": spec.fingerprint(),
        "spec": spec.to_dict(),
        "project": encoded.project,
        "key_check": encoded.key_check,
        "n_records": len(encoded),
        "cifranegra_version": __version__,
    }
    kept = dict(table.schema.metadata or {})  # pandas' own metadata restores dtypes (nullable ints)
    kept[METADATA_KEY] = json.dumps(meta, sort_keys=True).encode("utf-8")
    table = table.replace_schema_metadata(kept)
    _write_atomically(table, Path(path))


def _write_atomically(table: pa.Table, out: Path) -> None:
    """Write to a temporary file in the same folder, then rename: a failed write (no space left)
    leaves neither a truncated file nor, with ``--force``, a destroyed earlier one."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, out)
    except OSError as exc:  # pyarrow's errors carry no file name: say which one
        reason = os.strerror(exc.errno) if exc.errno else "the file system refused it"
        raise InputError(f"cannot write the encoded file {str(out)!r}: {reason}; choose a folder you can write "
                         "to, with enough free space") from None
    finally:
        tmp.unlink(missing_ok=True)


def _parse_metadata(raw: bytes, name: str) -> tuple[dict[str, Any], EncodingSpec]:
    """The encoding metadata and its spec; damaged metadata (not JSON, not an object, a key missing or
    of the wrong type) is an :class:`InputError` naming the file, never a crash."""
    damaged = (f"{name!r}: the cifranegra.encoding metadata is damaged ({{}}); the file was altered after "
               "encoding: ask the agency to encode its list again with `cifranegra encode`")
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InputError(damaged.format("not JSON")) from None
    if not isinstance(meta, dict):
        raise InputError(damaged.format(f"a JSON {type(meta).__name__}, not an object"))
    if meta.get("format") != FORMAT_NAME:
        raise InputError(f"{name!r}: unknown format {meta.get('format')!r}")
    version = meta.get("format_version", -1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise InputError(damaged.format("format_version is not a whole number"))
    if version > FORMAT_VERSION:
        raise InputError(f"{name!r} uses encoded-file format version {version}; this cifranegra "
                         f"reads up to version {FORMAT_VERSION}: upgrade cifranegra")
    for key in ("spec", "key_check"):
        if key not in meta:
            raise InputError(damaged.format(f"no {key!r}"))
    n_records = meta.get("n_records")
    if n_records is not None and (isinstance(n_records, bool) or not isinstance(n_records, int)):
        raise InputError(damaged.format("n_records is not a whole number"))
    try:
        spec = EncodingSpec.from_dict(meta["spec"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InputError(damaged.format("the encoding spec cannot be read")) from None
    return meta, spec


def _check_strata(records: pd.DataFrame, spec: EncodingSpec, name: str) -> None:
    """Refuse stratum values ``cifranegra encode`` never writes (:func:`cifranegra.schema.records.
    bad_stratum_values`): a stratum value becomes a label of the run's tables and of what it publishes,
    so a hand-edited file must not carry free text (a name, say) into them. The message gives the
    column and row numbers, never the value."""
    from cifranegra.schema.records import stratum_value_problems

    # a stratum of a custom spec is skipped: encode wrote what the validated list held
    problems = stratum_value_problems(records, spec.strata, "record(s)")
    if problems:
        raise InputError(
            f"{name!r} holds stratum values that `cifranegra encode` never writes (the file was altered after "
            "encoding); values are not shown, they could identify someone:\n  - " + "\n  - ".join(problems)
            + "\nask the agency to encode its list again with `cifranegra encode`"
        )


def read_encoded(path: str | os.PathLike[str]) -> EncodedList:
    """Read and check an encoded list; errors name the file and the fix."""
    name = str(path)
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise InputError(f"encoded file {name!r} not found") from None
    except (OSError, pa.ArrowInvalid) as exc:
        # the library's message is not shown (it may quote the file's bytes, which could be a list's)
        raise InputError(f"{name!r} is not a readable Parquet file ({type(exc).__name__}); encoded lists are "
                         "written by `cifranegra encode`") from None
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise InputError(f"{name!r} is not an encoded list (no cifranegra.encoding metadata); encode the "
                         "list with `cifranegra encode` first")
    meta, spec = _parse_metadata(raw, name)
    if spec.fingerprint() != meta.get("spec_fingerprint"):
        raise InputError(f"{name!r}: the encoding spec in the metadata does not match its fingerprint; "
                         "the file was altered after encoding")
    allowed = _allowed_columns(spec)
    extra = [c for c in table.column_names if c not in allowed]
    if extra:
        raise InputError(f"{name!r} has columns {extra} that an encoded file must not hold; only "
                         f"{sorted(allowed)} may be shared")
    for needed in ("source", "record_id", "clk"):
        if needed not in table.column_names:
            raise InputError(f"{name!r} has no {needed!r} column")
    clk_col = table.column("clk").combine_chunks()
    if clk_col.null_count:
        raise InputError(f"{name!r}: {clk_col.null_count} records have no encoding")
    if pa.types.is_fixed_size_binary(clk_col.type):
        width = clk_col.type.byte_width
        buf = clk_col.buffers()[1]
        offset = clk_col.offset * width
        clks = np.frombuffer(buf, dtype=np.uint8)[offset : offset + len(clk_col) * width].reshape(-1, width).copy()
    else:
        values = clk_col.to_pylist()
        width = len(values[0]) if values else spec.encoded_bytes
        if any(len(v) != width for v in values):
            raise InputError(f"{name!r}: encodings of different lengths")
        clks = np.frombuffer(b"".join(values), dtype=np.uint8).reshape(-1, width).copy()
    if width != spec.encoded_bytes:
        raise InputError(f"{name!r}: encodings have {width} bytes, spec {spec.version} needs {spec.encoded_bytes}")
    declared = meta.get("n_records")
    if declared is not None and declared != len(clks):
        raise InputError(f"{name!r} holds {len(clks)} records but was written with {declared}; the file was "
                         "altered after encoding (records added or removed): ask the agency to encode its list "
                         "again with `cifranegra encode`")
    try:
        records = table.drop_columns(["clk"]).to_pandas()
    except (ValueError, pa.ArrowException) as exc:  # damaged pandas metadata or columns; message not shown
        raise InputError(f"{name!r} cannot be read ({type(exc).__name__}); the file was altered after encoding: "
                         "ask the agency to encode its list again with `cifranegra encode`") from None
    for col in ("source", "record_id"):
        records[col] = records[col].astype("string")
    _check_strata(records, spec, name)
    return EncodedList(
        records=records,
        clks=clks,
        spec=spec,
        project=str(meta.get("project", "")),
        key_check=str(meta["key_check"]),
        metadata={"file": name, "cifranegra_version": str(meta.get("cifranegra_version", ""))},
    )
