"""The machine-readable release of a run: disclosure-controlled tables, the SDG 16.2.2 series, metadata.

:func:`read_run` reads what ``cifranegra run`` wrote (``results.json``, ``entities.csv``); :func:`build_release`
turns it into everything that may be published — every count through
:func:`cifranegra.report.disclosure.protect_tables` (all person tables together, as they share margins),
every estimate through :func:`~cifranegra.report.disclosure.protect_estimates`, rates per 100,000 from the
*rounded* estimates — and :func:`write_release` writes ``tables/*.csv``, ``sdg_16_2_2.csv`` and
``metadata.json``. The report (:mod:`.render`) draws only from a :class:`Release`, so the text, tables and
charts show the same published numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cifranegra._version import __version__
from cifranegra.errors import InputError
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.report.cellspace import FLAG, TOTAL
from cifranegra.report.denominators import DENOMINATOR_EDITION, population
from cifranegra.report.disclosure import (
    DisclosurePolicy,
    ProtectedRelease,
    capture_pattern_table,
    protect_estimates,
    protect_tables,
)
from cifranegra.schema.codes import exploitation_crosswalk, states

__all__ = [
    "PUBLICATION_KEYS",
    "SDG_FORMS",
    "Release",
    "RunOutputs",
    "build_release",
    "read_run",
    "sdg_form",
    "write_release",
]

#: Keys of a ``[publication]`` section (or the ``publication=`` mapping); anything else is an error.
PUBLICATION_KEYS = ("title", "organisation", "year", "period", "lists", "languages", "formats", "disclosure")
#: SDG 16.2.2 forms of exploitation, from the UNODC GLOTIP category of each form of Mexican law art. 10.
SDG_FORMS = ("sexual", "labour", "other")
UNKNOWN = "unknown"
ALL = "all"
STRATIFIED_TOTAL = "stratified total"
_DIMENSIONS = ("year", "state", "sex", "age_group", "exploitation")


# ------------------------------------------------------------------------------------------------ reading
@dataclass(frozen=True)
class RunOutputs:
    """What a run wrote, as read back: its results, one row per detected person (no identifier: the
    person's year, state, sex, age group and SDG form of exploitation), the national capture histories
    and the records per list."""

    folder: Path
    results: dict[str, Any]
    persons: pd.DataFrame
    histories: CaptureHistories
    records: dict[str, int]
    fingerprints: dict[str, str] = field(default_factory=dict)


def _not_a_run(folder: Path, why: str) -> InputError:
    return InputError(f"{folder} is not the output folder of a run ({why}); give the folder that `cifranegra run` "
                      "or `cifranegra demo` wrote (the one with results.json, entities.csv and estimates.csv)")


def read_run(folder: str | Path) -> RunOutputs:
    """Read a run's output folder; :class:`InputError` saying what is missing when it is not one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise _not_a_run(folder, "no such folder" if not folder.exists() else "it is a file")
    path = folder / "results.json"
    if not path.is_file():
        raise _not_a_run(folder, "no results.json")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not readable JSON ({type(exc).__name__}, line "
                         f"{getattr(exc, 'lineno', '?')}); re-run `cifranegra run` to write it again") from None
    needed = ("estimates", "capture_histories", "linkage", "project")
    missing = [k for k in needed if not isinstance(results, dict) or k not in results]
    if missing:
        raise _not_a_run(folder, f"results.json has no {', '.join(missing)}")
    entities_path = folder / "entities.csv"
    if not entities_path.is_file():
        raise _not_a_run(folder, "no entities.csv")
    entities = pd.read_csv(entities_path, dtype=str, keep_default_na=False, na_values=[""])
    for col in ("source", "entity_id"):
        if col not in entities.columns:
            raise InputError(f"{entities_path}: no column {col!r}; re-run `cifranegra run` to write it again")
    _check_entity_strata(entities, entities_path)
    table = results["capture_histories"].get("all") or {}
    try:
        frame = pd.DataFrame(table["table"])
        histories = CaptureHistories.from_frame(frame, lists=list(table["lists"]), count="count")
    except (KeyError, TypeError) as exc:
        raise InputError(f"{path}: capture_histories.all is not a table of lists and counts ({exc}); re-run "
                         "`cifranegra run`") from None
    persons = _persons(entities)
    if len(persons) != histories.observed:
        raise InputError(f"{entities_path} has {len(persons)} persons but results.json counts {histories.observed}; "
                         "the two files come from different runs: re-run `cifranegra run`")
    records = {str(k): int(v) for k, v in entities.groupby("source").size().items()}
    fingerprints = {p.name: _sha256(p) for p in (path, entities_path)}
    return RunOutputs(folder, results, persons, histories, records, fingerprints)


def _check_entity_strata(entities: pd.DataFrame, path: Path) -> None:
    """Refuse stratum values ``cifranegra run`` never writes in entities.csv (free text in ``sex``, a name
    in ``state``): the tables and the report would publish them as labels. Rows named, values never."""
    from cifranegra.schema.records import stratum_value_problems

    problems = stratum_value_problems(entities, ("year", "sex", "age_group", "state", "exploitation"), "data row(s)")
    if problems:
        raise InputError(
            f"{path} holds values that `cifranegra run` never writes (the file was edited); values are not "
            "shown, they could identify someone:\n  - " + "\n  - ".join(problems)
            + "\nre-run `cifranegra run` to write the folder again instead of editing it"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sdg_form(codes: str | float | None) -> str:
    """The SDG 16.2.2 form of a person's forms of exploitation (``a|b`` for several): ``sexual``,
    ``labour``, ``other`` (also when the forms fall in more than one category) or ``unknown``."""
    if codes is None or (isinstance(codes, float) and math.isnan(codes)):
        return UNKNOWN
    forms = {_FORM_OF.get(c.strip(), "other") for c in str(codes).split("|") if c.strip()}
    forms.discard(UNKNOWN)
    if not forms:
        return UNKNOWN
    return forms.pop() if len(forms) == 1 else "other"


def _form_of() -> dict[str, str]:
    out = {}
    for f in exploitation_crosswalk():
        unodc = f.unodc.lower()
        out[f.code] = (UNKNOWN if f.code == UNKNOWN else "sexual" if unodc.startswith("sexual")
                       else "labour" if unodc.startswith("forced labour") else "other")
    return out


_FORM_OF = _form_of()


def _mode(values: pd.Series) -> str:
    """Most frequent non-missing value, ties broken by sort order (as the run's strata)."""
    v = values.dropna()
    if v.empty:
        return UNKNOWN
    counts = v.value_counts()
    best = counts.max()
    return str(sorted(counts[counts == best].index)[0])


def _persons(entities: pd.DataFrame) -> pd.DataFrame:
    """One row per person: each attribute's most frequent value over the person's records (the year:
    the earliest), the forms of exploitation of all records together."""
    groups = entities.groupby("entity_id", sort=True)
    out = pd.DataFrame(index=groups.size().index)
    if "year" in entities.columns:
        years = pd.to_numeric(entities["year"], errors="coerce")
        out["year"] = years.groupby(entities["entity_id"]).min().map(
            lambda y: UNKNOWN if pd.isna(y) else str(int(y)))
    for col in ("state", "sex", "age_group"):
        if col in entities.columns:
            out[col] = groups[col].agg(_mode)
    if "exploitation" in entities.columns:
        joined = groups["exploitation"].agg(lambda s: "|".join(s.dropna()))
        out["exploitation"] = joined.map(sdg_form)
    if "state" in out.columns:
        out["state"] = out["state"].map(lambda s: s if s == UNKNOWN else str(s).zfill(2))
    return out.reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ tables
def _levels(dim: str, values: pd.Series) -> list[str]:
    fixed = {"sex": ["female", "male"], "age_group": ["0-17", "18+"], "exploitation": list(SDG_FORMS),
             "state": [s.code for s in states()]}.get(dim, [])
    seen = sorted(set(values.astype(str)) - set(fixed) - {UNKNOWN})
    return [*fixed, *seen, *([UNKNOWN] if (values == UNKNOWN).any() else [])]


def _cube(persons: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    """Counts of persons over every combination of ``dims``' levels, with ``total`` margins."""
    import itertools

    levels = {d: [*_levels(d, persons[d]), TOTAL] for d in dims}
    counts = persons.groupby(list(dims)).size()
    rows = []
    for combo in itertools.product(*(levels[d] for d in dims)):
        mask = np.ones(len(persons), dtype=bool)
        for d, v in zip(dims, combo, strict=True):
            if v != TOTAL:
                mask &= (persons[d] == v).to_numpy()
        rows.append({**dict(zip(dims, combo, strict=True)), "count": int(mask.sum())})
    del counts
    return pd.DataFrame(rows, columns=[*dims, "count"])


def person_tables(run: RunOutputs) -> dict[str, pd.DataFrame]:
    """The tables of detected persons released together (before disclosure control)."""
    p = run.persons
    out: dict[str, pd.DataFrame] = {}
    sdg = [d for d in ("sex", "age_group", "exploitation") if d in p.columns]
    if sdg:
        out["detected_by_sex_age_exploitation"] = _cube(p, sdg)
    if "state" in p.columns:
        out["detected_by_state"] = _cube(p, ["state"])
    if "year" in p.columns and p["year"].nunique() > 1:
        out["detected_by_year"] = _cube(p, ["year"])
    out["capture_patterns"] = capture_pattern_table(run.histories)
    return out


# ------------------------------------------------------------------------------------------------ estimates
def _stratum_dims(label: str) -> dict[str, str] | None:
    """``sex=female | age_group=18+`` → {"sex": "female", "age_group": "18+"}; None for all/total."""
    if label in (ALL, STRATIFIED_TOTAL):
        return None
    out = {}
    for part in label.split(" | "):
        key, _, value = part.partition("=")
        out[key.strip()] = value.strip()
    return out


def _lists_with_records(results: Mapping[str, Any], label: str) -> int:
    tables = results["capture_histories"]
    dims = _stratum_dims(label)
    table = tables.get("all") if dims is None else tables.get("strata", {}).get(" | ".join(dims.values()))
    if not table:
        return 0
    frame = pd.DataFrame(table["table"])
    return int(sum(1 for name in table["lists"] if name in frame and frame.loc[frame[name] == 1, "count"].sum() > 0))


def _rate_population(year: int, dims: Mapping[str, str] | None) -> tuple[int | None, str]:
    """The denominator of a stratum, or None and why not."""
    dims = dict(dims or {})
    other = [d for d in dims if d not in ("year", "state", "sex", "age_group")]
    if other:
        return None, f"no population by {', '.join(other)}"
    try:
        y = int(dims.get("year", year))
        return population(y, dims.get("state"), dims.get("sex"), dims.get("age_group")), ""
    except (InputError, ValueError) as exc:
        return None, str(exc)


def estimates_table(run: RunOutputs, policy: DisclosurePolicy, year: int) -> pd.DataFrame:
    """Every estimate of the run, rounded or "not estimable", with its rate per 100,000 (of the rounded
    values) where a CONAPO denominator exists."""
    rows = []
    for e in run.results["estimates"]:
        label = str(e.get("stratum", ALL))
        rows.append({
            "stratum": label,
            "method": e.get("method"),
            "estimate": e.get("estimate"),
            "lower": e.get("lower"),
            "upper": e.get("upper"),
            "level": e.get("level"),
            "interval_method": e.get("interval_method"),
            "observed": e.get("observed") if e.get("observed") is not None else 0,
            "lists_with_records": _lists_with_records(run.results, label if label != STRATIFIED_TOTAL else ALL),
            "reason": e.get("error") or "",
        })
    frame = pd.DataFrame(rows)
    out = protect_estimates(frame, policy)
    pops, rate, lo, hi, why = [], [], [], [], []
    for _, r in out.iterrows():
        pop, reason = _rate_population(year, _stratum_dims(r["stratum"]))
        ok = pop is not None and not r[FLAG] and pd.notna(r["estimate"])
        pops.append(pop)
        scale = 100_000 / pop if ok and pop else math.nan
        rate.append(r["estimate"] * scale if ok else math.nan)
        lo.append(r["lower"] * scale if ok and pd.notna(r["lower"]) else math.nan)
        hi.append(r["upper"] * scale if ok and pd.notna(r["upper"]) else math.nan)
        why.append("" if ok or r[FLAG] else reason)
    out["population"] = pd.array(pops, dtype="Int64")
    out["rate_per_100k"], out["rate_lower"], out["rate_upper"] = rate, lo, hi
    out["rate_note"] = why
    return out


# ------------------------------------------------------------------------------------------------ release
@dataclass(frozen=True)
class Release:
    """Everything that may be published from one run (all counts and estimates disclosure-controlled)."""

    run: RunOutputs
    policy: DisclosurePolicy
    publication: dict[str, Any]
    year: int
    method: str
    counts: ProtectedRelease
    records: ProtectedRelease
    estimates: pd.DataFrame
    #: The first method's estimate with each list left out (rounded; "not estimable" below the minimums).
    drop_one: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The estimate at each linkage threshold (rounded; "not estimable" below the minimums).
    sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame)

    def identifier_share(self, name: str, kind: str) -> tuple[float | None, str]:
        """The published share (0-1) of list ``name``'s records with identifier ``kind`` (``curp``,
        ``full_name``, ``birth_date``): from the disclosure-controlled counts, so None with the flag when
        either count is withheld, and None with an empty flag when the run did not count them."""
        table = self.records.tables.get(f"records_with_{kind}")
        if table is None:
            return None, ""
        rows = table[table["list"].astype(str) == name].set_index(kind)
        yes, total = rows.loc["yes"], rows.loc[TOTAL]
        if pd.isna(yes["records"]) or pd.isna(total["records"]):
            return None, str(yes[FLAG] or total[FLAG])
        return (float(yes["records"]) / float(total["records"]) if total["records"] else None), ""

    def fit_rows(self) -> tuple[pd.DataFrame | None, str]:
        """Observed (published) and fitted count per capture pattern for the goodness-of-fit plot, or None and
        why not. Fitted counts are a function of the observed ones (the model's margins), so they are
        published only when no pattern count is withheld: otherwise they would let a reader recompute it."""
        fit = self.run.results.get("fitted_patterns") or {}
        if not fit.get("rows"):
            return None, str(fit.get("note") or "the run has no fitted counts per capture pattern")
        patterns = self.counts.tables["capture_patterns"]
        lists = list(self.run.histories.lists)
        inner = patterns[(patterns[lists] != TOTAL).all(axis=1)]
        withheld = int(inner["count"].isna().sum())
        if withheld:
            return None, f"withheld:{withheld}"
        frame = pd.DataFrame(fit["rows"])
        return frame[["pattern", "observed", "fitted"]], ""

    @property
    def detected(self) -> tuple[float | None, str]:
        """The published number of unique detected persons (national) and its flag."""
        return self.cell("capture_patterns", {})

    def cell(self, table: str, where: Mapping[str, str]) -> tuple[float | None, str]:
        """A published count: the row of ``table`` with ``where``'s values and ``total`` elsewhere."""
        frame = self.counts.tables[table]
        dims = [c for c in frame.columns if c not in ("count", FLAG)]
        mask = np.ones(len(frame), dtype=bool)
        for d in dims:
            mask &= (frame[d].astype(str) == str(where.get(d, TOTAL))).to_numpy()
        if not mask.any():
            raise KeyError(f"{table}: no cell {dict(where)}")
        row = frame[mask].iloc[0]
        value = None if pd.isna(row["count"]) else float(row["count"])
        return value, str(row[FLAG])

    def stratum_detected(self, label: str) -> tuple[float | None, str] | None:
        """The published detected count of a stratum, if a released table has it."""
        dims = _stratum_dims(label)
        if dims is None:
            return self.detected
        for name, frame in self.counts.tables.items():
            if set(dims) <= set(frame.columns) and name != "capture_patterns":
                try:
                    return self.cell(name, dims)
                except KeyError:
                    return None
        return None

    def chosen(self) -> pd.Series:
        """The headline estimate: the chosen method on all persons."""
        e = self.estimates
        return e[(e["stratum"] == ALL) & (e["method"] == self.method)].iloc[0]

    def row(self, method: str | None = None, stratum: str = ALL) -> dict[str, Any] | None:
        """The run's row (results.json ``estimates``) of a method's estimate of a stratum."""
        method = method or self.method
        return next((dict(e) for e in self.run.results["estimates"] if e.get("stratum") == stratum
                     and e.get("method") == method), None)

    def result(self, method: str | None = None, stratum: str = ALL) -> dict[str, Any] | None:
        """The full result (results.json ``results``) of a method's estimate of a stratum."""
        method = method or self.method
        row = next((e for e in self.run.results["estimates"] if e.get("stratum") == stratum
                    and e.get("method") == method), None)
        if row is None or row.get("estimate") is None:
            return None
        for r in self.run.results.get("results", []):
            if r.get("method") == method and r.get("estimate") == row["estimate"] and \
                    r.get("observed") == row.get("observed"):
                return dict(r)
        return None


def check_publication(publication: Mapping[str, Any] | None) -> dict[str, Any]:
    """A ``[publication]`` mapping with its keys checked (unknown keys are errors naming the known ones)."""
    publication = dict(publication or {})
    unknown = [k for k in publication if k not in PUBLICATION_KEYS]
    if unknown:
        raise InputError(f"[publication]: unknown key(s) {', '.join(map(repr, unknown))}; the keys are "
                         f"{', '.join(PUBLICATION_KEYS)}")
    year = publication.get("year")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
        raise InputError(f"[publication] year must be a whole number such as 2023, got {type(year).__name__}")
    return publication


def _reference_year(run: RunOutputs, publication: Mapping[str, Any]) -> int:
    if publication.get("year") is not None:
        return int(publication["year"])
    if "year" in run.persons.columns:
        years = sorted(int(y) for y in run.persons["year"] if y != UNKNOWN)
        if years:
            return years[-1]
    raise InputError("the run's records have no year: set the reference year with `year = 2023` in the project "
                     "file's [publication] section")


def build_release(folder: str | Path | RunOutputs, policy: DisclosurePolicy | None = None,
                  publication: Mapping[str, Any] | None = None) -> Release:
    """Read a run and disclosure-control everything that the report and the release publish."""
    run = folder if isinstance(folder, RunOutputs) else read_run(folder)
    if publication is None:  # the project file's [publication] section, when the run kept one
        publication = (run.results["project"] or {}).get("publication")
    publication = check_publication(publication)
    if policy is None:
        policy = DisclosurePolicy.from_dict(publication.get("disclosure") or {}, where="[publication] disclosure")
    year = _reference_year(run, publication)
    methods = list(run.results["project"].get("estimation", {}).get("methods") or [])
    if not methods:
        methods = [e["method"] for e in run.results["estimates"] if e.get("stratum") == ALL]
    if not methods:
        raise _not_a_run(run.folder, "results.json has no estimate for all persons")
    counts = protect_tables(person_tables(run), policy)
    records = protect_tables(record_tables(run), policy, measure="records")
    estimates = estimates_table(run, policy, year)
    return Release(run, policy, publication, year, methods[0], counts, records, estimates,
                   drop_one_table(run, policy), sensitivity_table(run, policy))


#: Identifier kinds whose share of records per list the sources section publishes.
IDENTIFIER_KINDS = ("curp", "full_name", "birth_date")


def record_tables(run: RunOutputs) -> dict[str, pd.DataFrame]:
    """Records per list and, when the run counted them (``inputs[].records_with``), records per list with and
    without each identifier: released together (they share the list margins)."""
    names = sorted(run.records)
    out = {"records_by_list": pd.DataFrame([*({"list": k, "records": run.records[k]} for k in names),
                                            {"list": TOTAL, "records": sum(run.records.values())}])}
    counted = {str(i.get("source")): i.get("records_with") for i in run.results.get("inputs", [])}
    if not all(isinstance(counted.get(k), dict) for k in names):
        return out  # an encoded run (no identifiers seen) or a run written before they were counted
    for kind in IDENTIFIER_KINDS:
        rows = []
        for name in [*names, TOTAL]:
            total = run.records[name] if name != TOTAL else sum(run.records.values())
            yes = (int(counted[name].get(kind, 0)) if name != TOTAL
                   else sum(int(counted[k].get(kind, 0)) for k in names))
            yes = min(yes, total)
            rows += [{"list": name, kind: "yes", "records": yes}, {"list": name, kind: "no", "records": total - yes},
                     {"list": name, kind: TOTAL, "records": total}]
        out[f"records_with_{kind}"] = pd.DataFrame(rows)
    return out


def drop_one_table(run: RunOutputs, policy: DisclosurePolicy) -> pd.DataFrame:
    """The run's drop-one-list estimates (``results.json`` ``drop_one_list``) through the estimate rules: rounded,
    "not estimable" where fewer persons or lists than the policy's minimums remain."""
    rows = run.results.get("drop_one_list") or []
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame([{"list": r.get("list"), "method": r.get("method"), "estimate": r.get("estimate"),
                           "lower": None, "upper": None, "observed": r.get("observed") or 0,
                           "lists_with_records": r.get("lists") or 0, "reason": r.get("error") or ""}
                          for r in rows])
    return protect_estimates(frame, policy)


def sensitivity_table(run: RunOutputs, policy: DisclosurePolicy) -> pd.DataFrame:
    """The run's linkage-sensitivity estimates (``results.json`` ``linkage_sensitivity``: N̂ of all persons at
    each threshold) through the estimate rules: rounded, "not estimable" where fewer persons or lists than the
    policy's minimums were observed, as for every other estimate."""
    rows = run.results.get("linkage_sensitivity") or []
    if not rows:
        return pd.DataFrame()
    lists = _lists_with_records(run.results, ALL)
    frame = pd.DataFrame([{"threshold": r.get("threshold"), "method": r.get("method"), "estimate": r.get("estimate"),
                           "observed": r.get("observed") if r.get("observed") is not None else 0,
                           "lists_with_records": lists, "reason": r.get("error") or ""}
                          for r in rows])
    return protect_estimates(frame, policy, measures=("estimate",))


# ------------------------------------------------------------------------------------------------ writing
def _csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6g")


def sdg_series(release: Release) -> pd.DataFrame:
    """SDG 16.2.2 in the shape of the global database: detected victims (the official series) by sex,
    age and form, and the estimated total as a separate, clearly labelled experimental series."""
    rows = []
    table = release.counts.tables.get("detected_by_sex_age_exploitation")
    period = release.publication.get("period") or str(release.year)
    if table is not None:
        for _, r in table.iterrows():
            rows.append({
                "series": "VC_HTF_DETV", "series_description": "Detected victims of human trafficking (number)",
                "nature": "official (detected victims; not prevalence)", "time_period": period,
                "geo_area": "Mexico", **{d: r.get(d, TOTAL) for d in ("sex", "age_group", "exploitation")},
                "value": r["count"], "lower_bound": pd.NA, "upper_bound": pd.NA, FLAG: r[FLAG],
            })
    for _, r in release.estimates.iterrows():
        dims = _stratum_dims(r["stratum"])
        if r["stratum"] == STRATIFIED_TOTAL or (dims and set(dims) - {"sex", "age_group", "exploitation"}):
            continue
        dims = dims or {}
        rows.append({
            "series": "EXPERIMENTAL_HTF_ESTV",
            "series_description": f"EXPERIMENTAL: estimated total victims, detected and undetected "
                                  f"(multiple systems estimation, {r['method']})",
            "nature": "experimental estimate (not an official SDG series)", "time_period": period,
            "geo_area": "Mexico", **{d: dims.get(d, TOTAL) for d in ("sex", "age_group", "exploitation")},
            "value": r["estimate"], "lower_bound": r["lower"], "upper_bound": r["upper"], FLAG: r[FLAG],
        })
    return pd.DataFrame(rows)


def interval_includes(result: Mapping[str, Any] | None, row: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Which uncertainty an interval includes: sampling (any interval), model selection (a bootstrap that
    re-selects the model, or a posterior over models), linkage (when the run combined imputed linkages).

    The run's own row says it (``interval_includes``, e.g. ``sampling+model_selection+linkage``, and
    ``linkage_share``, pipeline/imputation.py); a row without it is read from the result's interval."""
    said = (row or {}).get("interval_includes")
    if isinstance(said, str) and said:
        parts = set(said.split("+"))
        share = (row or {}).get("linkage_share")
        return {"sampling": "sampling" in parts, "model_selection": "model_selection" in parts,
                "linkage": "linkage" in parts,
                "linkage_share": None if share is None or pd.isna(share) else float(share)}
    if not result or not result.get("intervals"):
        return {"sampling": False, "model_selection": False, "linkage": False, "linkage_share": None}
    method = str(result.get("method", ""))
    imethod = str(result["intervals"][0].get("method", ""))
    settings = result.get("settings") or {}
    reselects = imethod.startswith(("bootstrap", "parametric")) and settings.get("model") in (None, "")
    averaged = method in ("dga", "lcmcr")
    return {"sampling": True, "model_selection": bool(reselects or averaged), "linkage": False,
            "linkage_share": None}


def metadata(release: Release) -> dict[str, Any]:
    """SDG metadata template fields and the multiple-systems-estimation fields."""
    res = release.run.results
    project = res["project"]
    chosen = release.chosen()
    result = release.result() or {}
    lists_pub = release.publication.get("lists") or {}
    return {
        "indicator": {
            "goal": "16", "target": "16.2", "indicator": "16.2.2",
            "name": "Number of victims of human trafficking per 100,000 population, by sex, age and form of "
                    "exploitation",
            "series": ["VC_HTF_DETV (detected victims, official)",
                       "EXPERIMENTAL_HTF_ESTV (estimated total, experimental)"],
        },
        "title": release.publication.get("title"),
        "organisation": release.publication.get("organisation"),
        "reference_period": release.publication.get("period") or str(release.year),
        "reference_year": release.year,
        "geographic_coverage": "Mexico",
        "unit_of_measure": "persons; rates per 100,000 population",
        "lists": [{"name": name, "records": _published_records(release, name),
                   **({k: v for k, v in lists_pub.get(name, {}).items()} if isinstance(lists_pub.get(name), dict)
                      else {})}
                  for name in release.run.histories.lists],
        "assumptions": ["closed population over the reference period",
                        "list dependence modelled where the data reveal it (log-linear interaction terms)",
                        ("record linkage uncertain: the estimate combines imputed linkages drawn from the pair "
                         "probabilities" if interval_includes(result, release.row())["linkage"] else
                         "persons linked across lists are the same person (linkage taken as fixed)")],
        # counts only as published (disclosure-controlled): the run's own are record-level diagnostics (numbers of
        # records, persons and linked pairs) that would undo the suppression of the tables' totals and patterns
        "linkage": {k: v for k, v in res["linkage"].items() if k in ("method", "engine", "n_lists")}
        | {"n_records": _published_records(release, TOTAL), "n_entities": _published(release.detected),
           "records_without_identifiers": _small_withheld(res["linkage"].get("records_without_identifiers"),
                                                          release.policy),
           "threshold": (project.get("linkage") or {}).get("threshold"),
           "sensitivity": [{"threshold": r["threshold"], "method": r["method"],
                            "estimate": None if pd.isna(r["estimate"]) else float(r["estimate"]),
                            **({"flag": r[FLAG]} if r[FLAG] else {})}
                           for _, r in release.sensitivity.iterrows()]},
        "estimation": {
            "method": release.method,
            "selection_rule": (result.get("settings") or {}).get("select"),
            "model": result.get("model"),
            "estimate": None if pd.isna(chosen["estimate"]) else float(chosen["estimate"]),
            "interval": {"lower": None if pd.isna(chosen["lower"]) else float(chosen["lower"]),
                         "upper": None if pd.isna(chosen["upper"]) else float(chosen["upper"]),
                         "level": chosen["level"], "method": chosen["interval_method"],
                         "includes": interval_includes(result, release.row())},
            "methods_run": sorted({str(e.get("method")) for e in res["estimates"]}),
            # the estimator's options as run, defaults resolved (interval kind, replicates, sweeps),
            # and the number of imputed linkages combined: settings that change the numbers
            "spec": (result.get("settings") or {}).get("spec"),
            "linkage_imputations": (result.get("settings") or {}).get("linkage_imputations"),
        },
        "disclosure_control": {
            "policy": release.policy.to_dict(),
            "person_tables": {k: v for k, v in release.counts.audit.items() if k != "withheld_cells"},
            "records_table": {k: v for k, v in release.records.audit.items() if k != "withheld_cells"},
            "passed": release.counts.passed and release.records.passed,
            "estimates": "rounded; not published for strata below the policy's minimums",
        },
        "denominators": {"source": DENOMINATOR_EDITION, "year": release.year},
        "software": {"name": "cifranegra", "version": __version__, "results_version": res.get("cifranegra_version")},
        "seed": project.get("seed"),
        "input_fingerprints": [{"source": i.get("source"), "sha256": i.get("sha256"),
                                "records": _published_records(release, str(i.get("source")))}
                               for i in res.get("inputs", [])],
        "run_fingerprints": release.run.fingerprints,
        "produced": dt.date.today().isoformat(),
    }


def _published(cell: tuple[float | None, str]) -> int | None:
    value, _flag = cell
    return None if value is None else int(value)


def _published_records(release: Release, name: str) -> int | None:
    """A list's (or the ``total``) records as published in ``records_by_list``: None when withheld or absent."""
    table = release.records.tables["records_by_list"]
    rows = table[table["list"].astype(str) == name]
    if rows.empty or pd.isna(rows["records"].iloc[0]):
        return None
    return int(rows["records"].iloc[0])


def _small_withheld(value: Any, policy: DisclosurePolicy) -> int | None:
    """A count outside the protected tables: None (withheld) from 1 to threshold − 1, as a primary cell."""
    if value is None or pd.isna(value):
        return None
    return None if 0 < int(value) < policy.threshold else int(value)


def write_release(release: Release, out_dir: str | Path) -> list[Path]:
    """Write ``tables/*.csv``, ``sdg_16_2_2.csv`` and ``metadata.json`` into ``out_dir``; returns the paths."""
    out = Path(out_dir)
    tables = out / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in {**release.counts.tables, **release.records.tables}.items():
        path = tables / f"{name}.csv"
        _csv(frame, path)
        written.append(path)
    path = tables / "estimates.csv"
    _csv(release.estimates, path)
    written.append(path)
    path = out / "sdg_16_2_2.csv"
    _csv(sdg_series(release), path)
    written.append(path)
    path = out / "metadata.json"
    path.write_text(json.dumps(metadata(release), indent=2, ensure_ascii=False, default=_json_default) + "\n",
                    encoding="utf-8")
    written.append(path)
    return written


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if math.isnan(value) else float(value)
    if value is pd.NA:
        return None
    return str(value)

