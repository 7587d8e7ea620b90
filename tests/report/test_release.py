"""The machine-readable release: tidy disclosure-controlled tables, the SDG series, metadata; and a scan of
EVERY published file for identifiers of the simulated persons and for counts 1-10."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cifranegra.errors import InputError
from cifranegra.report.release import build_release, check_publication, read_run, sdg_form

COUNT_COLUMNS = ("count", "records")


def test_sdg_form_follows_the_unodc_categories() -> None:
    assert sdg_form("sexual_exploitation") == "sexual"
    assert sdg_form("forced_labour") == "labour"
    assert sdg_form("labour_exploitation") == "labour"
    assert sdg_form("forced_begging") == "other"
    assert sdg_form("sexual_exploitation|forced_labour") == "other"  # several categories
    assert sdg_form("sexual_exploitation|unknown") == "sexual"
    assert sdg_form("unknown") == "unknown"
    assert sdg_form(None) == "unknown"


def test_unknown_publication_key_is_an_error() -> None:
    with pytest.raises(InputError, match=r"unknown key\(s\) 'titel'.*title"):
        check_publication({"titel": "x"})
    with pytest.raises(InputError, match="year must be a whole number"):
        check_publication({"year": "2023"})


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"not the output folder of a run .no results.json."):
        read_run(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        read_run(tmp_path / "nothing")
    (tmp_path / "results.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not readable JSON"):
        read_run(tmp_path)
    (tmp_path / "results.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match=r"results\.json has no estimates"):
        read_run(tmp_path)


def test_entities_of_another_run_are_refused(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    entities = pd.read_csv(copy / "entities.csv", dtype=str)
    entities[entities["entity_id"] != entities["entity_id"].iloc[0]].to_csv(copy / "entities.csv", index=False)
    with pytest.raises(InputError, match="come from different runs"):
        read_run(copy)


def test_tables_are_tidy_with_margins_and_flags(published: Path) -> None:
    tables = sorted((published / "tables").glob("*.csv"))
    names = {p.stem for p in tables}
    assert {"detected_by_sex_age_exploitation", "detected_by_state", "capture_patterns", "records_by_list",
            "estimates"} <= names
    for path in tables:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert "flag" in frame.columns, path.name
        measure = next((c for c in COUNT_COLUMNS if c in frame.columns), None)
        if measure is None:
            continue
        dims = [c for c in frame.columns if c not in (measure, "flag")]
        assert (frame[dims] == "total").all(axis=1).any(), f"{path.name}: no grand total row"
        withheld = frame["flag"] != ""
        assert (frame.loc[withheld, measure] == "").all(), f"{path.name}: a withheld cell has a value"
        assert (frame.loc[~withheld, measure] != "").all(), f"{path.name}: an empty cell without a flag"
    sdg = pd.read_csv(published / "tables" / "detected_by_sex_age_exploitation.csv", dtype=str)
    assert set(sdg["exploitation"]) >= {"sexual", "labour", "other", "total"}
    assert set(sdg["age_group"]) >= {"0-17", "18+", "total"}


def test_sdg_series_keeps_the_estimate_apart_and_labelled(published: Path) -> None:
    sdg = pd.read_csv(published / "sdg_16_2_2.csv", dtype=str, keep_default_na=False)
    assert set(sdg["series"]) == {"VC_HTF_DETV", "EXPERIMENTAL_HTF_ESTV"}
    experimental = sdg[sdg["series"] == "EXPERIMENTAL_HTF_ESTV"]
    assert experimental["series_description"].str.startswith("EXPERIMENTAL").all()
    assert experimental["nature"].str.contains("not an official").all()
    official = sdg[sdg["series"] == "VC_HTF_DETV"]
    assert official["nature"].str.contains("not prevalence").all()
    national = experimental[(experimental[["sex", "age_group", "exploitation"]] == "total").all(axis=1)]
    assert len(national) == 1 and float(national["value"].iloc[0]) % 10 == 0  # rounded


def test_metadata_has_the_sdg_and_mse_fields(published: Path, run_dir: Path) -> None:
    meta = json.loads((published / "metadata.json").read_text(encoding="utf-8"))
    assert meta["indicator"]["indicator"] == "16.2.2"
    for key in ("lists", "assumptions", "linkage", "estimation", "disclosure_control", "denominators", "software",
                "seed", "input_fingerprints", "reference_period"):
        assert key in meta, key
    assert meta["disclosure_control"]["passed"] is True
    assert meta["disclosure_control"]["policy"]["threshold"] == 11
    assert meta["disclosure_control"]["person_tables"]["withheld"] > 0
    # the run combined imputed linkages (the default with Splink): the metadata says so, from the run's row
    row = build_release(run_dir).row()
    assert row is not None and "linkage" in str(row["interval_includes"]).split("+")
    assert meta["estimation"]["interval"]["includes"]["linkage"] is True
    assert any("imputed linkages" in a for a in meta["assumptions"])
    assert "CONAPO" in meta["denominators"]["source"]
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert meta["seed"] == results["project"]["seed"]
    assert [i["sha256"] for i in meta["input_fingerprints"]] == [i["sha256"] for i in results["inputs"]]


def test_interval_includes_reads_the_runs_row_first() -> None:
    from cifranegra.report.release import interval_includes

    result = {"method": "loglinear", "intervals": [{"method": "bootstrap-bca"}], "settings": {"model": None}}
    assert interval_includes(result) == {"sampling": True, "model_selection": True, "linkage": False,
                                         "linkage_share": None}
    row = {"interval_includes": "sampling+model_selection+linkage", "linkage_share": 0.05}
    assert interval_includes(result, row) == {"sampling": True, "model_selection": True, "linkage": True,
                                              "linkage_share": 0.05}
    assert interval_includes(None, {"interval_includes": "sampling"})["model_selection"] is False


def test_rates_are_of_the_rounded_estimate(run_dir: Path) -> None:
    release = build_release(run_dir)
    row = release.chosen()
    assert row["estimate"] % 10 == 0
    assert row["rate_per_100k"] == pytest.approx(row["estimate"] * 100_000 / row["population"])


# ---------------------------------------------------------------------------------------- the scan
def _texts(folder: Path) -> dict[str, str]:
    """Every published file as text (PDFs through pdftotext)."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".pdf":
            if shutil.which("pdftotext") is None:
                pytest.skip("pdftotext (poppler-utils) is not installed")
            out[str(path)] = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                                            text=True, check=True).stdout
        else:
            out[str(path)] = path.read_text(encoding="utf-8")
    return out


def test_no_identifier_in_any_published_file(published: Path, run_dir: Path) -> None:
    persons = pd.read_csv(run_dir.parent.parent / "truth" / "persons.csv"
                          if (run_dir.parent.parent / "truth").is_dir() else run_dir.parent / "truth" / "persons.csv",
                          dtype=str, keep_default_na=False)
    entities = pd.read_csv(run_dir / "entities.csv", dtype=str)
    curps = set(persons["curp"]) - {""}
    births = set(persons["birth_date"]) - {""}
    names = {f"{g} {s}".lower() for g, s in zip(persons["given_names"], persons["first_surname"], strict=True)}
    record_ids = set(entities["record_id"])
    texts = _texts(published)
    assert any(p.endswith(".pdf") for p in texts) and any(p.endswith(".html") for p in texts)
    for path, text in texts.items():
        lower = text.lower()
        assert not [c for c in curps if c in text], f"{path}: a CURP"
        assert not [b for b in births if b in text], f"{path}: a birth date"
        assert not [n for n in names if n in lower], f"{path}: a name"
        assert not [r for r in record_ids if r in text], f"{path}: a record id"


def test_no_count_from_1_to_10_in_any_published_table(published: Path) -> None:
    for path in (published / "tables").glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for col in COUNT_COLUMNS:
            if col in frame.columns:
                values = pd.to_numeric(frame[col].replace("", None))
                assert not values.between(1, 10).any(), f"{path.name}: a count from 1 to 10"
    sdg = pd.read_csv(published / "sdg_16_2_2.csv", dtype=str, keep_default_na=False)
    values = pd.to_numeric(sdg.loc[sdg["series"] == "VC_HTF_DETV", "value"].replace("", None))
    assert not values.between(1, 10).any()
    # the reports: every cell of a count column (Persons / Records / detected) is <11, [c], 0 or above 10
    for path in published.glob("report-*.html"):
        html = path.read_text(encoding="utf-8")
        for table in re.findall(r"<table.*?</table>", html, flags=re.S):
            header = re.findall(r"<th[^>]*>(.*?)</th>", table)
            counts = [i for i, h in enumerate(header) if h in ("Persons", "Personas", "Records", "Registros",
                                                               "Persons (after linkage)",
                                                               "Personas (tras la vinculación)",
                                                               "Unique detected victims",
                                                               "Víctimas detectadas (personas distintas)")]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S)[1:]:
                cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
                for i in counts:
                    value = cells[i].replace(",", "")
                    assert not (value.isdigit() and 1 <= int(value) <= 10), f"{path.name}: {cells}"


def test_identifier_shares_are_published_from_protected_counts(run_dir: Path) -> None:
    """Records with each identifier per list go through disclosure control with the records table; the share
    is computed from the published counts, and a withheld count gives no share."""
    from cifranegra.report.release import IDENTIFIER_KINDS, build_release

    rel = build_release(run_dir)
    inputs = {i["source"]: i for i in rel.run.results["inputs"]}
    for kind in IDENTIFIER_KINDS:
        table = rel.records.tables[f"records_with_{kind}"]
        assert set(table[kind]) == {"yes", "no", "total"}
        for name, info in inputs.items():
            share, flag = rel.identifier_share(name, kind)
            yes = table[(table["list"] == name) & (table[kind] == "yes")].iloc[0]
            if pd.isna(yes["records"]):
                assert share is None and flag
            else:
                assert share == pytest.approx(info["records_with"][kind] / info["records"])
    assert rel.counts.passed and rel.records.passed


def test_drop_one_estimates_follow_the_estimate_rules(run_dir: Path) -> None:
    from cifranegra.report.disclosure import DisclosurePolicy, round_estimate
    from cifranegra.report.release import build_release

    rel = build_release(run_dir)
    raw = {r["list"]: r for r in rel.run.results["drop_one_list"]}
    assert list(rel.drop_one["list"]) == list(raw)
    for _, r in rel.drop_one.iterrows():
        assert r["estimate"] == round_estimate(raw[r["list"]]["estimate"], rel.policy) and not r["flag"]
    strict = build_release(run_dir, DisclosurePolicy(min_lists=4))  # 4 lists: left-out scenarios have 3
    assert strict.drop_one["estimate"].isna().all() and strict.drop_one["flag"].str.startswith("not estimable").all()


def test_goodness_of_fit_rows_only_when_no_pattern_is_withheld(run_dir: Path) -> None:
    import dataclasses

    from cifranegra.report.disclosure import DisclosurePolicy, ProtectedRelease
    from cifranegra.report.release import build_release

    rel = build_release(run_dir)
    tables = dict(rel.counts.tables)
    tables["capture_patterns"] = tables["capture_patterns"].assign(count=lambda d: d["count"].fillna(0))
    rel = dataclasses.replace(rel, counts=ProtectedRelease(tables, rel.counts.audit))  # nothing withheld
    rows, why = rel.fit_rows()
    assert why == "" and len(rows) == 2 ** len(rel.run.histories.lists) - 1
    assert rows["fitted"].sum() == pytest.approx(rel.run.histories.observed)
    rel = build_release(run_dir, DisclosurePolicy(threshold=10_000))  # every pattern withheld
    rows, why = rel.fit_rows()
    assert rows is None and why.startswith("withheld:")


@pytest.mark.parametrize(("column", "value"), [
    ("sex", "VUQZ111111MDFWQQ05 ZQXCANARIA"),
    ("state", "ZQXCANARIA"),
    ("age_group", "11/11/1911"),
    ("exploitation", "sexual_exploitation|ZQXCANARIA"),
    ("year", "1911-11-11"),
])
def test_entity_strata_cifranegra_never_writes_are_refused_without_showing_them(
    run_dir: Path, tmp_path: Path, column: str, value: str
) -> None:
    """docs/publication.md: `cifranegra report` reads a run's internal folder; a stratum value becomes a
    label of the published tables, so a hand-edited entities.csv must not carry free text into them.
    A canary in `sex` reached tables/detected_by_sex_age_exploitation.csv, sdg_16_2_2.csv and the
    report (found by the identifier audit); now the file is refused by column and row, value masked."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    entities = pd.read_csv(copy / "entities.csv", dtype=str)
    entities.loc[3, column] = value
    entities.to_csv(copy / "entities.csv", index=False)
    with pytest.raises(InputError) as info:
        read_run(copy)
    message = str(info.value)
    assert f"column {column!r}, data row(s) 4: not " in message
    assert "ZQX" not in message and "1911" not in message and "VUQZ" not in message


def test_entity_strata_as_run_writes_them_are_read(run_dir: Path, tmp_path: Path) -> None:
    """The check refuses only what run never writes: an unpadded state code and empty cells are read."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    entities = pd.read_csv(copy / "entities.csv", dtype=str)
    padded = entities.index[entities["state"].fillna("").str.fullmatch(r"0\d")][0]
    entities.loc[padded, "state"] = entities.loc[padded, "state"][1]
    entities.loc[1, "sex"] = None
    entities.to_csv(copy / "entities.csv", index=False)
    assert len(read_run(copy).persons) == len(read_run(run_dir).persons)
