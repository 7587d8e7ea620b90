"""The project file (TOML): which agency files, how their columns map, how to link, stratify and
estimate. Every problem in it is collected before anything runs.

Example::

    name = "demo"                 # study name (also the salt of private linkage)
    seed = 20240601               # drives linkage sampling, bootstrap, MCMC
    output = "results"            # folder for the results, relative to this file

    [[lists]]
    source = "FGR"                # agency id, as it appears in the tables
    path = "lists/fgr.csv"        # CSV, XLSX or Parquet (relative to this file)
    mapping = "lists/fgr.json"    # optional: mapping file, or an inline table [lists.mapping]
    # encoded = true              # the file is an encoded list (private linkage)

    [ingest]
    unrecognised = "error"        # or "unknown": keep records whose code-list value is not recognised

    [linkage]                     # any key of cifranegra.linkage.LinkageSettings
    engine = "duckdb"             # or "spark"
    threshold = 0.5
    [linkage.uncertainty]         # linkage imputation: the interval includes the linkage's uncertainty
    enabled = true                # default: on (plaintext linkage); false: the single linkage only
    imputations = 20              # M linkages drawn from the scored pairs
    sampler = "gibbs"             # or "components" (faster; over-links chains of weak pairs)

    [tabulation]
    strata = ["sex"]              # any of year, sex, age_group, state, exploitation

    [estimation]
    methods = ["loglinear", "chao"]
    level = 0.95
    [estimation.options.loglinear]   # passed to cifranegra.estimation.estimate
    interval = "bootstrap"
    n_boot = 200

    [publication]                 # what goes to OUTPUT/publish/ (all keys optional)
    title = "Víctimas de trata en México, 2023"
    organisation = "Instituto Nacional de Estadística"
    year = 2023                   # reference year: rates per 100,000 use its CONAPO population
    period = "enero–diciembre de 2023"   # the reference period as the report shows it
    languages = ["es", "en"]
    formats = ["html", "pdf"]
    [publication.disclosure]      # any field of cifranegra.report.disclosure.DisclosurePolicy
    threshold = 11
    [publication.lists.FGR]       # shown in the report's sources table
    definition = "victims in FGR investigation files"
    period = "2023"

Paths (lists, mappings, ``output``) must lie inside the project file's folder, after symbolic links
and ``..`` are resolved: a project file received from someone else cannot read or write elsewhere.
Only the person running it can allow that (``load_project(..., allow_outside=True)``, ``cifranegra
run --allow-outside``); the file itself cannot opt in.
"""

from __future__ import annotations

import difflib
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cifranegra.errors import InputError, Problem, ValidationError
from cifranegra.estimation.histories import MAX_LISTS as HISTORIES_MAX_LISTS
from cifranegra.linkage import LinkageSettings
from cifranegra.pipeline.imputation import LinkageUncertainty, uncertainty_from_table

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    try:
        import tomli as tomllib
    except ImportError:  # pragma: no cover
        tomllib = None

STRATA = ("year", "sex", "age_group", "state", "exploitation")
#: What to do with a code-list value (sex, state, exploitation...) that is not recognised: refuse the
#: list ("error") or keep the record with that field unknown ("unknown"), counted in the results.
UNRECOGNISED = ("error", "unknown")
#: Most lists a run takes: every capture-history table is a dense array of 2^K counts, one per
#: stratum (2^24 counts = 128 MiB a table); most estimators set lower limits (list_limits).
MAX_LISTS = HISTORIES_MAX_LISTS
_TOP_KEYS = {"name", "seed", "output", "lists", "ingest", "linkage", "tabulation", "estimation", "publication",
             "description"}
_LIST_KEYS = {"source", "path", "mapping", "encoded", "description"}
_INGEST_KEYS = {"unrecognised"}
_TABULATION_KEYS = {"strata"}
_ESTIMATION_KEYS = {"methods", "level", "options", "linkage_sensitivity"}
_PUBLICATION_KEYS = {"title", "organisation", "year", "period", "lists", "languages", "formats", "disclosure"}
_PUBLICATION_LIST_KEYS = {"definition", "period"}
#: Languages and formats of the published report.
LANGUAGES = ("es", "en")
FORMATS = ("html", "pdf")
#: Column names a list's source cannot take: they are columns of the capture-history tables written.
_RESERVED_SOURCES = {"count", "stratum", *STRATA}
_OUTSIDE_FIX = ("a project file may only name files and folders inside its own folder; move it there, or, "
                "if you trust this project file, run it with `cifranegra run --allow-outside`")

_Bad = Callable[..., None]


@dataclass(frozen=True)
class ListSpec:
    """One agency file of the project."""

    source: str
    path: Path
    mapping: Path | dict[str, Any] | None = None
    encoded: bool = False

    def to_dict(self) -> dict[str, Any]:
        m: Any = str(self.mapping) if isinstance(self.mapping, Path) else self.mapping
        return {"source": self.source, "path": str(self.path), "mapping": m, "encoded": self.encoded}


@dataclass(frozen=True)
class Publication:
    """The ``[publication]`` section: what the run writes to ``OUTPUT/publish/`` and under which rules.

    ``year``: the reference year (None: the report takes the latest year of the records); ``period``:
    the reference period as shown; ``lists``: per list source, its ``definition`` and ``period``;
    ``disclosure``: the keys of :class:`cifranegra.report.disclosure.DisclosurePolicy` given in the
    file (validated at load).
    """

    title: str | None = None
    organisation: str | None = None
    year: int | None = None
    period: str | None = None
    lists: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    languages: tuple[str, ...] = LANGUAGES
    formats: tuple[str, ...] = FORMATS
    disclosure: Mapping[str, Any] = field(default_factory=dict)

    def policy(self) -> Any:
        """The disclosure policy (a :class:`~cifranegra.report.disclosure.DisclosurePolicy`)."""
        from cifranegra.report.disclosure import DisclosurePolicy

        return DisclosurePolicy(**dict(self.disclosure))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, in the shape :func:`cifranegra.report.publish` takes as ``publication``, with the
        disclosure policy in force (every key, defaults included)."""
        return {
            "title": self.title,
            "organisation": self.organisation,
            "year": self.year,
            "period": self.period,
            "lists": {k: dict(v) for k, v in self.lists.items()},
            "languages": list(self.languages),
            "formats": list(self.formats),
            "disclosure": self.policy().to_dict(),
        }


@dataclass(frozen=True)
class Project:
    """A validated project: lists, linkage settings, strata and estimators."""

    name: str
    lists: tuple[ListSpec, ...]
    linkage: LinkageSettings
    strata: tuple[str, ...] = ()
    methods: tuple[str, ...] = ("loglinear",)
    method_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    level: float = 0.95
    seed: int = 20240601
    output: Path = Path("results")
    private_linkage: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: Other match-probability thresholds at which the run re-clusters the linked records and
    #: re-estimates N-hat overall with the first method (point estimates): how much the answer
    #: depends on the linkage decision, which no interval contains. Plaintext linkage only.
    linkage_sensitivity: tuple[float, ...] = (0.8, 0.9, 0.95)
    #: ``[ingest] unrecognised``: "error" (refuse a list with an unrecognised code-list value) or
    #: "unknown" (keep the record with that field unknown; the run counts them per list and column).
    on_unrecognised: str = "error"
    #: ``[publication]``: title, languages, formats, denominators and disclosure policy of publish/.
    publication: Publication = field(default_factory=Publication)
    #: ``[linkage.uncertainty]``: multiple imputation of the linkage (docs/pipeline.md).
    linkage_uncertainty: LinkageUncertainty = field(default_factory=LinkageUncertainty)

    @property
    def encoded(self) -> bool:
        """True when the lists are encoded (private linkage)."""
        return any(s.encoded for s in self.lists)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seed": self.seed,
            "output": str(self.output),
            "lists": [s.to_dict() for s in self.lists],
            "ingest": {"unrecognised": self.on_unrecognised},
            "linkage": self.linkage.to_dict(),
            "private_linkage": dict(self.private_linkage),
            "linkage_uncertainty": self.linkage_uncertainty.to_dict(),
            "tabulation": {"strata": list(self.strata)},
            "estimation": {
                "methods": list(self.methods),
                "level": self.level,
                "options": {k: dict(v) for k, v in self.method_options.items()},
                "linkage_sensitivity": list(self.linkage_sensitivity),
            },
            "publication": self.publication.to_dict(),
            "path": str(self.path) if self.path else None,
        }


def load_project(path: str | Path, *, check_files: bool = True, allow_outside: bool = False) -> Project:
    """Read and validate a project file; every problem is reported at once
    (:class:`~cifranegra.errors.ValidationError`).

    ``allow_outside``: let list, mapping and output paths leave the project file's folder (the
    caller's decision, never the file's: ``cifranegra run --allow-outside``).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: the project file does not exist; check the path (try `cifranegra demo`)")
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give the project file (TOML) itself, e.g. {p / 'project.toml'}")
    if tomllib is None:  # pragma: no cover
        raise InputError("reading project files on Python 3.10 needs tomli: pip install tomli")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(f"{p}: the project file cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: the project file is not UTF-8 text; save it as UTF-8 (a TOML file)") from None
    except tomllib.TOMLDecodeError as exc:
        # the parser's message names a line and column, never the line's text
        raise InputError(f"{p}: the project file is not valid TOML ({exc})") from None
    return project_from_dict(data, base=p.parent, file=str(p), check_files=check_files, allow_outside=allow_outside)


def project_from_dict(
    data: Mapping[str, Any],
    *,
    base: Path | None = None,
    file: str | None = None,
    check_files: bool = True,
    allow_outside: bool = False,
) -> Project:
    """A :class:`Project` from a parsed project file; relative paths resolve against ``base``, and
    every path must stay inside ``base`` unless ``allow_outside``."""
    if not isinstance(data, Mapping):
        raise InputError(f"a project is a table of settings (a dict), not {type(data).__name__}")
    base = (Path(base) if base is not None else Path.cwd()).resolve()  # a str base as a Path
    problems: list[Problem] = []

    def bad(column: str | None, message: str, code: str = "project") -> None:
        problems.append(Problem(file, None, column, "error", code, message))

    def place(raw: str, key: str, what: str) -> Path | None:
        """``raw`` resolved against the project folder; None (and a problem) when it leaves it."""
        try:
            resolved = (base / raw).resolve()
        except (OSError, ValueError, RuntimeError):  # a NUL byte, a symbolic-link loop
            bad(key, f"{what} {raw!r} is not a usable path; name a file inside the project folder")
            return None
        if not allow_outside and not resolved.is_relative_to(base):
            bad(key, f"{what} {raw!r} is outside the project folder {base}: {_OUTSIDE_FIX}", code="outside_project")
            return None
        return resolved

    _unknown_keys(data, _TOP_KEYS, None, bad)
    name = data.get("name", "cifranegra-project")
    if not isinstance(name, str) or not name.strip():
        bad("name", "name must be a text such as name = \"cdmx-2023\"")
        name = "cifranegra-project"
    seed = data.get("seed", 20240601)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        bad("seed", f"seed must be a non-negative whole number, not {seed!r}")
        seed = 0
    raw_lists = data.get("lists", [])
    lists = _lists(raw_lists, bad, place, check_files)
    n_declared = len(raw_lists) if isinstance(raw_lists, list) else 0
    ingest = _table(data, "ingest", bad)
    _unknown_keys(ingest, _INGEST_KEYS, "ingest", bad)
    on_unrecognised = ingest.get("unrecognised", "error")
    if on_unrecognised not in UNRECOGNISED:
        bad("ingest.unrecognised", f"unrecognised must be \"error\" (refuse a list with a value that is not "
            f"recognised) or \"unknown\" (keep the record with that field unknown), not {on_unrecognised!r}")
        on_unrecognised = "error"

    link_raw = dict(_table(data, "linkage", bad))
    private = link_raw.pop("private", {})
    if not isinstance(private, Mapping):
        bad("linkage.private", "[linkage.private] must be a table of options of the private linkage")
        private = {}
    _check_private(private, bad)
    uncertainty = uncertainty_from_table(link_raw.pop("uncertainty", None), bad)
    if uncertainty.calibration == "simulated" and not any(s.encoded for s in lists):
        bad("linkage.uncertainty.calibration", 'calibration = "simulated" calibrates private linkage\'s Dice scores '
            'and these lists are not encoded; use "within-lists" (the default) or "none"')
    try:
        linkage = LinkageSettings.from_dict({"seed": seed, **link_raw})
    except InputError as exc:
        bad("linkage", str(exc))
        linkage = LinkageSettings()
    except (TypeError, ValueError):
        bad("linkage", "[linkage] holds a value of the wrong type; see docs/linkage.md for each setting")
        linkage = LinkageSettings()

    tab = _table(data, "tabulation", bad)
    _unknown_keys(tab, _TABULATION_KEYS, "tabulation", bad)
    strata = _names(tab.get("strata", []), "tabulation.strata", bad)
    wrong = [s for s in strata if s not in STRATA]
    if wrong:
        bad("tabulation.strata", f"unknown stratum column(s) {wrong}; choose among {', '.join(STRATA)}")
        strata = [s for s in strata if s in STRATA]
    if len(set(strata)) < len(strata):
        bad("tabulation.strata", "a stratum column is named twice; name each once")
        strata = list(dict.fromkeys(strata))

    methods, options, level, sens = _estimation(_table(data, "estimation", bad), bad, n_lists=n_declared)
    publication = _publication(_table(data, "publication", bad), bad, [s.source for s in lists])

    raw_output = data.get("output", "results")
    output: Path | None = None
    if not isinstance(raw_output, str) or not raw_output.strip():
        bad("output", "output must be the name of a folder, such as output = \"results\"")
    else:
        output = place(raw_output, "output", "output folder")
    if problems:
        raise ValidationError(problems=problems, summary=f"{file or 'the project'}: the project file has problems")
    return Project(
        name=name,
        lists=tuple(lists),
        linkage=linkage,
        strata=tuple(strata),
        methods=tuple(methods),
        method_options=options,
        level=level,
        seed=int(seed),
        output=output or base / "results",
        private_linkage=dict(private),
        path=Path(file) if file else None,
        linkage_sensitivity=sens,
        on_unrecognised=str(on_unrecognised),
        publication=publication,
        linkage_uncertainty=uncertainty,
    )


def _table(data: Mapping[str, Any], key: str, bad: _Bad) -> Mapping[str, Any]:
    value = data.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        bad(key, f"{key} must be a table: a [{key}] section with its keys")
        return {}
    return value


def _unknown_keys(table: Mapping[str, Any], valid: set[str], where: str | None, bad: _Bad) -> None:
    extra = sorted(map(str, set(table) - valid))
    if extra:
        hints = [h for k in extra for h in difflib.get_close_matches(k, sorted(valid), n=1)]
        hint = f" (did you mean {', '.join(map(repr, hints))}?)" if hints else ""
        bad(where, f"unknown key(s) {extra}{hint}; valid keys are {', '.join(sorted(valid))}")


def _names(value: Any, key: str, bad: _Bad) -> list[str]:
    """A list of names (a single name is a list of one)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        bad(key, f"{key.split('.')[-1]} must be a list of names, such as [\"sex\"]")
        return []
    return list(value)


def _lists(
    raw_lists: Any, bad: _Bad, place: Callable[[str, str, str], Path | None], check_files: bool
) -> list[ListSpec]:
    """The [[lists]] tables: sources unique, files inside the project folder and present."""
    if not isinstance(raw_lists, list) or not raw_lists:
        bad("lists", "the project names no agency lists; add one [[lists]] table per agency file")
        return []
    if len(raw_lists) == 1:
        bad("lists", "the project names one agency list; multiple systems estimation needs at least two "
            "lists that overlap: add a [[lists]] table for each other agency's file", code="too_few_lists")
    if len(raw_lists) > MAX_LISTS:
        bad("lists", f"the project names {len(raw_lists)} lists; a run takes at most {MAX_LISTS}, because each "
            f"capture-history table holds 2^K counts (2^{len(raw_lists)} here): merge lists of the same kind "
            "of agency into one", code="too_many_lists")
    lists: list[ListSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw_lists, start=1):
        where = f"lists[{i}]"
        if not isinstance(item, Mapping):
            bad(where, "each [[lists]] entry must be a table with source and path")
            continue
        _unknown_keys(item, _LIST_KEYS, where, bad)
        source = item.get("source")
        if not source or not isinstance(source, str):
            bad(f"{where}.source", "every list needs a source (the agency id), e.g. source = \"FGR\"")
            source = f"list{i}"
        elif source in _RESERVED_SOURCES:
            bad(f"{where}.source", f"source {source!r} is the name of a column of the results; "
                "call the agency something else, e.g. its acronym")
        if source in seen:
            bad(f"{where}.source", f"source {source!r} appears twice; each list needs its own id")
        seen.add(source)
        raw_path = item.get("path")
        if not raw_path or not isinstance(raw_path, str):
            bad(f"{where}.path", f"list {source!r} has no path to its file")
            continue
        fpath = place(raw_path, f"{where}.path", f"list {source!r}: file")
        if fpath is not None and check_files:
            _check_file(fpath, f"{where}.path", f"list {source!r}: file", bad)
        mapping: Path | dict[str, Any] | None = None
        raw_map = item.get("mapping")
        if isinstance(raw_map, str):
            mapping = place(raw_map, f"{where}.mapping", f"list {source!r}: mapping file")
            if mapping is not None and check_files:
                _check_file(mapping, f"{where}.mapping", f"list {source!r}: mapping file", bad)
        elif isinstance(raw_map, Mapping):
            mapping = dict(raw_map)
        elif raw_map is not None:
            bad(f"{where}.mapping", "mapping must be a file path or an inline table")
        encoded = item.get("encoded", False)
        if not isinstance(encoded, bool):
            bad(f"{where}.encoded", "encoded must be true or false")
            encoded = False
        if fpath is not None:
            lists.append(ListSpec(source=source, path=fpath, mapping=mapping, encoded=encoded))
    _same_files(lists, bad, check_files)
    if lists and len({s.encoded for s in lists}) > 1:
        enc = [s.source for s in lists if s.encoded]
        bad("lists", f"lists {enc} are encoded and the others are not; encoded lists can only be linked "
            "to encoded lists: encode every list with the same secret (`cifranegra encode`) or none")
    return lists


def _same_files(lists: Sequence[ListSpec], bad: _Bad, check_files: bool) -> None:
    """Two lists of one file (a path pasted twice) or of two identical files would be linked as a
    complete overlap: every person on both lists, which pulls N-hat down with no warning. Refused by
    path and, when the files are read, by content (SHA-256)."""
    import contextlib
    import hashlib

    first: dict[tuple[str, object], str] = {}
    for spec in lists:
        keys: list[tuple[str, object]] = [("path", spec.path.resolve())]
        if check_files and spec.path.is_file():
            with contextlib.suppress(OSError):  # an unreadable file is reported when the list is read
                keys.append(("content", hashlib.sha256(spec.path.read_bytes()).hexdigest()))
        for key in keys:
            if key in first:
                how = "the same file as" if key[0] == "path" else "a byte-for-byte copy of"
                bad("lists", f"the file of list {spec.source!r} is {how} that of list {first[key]!r}; each "
                    "agency's list is a file of its own (a list given twice would be counted as a complete overlap "
                    "and pull the estimate down): check the path", code="same_file")
                break
            first[key] = spec.source


def _check_file(path: Path, key: str, what: str, bad: _Bad) -> None:
    if not path.exists():
        bad(key, f"{what} {path} does not exist; check the path "
            "(relative paths are read from the project file's folder)", code="missing_file")
    elif not path.is_file():
        bad(key, f"{what} {path} is not a file (a folder?); name the file itself", code="missing_file")


def _check_private(private: Mapping[str, Any], bad: _Bad) -> None:
    """[linkage.private] keys are the options of the private linkage (link_encoded)."""
    if not private:
        return
    from cifranegra.linkage.private import link_encoded

    valid = {p for p in inspect.signature(link_encoded).parameters if p not in ("lists", "strata")}
    _unknown_keys(private, valid, "linkage.private", bad)


def _estimation(
    est: Mapping[str, Any], bad: _Bad, *, n_lists: int
) -> tuple[list[str], dict[str, dict[str, Any]], float, tuple[float, ...]]:
    """Methods (known, with valid options, fit for ``n_lists`` lists), level and linkage sensitivity."""
    _unknown_keys(est, _ESTIMATION_KEYS, "estimation", bad)
    default_sens = list(Project.linkage_sensitivity)
    sens = est.get("linkage_sensitivity", default_sens)
    if not isinstance(sens, list) or not all(
        isinstance(t, (int, float)) and not isinstance(t, bool) and 0.5 <= float(t) < 1 for t in sens
    ):
        bad("estimation.linkage_sensitivity", f"linkage_sensitivity must be a list of match-probability "
            f"thresholds from 0.5 up to (not including) 1, such as [0.8, 0.9, 0.95], or [] for none; got {sens!r}")
        sens = []
    methods = _names(est.get("methods", ["loglinear"]), "estimation.methods", bad)
    if not methods and "methods" in est:
        bad("estimation.methods", "name at least one estimation method, e.g. methods = [\"loglinear\"]")
    if len(set(methods)) < len(methods):
        bad("estimation.methods", "a method is named twice; name each once (its options go in "
            "[estimation.options.METHOD])")
        methods = list(dict.fromkeys(methods))
    level = est.get("level", 0.95)
    if not isinstance(level, (int, float)) or isinstance(level, bool) or not 0 < float(level) < 1:
        bad("estimation.level", f"level must be a probability such as 0.95, not {level!r}")
        level = 0.95
    options = est.get("options", {}) or {}
    if not isinstance(options, Mapping) or not all(isinstance(v, Mapping) for v in options.values()):
        bad("estimation.options", "options must be tables per method, e.g. [estimation.options.loglinear]")
        options = {}
    stray = sorted(set(options) - set(methods))
    if stray:
        bad("estimation.options", f"options given for method(s) {stray} that are not in methods")
    opts = {str(k): dict(v) for k, v in options.items()}
    for method in methods:
        _check_method(method, opts.get(method, {}), n_lists, bad)
    return methods, opts, float(level), tuple(sorted({float(t) for t in sens}))


def _check_method(method: str, options: Mapping[str, Any], n_lists: int, bad: _Bad) -> None:
    """The method exists, takes these options, and fits ``n_lists`` lists (before any linkage)."""
    from cifranegra.estimation import check_estimator, list_limits

    key = f"estimation.options.{method}" if options else "estimation.methods"
    if "seed" in options:
        bad(f"estimation.options.{method}", "seed is set once for the whole project (the top-level `seed`); "
            f"remove it from [estimation.options.{method}]")
        options = {k: v for k, v in options.items() if k != "seed"}
    if "level" in options:
        bad(f"estimation.options.{method}", "the interval level is set once for every method, as "
            f"[estimation] level; remove it from [estimation.options.{method}]")
        options = {k: v for k, v in options.items() if k != "level"}
    try:
        check_estimator(method, options)
    except InputError as exc:
        bad(key, str(exc), code="estimation")
        return
    low, high, reason = list_limits(method)
    if n_lists >= 2 and not low <= n_lists <= high:  # fewer than two: refused once, under `lists`
        takes = f"exactly {low}" if low == high else (f"at least {low}" if n_lists < low else f"at most {high}")
        bad("estimation.methods", f"method {method!r} takes {takes} lists ({reason}) and the project names "
            f"{n_lists}; choose another method (see docs/estimation.md) or "
            + ("add lists" if n_lists < low else "merge lists of the same kind of agency"), code="list_limit")
        return
    if method == "loglinear" and options.get("select") in ("bic", "aic") and n_lists >= 2:
        from cifranegra.estimation.loglinear import check_search
        from cifranegra.estimation.models import default_max_order

        raw_order = options.get("max_order")
        order = raw_order if isinstance(raw_order, int) and raw_order >= 1 else default_max_order(n_lists)
        try:  # strata never have more lists than the whole table: this covers them too
            check_search(n_lists, min(order, n_lists - 1), str(options["select"]))
        except InputError as exc:
            bad(f"estimation.options.{method}", str(exc), code="list_limit")


def _publication(pub: Mapping[str, Any], bad: _Bad, sources: list[str]) -> Publication:
    """The [publication] section: every key checked here, before any list is read."""
    _unknown_keys(pub, _PUBLICATION_KEYS, "publication", bad)
    texts: dict[str, str | None] = {}
    for key in ("title", "organisation", "period"):
        texts[key] = _text(pub.get(key), f"publication.{key}", bad)
    return Publication(title=texts["title"], organisation=texts["organisation"], year=_year(pub.get("year"), bad),
                       period=texts["period"], lists=_publication_lists(pub.get("lists", {}), sources, bad),
                       languages=_choices(pub, "languages", LANGUAGES, bad),
                       formats=_choices(pub, "formats", FORMATS, bad),
                       disclosure=_disclosure(pub.get("disclosure", {}), bad))


_EXAMPLES = {"title": "Víctimas de trata en México, 2023", "organisation": "Instituto Nacional de Estadística",
             "period": "enero–diciembre de 2023", "definition": "victims in FGR investigation files"}


def _text(value: Any, where: str, bad: _Bad) -> str | None:
    """An optional text (None when absent)."""
    if value is None:
        return None
    key = where.split(".")[-1]
    if not isinstance(value, str) or not value.strip():
        bad(where, f"{key} must be a text, such as {key} = \"{_EXAMPLES[key]}\"")
        return None
    return value.strip()


def _choices(pub: Mapping[str, Any], key: str, valid: tuple[str, ...], bad: _Bad) -> tuple[str, ...]:
    """A non-empty list of names among ``valid``, each once."""
    where = f"publication.{key}"
    names = _names(pub.get(key, list(valid)), where, bad)
    wrong = [n for n in names if n not in valid]
    if wrong:
        shown = [w if len(w) <= 12 else w[:12] + "…" for w in wrong]
        bad(where, f"{key} {shown} not offered; choose among {', '.join(map(repr, valid))}, e.g. "
            f"{key} = {list(valid)!r}".replace("'", '"'))
    names = [n for n in dict.fromkeys(names) if n in valid]
    if not names and key in pub and not wrong:
        bad(where, f"name at least one of {', '.join(map(repr, valid))}, or remove {key} for all of them")
    return tuple(names) or valid


def _year(raw: Any, bad: _Bad) -> int | None:
    """The reference year: a whole number with a national CONAPO population (rates per 100,000 need it)."""
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool):
        bad("publication.year", "year must be the reference year, a whole number such as year = 2023")
        return None
    from cifranegra.report.denominators import population

    try:
        population(raw)
    except InputError as exc:
        bad("publication.year", f"{exc}; rates per 100,000 need it: choose a reference year inside that range")
        return None
    return int(raw)


def _publication_lists(raw: Any, sources: list[str], bad: _Bad) -> dict[str, dict[str, str]]:
    """[publication.lists.SOURCE] tables: a declared list's definition and period, as texts."""
    if not isinstance(raw, Mapping):
        bad("publication.lists", "lists must be tables per list, e.g. [publication.lists.FGR] with definition = "
            "\"...\" and period = \"...\"")
        return {}
    out: dict[str, dict[str, str]] = {}
    for source, info in raw.items():
        where = f"publication.lists.{source}"
        if source not in sources:
            hint = difflib.get_close_matches(str(source), sources, n=1)
            bad("publication.lists", f"list {source!r} is not one of the project's lists"
                + (f" (did you mean {hint[0]!r}?)" if hint else "") + f"; the lists are {', '.join(sources) or 'none'}")
            continue
        if not isinstance(info, Mapping):
            bad(where, f"[{where}] must be a table with definition and period")
            continue
        _unknown_keys(info, _PUBLICATION_LIST_KEYS, where, bad)
        texts = {k: _text(info.get(k), f"{where}.{k}", bad) for k in sorted(_PUBLICATION_LIST_KEYS)}
        out[str(source)] = {k: v for k, v in texts.items() if v is not None}
    return out


def _disclosure(raw: Any, bad: _Bad) -> dict[str, Any]:
    """[publication.disclosure]: the fields of DisclosurePolicy, checked by the policy itself."""
    import dataclasses

    from cifranegra.report.disclosure import DisclosurePolicy

    if not isinstance(raw, Mapping):
        bad("publication.disclosure", "disclosure must be a table: a [publication.disclosure] section with keys "
            "such as threshold = 11")
        return {}
    valid = {f.name for f in dataclasses.fields(DisclosurePolicy)}
    _unknown_keys(raw, valid, "publication.disclosure", bad)
    given = {str(k): v for k, v in raw.items() if k in valid}
    try:
        DisclosurePolicy(**given)
    except InputError as exc:
        bad("publication.disclosure", str(exc).removeprefix("disclosure policy: "))
        return {}
    return given
