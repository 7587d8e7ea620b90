"""`cifranegra encode`: the agency side, end to end."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cifranegra.cli import main
from cifranegra.ingest.encoded import read_encoded
from cifranegra.linkage.private import link_encoded

LIST = (
    "record_id,given_names,first_surname,second_surname,birth_date,sex,state,registration_date,edad\n"
    "1,María Guadalupe,Hernández,López,1990-03-04,F,CDMX,2021-05-01,\n"
    "2,José Luis,Pérez,García,1985-11-30,M,Jalisco,2022-01-01,\n"
    "3,Lupita,Hernández,López,,F,CDMX,2021-03-15,30\n"
)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "study.secret"
    assert main(["encode", "--new-secret", str(path)]) == 0
    return path


def test_new_secret_file_is_private_and_never_overwritten(
    secret_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(secret_file.read_text().strip()) == 64
    assert main(["encode", "--new-secret", str(secret_file)]) == 2
    assert "never overwritten" in capsys.readouterr().err


def test_encode_two_lists_and_link(tmp_path: Path, secret_file: Path) -> None:
    (tmp_path / "a.csv").write_text(LIST, encoding="utf-8")
    (tmp_path / "b.csv").write_text(LIST.replace("Hernández,López,1990", "Hernandez,Lopez,1990"), encoding="utf-8")
    for name in ("a", "b"):
        code = main(["encode", str(tmp_path / f"{name}.csv"), "--source", name.upper(), "--project", "study",
                     "--secret-file", str(secret_file), "-o", str(tmp_path / f"{name}.parquet")])
        assert code == 0
    lists = [read_encoded(tmp_path / f"{n}.parquet") for n in ("a", "b")]
    assert lists[0].sources == ["A"] and len(lists[0]) == 3
    entities = link_encoded(lists)
    assert entities["entity_id"].nunique() <= 4  # at least the exact copies link
    by_id = entities.set_index(["source", "record_id"])["entity_id"]
    assert by_id[("A", "2")] == by_id[("B", "2")]


def test_encode_reports_user_mistakes(tmp_path: Path, secret_file: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.csv").write_text(LIST, encoding="utf-8")
    out = tmp_path / "a.parquet"
    assert main(["encode", str(tmp_path / "a.csv"), "-o", str(out)]) == 2
    assert "--project" in capsys.readouterr().err
    monkeypatch.delenv("CIFRANEGRA_SECRET", raising=False)
    assert main(["encode", str(tmp_path / "a.csv"), "--project", "p", "-o", str(out)]) == 2
    assert "CIFRANEGRA_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("CIFRANEGRA_SECRET", secret_file.read_text().strip())
    assert main(["encode", str(tmp_path / "a.csv"), "--project", "p", "-o", str(out)]) == 0
    assert main(["encode", str(tmp_path / "a.csv"), "--project", "p", "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["encode", str(tmp_path / "missing.csv"), "--project", "p", "-o", str(tmp_path / "x.parquet")]) == 2
