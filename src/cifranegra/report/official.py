"""Official counts of identified victims in Mexico, the context an estimate is read against.

These are **detected** victims: people whom prosecutors recorded (SESNSP) or the government identified (US TIP
reports). They are never a prevalence and never the estimated total; every frame here says so in its
``measure`` column, and the report labels them with :data:`DETECTED_LABEL`. Bundled copies in
``report/data`` (see SOURCES.md).
"""

from __future__ import annotations

import io
from functools import cache
from importlib import resources

import pandas as pd

__all__ = ["DETECTED_LABEL", "MEASURE", "official_national_series", "sesnsp_victims"]

#: The value of the ``measure`` column of every official frame.
MEASURE = "detected_victims"
#: How a chart or table names these counts.
DETECTED_LABEL = {
    "en": "Detected victims (official records; not prevalence)",
    "es": "Víctimas detectadas (registros oficiales; no es prevalencia)",
}
_SEX = {"female": "female", "male": "male", "not_identified": "unknown"}
_AGE = {"minor_0_17": "0-17", "adult_18_plus": "18+", "not_specified": "unknown", "not_identified": "unknown"}
_SESNSP_SOURCE = "SESNSP, incidencia delictiva del fuero común (victims of trata de personas)"


def _read(name: str) -> pd.DataFrame:
    text = resources.files("cifranegra.report").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return pd.read_csv(io.StringIO(text), dtype={"cve_ent": str, "year": str})


@cache
def _sesnsp() -> pd.DataFrame:
    raw = _read("sesnsp_trata_victims_state_year_sex_age.csv")
    detail = pd.DataFrame(
        {
            "year": raw["year"].astype(int),
            "months_covered": raw["months_covered"].astype(int),
            "state": raw["cve_ent"],
            "sex": raw["sex"].map(_SEX),
            "age_group": raw["age_group"].map(_AGE),
            "victims": raw["victims"].astype(int),
        }
    )
    if detail[["sex", "age_group"]].isna().any().any():  # a new code in a refreshed copy
        raise RuntimeError("sesnsp_trata_victims_state_year_sex_age.csv has a sex or age code this module lacks")
    keys = ["year", "months_covered", "state", "sex", "age_group"]
    detail = detail.groupby(keys, as_index=False).agg(victims=("victims", "sum"))  # not_specified + not_identified ages
    frames = [detail]
    # margins: every combination of (state, sex, age_group) set to "total"
    for margin in (
        ["sex"],
        ["age_group"],
        ["sex", "age_group"],
        ["state"],
        ["state", "sex"],
        ["state", "age_group"],
        ["state", "sex", "age_group"],
    ):
        kept = [k for k in keys if k not in margin]
        part = detail.groupby(kept, as_index=False).agg(victims=("victims", "sum"))
        for column in margin:
            part[column] = "total"
        frames.append(part[[*keys, "victims"]])
    out = pd.concat(frames, ignore_index=True)
    out["measure"] = MEASURE
    out["source"] = _SESNSP_SOURCE
    return out.sort_values(["year", "state", "sex", "age_group"], ignore_index=True)


def sesnsp_victims() -> pd.DataFrame:
    """SESNSP victims of trata de personas recorded by state prosecutors, 2015–June 2025, as a tidy frame.

    Columns: ``year``, ``months_covered`` (12, or fewer for a year still in progress), ``state`` (INEGI code,
    ``total`` for the nation), ``sex`` (``female``/``male``/``unknown``/``total``), ``age_group``
    (``0-17``/``18+``/``unknown``/``total``), ``victims``, ``measure`` (``detected_victims``), ``source``.
    Margins (``total``) are sums of the detail, so they add up. These are raw counts: a table for
    publication passes through disclosure control like any other.
    """
    return _sesnsp().copy()


@cache
def _national() -> pd.DataFrame:
    raw = _read("mexico_identified_victims_official.csv")
    single = raw["year"].str.fullmatch(r"\d{4}")
    tip = pd.DataFrame(
        {
            "period": raw["year"],
            "year": raw["year"].where(single).astype("Int64"),
            "indicator": raw["indicator"],
            "victims": raw["value"].astype(int),
            "scope": raw["scope"],
            "complete": ~raw["scope"].str.contains("incomplete"),
            "source": raw["source_report"],
            "source_url": raw["source_url"],
            "notes": raw["notes"].fillna(""),
        }
    )
    ses = _sesnsp()
    nat = ses[(ses.state == "total") & (ses.sex == "total") & (ses.age_group == "total")]
    sesnsp = pd.DataFrame(
        {
            "period": nat["year"].astype(str),
            "year": nat["year"].astype("Int64"),
            "indicator": "sesnsp_trata_victims",
            "victims": nat["victims"],
            "scope": "state prosecutors (fuero común)",
            "complete": nat["months_covered"] == 12,
            "source": _SESNSP_SOURCE,
            "source_url": "",
            "notes": ["" if m == 12 else f"{m} months only (year in progress)" for m in nat["months_covered"]],
        }
    )
    out = pd.concat([tip, sesnsp], ignore_index=True)
    out["measure"] = MEASURE
    return out.sort_values(["period", "indicator"], ignore_index=True)


def official_national_series() -> pd.DataFrame:
    """National official counts of identified victims, one row per period × indicator.

    Indicators: ``victims_identified_by_government`` (federal + state, US TIP reports) and its federal/state
    parts, hotline, consular and UNODC figures as reported, and ``sesnsp_trata_victims`` (SESNSP national
    totals). Columns: ``period`` (as the source gives it), ``year`` (missing for multi-year periods),
    ``indicator``, ``victims``, ``scope``, ``complete`` (False for partial years or incomplete reporting),
    ``source``, ``source_url``, ``notes`` (the sources' own inconsistencies), ``measure``
    (``detected_victims``: never a prevalence).
    """
    return _national().copy()
