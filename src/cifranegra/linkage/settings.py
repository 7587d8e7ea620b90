"""Settings of a plaintext linkage run: plain data, validated at once, round-tripped through JSON.

The settings name *what* to do (engine, threshold, seed, training budget, blocking); the Splink
comparisons they select are built in :mod:`cifranegra.linkage.comparisons`. Every run stores the
settings it used (and the trained Splink model) so that a published estimate can be re-run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import PurePath
from typing import Any

from cifranegra.errors import InputError

ENGINES = ("duckdb", "spark")

#: Comparisons available for Mexican records (name → which record columns they use).
COMPARISONS: dict[str, tuple[str, ...]] = {
    "given_names": ("given_names",),
    "surnames": ("first_surname", "second_surname"),
    "curp": ("curp",),
    "birth_date": ("birth_date", "birth_year"),
    "sex": ("sex",),
    "state": ("state",),
}

#: Default blocking rules: each is a tuple of prepared columns that must agree exactly; ``"a~b"``
#: means column a of one record equals column b of the other (either way round: swapped surnames).
#: ``*_sound`` columns are Spanish phonetic keys (B/V, S/Z/C, LL/Y, silent H...), and
#: ``birth_year_lo`` / ``birth_year_hi`` the birth years a record allows (the year itself, or the
#: two years its age at registration allows), so that lists with ages but no birth dates are
#: blocked on a year too. Together they keep about 99.9% of true pairs on the synthetic Mexican
#: lists and 99.5% when records carry twice the default errors (bench/bench_linkage.py blocking;
#: see docs/linkage.md).
DEFAULT_BLOCKING: tuple[tuple[str, ...], ...] = (
    ("curp",),
    ("curp10",),
    ("surname_sound_set",),
    ("given1", "surname1", "birth_year_lo"),
    ("given1", "surname1", "birth_year_hi"),
    ("given1", "birth_date"),
    ("surname1", "birth_date"),
    ("surname2", "birth_date"),
    ("given_sound", "surname1_sound"),
    ("given_sound", "surname2_sound"),
    ("given_sound", "surname1_sound~surname2_sound"),
    ("given_sound", "birth_year_lo", "state"),
    ("given_sound", "birth_year_hi", "state"),
    ("surname1_sound", "birth_year_lo", "state"),
    ("surname1_sound", "birth_year_hi", "state"),
    ("birth_date", "state"),
)

#: Blocking for large lists (about 500,000 records and more): every rule also fixes a birth year, a
#: birth date, a state or a CURP (or a given name with both surnames), so blocks stay small; names
#: are compared through their phonetic keys, and ``initials`` (first letters of the given name and
#: first surname, which typos seldom touch) stand in for a name that carries a typo. About 99.8% of
#: true pairs kept on the synthetic lists (99.2% with the first version of this preset), 99% with
#: twice the default errors; about 0.25 M pairs on 100,000 records and 19 M on 1,000,000
#: (bench/bench_linkage.py blocking --pairs).
LARGE_BLOCKING: tuple[tuple[str, ...], ...] = (
    ("curp",),
    ("curp10",),
    ("surname_sound_set", "birth_year_lo"),
    ("surname_sound_set", "birth_year_hi"),
    ("given_sound", "surname_sound_set"),
    ("given1", "surname1", "birth_year_lo"),
    ("given1", "surname1", "birth_year_hi"),
    ("given1", "birth_date"),
    ("surname1", "birth_date"),
    ("surname2", "birth_date"),
    ("given_sound", "surname2_sound", "birth_year_lo"),
    ("given_sound", "surname2_sound", "birth_year_hi"),
    ("given_sound", "surname1_sound~surname2_sound", "birth_year_lo"),
    ("given_sound", "surname1_sound~surname2_sound", "birth_year_hi"),
    ("given_sound", "surname1_sound", "state"),
    ("given_sound", "initials", "state", "birth_year_lo"),
    ("given_sound", "initials", "state", "birth_year_hi"),
    ("surname1_sound", "initials", "state", "birth_year_lo"),
    ("surname1_sound", "initials", "state", "birth_year_hi"),
    ("surname_sound_set", "initials", "state"),
    ("birth_date", "state"),
)

#: Columns a blocking rule may use (they are derived by :func:`~cifranegra.linkage.prepare.prepare_records`).
BLOCKING_COLUMNS = frozenset(
    {
        "curp",
        "curp10",
        "given",
        "given1",
        "given_key",
        "given_sound",
        "initials",
        "surname1",
        "surname2",
        "surname_set",
        "surnames_full",
        "surname1_sound",
        "surname2_sound",
        "surname_sound_set",
        "birth_date",
        "birth_year",
        "birth_year_lo",
        "birth_year_hi",
        "sex",
        "state",
    }
)


def _blocking_from_value(rules: Any) -> tuple[tuple[str, ...], ...]:
    """Blocking rules from a project file's value: a preset name or a list of rules (each a column
    name or a list of them)."""
    if isinstance(rules, str):
        presets = {"default": DEFAULT_BLOCKING, "large": LARGE_BLOCKING}
        if rules not in presets:
            raise InputError(f"blocking = {rules!r} is not a preset; use 'default', 'large' or a list of rules")
        return presets[rules]
    if not isinstance(rules, (list, tuple)) or not all(isinstance(r, (str, list, tuple)) for r in rules):
        raise InputError(
            "blocking must be 'default', 'large' or a list of rules, each a list of columns "
            f"such as [['curp'], ['given1', 'birth_date']]; got {rules!r}"
        )
    return tuple((str(r),) if isinstance(r, str) else tuple(str(c) for c in r) for r in rules)


@dataclass(frozen=True)
class LinkageSettings:
    """How to link agency lists with Splink (Fellegi–Sunter model, EM-trained).

    Parameters
    ----------
    engine:
        ``"duckdb"`` (in-process, default) or ``"spark"`` (pyspark, local or a cluster session).
    threshold:
        Match probability at or above which two records are joined into one person
        (connected components of the pairs above it). 0.5, the Bayes decision point, balances missed
        and false links, which is what keeps N-hat unbiased (bench/bench_linkage.py bias: +0.9%
        at 0.5 against +1.3% at 0.9 with the default error rates, +8% against +15% at double).
    seed:
        Seed of the random sampling that estimates the u probabilities; with the same data and seed
        the trained model and the clusters are the same.
    max_pairs_u:
        Record pairs sampled to estimate the u probabilities.
    em_max_pairs:
        At most about this many blocked pairs enter each EM session (a deterministic hash sample;
        Splink's ``max_pairs``): keeps training time flat on large lists.
    comparisons:
        Which comparisons of :data:`COMPARISONS` to use (absent columns are dropped automatically).
    blocking:
        Blocking rules for prediction; each is a list of prepared columns that must agree. In a
        project file also the presets ``"default"`` (:data:`DEFAULT_BLOCKING`) and ``"large"``
        (:data:`LARGE_BLOCKING`, for lists of about 500,000 records and more).
    term_frequency:
        Adjust name, surname and state agreement for how common the value is
        (``HERNANDEZ`` agreeing is weaker evidence than ``ZAMUDIO``).
    prior_recall:
        Assumed recall of the deterministic rules used to estimate the prior match probability.
    em_max_iterations, em_convergence:
        Expectation–maximisation controls.
    m_floor:
        Smallest m probability an agreement level keeps after training (then each comparison's m
        are renormalized): additive smoothing, so that EM cannot conclude that true matches never
        show, say, a one-character typo in the birth date (a Bayes factor of 10^-19 that vetoes
        every such match). On lists with three times the default recording errors one EM run in
        three did exactly that and linked only 55% of true pairs (N-hat +170%); the floor alone
        brought that run to 90% (the change of EM block in ``training_plan`` to 98.5%;
        docs/linkage.md). 0 turns it off.
    max_blocked_pairs:
        At most this many candidate pairs, summed over the blocking rules and counted before any
        engine starts; more is refused with the rule that makes them (usually a placeholder value
        that many records share, such as an unknown birth date written as a date).
    work_dir:
        Folder in which each linkage makes its private working folder (mode 0700, removed at the
        end, also on failure) for the engines' temporary files: DuckDB's spill files, Spark's
        checkpoints, shuffle files and warehouse. ``None``: the system temporary folder.
    spark_master:
        Spark master URL used when ``engine = "spark"`` and no session is given (``local[*]``).
    keep_pairs_above:
        Scored pairs with match probability at or above this are kept in the result (the evidence
        that multiple imputation of the linkage draws from; docs/linkage.md, 'Linkage uncertainty'),
        not only those at or above the threshold. Between 0 and the threshold; default 0.01.
    """

    engine: str = "duckdb"
    threshold: float = 0.5
    seed: int = 20240601
    max_pairs_u: float = 1e6
    em_max_pairs: float = 2e6
    comparisons: tuple[str, ...] = tuple(COMPARISONS)
    blocking: tuple[tuple[str, ...], ...] = DEFAULT_BLOCKING
    term_frequency: bool = True
    prior_recall: float = 0.8
    em_max_iterations: int = 25
    em_convergence: float = 1e-4
    m_floor: float = 1e-3
    max_blocked_pairs: float = 1e9
    work_dir: str | None = None
    spark_master: str = "local[*]"
    keep_pairs_above: float = 0.01
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems: list[str] = []

        def number(name: str, ok: Any, expect: str) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                problems.append(f"{name} must be a number {expect}, not {value!r}")
            elif not ok(float(value)):
                problems.append(f"{name} must be {expect}, not {value!r}")

        if self.engine not in ENGINES:
            problems.append(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        number("threshold", lambda v: 0.0 < v < 1.0, "strictly between 0 and 1 (a probability)")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            problems.append(f"seed must be a non-negative integer, not {self.seed!r}")
        for name in ("max_pairs_u", "em_max_pairs", "max_blocked_pairs"):
            number(name, lambda v: 1e3 <= v < float("inf"), "of at least 1000")
        unknown = [c for c in self.comparisons if c not in COMPARISONS]
        if unknown:
            problems.append(f"unknown comparison(s) {unknown}; choose among {', '.join(COMPARISONS)}")
        if not self.comparisons:
            problems.append("at least one comparison is needed")
        if not self.blocking:
            problems.append("at least one blocking rule is needed")
        for rule in self.blocking:
            bad = [c for part in rule for c in part.split("~") if c not in BLOCKING_COLUMNS]
            if bad or not rule:
                problems.append(
                    f"blocking rule {list(rule)} uses unknown column(s) {bad}; "
                    f"choose among {', '.join(sorted(BLOCKING_COLUMNS))}"
                )
        if not isinstance(self.term_frequency, bool):
            problems.append(f"term_frequency must be true or false, not {self.term_frequency!r}")
        number("prior_recall", lambda v: 0.0 < v <= 1.0, "in (0, 1]")
        number("em_max_iterations", lambda v: v >= 1 and v == int(v), "a whole number of at least 1")
        number("em_convergence", lambda v: 0.0 < v < 1.0, "between 0 and 1")
        number("m_floor", lambda v: 0.0 <= v < 0.05, "at least 0 and below 0.05 (a smoothing floor)")
        if self.work_dir is not None and (
            not isinstance(self.work_dir, str) or not self.work_dir.strip() or "\0" in self.work_dir
        ):
            problems.append(f"work_dir must be the path of a folder (text), not {self.work_dir!r}")
        if not isinstance(self.spark_master, str) or not self.spark_master:
            problems.append(f"spark_master must be a Spark master URL such as 'local[*]', not {self.spark_master!r}")
        number("keep_pairs_above", lambda v: 0.0 < v <= 0.5, "above 0 and at most 0.5 (a probability)")
        if not isinstance(self.extra, Mapping):
            problems.append(f"extra must be a table of engine options, not {self.extra!r}")
        if problems:
            raise InputError("invalid linkage settings:\n  - " + "\n  - ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        d = asdict(self)
        d["comparisons"] = list(self.comparisons)
        d["blocking"] = [list(r) for r in self.blocking]
        d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LinkageSettings:
        """Settings from a dict (a project file's ``[linkage]`` table); unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise InputError(f"unknown linkage setting(s) {unknown}; valid keys are {', '.join(sorted(names))}")
        kw: dict[str, Any] = dict(d)
        early: list[str] = []  # problems found while converting, reported with the rest
        if "comparisons" in kw:
            comps = kw["comparisons"]
            if not isinstance(comps, (list, tuple)):
                early.append(f"comparisons must be a list of names such as ['curp', 'surnames'], not {comps!r}")
                del kw["comparisons"]
            else:
                kw["comparisons"] = tuple(str(c) for c in comps)
        if "blocking" in kw:
            try:
                kw["blocking"] = _blocking_from_value(kw["blocking"])
            except InputError as exc:
                early.append(str(exc))
                del kw["blocking"]
        for name in ("threshold", "keep_pairs_above"):
            if isinstance(kw.get(name), str):
                with contextlib.suppress(ValueError):
                    kw[name] = float(kw[name])
        if "extra" in kw and isinstance(kw["extra"], Mapping):
            kw["extra"] = dict(kw["extra"])
        if isinstance(kw.get("work_dir"), PurePath):
            kw["work_dir"] = str(kw["work_dir"])
        try:
            settings = cls(**kw)
        except InputError as exc:
            if not early:
                raise
            rest = str(exc).removeprefix("invalid linkage settings:\n  - ").split("\n  - ")
            raise InputError("invalid linkage settings:\n  - " + "\n  - ".join([*early, *rest])) from None
        if early:
            raise InputError("invalid linkage settings:\n  - " + "\n  - ".join(early))
        return settings
