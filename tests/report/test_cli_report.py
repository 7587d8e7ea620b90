"""`cifranegra report RESULTS_DIR`: re-renders publish/ from a run's outputs; clear errors otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cifranegra.cli import main
from cifranegra.cli.report import default_output


def test_report_command_writes_the_release(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "pub"
    assert main(["report", str(run_dir), "--lang", "en", "--format", "html", "-o", str(out)]) == 0
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert "report-en.html" in names and "report-es.html" not in names
    assert "metadata.json" in names and "sdg_16_2_2.csv" in names and "tables/capture_patterns.csv" in names
    assert not any(n.endswith(".pdf") for n in names)
    assert not any("entities" in n or n.endswith("results.json") for n in names)
    assert json.loads((out / "metadata.json").read_text(encoding="utf-8"))["disclosure_control"]["passed"]
    assert "published to" in capsys.readouterr().out


def test_the_runs_output_folder_itself_is_read_from_its_internal_folder(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`cifranegra report OUTPUT` (the folder given to run/demo) works like `report OUTPUT/internal`."""
    assert run_dir.name == "internal"
    out = tmp_path / "pub"
    assert main(["report", str(run_dir.parent), "--lang", "en", "--format", "html", "-o", str(out)]) == 0
    assert (out / "report-en.html").is_file() and (out / "tables" / "capture_patterns.csv").is_file()
    assert "published to" in capsys.readouterr().out


def test_default_output_beside_internal(tmp_path: Path) -> None:
    assert default_output(tmp_path / "out" / "internal") == (tmp_path / "out" / "publish").resolve()
    assert default_output(tmp_path / "results") == tmp_path / "results" / "publish"


def test_not_a_run_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", str(tmp_path), "--format", "html"]) == 2
    err = capsys.readouterr().err
    assert "is not the output folder of a run (no results.json)" in err and "Traceback" not in err


@pytest.mark.parametrize(("flag", "value"), [("--lang", "fr"), ("--format", "docx"), ("--lang", "")])
def test_bad_language_or_format(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, flag: str,
                                value: str) -> None:
    assert main(["report", str(run_dir), flag, value, "-o", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert f"{flag}:" in err and "comma-separated" in err
    assert not (tmp_path / "p").exists()


def test_publish_folder_must_not_be_the_run_folder(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", str(run_dir), "--format", "html", "-o", str(run_dir)]) == 2
    assert "must not be the run's output folder" in capsys.readouterr().err
