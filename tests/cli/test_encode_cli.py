"""`cifranegra encode`: output paths, secrets and unrecognised values end in clear errors, never a
traceback, never an overwritten input, never an echoed secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cifranegra import cli
from cifranegra.ingest.encoded import read_encoded

LIST = (
    "record_id,given_names,first_surname,second_surname,birth_date,sex,state,registration_date,exploitation\n"
    "1,María Guadalupe,Hernández,López,1990-03-04,F,CDMX,2021-05-01,sexual_exploitation\n"
    "2,José Luis,Pérez,García,1985-11-30,M,Jalisco,2022-01-01,Zorbalindez\n"
    "3,Ana,Ruiz,Soto,1999-01-02,F,Jalisco,2022-02-01,forced_labour\n"
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setattr(cli, "_COMMANDS", ("encode",))
    monkeypatch.delenv("CIFRANEGRA_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)
    secret = tmp_path / "study.secret"
    assert cli.main(["encode", "--new-secret", str(secret)]) == 0
    lst = tmp_path / "a.csv"
    lst.write_text(LIST, encoding="utf-8")
    capsys.readouterr()

    def run(*argv: str) -> tuple[int, str]:
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:  # argparse's usage errors
            code = int(exc.code or 0)
        return code, capsys.readouterr().err

    def encode(*extra: str) -> tuple[int, str]:
        return run("encode", str(lst), "--project", "p", "--secret-file", str(secret), *extra)

    return run, encode, lst, secret


def test_output_into_a_missing_folder(env, tmp_path):
    _, encode, *_ = env
    code, err = encode("-o", str(tmp_path / "nodir" / "a.parquet"))
    assert code == 2 and "the folder" in err and "does not exist; create it first" in err
    assert not (tmp_path / "nodir").exists()  # not created: a typo must not hide the file


def test_output_onto_a_folder_even_with_force(env, tmp_path):
    _, encode, *_ = env
    (tmp_path / "od").mkdir()
    code, err = encode("-o", str(tmp_path / "od"), "--force")
    assert code == 2 and "is a folder; give the name of the encoded file" in err and "Traceback" not in err


def test_output_never_overwrites_an_input(env, tmp_path):
    _, encode, lst, secret = env
    for target in (lst, secret):
        code, err = encode("-o", str(target), "--force")
        assert code == 2 and "is the same file as" in err
    assert lst.read_text(encoding="utf-8") == LIST and len(secret.read_text().strip()) == 64


def test_output_must_be_named_parquet(env, tmp_path):
    """Review finding: `-o x.csv` wrote a Parquet file named .csv. An encoded list is a Parquet file
    (docs/private-linkage.md, the encode --help), so another suffix is refused before the secret or
    the list is read; the suffix check is case-insensitive."""
    _, encode, *_ = env
    for name in ("x.csv", "x", "x.parquet.txt"):
        code, err = encode("-o", str(tmp_path / name))
        assert code == 2 and "an encoded list is a Parquet file" in err and "Traceback" not in err
        assert not (tmp_path / name).exists()
    assert repr(str(tmp_path / "x.parquet")) in encode("-o", str(tmp_path / "x.csv"))[1]
    code, err = encode("-o", str(tmp_path / "X.PARQUET"), "--unrecognised", "unknown")
    assert code == 0, err
    assert len(read_encoded(tmp_path / "X.PARQUET")) == 3


def test_output_into_an_unwritable_place(env):
    _, encode, *_ = env
    code, err = encode("-o", "/proc/cifranegra-x.parquet", "--unrecognised", "unknown")
    assert code == 2 and "cannot write the encoded file '/proc/cifranegra-x.parquet'" in err


def test_existing_output_needs_force_and_force_replaces_it(env, tmp_path):
    _, encode, *_ = env
    out = tmp_path / "a.parquet"
    out.write_bytes(b"old")
    code, err = encode("-o", str(out), "--unrecognised", "unknown")
    assert code == 2 and "pass --force" in err and out.read_bytes() == b"old"
    assert encode("-o", str(out), "--unrecognised", "unknown", "--force")[0] == 0
    assert len(read_encoded(out)) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left


def test_new_secret_into_a_missing_folder_or_onto_a_folder(env, tmp_path):
    run, *_ = env
    code, err = run("encode", "--new-secret", str(tmp_path / "nodir" / "k.secret"))
    assert code == 2 and "does not exist; create it first" in err
    code, err = run("encode", "--new-secret", str(tmp_path))
    assert code == 2 and "is a folder" in err
    code, err = run("encode", "--new-secret", "/proc/cifranegra-k.secret")
    assert code == 2 and "cannot create the secret file" in err


def test_a_secret_typed_as_the_file_name_is_never_echoed(env, monkeypatch):
    run, _, lst, secret = env
    value = secret.read_text().strip()
    code, err = run("encode", str(lst), "--project", "p", "--secret-file", value, "-o", "x.parquet")
    assert code == 2 and value not in err and "looks like a secret itself" in err
    code, err = run("encode", str(lst), "--project", "p", "--secret-file", str(lst.parent), "-o", "x.parquet")
    assert code == 2 and "is a folder" in err


def test_unrecognised_values_refused_or_kept_as_unknown(env, tmp_path):
    _, encode, *_ = env
    code, err = encode("-o", str(tmp_path / "e.parquet"))
    assert code == 2 and "--unrecognised unknown" in err and not (tmp_path / "e.parquet").exists()
    code, err = encode("-o", str(tmp_path / "u.parquet"), "--unrecognised", "unknown")
    assert code == 0 and "unrecognised" in err and "Zorbalindez" not in err
    enc = read_encoded(tmp_path / "u.parquet")
    assert len(enc) == 3  # the record with the unrecognised form is kept
    code, err = encode("-o", str(tmp_path / "v.parquet"), "--unrecognised", "ignore")
    assert code == 2 and "invalid choice" in err


def test_only_the_secret_file_or_environment_carry_the_secret(env):
    """No option takes the secret itself (docs/private-linkage.md)."""
    parser = cli.build_parser()
    encode = parser._subparsers._group_actions[0].choices["encode"]  # type: ignore[union-attr]
    options = {o for a in encode._actions for o in a.option_strings}
    assert not {o for o in options if "secret" in o} - {"--secret-file", "--new-secret"}
    assert encode.allow_abbrev is False
    assert os.environ.get("CIFRANEGRA_SECRET") is None
