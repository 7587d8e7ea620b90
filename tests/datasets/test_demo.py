"""The bundled demo set: six agencies, true N 5,000, readable without errors, reproducible."""

import pandas as pd
import pytest

from cifranegra.datasets.demo import (
    DEMO_PERSONS,
    demo_directory,
    demo_lists,
    demo_manifest,
    regenerate,
)
from cifranegra.ingest import read_list


def test_demo_reads_back_and_matches_truth():
    manifest = demo_manifest()
    assert manifest["n_persons"] == DEMO_PERSONS == 5000
    lists = demo_lists()
    assert len(lists) == 6
    truth = pd.read_csv(demo_directory() / "truth.csv", dtype=str, keep_default_na=False)
    by_stratum = pd.read_csv(demo_directory() / "truth_by_stratum.csv")
    assert by_stratum["n"].sum() == 5000
    total = 0
    for entry in lists:
        df, report = read_list(entry["path"], entry["mapping"], entry["source"])
        assert report.ok
        total += len(df)
        assert df.merge(truth, on=["source", "record_id"])["person_id"].notna().all()
    assert total == len(truth)
    observed = truth.loc[truth["duplicate"] == "False", "person_id"].nunique()
    assert observed == manifest["n_observed"]


@pytest.mark.slow
def test_demo_is_reproducible(tmp_path):
    manifest = regenerate(tmp_path)
    assert manifest["lists"] == demo_manifest()["lists"]
    for name in ("fiscalia_estatal.csv", "dif.csv", "refugios.csv", "osc.csv", "truth.csv"):
        assert (tmp_path / name).read_bytes() == (demo_directory() / name).read_bytes(), name
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "linea_nacional.parquet"),
        pd.read_parquet(demo_directory() / "linea_nacional.parquet"),
    )


def test_demo_project_publishes_every_list_with_a_definition():
    """The demo's project file has a [publication] section: reference year 2023 (the lists' year), both
    languages and formats, and a definition for each of the manifest's lists."""
    from cifranegra.pipeline import demo_project, load_project

    project = load_project(demo_project())
    pub = project.publication
    assert pub.year == 2023 and manifest_period_year() == 2023
    assert pub.languages == ("es", "en") and pub.formats == ("html", "pdf")
    assert [s.source for s in project.lists] == [e["source"] for e in demo_manifest()["lists"]]
    assert set(pub.lists) == {s.source for s in project.lists}
    assert all(info.get("definition") for info in pub.lists.values())


def manifest_period_year() -> int:
    first, last = demo_manifest()["parameters"]["period"]
    assert first[:4] == last[:4]
    return int(first[:4])
