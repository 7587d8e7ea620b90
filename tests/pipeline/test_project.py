"""The project file: every problem reported at once, paths relative to the file."""

from __future__ import annotations

import pytest

from cifranegra.errors import InputError, ValidationError
from cifranegra.pipeline import load_project


def test_loads_and_resolves_paths(project_dir):
    p = load_project(project_dir / "project.toml")
    assert [s.source for s in p.lists] == ["L1", "L2"]
    assert all(s.path.is_absolute() and s.path.exists() for s in p.lists)
    assert p.linkage.seed == 3 and p.linkage.max_pairs_u == 50000
    assert p.strata == ("sex",) and p.methods == ("chapman", "loglinear")
    assert p.output == project_dir / "out"
    assert p.to_dict()["linkage"]["engine"] == "duckdb"


def test_missing_project_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_project(tmp_path / "nope.toml")


def test_every_problem_at_once(tmp_path):
    (tmp_path / "p.toml").write_text(
        """
        colour = "red"
        [[lists]]
        source = "A"
        path = "missing.csv"
        [[lists]]
        source = "A"
        path = "other.csv"
        encoded = true
        [linkage]
        engine = "oracle"
        [tabulation]
        strata = ["shoe_size"]
        [estimation]
        methods = ["loglinear"]
        linkage_sensitivity = [0.3, 1.0]
        bootstraps = 5
        """,
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as exc:
        load_project(tmp_path / "p.toml")
    text = str(exc.value)
    for fragment in ("colour", "missing.csv", "appears twice", "encoded", "oracle", "shoe_size",
                     "linkage_sensitivity must be", "bootstraps"):
        assert fragment in text


def test_invalid_toml(tmp_path):
    (tmp_path / "p.toml").write_text("name = ", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML"):
        load_project(tmp_path / "p.toml")


def test_linkage_sensitivity_setting(project_dir):
    text = (project_dir / "project.toml").read_text(encoding="utf-8")
    assert load_project(project_dir / "project.toml").linkage_sensitivity == (0.8, 0.9, 0.95)  # default
    for given, expected in (("[0.95, 0.7, 0.7]", (0.7, 0.95)), ("[]", ())):
        (project_dir / "p.toml").write_text(
            text.replace("[estimation]", f"[estimation]\nlinkage_sensitivity = {given}"), encoding="utf-8"
        )
        project = load_project(project_dir / "p.toml")
        assert project.linkage_sensitivity == expected
        assert project.to_dict()["estimation"]["linkage_sensitivity"] == list(expected)


@pytest.mark.parametrize("copy", [False, True])
def test_a_list_given_twice_is_refused(tmp_path, copy):
    """Two [[lists]] of one file (a path pasted twice), or of byte-identical copies, were accepted and
    linked as a complete overlap: the independence estimate fell from 405.5 to 254.3 in the API review's
    example. Refused by path and by content, before any linkage."""
    (tmp_path / "a.csv").write_text("nombre,curp\nMARIA,X\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("nombre,curp\nROSA,Y\n", encoding="utf-8")
    second = "a.csv"
    if copy:
        (tmp_path / "a_copia.csv").write_bytes((tmp_path / "a.csv").read_bytes())
        second = "a_copia.csv"
    (tmp_path / "p.toml").write_text(
        f'[[lists]]\nsource = "A"\npath = "a.csv"\n[[lists]]\nsource = "B"\npath = "b.csv"\n'
        f'[[lists]]\nsource = "C"\npath = "{second}"\n', encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        load_project(tmp_path / "p.toml")
    how = "a byte-for-byte copy of" if copy else "the same file as"
    assert f"the file of list 'C' is {how} that of list 'A'" in str(exc.value)
    assert "MARIA" not in str(exc.value)
    (tmp_path / "p.toml").write_text(
        '[[lists]]\nsource = "A"\npath = "a.csv"\n[[lists]]\nsource = "B"\npath = "b.csv"\n', encoding="utf-8")
    assert [s.source for s in load_project(tmp_path / "p.toml").lists] == ["A", "B"]
