"""The publication report: HTML (self-contained) and PDF (PDF/A-3b, tagged) in Spanish and English.

:func:`publish` reads a run's output folder, disclosure-controls everything (:mod:`.release`), writes the
machine-readable release and renders ``report-<lang>.html`` / ``report-<lang>.pdf`` from ONE Jinja2
template (``templates/report.html.j2``) and the message catalogues (:mod:`.i18n`). Every number in the
report comes from the :class:`~cifranegra.report.release.Release`: published counts (``<11`` when withheld),
rounded estimates and rates of the rounded estimates, so text, tables and charts agree.

Charts are inline ``data:`` SVG images with their alt text; the stylesheet uses system fonts only; the PDF
renderer is given a URL fetcher that refuses every URL that is not ``data:``, so rendering makes no request.
:func:`check_accessibility` fails on an image without alt text (also run on every report written).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from cifranegra._version import __version__
from cifranegra.errors import InputError
from cifranegra.estimation.stratified import UNKNOWN_STRATUM_WHY
from cifranegra.report import charts
from cifranegra.report.cellspace import FLAG, TOTAL
from cifranegra.report.denominators import DENOMINATOR_EDITION_YEAR, DENOMINATOR_SOURCE
from cifranegra.report.disclosure import DisclosurePolicy, round_estimate, shown
from cifranegra.report.i18n import LANGS, format_date, messages
from cifranegra.report.release import (
    ALL,
    IDENTIFIER_KINDS,
    STRATIFIED_TOTAL,
    Release,
    build_release,
    interval_includes,
    write_release,
)
from cifranegra.schema.codes import states

__all__ = ["FORMATS", "Published", "check_accessibility", "publish", "render_html", "render_pdf"]

FORMATS = ("html", "pdf")
PDF_VARIANT = "pdf/a-3b"


@dataclass(frozen=True)
class Published:
    """What :func:`publish` wrote, and how long each part took (seconds)."""

    out_dir: Path
    files: list[Path]
    timings: dict[str, float]
    audit_passed: bool
    #: What was not written and why (e.g. PDFs when WeasyPrint cannot load Pango).
    notes: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------------ helpers
class _Fmt:
    """Number and cell formatting for one language."""

    def __init__(self, lang: str, policy: DisclosurePolicy) -> None:
        self.lang, self.policy = lang, policy
        self.t = messages(lang)
        self._states = {s.code: s.name for s in states()}

    def n(self, value: Any, decimals: int = 0) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            return "–"
        return charts.format_number(float(value), self.lang, decimals)

    def count(self, value: Any, flag: str) -> str:
        return shown(None if pd.isna(value) else value, flag or "", self.policy, number=self.n,
                     withheld=str(self.t["withheld_secondary"]), not_estimable=str(self.t["not_estimable"]))

    def interval(self, lower: Any, upper: Any, decimals: int = 0) -> str:
        if pd.isna(lower) or pd.isna(upper):
            return "–"
        return f"{self.n(lower, decimals)} – {self.n(upper, decimals)}"

    def level(self, level: Any) -> str:
        return f"{self.n(float(level) * 100)}%" if level is not None and not pd.isna(level) else ""

    def value(self, dim: str, value: Any) -> str:
        text = str(value)
        if text == TOTAL:
            return str(self.t["total"])
        if dim == "state":
            return self._states.get(text.zfill(2), str(self.t.get(text, text)))
        return str(self.t.get(text, text))

    def method(self, code: Any) -> str:
        """A method's name for readers, with the code a project file uses: "log-linear models (loglinear)"."""
        code = str(code)
        name = dict(self.t.get("method_names", {})).get(code)
        return f"{name} ({code})" if name and name != code else code

    def stratum(self, label: str) -> str:
        if label == ALL:  # everyone, whatever the strata (they need not be years)
            return str(self.t["all_persons"])
        if label == STRATIFIED_TOTAL:
            return str(self.t["stratified_total"])
        parts = []
        for part in label.split(" | "):
            key, _, value = part.partition("=")
            parts.append(f"{self.t.get(key, key)}: {self.value(key, value)}")
        return "; ".join(parts)


def _fig(chart: charts.Chart, caption: str) -> dict[str, Any]:
    return {"kind": "figure", "data": base64.b64encode(chart.svg.encode("utf-8")).decode("ascii"),
            "alt": chart.alt_text, "caption": caption}


def _p(text: str, kind: str = "p") -> dict[str, Any]:
    return {"kind": kind, "text": text}


def _table(caption: str, header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = (),
           css: Sequence[str] | None = None, note: str = "") -> dict[str, Any]:
    return {"kind": "table", "caption": caption, "header": list(header), "numeric": set(numeric), "note": note,
            "rows": [{"cells": list(r), "css": (css[i] if css else "")} for i, r in enumerate(rows)]}


# ------------------------------------------------------------------------------------------------ sections
def _headline(rel: Release, f: _Fmt) -> dict[str, Any]:
    t, policy = f.t, rel.policy
    e = rel.estimates
    yearly = [s for s in e["stratum"] if s.startswith("year=") and " | " not in s]
    labels = [*yearly, ALL] if yearly else [ALL]
    columns = []
    for label in labels:
        r = e[(e["stratum"] == label) & (e["method"] == rel.method)].iloc[0]
        det = rel.stratum_detected(label)
        det_value, det_flag = det if det else (None, "")
        ok = det_value is not None and not r[FLAG]
        raw = (rel.row(rel.method, label) or {}).get("estimate")  # unrounded: round once, not twice
        unseen = None
        if ok and det_value is not None:
            unseen = (float(raw) if raw is not None else float(r["estimate"])) - float(det_value)
        columns.append([f.count(det_value, det_flag), f.count(r["estimate"], r[FLAG]),
                        f.interval(r["lower"], r["upper"]),
                        # an estimate too, so rounded as estimates are (it printed to the unit: 4,710 - 3,145)
                        f.n(round_estimate(unseen, policy) if unseen is not None else None),
                        f.n(r["estimate"] / det_value if ok and det_value else None, 2),
                        f.n(r["rate_per_100k"], 2), f.interval(r["rate_lower"], r["rate_upper"], 2),
                        f.n(r["population"])])
    chosen = rel.chosen()
    level = f.level(chosen["level"])
    measures = [t["detected"], t["estimated_total"], str(t["interval"]).format(level=level), t["undetected"],
                t["ratio"], t["rate"], t["rate_interval"], t["population"]]
    rows = [[m, *(col[i] for col in columns)] for i, m in enumerate(measures)]
    heads = [f.value("year", lab.partition("=")[2]) for lab in yearly] + [str(rel.year) if not yearly
                                                                          else str(t["all_period"])]
    header = ["", *heads]
    css = ["", "chosen", "", "", "", "chosen", "", ""]
    blocks: list[dict[str, Any]] = [
        _p(str(t["headline_intro"]).format(round_to=policy.round_to, round_large_to=f.n(policy.round_large_to),
                                           large_above=f.n(policy.large_above))),
        _table(f"{t['estimated_total']} — {t['method']}: {f.method(rel.method)}", header, rows,
               numeric=range(1, len(header)), css=css,
               note=str(t["withheld_note"]).format(threshold=policy.threshold, below=policy.threshold - 1)),
    ]
    if chosen[FLAG]:
        blocks.append(_p(f"{t['not_estimable']}: {chosen[FLAG].partition(': ')[2]}", "na"))
    inc = interval_includes(rel.result(), rel.row())
    items = [f"{t['unc_sampling']}: {t['included'] if inc['sampling'] else t['not_included']}",
             f"{t['unc_model']}: {t['included'] if inc['model_selection'] else t['not_included']} — "
             f"{t['unc_model_note_yes'] if inc['model_selection'] else t['unc_model_note_no']}",
             f"{t['unc_linkage']}: " + (
                 f"{t['included']} — " + str(t["unc_linkage_note_yes"]).format(
                     share=f.n(100 * inc["linkage_share"], 1) if inc["linkage_share"] is not None else "—")
                 if inc["linkage"] else f"{t['not_included']} — {t['unc_linkage_note']}"),
             f"{t['unc_unreached']}: {t['not_included_pl']} — {t['unc_unreached_note']}"]
    blocks += [_p(str(t["includes"]), "h3"), {"kind": "list", "items": items},
               _p(str(t["lower_bound"]), "h3"), _p(str(t["lower_bound_text"])),
               _p(str(t["rate_note"]).format(source=DENOMINATOR_SOURCE, year=DENOMINATOR_EDITION_YEAR), "note")]
    if pd.isna(chosen["rate_per_100k"]) and chosen["rate_note"]:
        blocks.append(_p(str(t["no_rate"]).format(why=chosen["rate_note"]), "na"))
    return {"id": "headline", "title": t["headline"], "blocks": blocks}


def _strata(rel: Release, f: _Fmt, lang: str) -> dict[str, Any]:
    t = f.t
    e = rel.estimates[rel.estimates["stratum"] != ALL]
    if e.empty:
        return {"id": "strata", "title": t["strata"], "blocks": [_p(str(t["strata_none"]), "na")]}
    rows = []
    for _, r in e.iterrows():
        det = rel.stratum_detected(r["stratum"])
        reason = r[FLAG].partition(": ")[2] if r[FLAG] else (r["rate_note"] or "")
        if UNKNOWN_STRATUM_WHY in str(reason):  # the run's reason, in the report's language
            reason = str(t["reason_unknown_stratum"])
        interval = f.interval(r["lower"], r["upper"])
        rate_iv = f.interval(r["rate_lower"], r["rate_upper"], 2)
        rows.append([f.stratum(r["stratum"]), f.method(r["method"]), f.count(*det) if det else "–",
                     f.count(r["estimate"], r[FLAG]) + (f" ({interval})" if interval != "–" else ""),
                     f.n(r["rate_per_100k"], 2) + (f" ({rate_iv})" if rate_iv != "–" else ""), reason])
    level = f.level(rel.chosen()["level"])
    header = [t["stratum"], t["method"], t["detected"],
              f"{t['estimated_total']} ({str(t['interval']).format(level=level)})",
              f"{t['rate']} ({t['rate_interval']})", t["reason"]]
    blocks: list[dict[str, Any]] = [_table(t["strata"], header, rows, numeric=range(2, 5),
                                           note=str(t["strata_rate_note"]))]
    if (e["stratum"] == STRATIFIED_TOTAL).any():
        blocks.append(_p(str(t["stratified_note"]), "note"))
    dots = e[(e["method"] == rel.method)]
    dot_rows = pd.DataFrame({"label": [f.stratum(s) for s in dots["stratum"]], "estimate": dots["estimate"],
                             "lower": dots["lower"], "upper": dots["upper"]})
    chosen = rel.chosen()
    dot_rows = pd.concat([pd.DataFrame({"label": [f.stratum(ALL)], "estimate": [chosen["estimate"]],
                                        "lower": [chosen["lower"]], "upper": [chosen["upper"]]}), dot_rows],
                         ignore_index=True)
    chart = charts.dot_interval_plot(dot_rows, chosen=f.stratum(ALL), lang=lang, title=str(t["strata"]))
    blocks.append(_fig(chart, f"{t['figure']}: {t['strata']}"))
    return {"id": "strata", "title": t["strata"], "blocks": blocks}


def _sources(rel: Release, f: _Fmt) -> dict[str, Any]:
    t = f.t
    recs = rel.records.tables["records_by_list"]
    lists_pub = rel.publication.get("lists") or {}
    counted = [k for k in IDENTIFIER_KINDS if f"records_with_{k}" in rel.records.tables]
    rows, css = [], []
    for _, r in recs.iterrows():
        name = str(r["list"])
        info = lists_pub.get(name, {}) if isinstance(lists_pub.get(name), dict) else {}
        persons = rel.cell("capture_patterns", {name: "1"}) if name != TOTAL else rel.detected
        shares = [_share(rel, f, name, kind) for kind in counted]
        rows.append([f.value("list", name), f.count(r["records"], r[FLAG]), f.count(*persons), *shares,
                     str(info.get("definition", t["not_given"] if name != TOTAL else "")),
                     str(info.get("period") or (rel.publication.get("period") or rel.year if name != TOTAL else ""))])
        css.append("margin" if name == TOTAL else "")
    header = [t["list"], t["records"], t["persons"], *(t[f"share_{kind}"] for kind in counted), t["definition"],
              t["period"]]
    return {"id": "sources", "title": t["sources"], "blocks": [
        _p(str(t["sources_intro"])),
        _table(t["sources"], header, rows, numeric=range(1, 3 + len(counted)), css=css),
        _p(str(t["id_share_note"] if counted else t["id_share_missing"]), "note")]}


def _share(rel: Release, f: _Fmt, name: str, kind: str) -> str:
    """A list's published share of records with an identifier, as a percentage (the withheld mark if withheld)."""
    share, flag = rel.identifier_share(name, kind)
    if share is None:
        return f.count(None, flag) if flag else "–"
    return f"{f.n(share * 100)}%"


def _linkage(rel: Release, f: _Fmt, lang: str) -> dict[str, Any]:
    t = f.t
    link = rel.run.results["linkage"]
    recs = rel.records.tables["records_by_list"]
    total = recs[recs["list"] == TOTAL].iloc[0]
    patterns = rel.counts.tables["capture_patterns"]
    lists = list(rel.run.histories.lists)
    inner = patterns[(patterns[lists] != TOTAL).all(axis=1)]
    k = inner[lists].astype(int).sum(axis=1)
    by_k = []
    for j in range(1, len(lists) + 1):
        part = inner[k == j]
        if part["count"].isna().any():
            # one pattern (all the lists) is one cell: its own mark, as the pattern table shows it (a
            # primary cell is "<11", not [c]); a sum of several cells with one withheld is withheld
            flag = str(part[FLAG].iloc[0]) if len(part) == 1 and FLAG in part.columns else "secondary"
            by_k.append(f"{j}: {f.count(None, flag)}")
        else:
            by_k.append(f"{j}: {f.n(part['count'].sum())}")
    text = str(t["linkage_text"]).format(records=f.count(total["records"], total[FLAG]), lists=len(lists),
                                         persons=f.count(*rel.detected), method=link.get("method", ""),
                                         clusters=str(t["cluster_sizes"]).format(sizes="; ".join(by_k)))
    blocks: list[dict[str, Any]] = [_p(text)]
    # the protected estimates (rounded; "not estimable" below the policy's minimums, as every estimate)
    sens = rel.sensitivity
    if len(sens) > 1:
        rows = [[f.n(r["threshold"], 2), f.method(r["method"]), f.count(r["estimate"], r[FLAG])]
                for _, r in sens.iterrows()]
        # the headline combines imputed linkages, these rows are single linkages: at the run's own threshold
        # the two differ, and a reader comparing them is told why
        imputed = interval_includes(rel.result(), rel.row())["linkage"]
        blocks.append(_table(str(t["linkage_sensitivity"]), [t["threshold"], t["method"], t["estimated_total"]],
                             rows, numeric=(0, 2), note=str(t["linkage_sensitivity_single"]) if imputed else ""))
    else:
        blocks.append(_p(str(t["linkage_sensitivity_none"]), "na"))
    return {"id": "linkage", "title": t["linkage"], "blocks": blocks}


def _overlaps(rel: Release, f: _Fmt, lang: str) -> dict[str, Any]:
    t = f.t
    patterns = rel.counts.tables["capture_patterns"]
    lists = list(rel.run.histories.lists)
    inner = patterns[(patterns[lists] != TOTAL).all(axis=1)].copy()
    for name in lists:
        inner[name] = inner[name].astype(int)
    sizes = {}
    for name in lists:
        v, _flag = rel.cell("capture_patterns", {name: "1"})
        sizes[name] = float("nan") if v is None else v
    chart = charts.upset_plot(inner.astype({"count": "Float64"}).astype({"count": float}), lists, list_sizes=sizes,
                              lang=lang, flag=FLAG if FLAG in inner.columns else None)
    rows = []
    for _, r in inner[inner[lists].sum(axis=1) > 0].iterrows():
        rows.append([" + ".join(n for n in lists if r[n] == 1), f.count(r["count"], r[FLAG])])
    return {"id": "overlaps", "title": t["overlaps"], "blocks": [
        _p(str(t["overlaps_intro"]).format(threshold=rel.policy.threshold)),
        _fig(chart, f"{t['figure']}: {t['overlaps']}"),
        _table(str(t["pattern_table"]), [t["list"], t["count"]], rows, numeric=(1,))]}


def _sdg(rel: Release, f: _Fmt) -> dict[str, Any]:
    t = f.t
    table = rel.counts.tables.get("detected_by_sex_age_exploitation")
    if table is None:
        return {"id": "sdg", "title": t["sdg"], "blocks": [_p(str(t["sdg_none"]), "na")]}
    dims = [c for c in table.columns if c not in ("count", FLAG)]
    rows, css = [], []
    for _, r in table.iterrows():
        rows.append([*(f.value(d, r[d]) for d in dims), f.count(r["count"], r[FLAG])])
        css.append("margin" if (r[dims] == TOTAL).any() else "")
    blocks: list[dict[str, Any]] = [_p(str(t["sdg_intro"])),
                                    _table(str(t["sdg"]), [*(t[d] for d in dims), t["count"]], rows,
                                           numeric=(len(dims),), css=css)]
    return {"id": "sdg", "title": t["sdg"], "blocks": blocks}


def _models(rel: Release, f: _Fmt, lang: str) -> dict[str, Any]:
    t = f.t
    from cifranegra.report.disclosure import round_estimate

    result = rel.result() or {}
    models = ((result.get("details") or {}).get("models") or [])[:10]
    blocks: list[dict[str, Any]] = []
    chosen_flag = rel.chosen()[FLAG]
    if chosen_flag:  # below the policy's minimums: no model's estimate (nor its fit) of these persons is published
        blocks.append(_p(f"{t['not_estimable']}: {chosen_flag.partition(': ')[2]}", "na"))
    elif models and all("bic" in m for m in models):
        best = min(float(m["bic"]) for m in models)
        rows, css = [], []
        for m in models:
            rows.append([str(m.get("rank", "")), str(m.get("terms") or m.get("model", "")),
                         f.n(float(m["bic"]) - best, 1),
                         f.n(round_estimate(float(m["estimate"]), rel.policy)) if m.get("estimate") is not None
                         else "–"])
            css.append("chosen" if m.get("model") == result.get("model") else "")
        settings = result.get("settings") or {}
        blocks += [_p(str(t["models_intro"]).format(criterion=str(settings.get("select", "bic")).upper())),
                   _table(str(t["models"]), ["#", t["model"], t["delta_bic"], t["estimated_total"]], rows,
                          numeric=(0, 2, 3), css=css)]
    elif interval_includes(result, rel.row())["linkage"]:  # a combination of imputed linkages: no one ranking
        blocks.append(_p(str(t["models_combined"]).format(method=f.method(rel.method)), "na"))
    else:
        blocks.append(_p(str(t["models_none"]).format(method=f.method(rel.method)), "na"))
    e = rel.estimates[rel.estimates["stratum"] == ALL]
    blocks.append(_p(str(t["estimators"]), "h3"))
    if len(e) > 1:
        rows_frame = pd.DataFrame({"label": [f.method(m) for m in e["method"]], "estimate": e["estimate"],
                                   "lower": e["lower"], "upper": e["upper"]})
        chart = charts.dot_interval_plot(rows_frame, chosen=f.method(rel.method), lang=lang)
        blocks.append(_fig(chart, f"{t['figure']}: {t['estimators']}"))
    else:
        blocks.append(_p(str(t["estimators_one"]).format(methods=", ".join(f.method(m) for m in e["method"])),
                         "na"))
    blocks += _drop_one(rel, f, lang)
    return {"id": "models", "title": t["models"], "blocks": blocks}


def _drop_one(rel: Release, f: _Fmt, lang: str) -> list[dict[str, Any]]:
    """The first method's estimate with each list left out, beside the estimate with all lists (marked)."""
    t = f.t
    blocks: list[dict[str, Any]] = [_p(str(t["drop_one"]), "h3")]
    d = rel.drop_one
    if d.empty:
        return [*blocks, _p(str(t["drop_one_none"]), "na")]
    chosen = rel.chosen()
    everyone = str(t["drop_one_all"])
    frame = pd.DataFrame({"label": [everyone, *(str(t["drop_one_without"]).format(list=x) for x in d["list"])],
                          "estimate": [chosen["estimate"], *d["estimate"]],
                          "lower": [chosen["lower"], *d["lower"]], "upper": [chosen["upper"], *d["upper"]]})
    chart = charts.dot_interval_plot(frame, chosen=everyone, lang=lang, title=str(t["drop_one"]))
    return [*blocks, _p(str(t["drop_one_text"]).format(method=f.method(rel.method))),
            _fig(chart, f"{t['figure']}: {t['drop_one']}")]


def _states(rel: Release, f: _Fmt, lang: str) -> dict[str, Any]:
    t = f.t
    e = rel.estimates
    mine = e[e["stratum"].str.match(r"^state=[^|]*$") & (e["method"] == rel.method)]
    if mine.empty:
        return {"id": "states", "title": t["by_state"], "blocks": [_p(str(t["by_state_none"]), "na")]}
    rows = pd.DataFrame({"state": [s.partition("=")[2] for s in mine["stratum"]], "rate": mine["rate_per_100k"],
                         "rate_lower": mine["rate_lower"], "rate_upper": mine["rate_upper"]})
    chart = charts.choropleth(rows, lang=lang)
    return {"id": "states", "title": t["by_state"], "blocks": [_fig(chart, f"{t['figure']}: {t['by_state']}")]}


def _distribution(rel: Release, f: _Fmt, lang: str) -> dict[str, Any]:
    t = f.t
    result = rel.result() or {}
    draws = result.get("replicates") or result.get("draws")
    chosen = rel.chosen()
    blocks: list[dict[str, Any]] = []
    if draws and len(draws) > 1 and not chosen[FLAG] and pd.notna(chosen["lower"]):
        kind = "bootstrap" if result.get("replicates") else "posterior"
        chart = charts.distribution_plot(draws, estimate=chosen["estimate"], lower=chosen["lower"],
                                         upper=chosen["upper"], kind=kind, lang=lang)
        blocks.append(_fig(chart, f"{t['figure']}: {t['distribution']}"))
    else:
        blocks.append(_p(str(t["distribution_none"]).format(method=f.method(rel.method)), "na"))
    blocks.append(_p(str(t["fit"]), "h3"))
    fit, why = rel.fit_rows()
    if fit is None:
        if why.startswith("withheld:"):
            blocks.append(_p(str(t["fit_withheld"]).format(withheld=why.partition(":")[2]), "na"))
        else:
            blocks.append(_p(str(t["fit_none"]).format(why=why), "na"))
    else:
        info = rel.run.results.get("fitted_patterns") or {}
        blocks.append(_p(str(t["fit_text"]).format(model=info.get("model", "–"), deviance=f.n(info.get("deviance"), 1),
                                                   df=info.get("df", "–"))))
        blocks.append(_fig(charts.goodness_of_fit_plot(fit, lang=lang), f"{t['figure']}: {t['fit']}"))
    return {"id": "distribution", "title": t["distribution"], "blocks": blocks}


def _context_section(rel: Release, f: _Fmt, lang: str) -> dict[str, Any]:
    t = f.t
    from cifranegra.report.official import official_national_series

    series = official_national_series()
    keep = {"sesnsp_trata_victims": str(t["official_sesnsp"]),
            "victims_identified_by_government": str(t["official_government"])}
    official = series[series["indicator"].isin(list(keep)) & series["year"].notna() & series["complete"]]
    blocks: list[dict[str, Any]] = [_p(str(t["context_intro"]))]
    frame = pd.DataFrame({"year": official["year"].astype(int), "victims": official["victims"].astype(float),
                          "series": official["indicator"].map(keep)})
    chosen = rel.chosen()
    est = pd.DataFrame({"year": [rel.year], "estimate": [chosen["estimate"]], "lower": [chosen["lower"]],
                        "upper": [chosen["upper"]]}).dropna()
    chart = charts.official_and_estimates_plot(frame, est, lang=lang)
    blocks.append(_fig(chart, f"{t['figure']}: {t['context']}"))
    return {"id": "context", "title": t["context"], "blocks": blocks}


def _methods(rel: Release, f: _Fmt) -> dict[str, Any]:
    t = f.t
    result = rel.result() or {}
    settings = result.get("settings") or {}
    chosen = rel.chosen()
    audit = rel.counts.audit
    passed = rel.counts.passed and rel.records.passed
    result_text = (str(t["audit_passed"]).format(withheld=audit["withheld"], cells=audit["cells"]) if passed
                   else str(t["audit_failed"]))
    p = rel.policy
    blocks = [_p(x) for x in t["methods_text"]]
    blocks.append(_p(str(t["estimator_text"]).format(method=f.method(rel.method), selection=settings.get("select", "–"),
                                                     interval=chosen["interval_method"] or "–")))
    blocks += [_p(str(t["disclosure"]), "h3"),
               _p(str(t["disclosure_text"]).format(below=p.threshold - 1, width=p.width, result=result_text,
                                                   min_observed=p.min_observed, min_lists=p.min_lists))]
    return {"id": "methods", "title": t["methods"], "blocks": blocks}


# ------------------------------------------------------------------------------------------------ rendering
def _template() -> Any:
    try:
        import jinja2
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError("the report needs jinja2: pip install cifranegra (a dependency)") from exc
    env = jinja2.Environment(loader=jinja2.PackageLoader("cifranegra.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), keep_trailing_newline=True)
    return env.get_template("report.html.j2")


def render_html(release: Release, lang: str) -> str:
    """The report in ``lang`` as one self-contained HTML document."""
    f = _Fmt(lang, release.policy)
    t = f.t
    sections = [_headline(release, f), _strata(release, f, lang), _sources(release, f),
                _linkage(release, f, lang), _overlaps(release, f, lang), _sdg(release, f), _models(release, f, lang),
                _states(release, f, lang), _context_section(release, f, lang), _distribution(release, f, lang),
                _methods(release, f)]
    pub = release.publication
    meta = [(t["reference_period"], str(pub.get("period") or release.year)),
            (t["published"], format_date(dt.date.today(), lang)),
            (t["software"], f"cifranegra {__version__}")]
    if pub.get("organisation"):
        meta.insert(0, (t["prepared_by"], str(pub["organisation"])))
    css = resources.files("cifranegra.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    return str(_template().render(t=t, title=pub.get("title") or t["default_title"], subtitle=t["subtitle"],
                                  meta=meta, sections=sections, css=css, version=__version__,
                                  footer=str(t["footer"]).format(version=__version__)))


def _offline_fetcher(weasyprint: Any) -> Any:
    """A URL fetcher that serves ``data:`` URLs only (the report must not fetch anything)."""
    fetcher_class = getattr(weasyprint, "URLFetcher", None)
    if fetcher_class is not None:  # WeasyPrint >= 67
        return fetcher_class(allowed_protocols=["data"], fail_on_errors=True)
    fetch = weasyprint.default_url_fetcher  # pragma: no cover - older WeasyPrint

    def offline(url: str, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        if not url.startswith("data:"):
            raise InputError("the report refers to an outside resource; a report must not fetch anything")
        return fetch(url, *args, **kwargs)

    return offline  # pragma: no cover


def render_pdf(html: str, path: str | Path) -> Path:
    """Write ``html`` as a tagged PDF/A-3b (WeasyPrint); nothing is fetched from outside the document."""
    try:
        import weasyprint
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError("the PDF report needs WeasyPrint and Pango: pip install cifranegra, apt install "
                         "libpango-1.0-0 (or --format html)") from exc
    path = Path(path)
    document = weasyprint.HTML(string=html, url_fetcher=_offline_fetcher(weasyprint))
    document.write_pdf(path, pdf_variant=PDF_VARIANT, pdf_tags=True)
    return path


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.images = 0
        self._svg: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html" and not a.get("lang"):
            self.problems.append("the document has no lang attribute")
        if tag == "img":
            self.images += 1
            if not (a.get("alt") or "").strip():
                self.problems.append(f"image {self.images} has no alt text")
            if (a.get("src") or "").split(":")[0] not in ("data",):
                self.problems.append(f"image {self.images} is not inline (src is not a data: URL)")
        if tag == "svg":
            self.images += 1
            if not (a.get("aria-label") or "").strip():
                self.problems.append(f"inline SVG {self.images} has no aria-label")
        if tag in ("link", "script") and (a.get("href") or a.get("src")):
            self.problems.append(f"a <{tag}> refers to an outside resource")


def check_accessibility(html: str) -> list[str]:
    """Problems that make the report inaccessible or not self-contained: an image (or inline SVG) without
    alt text, no document language, or a resource not inline. Empty when none."""
    audit = _Audit()
    audit.feed(html)
    if re.search(r"url\((?!['\"]?data:)", html):
        audit.problems.append("the stylesheet refers to an outside resource (url(...))")
    return audit.problems


def _parse_choice(values: Sequence[str] | str, allowed: Sequence[str], flag: str) -> list[str]:
    if isinstance(values, str):
        values = [v for v in values.split(",")]
    out = [v.strip() for v in values if v.strip()]
    bad = [v for v in out if v not in allowed]
    if bad or not out:
        raise InputError(f"{flag}: {', '.join(map(repr, bad)) or 'nothing given'} — choose from "
                         f"{','.join(allowed)} (comma-separated)")
    return list(dict.fromkeys(out))


def publish(results_dir: str | Path, out_dir: str | Path, *, langs: Sequence[str] | str = LANGS,
            formats: Sequence[str] | str = FORMATS, policy: DisclosurePolicy | None = None,
            publication: Mapping[str, Any] | None = None,
            progress: Callable[[str], None] | None = None) -> Published:
    """Render the disclosure-controlled release and report of a run's output folder into ``out_dir``.

    Writes ``tables/*.csv``, ``sdg_16_2_2.csv``, ``metadata.json`` and ``report-<lang>.<format>`` for
    each language and format. Nothing record-level and no count from 1 to threshold − 1 is written.
    Raises :class:`InputError` for a folder that is not a run's output, an unknown language or format,
    or a disclosure audit that fails.
    """
    say = progress or (lambda _m: None)
    langs = _parse_choice(langs, LANGS, "--lang")
    formats = _parse_choice(formats, FORMATS, "--format")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    release = build_release(results_dir, policy, publication)
    if not (release.counts.passed and release.records.passed):
        raise InputError("the disclosure audit failed: some withheld count could be narrowed too far; nothing was "
                         "published (publish coarser categories)")
    timings["release"] = time.perf_counter() - start
    out = Path(out_dir)
    resolved = out.resolve()
    if resolved == Path(results_dir).resolve():
        raise InputError(f"-o {out}: the publish folder must not be the run's output folder (that holds record-level "
                         "data); choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    files = write_release(release, out)
    notes: list[str] = []
    if "pdf" in formats and (why := _pdf_unavailable()):
        formats = [x for x in formats if x != "pdf"]
        if "html" not in formats:
            formats.append("html")
        notes.append(f"the PDF reports were not written ({why}); the HTML reports were. PDFs need WeasyPrint and "
                     "the Pango library (Debian/Ubuntu: apt install libpango-1.0-0 libpangoft2-1.0-0), then "
                     "`cifranegra report RESULTS_DIR` writes them")
    for lang in langs:
        say(f"rendering the report in {lang}")
        t0 = time.perf_counter()
        html = render_html(release, lang)
        problems = check_accessibility(html)
        if problems:  # pragma: no cover - a bug in the templates, caught by the tests
            raise InputError(f"the {lang} report is not accessible: {'; '.join(problems)}")
        timings[f"html_{lang}"] = time.perf_counter() - t0
        if "html" in formats:
            path = out / f"report-{lang}.html"
            path.write_text(html, encoding="utf-8")
            files.append(path)
        if "pdf" in formats:
            t0 = time.perf_counter()
            files.append(render_pdf(html, out / f"report-{lang}.pdf"))
            timings[f"pdf_{lang}"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start
    for note in notes:
        say(note)
    return Published(out, files, timings, True, tuple(notes))


def _pdf_unavailable() -> str:
    """Why WeasyPrint cannot write a PDF here (not installed, or its system library Pango missing), or ""."""
    try:
        import weasyprint  # noqa: F401
    except ImportError as exc:
        return f"WeasyPrint cannot be imported: {exc.name or 'weasyprint'} is missing"
    except OSError as exc:  # WeasyPrint loads Pango with ctypes/cffi at import
        return f"WeasyPrint cannot load its system libraries ({str(exc).splitlines()[0][:120]})"
    return ""
