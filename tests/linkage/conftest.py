"""Shared fixtures of the plaintext linkage tests: small synthetic Mexican lists with known truth."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from linkage_synth import fast_settings, simulate_lists


@pytest.fixture(scope="session")
def mexican_lists():
    """(records, population) of three lists over 1,200 persons."""
    return simulate_lists(n_persons=1200, seed=5)


@pytest.fixture(scope="session")
def linked(mexican_lists):
    from cifranegra.linkage import link_records

    records, _ = mexican_lists
    return link_records(records.drop(columns=["person_id"]), fast_settings())
