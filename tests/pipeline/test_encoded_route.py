"""A project whose lists are declared ``encoded = true`` is linked by the private linkage only."""

from __future__ import annotations

import pytest

from cifranegra.errors import ValidationError
from cifranegra.pipeline import load_project, run_project
from cifranegra.pipeline.imputation import ENCODED_OFF, ENCODED_ON, ENCODED_SIMULATED

pytest.importorskip("cifranegra.ingest.encoded")


def _encoded_project(tmp_path, small_records, sections: str):
    """Each list of ``small_records`` encoded into ``tmp_path``, and project.toml declaring them, with
    ``[linkage.private] threshold = 0.8``, chapman, and the extra ``sections``; returns its path."""
    from cifranegra.ingest.encoded import write_encoded
    from cifranegra.linkage.private import LinkageSecret, encode_records

    secret = LinkageSecret(bytes(range(32)))
    blocks = []
    for source, g in small_records.groupby("source", sort=True):
        enc = encode_records(g.drop(columns=["person_id"]).reset_index(drop=True), secret, "test-study")
        write_encoded(enc, tmp_path / f"{source}.parquet")
        blocks.append(f'[[lists]]\nsource = "{source}"\npath = "{source}.parquet"\nencoded = true\n')
    (tmp_path / "project.toml").write_text(
        'name = "test-study"\nseed = 1\n' + "\n".join(blocks) + '[linkage.private]\nthreshold = 0.8\n' + sections
        + '[estimation]\nmethods = ["chapman"]\n', encoding="utf-8")
    return tmp_path / "project.toml"


def test_encoded_lists_go_to_private_linkage(tmp_path, small_records):
    # the form of exploitation made the person's (simulate_lists draws it per record), so that two strata
    # inform and the strata rule links
    forms = ["sexual_exploitation", "labour_exploitation", "forced_labour"]
    small_records = small_records.assign(exploitation=[forms[int(p) % 3] for p in small_records["person_id"]])
    project = load_project(_encoded_project(tmp_path, small_records, ""))
    assert project.encoded and project.private_linkage == {"threshold": 0.8}
    result = run_project(project, output=tmp_path / "out", publish=False)
    assert result.linkage["method"].startswith("private")
    assert len(result.entities) == len(small_records)
    assert result.estimates[0]["estimate"] > result.histories.observed * 0.9
    assert (tmp_path / "out" / "internal" / "results.json").exists()
    # by default no imputation on encodings (it over-estimated N in the study), and the run says so
    assert not result.linkage_uncertainty["applied"] and "pairs_kept" not in result.linkage
    assert result.estimates[0]["interval_includes"] == "sampling"
    assert ENCODED_OFF in result.warnings and result.linkage_uncertainty["note"] == ENCODED_OFF
    # the rule that linked is recorded: a given threshold is the lowest Dice linked
    assert result.linkage["threshold"] == 0.8 and result.linkage["threshold_source"] == "given"
    assert result.linkage["rule"]["rule"] == "dice+strata"
    assert "linked at Dice ≥ 0.8 where P(match | Dice, fill ratio, state, exploitation) ≥ 0.2" in result.summary_text()


def test_compare_strata_is_a_project_option(tmp_path, small_records):
    """``[linkage.private] compare_strata = false`` links on Dice alone, as recorded; a wrong value is a
    clear error, not a traceback."""
    from cifranegra.errors import InputError

    path = _encoded_project(tmp_path, small_records, "compare_strata = false\n")
    result = run_project(load_project(path), output=tmp_path / "out", publish=False)
    assert result.linkage["rule"] == {"rule": "dice", "why": "compare_strata = false"}
    assert "linked on the Dice score alone at 0.8 (compare_strata = false)" in result.summary_text()
    text = path.read_text(encoding="utf-8").replace("compare_strata = false", "compare_strata = 3")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="compare_strata must be true, false or a list"):
        run_project(load_project(path), output=tmp_path / "out2", publish=False)


def test_encoded_lists_impute_when_asked(tmp_path, small_records):
    """Linkage imputation works on the encodings when turned on: Dice probabilities, the pairs kept,
    combined intervals."""
    project = _encoded_project(tmp_path, small_records, "[linkage.uncertainty]\nenabled = true\n")
    result = run_project(load_project(project), output=tmp_path / "out", publish=False)
    info = result.linkage_uncertainty
    assert info["applied"] and info["imputation"]["pairs_used"] == result.linkage["pairs_kept"] > 0
    all_row = next(r for r in result.estimates if r["stratum"] == "all" and r["method"] == "chapman")
    assert all_row["interval_includes"] == "sampling+linkage"
    assert "linkage imputation is not available" not in " ".join(result.warnings)
    assert ENCODED_OFF not in result.warnings
    assert ENCODED_ON in result.warnings  # asked for, and told it is not validated on encodings


def test_encoded_lists_impute_with_a_simulated_truth_sample_when_asked(tmp_path, small_records):
    """``calibration = "simulated"``: Dice calibrated on simulated lists of about the study's size,
    encoded with its spec under a throwaway key (docs/private-linkage.md), reported in results."""
    sections = '[linkage.uncertainty]\nenabled = true\ncalibration = "simulated"\n'
    project = load_project(_encoded_project(tmp_path, small_records, sections))
    assert project.linkage_uncertainty.calibration == "simulated"
    result = run_project(project, output=tmp_path / "out", publish=False)
    info = result.linkage_uncertainty
    cal = info["imputation"]["calibration"]
    assert info["applied"] and cal["method"] == "simulated truth sample" and cal["score"] == "dice"
    assert cal["study_records"] == len(small_records) and abs(cal["records"] / len(small_records) - 1) <= 0.05
    assert cal["lists"] == small_records["source"].nunique() and cal["true_pairs"] > 0
    assert 0 < info["imputation"]["pairs_used"] <= result.linkage["pairs_kept"]
    all_row = next(r for r in result.estimates if r["stratum"] == "all" and r["method"] == "chapman")
    assert all_row["interval_includes"] == "sampling+linkage"
    from cifranegra.pipeline.imputation import uncertainty_lines

    assert ENCODED_SIMULATED in result.warnings and ENCODED_ON not in result.warnings
    summary = "\n".join(uncertainty_lines(info, result.estimates))
    assert f"calibrated on a truth sample: simulated lists of {cal['records']:,} records" in summary
    # the same seed gives the same calibration and the same estimate
    again = run_project(project, output=tmp_path / "out2", publish=False)
    assert again.linkage_uncertainty["imputation"]["calibration"] == cal
    assert next(r for r in again.estimates if r["stratum"] == "all")["estimate"] == all_row["estimate"]


def test_a_simulated_truth_sample_is_refused_for_plaintext_lists(tmp_path):
    (tmp_path / "a.csv").write_text("nombre\nAna\n")
    (tmp_path / "b.csv").write_text("nombre\nAna\n")
    (tmp_path / "p.toml").write_text(
        'name = "s"\n[[lists]]\nsource = "a"\npath = "a.csv"\n[[lists]]\nsource = "b"\npath = "b.csv"\n'
        '[linkage.uncertainty]\ncalibration = "simulated"\n', encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_project(tmp_path / "p.toml")
    assert "not encoded" in str(err.value) or any("not encoded" in str(p) for p in err.value.problems)


def test_encoded_linkage_without_imputation_keeps_no_pairs(tmp_path, small_records):
    project = _encoded_project(tmp_path, small_records, "[linkage.uncertainty]\nenabled = false\n")
    result = run_project(load_project(project), output=tmp_path / "out", publish=False)
    assert not result.linkage_uncertainty["applied"] and "pairs_kept" not in result.linkage
    assert result.estimates[0]["interval_includes"] == "sampling"


def test_mixing_encoded_and_plain_lists_is_refused(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.parquet").write_text("")
    (tmp_path / "p.toml").write_text(
        '[[lists]]\nsource = "A"\npath = "a.csv"\n[[lists]]\nsource = "B"\npath = "b.parquet"\nencoded = true\n',
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match="encoded"):
        load_project(tmp_path / "p.toml")


def test_a_stratum_no_encoded_list_records_is_refused_before_linkage(tmp_path, small_records, monkeypatch):
    """docs/pipeline.md, 'Checks before linkage' (each stratum recorded by at least one list) holds for
    encoded lists too (docs/private-linkage.md: the hub runs `cifranegra run` as usual): lists whose sex
    is unknown in every record used to be linked and end with no stratum estimated."""
    import cifranegra.linkage.private as private

    def refuse(*args, **kwargs):
        raise AssertionError("the linkage started")

    path = _encoded_project(tmp_path, small_records.assign(sex="unknown"), '[tabulation]\nstrata = ["sex"]\n')
    project = load_project(path)  # before the patch: it reads link_encoded's keywords
    monkeypatch.setattr(private, "link_encoded", refuse)
    with pytest.raises(ValidationError) as exc:
        run_project(project, output=tmp_path / "out", publish=False)
    assert {p.code for p in exc.value.problems} == {"stratum_not_recorded"}
    assert "remove 'sex' from [tabulation] strata" in str(exc.value)


def test_encoded_lists_of_another_project_or_source_are_refused(tmp_path, small_records):
    """Files encoded under another project name (another salt) or declared under the wrong source."""
    from cifranegra.errors import InputError
    from cifranegra.ingest.encoded import write_encoded
    from cifranegra.linkage.private import LinkageSecret, encode_records

    secret = LinkageSecret(bytes(range(32)))
    sources = []
    for source, g in small_records.groupby("source", sort=True):
        enc = encode_records(g.drop(columns=["person_id"]).reset_index(drop=True), secret, "other-study")
        write_encoded(enc, tmp_path / f"{source}.parquet")
        sources.append(source)
    blocks = [f'[[lists]]\nsource = "{s}"\npath = "{s}.parquet"\nencoded = true\n' for s in sources]
    (tmp_path / "project.toml").write_text(
        'name = "test-study"\nseed = 1\n' + "\n".join(blocks) + '[estimation]\nmethods = ["chapman"]\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="encoded for project 'other-study'"):
        run_project(load_project(tmp_path / "project.toml"), output=tmp_path / "out")
    swapped = [f'[[lists]]\nsource = "{s}"\npath = "{t}.parquet"\nencoded = true\n'
               for s, t in zip(sources, sources[::-1], strict=True)]
    (tmp_path / "project.toml").write_text(
        'name = "other-study"\nseed = 1\n' + "\n".join(swapped) + '[estimation]\nmethods = ["chapman"]\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="make the \\[\\[lists\\]\\] source match"):
        run_project(load_project(tmp_path / "project.toml"), output=tmp_path / "out")


def test_imputation_refused_by_the_linkage_keeps_the_single_linkage(tmp_path, small_records, monkeypatch):
    """When impute_linkage refuses the pair probabilities (they expect more links than the lists can
    hold), the run keeps the single linkage's estimates and says why instead of stopping."""
    import cifranegra.pipeline.imputation as imputation
    from cifranegra.errors import InputError

    def refuse(*_args, **_kwargs):
        raise InputError("the pair probabilities expect 9,999 links between lists, more than the 10 these "
                         "lists can hold")

    monkeypatch.setattr(imputation, "impute_linkage", refuse)
    project = _encoded_project(tmp_path, small_records, "[linkage.uncertainty]\nenabled = true\n")
    result = run_project(load_project(project), output=tmp_path / "out", publish=False)
    assert not result.linkage_uncertainty["applied"]
    assert any(w.startswith("linkage imputation was not applied: the pair probabilities expect 9,999")
               for w in result.warnings)
    all_row = next(r for r in result.estimates if r["stratum"] == "all" and r["method"] == "chapman")
    assert "linkage" not in all_row["interval_includes"]


def test_a_simulated_truth_sample_needs_lists_the_simulator_can_stand_for():
    from cifranegra.errors import InputError
    from cifranegra.linkage.private import MEXICO_SPEC
    from cifranegra.pipeline.truth_sample import simulated_dice_calibration

    with pytest.raises(InputError, match="at least two lists"):
        simulated_dice_calibration(MEXICO_SPEC, [500], seed=1)
    with pytest.raises(InputError, match="agencies and this study 21 lists"):
        simulated_dice_calibration(MEXICO_SPEC, [50] * 21, seed=1)
    with pytest.raises(InputError, match="could not simulate lists of about 6 records"):
        simulated_dice_calibration(MEXICO_SPEC, [3, 3], seed=1)


def test_the_truth_sample_seed_uses_every_bit_of_the_run_seed():
    """Seeds that differ only above bit 32 drew the same simulated population (the seed was cut to its low
    32 bits); seeds below 2**32 keep the populations the documented bench figures were measured on."""
    import numpy as np

    from cifranegra.errors import InputError
    from cifranegra.pipeline.truth_sample import _sample_seed

    def state(seed):
        return tuple(_sample_seed(seed).generate_state(4))

    old = np.random.SeedSequence(np.random.SeedSequence([7, 0x5EED7]).entropy, spawn_key=(1,))
    assert state(7) == tuple(old.generate_state(4))
    assert len({state(7), state(7 + 2**32), state(7 + 2**64), state(2**32)}) == 4
    with pytest.raises(InputError, match="at least 0"):
        _sample_seed(-1)


def test_a_simulated_truth_sample_at_other_error_rates():
    """``error_scale`` simulates the sample with every recording-error rate multiplied (a sensitivity
    analysis: docs/private-linkage.md, "Does it transfer"), and says so in what it returns. With more
    errors, true matches reach lower Dice scores, so the doubled-error sample calls more of the pairs
    scoring 0.55-0.75 matches (seed 1: 10.9 against 7.5 summed over a grid of 41 scores)."""
    import numpy as np

    from cifranegra.linkage.private import MEXICO_SPEC
    from cifranegra.pipeline.truth_sample import simulated_dice_calibration

    grid, between = np.linspace(0.55, 0.75, 41), np.zeros(41, bool)
    base, info = simulated_dice_calibration(MEXICO_SPEC, [1000, 500, 300], seed=1)
    worse, info2 = simulated_dice_calibration(MEXICO_SPEC, [1000, 500, 300], seed=1, error_scale=2)
    assert "error_scale" not in info and info2["error_scale"] == 2.0
    assert worse.predict(grid, within=between).sum() > 1.2 * base.predict(grid, within=between).sum()
