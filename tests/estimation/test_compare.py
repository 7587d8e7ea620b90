"""`compare`: every family on one table, list sensitivity, and the `cifranegra compare` command."""

from __future__ import annotations

import argparse
import json
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from cifranegra.errors import InputError
from cifranegra.estimation.compare import compare
from cifranegra.estimation.histories import CaptureHistories

QUICK = {"lcmcr": {"chains": 2, "samples": 100, "burn_in": 500, "thin": 2}}
DATA = resources.files("cifranegra.datasets") / "data"


def load(name: str) -> CaptureHistories:
    with (DATA / name).open() as fh:
        return CaptureHistories.from_frame(pd.read_csv(fh), source=name)


def test_table_has_every_family_and_sensitivity() -> None:
    h = load("MultipleSystemsEstimation_Korea.csv")
    c = compare(h, seed=1, n_boot=20, options=QUICK, merges=[["b", "c"]])
    assert {"dga", "lcmcr", "sample-coverage", "sample-coverage-low"} <= set(c.table["family"])
    ok = c.table[c.table["status"] == "ok"].set_index("family")
    assert ok.loc["dga", "estimate"] == 159  # R dga (reference_estimates.csv)
    assert round(ok.loc["sample-coverage", "estimate"]) == 250  # R CARE1 Nhat
    scen = set(c.sensitivity["scenario"])
    assert scen == {"drop b", "drop c", "drop d", "merge b+c"}
    # two lists left after a drop: dga says why it cannot apply, Chapman steps in
    drop = c.sensitivity[c.sensitivity["scenario"] == "drop b"].set_index("family")
    assert drop.loc["dga", "status"] == "not applicable"
    assert "chapman" in drop.index
    d = c.to_dict()
    json.dumps(d)  # plain JSON
    assert d["observed"] == 123 and d["settings"]["seed_entropy"] == 1


def test_same_seed_same_table() -> None:
    h = load("MultipleSystemsEstimation_Korea.csv")
    kw = {
        "families": ["lcmcr", "sample-coverage"],
        "seed": 3,
        "n_boot": 20,
        "options": QUICK,
        "sensitivity": False,
    }
    a, b = compare(h, **kw), compare(h, **kw)
    pd.testing.assert_frame_equal(a.table.drop(columns="elapsed_s"), b.table.drop(columns="elapsed_s"))


def test_bad_requests() -> None:
    h = load("MultipleSystemsEstimation_Korea.csv")
    with pytest.raises(InputError, match="unknown method"):
        compare(h, families=["magic"])
    with pytest.raises(InputError, match="merge group"):
        compare(h, merges=[["b", "zz"]])


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"level": 2.0}, "level must be a number between 0 and 1"),
        ({"n_boot": -5}, "n_boot must be a whole number"),
        ({"families": ["lcmcr"], "options": {"lcmcr": {"chains": 0}}}, "lcmcr: chains must be"),
        ({"merges": [["b", "b"]]}, "two different lists"),
        ({"merges": [["b", "c", "b"]]}, "names a list twice"),
    ],
)
def test_bad_options_are_refused_before_any_fit(kw: dict, match: str) -> None:
    # docs/hardening.md ("Fail fast"; exit 2 for options that cannot be used): before, compare ran and
    # returned a table of rows "not applicable: level must be ..." (exit 0), and a merge group naming
    # one list twice gave an empty "merge b+b" row
    h = load("MultipleSystemsEstimation_Korea.csv")
    with pytest.raises(InputError, match=match):
        compare(h, sensitivity=False, **kw)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"families": ["chao", "chao"]}, r"^method famil\(ies\) \['chao'\] named twice; name each method once$"),
        ({"families": ["chao"], "sensitivity_families": ["chao", "independence", "chao"]},
         r"^sensitivity_families: method famil\(ies\) \['chao'\] named twice"),
    ],
)
def test_a_family_named_twice_is_refused(kw: dict, match: str) -> None:
    # review finding: `--methods chao,chao` printed the chao row twice; refused like a merge group that
    # names a list twice (_check_merges, "names a list twice; name each list once"), before any fit
    h = load("MultipleSystemsEstimation_Korea.csv")
    with pytest.raises(InputError, match=match):
        compare(h, **kw)


def test_cli_refuses_a_method_named_twice(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    # the same through `cifranegra compare --methods chao,chao`: exit 2, the row is not printed twice
    from cifranegra.cli import main

    path = tmp_path / "korea.csv"
    path.write_text((DATA / "MultipleSystemsEstimation_Korea.csv").read_text())
    assert main(["compare", str(path), "--methods", "chao, chao", "--no-sensitivity"]) == 2
    out, err = capsys.readouterr()
    assert "['chao'] named twice; name each method once" in err and "Traceback" not in err
    assert out == ""


def test_cli_text_says_no_interval_rather_than_nan(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    # sample coverage with --n-boot 0 has no interval method; the DataFrame holds NaN there, which the
    # table printed as "nan" (docs/hardening.md, "Honest degenerate answers": the reason, not a blank)
    path = tmp_path / "korea.csv"
    path.write_text((DATA / "MultipleSystemsEstimation_Korea.csv").read_text())
    assert _cli([str(path), "--methods", "sample-coverage,chao", "--n-boot", "0", "--no-sensitivity"]) == 0
    row = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("sample coverage"))
    assert "nan" not in row and "no interval" in row


def _cli(argv: list[str]) -> int:
    from cifranegra.cli import compare as cmd

    parser = argparse.ArgumentParser()
    cmd.register(parser.add_subparsers())
    args = parser.parse_args(["compare", *argv])
    return int(args.func(args))


def test_cli_json_and_text(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    path = tmp_path / "korea.csv"
    path.write_text((DATA / "MultipleSystemsEstimation_Korea.csv").read_text())
    assert (
        _cli(
            [
                str(path),
                "--json",
                "--methods",
                "dga,sample-coverage",
                "--seed",
                "1",
                "--n-boot",
                "20",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert [r["family"] for r in out["table"]] == ["dga", "sample-coverage"]
    assert _cli([str(path), "--methods", "dga", "--no-sensitivity"]) == 0
    text = capsys.readouterr().out
    assert "decomposable-graph averaging" in text and "159" in text


def test_cli_missing_file_is_an_input_error(tmp_path) -> None:
    with pytest.raises(InputError, match="no such file"):
        _cli([str(tmp_path / "nope.csv")])


def test_rcapture_heterogeneity_rows_with_standard_errors() -> None:
    """Rcapture 1.4.4 `closedp.t` on Korea (tests/reference/rcapture_closedp.csv): Mth Poisson2
    133.24 (s.e. 5.680), Mh Darroch 130.37 (s.e. 5.443)."""
    from cifranegra.estimation.compare import DEFAULT_FAMILIES

    assert {"mth-poisson2", "mth-darroch", "mth-gamma3.5"} <= set(DEFAULT_FAMILIES)
    assert not {"m0", "mh-chao", "mh-poisson2", "mh-darroch", "mh-gamma3.5"} & set(DEFAULT_FAMILIES)
    h = load("MultipleSystemsEstimation_Korea.csv")
    c = compare(h, families=["mth-poisson2", "mh-darroch", "chao", "dga"], seed=1, sensitivity=False)
    t = c.table.set_index("family")
    assert t.loc["mth-poisson2", "estimate"] == pytest.approx(133.237205813732, rel=1e-3)
    assert t.loc["mth-poisson2", "std_error"] == pytest.approx(5.67956472214075, rel=1e-3)
    assert t.loc["mh-darroch", "std_error"] == pytest.approx(5.44295490938817, rel=1e-3)
    assert t.loc["mth-poisson2", "interval_method"] == "profile"
    assert t.loc["chao", "std_error"] == pytest.approx(6.29745107132997, rel=1e-3)
    assert t.loc["dga", "std_error"] != t.loc["dga", "std_error"]  # NaN: dga has no standard error
    d = c.to_dict()
    json.dumps(d)
    assert d["table"][3]["std_error"] is None


def test_rcapture_rows_not_applicable_with_two_lists() -> None:
    h = CaptureHistories(("a", "b"), np.array([0, 30, 20, 10]))
    c = compare(h, families=["mth-darroch", "m0"], seed=1, sensitivity=False)
    t = c.table.set_index("family")
    assert t.loc["mth-darroch", "status"] == "not applicable"
    assert "--method chapman" in t.loc["mth-darroch", "warnings"]
    assert t.loc["m0", "status"] == "ok"


def test_cli_text_shows_standard_errors(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    path = tmp_path / "korea.csv"
    path.write_text((DATA / "MultipleSystemsEstimation_Korea.csv").read_text())
    assert _cli([str(path), "--methods", "mth-gamma3.5", "--no-sensitivity"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "s.e." in lines[1]
    row = next(x for x in lines if x.startswith("Rcapture Mth Gamma3.5"))
    assert row.split()[3:5] == ["128", "5"]  # Rcapture: 128.3, s.e. 5.006
