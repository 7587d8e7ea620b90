"""Fixtures of the pipeline tests (helpers in pipeline_helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "linkage"))

from linkage_synth import simulate_lists
from pipeline_helpers import PROJECT, write_lists


@pytest.fixture(scope="session")
def small_records():
    records, _ = simulate_lists(n_persons=500, capture=(0.4, 0.35), seed=9)
    return records


@pytest.fixture()
def project_dir(tmp_path, small_records):
    lists = write_lists(tmp_path, small_records)
    (tmp_path / "project.toml").write_text(PROJECT.format(lists=lists), encoding="utf-8")
    return tmp_path
