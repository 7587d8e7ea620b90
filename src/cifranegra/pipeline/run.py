"""A project run: validate the lists → link → tabulate → estimate → write the results.

Nothing is lost on the way: every record read is in the entities table (records nobody can link stay
single persons), and the run fails with a clear message rather than publish a number that cannot be
trusted (lists that share no identifier, lists with no overlap at all).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import re
import tempfile
import textwrap
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cifranegra._version import __version__
from cifranegra.errors import CifranegraError, InputError, ModelError, Problem, ValidationError
from cifranegra.estimation import CaptureHistories, estimate
from cifranegra.estimation.stratified import (
    UNKNOWN_STRATUM_WHY,
    StratifiedTotal,
    is_unknown,
    stratified_total,
    stratum_seed,
)
from cifranegra.linkage import LinkageResult, link_records
from cifranegra.linkage.uncertainty import ScoredLinkage
from cifranegra.pipeline.imputation import apply_linkage_uncertainty, uncertainty_lines
from cifranegra.pipeline.outputs import (
    PublishOutcome,
    check_layout,
    layout_lines,
    make_internal,
    not_published,
    publish_release,
)
from cifranegra.pipeline.project import Project, load_project
from cifranegra.pipeline.report_inputs import drop_one_list, fitted_patterns, identifier_counts
from cifranegra.report.rows import error_row, estimates_table_text, result_row
from cifranegra.schema.records import stratum_labels

if TYPE_CHECKING:
    from cifranegra.linkage.private.encode import EncodedList

#: progress(step, done, total): called as each step starts (done < total) and ends (done == total).
ProgressCallback = Callable[[str, int, int], None]

#: What every estimate leaves out, said in the summary and results.json (the report says it in Spanish and
#: English): chosen by the simulation study in docs/estimation.md ("Which estimator by default"), where
#: under capture heterogeneity that no list reaches every family falls short and its interval misses.
LOWER_BOUND_NOTE = (
    "victims whom every agency is unlikely to reach leave no trace in the lists' overlaps, and no method can "
    "count them; where such victims exist the true number is higher than the estimate and may be above its "
    "interval (simulations of Mexican agencies' lists: docs/estimation.md, 'Which estimator by default')"
)

_ID_FIELDS = {
    "names": ("given_names", "first_surname", "second_surname"),
    "curp": ("curp",),
    "birth": ("birth_date", "birth_year"),
}


@dataclass
class RunResult:
    """Everything a run produced (also written to ``output``)."""

    project: Project
    entities: pd.DataFrame
    histories: CaptureHistories
    strata_histories: dict[tuple[Any, ...], CaptureHistories]
    estimates: list[dict[str, Any]]
    results: list[Any]
    linkage: dict[str, Any]
    inputs: list[dict[str, Any]]
    outputs: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: N-hat overall at other linkage thresholds (:func:`linkage_sensitivity`); empty when not run.
    sensitivity: list[dict[str, Any]] = field(default_factory=list)
    #: Code-list values not recognised and set to unknown (``[ingest] unrecognised = "unknown"``):
    #: one entry per list and column with the number of rows.
    unrecognised: list[dict[str, Any]] = field(default_factory=list)
    #: The stratified total of each method (when stratified): the sum of the strata's estimates with
    #: a joint interval (:func:`cifranegra.estimation.stratified.stratified_total`).
    stratified_totals: dict[str, StratifiedTotal] = field(default_factory=dict)
    #: What became of ``OUTPUT/publish/`` (None when the run wrote nothing).
    published: PublishOutcome | None = None
    #: The report's other inputs (:mod:`cifranegra.pipeline.report_inputs`): ``fitted_patterns`` of the
    #: first method's model on all persons, and ``drop_one_list`` (its estimate with each list left out).
    report_inputs: dict[str, Any] = field(default_factory=dict)
    #: Linkage imputation (:mod:`cifranegra.pipeline.imputation`): settings, whether applied, the
    #: imputations' diagnostics and the single-linkage rows kept as a sensitivity line.
    linkage_uncertainty: dict[str, Any] = field(default_factory=dict)

    def stratified_total_dict(self) -> dict[str, dict[str, Any]]:
        """Each method's stratified total as JSON, with the pooled ("all") estimate beside it and the
        sentence that explains how they differ."""
        out = {}
        for method, total in self.stratified_totals.items():
            pooled = next((e.get("estimate") for e in self.estimates
                           if e["stratum"] == "all" and e["method"] == method), None)
            out[method] = {**total.to_dict(), "pooled_estimate": pooled, "comparison": total.comparison(pooled)}
        return out

    def estimates_frame(self) -> pd.DataFrame:
        """One row per (stratum, method): estimate, interval, observed, model, error."""
        return pd.DataFrame(self.estimates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cifranegra_version": __version__,
            "project": self.project.to_dict(),
            "inputs": self.inputs,
            "linkage": self.linkage,
            "capture_histories": {
                "all": _histories_dict(self.histories),
                "strata": {" | ".join(map(str, k)): _histories_dict(v) for k, v in self.strata_histories.items()},
            },
            "estimates": self.estimates,
            "stratified_total": self.stratified_total_dict(),
            "linkage_sensitivity": self.sensitivity,
            "linkage_uncertainty": self.linkage_uncertainty,
            "fitted_patterns": self.report_inputs.get("fitted_patterns"),
            "drop_one_list": self.report_inputs.get("drop_one_list", []),
            "unrecognised_as_unknown": self.unrecognised,
            "results": [r.to_dict() for r in self.results],
            "warnings": self.warnings,
            "caveats": [{"code": "unreached_victims", "text": LOWER_BOUND_NOTE}],
            "outputs": self.outputs,
            "published": None if self.published is None else self.published.to_dict(),
        }

    def summary_text(self) -> str:
        """A short readable summary for the terminal."""
        h = self.histories
        lines = [f"cifranegra {__version__} — project {self.project.name!r}"]
        sizes = ", ".join(f"{k}: {v}" for k, v in self.linkage.get("list_sizes", {}).items())
        lines.append(f"records read: {self.linkage.get('n_records', len(self.entities))} ({sizes})")
        lines.append(
            f"linkage: {self.linkage.get('method', '')}; {h.observed} distinct persons observed"
        )
        rule = self.linkage.get("rule")
        if isinstance(rule, dict) and rule.get("rule") == "dice+strata":
            lines.append(f"  linked at Dice ≥ {rule.get('dice_min'):g} where P(match | Dice, fill ratio, "
                         f"{', '.join(rule.get('columns', []))}) ≥ {rule.get('posterior_min'):g}"
                         + (f"; not compared: {', '.join(rule['dropped'])}" if rule.get("dropped") else ""))
        elif isinstance(rule, dict) and rule.get("rule") == "dice":
            lines.append(f"  linked on the Dice score alone at {self.linkage.get('threshold'):g} ({rule.get('why')})")
        by_n = h.counts_by_number_of_lists()
        lines.append(
            "persons by number of lists: "
            + ", ".join(f"{k}: {int(v)}" for k, v in by_n.items() if int(v) > 0)
        )
        lines.append("")
        lines.extend(estimates_table_text(self.estimates))
        for method, t in self.stratified_total_dict().items():
            if t["comparison"]:
                lines.append(f"  {method}: {t['comparison']}")
            if t["unknown_allocated"]["observed"] and t["estimate"] is not None:
                lines.append(f"  {method}: the stratified total allocates the {t['unknown_allocated']['observed']} "
                             "person(s) of unknown stratum in proportion to the strata's observed counts")
        lines.append("")
        lines.extend(textwrap.wrap(f"lower bound: {LOWER_BOUND_NOTE}", width=110, subsequent_indent="  "))
        lines.extend(uncertainty_lines(self.linkage_uncertainty, self.estimates))
        ok = [r for r in self.sensitivity if r.get("estimate") is not None]
        if len(ok) > 1:
            lines.append("")
            lines.append(
                f"linkage sensitivity (all, {ok[0]['method']}, point estimates): "
                + " · ".join(f"threshold {r['threshold']:g}: {r['estimate']:,.0f}" for r in ok)
            )
            lo, hi = min(r["estimate"] for r in ok), max(r["estimate"] for r in ok)
            lines.append(f"  the linkage decision alone moves the estimate by {hi / lo - 1:.1%} over these thresholds")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        if self.outputs:
            lines.append("")
            lines.extend(layout_lines(self.outputs.get("internal", str(Path(self.outputs["results_json"]).parent)),
                                      self.published or PublishOutcome(None)))
        return "\n".join(lines)


def _histories_dict(h: CaptureHistories) -> dict[str, Any]:
    frame = h.to_frame()
    return {"lists": list(h.lists), "table": frame.to_dict(orient="records"), "observed": int(h.observed)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _noop(step: str, done: int, total: int) -> None:
    return None


def read_project_lists(
    project: Project, progress: ProgressCallback = _noop
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Read, validate and normalize every plaintext list; all problems of all lists at once.

    With ``[ingest] unrecognised = "unknown"`` a code-list value that is not recognised leaves the
    record in with that field unknown; each input's ``unrecognised_as_unknown`` counts them per column.
    """
    from cifranegra.ingest import read_list

    frames: list[pd.DataFrame] = []
    problems: list[Problem] = []
    inputs: list[dict[str, Any]] = []
    n = len(project.lists)
    # "error" is read_list's own default; the keyword is passed only when the project asks otherwise
    extra = {} if project.on_unrecognised == "error" else {"on_unrecognised": project.on_unrecognised}
    for i, spec in enumerate(project.lists):
        progress(f"reading {spec.source}", i, n)
        try:
            df, report = read_list(spec.path, spec.mapping, spec.source, on_error="report", **extra)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        except InputError as exc:
            message = str(exc).removeprefix(f"{spec.path}: ")  # the problem names the file already
            problems.append(Problem(str(spec.path), None, None, "error", "unusable_input", message))
            continue
        except OSError as exc:
            problems.append(Problem(str(spec.path), None, None, "error", "unusable_input",
                                    f"the file cannot be read ({exc.strerror or type(exc).__name__}); "
                                    "check that it exists and that you may read it"))
            continue
        problems.extend(p for p in report.problems if p.severity == "error")
        df = df.copy()
        df["source"] = spec.source
        frames.append(df)
        inputs.append({"source": spec.source, "file": str(spec.path), "sha256": _sha256(spec.path),
                       "records": len(df), "unrecognised_as_unknown": _unrecognised_counts(report.problems),
                       "records_with": identifier_counts(df)})
    progress("reading lists", n, n)
    if problems:
        raise ValidationError(problems=problems, summary="the agency lists have errors")
    records = pd.concat(frames, ignore_index=True)
    check_compatible(records, {s.source: str(s.path) for s in project.lists})
    return records, inputs


def _unrecognised_counts(problems: Sequence[Problem]) -> dict[str, int | None]:
    """Rows whose value was set to unknown, per column, from the ingest warnings
    (code ``unrecognised_as_unknown``, whose message starts with the number of rows)."""
    out: dict[str, int | None] = {}
    for p in problems:
        if p.code == "unrecognised_as_unknown":
            m = re.search(r"\d[\d,]*", p.message)
            rows = int(m.group().replace(",", "")) if m else None
            column = p.column or "?"
            prev = out.get(column)
            out[column] = None if rows is None else (prev or 0) + rows
    return out


def check_output(output: Path) -> list[Problem]:
    """The output folder is a folder that can be created and written: tried now (a folder and a
    temporary file made and removed), so that a run never fails there after the linkage."""
    output = Path(output)  # a str from Python callers, as run_project takes
    where = str(output)
    fix = "choose another folder with -o DIR (or `output` in the project file)"
    if output.exists() and not output.is_dir():
        return [Problem(where, None, None, "error", "output_not_folder",
                        f"the output {output} is a file, not a folder; {fix}")]
    created: list[Path] = []
    folder = output
    while not folder.exists() and folder != folder.parent:
        created.append(folder)
        folder = folder.parent
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output, prefix=".cifranegra-write-test-"):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        return [Problem(where, None, None, "error", "output_not_writable",
                        f"the output folder {output} cannot be created or written ({why}); {fix}")]
    finally:
        for made in created:  # nothing is left behind by the check itself
            try:
                made.rmdir()
            except OSError:
                break
    return []


def check_strata(project: Project, records: pd.DataFrame) -> list[Problem]:
    """Every stratum is recorded in some list, and the capture-history tables fit in memory
    (2^K counts of 8 bytes per stratum: at most as many strata as records, or as value combinations)."""
    problems: list[Problem] = []
    file = str(project.path) if project.path else None
    for s in project.strata:
        col = _stratum_column(s, records)
        values = records[col] if col in records.columns else pd.Series(dtype=object)
        if not values.map(lambda v: not is_unknown(v)).any():
            what = "registration date" if s == "year" else s
            problems.append(Problem(file, None, "tabulation.strata", "error", "stratum_not_recorded",
                                    f"stratum {s!r}: no list records a {what}, so every person would be in "
                                    "its unknown stratum; map that column in the lists or remove "
                                    f"{s!r} from [tabulation] strata"))
    n_tables = 1
    if project.strata and not problems:
        combos = 1
        for s in project.strata:
            combos *= int(records[_stratum_column(s, records)].nunique(dropna=True)) + 1
        n_tables += min(combos, len(records))
    need = 8 * 2 ** len(project.lists) * n_tables
    free = _free_memory()
    if free is not None and need > free // 2:
        problems.append(Problem(file, None, "lists", "error", "not_enough_memory",
                                f"{len(project.lists)} lists in up to {n_tables} tables (overall and per stratum) "
                                f"need about {need / 2**30:.1f} GiB for the capture histories (2^K counts each), "
                                f"more than half of the {free / 2**30:.1f} GiB of memory free: use fewer strata "
                                "or merge lists"))
    return problems


def _stratum_column(stratum: str, records: pd.DataFrame) -> str:
    """The column a stratum is read from: ``year`` from ``registration_date`` in plaintext records,
    from the ``year`` column of encoded ones (``cifranegra encode`` keeps the year only)."""
    if stratum == "year" and "registration_date" in records.columns:
        return "registration_date"
    return stratum


def _free_memory() -> int | None:
    """Bytes of physical memory available now (None where the system does not say)."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not Linux
        return None


def check_compatible(records: pd.DataFrame, files: Mapping[str, str] | None = None) -> None:
    """Lists must share an identifier with at least one other list, and carry one at all.

    Raises :class:`~cifranegra.errors.ValidationError` naming the lists and what they lack.
    """
    files = files or {}
    present: dict[str, set[str]] = {}
    for source, group in records.groupby("source", sort=True):
        have = set()
        for kind, cols in _ID_FIELDS.items():
            if any(c in group.columns and group[c].notna().any() for c in cols):
                have.add(kind)
        present[str(source)] = have
    problems = []
    for source, have in present.items():
        file = files.get(source, source)
        if not have:
            problems.append(Problem(file, None, None, "error", "no_identifiers",
                                    f"list {source!r} has no names, CURP or birth dates in any record, so "
                                    "nobody on it can be found on another list; check its column mapping"))
            continue
        others = set().union(*(h for s, h in present.items() if s != source)) if len(present) > 1 else have
        if not have & others:
            problems.append(Problem(file, None, None, "error", "incompatible_schema",
                                    f"list {source!r} records only {sorted(have)}, which no other list "
                                    f"records ({sorted(others)}); lists can only be linked on identifiers "
                                    "they share: map the same fields in every list"))
    if problems:
        raise ValidationError(problems=problems, summary="the lists cannot be linked")


def link_project(
    project: Project, records: pd.DataFrame | None, progress: ProgressCallback = _noop
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The entities table and a description of the linkage (plaintext or encoded)."""
    if project.encoded:
        return _link_encoded(project, progress)[:2]
    assert records is not None
    result, info = _link_plaintext(project, records, progress)
    return result.entities, info


def _link_plaintext(
    project: Project, records: pd.DataFrame, progress: ProgressCallback
) -> tuple[LinkageResult, dict[str, Any]]:
    steps = ["preparing records", "estimating the prior match probability",
             "estimating u probabilities (random pairs)", "expectation-maximisation 1/2",
             "expectation-maximisation 2/2", "scoring pairs", "clustering records into persons"]
    seen: list[str] = []

    def say(step: str) -> None:
        seen.append(step)
        progress(f"linkage: {step}", min(len(seen) - 1, len(steps) - 1), len(steps))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result: LinkageResult = link_records(records, project.linkage, progress=say)
    said = []
    for w in caught:  # the linkage's own warnings join the run's; library deprecations go on as they came
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        elif str(w.message) not in said:
            said.append(str(w.message))
    progress("linkage", len(steps), len(steps))
    info = {"method": f"splink ({project.linkage.engine})", **result.to_dict()["diagnostics"],
            "settings": project.linkage.to_dict(), "model": result.model, "warnings": said}
    return result, info


def linkage_sensitivity(
    project: Project, result: LinkageResult, lists: Sequence[str], progress: ProgressCallback = _noop
) -> list[dict[str, Any]]:
    """N-hat overall at the project's threshold and at each of ``project.linkage_sensitivity``.

    The linked pairs are re-clustered at each threshold (no new linkage) and the first method is
    fitted again, point estimate only (``interval = "none"`` for log-linear models): a higher
    threshold joins fewer records, so more persons and usually a larger N-hat. The spread is the
    part of the uncertainty that comes from the linkage decision, which the intervals leave out
    (bench/bench_linkage.py bias measures it against the truth on simulated lists).
    """
    method = project.methods[0]
    opts = dict(project.method_options.get(method, {}))
    if method == "loglinear":
        opts["interval"] = "none"
    thresholds = sorted({float(project.linkage.threshold), *project.linkage_sensitivity})
    rows: list[dict[str, Any]] = []
    for i, t in enumerate(thresholds):
        progress(f"linkage sensitivity: threshold {t:g}", i, len(thresholds))
        row: dict[str, Any] = {"threshold": t, "method": method, "run_threshold": t == project.linkage.threshold}
        try:
            h = CaptureHistories.from_entities(result.entities_at(t), lists=list(lists))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = estimate(h, method, seed=project.seed, **opts)
            row.update({"observed": int(h.observed), "estimate": float(res.estimate), "model": res.model,
                        "error": None})
        except CifranegraError as exc:
            row.update({"observed": None, "estimate": None, "model": None, "error": str(exc)})
        rows.append(row)
    progress("linkage sensitivity", len(thresholds), len(thresholds))
    return rows


def read_encoded_lists(project: Project, progress: ProgressCallback = _noop) -> list[EncodedList]:
    """Read every encoded list of the project (``cifranegra.ingest.encoded.read_encoded``) and check
    that each holds the source the project declares for it and was encoded for this project."""
    from cifranegra.ingest.encoded import read_encoded

    lists = []
    problems = []
    n = len(project.lists)
    for i, spec in enumerate(project.lists):
        progress(f"reading encoded {spec.source}", i, n)
        enc = read_encoded(spec.path)
        if set(enc.sources) != {spec.source}:
            problems.append(f"{spec.path}: holds list(s) {sorted(set(enc.sources))}, the project declares "
                            f"{spec.source!r} for it; make the [[lists]] source match what the agency encoded")
        if enc.project != project.name:
            problems.append(f"{spec.path}: encoded for project {enc.project!r}, this project is {project.name!r}; "
                            "every agency must encode with this project's name (it salts the encodings)")
        lists.append(enc)
    if problems:
        raise InputError("the encoded lists do not belong to this project:\n  - " + "\n  - ".join(problems))
    progress("reading encoded lists", n, n)
    return lists


def _link_encoded(
    project: Project, progress: ProgressCallback, lists: list[EncodedList] | None = None
) -> tuple[pd.DataFrame, dict[str, Any], ScoredLinkage | None]:
    """Private linkage: read each agency's encoded file and link the encodings only
    (:func:`cifranegra.linkage.private.link_encoded`, options from ``[linkage.private]``); with linkage
    imputation on, the scored pairs are kept too (:func:`~cifranegra.linkage.private.link_encoded_scored`)."""
    from cifranegra.linkage.private import link_encoded, link_encoded_scored

    if lists is None:
        lists = read_encoded_lists(project, progress)
    progress("linkage: encoded lists (Bloom filters)", 0, 1)
    scored: ScoredLinkage | None = None
    if project.linkage_uncertainty.enabled is True:  # opt-in on encodings (imputation.ENCODED_OFF)
        entities, scored = link_encoded_scored(lists, **dict(project.private_linkage))
        if project.linkage_uncertainty.calibration == "simulated":
            from cifranegra.pipeline.truth_sample import simulated_dice_calibration

            progress("linkage imputation: simulated truth sample", 0, 1)
            cal, about = simulated_dice_calibration(lists[0].spec, [len(e.records) for e in lists], seed=project.seed,
                                                    options=dict(project.private_linkage))
            scored = dataclasses.replace(scored, calibration=cal, calibration_info=about)
            progress("linkage imputation: simulated truth sample", 1, 1)
    else:
        entities = link_encoded(lists, **dict(project.private_linkage))
    progress("linkage: encoded lists (Bloom filters)", 1, 1)
    declared = {s.source for s in project.lists}
    found = set(entities["source"].astype(str).unique())
    if found != declared:
        raise InputError(
            f"the encoded files hold lists {sorted(found)}, but the project declares {sorted(declared)}; "
            "make each [[lists]] source match the source the agency encoded"
        )
    sizes = entities["source"].astype(str).value_counts().sort_index()
    info = {"method": "private (encoded, Bloom filters)", "n_records": len(entities),
            "list_sizes": {str(k): int(v) for k, v in sizes.items()},
            "n_entities": int(entities["entity_id"].nunique()), "settings": dict(project.private_linkage),
            "threshold": entities.attrs.get("threshold"), "threshold_source": entities.attrs.get("threshold_source"),
            "rule": entities.attrs.get("linkage_rule")}
    if scored is not None:
        info["pairs_kept"] = len(scored.pairs)
        info["pairs_kept_above"] = scored.floor
    return entities, info, scored


def tabulate(
    entities: pd.DataFrame, lists: Sequence[str], strata: Sequence[str] = ()
) -> tuple[CaptureHistories, dict[tuple[Any, ...], CaptureHistories]]:
    """Capture histories overall and per stratum; refuses lists that overlap with nobody.

    MSE estimates the unseen from how lists overlap; with fewer than two lists, or when no person is
    on two lists, there is nothing to estimate from (a :class:`~cifranegra.errors.ModelError`).
    """
    from cifranegra._names import as_items

    lists, strata = as_items(lists), as_items(strata)
    if len(set(lists)) != len(lists):
        raise InputError(f"a list is named twice in {lists}; name each once")
    if len(lists) < 2:
        raise ModelError(
            f"multiple systems estimation needs at least two lists; the project has {len(lists)} "
            f"({', '.join(lists)}). Add the lists of other agencies."
        )
    histories = CaptureHistories.from_entities(entities, lists=lists)
    per_entity = entities.groupby("entity_id")["source"].nunique()
    if int((per_entity >= 2).sum()) == 0:
        raise ModelError(
            "no person was found on more than one list, so multiple systems estimation cannot be "
            "done: the estimate comes from how lists overlap, and with no overlap the number of "
            "unseen victims is unbounded. Check that the lists cover the same period and region, "
            "that names, CURP and birth dates are mapped in every list, and the linkage threshold."
        )
    strata_h: dict[tuple[Any, ...], CaptureHistories] = {}
    if strata:
        missing = [s for s in strata if s not in entities.columns]
        if missing:
            raise InputError(f"stratum column(s) {missing} are not in the records; map them or remove them")
        strata_h = CaptureHistories.stratified_from_entities(entities, strata=list(strata), lists=lists)
    return histories, strata_h


def estimate_all(
    project: Project,
    histories: CaptureHistories,
    strata_h: Mapping[tuple[Any, ...], CaptureHistories],
    progress: ProgressCallback = _noop,
    *,
    workers: int | None = None,
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Every method on the whole table and on each stratum; a failing stratum is reported, not fatal.

    The whole table is estimated here, with the estimators' own parallelism; the strata, many and
    mostly small, are estimated side by side on ``workers`` processes (default: the cores available,
    or 1 when the project sets an estimator's ``workers``; 1: one after the other), each
    single-process: an estimate depends on its table, method, options and seed only, never on the
    number of processes, so the numbers are the same either way.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(f"workers must be a whole number of at least 1 (or None: the cores available), "
                         f"not {workers!r}")
    if not isinstance(histories, CaptureHistories) or not isinstance(strata_h, Mapping):
        raise InputError("estimate_all takes the tables tabulate() returns: the whole table and a dict of the "
                         "strata's ({} when not stratified)")
    rows, results, _ = _estimate_everything(project, histories, strata_h, progress, workers)
    return rows, results


def _estimate_everything(
    project: Project,
    histories: CaptureHistories,
    strata_h: Mapping[tuple[Any, ...], CaptureHistories],
    progress: ProgressCallback,
    workers: int | None,
) -> tuple[list[dict[str, Any]], list[Any], dict[str, StratifiedTotal]]:
    """:func:`estimate_all`, plus the stratified total of each method (when stratified): its
    "stratified total" rows follow the strata's."""
    tables, skipped, info = _stratum_tables(project, strata_h)
    jobs = [(label, h, method) for label, h in [("all", histories), *tables] for method in project.methods]
    total = len(jobs)
    outcomes: list[tuple[dict[str, Any], Any]] = []
    for i, (label, h, method) in enumerate(jobs[: len(project.methods)]):
        progress(f"estimating {label} ({method})", i, total)
        opts = dict(project.method_options.get(method, {}))
        if not tables:  # the whole table is all there is: its failure is the run's
            row, res = _fitted(h, method, opts, project.seed, project.level)
            outcomes.append(({**row, "stratum": label, "method": method}, res))
            continue
        outcomes.append(_estimate_one(label, h, method, opts, project.seed, project.level))
    seeds = {label: stratum_seed(project.seed, i["seed_label"]) for label, i in info.items()}
    outcomes.extend(_estimate_strata(project, jobs[len(project.methods):], progress, workers, done=len(outcomes),
                                     seeds=seeds))
    progress("estimating: done", total, total)
    rows = [row for row, _ in outcomes]
    results = [res for _, res in outcomes if res is not None]
    totals: dict[str, StratifiedTotal] = {}
    total_rows: list[dict[str, Any]] = []
    if strata_h or info:
        for method in project.methods:
            totals[method] = _total_of(project, method, outcomes, skipped, info)
            total_rows.append(_total_row(method, totals[method], project.level))
    return rows + skipped + total_rows, results, totals


def _total_of(
    project: Project,
    method: str,
    outcomes: Sequence[tuple[dict[str, Any], Any]],
    skipped: Sequence[Mapping[str, Any]],
    info: Mapping[str, Mapping[str, Any]],
) -> StratifiedTotal:
    """The stratified total of ``method`` from the strata's outcomes (unknown strata allocated)."""
    done: dict[str, Any] = {}
    failed: dict[str, int | None] = {}
    unknown: dict[str, int] = {}
    for row, res in [*outcomes, *((r, None) for r in skipped)]:
        label = row["stratum"]
        if row["method"] != method or label == "all":
            continue
        if info[label]["unknown"]:
            unknown[label] = int(info[label]["observed"] or 0)
        elif res is not None:
            done[label] = res
        else:
            failed[label] = info[label]["observed"]
    return stratified_total(done, not_estimated=failed, unknown=unknown, level=project.level, seed=project.seed)


def _total_row(method: str, total: StratifiedTotal, level: float) -> dict[str, Any]:
    """The "stratified total" row of estimates.csv."""
    iv = total.interval
    return error_row(stratum="stratified total", method=method, observed=total.observed, level=level,
                     estimate=total.estimate, lower=None if iv is None else iv.lower,
                     upper=None if iv is None else iv.upper, interval_method=None if iv is None else iv.method,
                     interval_note=total.note if total.estimate is not None else None,
                     error="" if total.estimate is not None else f"not estimated: {total.note}")


def _stratum_tables(
    project: Project, strata_h: Mapping[tuple[Any, ...], CaptureHistories]
) -> tuple[list[tuple[str, CaptureHistories]], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The strata to estimate (label, table), rows for those that are not (unknown stratum values,
    and tables refused at tabulation, ``StrataTables.skipped``: never dropped silently), and for
    every stratum label: the text its seed is derived from, whether its value is unknown, and the
    persons observed in it (None where not known)."""
    tables: list[tuple[str, CaptureHistories]] = []
    skipped: list[dict[str, Any]] = []
    info: dict[str, dict[str, Any]] = {}
    refused = getattr(strata_h, "skipped", {})
    refused_observed = getattr(strata_h, "skipped_observed", {})

    shown = stratum_labels(project.strata, [*strata_h, *refused])

    def label_of(key: tuple[Any, ...], observed: int | None) -> str:
        label = " | ".join(f"{s}={v}" for s, v in shown[key].items())
        info[label] = {"seed_label": ", ".join(f"{s}={v}" for s, v in shown[key].items()),
                       "unknown": any(is_unknown(v) for v in key), "observed": observed}
        return label

    def not_estimated(label: str, observed: int | None, why: str) -> list[dict[str, Any]]:
        return [error_row(stratum=label, method=m, observed=observed, level=project.level,
                          error=f"not estimated: {why}") for m in project.methods]

    for key, h in sorted(strata_h.items(), key=lambda kv: tuple(map(str, kv[0]))):
        label = label_of(key, int(h.observed))
        if info[label]["unknown"]:
            # persons whose stratum nobody recorded: never estimated on their own
            skipped.extend(not_estimated(label, int(h.observed), UNKNOWN_STRATUM_WHY))
            continue
        tables.append((label, h))
    for key, why in sorted(refused.items(), key=lambda kv: tuple(map(str, kv[0]))):
        seen = refused_observed.get(key)
        label = label_of(key, None if seen is None else int(seen))
        if info[label]["unknown"]:
            why = UNKNOWN_STRATUM_WHY
        skipped.extend(not_estimated(label, info[label]["observed"], why))
    return tables, skipped, info


def _estimate_strata(
    project: Project,
    jobs: Sequence[tuple[str, CaptureHistories, str]],
    progress: ProgressCallback,
    workers: int | None,
    done: int,
    seeds: Mapping[str, int] | None = None,
) -> list[tuple[dict[str, Any], Any]]:
    """The strata's estimates, in the order of ``jobs``; on several processes when there are several.
    Each stratum has its own seed (``seeds``, by label; default the project's)."""
    total = done + len(jobs)
    args = []
    for label, h, method in jobs:
        opts = dict(project.method_options.get(method, {}))
        if "workers" not in opts and _takes(method, "workers"):
            opts["workers"] = 1  # one process per stratum: the strata themselves run side by side
        args.append((label, h, method, opts, (seeds or {}).get(label, project.seed), project.level))
    if workers is None and any("workers" in project.method_options.get(m, {}) for m in project.methods):
        workers = 1  # the project sets the estimators' own processes: the strata go one after the other
    n_proc = min(_available_cores() if workers is None else int(workers), len(jobs))
    if n_proc <= 1:
        out = []
        for i, a in enumerate(args):
            progress(f"estimating {a[0]} ({a[2]})", done + i, total)
            out.append(_estimate_one(*a))
        return out
    from cifranegra._pool import process_pool

    # largest tables first, so that no long one starts last; results are put back in order
    order = sorted(range(len(args)), key=lambda i: -args[i][1].observed)
    results: dict[int, tuple[dict[str, Any], Any]] = {}
    with process_pool(n_proc, _mp_context()) as pool:
        futures = {i: pool.submit(_estimate_one, *args[i]) for i in order}
        for n, i in enumerate(order):
            progress(f"estimating {args[i][0]} ({args[i][2]})", done + n, total)
            results[i] = futures[i].result()
    return [results[i] for i in range(len(args))]


def _estimate_one(
    label: str, h: CaptureHistories, method: str, opts: Mapping[str, Any], seed: int, level: float
) -> tuple[dict[str, Any], Any]:
    """One table, one method: the estimates row and the result, or the row with the error."""
    try:
        row, res = _fitted(h, method, opts, seed, level)
    except CifranegraError as exc:
        return error_row(stratum=label, method=method, observed=int(h.observed), level=level, error=str(exc)), None
    return {**row, "stratum": label, "method": method}, res


def _fitted(
    h: CaptureHistories, method: str, opts: Mapping[str, Any], seed: int, level: float
) -> tuple[dict[str, Any], Any]:
    """Fit at the project's level; an interval the result does not offer (none, or zero width) is
    left empty with the reason in ``interval_note``."""
    opts = dict(opts)
    if "level" not in opts and _takes(method, "level"):
        opts["level"] = level  # intervals at [estimation] level, not the estimator's default
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = estimate(h, method, seed=seed, **opts)
    row = result_row(res, stratum="", method=method, level=level, extra_warnings=[str(w.message) for w in caught])
    return row, res


def _takes(method: str, option: str) -> bool:
    """True when the estimator has ``option`` (e.g. ``workers``: processes of its own)."""
    from cifranegra.estimation import api

    api._load_builtin()
    factory = api.METHODS.get(method)
    if factory is None:
        return False
    try:
        return option in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # pragma: no cover - a factory without a signature
        return False


def _available_cores() -> int:
    try:
        return max(1, min(len(os.sched_getaffinity(0)), 8))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, min(os.cpu_count() or 1, 8))


def _mp_context() -> Any:
    import multiprocessing as mp

    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def write_results(result: RunResult, output: Path) -> dict[str, str]:
    """results.json, estimates.csv, capture_histories.csv (the whole table, ready for `cifranegra
    estimate`), capture_histories_by_stratum.csv (when stratified: one column per stratum, ready for
    `cifranegra estimate --strata ...`), entities.csv, linkage_model.json and, when computed,
    linkage_sensitivity.csv, fitted_patterns.csv (log-linear: observed and fitted count per capture pattern)
    and drop_one_list.csv (the first method's estimate with each list left out)."""
    output = Path(output)  # a str from Python callers, as run_project takes
    try:
        return _write_results(result, output)
    except OSError as exc:
        raise InputError(f"the results cannot be written to {output} ({exc.strerror or type(exc).__name__}); "
                         "choose another folder with -o DIR (or `output` in the project file)") from None


def _write_results(result: RunResult, output: Path) -> dict[str, str]:
    output.mkdir(parents=True, exist_ok=True)
    paths = {
        "results_json": output / "results.json",
        "estimates_csv": output / "estimates.csv",
        "capture_histories_csv": output / "capture_histories.csv",
        "entities_csv": output / "entities.csv",
        "linkage_json": output / "linkage_model.json",
    }
    if result.strata_histories:
        paths["capture_histories_by_stratum_csv"] = output / "capture_histories_by_stratum.csv"
    if result.sensitivity:
        paths["linkage_sensitivity_csv"] = output / "linkage_sensitivity.csv"
    fitted = (result.report_inputs.get("fitted_patterns") or {}).get("rows")
    if fitted:
        paths["fitted_patterns_csv"] = output / "fitted_patterns.csv"
    if result.report_inputs.get("drop_one_list"):
        paths["drop_one_list_csv"] = output / "drop_one_list.csv"
    out = {k: str(v) for k, v in paths.items()}
    result.outputs = out
    result.estimates_frame().to_csv(paths["estimates_csv"], index=False)
    if result.sensitivity:
        pd.DataFrame(result.sensitivity).to_csv(paths["linkage_sensitivity_csv"], index=False)
    if fitted:
        pd.DataFrame(fitted).to_csv(paths["fitted_patterns_csv"], index=False)
    if "drop_one_list_csv" in paths:
        pd.DataFrame(result.report_inputs["drop_one_list"]).to_csv(paths["drop_one_list_csv"], index=False)
    result.histories.to_frame().to_csv(paths["capture_histories_csv"], index=False)
    if result.strata_histories:
        histories_by_stratum(result.project.strata, result.strata_histories, result.histories.lists).to_csv(
            paths["capture_histories_by_stratum_csv"], index=False)
    # record ids and person ids only: no name, CURP or birth date leaves the run
    result.entities.to_csv(paths["entities_csv"], index=False)
    paths["linkage_json"].write_text(
        json.dumps({"settings": result.linkage.get("settings"), "model": result.linkage.get("model")},
                   indent=2, default=str), encoding="utf-8")
    body = result.to_dict()
    body.pop("published")  # results.json is written before publish/, which reads it
    body["linkage"] = {k: v for k, v in result.linkage.items() if k != "model"}
    paths["results_json"].write_text(json.dumps(body, indent=2, default=str), encoding="utf-8")
    return out


def histories_by_stratum(
    strata: Sequence[str], tables: Mapping[tuple[Any, ...], CaptureHistories], lists: Sequence[str]
) -> pd.DataFrame:
    """One row per stratum and observed pattern: a column per stratum, a 0/1 column per list, ``count``.

    A list that has no one in a stratum is 0 there (the stratum's table leaves it out). Strata that
    could not be estimated (``StrataTables.skipped``, e.g. recorded by one list only) are written
    too, so the counts add up to every person observed.
    """
    frames = []
    skipped = getattr(tables, "skipped_counts", {})
    items = [*((k, h.lists, h.counts) for k, h in tables.items()), *((k, n, c) for k, (n, c) in skipped.items())]
    known = {name for _, names, _ in items for name in names}
    unknown = [x for x in lists if x not in known]
    if items and unknown:  # a misspelt list was written as a column of zeros, the real lists dropped
        raise InputError(f"list(s) {', '.join(map(repr, unknown))} are in none of the tables; "
                         f"their lists are {', '.join(map(repr, sorted(known)))}")
    if any(len(key) != len(strata) for key, _, _ in items):
        raise InputError(f"the tables are keyed by a different number of strata than {list(strata)}")
    for key, names, counts in items:
        observed = np.flatnonzero(counts)
        bits = (observed[:, None] >> np.arange(len(names))) & 1
        frame = pd.DataFrame(bits.astype(np.int64), columns=list(names))
        frame["count"] = counts[observed].astype(np.int64)
        frame = frame.reindex(columns=[*lists, "count"], fill_value=0)
        for s, v in zip(strata, key, strict=True):
            frame[s] = v
        frames.append(frame[[*strata, *lists, "count"]])
    if not frames:
        return pd.DataFrame(columns=[*strata, *lists, "count"])
    return pd.concat(frames, ignore_index=True)


def run_project(
    project: Project | str | Path,
    *,
    output: str | Path | None = None,
    progress: ProgressCallback | None = None,
    write: bool = True,
    allow_outside: bool = False,
    publish: bool = True,
) -> RunResult:
    """Run a project end to end and write its results (unless ``write=False``): everything to
    ``OUTPUT/internal/`` (record-level, mode 0700), then, unless ``publish=False``
    (``--no-publish``), the disclosure-controlled release to ``OUTPUT/publish/``
    (:func:`cifranegra.report.publish`, with the project's ``[publication]``).

    ``project``: a :class:`Project` or the path of a project file (read with ``allow_outside``, see
    :func:`~cifranegra.pipeline.load_project`); ``output`` overrides the project's output folder;
    ``progress`` receives (step, done, total). Everything that can be checked before the linkage is
    checked first and reported together: the output folder, the lists, the strata, the memory.
    """
    prog = progress or _noop
    if not isinstance(project, Project):
        if not isinstance(project, (str, os.PathLike)):
            raise InputError(f"project must be a Project or the path of a project file, not {type(project).__name__}")
        project = load_project(project, allow_outside=allow_outside)
    out_dir = Path(output) if output is not None else project.output
    problems = check_output(out_dir) if write else []
    layout_notes: list[str] = []
    if write and not problems:
        layout_problems, layout_notes = check_layout(out_dir, publish=publish)
        problems.extend(layout_problems)
    records = None
    encoded_lists: list[EncodedList] | None = None
    inputs: list[dict[str, Any]] = []
    if not project.encoded:
        try:
            records, inputs = read_project_lists(project, prog)
        except ValidationError as exc:
            if not problems:
                raise
            problems.extend(exc.problems)
        if records is not None:
            problems.extend(check_strata(project, records))
    else:
        inputs = [{"source": s.source, "file": str(s.path), "sha256": _sha256(s.path)} for s in project.lists]
        if not problems:  # the strata are checked on encoded lists too, before the linkage
            encoded_lists = read_encoded_lists(project, prog)
            problems.extend(check_strata(project, pd.concat([e.records for e in encoded_lists], ignore_index=True)))
    if problems:
        raise ValidationError(problems=problems, summary="the run cannot start; nothing was linked")
    link_result: LinkageResult | ScoredLinkage | None = None
    if project.encoded:
        entities, linkage, link_result = _link_encoded(project, prog, encoded_lists)
    else:
        assert records is not None
        link_result, linkage = _link_plaintext(project, records, prog)
        entities = link_result.entities
    if records is not None and len(entities) != len(records):  # pragma: no cover - a guard, never expected
        raise ModelError(f"linkage returned {len(entities)} records for {len(records)} read")
    prog("tabulating capture histories", 0, 1)
    lists = [s.source for s in project.lists]
    histories, strata_h = tabulate(entities, lists, project.strata)
    prog("tabulating capture histories", 1, 1)
    rows, results, totals = _estimate_everything(project, histories, strata_h, prog, None)
    imputed = apply_linkage_uncertainty(project, link_result, strata_h, rows, results, totals, prog)
    rows, results, totals = imputed.rows, imputed.results, imputed.totals
    sensitivity: list[dict[str, Any]] = []
    if isinstance(link_result, LinkageResult) and project.linkage_sensitivity:
        sensitivity = linkage_sensitivity(project, link_result, lists, prog)
    report_inputs = _report_inputs(project, histories, rows, prog)
    unrecognised = [{"source": i["source"], "column": col, "rows": n}
                    for i in inputs for col, n in i.get("unrecognised_as_unknown", {}).items()]
    result = RunResult(project=project, entities=entities, histories=histories, strata_histories=strata_h,
                       estimates=rows, results=results, linkage=linkage, inputs=inputs,
                       warnings=[*_run_warnings(linkage, unrecognised), *imputed.warnings, *layout_notes],
                       sensitivity=sensitivity, unrecognised=unrecognised, stratified_totals=totals,
                       report_inputs=report_inputs, linkage_uncertainty=imputed.info)
    if write:
        internal = make_internal(out_dir)
        write_results(result, internal)
        result.outputs["internal"] = str(internal)
        if publish:
            result.published = publish_release(internal, out_dir, project.publication, n_lists=len(lists),
                                               progress=prog)
            if result.published.folder is not None:
                result.outputs["publish"] = str(result.published.folder)
        else:
            result.published = not_published(out_dir, internal)
    return result


def _report_inputs(
    project: Project, histories: CaptureHistories, rows: Sequence[Mapping[str, Any]], progress: ProgressCallback
) -> dict[str, Any]:
    """The first method's fitted pattern counts and drop-one-list estimates on all persons (for the report)."""
    method = project.methods[0]
    row = next((r for r in rows if r["stratum"] == "all" and r["method"] == method), {})
    progress(f"drop-one-list sensitivity ({method})", 0, 1)
    drop = drop_one_list(histories, method, project.method_options.get(method, {}), project.seed)
    progress(f"drop-one-list sensitivity ({method})", 1, 1)
    return {"fitted_patterns": fitted_patterns(histories, method, row.get("model")), "drop_one_list": drop}


def _run_warnings(linkage: Mapping[str, Any], unrecognised: Sequence[Mapping[str, Any]]) -> list[str]:
    out = [f"linkage: {w}" for w in linkage.get("warnings", [])]
    if linkage.get("records_without_identifiers"):
        out.append(
            f"{linkage['records_without_identifiers']} record(s) carry no identifier and count as "
            "distinct persons; they may inflate the estimate"
        )
    for u in unrecognised:
        rows = "some" if u["rows"] is None else str(u["rows"])
        out.append(f"list {u['source']!r}, column {u['column']!r}: {rows} value(s) not recognised were set to "
                   "unknown ([ingest] unrecognised = \"unknown\"); the records are kept with that field unknown")
    return out
