"""The run's interval includes the linkage's uncertainty: M linkages are drawn from the scored pairs
(:func:`cifranegra.linkage.uncertainty.impute_linkage`), every method is estimated on each, for the
whole table and for each stratum, and the M estimates are combined
(:func:`cifranegra.estimation.combine.combine_estimates`: Rubin's rules on log(N − c), or pooled
posterior draws). The combined estimates replace the single-linkage ones in the run's rows; the
single-linkage rows are kept beside them as a sensitivity line (docs/pipeline.md, 'Linkage
uncertainty in a run').

Every row also says which uncertainty its interval includes (``interval_includes``:
``sampling``, ``+model_selection`` when the interval re-selects or averages the model, ``+linkage``
when it was combined over imputed linkages) and, when combined, the share of its variance that the
linkage causes (``linkage_share``).

The linkage and estimation layers do not know each other; this module, in the pipeline, joins them.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cifranegra._pool import process_pool
from cifranegra.errors import CifranegraError, InputError, ModelError
from cifranegra.estimation import CaptureHistories, estimate
from cifranegra.estimation.combine import combine_estimates
from cifranegra.estimation.result import EstimateResult, Interval
from cifranegra.estimation.stratified import StratifiedTotal, is_unknown, stratified_total, stratum_seed
from cifranegra.linkage.uncertainty import (
    CALIBRATIONS,
    SAMPLERS,
    ImputationSettings,
    LinkageImputations,
    ScoredLinkage,
    impute_linkage,
)
from cifranegra.report.rows import error_row, format_number, interval_text, result_row
from cifranegra.schema.records import stratum_labels

if TYPE_CHECKING:
    from cifranegra.linkage import LinkageResult
    from cifranegra.pipeline.project import Project

__all__ = [
    "UNCERTAINTY_KEYS",
    "LinkageUncertainty",
    "UncertaintyOutcome",
    "apply_linkage_uncertainty",
    "interval_includes",
    "uncertainty_from_table",
    "uncertainty_lines",
]

#: Keys of ``[linkage.uncertainty]`` in a project file.
UNCERTAINTY_KEYS = ("enabled", "imputations", "sampler", "calibration")
#: ``simulated`` (encoded lists only): Dice calibrated on a simulated truth sample (:mod:`.truth_sample`)
RUN_CALIBRATIONS = (*CALIBRATIONS, "simulated")
#: Default number of imputed linkages: enough for Rubin's degrees of freedom to settle, few enough
#: that the demo runs in well under three times its single-linkage time (docs/pipeline.md).
DEFAULT_IMPUTATIONS = 20

_Bad = Callable[..., None]
_Progress = Callable[[str, int, int], None]
_STRATIFIED_TOTAL = "stratified total"


#: Why a run on encoded lists does not impute unless asked (``[linkage.uncertainty] enabled = true``)
_ENCODED_MEASURED = (
    "on simulated lists it over-estimated the number of victims by 6-14% against the true linkage, or its "
    "probabilities were unusable (docs/private-linkage.md, 'Linkage uncertainty')"
)
ENCODED_OFF = (
    f"linkage imputation is off for encoded lists unless [linkage.uncertainty] enabled = true: {_ENCODED_MEASURED}, "
    "so the intervals leave out the linkage's uncertainty"
)

#: The warning of a run that imputes on encoded lists because it was asked to
ENCODED_ON = (
    f"linkage imputation on encoded lists is not validated: {_ENCODED_MEASURED}; compare with the "
    "single-linkage estimates (single_linkage in results.json)"
)

#: The warning of a run that imputes on encoded lists with a simulated truth sample
ENCODED_SIMULATED = (
    "linkage imputation on encoded lists calibrated on a simulated truth sample: on the simulator's own lists "
    "it kept the number of victims within a few percent of the true linkage's, but on lists with twice the "
    "simulator's recording errors it came out 12% high and missed the true linkage's estimate in 7 of 12 draws "
    "(the single linkage in 5; docs/private-linkage.md); if these lists were recorded worse than the "
    "simulator's (many records without CURP or birth date, typos), treat the estimate as high; compare with "
    "the single-linkage estimates (single_linkage in results.json)"
)


@dataclass(frozen=True)
class LinkageUncertainty:
    """``[linkage.uncertainty]``: ``enabled`` (None: on for plaintext lists, whose linkage is always
    probabilistic; off for encoded lists, :data:`ENCODED_OFF`), ``imputations`` (M), ``sampler``
    (``gibbs`` or ``components``) and ``calibration`` (``within-lists``, the default, or ``none``:
    :func:`calibrate_within_lists`; ``simulated``, encoded lists only: a simulated truth sample,
    :func:`~cifranegra.pipeline.truth_sample.simulated_dice_calibration`)."""

    enabled: bool | None = None
    imputations: int = DEFAULT_IMPUTATIONS
    sampler: str = "gibbs"
    calibration: str = "within-lists"

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "imputations": self.imputations, "sampler": self.sampler,
                "calibration": self.calibration}

    def settings(self) -> ImputationSettings:
        """The library's settings for these keys."""
        calibration = "within-lists" if self.calibration == "simulated" else self.calibration  # given as an object
        return ImputationSettings(n_imputations=self.imputations, sampler=self.sampler, calibration=calibration)


def uncertainty_from_table(raw: Any, bad: _Bad) -> LinkageUncertainty:
    """``[linkage.uncertainty]`` checked at load: every problem goes to ``bad(column, message)``;
    the defaults stand in for what is wrong."""
    import difflib

    where = "linkage.uncertainty"
    if raw is None:
        return LinkageUncertainty()
    if not isinstance(raw, Mapping):
        bad(where, "[linkage.uncertainty] must be a table with keys such as imputations = 20")
        return LinkageUncertainty()
    extra = sorted(map(str, set(raw) - set(UNCERTAINTY_KEYS)))
    if extra:
        hints = [h for k in extra for h in difflib.get_close_matches(k, UNCERTAINTY_KEYS, n=1)]
        hint = f" (did you mean {', '.join(map(repr, hints))}?)" if hints else ""
        bad(where, f"unknown key(s) {extra}{hint}; valid keys are {', '.join(sorted(UNCERTAINTY_KEYS))}")
    enabled = raw.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        bad(f"{where}.enabled", f"enabled must be true or false, not {_shown(enabled)}")
        enabled = None
    m = raw.get("imputations", DEFAULT_IMPUTATIONS)
    if isinstance(m, bool) or not isinstance(m, int) or not 2 <= m <= 10_000:
        bad(f"{where}.imputations", f"imputations must be a whole number from 2 to 10000 (the number of linkages "
            f"drawn, e.g. imputations = {DEFAULT_IMPUTATIONS}), not {_shown(m)}; to turn imputation off set "
            "enabled = false")
        m = DEFAULT_IMPUTATIONS
    sampler = raw.get("sampler", "gibbs")
    if sampler not in SAMPLERS:
        near = difflib.get_close_matches(str(sampler), SAMPLERS, n=1) if isinstance(sampler, str) else []
        bad(f"{where}.sampler", f"sampler must be one of {', '.join(map(repr, SAMPLERS))}, not {_shown(sampler)}"
            + (f" (did you mean {near[0]!r}?)" if near else ""))
        sampler = "gibbs"
    calibration = raw.get("calibration", "within-lists")
    if calibration not in RUN_CALIBRATIONS:
        near = (difflib.get_close_matches(str(calibration), RUN_CALIBRATIONS, n=1)
                if isinstance(calibration, str) else [])
        bad(f"{where}.calibration", f"calibration must be one of {', '.join(map(repr, RUN_CALIBRATIONS))}, not "
            f"{_shown(calibration)}" + (f" (did you mean {near[0]!r}?)" if near else ""))
        calibration = "within-lists"
    return LinkageUncertainty(enabled=enabled, imputations=int(m), sampler=str(sampler), calibration=str(calibration))


def _shown(value: Any) -> str:
    """A project-file value in a message, shortened (it is the user's own setting, not record data)."""
    text = repr(value)
    return text if len(text) <= 30 else text[:30] + "…"


def interval_includes(result: EstimateResult | None, *, linkage: bool = False) -> str | None:
    """Which uncertainty the interval of ``result`` includes, as ``sampling[+model_selection][+linkage]``
    (None without an interval). Model selection: a bootstrap or parametric interval that re-selects
    the model (no fixed ``model``), or a posterior over models (dga, LCMCR). For a combined result,
    pass one of the single results it combines and ``linkage=True``."""
    if result is None:
        return None
    iv, _ = result.reported_interval()
    if iv is None:
        return None
    parts = ["sampling"]
    reselects = iv.method.startswith(("bootstrap", "parametric")) and result.settings.get("model") in (None, "")
    if reselects or result.method in ("dga", "lcmcr"):
        parts.append("model_selection")
    if linkage:
        parts.append("linkage")
    return "+".join(parts)


@dataclass
class UncertaintyOutcome:
    """What :func:`apply_linkage_uncertainty` gives the run: the rows, results and stratified totals
    to report, and ``info`` for results.json's ``linkage_uncertainty`` (settings, the imputations'
    diagnostics, the single-linkage rows kept as a sensitivity line, notes)."""

    rows: list[dict[str, Any]]
    results: list[Any]
    totals: dict[str, StratifiedTotal]
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def apply_linkage_uncertainty(
    project: Project,
    link_result: LinkageResult | ScoredLinkage | None,
    strata_h: Mapping[tuple[Any, ...], CaptureHistories],
    rows: Sequence[Mapping[str, Any]],
    results: Sequence[Any],
    totals: Mapping[str, StratifiedTotal],
    progress: _Progress | None = None,
    *,
    workers: int | None = None,
) -> UncertaintyOutcome:
    """The run's estimates with linkage imputation applied (when on) and ``interval_includes`` /
    ``linkage_share`` on every row.

    Off (``[linkage.uncertainty] enabled = false``) or impossible (no scored pairs), the rows are
    today's, each marked with what its interval includes. On, each (stratum, method) row is replaced
    by the combination of its M estimates; a row whose imputations cannot all be estimated or
    combined keeps its single-linkage estimate and says so in its warnings.
    """
    prog = progress or (lambda step, done, total: None)
    setting = project.linkage_uncertainty
    base = _with_total_includes([_marked(dict(r), results, linkage=False) for r in rows])
    info: dict[str, Any] = {**setting.to_dict(), "applied": False}
    if setting.enabled is None and project.encoded:
        info["note"] = ENCODED_OFF
        return UncertaintyOutcome(base, list(results), dict(totals), info, [ENCODED_OFF])
    if setting.enabled is False:
        info["note"] = "linkage imputation is off ([linkage.uncertainty] enabled = false)"
        return UncertaintyOutcome(base, list(results), dict(totals), info)

    def single_only(why: str) -> UncertaintyOutcome:  # imputation impossible: the single linkage, and why
        info["note"] = why
        return UncertaintyOutcome(base, list(results), dict(totals), info, [why])

    if link_result is None:
        return single_only("linkage imputation is not available: the linkage kept no scored pairs to draw "
                           "linkages from, so the intervals leave out the linkage's uncertainty")
    prog("linkage imputation: drawing linkages", 0, 1)
    try:
        imps = impute_linkage(link_result, setting.settings(), seed=project.seed)
    except InputError as exc:  # probabilities no linkage of these lists can match
        return single_only(f"linkage imputation was not applied: {exc}; the intervals leave out the linkage's "
                           "uncertainty")
    prog("linkage imputation: drawing linkages", 1, 1)
    singles = {(str(r["stratum"]), str(r["method"])): res for r in base
               if not r.get("error") and (res := _result_of(r, results)) is not None}
    combined = combine_run(project, imps, strata_h, prog, workers=workers, singles=singles)
    out_rows, out_results, notes = _replace(project, base, results, combined)
    out_totals = dict(totals)
    if strata_h:
        out_totals, out_rows = _retotal(project, out_rows, out_results, strata_h)
    info.update({
        "applied": True,
        "sampler": setting.sampler,
        "imputation": dict(imps.diagnostics),
        "single_linkage": base,
    })
    if project.encoded:
        notes = [ENCODED_SIMULATED if setting.calibration == "simulated" else ENCODED_ON, *notes]
    return UncertaintyOutcome(out_rows, out_results, out_totals, info, notes)


def _marked(row: dict[str, Any], results: Sequence[Any], *, linkage: bool) -> dict[str, Any]:
    """``row`` with ``interval_includes`` and ``linkage_share`` (None where not combined)."""
    row.setdefault("linkage_share", None)
    if row.get("error") or row.get("lower") is None:
        row["interval_includes"] = None
        return row
    if row.get("stratum") == _STRATIFIED_TOTAL:
        row.setdefault("interval_includes", None)
        return row
    match = _result_of(row, results)
    row["interval_includes"] = interval_includes(match, linkage=linkage) if match is not None else "sampling"
    return row


def _with_total_includes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each stratified total row's ``interval_includes``: what every stratum's interval of its method includes."""
    for row in rows:
        if row.get("stratum") != _STRATIFIED_TOTAL:
            continue
        parts = [r.get("interval_includes") for r in rows if r.get("method") == row.get("method")
                 and r.get("stratum") not in ("all", _STRATIFIED_TOTAL) and not r.get("error")]
        row["interval_includes"] = _common(parts) if row.get("lower") is not None else None
    return rows


def _common(parts: Sequence[str | None]) -> str | None:
    """The uncertainty that every one of ``parts`` includes (None when one of them has no interval)."""
    if not parts or not all(parts):
        return None
    sets = [set(str(p).split("+")) for p in parts]
    common = set.intersection(*sets)
    return "+".join(p for p in ("sampling", "model_selection", "linkage") if p in common) or None


def _result_of(row: Mapping[str, Any], results: Sequence[Any]) -> EstimateResult | None:
    for r in results:
        if isinstance(r, EstimateResult) and r.method == row.get("method") and r.estimate == row.get("estimate") \
                and int(r.observed) == row.get("observed"):
            return r
    return None


@dataclass
class _Combined:
    """One (stratum, method): the combined result and one single result, or why not."""

    label: str
    method: str
    result: EstimateResult | None
    single: EstimateResult | None
    why: str | None
    caught: list[str]


#: Methods whose interval is the costly part of a fit (a log-linear interval, profile or bootstrap,
#: is about 60 times its point estimate on the demo): on the imputed linkages they are fitted for
#: the point estimate only, and the within-imputation variance is the single linkage's.
_SHARED_WITHIN = ("loglinear",)


def combine_run(
    project: Project,
    imps: LinkageImputations,
    strata_h: Mapping[tuple[Any, ...], CaptureHistories],
    progress: _Progress | None = None,
    *,
    workers: int | None = None,
    singles: Mapping[tuple[str, str], EstimateResult] | None = None,
) -> list[_Combined]:
    """Every method on every imputed linkage, for the whole table and each stratum of the
    single-linkage run whose value is known, combined per (stratum, method).

    Imputation m of a table is estimated with child m of the table's seed (the project's seed for
    the whole table, :func:`stratum_seed` for a stratum), so that no number depends on ``workers``;
    without ``singles`` (or for a method whose intervals are cheap) the whole table's numbers are
    those of :func:`cifranegra.estimation.combine.impute_and_estimate`.

    ``singles``: the single-linkage result of each (stratum label, method). For a log-linear method
    (:data:`_SHARED_WITHIN`) with one, each imputation is fitted for its point estimate only (the
    model still selected on that imputation) and every imputation's within variance is taken from
    the single linkage's interval: Rubin's T = U_single + (1 + 1/M) B. This is what keeps a run with
    M = 20 within about three times the single-linkage run; it assumes the linkages differ little
    in how precise a fit is, which holds when they differ by a small share of persons.
    """
    from cifranegra._random import spawn_seeds

    prog = progress or (lambda step, done, total: None)
    lists = [s.source for s in project.lists]
    m = imps.n_imputations
    labels = _labels(project, strata_h)  # stratum key -> (label, seed label)
    tables: dict[str, list[CaptureHistories | None]] = {"all": []}
    for key in labels:
        tables[labels[key][0]] = []
    for i in range(m):
        ent = imps.entities(i)
        tables["all"].append(CaptureHistories.from_entities(ent, lists=lists))
        if labels:
            per = CaptureHistories.stratified_from_entities(ent, strata=list(project.strata), lists=lists)
            for key, (label, _) in labels.items():
                tables[label].append(per.get(key))
    seeds = {"all": project.seed, **{label: stratum_seed(project.seed, seed_label) for label, seed_label in
                                     labels.values()}}
    tasks: list[_Task] = []
    for label, hs in tables.items():
        child = [int(s.generate_state(1)[0]) for s in spawn_seeds(seeds[label], m)]
        for method in project.methods:
            opts = _options(project, method)
            if method in _SHARED_WITHIN and (singles or {}).get((label, method)) is not None:
                opts = {**opts, "interval": "none"}
            tasks.extend((label, method, i, h, opts, child[i]) for i, h in enumerate(hs))
    fits = _run_tasks(tasks, prog, workers)
    out = []
    for label in tables:
        for method in project.methods:
            mine = [fits[(label, method, i)] for i in range(m)]
            shared = (singles or {}).get((label, method)) if method in _SHARED_WITHIN else None
            out.append(_combine_one(label, method, mine, project.level, shared, seed=seeds[label]))
    return out


def _labels(project: Project, strata_h: Mapping[tuple[Any, ...], CaptureHistories]) -> dict[tuple[Any, ...],
                                                                                          tuple[str, str]]:
    """The run's label and seed label of each stratum with a known value (as the run shows them)."""
    if not project.strata:
        return {}
    refused = getattr(strata_h, "skipped", {})
    shown = stratum_labels(project.strata, [*strata_h, *refused])
    out = {}
    for key in strata_h:
        if any(is_unknown(v) for v in key):
            continue
        out[key] = (" | ".join(f"{s}={v}" for s, v in shown[key].items()),
                    ", ".join(f"{s}={v}" for s, v in shown[key].items()))
    return out


def _options(project: Project, method: str) -> dict[str, Any]:
    """The method's project options at the project's level, single-process (the imputations run side by side)."""
    from cifranegra.pipeline.run import _takes

    opts = dict(project.method_options.get(method, {}))
    if "level" not in opts and _takes(method, "level"):
        opts["level"] = project.level
    if "workers" not in opts and _takes(method, "workers"):
        opts["workers"] = 1
    return opts


_Task = tuple[str, str, int, "CaptureHistories | None", dict[str, Any], int]
_Fit = tuple["EstimateResult | None", "str | None", list[str]]


def _fit(task: _Task) -> _Fit:
    """One imputed table, one method: the result, or why not; and the warnings raised on the way."""
    _, method, _, h, opts, seed = task
    if h is None:
        return None, "the stratum holds nobody under this imputed linkage", []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = estimate(h, method, seed=seed, **opts)
    except CifranegraError as exc:
        return None, str(exc), []
    return res, None, [str(w.message) for w in caught]


def _run_tasks(tasks: Sequence[_Task], progress: _Progress, workers: int | None) -> dict[tuple[str, str, int], _Fit]:
    from cifranegra.pipeline.run import _available_cores, _mp_context

    n = len(tasks)
    n_proc = min(_available_cores() if workers is None else int(workers), n)
    out: dict[tuple[str, str, int], _Fit] = {}
    step = "linkage imputation: estimating"
    if n_proc <= 1:
        for k, t in enumerate(tasks):
            progress(step, k, n)
            out[(t[0], t[1], t[2])] = _fit(t)
    else:
        with process_pool(n_proc, _mp_context()) as pool:
            for k, (t, fit) in enumerate(zip(tasks, pool.map(_fit, tasks, chunksize=4), strict=True)):
                progress(step, k, n)
                out[(t[0], t[1], t[2])] = fit
    progress(step, n, n)
    return out


def _combine_one(
    label: str, method: str, fits: Sequence[_Fit], level: float, shared: EstimateResult | None = None,
    *, seed: int | None = None,
) -> _Combined:
    """Combine one (stratum, method); with ``shared`` (a single-linkage result), its interval gives
    every imputation's within variance (:func:`combine_run`).

    The combined result records ``seed``, the table's seed that the imputations' seeds derive from;
    with ``shared``, the settings of the single-linkage fit whose interval it takes (its interval
    kind, replicates and spec), the imputations' own (point-only) spec as ``imputation_spec``."""
    caught = list(dict.fromkeys(w for _, _, ws in fits for w in ws))
    for i, (res, why, _) in enumerate(fits):
        if res is None:
            return _Combined(label, method, None, None, f"imputed linkage {i + 1}: {why}", caught)
    fitted = [f[0] for f in fits if f[0] is not None]
    try:
        if shared is not None:
            fitted = _with_shared_interval(fitted, shared, level)
        combined = combine_estimates(fitted, level=level)
    except CifranegraError as exc:
        return _Combined(label, method, None, shared or fitted[0], str(exc), caught)
    if shared is not None:
        diagnostics = {**combined.diagnostics, "within_variance_from": "single linkage"}
        mine = {k: v for k, v in combined.settings.items() if k not in shared.settings}
        settings = {**shared.settings, **mine, "imputation_spec": combined.settings.get("spec")}
        combined = dataclasses.replace(combined, diagnostics=diagnostics, settings=settings)
    combined = dataclasses.replace(combined, seed=seed)
    return _Combined(label, method, combined, shared or fitted[0], None, caught)


def _with_shared_interval(
    fitted: Sequence[EstimateResult], single: EstimateResult, level: float
) -> list[EstimateResult]:
    """Each point-only result given an interval with the single linkage's width on the log(N − c)
    scale (c as :func:`combine_estimates` takes it), so that its within variance is the single's."""
    iv, why = single.reported_interval(level)
    if iv is None:
        raise ModelError(f"the single-linkage estimate has no interval to take the within variance from"
                         f"{': ' + why if why else ''}")
    c = min(float(r.observed) for r in fitted) - 0.5
    ref = min(c, float(single.observed) - 0.5)
    half = (math.log(max(iv.upper - ref, 0.5)) - math.log(max(iv.lower - ref, 0.5))) / 2
    out = []
    for r in fitted:
        centre = max(r.estimate - c, 0.5)
        lo, hi = c + centre * math.exp(-half), c + centre * math.exp(half)
        out.append(dataclasses.replace(r, intervals=(Interval(lo, hi, iv.level, f"{iv.method} (single linkage)"),)))
    return out


def _replace(
    project: Project, base: Sequence[dict[str, Any]], results: Sequence[Any], combined: Sequence[_Combined]
) -> tuple[list[dict[str, Any]], list[Any], list[str]]:
    """The rows with each combined (stratum, method) in place of its single-linkage row; the
    results list likewise. A row that could not be combined keeps its single-linkage numbers and says why."""
    by_key = {(c.label, c.method): c for c in combined}
    rows: list[dict[str, Any]] = []
    out_results = list(results)
    notes: list[str] = []
    for row in base:
        c = by_key.get((str(row.get("stratum")), str(row.get("method"))))
        if c is None or row.get("error"):
            rows.append(row)
            continue
        if c.result is None:
            why = (f"linkage imputation: not combined ({c.why}); this estimate and its interval come from the "
                   "single linkage and leave out the linkage's uncertainty")
            rows.append({**row, "warnings": "; ".join(w for w in (row.get("warnings"), why) if w)})
            if row.get("stratum") == "all":
                notes.append(f"{row['method']}, all: {why}")
            continue
        new = result_row(c.result, stratum=str(row["stratum"]), method=c.method, level=project.level,
                         extra_warnings=c.caught)
        new["interval_includes"] = interval_includes(c.single, linkage=True) if new["lower"] is not None else None
        new["linkage_share"] = float(c.result.diagnostics.get("linkage_share_of_variance", math.nan))
        old = _result_of(row, out_results)
        if old is not None:
            out_results[out_results.index(old)] = c.result
        else:
            out_results.append(c.result)
        rows.append(new)
    return rows, out_results, notes


def _retotal(
    project: Project, rows: list[dict[str, Any]], results: Sequence[Any],
    strata_h: Mapping[tuple[Any, ...], CaptureHistories],
) -> tuple[dict[str, StratifiedTotal], list[dict[str, Any]]]:
    """Each method's stratified total again, from the strata's combined estimates (unknown strata
    allocated by their single-linkage observed counts, as the run does)."""
    refused = getattr(strata_h, "skipped", {})
    shown = stratum_labels(project.strata, [*strata_h, *refused])
    unknown_labels = {" | ".join(f"{s}={v}" for s, v in shown[k].items()): int(h.observed)
                      for k, h in strata_h.items() if any(is_unknown(v) for v in k)}
    unknown_labels.update({" | ".join(f"{s}={v}" for s, v in shown[k].items()): 0
                           for k in refused if any(is_unknown(v) for v in k)})
    totals: dict[str, StratifiedTotal] = {}
    out = [r for r in rows if r.get("stratum") != _STRATIFIED_TOTAL]
    for method in project.methods:
        done: dict[str, Any] = {}
        failed: dict[str, int | None] = {}
        unknown: dict[str, int] = {}
        includes: list[str | None] = []
        for r in out:
            label = r["stratum"]
            if r["method"] != method or label == "all":
                continue
            if label in unknown_labels:
                unknown[label] = unknown_labels[label]
                continue
            res = _result_of(r, results) if not r.get("error") else None
            if res is None:
                failed[label] = r.get("observed")
            else:
                done[label] = res
                includes.append(r.get("interval_includes"))
        total = stratified_total(done, not_estimated=failed, unknown=unknown, level=project.level, seed=project.seed)
        totals[method] = total
        iv = total.interval
        row = error_row(stratum=_STRATIFIED_TOTAL, method=method, observed=total.observed, level=project.level,
                        estimate=total.estimate, lower=None if iv is None else iv.lower,
                        upper=None if iv is None else iv.upper, interval_method=None if iv is None else iv.method,
                        interval_note=total.note if total.estimate is not None else None,
                        error="" if total.estimate is not None else f"not estimated: {total.note}")
        row["interval_includes"] = _common(includes) if iv is not None else None
        row["linkage_share"] = None
        out.append(row)
    return totals, out


def uncertainty_lines(info: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The run summary's lines: what the intervals include, and the single-linkage estimate of the
    whole table kept as a sensitivity line."""
    if not info:
        return []
    lines = [""]
    if info.get("applied"):
        diag = info.get("imputation") or {}
        lines.append(f"linkage uncertainty: the estimates combine {info.get('imputations')} imputed linkages "
                     f"({info.get('sampler')} sampler; {diag.get('persons_min', '?'):,}–"
                     f"{diag.get('persons_max', '?'):,} persons observed, "
                     f"{diag.get('persons_at_threshold', '?'):,} at the threshold)")
        cal = diag.get("calibration") or {}
        if cal.get("method") == "within-lists":
            expected, spread = cal.get("expected_between_links", 0), cal.get("expected_between_links_sd", 0)
            lines.append(f"  pair probabilities calibrated from within-list pairs: expected between-list links "
                         f"{expected:,.0f} (sd {spread:,.0f} over imputations; the linkage model's own "
                         f"probabilities sum to {cal.get('model_between_links', 0):,.0f})")
        elif cal.get("method") in ("truth sample", "simulated truth sample"):
            if cal["method"] == "simulated truth sample":
                sample = (f"simulated lists of {cal.get('records', 0):,} records ({cal.get('persons', 0):,} "
                          f"persons, seed {cal.get('seed')}) encoded with the study's spec")
            else:
                sample = f"{cal.get('pairs', 0):,} labelled pairs"
            lines.append(f"  pair probabilities calibrated on a truth sample: {sample}; "
                         f"{cal.get('pairs_dropped_below_floor', 0):,} pairs fell below the floor")
        elif cal.get("method") == "none":
            lines.append(f"  pair probabilities not calibrated, the linkage model's own are used; "
                         f"{cal.get('reason', '')}")
        for r in rows:
            if r.get("stratum") == "all" and r.get("linkage_share") is not None and not r.get("error"):
                lines.append(f"  all, {r['method']}: interval includes {r.get('interval_includes')}; linkage's share "
                             f"of the variance {float(r['linkage_share']):.0%}")
        for r in info.get("single_linkage", []):
            if r.get("stratum") == "all" and not r.get("error"):
                lines.append(f"  single linkage (sensitivity), all, {r['method']}: {format_number(r['estimate'])} "
                             f"{interval_text(r)}; interval includes {r.get('interval_includes') or 'nothing'}")
    else:
        lines.append(f"linkage uncertainty: {info.get('note', 'not included')}")
        for r in rows:
            if r.get("stratum") == "all" and not r.get("error"):
                lines.append(f"  all, {r['method']}: interval includes {r.get('interval_includes') or 'nothing'}")
    return lines
