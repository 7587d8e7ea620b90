"""The CLI's last-resort handlers (cifranegra.cli.main): never a traceback, never an exception's own
message (it may quote data), the right exit code for each kind of failure."""

from __future__ import annotations

import errno
import json
import sys
import warnings

import pytest

from cifranegra import cli
from cifranegra.estimation.histories import CaptureDataWarning

PLANTED = "GOOF160325MTCNRRA3 María Fernanda"  # what a library's message could quote from a cell


@pytest.fixture
def run(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_COMMANDS", ("simulate", "encode"))
    monkeypatch.delenv(cli.DEBUG_ENV_VAR, raising=False)

    def _run(*argv):
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def _simulate_raising(monkeypatch, exc_factory):
    """Make `cifranegra simulate` fail inside the library call it makes, with ``exc_factory()``."""
    import cifranegra.cli.simulate as cmd

    def failing(**kwargs):
        json.loads("{")  # a library frame below ours ... whose error is replaced by the planted one
        return None

    def wrapper(**kwargs):
        try:
            failing(**kwargs)
        except ValueError:
            raise exc_factory() from None

    monkeypatch.setattr(cmd, "simulate", wrapper)


def test_unexpected_exception_is_one_line_exit_3_without_its_message(run, monkeypatch, tmp_path):
    _simulate_raising(monkeypatch, lambda: KeyError(PLANTED))
    code, out, err = run("simulate", str(tmp_path / "x"), "--persons", "5")
    assert code == cli.EXIT_INTERNAL == 3
    assert err.startswith("cifranegra: internal error (KeyError in cifranegra.cli.simulate:")
    assert "this is a bug — please report it with the command you ran, not your data" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "GOOF160325" not in err and "María" not in err and out == ""


def test_location_names_our_frame_and_the_library_frame(monkeypatch, tmp_path, run):
    import cifranegra.cli.simulate as cmd

    monkeypatch.setattr(cmd, "simulate", lambda **kw: json.loads("{" + PLANTED))
    code, _, err = run("simulate", str(tmp_path / "x"), "--persons", "5")
    assert code == 3
    assert "JSONDecodeError in cifranegra.cli.simulate:" in err and " via json.decoder:" in err
    assert "María" not in err and "Expecting" not in err


def test_debug_variable_lets_the_traceback_through(run, monkeypatch, tmp_path):
    _simulate_raising(monkeypatch, lambda: KeyError("boom"))
    monkeypatch.setenv(cli.DEBUG_ENV_VAR, "1")
    with pytest.raises(KeyError):
        cli.main(["simulate", str(tmp_path / "x"), "--persons", "5"])


def test_memory_error_is_a_clear_message(run, monkeypatch, tmp_path):
    _simulate_raising(monkeypatch, lambda: MemoryError(PLANTED))
    code, _, err = run("simulate", str(tmp_path / "x"), "--persons", "5")
    assert code == 2 and "cifranegra: error: out of memory (in cifranegra.cli.simulate:" in err
    assert "fewer lists" in err and "GOOF" not in err


def test_os_error_on_the_users_path_names_it_and_the_fix(run, monkeypatch, tmp_path):
    target = tmp_path / "out"
    bad = str(target / "lists" / "dif.csv")
    _simulate_raising(monkeypatch, lambda: PermissionError(errno.EACCES, "Permission denied", bad))
    code, _, err = run("simulate", str(target), "--persons", "5")
    assert code == 2
    assert err.strip() == f"cifranegra: error: {bad!r}: permission denied; check that you may read (or write) it, " \
                          "or choose another path"
    _simulate_raising(monkeypatch, lambda: IsADirectoryError(errno.EISDIR, "Is a directory", str(target)))
    code, _, err = run("simulate", str(target), "--persons", "5")
    assert code == 2 and "is a folder where a file is expected" in err


def test_os_error_elsewhere_is_internal(run, monkeypatch, tmp_path):
    """An OSError on a path the user never named (a library's own file) is a bug, not the user's."""
    _simulate_raising(monkeypatch, lambda: FileNotFoundError(errno.ENOENT, "No such file", "/nonexistent/lib/x.so"))
    code, _, err = run("simulate", str(tmp_path / "x"), "--persons", "5")
    assert code == 3 and "FileNotFoundError in cifranegra.cli.simulate" in err and "/nonexistent" not in err
    _simulate_raising(monkeypatch, lambda: OSError(errno.EIO, "I/O error"))  # no file, unknown cause
    assert run("simulate", str(tmp_path / "y"), "--persons", "5")[0] == 3


def test_no_space_left_without_a_file_name(run, monkeypatch, tmp_path):
    _simulate_raising(monkeypatch, lambda: OSError(errno.ENOSPC, "No space left on device"))
    code, _, err = run("simulate", str(tmp_path / "x"), "--persons", "5")
    assert code == 2 and "No space left on the device; free some space" in err


def test_cifranegra_errors_keep_exit_2(run, tmp_path):
    code, _, err = run("simulate", str(tmp_path / "x"), "--persons", "0")
    assert code == 2 and err.startswith("cifranegra: error: --persons")


def test_usage_error_message_masks_secret(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_COMMANDS", ("encode",))
    secret = "ab" * 32
    with pytest.raises(SystemExit):
        cli.main(["encode", "list.csv", "--secret", secret])
    err = capsys.readouterr().err
    assert secret not in err and "<a secret-like value, not shown>" in err and "--secret-file FILE" in err
    with pytest.raises(SystemExit):  # no abbreviation: `--secret` is not taken for --secret-file
        cli.main(["encode", "list.csv", "--secret", "short"])
    assert "unrecognized arguments: --secret" in capsys.readouterr().err


def test_library_warning_messages_are_withheld_ours_are_shown():
    shown = cli._format_warning(f"value {PLANTED!r} overflowed", RuntimeWarning, "/x/site-packages/numpy/core/a.py", 7)
    assert "GOOF" not in shown and "María" not in shown
    assert shown.startswith("warning: RuntimeWarning at numpy.core.a:7 (a library's message, not shown")
    ours = cli._format_warning("table: no one is on two lists", CaptureDataWarning, __file__, 1)
    assert ours == "warning: table: no one is on two lists\n"
    plain = cli._format_warning("our note", UserWarning, cli.__file__, 3)
    assert plain == "warning: our note\n"
    foreign = cli._format_warning("their note", UserWarning, "/x/site-packages/openpyxl/reader.py", 3)
    assert "their note" not in foreign


def test_warnings_printed_through_main_use_the_safe_format(monkeypatch, capsys, tmp_path):
    """End to end: a library warning raised while a command runs reaches stderr without its text."""
    import cifranegra.cli.simulate as cmd

    monkeypatch.setattr(cli, "_COMMANDS", ("simulate",))
    monkeypatch.setattr(cmd, "simulate", lambda **kw: warnings.warn(PLANTED, RuntimeWarning, stacklevel=1) or 1 / 0)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        monkeypatch.setattr(warnings, "_showwarnmsg_impl", lambda msg: sys.stderr.write(
            warnings.formatwarning(msg.message, msg.category, msg.filename, msg.lineno, msg.line)))
        code = cli.main(["simulate", str(tmp_path / "x"), "--persons", "5"])
    err = capsys.readouterr().err
    assert code == 3 and "warning: RuntimeWarning at" in err and "GOOF" not in err
    assert "ZeroDivisionError in cifranegra.cli.simulate" in err


def test_module_names():
    assert cli._module_name("/usr/lib/python3/site-packages/pandas/core/frame.py") == "pandas.core.frame"
    assert cli._module_name(cli.__file__) == "cifranegra.cli"
    assert cli._module_name(json.decoder.__file__) == "json.decoder"
    assert cli._module_name("/somewhere/else/pkg/mod.py") == "pkg.mod"


def test_main_restores_the_warning_format(run, tmp_path):
    before = warnings.formatwarning
    run("simulate", str(tmp_path / "x"), "--persons", "0")
    assert warnings.formatwarning is before
