"""``cifranegra validate FILE... [--mapping M] [--json]``: exit codes 0/1/2 and the JSON shape."""

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


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_clean_file_exit_0(tmp_path, run):
    f = write(tmp_path / "a.csv", "Folio;Nombre;Apellido paterno;Sexo\n1;Ana;Paz;H\n", "cp1252")
    code, out, _ = run("validate", f)
    assert code == 0 and "OK" in out


def test_errors_exit_1_with_json(tmp_path, run):
    f = write(
        tmp_path / "a.csv",
        "Folio,Nombre,Fecha de nacimiento,Sexo\n1,MARICELA,31/02/1990,H\n1,Ana,,Q\n",
    )
    code, out, _ = run("validate", f, "--json")
    assert code == 1
    data = json.loads(out)
    problems = data["problems"]
    assert all(set(p) == {"file", "row", "column", "severity", "code", "message"} for p in problems)
    by_code = {p["code"]: p for p in problems}
    assert by_code["invalid_date"]["row"] == 1 and by_code["invalid_date"]["column"] == (
        "Fecha de nacimiento"
    )
    assert by_code["duplicate_record_id"]["row"] == 2
    assert by_code["invalid_sex"]["severity"] == "error"
    assert "31/02/1990" not in out and "MARICELA" not in out
    assert data["summary"]["error:invalid_sex"] == 1


def test_warnings_only_exit_0(tmp_path, run):
    f = write(tmp_path / "a.csv", "Folio,Nombre,CURP\n1,Ana,XYZ\n")
    code, out, _ = run("validate", f, "--json")
    assert code == 0
    codes = [p["code"] for p in json.loads(out)["problems"]]
    assert sorted(codes) == [
        "invalid_curp_format", "name_read_as_full_name", "no_registration_date"]


def test_unusable_exit_2(tmp_path, run):
    code, out, _ = run("validate", str(tmp_path / "missing.csv"))
    assert code == 2 and "unusable" in out
    f = write(tmp_path / "m.json", "{bad")
    g = write(tmp_path / "a.csv", "Folio,Nombre\n1,Ana\n")
    code, _, err = run("validate", g, "--mapping", f)
    assert code == 2 and "cifranegra: error:" in err


def test_mapping_option(tmp_path, run):
    f = write(tmp_path / "a.csv", "ID,NOM,AP1\n1,Ana,Paz\n")
    m = write(
        tmp_path / "m.json", json.dumps({"columns": {"NOM": "given_names", "AP1": "first_surname"}})
    )
    assert run("validate", f)[0] == 2
    assert run("validate", f, "--mapping", m)[0] == 0


def test_unrecognised_option(tmp_path, run):
    f = write(
        tmp_path / "a.csv",
        "Folio,Nombre,Sexo,Entidad,Tipo de explotación\n1,Ana,Zorbalinda,Narnia,Baile folclórico\n"
        "2,Eva,M,CDMX,III\n",
    )
    code, out, _ = run("validate", f, "--json")
    assert code == 1
    assert {"invalid_sex", "invalid_state", "invalid_exploitation"} <= {
        p["code"] for p in json.loads(out)["problems"]}
    code, out, _ = run("validate", f, "--unrecognised", "unknown", "--json")
    data = json.loads(out)
    assert code == 0 and data["n_errors"] == 0
    assert data["summary"]["warning:unrecognised_as_unknown"] == 3
    assert data["files"][0]["n_records"] == 2
    code, out, _ = run("validate", f, "--unrecognised", "unknown")
    assert code == 0 and "read as unknown (--unrecognised unknown)" in out
    assert "Zorbalinda" not in out and "Narnia" not in out
    with pytest.raises(SystemExit):  # argparse names the two choices
        run("validate", f, "--unrecognised", "skip")


def test_misaligned_row_reported_by_field_counts(tmp_path, run):
    f = write(
        tmp_path / "a.csv",
        "nombre,primer_apellido,curp,sexo,estado\nMaria,Lopez,LOPM900101MDFPRR09,M,CDMX,Zorbalinda\n",
    )
    code, out, _ = run("validate", f)
    assert code == 1
    assert "row 1: misaligned row: it has 6 fields and the header 5" in out
    assert "LOPM" not in out and "Maria" not in out and "Zorbalinda" not in out


def test_docs_name_every_validate_option_and_the_new_codes(monkeypatch):
    """docs/ingest.md names every option of `cifranegra validate` and the problem codes added for
    misaligned rows and unrecognised values."""
    from pathlib import Path

    monkeypatch.setattr(cli, "_COMMANDS", ("validate",))
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["validate"]
    flags = {s for a in sub._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
    docs = (Path(__file__).parents[2] / "docs" / "ingest.md").read_text(encoding="utf-8")
    assert flags and not [f for f in sorted(flags) if f not in docs]
    for code in ("malformed_row", "unrecognised_as_unknown", "unusable_input", "unmapped_column"):
        assert f"`{code}`" in docs


def test_max_problems_must_not_be_negative(tmp_path, run):
    f = write(tmp_path / "a.csv", "Folio,Nombre,Sexo\n1,Ana,Q\n2,Eva,Q\n")
    with pytest.raises(SystemExit):
        run("validate", f, "--max-problems", "-1")
    code, out, _ = run("validate", f, "--max-problems", "0")
    assert code == 1 and "... 4 more (use --json for all)" in out
