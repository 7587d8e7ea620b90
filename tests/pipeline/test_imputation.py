"""The run's interval includes the linkage's uncertainty ([linkage.uncertainty], pipeline.imputation):
project keys checked at load, the combination per stratum and method, and a real run with it on and off."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pipeline_helpers import write_lists

from cifranegra.errors import ValidationError
from cifranegra.estimation import CaptureHistories, estimate
from cifranegra.estimation.combine import impute_and_estimate
from cifranegra.linkage import LinkageSettings
from cifranegra.linkage.uncertainty import LinkageImputations
from cifranegra.pipeline import load_project, run_project
from cifranegra.pipeline.imputation import (
    LinkageUncertainty,
    apply_linkage_uncertainty,
    combine_run,
    interval_includes,
)
from cifranegra.pipeline.project import ListSpec, Project
from cifranegra.pipeline.run import estimate_all, tabulate

# ---------------------------------------------------------------- project keys


def _load(folder: Path, body: str) -> Project:
    (folder / "a.csv").write_text("x\n1\n", encoding="utf-8")
    (folder / "b.csv").write_text("x\n2\n", encoding="utf-8")
    (folder / "p.toml").write_text(
        '[[lists]]\nsource = "a"\npath = "a.csv"\n[[lists]]\nsource = "b"\npath = "b.csv"\n'
        f"[estimation]\nmethods = [\"chapman\"]\n{body}", encoding="utf-8")
    return load_project(folder / "p.toml")


def test_uncertainty_keys_default_and_given(tmp_path):
    p = _load(tmp_path, "")
    assert p.linkage_uncertainty == LinkageUncertainty(enabled=None, imputations=20, sampler="gibbs")
    assert p.linkage_uncertainty.calibration == "within-lists"
    p = _load(tmp_path, "[linkage.uncertainty]\nenabled = false\nimputations = 5\nsampler = \"components\"\n"
                        "calibration = \"none\"\n")
    assert p.linkage_uncertainty == LinkageUncertainty(enabled=False, imputations=5, sampler="components",
                                                       calibration="none")
    assert p.to_dict()["linkage_uncertainty"] == {"enabled": False, "imputations": 5, "sampler": "components",
                                                  "calibration": "none"}
    assert p.linkage_uncertainty.settings().calibration == "none"
    assert "uncertainty" not in p.to_dict()["linkage"]  # not passed on to the linkage's own settings


def test_uncertainty_keys_every_problem_at_once(tmp_path):
    body = "[linkage.uncertainty]\nimputation = 5\nenabled = \"yes\"\nsampler = \"gibs\"\ncalibration = \"within\"\n"
    with pytest.raises(ValidationError) as info:
        _load(tmp_path, body)
    text = str(info.value)
    assert "unknown key(s) ['imputation'] (did you mean 'imputations'?)" in text
    assert "enabled must be true or false" in text
    assert "sampler must be one of 'gibbs', 'components'" in text and "did you mean 'gibbs'?" in text
    assert ("calibration must be one of 'within-lists', 'none', 'simulated', not 'within' (did you mean "
            "'within-lists'?)") in text
    where = "linkage.uncertainty"
    assert {p.column for p in info.value.problems} >= {where, f"{where}.enabled", f"{where}.sampler",
                                                         f"{where}.calibration"}


@pytest.mark.parametrize("value", ["1", "true", "2.5", "\"20\"", "20000"])
def test_imputations_must_be_a_count_of_two_or_more(tmp_path, value):
    with pytest.raises(ValidationError, match="imputations must be a whole number from 2 to 10000"):
        _load(tmp_path, f"[linkage.uncertainty]\nimputations = {value}\n")


def test_uncertainty_must_be_a_table(tmp_path):
    with pytest.raises(ValidationError, match=r"\[linkage.uncertainty\] must be a table"):
        _load(tmp_path, "[linkage]\nuncertainty = 3\n")


# ---------------------------------------------------------------- interval_includes


def test_interval_includes():
    h = CaptureHistories.from_frame(pd.DataFrame({"a": [1, 0, 1], "b": [0, 1, 1], "c": [1, 1, 0],
                                                  "count": [40, 30, 20]}))
    fixed = estimate(h, "loglinear", model="[a,b,c]", seed=1)
    assert interval_includes(fixed) == "sampling"
    assert interval_includes(fixed, linkage=True) == "sampling+linkage"
    boot = estimate(h, "loglinear", interval="bootstrap", n_boot=20, seed=1)
    assert interval_includes(boot) == "sampling+model_selection"
    none = estimate(h, "loglinear", interval="none", seed=1)
    assert interval_includes(none) is None
    assert interval_includes(None) is None


# ---------------------------------------------------------------- combination (no linkage needed)


def _imputations(m: int = 4, seed: int = 0) -> LinkageImputations:
    """Two lists of 300 persons (sex known, a few unknown); in each imputation some true links are missed."""
    rng = np.random.default_rng(seed)
    n = 300
    sex = rng.choice(["female", "male", "unknown"], size=n, p=[0.6, 0.37, 0.03])
    on_a, on_b = rng.random(n) < 0.5, rng.random(n) < 0.4
    recs = [("a", f"a{i}", sex[i], i) for i in range(n) if on_a[i]] + [("b", f"b{i}", sex[i], i)
                                                                       for i in range(n) if on_b[i]]
    records = pd.DataFrame([r[:3] for r in recs], columns=["source", "record_id", "sex"])
    person = np.array([r[3] for r in recs])
    rows = []
    for _ in range(m):
        ids = person.copy()
        split = (records["source"].to_numpy() == "b") & (rng.random(len(ids)) < 0.05)
        ids[split] = n + np.arange(split.sum())  # a missed link: the b record becomes someone else
        rows.append(ids)
    return LinkageImputations(records, np.array(rows, dtype=np.int64))


def _project(**kw) -> Project:
    lists = (ListSpec("a", Path("a.csv")), ListSpec("b", Path("b.csv")))
    return Project(name="t", lists=lists, linkage=LinkageSettings(), seed=5,
                   **{"methods": ("chapman",), "strata": ("sex",), **kw})


def test_whole_table_is_impute_and_estimate_and_workers_do_not_matter():
    imps = _imputations()
    project = _project()
    strata_h = CaptureHistories.stratified_from_entities(imps.entities(0), strata=["sex"], lists=["a", "b"])
    one = combine_run(project, imps, strata_h, workers=1)
    two = combine_run(project, imps, strata_h, workers=2)
    assert [(c.label, c.method) for c in one] == [("all", "chapman"), ("sex=female", "chapman"),
                                                  ("sex=male", "chapman")]  # unknown stratum: not estimated
    assert [c.result.estimate for c in one] == [c.result.estimate for c in two]
    ref, _ = impute_and_estimate(imps, "chapman", {"level": 0.95}, lists=["a", "b"], seed=5)
    assert one[0].result.estimate == ref.estimate
    assert one[0].result.interval().lower == ref.interval().lower
    female = one[1].result
    assert female.diagnostics["n_imputations"] == 4
    assert 0 < female.diagnostics["linkage_share_of_variance"] < 1


def test_a_stratum_that_cannot_be_combined_keeps_its_single_linkage_row(monkeypatch):
    """An imputation in which a stratum cannot be estimated: the row keeps today's numbers and says why."""
    import cifranegra.pipeline.imputation as mod
    from cifranegra.errors import ModelError

    imps = _imputations(m=3)
    project = _project(linkage_uncertainty=LinkageUncertainty(imputations=3))
    histories, strata_h = tabulate(imps.entities(0), ["a", "b"], ["sex"])
    rows, results = estimate_all(project, histories, strata_h, workers=1)
    per = CaptureHistories.stratified_from_entities(imps.entities(1), strata=["sex"], lists=["a", "b"])
    target = per[("male",)].to_frame()

    def failing(h, method, **kw):
        if h.to_frame().equals(target):
            raise ModelError("no fit here")
        return estimate(h, method, **kw)

    monkeypatch.setattr(mod, "estimate", failing)
    combined = combine_run(project, imps, strata_h, workers=1)
    male = next(c for c in combined if c.label == "sex=male")
    assert male.result is None and male.why == "imputed linkage 2: no fit here"
    from cifranegra.pipeline.imputation import _replace

    base = [{**r, "interval_includes": "sampling", "linkage_share": None} for r in rows]
    out, _, _ = _replace(project, base, results, combined)
    row = next(r for r in out if r["stratum"] == "sex=male")
    single = next(r for r in rows if r["stratum"] == "sex=male")
    assert row["estimate"] == single["estimate"] and row["interval_includes"] == "sampling"
    assert "linkage imputation: not combined (imputed linkage 2:" in row["warnings"]
    assert next(r for r in out if r["stratum"] == "all")["interval_includes"] == "sampling+linkage"


def test_a_linkage_without_scored_pairs_says_imputation_is_not_available():
    project = _project()
    rows = [{"stratum": "all", "method": "chapman", "observed": 5, "estimate": 9.0, "lower": 6.0, "upper": 20.0,
             "error": None}]
    out = apply_linkage_uncertainty(project, None, {}, rows, [], {})
    assert out.rows[0]["estimate"] == 9.0 and out.rows[0]["linkage_share"] is None
    assert "+linkage" not in out.rows[0]["interval_includes"]
    assert out.info["applied"] is False and "the linkage kept no scored pairs" in out.warnings[0]
    off = apply_linkage_uncertainty(_project(linkage_uncertainty=LinkageUncertainty(enabled=False)), None, {},
                                    rows, [], {})
    assert off.warnings == [] and "enabled = false" in off.info["note"]


# ---------------------------------------------------------------- a real run, on and off


_RUN_PROJECT = """
name = "test"
seed = 3
output = "out"
{lists}
[linkage]
max_pairs_u = 50000
{extra}
[tabulation]
strata = ["sex"]
[estimation]
methods = ["chapman"]
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory, small_records):
    out = {}
    for name, extra in (("on", "[linkage.uncertainty]\nimputations = 3\n"),
                        ("off", "[linkage.uncertainty]\nenabled = false\n")):
        folder = tmp_path_factory.mktemp(name)
        lists = write_lists(folder, small_records)
        body = _RUN_PROJECT.format(lists=lists, extra=extra)
        (folder / "project.toml").write_text(body, encoding="utf-8")
        out[name] = (folder, run_project(folder / "project.toml", publish=False))
    return out


def test_run_with_imputation_reports_linkage_in_its_intervals(runs):
    folder, result = runs["on"]
    est = pd.read_csv(folder / "out" / "internal" / "estimates.csv")
    estimated = est[est["error"].isna()]
    assert set(estimated["interval_includes"]) == {"sampling+linkage"}
    strata = estimated[estimated["stratum"] != "stratified total"]
    assert strata["linkage_share"].between(0, 1).all() and (strata["interval_method"] == "rubin-t").all()
    body = json.loads((folder / "out" / "internal" / "results.json").read_text())
    info = body["linkage_uncertainty"]
    assert info["applied"] is True and info["imputations"] == 3
    assert info["imputation"]["persons_min"] <= info["imputation"]["persons_max"]
    assert all(r["interval_includes"] == "sampling" for r in info["single_linkage"] if r["error"] is None)
    assert any(r["settings"].get("linkage_imputations") == 3 for r in body["results"])
    text = result.summary_text()
    assert "the estimates combine 3 imputed linkages" in text and "single linkage (sensitivity), all" in text


def test_imputation_off_gives_todays_numbers_exactly(runs):
    (_, on), (_, off) = runs["on"], runs["off"]
    project = off.project
    today, _ = estimate_all(project, off.histories, off.strata_histories, workers=1)
    cols = ["stratum", "method", "observed", "estimate", "lower", "upper", "interval_method"]
    assert [{k: r[k] for k in cols} for r in off.estimates] == [{k: r[k] for k in cols} for r in today]
    assert all(r["linkage_share"] is None and "linkage" not in (r["interval_includes"] or "")
               for r in off.estimates)
    # the imputed run keeps exactly these rows as its single-linkage sensitivity line
    kept = on.linkage_uncertainty["single_linkage"]
    assert [{k: r[k] for k in cols} for r in kept] == [{k: r[k] for k in cols} for r in today]
    assert off.linkage_uncertainty["applied"] is False
    assert "linkage imputation is off" in off.summary_text()


def test_loglinear_imputations_take_the_within_variance_from_the_single_linkage():
    """Log-linear fits on the imputations are point estimates; each imputation's within variance of
    log(N - c) is the single linkage's."""
    import math

    from scipy import stats

    imps = _imputations(m=4)
    project = _project(methods=("loglinear",), strata=())
    single = estimate(CaptureHistories.from_entities(imps.entities(0), lists=["a", "b"]), "loglinear", seed=5)
    [c] = combine_run(project, imps, {}, workers=1, singles={("all", "loglinear"): single})
    d = c.result.diagnostics
    assert d["within_variance_from"] == "single linkage" and c.single is single
    points = [estimate(CaptureHistories.from_entities(imps.entities(i), lists=["a", "b"]), "loglinear",
                       interval="none", seed=1).estimate for i in range(4)]
    assert d["estimates"] == pytest.approx(points)
    ref = min(min(d["observed_counts"]), single.observed) - 0.5
    iv = single.interval()
    z = stats.norm.ppf((1 + iv.level) / 2)
    assert d["within_variance"] == pytest.approx(((math.log(iv.upper - ref) - math.log(iv.lower - ref)) / (2 * z)) ** 2)
    assert interval_includes(c.single, linkage=True).endswith("+linkage")


def test_the_summary_says_whether_and_how_the_pair_probabilities_were_calibrated():
    from cifranegra.pipeline.imputation import uncertainty_lines

    base = {"applied": True, "imputations": 20, "sampler": "gibbs"}
    diag = {"persons_min": 2900, "persons_max": 2990, "persons_at_threshold": 2954}
    calibrated = {"method": "within-lists", "expected_between_links": 1034.5, "expected_between_links_sd": 33.2,
                  "model_between_links": 1255.8}
    text = "\n".join(uncertainty_lines({**base, "imputation": {**diag, "calibration": calibrated}}, []))
    assert ("pair probabilities calibrated from within-list pairs: expected between-list links 1,034 (sd 33 over "
            "imputations; the linkage model's own probabilities sum to 1,256)") in text
    fallback = {"method": "none", "reason": "the within-list pairs do not identify a calibration: ..."}
    text = "\n".join(uncertainty_lines({**base, "imputation": {**diag, "calibration": fallback}}, []))
    assert ("pair probabilities not calibrated, the linkage model's own are used; the within-list pairs do not "
            "identify a calibration") in text
