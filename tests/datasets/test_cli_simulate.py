"""``cifranegra simulate DIR``: the project layout, a ready project file, and every bad option a
clear error (exit 2) checked before anything is drawn."""

import json
import os
import sys
from pathlib import Path

import pytest

from cifranegra import cli
from cifranegra.datasets.synthetic import simulate as simulate_api
from cifranegra.datasets.synthetic.simulate import MAX_AGENCIES, MAX_PERSONS
from cifranegra.errors import InputError
from cifranegra.pipeline import load_project

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")


@pytest.fixture
def run(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_COMMANDS", ("validate", "simulate"))

    def _run(*argv):
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def test_simulate_then_validate(tmp_path, run):
    code, out, _ = run("simulate", str(tmp_path), "--persons", "400", "--seed", "2", "--json")
    assert code == 0
    manifest = json.loads(out)
    assert manifest["n_persons"] == 400 and len(manifest["lists"]) == 6
    assert manifest["truth"] == "truth/truth.csv" and manifest["persons"] == "truth/persons.csv"
    assert (tmp_path / "truth" / "truth.csv").exists() and (tmp_path / "truth" / "persons.csv").exists()
    for entry in manifest["lists"]:
        assert entry["file"].startswith("lists/")
        args = ["validate", str(tmp_path / entry["file"]), "--source", entry["source"]]
        if "mapping" in entry:
            args += ["--mapping", str(tmp_path / entry["mapping"])]
        assert run(*args)[0] == 0, entry


def test_lists_folder_holds_only_lists_and_their_mappings(tmp_path, run):
    """The docs' command validates every list (mapping files found next to their list) and nothing
    else: truth and persons (every name) are kept in truth/."""
    code, out, _ = run("simulate", str(tmp_path), "--persons", "300", "--seed", "4")
    assert code == 0
    lists = sorted(p.name for p in (tmp_path / "lists").iterdir())
    assert lists == sorted(
        ["fiscalia_estatal.csv", "fgr_fevimtra.xlsx", "dif.csv", "refugios.csv", "linea_nacional.parquet",
         "osc.csv", "osc.mapping.json"]
    )
    assert sorted(p.name for p in (tmp_path / "truth").iterdir()) == [
        "persons.csv", "truth.csv", "truth_by_stratum.csv"]
    line = next(x for x in out.splitlines() if x.startswith("check the lists: "))
    argv = line.removeprefix("check the lists: cifranegra ").split()
    files = [str(p) for pattern in argv[1:] for p in sorted(Path("/").glob(pattern.lstrip("/")))]
    assert len(files) == 6  # every list, no mapping, truth or persons file
    code, out, _ = run("validate", *files)
    assert code == 0 and "OK: 0 error(s)" in out


def test_project_file_is_ready(tmp_path, run):
    assert run("simulate", str(tmp_path / "study"), "--persons", "200", "--agencies", "3", "--seed", "7")[0] == 0
    toml = tomllib.loads((tmp_path / "study" / "project.toml").read_text("utf-8"))
    assert toml["name"] == "study" and toml["seed"] == 7 and toml["output"] == "results"
    assert [x["path"] for x in toml["lists"]] == [
        "lists/fiscalia_estatal.csv", "lists/fgr_fevimtra.xlsx", "lists/dif.csv"]
    project = load_project(tmp_path / "study" / "project.toml")  # every list exists, every key known
    assert [s.source for s in project.lists] == ["fiscalia_estatal", "fgr_fevimtra", "dif"]
    assert Path(project.output).resolve() == (tmp_path / "study" / "results").resolve()
    assert project.methods == ("loglinear",)


def test_project_names_an_estimator_that_takes_that_many_lists(tmp_path, run):
    """Above the log-linear limit (15 lists) the ready project names latent classes instead."""
    assert run("simulate", str(tmp_path / "k16"), "--persons", "60", "--agencies", "16")[0] == 0
    assert load_project(tmp_path / "k16" / "project.toml").methods == ("lcmcr",)
    assert run("simulate", str(tmp_path / "k1"), "--persons", "30", "--agencies", "1")[0] == 0
    assert "needs at least two lists" in (tmp_path / "k1" / "project.toml").read_text("utf-8")


def test_mapping_is_named_in_project(tmp_path, run):
    assert run("simulate", str(tmp_path), "--persons", "100", "--seed", "1", "--no-persons")[0] == 0
    toml = tomllib.loads((tmp_path / "project.toml").read_text("utf-8"))
    osc = next(x for x in toml["lists"] if x["source"] == "osc")
    assert osc["mapping"] == "lists/osc.mapping.json"
    assert not (tmp_path / "truth" / "persons.csv").exists()
    assert json.loads((tmp_path / "manifest.json").read_text())["persons"] is None


def test_simulate_text_output_and_bad_args(tmp_path, run):
    code, out, _ = run("simulate", str(tmp_path), "--persons", "200", "--agencies", "3")
    assert code == 0 and "true N 200" in out and "cifranegra run" in out
    assert run("simulate", str(tmp_path / "a"), "--persons", "0")[0] == 2
    assert run("simulate", str(tmp_path / "b"), "--period", "2023-12-31", "2023-01-01")[0] == 2


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--seed", "-1"], "--seed must be a whole number of at least 0"),
        (["--persons", "1000000000"], f"--persons must be from 1 to {MAX_PERSONS:,}"),
        (["--persons", "-5"], "--persons must be from 1"),
        (["--agencies", "0"], "--agencies must be from 1"),
        (["--agencies", str(MAX_AGENCIES + 1)], f"--agencies must be from 1 to {MAX_AGENCIES}"),
        (["--error-scale", "nan"], "--error-scale"),
        (["--error-scale", "-1"], "--error-scale"),
        (["--period", "2023-13-01", "2023-12-31"], "--period takes two ISO dates"),
    ],
)
def test_bad_options_are_clear_errors_before_any_file(tmp_path, run, options, says):
    target = tmp_path / "out"
    code, _, err = run("simulate", str(target), *options)
    assert code == 2 and says in err and "Traceback" not in err
    assert not target.exists()  # refused before the folder is made


def test_huge_population_refused_before_allocating(tmp_path, monkeypatch):
    """The limit is checked before anything is drawn (the population draw is never called)."""
    mod = sys.modules["cifranegra.datasets.synthetic.simulate"]  # the package re-exports the function

    def boom(*a, **k):  # pragma: no cover - reached only if the check is missing
        raise AssertionError("drew a population above the limit")

    monkeypatch.setattr(mod, "draw_population", boom)
    with pytest.raises(InputError, match="n_persons must be from 1 to"):
        simulate_api(n_persons=MAX_PERSONS + 1, seed=0)
    with pytest.raises(InputError, match="seed must be a whole number"):
        simulate_api(n_persons=10, seed=-1)


def test_onto_a_file_an_unwritable_place_or_a_used_folder(tmp_path, run):
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, _, err = run("simulate", str(afile), "--persons", "10")
    assert code == 2 and "is a file, not a folder" in err
    code, _, err = run("simulate", str(afile / "sub"), "--persons", "10")
    assert code == 2 and "cannot write into" in err
    code, _, err = run("simulate", "/proc/cifranegra-test", "--persons", "10")
    assert code == 2 and "cannot write into '/proc/cifranegra-test'" in err
    used = tmp_path / "used"
    assert run("simulate", str(used), "--persons", "20")[0] == 0
    code, _, err = run("simulate", str(used), "--persons", "20")
    assert code == 2 and "already holds project.toml" in err and "--force" in err
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    code, _, err = run("simulate", str(other), "--persons", "20")
    assert code == 2 and "is not empty" in err
    assert run("simulate", str(other), "--persons", "20", "--force")[0] == 0
    assert (other / "notes.txt").read_text() == "mine"  # --force overwrites only the simulation's files


def test_force_replaces_an_earlier_simulation_entirely(tmp_path, run):
    assert run("simulate", str(tmp_path), "--persons", "60", "--agencies", "6")[0] == 0
    assert run("simulate", str(tmp_path), "--persons", "60", "--agencies", "2", "--force", "--no-persons")[0] == 0
    assert sorted(p.name for p in (tmp_path / "lists").iterdir()) == ["fgr_fevimtra.xlsx", "fiscalia_estatal.csv"]
    assert not (tmp_path / "truth" / "persons.csv").exists()


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder(tmp_path, run):  # pragma: no cover - CI runs as a normal user
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run("simulate", str(locked / "x"), "--persons", "10")
    assert code == 2 and "cannot write into" in err


def test_flat_layout_unchanged_for_the_python_api(tmp_path):
    """The demo's layout: every file in one folder, paths in the manifest are bare file names."""
    sim = simulate_api(n_persons=80, n_agencies=2, seed=3)
    manifest = sim.write(tmp_path, persons=False)
    assert [e["file"] for e in manifest["lists"]] == ["fiscalia_estatal.csv", "fgr_fevimtra.xlsx"]
    assert (tmp_path / "truth.csv").exists() and not (tmp_path / "project.toml").exists()
    with pytest.raises(InputError, match="layout must be one of"):
        sim.write(tmp_path, layout="nested")
