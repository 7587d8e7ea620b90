"""Linkage uncertainty: calibrate the pair probabilities and draw M plausible linkages from them.

A single linkage at a threshold hides how unsure it is: a missed link makes one victim two people,
a false link makes two people one. Multiple imputation of the linkage (Rubin 1987; Sadinle 2018,
Annals of Applied Statistics 12:1013–1038, for El Salvador) draws M linkages from the scored pairs;
each is tabulated and estimated, and :mod:`cifranegra.estimation.combine` combines the M estimates
so that the interval includes the linkage's uncertainty. See docs/linkage.md, 'Linkage uncertainty'.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cifranegra._random import as_seed_sequence
from cifranegra.errors import InputError
from cifranegra.linkage.uncertainty.calibration import (
    Calibration,
    WithinListCalibration,
    _expit,
    bootstrap_within_lists,
    brier_score,
    calibrate,
    calibrate_within_lists,
    pair_truth_labels,
    reliability_table,
)
from cifranegra.linkage.uncertainty.samplers import (
    PRIORS,
    GibbsOptions,
    LinkTargets,
    PairGraph,
    _logit,
    beta_log_prior,
    links_to_persons,
    pair_graph,
    renumber,
    sample_components,
    sample_gibbs,
)

if TYPE_CHECKING:
    from cifranegra.linkage.link import LinkageResult

SAMPLERS = ("gibbs", "components")
CALIBRATIONS = ("within-lists", "none")

__all__ = [
    "CALIBRATIONS",
    "PRIORS",
    "SAMPLERS",
    "Calibration",
    "GibbsOptions",
    "ImputationSettings",
    "LinkTargets",
    "LinkageImputations",
    "PairGraph",
    "ScoredLinkage",
    "WithinListCalibration",
    "beta_log_prior",
    "brier_score",
    "calibrate",
    "calibrate_within_lists",
    "impute_linkage",
    "links_to_persons",
    "pair_graph",
    "pair_truth_labels",
    "reliability_table",
    "renumber",
    "sample_components",
    "sample_gibbs",
]


@dataclass(frozen=True)
class ImputationSettings:
    """How to impute the linkage.

    ``n_imputations``: M, the number of linkages drawn. ``sampler``: ``"gibbs"`` (default) or
    ``"components"`` (independent pair draws; faster, and over-links chains of weak pairs).
    ``lists_deduplicated``: each list holds a person at most once (then no two records of one list
    are linked, and the Gibbs sampler uses the beta prior, Sadinle's for two lists); otherwise the
    pairwise prior, under which duplicates within a list can be linked. ``alpha``, ``beta``,
    ``burn_in``, ``thin``: see :class:`GibbsOptions`. ``calibration``: ``"within-lists"`` (default)
    recalibrates the pair probabilities from the lists' own within-list pairs
    (:func:`calibrate_within_lists`), draws its parameters anew for each imputation and matches the
    amount of linking to it (:class:`LinkTargets`); ``"none"`` uses the linkage model's probabilities
    as they are (over-confident where names are common).
    """

    n_imputations: int = 20
    sampler: str = "gibbs"
    lists_deduplicated: bool = False
    calibration: str = "within-lists"
    alpha: float = 1.0
    beta: float = 1.0
    burn_in: int = 10
    thin: int = 2

    def __post_init__(self) -> None:
        problems = []
        m = self.n_imputations
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 2 <= int(m) <= 10_000:
            problems.append(f"n_imputations must be a whole number from 2 to 10000, not {m!r}")
        if self.sampler not in SAMPLERS:
            problems.append(f"sampler must be one of {', '.join(SAMPLERS)}, not {self.sampler!r}")
        if self.calibration not in CALIBRATIONS:
            problems.append(f"calibration must be one of {', '.join(CALIBRATIONS)}, not {self.calibration!r}")
        if not isinstance(self.lists_deduplicated, bool):
            problems.append(f"lists_deduplicated must be true or false, not {self.lists_deduplicated!r}")
        if problems:
            raise InputError("invalid linkage imputation settings:\n  - " + "\n  - ".join(problems))
        self.gibbs_options(0.5)  # validates alpha, beta, burn_in, thin

    def gibbs_options(self, prior_match_probability: float | None) -> GibbsOptions:
        return GibbsOptions(
            prior="beta" if self.lists_deduplicated else "pairwise",
            prior_match_probability=prior_match_probability,
            alpha=self.alpha,
            beta=self.beta,
            burn_in=self.burn_in,
            thin=self.thin,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_imputations": int(self.n_imputations),
            "sampler": self.sampler,
            "lists_deduplicated": self.lists_deduplicated,
            "calibration": self.calibration,
            "alpha": self.alpha,
            "beta": self.beta,
            "burn_in": self.burn_in,
            "thin": self.thin,
        }


@dataclass(frozen=True, eq=False)
class ScoredLinkage:
    """A linkage other than Splink's, with its evidence: what :func:`impute_linkage` needs.

    ``entities``: the linkage's entities table (``source``, ``record_id``, ``entity_id``, strata);
    ``pairs``: scored pairs (``source_l``, ``record_id_l``, ``source_r``, ``record_id_r``,
    ``match_probability``) down to ``floor``; ``prior_match_probability``: λ for the beta prior
    (None: estimated from the pairs); ``method``: what linked (reported). Private linkage returns
    one (:func:`cifranegra.linkage.private.link_encoded_scored`). ``calibration``: a truth-sample
    calibration to use when :func:`impute_linkage` is given none (a run's simulated truth sample),
    with ``calibration_info`` saying what it was fitted on.
    """

    entities: pd.DataFrame
    pairs: pd.DataFrame
    floor: float
    prior_match_probability: float | None = None
    method: str = ""
    calibration: Calibration | None = None
    calibration_info: dict[str, Any] | None = None


@dataclass(frozen=True, eq=False)
class LinkageImputations:
    """M plausible linkages of the same records.

    ``records``: one row per record (``source``, ``record_id`` and the stratum columns), the order
    of the linkage's entities table. ``assignments``: ``(M, n_records)`` int64 person ids, row m
    the m-th imputed linkage. ``settings`` and ``diagnostics`` are JSON-ready.
    """

    records: pd.DataFrame
    assignments: np.ndarray
    settings: Mapping[str, Any] = field(default_factory=dict)
    diagnostics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_imputations(self) -> int:
        return int(self.assignments.shape[0])

    def entities(self, m: int) -> pd.DataFrame:
        """The m-th imputed linkage as an entities table (``entity_id`` added to the records)."""
        if not 0 <= m < self.n_imputations:
            raise InputError(f"imputation {m} does not exist; there are {self.n_imputations}")
        out = self.records.copy()
        out.insert(2, "entity_id", self.assignments[m])
        return out

    def persons(self) -> np.ndarray:
        """Number of distinct persons in each imputed linkage."""
        return np.array([np.unique(row).size for row in self.assignments], dtype=np.int64)


def _calibration_score(records: pd.DataFrame, pairs: pd.DataFrame, graph: PairGraph, logits: np.ndarray) -> np.ndarray:
    """The score the within-list calibration maps: the model's log-odds, or, for private linkage's
    pairs, their Dice similarity (standardized). The Dice mixture's posterior saturates: on the
    simulator's lists most true links and over a thousand non-links score above 0.99, its log-odds
    clipped alike, so a calibration of them cannot tell the two apart and links too little (13% fewer
    links than the lists hold, N̂ up to 50% high on 5,000 victims, bench/bench_private_nhat.py);
    Dice itself keeps the order (the same calibration then finds 2,050 links of 2,130, and the lists'
    84 duplicate pairs of 83)."""
    if "dice" not in pairs.columns:
        return logits
    dice = pairs["dice"].to_numpy(float)
    if not np.all(np.isfinite(dice)):
        return logits
    by_dice = pair_graph(records, pairs.assign(match_probability=np.clip(dice, 0.0, 1.0)))
    if not (np.array_equal(by_dice.left, graph.left) and np.array_equal(by_dice.right, graph.right)):
        return logits  # pairs given twice with another order of scores: keep the model's log-odds
    d = by_dice.probability
    sd = float(d.std())
    return (d - float(d.mean())) / sd if sd > 0 else logits


def _check_plausible(graph: PairGraph, expected: float) -> None:
    """Refuse pair probabilities that expect more between-list links than the lists can hold.

    With each person at most once per list, two lists of ``n_a`` and ``n_b`` records share at most
    ``min(n_a, n_b)`` links; probabilities summing far beyond that (a score mixture that fell back to
    its default curve, a calibration fitted on a flat likelihood) would merge most records into a few
    persons and give a number of victims far below the people seen (private linkage, simulator seed 3:
    782,000 links expected among 4,554 records, N̂ 84% below the true linkage's)."""
    sizes = np.bincount(graph.list_index, minlength=len(graph.lists)).astype(float)
    bound = sum(min(sizes[a], sizes[b]) for a in range(len(sizes)) for b in range(a + 1, len(sizes)))
    if expected > bound:
        raise InputError(
            f"the pair probabilities expect {expected:,.0f} links between lists, more than the {bound:,.0f} "
            f"these lists can hold ({int(sizes.sum()):,} records in {len(sizes)} lists, each person at most "
            "once per list): they cannot be used to draw linkages. Keep the single linkage, or calibrate the "
            "probabilities on a reviewed sample"
        )


def impute_linkage(
    result: LinkageResult | ScoredLinkage,
    settings: ImputationSettings | None = None,
    *,
    seed: object = None,
    calibration: Calibration | None = None,
) -> LinkageImputations:
    """Draw ``settings.n_imputations`` linkages from the pairs a linkage kept.

    With ``calibration`` (fitted on match weights, or on private linkage's Dice scores, from a
    reviewed or simulated truth sample, :func:`calibrate`), pair probabilities are recalibrated from
    the pairs' ``match_weight`` (or ``dice``: the calibration's ``score``);
    otherwise, with ``settings.calibration == "within-lists"``, from the lists' own within-list pairs
    (:func:`calibrate_within_lists`; its parameters drawn anew for each imputation, so that the
    calibration's own uncertainty is in the between-imputation variance). Either way the Gibbs
    sampler matches the amount of linking to the calibrated probabilities (:class:`LinkTargets`).
    Where the within-list calibration cannot be fitted (too few within-list pairs, a flat
    likelihood), the model's probabilities are used as they are and ``diagnostics["calibration"]``
    says why. Raises :class:`InputError` when the (calibrated) probabilities expect more between-list
    links than the lists can hold (:func:`_check_plausible`). Two records whose pair was not kept
    (below ``keep_pairs_above``, or never blocked) are never one person; the prior match
    probability (for the beta prior) comes from the trained model.
    ``result`` may also be a :class:`ScoredLinkage` (private linkage's Dice probabilities).
    """
    settings = settings or ImputationSettings()
    records = result.entities.drop(columns=["entity_id", "match_probability"], errors="ignore").reset_index(drop=True)
    pairs = result.pairs
    if isinstance(result, ScoredLinkage):
        floor, lam = float(result.floor), result.prior_match_probability
    else:
        floor = min(float(result.settings.threshold), float(result.settings.keep_pairs_above))
        lam = result.model.get("probability_two_random_records_match") if result.model else None
    dropped = 0
    about: dict[str, Any] = {}
    if calibration is None and isinstance(result, ScoredLinkage) and result.calibration is not None:
        calibration, about = result.calibration, dict(result.calibration_info or {})
    if calibration is not None:
        column = calibration.score
        if column not in pairs.columns:
            has = "Dice similarity" if "dice" in pairs.columns else "match weights"
            raise InputError(
                f"this truth-sample calibration maps {column.replace('_', ' ')}s, and these pairs have none (they "
                f"carry {has}): fit it on the pairs' own score, calibrate(scores, labels, "
                f"score={'dice' if 'dice' in pairs.columns else 'match_weight'!r})"
            )
        scores = pairs[column].to_numpy(float)
        if column == "match_weight":
            scores = np.where(np.isnan(scores), np.inf, scores)
        calibrated = calibration.predict(scores, within=(pairs["source_l"] == pairs["source_r"]).to_numpy())
        # the linkage keeps pairs down to a probability (the floor); recalibrated, a pair below it is
        # not kept either: hundreds of thousands of Dice pairs at the calibration's clip would
        # otherwise add tens of links between random records to the amount of linking
        kept = calibrated >= floor
        dropped = int((~kept).sum())
        pairs = pairs.assign(match_probability=calibrated)[kept]
    graph = pair_graph(records, pairs)
    if settings.lists_deduplicated and settings.sampler == "gibbs" and lam is None:
        n = graph.n_records
        lam = max(float(graph.probability.sum()) / max(n * (n - 1) / 2, 1.0), 1e-9)
    m = int(settings.n_imputations)
    between = graph.list_index[graph.left] != graph.list_index[graph.right]
    x = _logit(graph.probability)
    cal_info: dict[str, Any]
    targets: LinkTargets | None = None
    if calibration is not None:
        cal_info = {"method": "truth sample", "score": calibration.score, "pairs": calibration.n_pairs,
                    "pairs_dropped_below_floor": dropped, **about}
        fixed = x.copy()
        targets = LinkTargets(lambda _m: fixed, np.full(m, float(graph.probability[between].sum())))
    elif settings.calibration == "within-lists":
        x = _calibration_score(records, pairs, graph, x)
        sizes = np.bincount(graph.list_index, minlength=len(graph.lists)).astype(float)
        try:
            fit = calibrate_within_lists(
                x, ~between,
                opportunities_within=float(np.sum(sizes * (sizes - 1) / 2)),
                opportunities_between=float((sizes.sum() ** 2 - np.sum(sizes**2)) / 2),
            )
        except InputError as exc:
            cal_info = {"method": "none", "reason": str(exc)}
        else:
            theta_seq, seed = as_seed_sequence(seed).spawn(2)  # type: ignore[arg-type]
            boot = bootstrap_within_lists(fit, x, ~between, m - 1, np.random.default_rng(theta_seq))
            thetas = np.vstack([fit.theta, boot])
            targets = LinkTargets(
                lambda j: _logit(fit.probabilities(x, ~between, thetas[j])),
                np.array([float(fit.probabilities(x[between], False, t).sum()) for t in thetas]),
            )
            cal_info = {**fit.to_dict(), "expected_between_links": float(targets.targets.mean()),
                        "expected_between_links_sd": float(targets.targets.std(ddof=1)),
                        "model_between_links": float(graph.probability[between].sum())}
    else:
        cal_info = {"method": "none", "reason": "turned off (calibration = \"none\")"}
    _check_plausible(graph, float(cal_info.get("expected_between_links", graph.probability[between].sum())))
    trace: dict[str, list[float]] = {}
    if targets is not None and (settings.sampler == "components" or settings.lists_deduplicated):
        # independent pair draws, or the beta prior (which has its own prior on the number of links):
        # the calibrated probabilities at the fitted parameters, without moment matching
        if calibration is None:
            graph = dataclasses.replace(graph, probability=_expit(targets.logits_for(0)))
        cal_info["moment_matching"] = False
        targets = None
    if settings.sampler == "components":
        draws = sample_components(graph, m, seed, deduplicated=settings.lists_deduplicated)
    else:
        draws = sample_gibbs(
            graph, m, seed, deduplicated=settings.lists_deduplicated, options=settings.gibbs_options(lam),
            targets=targets, trace=trace,
        )
    if trace:
        cal_info["between_links_mean"] = float(np.mean(trace["between_links"]))
        cal_info["shift_mean"] = float(np.mean(trace["shift"]))
    persons = np.array([np.unique(row).size for row in draws])
    diagnostics = {
        "pairs_used": int(graph.probability.size),
        "pairs_kept_above": floor,
        "prior_match_probability": None if lam is None else float(lam),
        "persons_mean": float(persons.mean()),
        "persons_min": int(persons.min()),
        "persons_max": int(persons.max()),
        "persons_at_threshold": int(result.entities["entity_id"].nunique()),
        "calibrated": cal_info["method"] != "none",
        "calibration": cal_info,
    }
    return LinkageImputations(records, draws, settings.to_dict(), diagnostics)
