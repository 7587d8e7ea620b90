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

    [linkage]                     # any key of cifranegra.linkage.LinkageSettings
    engine = "duckdb"             # or "spark"
    threshold = 0.5

    [tabulation]
    strata = ["sex"]              # any of year, sex, age_group, state, exploitation

    [estimation]
    methods = ["loglinear", "chao"]
    level = 0.95
    [estimation.options.loglinear]   # passed to cifranegra.estimation.estimate
    interval = "bootstrap"
    n_boot = 200
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cifranegra.errors import InputError, Problem, ValidationError
from cifranegra.linkage import LinkageSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    try:
        import tomli as tomllib
    except ImportError:  # pragma: no cover
        tomllib = None

STRATA = ("year", "sex", "age_group", "state", "exploitation")
_TOP_KEYS = {"name", "seed", "output", "lists", "linkage", "tabulation", "estimation", "description"}
_LIST_KEYS = {"source", "path", "mapping", "encoded", "description"}
_ESTIMATION_KEYS = {"methods", "level", "options", "linkage_sensitivity"}


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
            "linkage": self.linkage.to_dict(),
            "private_linkage": dict(self.private_linkage),
            "tabulation": {"strata": list(self.strata)},
            "estimation": {
                "methods": list(self.methods),
                "level": self.level,
                "options": {k: dict(v) for k, v in self.method_options.items()},
                "linkage_sensitivity": list(self.linkage_sensitivity),
            },
            "path": str(self.path) if self.path else None,
        }


def load_project(path: str | Path, *, check_files: bool = True) -> Project:
    """Read and validate a project file; every problem is reported at once
    (:class:`~cifranegra.errors.ValidationError`)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: the project file does not exist; check the path (try `cifranegra demo`)")
    if tomllib is None:  # pragma: no cover
        raise InputError("reading project files on Python 3.10 needs tomli: pip install tomli")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: the project file cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{p}: the project file is not valid TOML ({exc})") from None
    return project_from_dict(data, base=p.parent, file=str(p), check_files=check_files)


def project_from_dict(
    data: Mapping[str, Any], *, base: Path | None = None, file: str | None = None, check_files: bool = True
) -> Project:
    """A :class:`Project` from a parsed project file; relative paths resolve against ``base``."""
    base = base or Path.cwd()
    problems: list[Problem] = []

    def bad(column: str | None, message: str, code: str = "project") -> None:
        problems.append(Problem(file, None, column, "error", code, message))

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        bad(None, f"unknown key(s) {unknown}; valid keys are {', '.join(sorted(_TOP_KEYS))}")
    name = str(data.get("name", "cifranegra-project"))
    seed = data.get("seed", 20240601)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        bad("seed", f"seed must be a non-negative integer, not {seed!r}")
        seed = 0
    raw_lists = data.get("lists", [])
    if not isinstance(raw_lists, list) or not raw_lists:
        bad("lists", "the project names no agency lists; add one [[lists]] table per agency file")
        raw_lists = []
    lists: list[ListSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw_lists, start=1):
        where = f"lists[{i}]"
        if not isinstance(item, Mapping):
            bad(where, "each [[lists]] entry must be a table with source and path")
            continue
        extra = sorted(set(item) - _LIST_KEYS)
        if extra:
            bad(where, f"unknown key(s) {extra}; valid keys are {', '.join(sorted(_LIST_KEYS))}")
        source = item.get("source")
        if not source or not isinstance(source, str):
            bad(f"{where}.source", "every list needs a source (the agency id), e.g. source = \"FGR\"")
            source = f"list{i}"
        if source in seen:
            bad(f"{where}.source", f"source {source!r} appears twice; each list needs its own id")
        seen.add(source)
        raw_path = item.get("path")
        if not raw_path or not isinstance(raw_path, str):
            bad(f"{where}.path", f"list {source!r} has no path to its file")
            continue
        fpath = (base / raw_path).resolve() if not Path(raw_path).is_absolute() else Path(raw_path)
        if check_files and not fpath.exists():
            bad(f"{where}.path", f"list {source!r}: file {fpath} does not exist; check the path "
                "(relative paths are read from the project file's folder)", code="missing_file")
        mapping: Path | dict[str, Any] | None = None
        raw_map = item.get("mapping")
        if isinstance(raw_map, str):
            mapping = (base / raw_map).resolve() if not Path(raw_map).is_absolute() else Path(raw_map)
            if check_files and not mapping.exists():
                bad(f"{where}.mapping", f"list {source!r}: mapping file {mapping} does not exist",
                    code="missing_file")
        elif isinstance(raw_map, Mapping):
            mapping = dict(raw_map)
        elif raw_map is not None:
            bad(f"{where}.mapping", "mapping must be a file path or an inline table")
        encoded = item.get("encoded", False)
        if not isinstance(encoded, bool):
            bad(f"{where}.encoded", "encoded must be true or false")
            encoded = False
        lists.append(ListSpec(source=source, path=fpath, mapping=mapping, encoded=encoded))
    if lists and len({s.encoded for s in lists}) > 1:
        enc = [s.source for s in lists if s.encoded]
        bad("lists", f"lists {enc} are encoded and the others are not; encoded lists can only be linked "
            "to encoded lists: encode every list with the same secret (`cifranegra encode`) or none")

    link_raw = dict(data.get("linkage", {}) or {})
    private = link_raw.pop("private", {}) or {}
    try:
        linkage = LinkageSettings.from_dict({"seed": seed, **link_raw})
    except InputError as exc:
        bad("linkage", str(exc))
        linkage = LinkageSettings()

    tab = data.get("tabulation", {}) or {}
    strata = tab.get("strata", [])
    if isinstance(strata, str):
        strata = [strata]
    wrong = [s for s in strata if s not in STRATA]
    if wrong:
        bad("tabulation.strata", f"unknown stratum column(s) {wrong}; choose among {', '.join(STRATA)}")
        strata = [s for s in strata if s in STRATA]

    est = data.get("estimation", {}) or {}
    stray_keys = sorted(set(est) - _ESTIMATION_KEYS)
    if stray_keys:
        bad("estimation", f"unknown key(s) {stray_keys}; valid keys are {', '.join(sorted(_ESTIMATION_KEYS))}")
    sens = est.get("linkage_sensitivity", list(Project.linkage_sensitivity))
    if not isinstance(sens, list) or not all(
        isinstance(t, (int, float)) and not isinstance(t, bool) and 0.5 <= float(t) < 1 for t in sens
    ):
        bad("estimation.linkage_sensitivity", f"linkage_sensitivity must be a list of match-probability "
            f"thresholds from 0.5 up to (not including) 1, such as [0.8, 0.9, 0.95], or [] for none; got {sens!r}")
        sens = []
    methods = est.get("methods", ["loglinear"])
    if isinstance(methods, str):
        methods = [methods]
    if not methods:
        bad("estimation.methods", "name at least one estimation method, e.g. methods = [\"loglinear\"]")
    level = est.get("level", 0.95)
    if not isinstance(level, (int, float)) or not 0 < float(level) < 1:
        bad("estimation.level", f"level must be a probability such as 0.95, not {level!r}")
        level = 0.95
    options = est.get("options", {}) or {}
    if not isinstance(options, Mapping) or not all(isinstance(v, Mapping) for v in options.values()):
        bad("estimation.options", "options must be tables per method, e.g. [estimation.options.loglinear]")
        options = {}
    stray = sorted(set(options) - set(methods))
    if stray:
        bad("estimation.options", f"options given for method(s) {stray} that are not in methods")

    output = Path(str(data.get("output", "results")))
    if not output.is_absolute():
        output = base / output
    if problems:
        raise ValidationError(problems=problems, summary=f"{file or 'the project'}: the project file has problems")
    return Project(
        name=name,
        lists=tuple(lists),
        linkage=linkage,
        strata=tuple(strata),
        methods=tuple(str(m) for m in methods),
        method_options={k: dict(v) for k, v in options.items()},
        level=float(level),
        seed=int(seed),
        output=output,
        private_linkage=dict(private),
        path=Path(file) if file else None,
        linkage_sensitivity=tuple(sorted({float(t) for t in sens})),
    )
