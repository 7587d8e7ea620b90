"""The attack scenario shared by the attack tests and bench/bench_attacks.py.

The victims' file: ``n`` persons of the synthetic Mexican population (``draw_population``, seed
``seed``), one record each, encoded under a secret the attacker never sees. The attacker's
knowledge: a plaintext population of the same kind drawn with a *different* seed (a leaked register
of a similar population; its names follow the public SEP/INEGI frequencies), and the public spec.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from cifranegra.datasets.synthetic.population import draw_population
from cifranegra.linkage.private import EncodedList, EncodingSpec, LinkageSecret, encode_records
from cifranegra.schema.nicknames import canonical_given_name

VICTIMS_SECRET = LinkageSecret(bytes(range(100, 132)))  # the agencies' secret: never given to an attack
ATTACKER_SECRET = LinkageSecret(bytes(range(200, 232)))  # the attacker's own key, for encoding the reference
PROJECT = "attack-study"
PERIOD = (dt.date(2019, 1, 1), dt.date(2023, 12, 31))


def records_of(n: int, seed: int) -> pd.DataFrame:
    """A normalized Records frame of ``n`` synthetic persons (one record each)."""
    pop = draw_population(n, np.random.default_rng(seed), PERIOD)
    reg = pd.to_datetime(pop["reference_date"])
    return pd.DataFrame({
        "source": "A",
        "record_id": [str(i) for i in range(1, n + 1)],
        "given_names": pop["given_names"].astype(object),
        "first_surname": pop["first_surname"].astype(object),
        "second_surname": pop["second_surname"].astype(object),
        "birth_date": pd.to_datetime(pop["birth_date"]),
        "birth_year": pd.to_datetime(pop["birth_date"]).dt.year.astype("Int64"),
        "sex": pop["sex"].astype(object),
        "curp": pop["curp"].astype(object),
        "registration_date": reg,
        "age": pop["age"].astype("Int64"),
        "age_group": pop["age_group"].astype(object),
        "state": pop["state"].astype(object),
        "exploitation": pop["exploitation"].astype(object),
    })


def plaintext_view(records: pd.DataFrame) -> pd.DataFrame:
    """The attributes an attack tries to recover plus the clear fields, as the attacker would
    compute them from a plaintext list (given names canonical, as the encoding reads them)."""
    given = pd.Series([canonical_given_name(str(g)) for g in records["given_names"]], dtype=object)
    return pd.DataFrame({
        "first_surname": records["first_surname"].to_numpy(dtype=object),
        "second_surname": records["second_surname"].to_numpy(dtype=object),
        "given_name": given.to_numpy(dtype=object),
        "birth_year": records["birth_year"].to_numpy(dtype=object),
        "sex": records["sex"].to_numpy(dtype=object),
        "age_group": records["age_group"].to_numpy(dtype=object),
        "year": pd.to_datetime(records["registration_date"]).dt.year.to_numpy(),
    })


@dataclass(frozen=True)
class Scenario:
    """The encoded victims' file, their truth, and the attacker's reference (plaintext and encoded
    under the attacker's own key with the same public spec)."""

    encoded: EncodedList
    truth: pd.DataFrame
    reference: pd.DataFrame
    reference_encoded: EncodedList


@lru_cache(maxsize=8)
def scenario(spec: EncodingSpec, n: int, seed: int = 1, reference_seed: int = 2,
             n_reference: int | None = None) -> Scenario:
    """The scenario for ``spec`` (cached: tests of several attacks share it; treat it as read-only)."""
    victims = records_of(n, seed)
    ref_records = records_of(n_reference or n, reference_seed)
    enc = encode_records(victims, VICTIMS_SECRET, PROJECT, spec)
    ref_enc = encode_records(ref_records, ATTACKER_SECRET, "attacker", spec)
    return Scenario(enc, plaintext_view(victims), plaintext_view(ref_records), ref_enc)
