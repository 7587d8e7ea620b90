"""Issue 13, item 1: a run writes OUTPUT/internal/ (record-level, mode 0700) and OUTPUT/publish/ (only
what may leave the office); the project file's [publication] section is checked at load."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pandas as pd
import pytest
from linkage_synth import simulate_lists
from pipeline_helpers import PROJECT, write_lists

import cifranegra.report as report_module
from cifranegra.cli import main
from cifranegra.errors import InputError, ValidationError
from cifranegra.pipeline import load_project, project_from_dict, run_project
from cifranegra.pipeline.outputs import check_layout, make_internal, publish_release
from cifranegra.pipeline.project import Publication

_BASE = {"lists": [{"source": "A", "path": "a.csv"}, {"source": "B", "path": "b.csv"},
                   {"source": "C", "path": "c.csv"}]}


def _problems(publication: object) -> str:
    with pytest.raises(ValidationError) as info:
        project_from_dict({**_BASE, "publication": publication}, check_files=False)
    return str(info.value)


# ------------------------------------------------------------------------------------------------ [publication]
def test_publication_defaults_and_shape():
    """No section: both languages and formats, the default policy; to_dict is what publish() takes."""
    p = project_from_dict(_BASE, check_files=False)
    assert p.publication == Publication()
    d = p.publication.to_dict()
    assert d["languages"] == ["es", "en"] and d["formats"] == ["html", "pdf"]
    from cifranegra.report.disclosure import DisclosurePolicy

    assert d["disclosure"] == DisclosurePolicy().to_dict()
    from cifranegra.report.release import check_publication

    check_publication(d)  # the report layer accepts every key the project writes
    assert p.to_dict()["publication"] == d


def test_publication_values_are_kept():
    p = project_from_dict({**_BASE, "publication": {
        "title": " Trata 2023 ", "organisation": "INE", "year": 2023, "period": "2023", "languages": ["en"],
        "formats": ["html"], "disclosure": {"threshold": 5, "min_lists": 2},
        "lists": {"A": {"definition": "fiscalía files", "period": "2023"}}}}, check_files=False)
    pub = p.publication
    assert (pub.title, pub.organisation, pub.year, pub.languages, pub.formats) == (
        "Trata 2023", "INE", 2023, ("en",), ("html",))
    assert pub.policy().threshold == 5 and pub.policy().min_lists == 2
    assert pub.lists == {"A": {"definition": "fiscalía files", "period": "2023"}}


@pytest.mark.parametrize(("publication", "expected"), [
    ({"langauges": ["es"]}, "did you mean 'languages'"),
    ({"languages": ["fr"]}, 'languages ["fr"] not offered; choose among "es", "en"'),
    ({"languages": []}, "name at least one of 'es', 'en'"),
    ({"formats": ["docx"]}, 'choose among "html", "pdf"'),
    ({"disclosure": {"threshold": 2}}, "'threshold' must be at least 3"),
    ({"disclosure": {"threshold": "11"}}, "'threshold' must be a whole number"),
    ({"disclosure": {"threshhold": 11}}, "did you mean 'threshold'"),
    ({"disclosure": 11}, "a [publication.disclosure] section"),
    ({"year": 2010}, "no CONAPO population for year 2010"),
    ({"year": "2023"}, "year must be the reference year"),
    ({"title": ""}, "title must be a text"),
    ({"lists": {"D": {"definition": "x"}}}, "list 'D' is not one of the project's lists"),
    ({"lists": {"A": {"defintion": "x"}}}, "did you mean 'definition'"),
    ("yes", "publication must be a table"),
])
def test_bad_publication_is_refused_at_load(publication, expected):
    text = _problems(publication)
    assert expected in text
    assert "publication" in text


def test_every_publication_problem_at_once():
    text = _problems({"languages": ["fr"], "disclosure": {"threshold": 1}, "year": 1999, "colour": "red"})
    assert all(s in text for s in ("not offered", "'threshold' must be at least 3", "year 1999", "'colour'"))


def test_bad_publication_stops_the_run_before_anything_is_read(tmp_path, capsys):
    """A typo in [publication] ends `cifranegra run` at load: exit 2, the key named, no output folder."""
    (tmp_path / "project.toml").write_text(
        'output = "out"\n[[lists]]\nsource = "A"\npath = "a.csv"\n[[lists]]\nsource = "B"\npath = "b.csv"\n'
        '[publication.disclosure]\nthreshhold = 11\n', encoding="utf-8")
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text(f"curp\nX\n# {name}\n", encoding="utf-8")
    assert main(["run", str(tmp_path / "project.toml"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'threshold'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_the_demo_project_has_a_publication_section():
    from cifranegra.pipeline import demo_project

    pub = load_project(demo_project()).publication
    assert pub.year == 2023 and pub.title and set(pub.lists) == {s.source for s in load_project(demo_project()).lists}
    assert pub.languages == ("es", "en") and pub.formats == ("html", "pdf")


# ------------------------------------------------------------------------------------------------ layout
def test_no_publish_writes_internal_only(project_dir, capsys):
    """--no-publish: every file in internal/ (mode 0700), no publish/, and the summary says where
    internal/ is and that only publish/ may leave the office."""
    assert main(["run", str(project_dir / "project.toml"), "-q", "--no-publish"]) == 0
    out = project_dir / "out"
    internal = out / "internal"
    for name in ("results.json", "estimates.csv", "capture_histories.csv", "entities.csv", "linkage_model.json"):
        assert (internal / name).is_file(), name
        assert not (out / name).exists(), name  # nothing at the top of OUTPUT
    if os.name == "posix":
        assert stat.S_IMODE(internal.stat().st_mode) == 0o700
    assert not (out / "publish").exists()
    text = capsys.readouterr().out
    assert f"internal results (record-level; folder readable by you only): {internal}" in text
    assert "publish/ was not written (--no-publish)" in text
    assert text.rstrip().endswith("only publish/ may leave the office; internal/ stays in it")


def test_internal_is_made_private_even_if_it_existed(tmp_path):
    (tmp_path / "internal").mkdir(mode=0o755)
    os.chmod(tmp_path / "internal", 0o755)
    folder = make_internal(tmp_path)
    if os.name == "posix":
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_layout_checks(tmp_path):
    """A publish/ that is not a release is never replaced (refused before the run); files of the old
    flat layout are left where they are, with a warning."""
    assert check_layout(tmp_path, publish=True) == ([], [])
    (tmp_path / "publish").mkdir()
    (tmp_path / "publish" / "notes.txt").write_text("mine", encoding="utf-8")
    problems, _ = check_layout(tmp_path, publish=True)
    assert problems and "is not a release written by cifranegra" in problems[0].message
    assert "--no-publish" in problems[0].message
    assert check_layout(tmp_path, publish=False)[0] == []
    (tmp_path / "publish" / "metadata.json").write_text("{}", encoding="utf-8")
    assert check_layout(tmp_path, publish=True)[0] == []
    (tmp_path / "entities.csv").write_text("x\n", encoding="utf-8")
    _, notes = check_layout(tmp_path, publish=True)
    assert notes and "entities.csv" in notes[0] and "left as they were" in notes[0]


def test_a_foreign_publish_folder_stops_the_run(project_dir, capsys):
    (project_dir / "out" / "publish").mkdir(parents=True)
    (project_dir / "out" / "publish" / "mine.txt").write_text("x", encoding="utf-8")
    assert main(["run", str(project_dir / "project.toml"), "-q"]) == 2
    assert "is not a release written by cifranegra" in capsys.readouterr().err
    assert (project_dir / "out" / "publish" / "mine.txt").exists()
    assert not (project_dir / "out" / "internal").exists()  # refused before the linkage


# ------------------------------------------------------------------------------------------------ publish_release
def _internal(tmp_path: Path) -> Path:
    internal = tmp_path / "internal"
    internal.mkdir()
    return internal


def test_publish_replaces_the_earlier_release_as_a_whole(tmp_path, monkeypatch):
    calls = []

    def fake(results_dir, out_dir, *, langs, formats, policy, publication, progress):
        progress("rendering")
        calls.append((Path(results_dir), langs, formats, policy.threshold, publication["year"]))
        Path(out_dir).mkdir()
        (Path(out_dir) / "metadata.json").write_text("{}", encoding="utf-8")

    monkeypatch.setattr(report_module, "publish", fake, raising=False)
    internal = _internal(tmp_path)
    (tmp_path / "publish").mkdir()
    (tmp_path / "publish" / "stale.csv").write_text("old", encoding="utf-8")
    pub = Publication(year=2023, languages=("en",), formats=("html",), disclosure={"threshold": 5})
    steps = []
    outcome = publish_release(internal, tmp_path, pub, n_lists=3, progress=lambda *a: steps.append(a))
    assert steps == [("publishing", 0, 1), ("publishing: rendering", 0, 1), ("publishing", 1, 1)]
    assert outcome.folder == tmp_path / "publish" and outcome.note is None
    assert calls == [(internal, ("en",), ("html",), 5, 2023)]
    assert sorted(p.name for p in (tmp_path / "publish").iterdir()) == ["metadata.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["internal", "publish"]  # no temporary folder left
    note = publish_release(internal, tmp_path, Publication(), n_lists=2).note
    assert note and "min_lists = 2" in note


def test_a_failed_publication_says_internal_is_written(tmp_path, monkeypatch):
    def fake(results_dir, out_dir, **_):
        Path(out_dir).mkdir()
        (Path(out_dir) / "half.csv").write_text("x", encoding="utf-8")
        raise InputError("the disclosure audit failed")

    monkeypatch.setattr(report_module, "publish", fake, raising=False)
    internal = _internal(tmp_path)
    (tmp_path / "publish").mkdir()
    (tmp_path / "publish" / "metadata.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError) as info:
        publish_release(internal, tmp_path, Publication(), n_lists=3)
    text = str(info.value)
    assert f"the results are written to {internal}, but nothing was published: the disclosure audit failed" in text
    assert f"`cifranegra report {internal}`" in text and "no longer matched" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["internal"]  # no half release, no stale one


def test_without_the_report_packages_nothing_is_promised(tmp_path, monkeypatch):
    """The report extra not installed: no publish/ folder, and a note that says how to get it."""
    def missing(name):
        raise ImportError("No module named 'weasyprint'", name="weasyprint")

    if "publish" in vars(report_module):
        monkeypatch.delitem(vars(report_module), "publish")
    monkeypatch.setattr(report_module, "__getattr__", missing)
    internal = _internal(tmp_path)
    outcome = publish_release(internal, tmp_path, Publication(), n_lists=3)
    assert outcome.folder is None and not (tmp_path / "publish").exists()
    assert outcome.note and "reinstall cifranegra (pip install cifranegra)" in outcome.note
    assert "weasyprint" in outcome.note
    assert f"`cifranegra report {internal}`" in outcome.note


# ------------------------------------------------------------------------------------------------ end to end
_COUNT_COLUMNS = ("count", "records")


def _small_counts(path: Path) -> list[str]:
    """Published cells of a CSV holding a count from 1 to 10 (count columns, and detected-victim values)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    found = []
    for col in frame.columns:
        rows = frame
        if col == "value" and "series" in frame.columns:
            rows = frame[~frame["series"].str.startswith("EXPERIMENTAL")]
        elif col not in _COUNT_COLUMNS:
            continue
        found += [f"{path.name}:{col}={v}" for v in rows[col] if v.strip().isdigit() and 1 <= int(v) <= 10]
    return found


def test_run_publishes_nothing_record_level(tmp_path):
    """A real run with publication: internal/ holds the record-level files, publish/ a release in which no
    name, CURP, birth date or record id of the fixture appears and no count from 1 to 10 is published."""
    pytest.importorskip("jinja2", reason="the report extra (cifranegra[report]) is not installed")
    records, _ = simulate_lists(n_persons=500, capture=(0.4, 0.35, 0.3), seed=9)
    lists = write_lists(tmp_path, records)
    project = PROJECT.format(lists=lists).replace('"chapman", ', "")
    project += '\n[publication]\nyear = 2022\nlanguages = ["en"]\nformats = ["html"]\n'
    (tmp_path / "project.toml").write_text(project, encoding="utf-8")
    result = run_project(tmp_path / "project.toml")
    out = tmp_path / "out"
    assert result.published is not None and result.published.folder == out / "publish", result.published
    assert result.outputs["publish"] == str(out / "publish") and result.outputs["internal"] == str(out / "internal")
    files = [p for p in (out / "publish").rglob("*") if p.is_file()]
    assert {"metadata.json", "report-en.html"} <= {p.name for p in files}
    assert not {"entities.csv", "linkage_model.json", "results.json"} & {p.name for p in files}
    secrets = set(records["record_id"]) | set(records["curp"].dropna())
    secrets |= {str(d) for d in records["birth_date"].dropna()}
    secrets |= {f"{g} {s}" for g, s in zip(records["given_names"], records["first_surname"], strict=True)}
    surnames = {s for s in records["first_surname"].dropna() if len(s) >= 5}
    word = re.compile(r"\b(" + "|".join(map(re.escape, sorted(surnames))) + r")\b")
    assert [s for s in secrets if s in (out / "internal" / "entities.csv").read_text(encoding="utf-8")]  # not blind
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not [s for s in secrets if s in text], path.name
        assert not word.search(text), path.name
        if path.suffix == ".csv":
            assert not _small_counts(path), path.name
    assert json.loads((out / "publish" / "metadata.json").read_text(encoding="utf-8"))
    summary = result.summary_text()
    assert f"publication (disclosure-controlled): {out / 'publish'}" in summary
    assert "only publish/ may leave the office" in summary


def test_small_count_scan_finds_a_small_count(tmp_path):
    """The scan above is not blind: an unflagged 7 in a count column is found."""
    (tmp_path / "t.csv").write_text("sex,count,flag\nfemale,7,\nmale,,primary\ntotal,40,\n", encoding="utf-8")
    assert _small_counts(tmp_path / "t.csv") == ["t.csv:count=7"]
