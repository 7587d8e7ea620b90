"""`estimate`, `compare`, `describe` on hostile or degenerate input: exit 2 with a message in the
CLI's words, never a traceback; degenerate answers flagged in text and JSON (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cifranegra.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    assert e.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("command", ["estimate", "compare"])
def test_negative_seed(capsys: pytest.CaptureFixture[str], command: str) -> None:
    err = _usage_error(capsys, command, "MultipleSystemsEstimation_Korea", "--seed", "-1")
    assert "--seed: must be a whole number ≥ 0, got -1" in err and "Traceback" not in err


def _wide(tmp_path: Path, k: int) -> Path:
    rng = np.random.default_rng(0)
    caps = rng.random((400, k)) < 0.1
    caps[caps.sum(axis=1) == 0, 0] = True
    df = pd.DataFrame(caps.astype(int), columns=[f"L{i}" for i in range(k)]).value_counts().reset_index(name="count")
    f = tmp_path / f"wide{k}.csv"
    df.to_csv(f, index=False)
    return f


def test_thirty_lists_describe_works_and_estimate_names_the_limit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = _wide(tmp_path, 30)  # a dense table would be 2^30 cells (8 GiB)
    code, out, _ = run(capsys, "describe", str(f), "--json")
    d = json.loads(out)
    assert code == 0 and len(d["lists"]) == 30 and d["observed"] == 400
    assert sum(d["patterns"].values()) == 400 and sum(d["by_number_of_lists"].values()) == 400
    code, _, err = run(capsys, "estimate", str(f), "--method", "dga")
    assert code == 2 and "'dga' supports at most 7 lists, got 30" in err
    code, _, err = run(capsys, "estimate", str(f))
    assert code == 2 and "'loglinear' supports at most 15 lists, got 30" in err
    code, _, err = run(capsys, "estimate", str(f), "--method", "lcmcr")
    assert code == 2 and "at most 24 lists, got 30" in err and "merge" in err


def test_describe_matches_the_dense_summary(capsys: pytest.CaptureFixture[str]) -> None:
    from cifranegra.datasets.reference import load_reference

    code, out, _ = run(capsys, "describe", "SparseMSE_UKdat_5", "--json")
    assert code == 0
    d = json.loads(out)
    h = load_reference("SparseMSE_UKdat_5")
    dense = h.describe()
    for key in ("lists", "observed", "list_sizes", "overlaps", "non_overlapping_pairs", "patterns"):
        assert d[key] == dense[key], key
    assert d["by_number_of_lists"] == {str(k): v for k, v in dense["by_number_of_lists"].items()}


def test_too_many_lists_for_a_bit_mask(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "w.csv"
    f.write_text(",".join(f"L{i}" for i in range(70)) + "\n" + ",".join(["1"] * 70) + "\n")
    code, _, err = run(capsys, "describe", str(f))
    assert code == 2 and "at most 62 lists" in err


def test_sample_coverage_degenerate_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "SparseMSE_Artificial_3", "--method", "sample-coverage", "--seed", "1",
                       "--n-boot", "50")
    assert code == 0
    assert "(= the observed count: not an estimate" in out
    assert "interval        not available:" in out and "95% interval" not in out
    assert "--variant low" in out
    code, out, _ = run(capsys, "estimate", "SparseMSE_Artificial_3", "--method", "sample-coverage", "--seed", "1",
                       "--n-boot", "50", "--json")
    d = json.loads(out)
    assert d["interval"] is None and "lower bound" in d["interval_note"]
    assert "no positive solution" in d["at_observed_count"]["reason"]
    code, out, _ = run(capsys, "estimate", "SparseMSE_Artificial_3", "--method", "sample-coverage", "--variant", "low",
                       "--seed", "1", "--n-boot", "50", "--json")
    d = json.loads(out)
    assert code == 0 and round(d["estimate"]) == 707 and d["interval"]["lower"] < d["interval"]["upper"]
    assert d["at_observed_count"] is None and d["settings"]["variant"] == "low"


def test_dga_degenerate_and_its_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    df = pd.read_csv(Path(__file__).parents[2] / "src/cifranegra/datasets/data/MultipleSystemsEstimation_Kosovo.csv")
    three = df.groupby(["EXH", "ABA", "OSCE"], as_index=False)["count"].sum()
    three = three[three[["EXH", "ABA", "OSCE"]].sum(axis=1) > 0]
    f = tmp_path / "kosovo3.csv"
    three.to_csv(f, index=False)
    code, out, _ = run(capsys, "estimate", str(f), "--method", "dga")
    assert code == 0 and "estimated total 4,094  (= the observed count" in out and "complete graph" in out
    code, out, _ = run(capsys, "estimate", str(f), "--method", "dga", "--delta", "1", "--prior", "rissanen",
                       "--max-n", "60000", "--json")
    d = json.loads(out)
    assert code == 0 and d["settings"]["delta"] == 1.0 and d["settings"]["prior"] == "rissanen"
    code, out, _ = run(capsys, "compare", str(f), "--methods", "dga,independence", "--no-sensitivity", "--seed", "1")
    assert code == 0 and "4,094*" in out and "* decomposable-graph averaging" in out


def test_options_speak_cli(capsys: pytest.CaptureFixture[str]) -> None:
    korea = "MultipleSystemsEstimation_Korea"
    code, _, err = run(capsys, "estimate", korea, "--n-boot", "-5")
    assert code == 2 and "--n-boot must be a whole number from 0 to 1,000,000, got -5" in err and "n_boot" not in err
    code, _, err = run(capsys, "estimate", korea, "--method", "dga", "--variant", "low")
    assert code == 2 and "--variant does not apply to --method dga" in err and "--delta" in err
    code, _, err = run(capsys, "estimate", korea, "--method", "dga", "--option", "dleta=1")
    assert code == 2 and "did you mean --delta?" in err
    code, _, err = run(capsys, "estimate", korea, "--method", "dga", "--option", "delta=x")
    assert code == 2 and "--delta" in err and "got 'x'" in err and "positive number" in err
    assert err.count("\n") == 1 and "Traceback" not in err  # one clear line
    code, _, err = run(capsys, "estimate", korea, "--method", "lcmcr", "--max-classes", "0")
    assert code == 2 and "--max-classes must be a whole number ≥ 1, got 0" in err and "Traceback" not in err
    code, out, _ = run(capsys, "estimate", korea, "--method", "dga", "--option", "top_models=2", "--json")
    assert code == 0 and len(json.loads(out)["details"]["models"]) == 2
    err = _usage_error(capsys, "estimate", korea, "--option", "nonsense")
    assert "expected NAME=VALUE" in err


def test_options_checked_before_reading(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "estimate", "no_such_file.csv", "--method", "dga", "--option", "priro=1/N")
    assert code == 2 and "no option 'priro'" in err  # not "no such file": options first


def test_missing_count_column_speaks_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("a,b,n\n1,0,3\n0,1,4\n1,1,1\n")
    code, _, err = run(capsys, "estimate", str(f))
    assert code == 2 and "--per-person" in err and "--count COL" in err


def test_capture_table_fuzz_cases_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cases = {
        "dup_short": "a,a,count\n1,0,3\n0,1\n1,1,2\n",
        "huge": "a,b,count\n1,0,1e300\n0,1,4\n1,1,2\n",
        "ragged": "a,b,count\n1,0,3\n0,1\n1,1,2,QUIZ850101HDFRRL09\n",
        "curp": "a,b,count\n1,0,QUIZ850101HDFRRL09\n0,1,1\n1,1,2\n",
    }
    for name, text in cases.items():
        f = tmp_path / f"{name}.csv"
        f.write_text(text)
        for command in ("estimate", "describe"):
            code, out, err = run(capsys, command, str(f), "--json")
            assert code == 2, (name, command)
            assert "Traceback" not in err and "QUIZ" not in err + out and out == ""


def _stratified_with_curps(tmp_path: Path) -> tuple[Path, list[str]]:
    """A per-person table whose stratum column holds CURPs (a column named as a stratum by mistake),
    and one readable stratum column (sex) — fuzz case describe:625 of bench/fuzz.py, issue 12."""
    rng = np.random.default_rng(3)
    curps = ["GOMA850312MDFRRN04", "LOPJ900101HJCPRN09", "HEMR771224MOCRRS02"]
    rows = []
    for i in range(300):
        caps = rng.random(3) < 0.5
        if not caps.any():
            caps[0] = True
        rows.append([*caps.astype(int), curps[i % 3], "F" if i % 2 else "M"])
    df = pd.DataFrame(rows, columns=["A", "B", "C", "grupo", "sexo"])
    f = tmp_path / "stratified.csv"
    df.to_csv(f, index=False)
    return f, curps


@pytest.mark.parametrize("command", ["describe", "estimate"])
@pytest.mark.parametrize("as_json", [False, True])
def test_stratum_values_masked(capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str,
                               as_json: bool) -> None:
    f, curps = _stratified_with_curps(tmp_path)
    args = [command, str(f), "--per-person", "--lists", "A", "B", "C", "--strata", "grupo", "sexo"]
    if command == "estimate":
        args += ["--method", "independence"]
    code, out, err = run(capsys, *args, *(["--json"] if as_json else []))
    assert code == 0, err
    for curp in curps:
        for piece in (curp, curp[:10], curp[4:10]):
            assert piece not in out + err
    # the identifying stratum is shown masked, each stratum apart; the code-list one readable
    assert "GO***" in out and "LO***" in out and "HE***" in out
    if as_json:
        strata = [s["stratum"] for s in json.loads(out)["strata"]]
        assert {s["sexo"] for s in strata} == {"F", "M"}
        assert len({tuple(s.values()) for s in strata}) == 6
    else:
        assert "sexo=F" in out and "sexo=M" in out
