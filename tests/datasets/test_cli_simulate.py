"""``cifranegra simulate DIR``."""

import json

import pytest

from cifranegra import cli


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
    assert (tmp_path / "truth.csv").exists()
    for entry in manifest["lists"]:
        args = ["validate", str(tmp_path / entry["file"]), "--source", entry["source"]]
        if "mapping" in entry:
            args += ["--mapping", str(tmp_path / entry["mapping"])]
        assert run(*args)[0] == 0, entry


def test_simulate_text_output_and_bad_args(tmp_path, run):
    code, out, _ = run("simulate", str(tmp_path), "--persons", "200", "--agencies", "3")
    assert code == 0 and "true N 200" in out
    assert run("simulate", str(tmp_path), "--persons", "0")[0] == 2
    assert run("simulate", str(tmp_path), "--period", "2023-12-31", "2023-01-01")[0] == 2
