"""Charts of the publication report: matplotlib figures rendered to SVG strings, each with its alt text.

Every function takes plain, already disclosure-controlled data (a withheld count is a missing value and is
drawn as ``<11``, never as a number), a language (``"es"`` or ``"en"``) and optional ``labels`` overriding the
built-in message catalogue :data:`CATALOGUE`, and returns a :class:`Chart` ``(svg, alt_text)``. Text stays
text in the SVG (searchable, selectable, translatable); the alt text is also the SVG's ``<title>``. Colours
are the Okabe–Ito palette and the map uses *cividis*, both readable with colour-vision deficiencies; numbers
go through :func:`format_number`, which does not depend on the system locale.

matplotlib is an optional dependency (``pip install 'cifranegra[report]'``); it is imported when a chart is
drawn, never at import time, and only through :class:`matplotlib.figure.Figure` (no pyplot, no global state).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from cifranegra.errors import InputError
from cifranegra.schema.codes import normalize_state, states

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CATALOGUE",
    "PALETTE",
    "VALLEY_OF_MEXICO",
    "Chart",
    "choropleth",
    "distribution_plot",
    "dot_interval_plot",
    "format_number",
    "goodness_of_fit_plot",
    "official_and_estimates_plot",
    "upset_plot",
]

#: Okabe & Ito (2008) colour-blind-safe palette: orange, sky blue, bluish green, yellow, blue, vermilion,
#: reddish purple, black.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
_CHOSEN = "#D55E00"
_NEUTRAL = "#0072B2"
_GREY = "#777777"
# official series: the palette less vermilion, which marks the estimate
_OFFICIAL_COLOURS = (PALETTE[4], PALETTE[2], PALETTE[6], PALETTE[0], PALETTE[1], PALETTE[7])
#: States drawn in the Valley of Mexico inset (CDMX, Estado de México, Morelos, Hidalgo, Tlaxcala, Puebla).
VALLEY_OF_MEXICO = ("09", "15", "17", "13", "29", "21")
_INSET_EXTENT = (-100.65, -97.55, 18.3, 20.45)  # lon min, lon max, lat min, lat max
_MAINLAND_EXTENT = (-117.4, -86.6, 14.4, 32.8)

#: Separators per locale: es_MX and en both write 1,234.5 (unlike es_ES); add a locale here, not elsewhere.
_SEPARATORS = {"es": (",", "."), "es_MX": (",", "."), "en": (",", "."), "es_ES": (".", ",")}


class Chart(NamedTuple):
    """An SVG document (a string) and the alt text that says what it shows."""

    svg: str
    alt_text: str


#: Built-in labels; ``labels=`` overrides any of them. Templates use ``str.format`` fields.
CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "withheld": "<11",
        "not_estimable": "not estimable",
        "upset_title": "Overlap of the lists: people in each combination of lists",
        "upset_bar_axis": "People",
        "upset_size_axis": "People in the list",
        "withheld_secondary": "[c]",
        "upset_alt": "UpSet plot of {n_lists} lists and {n_patterns} combinations of lists. Largest: {top}. "
        "Of those shown, {withheld} combinations have fewer than 11 people (shown as <11){secondary}; {hidden} "
        "other combinations, smaller or withheld, are not shown. List sizes: {sizes}.",
        "upset_alt_secondary": " and {n} are withheld to protect them (shown as [c])",
        "dot_title": "Estimates of the total number of victims",
        "dot_axis": "Estimated total (95% interval)",
        "chosen": "chosen estimate",
        "dot_alt": "Dot-and-interval plot of {n} estimates. {chosen_text}Estimates range from {low} to {high}. {rows}.",
        "dot_alt_chosen": "The chosen estimate, {label}, is {estimate} ({lower} to {upper}). ",
        "map_title": "Estimated victims per 100,000 inhabitants by state",
        "map_legend": "Rate per 100,000",
        "map_hatched": "hatched: no publishable estimate",
        "map_inset": "Valley of Mexico",
        "map_dot_axis": "Rate per 100,000 (95% interval)",
        "map_alt": "Map of Mexico's 32 states coloured by the estimated rate of victims per 100,000 inhabitants, "
        "with an inset of the Valley of Mexico, beside a dot-and-interval plot of the same states. "
        "{n_est} states have an estimate, from {low} ({low_state}) to {high} ({high_state}). "
        "{n_missing} states have no publishable estimate and are hatched: {missing}.",
        "dist_title_bootstrap": "Distribution of the estimated total over bootstrap replicates",
        "dist_title_posterior": "Posterior distribution of the total number of victims",
        "dist_axis": "Estimated total",
        "dist_count": "Replicates",
        "dist_density": "Draws",
        "estimate": "estimate",
        "interval": "95% interval",
        "dist_alt": "Histogram of {n} {kind} of the estimated total. Estimate {estimate}, 95% interval {lower} "
        "to {upper}; the middle half of the {kind} lies between {q1} and {q3}.",
        "kind_bootstrap": "bootstrap replicates",
        "kind_posterior": "posterior draws",
        "gof_title": "Goodness of fit: observed and fitted counts by capture pattern",
        "gof_x": "Fitted count",
        "gof_y": "Observed count",
        "gof_alt": "Scatter plot of observed against fitted counts for {n} capture patterns (square-root axes); "
        "points on the diagonal are fitted exactly. Largest Pearson residual {resid} for pattern {pattern}. "
        "{withheld} patterns with fewer than 11 people are withheld and not drawn.",
        "gof_withheld": "{withheld} patterns withheld (<11) not drawn",
        "official_title": "Detected victims (official records) and the estimated total",
        "official_axis": "Victims",
        "official_year": "Year",
        "official_estimate": "Estimated total, detected and undetected (95% interval)",
        "official_note": "Official counts are detected victims, not prevalence.",
        "official_alt": "Chart by year of official counts of detected victims ({series}) and the estimated total "
        "number of victims. Official counts: {official}. Estimated total: {estimates}. Official counts are "
        "detected victims, not prevalence.",
        "year_value": "{year}: {value}",
        "year_interval": "{year}: {value} ({lower} to {upper})",
    },
    "es": {
        "withheld": "<11",
        "not_estimable": "no estimable",
        "upset_title": "Coincidencias entre listas: personas en cada combinación de listas",
        "upset_bar_axis": "Personas",
        "upset_size_axis": "Personas en la lista",
        "withheld_secondary": "[c]",
        "upset_alt": "Gráfica UpSet de {n_lists} listas y {n_patterns} combinaciones de listas. La mayor: {top}. "
        "De las que se muestran, {withheld} combinaciones tienen menos de 11 personas (se muestran como "
        "<11){secondary}; no se muestran otras {hidden} combinaciones, más pequeñas o reservadas. "
        "Tamaño de las listas: {sizes}.",
        "upset_alt_secondary": " y {n} se reservan para protegerlas (se muestran como [c])",
        "dot_title": "Estimaciones del número total de víctimas",
        "dot_axis": "Total estimado (intervalo de 95%)",
        "chosen": "estimación elegida",
        "dot_alt": "Gráfica de puntos e intervalos de {n} estimaciones. {chosen_text}Las estimaciones van de "
        "{low} a {high}. {rows}.",
        "dot_alt_chosen": "La estimación elegida, {label}, es {estimate} ({lower} a {upper}). ",
        "map_title": "Víctimas estimadas por cada 100,000 habitantes por entidad federativa",
        "map_legend": "Tasa por 100,000",
        "map_hatched": "achurado: sin estimación publicable",
        "map_inset": "Valle de México",
        "map_dot_axis": "Tasa por 100,000 (intervalo de 95%)",
        "map_alt": "Mapa de las 32 entidades federativas de México coloreadas según la tasa estimada de víctimas "
        "por cada 100,000 habitantes, con un recuadro del Valle de México, junto a una gráfica de puntos e "
        "intervalos de las mismas entidades. {n_est} entidades tienen estimación, de {low} ({low_state}) a "
        "{high} ({high_state}). {n_missing} entidades no tienen estimación publicable y aparecen achuradas: "
        "{missing}.",
        "dist_title_bootstrap": "Distribución del total estimado en las réplicas bootstrap",
        "dist_title_posterior": "Distribución posterior del número total de víctimas",
        "dist_axis": "Total estimado",
        "dist_count": "Réplicas",
        "dist_density": "Extracciones",
        "estimate": "estimación",
        "interval": "intervalo de 95%",
        "dist_alt": "Histograma de {n} {kind} del total estimado. Estimación {estimate}, intervalo de 95% de "
        "{lower} a {upper}; la mitad central de las {kind} está entre {q1} y {q3}.",
        "kind_bootstrap": "réplicas bootstrap",
        "kind_posterior": "extracciones de la distribución posterior",
        "gof_title": "Bondad de ajuste: conteos observados y ajustados por patrón de captura",
        "gof_x": "Conteo ajustado",
        "gof_y": "Conteo observado",
        "gof_alt": "Gráfica de dispersión de conteos observados contra ajustados para {n} patrones de captura "
        "(ejes en raíz cuadrada); los puntos sobre la diagonal se ajustan exactamente. El mayor residuo de "
        "Pearson es {resid}, en el patrón {pattern}. {withheld} patrones con menos de 11 personas se reservan "
        "y no se dibujan.",
        "gof_withheld": "{withheld} patrones reservados (<11) no dibujados",
        "official_title": "Víctimas detectadas (registros oficiales) y total estimado",
        "official_axis": "Víctimas",
        "official_year": "Año",
        "official_estimate": "Total estimado, detectadas y no detectadas (intervalo de 95%)",
        "official_note": "Los conteos oficiales son víctimas detectadas, no prevalencia.",
        "official_alt": "Gráfica por año de los conteos oficiales de víctimas detectadas ({series}) y del total "
        "estimado de víctimas. Conteos oficiales: {official}. Total estimado: {estimates}. Los conteos oficiales "
        "son víctimas detectadas, no prevalencia.",
        "year_value": "{year}: {value}",
        "year_interval": "{year}: {value} ({lower} a {upper})",
    },
}


# ------------------------------------------------------------------------------------------ helpers
def format_number(value: float | None, lang: str = "es", decimals: int = 0) -> str:
    """``value`` with the locale's thousands and decimal separators (``es``/``es_MX``/``en``: 12,345.6).

    Missing values give ``"–"``; infinity gives ``"∞"``. Independent of the system locale.
    """
    if lang not in _SEPARATORS:
        raise InputError(f"no number format for language {lang!r}: use one of {sorted(_SEPARATORS)}")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    thousands, point = _SEPARATORS[lang]
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", point).replace("\0", thousands)


def _catalogue(lang: str, labels: Mapping[str, str] | None) -> dict[str, str]:
    base = lang.split("_")[0]
    if base not in CATALOGUE:
        raise InputError(f"no chart labels for language {lang!r}: use one of {sorted(CATALOGUE)}")
    out = dict(CATALOGUE[base])
    out.update(labels or {})
    return out


def _new_figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError("charts need matplotlib: pip install 'cifranegra[report]'") from exc
    return Figure(figsize=(width, height), layout="constrained")


def _number_axis(axis: Any, lang: str) -> None:
    from matplotlib.ticker import FuncFormatter

    def fmt(x: float, _pos: object) -> str:
        return format_number(x, lang, 0 if float(x).is_integer() or abs(x) >= 100 else 1 if abs(x) >= 1 else 2)

    axis.set_major_formatter(FuncFormatter(fmt))


def _to_svg(fig: Figure, alt_text: str) -> str:
    from matplotlib import rc_context

    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "cifranegra", "font.family": "DejaVu Sans"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.05)
    svg = buf.getvalue()
    title = f"<title>{escape(alt_text)}</title>"
    svg = re.sub(
        r"<svg ([^>]*)>",
        lambda m: f'<svg {m.group(1)} role="img" aria-label="{escape(alt_text, {chr(34): "&quot;"})}">{title}',
        svg,
        count=1,
    )
    return svg


def _finite(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(float)


# -------------------------------------------------------------------------------------------- UpSet
def upset_plot(
    patterns: pd.DataFrame,
    lists: Sequence[str],
    *,
    count: str = "count",
    list_sizes: Mapping[str, float] | None = None,
    lang: str = "es",
    labels: Mapping[str, str] | None = None,
    max_patterns: int = 40,
    flag: str | None = None,
) -> Chart:
    """UpSet-style plot of the overlap of the lists: one bar per combination of lists (largest first), a dot
    matrix naming the lists in it, and each list's size. Readable for 6+ lists, unlike a Venn diagram.

    ``patterns`` has one 0/1 column per list and a ``count`` column; a withheld count (missing) is drawn as
    a hatched stub labelled ``<11``, or ``[c]`` where the column ``flag`` (if given) says ``secondary``: a
    count withheld to protect another, which may be 11 or more. ``list_sizes`` is required when some count
    is withheld (sizes cannot be summed then).
    """
    t = _catalogue(lang, labels)
    missing = [name for name in [*lists, count] if name not in patterns.columns]
    if missing:
        raise InputError(
            f"the overlap table lacks the columns {missing}; it needs one 0/1 column per list and {count!r}"
        )
    table = patterns[[*lists, count, *([flag] if flag else [])]].copy()
    table[count] = _finite(table[count])
    table = table[table[list(lists)].sum(axis=1) > 0]
    withheld = table[count].isna()
    if list_sizes is None:
        if withheld.any():
            raise InputError("some combinations are withheld: give the published list sizes (list_sizes)")
        list_sizes = {name: float(table.loc[table[name] == 1, count].sum()) for name in lists}
    kept_withheld = table[withheld].head(max_patterns // 4)  # shown, as <11, but never crowding out the rest
    order = pd.concat(
        [table[~withheld].sort_values(count, ascending=False).head(max_patterns - len(kept_withheld)), kept_withheld],
        ignore_index=True,
    )
    n, k = len(order), len(lists)
    fig = _new_figure(max(6.0, 2.5 + 0.32 * n), 3.2 + 0.32 * k)
    grid = fig.add_gridspec(2, 2, width_ratios=(1.2, max(3.0, 0.32 * n)), height_ratios=(2.2, max(1.0, 0.32 * k)))
    bars: Axes = fig.add_subplot(grid[0, 1])
    matrix: Axes = fig.add_subplot(grid[1, 1], sharex=bars)
    sizes: Axes = fig.add_subplot(grid[1, 0], sharey=matrix)
    xs = np.arange(n)
    published = order[count].notna().to_numpy()
    heights = order[count].fillna(0).to_numpy()
    bars.bar(xs[published], heights[published], color=_NEUTRAL)
    stub = max(heights.max() * 0.04, 1.0) if n else 1.0
    bars.bar(xs[~published], stub, color="white", edgecolor=_GREY, hatch="////")
    secondary = (order[flag].astype(str) == "secondary").to_numpy() if flag else np.zeros(n, dtype=bool)
    for x, h, ok, sec in zip(xs, heights, published, secondary, strict=True):
        text = format_number(h, lang) if ok else t["withheld_secondary"] if sec else t["withheld"]
        bars.annotate(text, (x, h if ok else stub), ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                      textcoords="offset points")  # fmt: skip
    bars.set_ylabel(t["upset_bar_axis"])
    bars.set_title(t["upset_title"], loc="left")
    _number_axis(bars.yaxis, lang)
    bars.spines[["top", "right"]].set_visible(False)
    bars.tick_params(axis="x", bottom=False, labelbottom=False)
    ys = np.arange(k)[::-1]
    for x, (_, row) in zip(xs, order.iterrows(), strict=True):
        member = [ys[j] for j, name in enumerate(lists) if row[name] == 1]
        matrix.scatter([x] * k, ys, color="#DDDDDD", s=30, zorder=1)
        matrix.scatter([x] * len(member), member, color="#000000", s=30, zorder=2)
        if len(member) > 1:
            matrix.plot([x, x], [min(member), max(member)], color="#000000", lw=1.5, zorder=2)
    matrix.set_yticks(ys, [str(name) for name in lists])
    matrix.tick_params(axis="x", bottom=False, labelbottom=False)
    matrix.set_xlim(-0.6, n - 0.4)
    for side in ("top", "right", "bottom", "left"):
        matrix.spines[side].set_visible(False)
    size_values = [float(list_sizes[name]) for name in lists]
    sizes.barh(ys, size_values, color=_GREY)
    sizes.invert_xaxis()
    sizes.set_xlabel(t["upset_size_axis"])
    _number_axis(sizes.xaxis, lang)
    sizes.spines[["top", "left"]].set_visible(False)
    sizes.tick_params(axis="y", left=False, labelleft=False)
    if n and published.any():
        first = order[published].iloc[0]
        top = " + ".join(str(name) for name in lists if first[name] == 1) + f" ({format_number(first[count], lang)})"
    else:
        top = t["withheld"]
    alt = t["upset_alt"].format(
        n_lists=k,
        n_patterns=n,
        top=top,
        withheld=int((~published & ~secondary).sum()),
        secondary=t["upset_alt_secondary"].format(n=int(secondary.sum())) if secondary.any() else "",
        hidden=len(table) - n,
        sizes=", ".join(f"{name} {format_number(v, lang)}" for name, v in zip(lists, size_values, strict=True)),
    )
    return Chart(_to_svg(fig, alt), alt)


# ---------------------------------------------------------------------------------- dot and interval
def _dot_panel(ax: Axes, rows: pd.DataFrame, chosen: str | None, t: Mapping[str, str], lang: str) -> None:
    est, lo, hi = (_finite(rows[c]) for c in ("estimate", "lower", "upper"))
    ys = np.arange(len(rows))[::-1]
    for y, label, e, a, b in zip(ys, rows["label"], est, lo, hi, strict=True):
        colour = _CHOSEN if label == chosen else _NEUTRAL
        if math.isnan(e):
            ax.annotate(t["not_estimable"], (0, y), xycoords=("axes fraction", "data"), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8, color=_GREY, style="italic")  # fmt: skip
            continue
        if not (math.isnan(a) or math.isnan(b)):
            ax.plot([a, b], [y, y], color=colour, lw=2.2 if label == chosen else 1.4, solid_capstyle="butt")
        ax.plot([e], [y], marker="D" if label == chosen else "o", color=colour, ms=7 if label == chosen else 5)
    if chosen is not None and (rows["label"] == chosen).any():
        value = float(est[(rows["label"] == chosen).to_numpy()].iloc[0])
        if not math.isnan(value):
            ax.axvline(value, color=_CHOSEN, lw=0.8, ls="--", label=t["chosen"])
            ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_yticks(ys, [str(v) for v in rows["label"]])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.grid(axis="x", color="#EEEEEE")
    ax.spines[["top", "right"]].set_visible(False)
    _number_axis(ax.xaxis, lang)


def _check_rows(rows: pd.DataFrame, needed: Sequence[str], what: str) -> None:
    missing = [c for c in needed if c not in rows.columns]
    if missing:
        raise InputError(f"the {what} lacks the columns {missing}; it needs {list(needed)}")


def dot_interval_plot(
    rows: pd.DataFrame,
    *,
    chosen: str | None = None,
    title: str | None = None,
    axis_label: str | None = None,
    lang: str = "es",
    labels: Mapping[str, str] | None = None,
) -> Chart:
    """Dot-and-interval plot, one row per ``label`` (estimator, dropped list, state...), with ``estimate``,
    ``lower`` and ``upper``; the row named ``chosen`` is marked (diamond, colour, dashed line). A missing
    estimate is written "not estimable". Used for estimator comparison and drop-one-list sensitivity."""
    t = _catalogue(lang, labels)
    _check_rows(rows, ("label", "estimate", "lower", "upper"), "dot-and-interval table")
    fig = _new_figure(7.5, 1.4 + 0.34 * len(rows))
    ax = fig.add_subplot()
    _dot_panel(ax, rows, chosen, t, lang)
    ax.set_xlabel(axis_label or t["dot_axis"])
    ax.set_title(title or t["dot_title"], loc="left")
    est = _finite(rows["estimate"])
    chosen_text = ""
    if chosen is not None and (rows["label"] == chosen).any():
        row = rows[rows["label"] == chosen].iloc[0]
        chosen_text = t["dot_alt_chosen"].format(
            label=chosen,
            estimate=format_number(float(row["estimate"]), lang),
            lower=format_number(float(row["lower"]), lang),
            upper=format_number(float(row["upper"]), lang),
        )
    described = [
        f"{label} {format_number(e, lang)}" if not math.isnan(e) else f"{label} {t['not_estimable']}"
        for label, e in zip(rows["label"], est, strict=True)
    ]
    alt = t["dot_alt"].format(
        n=len(rows),
        chosen_text=chosen_text,
        low=format_number(est.min(), lang),
        high=format_number(est.max(), lang),
        rows="; ".join(described),
    )
    return Chart(_to_svg(fig, alt), alt)


# --------------------------------------------------------------------------------------------- map
@cache
def _geometry() -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """(state code, polygons) per state; each polygon an (n, 2) array per ring, exterior first."""
    text = (
        resources.files("cifranegra.report")
        .joinpath("data")
        .joinpath("mexico_states_simplified.geojson")
        .read_text(encoding="utf-8")
    )
    out: list[tuple[str, tuple[Any, ...]]] = []
    for feature in json.loads(text)["features"]:
        geom = feature["geometry"]
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        out.append((feature["properties"]["cve_ent"], tuple(tuple(np.asarray(r) for r in p) for p in polys)))
    return tuple(out)


def _state_path(polys: tuple[Any, ...]) -> Any:
    from matplotlib.path import Path

    vertices, codes = [], []
    for poly in polys:
        for ring in poly:
            vertices.append(ring)
            codes.extend([Path.MOVETO] + [Path.LINETO] * (len(ring) - 2) + [Path.CLOSEPOLY])
    return Path(np.concatenate(vertices), codes)


def _label_point(polys: tuple[Any, ...]) -> tuple[float, float]:
    ring = max((p[0] for p in polys), key=lambda r: abs(_area(r)))
    x, y = ring[:, 0], ring[:, 1]
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]
    a = cross.sum() / 2
    return float(((x[:-1] + x[1:]) * cross).sum() / (6 * a)), float(((y[:-1] + y[1:]) * cross).sum() / (6 * a))


def _area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return float((x[:-1] * y[1:] - x[1:] * y[:-1]).sum() / 2)


def _draw_states(
    ax: Axes, rates: Mapping[str, float], cmap: Any, norm: Any, prefix: str, label_codes: set[str]
) -> None:
    from matplotlib.patches import PathPatch

    abbreviations = {st.code: st.abbreviation for st in states()}
    for code, polys in _geometry():
        rate = rates.get(code, math.nan)
        known = not math.isnan(rate)
        patch = PathPatch(
            _state_path(polys),
            facecolor=cmap(norm(rate)) if known else "white",
            edgecolor="#444444" if known else _GREY,
            hatch=None if known else "////",
            lw=0.4,
        )
        patch.set_gid(f"{prefix}state-{code}")
        ax.add_patch(patch)
        if not known and code in label_codes:
            x, y = _label_point(polys)
            ax.annotate(abbreviations[code], (x, y), ha="center", va="center", fontsize=6, color="#222222")


def choropleth(
    rows: pd.DataFrame,
    *,
    title: str | None = None,
    lang: str = "es",
    labels: Mapping[str, str] | None = None,
) -> Chart:
    """Choropleth of rates per 100,000 by state, with an inset of the Valley of Mexico, beside a
    dot-and-interval plot of the same 32 states (the map shows where, the dots show how sure).

    ``rows`` has ``state`` (any form :func:`cifranegra.schema.codes.normalize_state` reads), ``rate``,
    ``rate_lower`` and ``rate_upper``; a state that is absent or whose rate is missing has no publishable
    estimate: hatched, labelled with its abbreviation, and "not estimable" in the dot plot.
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    t = _catalogue(lang, labels)
    _check_rows(rows, ("state", "rate", "rate_lower", "rate_upper"), "table of rates by state")
    codes = [normalize_state(v) for v in rows["state"]]
    bad = [i + 1 for i, c in enumerate(codes) if c is None]
    if bad:
        raise InputError(f"rows {bad} of the table of rates by state name no Mexican state (column 'state')")
    if len(set(codes)) != len(codes):
        raise InputError("the table of rates by state has a state more than once (column 'state')")
    frame = rows.assign(code=[str(c) for c in codes])
    rate = dict(zip(frame["code"], _finite(frame["rate"]), strict=True))
    known = {c: v for c, v in rate.items() if not math.isnan(v)}
    cmap = colormaps["cividis_r"]
    top = max(known.values()) if known else 1.0
    norm = Normalize(vmin=0, vmax=top if top > 0 else 1.0)
    fig = _new_figure(13.0, 8.0)
    grid = fig.add_gridspec(1, 2, width_ratios=(1.75, 1.0))
    ax = fig.add_subplot(grid[0, 0])
    _draw_states(ax, rate, cmap, norm, "", {c for c, _ in _geometry() if c not in VALLEY_OF_MEXICO[:3]})
    x0, x1, y0, y1 = _MAINLAND_EXTENT
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1 / math.cos(math.radians(23.5)))
    ax.set_axis_off()
    ax.set_title(title or t["map_title"], loc="left")
    ix0, ix1, iy0, iy1 = _INSET_EXTENT
    ax.add_patch(Rectangle((ix0, iy0), ix1 - ix0, iy1 - iy0, fill=False, edgecolor="#000000", lw=0.8))
    inset = ax.inset_axes((0.0, 0.0, 0.36, 0.36))
    _draw_states(inset, rate, cmap, norm, "inset-", set(VALLEY_OF_MEXICO))
    inset.set_xlim(ix0, ix1)
    inset.set_ylim(iy0, iy1)
    inset.set_aspect(1 / math.cos(math.radians(19.4)))
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_title(t["map_inset"], fontsize=8)
    from matplotlib.cm import ScalarMappable

    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, orientation="horizontal", fraction=0.04,
                       pad=0.02, shrink=0.6)  # fmt: skip
    bar.set_label(f"{t['map_legend']} ({t['map_hatched']})")
    _number_axis(bar.ax.xaxis, lang)
    names = {st.code: st.short_name for st in states()}
    table = pd.DataFrame({"code": [st.code for st in states()]})
    table = table.merge(frame[["code", "rate", "rate_lower", "rate_upper"]], on="code", how="left")
    table["label"] = table["code"].map(names)
    table["estimate"], table["lower"], table["upper"] = (
        _finite(table["rate"]),
        _finite(table["rate_lower"]),
        _finite(table["rate_upper"]),
    )
    table = table.sort_values(["estimate", "label"], ascending=[False, True], na_position="last")
    dots = fig.add_subplot(grid[0, 1])
    _dot_panel(dots, table.reset_index(drop=True), None, t, lang)
    dots.tick_params(axis="y", labelsize=7)
    dots.set_xlabel(t["map_dot_axis"])
    missing = table[table["estimate"].isna()]["label"].tolist()
    have = table.dropna(subset=["estimate"])
    alt = t["map_alt"].format(
        n_est=len(have),
        low=format_number(have["estimate"].min(), lang, 2) if len(have) else "–",
        low_state=have["label"].iloc[-1] if len(have) else "–",
        high=format_number(have["estimate"].max(), lang, 2) if len(have) else "–",
        high_state=have["label"].iloc[0] if len(have) else "–",
        n_missing=len(missing),
        missing=", ".join(missing) if missing else "–",
    )
    return Chart(_to_svg(fig, alt), alt)


# ------------------------------------------------------------------------------------- distribution
def distribution_plot(
    draws: Sequence[float] | np.ndarray,
    *,
    estimate: float,
    lower: float,
    upper: float,
    kind: str = "bootstrap",
    lang: str = "es",
    labels: Mapping[str, str] | None = None,
) -> Chart:
    """Histogram of N̂ over bootstrap replicates (``kind="bootstrap"``) or posterior draws (``"posterior"``),
    with the estimate and its interval marked."""
    if kind not in ("bootstrap", "posterior"):
        raise InputError(f"kind must be 'bootstrap' or 'posterior', not {kind!r}")
    t = _catalogue(lang, labels)
    values = np.asarray(draws, dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 2:
        raise InputError("a distribution plot needs at least two finite replicates or draws")
    fig = _new_figure(7.5, 3.8)
    ax = fig.add_subplot()
    ax.axvspan(lower, upper, color=PALETTE[1], alpha=0.25, lw=0, label=t["interval"])
    ax.hist(values, bins=min(50, max(10, values.size // 20)), color=_NEUTRAL, alpha=0.85)
    ax.axvline(estimate, color=_CHOSEN, lw=1.6, label=t["estimate"])
    ax.set_xlabel(t["dist_axis"])
    ax.set_ylabel(t["dist_count"] if kind == "bootstrap" else t["dist_density"])
    ax.set_title(t[f"dist_title_{kind}"], loc="left")
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    _number_axis(ax.xaxis, lang)
    _number_axis(ax.yaxis, lang)
    q1, q3 = np.quantile(values, [0.25, 0.75])
    alt = t["dist_alt"].format(
        n=format_number(values.size, lang),
        kind=t[f"kind_{kind}"],
        estimate=format_number(estimate, lang),
        lower=format_number(lower, lang),
        upper=format_number(upper, lang),
        q1=format_number(float(q1), lang),
        q3=format_number(float(q3), lang),
    )
    return Chart(_to_svg(fig, alt), alt)


# ---------------------------------------------------------------------------------- goodness of fit
def goodness_of_fit_plot(
    patterns: pd.DataFrame,
    *,
    lang: str = "es",
    labels: Mapping[str, str] | None = None,
) -> Chart:
    """Observed against fitted count for each capture pattern (``pattern``, ``observed``, ``fitted``), on
    square-root axes with the diagonal; the pattern with the largest Pearson residual is named. A withheld
    observed count (missing) is not drawn and is counted in a note."""
    t = _catalogue(lang, labels)
    _check_rows(patterns, ("pattern", "observed", "fitted"), "goodness-of-fit table")
    observed, fitted = _finite(patterns["observed"]), _finite(patterns["fitted"])
    shown = observed.notna() & fitted.notna()
    withheld = int((~shown).sum())
    if not shown.any():
        raise InputError("the goodness-of-fit table has no published observed count to draw")
    obs, fit = observed[shown].to_numpy(), fitted[shown].to_numpy()
    fig = _new_figure(5.8, 5.2)
    ax = fig.add_subplot()
    ax.set_xscale("function", functions=(np.sqrt, np.square))
    ax.set_yscale("function", functions=(np.sqrt, np.square))
    top = float(max(obs.max(), fit.max())) * 1.08
    ax.plot([0, top], [0, top], color=_GREY, lw=0.8, ls="--")
    ax.scatter(fit, obs, color=_NEUTRAL, s=22, zorder=3)
    resid = (obs - fit) / np.sqrt(np.maximum(fit, 1e-9))
    worst = int(np.argmax(np.abs(resid)))
    worst_label = str(patterns["pattern"][shown].iloc[worst])
    ax.annotate(worst_label, (fit[worst], obs[worst]), xytext=(5, 5), textcoords="offset points", fontsize=8)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(t["gof_x"])
    ax.set_ylabel(t["gof_y"])
    ax.set_title(t["gof_title"], loc="left", fontsize=10)
    if withheld:
        ax.annotate(t["gof_withheld"].format(withheld=withheld), (0.02, 0.97), xycoords="axes fraction",
                    va="top", fontsize=8, color=_GREY)  # fmt: skip
    ax.spines[["top", "right"]].set_visible(False)
    _number_axis(ax.xaxis, lang)
    _number_axis(ax.yaxis, lang)
    alt = t["gof_alt"].format(
        n=int(shown.sum()), resid=format_number(float(resid[worst]), lang, 2), pattern=worst_label, withheld=withheld
    )
    return Chart(_to_svg(fig, alt), alt)


# ------------------------------------------------------------------------------ official and estimate
def official_and_estimates_plot(
    official: pd.DataFrame,
    estimates: pd.DataFrame,
    *,
    lang: str = "es",
    labels: Mapping[str, str] | None = None,
) -> Chart:
    """Official counts of detected victims (``year``, ``victims``, ``series``: one line per series) and the
    estimated total (``year``, ``estimate``, ``lower``, ``upper``) on the same axes, each clearly labelled:
    the official counts are detected victims, never prevalence."""
    t = _catalogue(lang, labels)
    _check_rows(official, ("year", "victims", "series"), "table of official counts")
    _check_rows(estimates, ("year", "estimate", "lower", "upper"), "table of estimates")
    fig = _new_figure(8.5, 5.2)
    ax = fig.add_subplot()
    markers = ("o", "s", "^", "v", "P", "X")
    series_names = list(dict.fromkeys(official["series"]))
    for i, name in enumerate(series_names):
        part = official[official["series"] == name].sort_values("year")
        ax.plot(part["year"], _finite(part["victims"]), marker=markers[i % len(markers)], ms=4, lw=1.2,
                color=_OFFICIAL_COLOURS[i % len(_OFFICIAL_COLOURS)], label=str(name))  # fmt: skip
    est = estimates.sort_values("year")
    e, lo, hi = _finite(est["estimate"]), _finite(est["lower"]), _finite(est["upper"])
    ax.errorbar(est["year"], e, yerr=[e - lo, hi - e], fmt="D", color=_CHOSEN, ms=6, capsize=3, lw=1.6,
                label=t["official_estimate"])  # fmt: skip
    ax.set_ylim(bottom=0)
    ax.set_xlabel(t["official_year"])
    ax.set_ylabel(t["official_axis"])
    ax.set_title(t["official_title"], loc="left")
    years = sorted({int(y) for y in official["year"]} | {int(y) for y in est["year"]})
    ax.set_xticks(years, [str(y) for y in years], rotation=45)
    _number_axis(ax.yaxis, lang)
    ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2,
              title=t["official_note"], title_fontsize=8)  # fmt: skip
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#EEEEEE")
    estimates_text = "; ".join(
        t["year_interval"].format(
            year=int(y), value=format_number(a, lang), lower=format_number(b, lang), upper=format_number(c, lang)
        )
        for y, a, b, c in zip(est["year"], e, lo, hi, strict=True)
    )
    official_text = "; ".join(
        f"{name} — " + ", ".join(
            t["year_value"].format(year=int(y), value=format_number(v, lang) if np.isfinite(v) else "–")
            for y, v in zip(part["year"], _finite(part["victims"]), strict=True))
        for name in series_names
        for part in [official[official["series"] == name].sort_values("year")]
    )
    alt = t["official_alt"].format(series=", ".join(map(str, series_names)), official=official_text,
                                   estimates=estimates_text)
    return Chart(_to_svg(fig, alt), alt)
