"""One row format for a result, and the text that shows it: the single home of presentation.

Every place that shows an estimate — ``estimates.csv`` and ``results.json`` of a run, the run's
terminal summary, ``cifranegra estimate`` and ``cifranegra compare`` — builds its row with
:func:`result_row` (or :func:`error_row`) and writes numbers with :func:`format_number` and
:func:`interval_text`, so that they say the same thing the same way. The report (:mod:`.release`,
:mod:`.render`) reads the same rows back from ``results.json``.

This module imports no plotting, template or PDF library (it is used by every command).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cifranegra.estimation.result import EstimateResult

__all__ = [
    "ROW_COLUMNS",
    "comparison_text",
    "error_row",
    "estimates_table_text",
    "format_number",
    "interval_text",
    "result_row",
    "result_text",
    "stratified_total_text",
]

#: The columns of one estimate row, in order (``estimates.csv`` and ``results.json``'s ``estimates``).
ROW_COLUMNS = ("stratum", "method", "observed", "estimate", "lower", "upper", "level", "interval_method",
               "interval_note", "model", "warnings", "error")


def result_row(
    result: EstimateResult, *, stratum: str, method: str, level: float | None = None,
    extra_warnings: Iterable[str] = (),
) -> dict[str, Any]:
    """The row of one fitted result: estimate, the interval reported at ``level`` (None: the result's
    own) or, when it offers none, the reason in ``interval_note``; warnings joined with ``; ``."""
    iv, note = result.reported_interval(level)
    return {
        "stratum": stratum,
        "method": method,
        "observed": int(result.observed),
        "estimate": float(result.estimate),
        "lower": None if iv is None else float(iv.lower),
        "upper": None if iv is None else float(iv.upper),
        "level": level if level is not None else (None if iv is None else iv.level),
        "interval_method": None if iv is None else iv.method,
        "interval_note": note,
        "model": result.model,
        "warnings": "; ".join([*result.warnings, *extra_warnings]),
        "error": None,
    }


def error_row(
    *, stratum: str, method: str, observed: int | None, level: float | None, error: str,
    estimate: float | None = None, lower: float | None = None, upper: float | None = None,
    interval_method: str | None = None, interval_note: str | None = None,
) -> dict[str, Any]:
    """A row without a fitted result: ``error`` says why (or None with a number, e.g. a stratified total)."""
    return {"stratum": stratum, "method": method, "observed": observed, "estimate": estimate, "lower": lower,
            "upper": upper, "level": level, "interval_method": interval_method, "interval_note": interval_note,
            "model": None, "warnings": "", "error": error or None}


def format_number(x: float | None, *, small_decimals: bool = False) -> str:
    """A count or estimate for the terminal: thousands separated, no decimals (``12,340``); with
    ``small_decimals``, two decimals below 100 (``1.25``); ``∞`` for infinity, ``-`` for none/NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    x = float(x)
    if not math.isfinite(x):
        return "∞" if x > 0 else "-∞"
    if small_decimals and abs(x) < 100:
        return f"{x:,.2f}"
    return f"{x:,.0f}"


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value != ""


def interval_text(row: Mapping[str, Any]) -> str:
    """``[lower, upper] (95%)`` of a row, ``no interval: why`` when it has none, or empty."""
    if _present(row.get("lower")) and _present(row.get("upper")):
        level = row.get("level")
        at = f" ({float(level):.0%})" if level is not None and _present(level) else ""
        return f"[{format_number(row['lower'])}, {format_number(row['upper'])}]{at}"
    if _present(row.get("interval_note")):
        return f"no interval: {row['interval_note']}"
    return ""


def estimates_table_text(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The run summary's table: one line per (stratum, method) row; a row with an error shows it."""
    lines = [f"{'stratum':<22}{'method':<14}{'observed':>9}{'estimate':>11}  interval"]
    for e in rows:
        seen = "—" if e.get("observed") is None else e["observed"]
        if e.get("error"):
            lines.append(f"{e['stratum']:<22}{e['method']:<14}{seen:>9}{'—':>11}  {e['error']}")
            continue
        lines.append(f"{e['stratum']:<22}{e['method']:<14}{seen:>9}{format_number(e['estimate']):>11}  "
                     f"{interval_text(e)}".rstrip())
    return lines


def result_text(result: EstimateResult, label: str | None = None, level: float | None = None) -> str:
    """``cifranegra estimate``'s block for one result (counts, estimate, never observed, interval, warnings)."""
    row = result_row(result, stratum=label or "all", method=result.method, level=level)
    head = f"{label}: " if label else ""
    degenerate = result.at_observed_count
    lines = [
        f"{head}{result.method}" + (f" model {result.model}" if result.model else "")
        + f" on {result.n_lists} lists ({', '.join(result.lists)})",
        f"  observed        {result.observed:,}",
        f"  estimated total {format_number(result.estimate, small_decimals=True)}"
        + ("  (= the observed count: not an estimate, see the first warning)" if degenerate else ""),
        f"  never observed  {format_number(result.dark_figure, small_decimals=True)}",
    ]
    lines.extend(_interval_lines(row))
    lines.extend(f"  warning: {w}" for w in result.warnings)
    return "\n".join(lines)


def _interval_lines(row: Mapping[str, Any]) -> list[str]:
    if _present(row.get("lower")):
        return [f"  {float(row['level']):.0%} interval    {format_number(row['lower'], small_decimals=True)} – "
                f"{format_number(row['upper'], small_decimals=True)} ({row['interval_method']})"]
    if _present(row.get("interval_note")):
        return [f"  interval        not available: {row['interval_note']}"]
    return []


def stratified_total_text(total: Any, pooled: EstimateResult | None, pooled_error: str | None) -> str:
    """The stratified total (a :class:`~cifranegra.estimation.stratified.StratifiedTotal`) and the pooled
    fit beside it, as ``cifranegra estimate --strata`` prints them."""
    lines = ["stratified total (sum of the strata's estimates)", f"  observed        {total.observed:,}"]
    if total.estimate is None:
        lines.append(f"  estimated total not available: {total.note}")
    else:
        lines.append(f"  estimated total {format_number(total.estimate, small_decimals=True)}")
        iv = total.interval
        if iv is not None:
            lines.extend(_interval_lines({"lower": iv.lower, "upper": iv.upper, "level": iv.level,
                                          "interval_method": iv.method}))
        if total.note:
            lines.append(f"  note: {total.note}")
    lines.append(f"  strata estimated: {', '.join(total.strata_estimated) or 'none'}")
    if total.strata_not_estimated:
        lines.append(f"  strata not estimated: {', '.join(total.strata_not_estimated)}")
    if pooled is not None:
        iv, _ = pooled.reported_interval()
        span = (f", {iv.level:.0%} interval {format_number(iv.lower, small_decimals=True)} – "
                f"{format_number(iv.upper, small_decimals=True)}" if iv else "")
        lines.append(f"pooled fit (one table, strata ignored): {format_number(pooled.estimate, small_decimals=True)}"
                     f"{span}")
        why = total.comparison(pooled.estimate)
        if why:
            lines.append(f"  {why}")
    else:
        lines.append(f"pooled fit: not available: {pooled_error}")
    return "\n".join(lines)


def comparison_text(comparison: Any, heading: str) -> str:
    """``cifranegra compare``'s tables (a :class:`~cifranegra.estimation.compare.Comparison`): one line per
    family (estimate, standard error, interval or why none), then the sensitivity scenarios."""
    lines = [heading,
             f"{'method':36s} {'estimate':>10s} {'s.e.':>8s} {'lower':>10s} {'upper':>10s}  interval / note"]
    footnotes: list[str] = []
    for row in comparison.table.to_dict(orient="records"):
        estimate = format_number(row.get("estimate"))
        if row["status"] == "ok":
            # a DataFrame column holds NaN, not None, where a family has no interval method
            method = row.get("interval_method")
            note = method if _text_present(method) else "no interval"
            if _text_present(row.get("at_observed_count")):
                estimate += "*"
                footnotes.append(f"* {row['label']}: {row['at_observed_count']}")
            elif row.get("warnings"):
                note += "  [!] " + row["warnings"].split(" | ")[0][:90]
            if _text_present(row.get("interval_note")) and not _text_present(method):
                note = "no interval: " + str(row["interval_note"])[:100]
        else:
            note = f"{row['status']}: {row.get('warnings', '')[:110]}"
        lines.append(f"{row['label']:36s} {estimate:>10s} {format_number(row.get('std_error')):>8s} "
                     f"{format_number(row.get('lower')):>10s} {format_number(row.get('upper')):>10s}  {note}")
    if footnotes:
        lines.append("\n" + "\n".join(footnotes))
        lines.append("  (* = the observed count: not an estimate; run `cifranegra estimate` with that --method for "
                     "the reason and what to try)")
    sens = comparison.sensitivity
    if len(sens):
        fams = list(dict.fromkeys(sens["family"]))
        lines.append("\nsensitivity (point estimates):")
        lines.append(f"{'scenario':24s} {'observed':>9s} " + " ".join(f"{f[:18]:>18s}" for f in fams))
        for scen in dict.fromkeys(sens["scenario"]):
            sub = sens[sens["scenario"] == scen].set_index("family")
            cells = [_cell(sub.loc[f]) if f in sub.index else "-" for f in fams]
            obs = format_number(sub["observed"].iloc[0]) if "observed" in sub else "-"
            lines.append(f"{scen[:24]:24s} {obs:>9s} " + " ".join(f"{c:>18s}" for c in cells))
        if "at_observed_count" in sens and sens["at_observed_count"].map(_text_present).any():
            lines.append("  (* = the observed count: that method could not estimate this scenario)")
    return "\n".join(lines)


def _text_present(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _cell(row: Any) -> str:
    text = format_number(row["estimate"])
    return text + "*" if _text_present(row.get("at_observed_count")) else text
