"""`cifranegra estimate` and `describe`: the JSON contract, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cifranegra.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract_bic(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "SparseMSE_UKdat_5", "--select", "bic", "--interval", "profile", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["model"] == "[123,25,34]"
    assert d["observed"] == 2744
    assert abs(d["estimate"] - 25311.29) < 0.5
    assert set(d["interval"]) == {"lower", "upper", "level", "method"}
    assert d["interval"]["method"] == "profile" and d["interval"]["level"] == 0.95
    assert d["lists"] == ["LA", "NG", "PFNCA", "GO", "GP"]


def test_json_interval_none_is_null(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "MultipleSystemsEstimation_Kosovo", "--interval", "none", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["interval"] is None and d["model"] == "[123,14,34]"


def test_all_interface_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "estimate", "MultipleSystemsEstimation_Korea", "--method", "loglinear", "--select",
                       "stepwise", "--pthresh", "0.02", "--interval", "bootstrap", "--n-boot", "50", "--level",
                       "0.9", "--seed", "5", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["model"] == "[12,3]" and d["interval"]["level"] == 0.9 and d["seed"] == 5
    code, out, _ = run(capsys, "estimate", "modslavmse_UKdat_4", "--model", "[12,13,4]", "--max-order", "2", "--json")
    assert code == 0 and json.loads(out)["model"] == "[12,13,4]"
    for method in ("independence", "chao"):
        code, out, _ = run(capsys, "estimate", "MultipleSystemsEstimation_Korea", "--method", method, "--json")
        assert code == 0 and json.loads(out)["estimate"] > 123


def test_bayesian_and_coverage_methods_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    """`--method lcmcr|dga|sample-coverage` on Korea (issue #3's JSON contract): the estimate is the
    posterior median of the draws, the interval the 95% equal-tailed credible interval with method
    "posterior", the chain settings and seed pass through and are recorded; dga equals R dga's
    159 [123, 482] (tests/estimation/test_dga.py), sample coverage CARE1's Nhat 250."""
    code, out, _ = run(capsys, "estimate", "MultipleSystemsEstimation_Korea", "--method", "lcmcr", "--chains", "2",
                       "--samples", "200", "--burn-in", "500", "--seed", "4", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["method"] == "lcmcr" and d["seed"] == 4 and d["interval"]["method"] == "posterior"
    assert d["settings"]["chains"] == 2 and d["settings"]["samples"] == 200 and d["settings"]["burn_in"] == 500
    assert d["settings"]["scale_moves"] == 1
    assert 124 <= d["interval"]["lower"] <= d["estimate"] <= d["interval"]["upper"]
    assert abs(d["estimate"] - 137) <= 0.05 * 137  # R LCMCR 137 (reference_estimates.csv)
    code, again, _ = run(capsys, "estimate", "MultipleSystemsEstimation_Korea", "--method", "lcmcr", "--chains", "2",
                         "--samples", "200", "--burn-in", "500", "--seed", "4", "--json")
    assert json.loads(again)["estimate"] == d["estimate"]
    code, out, _ = run(capsys, "estimate", "MultipleSystemsEstimation_Korea", "--method", "dga", "--json")
    d = json.loads(out)
    assert code == 0 and round(d["estimate"]) == 159 and d["interval"]["method"] == "posterior"
    code, out, _ = run(capsys, "estimate", "MultipleSystemsEstimation_Korea", "--method", "sample-coverage", "--json")
    assert code == 0 and round(json.loads(out)["estimate"]) == 250


def test_two_list_methods(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "two.csv"
    f.write_text("fge,dif,count\n1,0,80\n0,1,60\n1,1,20\n")
    for method, value in (("petersen", 400.0), ("chapman", 101 * 81 / 21 - 1)):
        code, out, _ = run(capsys, "estimate", str(f), "--method", method, "--json")
        assert code == 0 and abs(json.loads(out)["estimate"] - value) < 1e-6


def test_readable_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "MultipleSystemsEstimation_Kosovo", "--interval", "profile")
    assert code == 0
    assert "estimated total 10,357" in out and "observed        4,400" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b,count\n1,0,3\n0,2,4\n", "row 2, column 'b': value 2"),
        ("a,count\n1,3\n", "at least two lists"),
        ("a,b,count\n1,0,-3\n0,1,4\n1,1,1\n", "row 1, column 'count'"),
        ("a,b,c,count\n1,0,0,3\n0,1,0,4\n1,1,0,1\n", "list 'c' has no records"),
        ("a,b,count\n1,0,3\n0,1,4\n0,0,2\n", "unobservable"),
        ("a,b,n\n1,0,3\n0,1,4\n1,1,1\n", "no 'count' column"),
    ],
)
def test_bad_input_exit_2_with_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content)
    code, out, err = run(capsys, "estimate", str(f))
    assert code == 2
    assert message in err and "bad.csv" in err
    assert "Traceback" not in err and out == ""


def test_missing_file_and_bad_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "estimate", "no_such_file.csv")
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "estimate", "SparseMSE_Artificial_3", "--model", "[12,13,23]")
    assert code == 2 and "not identifiable" in err
    code, _, err = run(capsys, "estimate", "MultipleSystemsEstimation_Korea", "--method", "chao", "--select", "bic")
    assert code == 2 and "--select" in err


def test_describe(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "describe", "SparseMSE_Artificial_3")
    assert code == 0 and "no overlap" in out
    code, out, _ = run(capsys, "describe", "SparseMSE_Artificial_3", "--json")
    d = json.loads(out)
    assert d["list_sizes"] == {"A": 46, "B": 36, "C": 20}
    assert d["non_overlapping_pairs"] == [["A", "C"], ["B", "C"]]


def test_describe_says_summed_duplicate_patterns_once(tmp_path: Path) -> None:
    """Review finding: rows repeating a pattern were reported twice, as "note:" in the description and
    as "warning:" on stderr. The note is describe's own channel (it is in --json's "notes" too), so
    the same sentence is said once; a real process, since pytest collects warnings in-process."""
    f = tmp_path / "dup.csv"
    f.write_text("a,b,c,count\n1,0,0,3\n1,0,0,2\n0,1,0,4\n1,1,0,2\n0,0,1,5\n")
    for extra in ((), ("--json",)):
        p = subprocess.run([sys.executable, "-m", "cifranegra", "describe", str(f), *extra],
                           capture_output=True, text=True, check=False)
        assert p.returncode == 0, p.stderr
        said = p.stdout + p.stderr
        assert said.count("2 rows repeat a capture pattern already listed; their counts were summed") == 1, said
        assert "warning:" not in p.stderr
    assert json.loads(p.stdout)["notes"] == ["2 rows repeat a capture pattern already listed; their counts were summed"]
    # estimate's text prints the table's notes too, so the same sentence is not also a warning there;
    # --json has no notes and keeps the warning on stderr
    f.write_text("a,b,c,count\n1,0,0,3\n1,0,0,2\n0,1,0,4\n1,1,0,2\n0,0,1,5\n1,0,1,3\n0,1,1,2\n")
    for extra, where in (((), "stdout"), (("--json",), "stderr")):
        p = subprocess.run([sys.executable, "-m", "cifranegra", "estimate", str(f), "--method", "mth-chao",
                            *extra], capture_output=True, text=True,
                           check=False)
        said = p.stdout + p.stderr
        assert said.count("rows repeat a capture pattern already listed") == 1, said
        assert "rows repeat" in (p.stdout if where == "stdout" else p.stderr), said


def test_summed_duplicates_are_noted_in_their_own_stratum_only(tmp_path: Path) -> None:
    """Review finding: with --strata the note on summed duplicate rows was counted over the whole table
    and shown under every stratum (here "y" has no repeated pattern); each stratum's table and
    description carry their own count, the pooled table the table's."""
    from cifranegra.estimation import CaptureHistories
    from cifranegra.estimation.histories import describe_frame

    frame = pd.DataFrame({"s": ["x", "x", "x", "x", "y", "y", "y"], "a": [1, 1, 0, 1, 1, 0, 1],
                          "b": [0, 0, 1, 1, 0, 1, 1], "count": [3, 2, 4, 2, 5, 6, 7]})
    with pytest.warns(UserWarning, match="2 rows repeat"):
        tables = CaptureHistories.stratified_from_frame(frame, strata=["s"], count="count")
    note = "2 rows repeat a capture pattern already listed; their counts were summed"
    assert tables[("x",)].notes == (note,) and tables[("y",)].notes == ()
    assert tables.pooled is not None and tables.pooled.notes == (note,)
    described = dict(describe_frame(frame, strata=["s"], count="count"))
    assert described[("x",)]["notes"] == [note] and described[("y",)]["notes"] == []


def test_strata(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "conting_spina_strata", "--strata", "eth", "--interval", "profile", "--json")
    assert code == 0
    d = json.loads(out)
    assert {s["stratum"]["eth"] for s in d["strata"]} == {"caucasian", "afro-american", "other"}
    assert any("error" in s for s in d["strata"])


def test_console_script_no_traceback(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("a,b,count\n1,x,3\n")
    p = subprocess.run([sys.executable, "-m", "cifranegra", "estimate", str(f)], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "row 1" in p.stderr


def test_console_returns_main_code_and_freezes_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed command's entry (cifranegra.cli.console) passes main's exit code through and
    leaves the collector's objects frozen, so the interpreter's exit skips its last full collection."""
    import gc

    from cifranegra.cli import console

    monkeypatch.setattr(sys, "argv", ["cifranegra", "estimate", "no-such-table.csv"])
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        assert console() == 2
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_module_entry_writes_complete_output() -> None:
    """``python -m cifranegra`` (through console) still flushes its whole output before exiting."""
    p = subprocess.run(
        [sys.executable, "-m", "cifranegra", "estimate", "SparseMSE_UKdat_5", "--select", "bic", "--interval", "none",
         "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["estimate"] > 10_000
