"""A small simulated run, published once per test session (shared by the report's tests)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from cifranegra.cli import main


def simulated_run(root: Path) -> Path:
    """`cifranegra simulate` (300 persons, 4 agencies) and `cifranegra run` into ``root``; the run's internal folder."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["simulate", str(root / "sim"), "--persons", "300", "--agencies", "4", "--seed", "5"]) == 0
        assert main(["run", str(root / "sim" / "project.toml"), "--no-publish"]) == 0
    results = root / "sim" / "results"
    return results / "internal" if (results / "internal").is_dir() else results


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("matplotlib")
    return simulated_run(tmp_path_factory.mktemp("report_run"))


@pytest.fixture(scope="session")
def published(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("jinja2")
    pytest.importorskip("weasyprint")
    from cifranegra.report.render import publish

    out = tmp_path_factory.mktemp("publish")
    publish(run_dir, out)
    return out
