"""Charts of the publication report (cifranegra.report.charts): valid SVG, real alt text, both languages."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from cifranegra.errors import InputError
from cifranegra.report import charts
from cifranegra.report.charts import Chart, format_number
from cifranegra.schema.codes import states

SVG = "{http://www.w3.org/2000/svg}"
LISTS = ["FGR", "CEAV", "DIF", "Fiscalía CDMX", "Consejo Ciudadano", "INM"]


def _texts(chart: Chart) -> str:
    root = ET.fromstring(chart.svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img" and root.get("aria-label") == chart.alt_text
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}title").text == chart.alt_text
    return " ".join("".join(el.itertext()) for el in root.iter(f"{SVG}text"))


def _check(chart: Chart, expected: list[str]) -> None:
    assert isinstance(chart, tuple) and len(chart) == 2
    assert len(chart.alt_text) > 60
    text = _texts(chart)
    for label in expected:
        assert label in text, label


@pytest.fixture(scope="module")
def patterns() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    table = pd.DataFrame(list(itertools.product([0, 1], repeat=6)), columns=LISTS)
    table["count"] = rng.integers(11, 300, len(table)).astype(float)
    table.loc[[3, 9, 17], "count"] = np.nan  # withheld
    return table


def test_format_number_es_mx_and_en() -> None:
    assert format_number(1234567.891, "es", 2) == "1,234,567.89"
    assert format_number(1234567.891, "es_MX", 1) == "1,234,567.9"
    assert format_number(1234567.891, "en") == "1,234,568"
    assert format_number(1234.5, "es_ES", 1) == "1.234,5"
    assert format_number(float("nan"), "es") == "–"
    assert format_number(float("inf"), "en") == "∞"
    with pytest.raises(InputError, match="no number format"):
        format_number(1.0, "fr")


@pytest.mark.parametrize(
    ("lang", "words"),
    [("es", ["Personas", "<11", "Fiscalía CDMX", "Consejo Ciudadano"]), ("en", ["People", "<11", "INM"])],
)
def test_upset_plot(patterns: pd.DataFrame, lang: str, words: list[str]) -> None:
    sizes = {name: 900 + i for i, name in enumerate(LISTS)}
    chart = charts.upset_plot(patterns, LISTS, list_sizes=sizes, lang=lang)
    _check(chart, words)
    # the three withheld combinations are said in the alt text and drawn as <11, never as a number
    assert ("3 combinations" if lang == "en" else "3 combinaciones") in chart.alt_text
    assert _texts(chart).count("<11") == 3


@pytest.mark.parametrize("lang", ["es", "en"])
def test_upset_plot_marks_secondary_withheld_counts_as_the_table_does(patterns: pd.DataFrame, lang: str) -> None:
    """The report review: combinations withheld to protect others ([c] in the table beside the chart; their
    counts may be 11 or more) were drawn as <11, and the alt text counted them among those under 11."""
    flagged = patterns.assign(flag="")
    flagged.loc[[3, 9], "flag"] = "primary"
    flagged.loc[17, "flag"] = "secondary"
    sizes = {name: 900 + i for i, name in enumerate(LISTS)}
    chart = charts.upset_plot(flagged, LISTS, list_sizes=sizes, lang=lang, flag="flag")
    assert _texts(chart).count("<11") == 2 and _texts(chart).count("[c]") == 1
    if lang == "en":
        assert "2 combinations have fewer than 11 people" in chart.alt_text
        assert "1 are withheld to protect them (shown as [c])" in chart.alt_text
    else:
        assert "2 combinaciones tienen menos de 11 personas" in chart.alt_text
        assert "1 se reservan para protegerlas" in chart.alt_text


def test_upset_needs_list_sizes_when_counts_are_withheld(patterns: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="list_sizes"):
        charts.upset_plot(patterns, LISTS)
    complete = patterns.fillna(20)
    chart = charts.upset_plot(complete, LISTS, lang="en")
    assert "FGR " + format_number(complete.loc[complete.FGR == 1, "count"].sum(), "en") in chart.alt_text


def test_dot_interval_plot_marks_the_chosen_estimate() -> None:
    rows = pd.DataFrame(
        {
            "label": ["log-linear", "LCMCR", "drop FGR"],
            "estimate": [2450.0, 2800.0, np.nan],
            "lower": [2000.0, 2100.0, np.nan],
            "upper": [3100.0, 3900.0, np.nan],
        }
    )
    es = charts.dot_interval_plot(rows, chosen="log-linear", lang="es")
    _check(es, ["estimación elegida", "no estimable", "LCMCR", "Total estimado"])
    assert "log-linear, es 2,450 (2,000 a 3,100)" in es.alt_text
    en = charts.dot_interval_plot(rows, chosen="log-linear", lang="en")
    _check(en, ["chosen estimate", "not estimable", "Estimated total"])
    assert "2,450 (2,000 to 3,100)" in en.alt_text


def test_labels_override_the_catalogue() -> None:
    rows = pd.DataFrame({"label": ["a"], "estimate": [1.0], "lower": [0.5], "upper": [2.0]})
    chart = charts.dot_interval_plot(rows, lang="en", labels={"dot_title": "Custom title"})
    _check(chart, ["Custom title"])
    with pytest.raises(InputError, match="no chart labels"):
        charts.dot_interval_plot(rows, lang="fr")


def _rates() -> pd.DataFrame:
    codes = [st.code for st in states()]
    rates = pd.DataFrame({"state": codes, "rate": np.linspace(0.5, 6.0, 32)})
    rates.loc[rates.state.isin(["07", "20", "09"]), "rate"] = np.nan  # Chiapas, Oaxaca, CDMX not estimable
    rates["rate_lower"], rates["rate_upper"] = rates.rate * 0.7, rates.rate * 1.4
    return rates


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("es", ["Valle de México", "Tasa por 100,000", "no estimable", "Oaxaca", "Chis."]),
        ("en", ["Valley of Mexico", "Rate per 100,000", "not estimable", "Zacatecas"]),
    ],
)
def test_choropleth_draws_32_states_and_an_inset(lang: str, words: list[str]) -> None:
    chart = charts.choropleth(_rates(), lang=lang)
    _check(chart, words)
    root = ET.fromstring(chart.svg)
    ids = [el.get("id") or "" for el in root.iter()]
    main = {i for i in ids if i.startswith("state-")}
    inset = {i for i in ids if i.startswith("inset-state-")}
    assert main == {f"state-{st.code}" for st in states()}
    assert len(main) == 32 and len(inset) == 32
    assert "3 " in chart.alt_text and "Chiapas" in chart.alt_text and "Oaxaca" in chart.alt_text


def test_choropleth_rejects_unknown_or_repeated_states() -> None:
    rates = _rates()
    bad = rates.assign(state=["nowhere", *rates.state[1:]])
    with pytest.raises(InputError, match="row"):
        charts.choropleth(bad)
    with pytest.raises(InputError, match="more than once"):
        charts.choropleth(pd.concat([rates, rates.head(1)]))


@pytest.mark.parametrize(("lang", "kind", "word"), [("es", "bootstrap", "Réplicas"), ("en", "posterior", "Draws")])
def test_distribution_plot(lang: str, kind: str, word: str) -> None:
    draws = np.random.default_rng(0).normal(2450, 200, 500)
    chart = charts.distribution_plot(draws, estimate=2450, lower=2080, upper=2850, kind=kind, lang=lang)
    _check(chart, [word])
    assert "500" in chart.alt_text and "2,450" in chart.alt_text
    with pytest.raises(InputError):
        charts.distribution_plot([1.0], estimate=1, lower=1, upper=1)
    with pytest.raises(InputError, match="kind"):
        charts.distribution_plot(draws, estimate=1, lower=1, upper=1, kind="jackknife")


@pytest.mark.parametrize(("lang", "words"), [("es", ["Conteo observado", "reservados"]), ("en", ["Fitted count"])])
def test_goodness_of_fit_plot(lang: str, words: list[str]) -> None:
    table = pd.DataFrame(
        {
            "pattern": ["A", "B", "A+B", "C", "A+C"],
            "observed": [120.0, 80.0, 30.0, np.nan, 200.0],
            "fitted": [118.0, 85.0, 29.0, 7.0, 150.0],
        }
    )
    chart = charts.goodness_of_fit_plot(table, lang=lang)
    _check(chart, words)
    assert "A+C" in chart.alt_text  # the largest Pearson residual: (200-150)/sqrt(150)
    assert "1 " in chart.alt_text and "4 " in chart.alt_text


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("es", ["Víctimas detectadas", "no prevalencia", "Total estimado", "SESNSP"]),
        ("en", ["Detected victims", "not prevalence", "Estimated total"]),
    ],
)
def test_official_and_estimates_plot(lang: str, words: list[str]) -> None:
    official = pd.DataFrame(
        {
            "year": [2019, 2020, 2021] * 2,
            "victims": [682, 681, 753, 658, 673, 744],
            "series": ["SESNSP"] * 3 + ["TIP"] * 3,
        }
    )
    estimates = pd.DataFrame({"year": [2020], "estimate": [2450.0], "lower": [2000.0], "upper": [3100.0]})
    chart = charts.official_and_estimates_plot(official, estimates, lang=lang)
    _check(chart, words)
    assert "2020: 2,450" in chart.alt_text
    # the official counts are in the text too, series by series (a screen reader hears the numbers)
    assert "SESNSP — 2019: 682, 2020: 681, 2021: 753; TIP — 2019: 658, 2020: 673, 2021: 744" in chart.alt_text


def test_svg_is_deterministic() -> None:
    rows = pd.DataFrame({"label": ["a", "b"], "estimate": [1.0, 2.0], "lower": [0.5, 1.0], "upper": [2.0, 3.0]})
    assert charts.dot_interval_plot(rows, lang="en").svg == charts.dot_interval_plot(rows, lang="en").svg
