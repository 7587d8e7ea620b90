"""Small, valid encoded lists for the hub's tests, made with the package's own encode API.

Every list is drawn from one synthetic population (the simulator's
:func:`~cifranegra.datasets.synthetic.population.draw_population`, fixed by ``seed``), so lists of
different sources for the same study overlap — enough for a run to link and estimate. Each source
picks its own persons (deterministically, from its name), so the same arguments always give the
same bytes' content (the Parquet file itself is byte-identical too).

Import from a test module as ``from service.encoded_factory import encoded_bytes`` (``tests`` is on
``pythonpath``) or put this folder on ``sys.path`` and import ``encoded_factory``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from cifranegra.ingest.encoded import write_encoded
from cifranegra.linkage.private import EncodedList, LinkageSecret, encode_records

SECRET = LinkageSecret(bytes(range(32)))
"""The study secret every test agency shares unless a test says otherwise."""

OTHER_SECRET = LinkageSecret(bytes(range(100, 132)))
"""Another study's secret: its files have a different key check."""

PERIOD = (dt.date(2023, 1, 1), dt.date(2023, 12, 31))


@lru_cache(maxsize=8)
def _population(size: int, seed: int) -> pd.DataFrame:
    from cifranegra.datasets.synthetic.population import draw_population

    return draw_population(size, np.random.default_rng(seed), PERIOD)


def _source_rng(source: str, seed: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{source}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def records(source: str, n: int = 20, *, seed: int = 0, population: int | None = None) -> pd.DataFrame:
    """A normalized Records frame of ``n`` persons recorded by ``source`` (no truth column).

    ``population``: the size of the population the persons are drawn from (default ``2 n``, at
    least 40), so two sources share about half their persons.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    size = population if population is not None else max(2 * n, 40)
    if size < n:
        raise ValueError("population must be at least n")
    people = _population(size, seed)
    rows = np.sort(_source_rng(source, seed).choice(size, size=n, replace=False))
    picked = people.iloc[rows].reset_index(drop=True)
    frame = pd.DataFrame({
        "source": source,
        "record_id": [str(i) for i in range(1, n + 1)],
        "given_names": picked["given_names"],
        "first_surname": picked["first_surname"],
        "second_surname": picked["second_surname"],
        "sex": picked["sex"],
        "birth_date": picked["birth_date"],
        "birth_year": picked["birth_date"].dt.year.astype("Int64"),
        "age": picked["age"].astype("Int64"),
        "age_group": picked["age_group"],
        "state": picked["state"],
        "exploitation": picked["exploitation"],
        "registration_date": picked["reference_date"],
        "curp": picked["curp"],
    })
    return frame


def encoded_list(
    study: str,
    source: str,
    n: int = 20,
    *,
    secret: LinkageSecret = SECRET,
    seed: int = 0,
    population: int | None = None,
) -> EncodedList:
    """``n`` records of ``source`` encoded for ``study`` (the project salt) under ``secret``."""
    return encode_records(records(source, n, seed=seed, population=population), secret, study)


def encoded_bytes(
    study: str,
    source: str,
    n: int = 20,
    *,
    secret: LinkageSecret = SECRET,
    seed: int = 0,
    population: int | None = None,
) -> bytes:
    """The encoded Parquet file (as written by ``cifranegra encode``) as bytes."""
    enc = encoded_list(study, source, n, secret=secret, seed=seed, population=population)
    return _bytes_of(enc)


def write_encoded_file(
    path: str | os.PathLike[str],
    study: str,
    source: str,
    n: int = 20,
    *,
    secret: LinkageSecret = SECRET,
    seed: int = 0,
    population: int | None = None,
) -> Path:
    """Write the encoded Parquet file to ``path`` (its folder must exist) and return the path."""
    out = Path(path)
    write_encoded(encoded_list(study, source, n, secret=secret, seed=seed, population=population), out)
    return out


@lru_cache(maxsize=64)
def _cached_bytes(study: str, source: str, n: int, secret_hex: str, seed: int, population: int | None) -> bytes:
    secret = LinkageSecret(bytes.fromhex(secret_hex))
    return encoded_bytes(study, source, n, secret=secret, seed=seed, population=population)


def cached_encoded_bytes(
    study: str,
    source: str,
    n: int = 20,
    *,
    secret_bytes: bytes = bytes(range(32)),
    seed: int = 0,
    population: int | None = None,
) -> bytes:
    """:func:`encoded_bytes`, memoized per process (for load tests that submit the same file often)."""
    return _cached_bytes(study, source, n, secret_bytes.hex(), seed, population)


def _bytes_of(enc: EncodedList) -> bytes:
    """Serialize through :func:`write_encoded` (the one writer) via a private temporary folder."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cifranegra-factory-") as tmp:
        path = Path(tmp) / "list.parquet"
        write_encoded(enc, path)
        return path.read_bytes()
