"""Official counts of detected victims (cifranegra.report.official).

Expected values are read by hand from the bundled copies (sources named in
src/cifranegra/report/data/SOURCES.md), with the CSV line named.
"""

from __future__ import annotations

import pandas as pd

from cifranegra.report.official import DETECTED_LABEL, MEASURE, official_national_series, sesnsp_victims


def _cell(frame: pd.DataFrame, **where: object) -> int:
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    rows = frame[mask]
    assert len(rows) == 1, where
    return int(rows["victims"].iloc[0])


def test_sesnsp_hand_values() -> None:
    s = sesnsp_victims()
    # sesnsp_trata_victims_state_year.csv line 2: 2015,12,00,Nacional,1171,676,385,110,226,745,90,110,...
    assert _cell(s, year=2015, state="total", sex="total", age_group="total") == 1171
    assert _cell(s, year=2015, state="total", sex="female", age_group="total") == 676
    assert _cell(s, year=2015, state="total", sex="male", age_group="total") == 385
    assert _cell(s, year=2015, state="total", sex="unknown", age_group="total") == 110
    assert _cell(s, year=2015, state="total", sex="total", age_group="0-17") == 226
    assert _cell(s, year=2015, state="total", sex="total", age_group="18+") == 745
    # age not specified (90) and sex-and-age not identified (110) are both "unknown" age
    assert _cell(s, year=2015, state="total", sex="total", age_group="unknown") == 200
    # line 4: 2015,12,02,Baja California,34,29,3,2,14,15,3,2,...
    assert _cell(s, year=2015, state="02", sex="total", age_group="total") == 34
    assert _cell(s, year=2015, state="02", sex="female", age_group="total") == 29
    assert _cell(s, year=2015, state="02", sex="total", age_group="0-17") == 14


def test_sesnsp_margins_add_up_and_match_the_totals_file() -> None:
    s = sesnsp_victims()
    detail = s[(s.state != "total") & (s.sex != "total") & (s.age_group != "total")]
    national = s[(s.state == "total") & (s.sex == "total") & (s.age_group == "total")].set_index("year")["victims"]
    assert (detail.groupby("year")["victims"].sum() == national).all()
    # national totals per year, sesnsp_trata_victims_state_year.csv (cve_ent 00)
    assert national.to_dict() == {
        2015: 1171, 2016: 782, 2017: 537, 2018: 584, 2019: 682, 2020: 681,
        2021: 753, 2022: 942, 2023: 936, 2024: 790, 2025: 392,
    }  # fmt: skip


def test_sesnsp_is_tidy_and_labelled_as_detected() -> None:
    s = sesnsp_victims()
    assert list(s.columns) == ["year", "months_covered", "state", "sex", "age_group", "victims", "measure", "source"]
    assert set(s.sex) == {"female", "male", "unknown", "total"}
    assert set(s.age_group) == {"0-17", "18+", "unknown", "total"}
    assert set(s.state) == {f"{i:02d}" for i in range(1, 33)} | {"total"}
    assert (s.measure == MEASURE).all() and MEASURE == "detected_victims"
    assert not s.duplicated(["year", "state", "sex", "age_group"]).any()
    # 2025 covers January-June only
    assert set(s[s.year == 2025].months_covered) == {6}


def test_sesnsp_returns_a_copy() -> None:
    s = sesnsp_victims()
    s.loc[:, "victims"] = -1
    assert (sesnsp_victims().victims >= 0).all()


def test_national_series_hand_values() -> None:
    n = official_national_series()
    # mexico_identified_victims_official.csv line 2: 2015,victims_identified_by_government,1814,...
    row = n[(n.period == "2015") & (n.indicator == "victims_identified_by_government")].iloc[0]
    assert row.victims == 1814 and row.year == 2015 and row.complete
    assert "TIP" in row.source
    # line 22: 2022 ... 440, federal+state (incomplete)
    row = n[(n.period == "2022") & (n.indicator == "victims_identified_by_government")].iloc[0]
    assert row.victims == 440 and not row.complete
    # the CNDH 2012-2017 figure is a period, not a year
    row = n[n.period == "2012-2017"].iloc[0]
    assert pd.isna(row.year) and row.victims == 5245
    # SESNSP national totals are in the series, the partial 2025 flagged
    row = n[(n.period == "2025") & (n.indicator == "sesnsp_trata_victims")].iloc[0]
    assert row.victims == 392 and not row.complete and "6 months" in row.notes
    assert (n.measure == "detected_victims").all()


def test_detected_label_says_not_prevalence_in_both_languages() -> None:
    assert "not prevalence" in DETECTED_LABEL["en"]
    assert "no es prevalencia" in DETECTED_LABEL["es"]
