"""Linkage uncertainty: calibrate the pair probabilities and draw M plausible linkages from them.

A single linkage at a threshold hides how unsure it is: a missed link makes one victim two people,
a false link makes two people one. Multiple imputation of the linkage (Rubin 1987; Sadinle 2018,
Annals of Applied Statistics 12:1013–1038, for El Salvador) draws M linkages from the scored pairs;
each is tabulated and estimated, and :mod:`cifranegra.estimation.combine` combines the M estimates
so that the interval includes the linkage's uncertainty. See docs/linkage.md, 'Linkage uncertainty'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cifranegra.errors import InputError
from cifranegra.linkage.uncertainty.calibration import (
    Calibration,
    brier_score,
    calibrate,
    pair_truth_labels,
    reliability_table,
)
from cifranegra.linkage.uncertainty.samplers import (
    PRIORS,
    GibbsOptions,
    PairGraph,
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

__all__ = [
    "PRIORS",
    "SAMPLERS",
    "Calibration",
    "GibbsOptions",
    "ImputationSettings",
    "LinkageImputations",
    "PairGraph",
    "beta_log_prior",
    "brier_score",
    "calibrate",
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
    ``burn_in``, ``thin``: see :class:`GibbsOptions`.
    """

    n_imputations: int = 20
    sampler: str = "gibbs"
    lists_deduplicated: bool = False
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
            "alpha": self.alpha,
            "beta": self.beta,
            "burn_in": self.burn_in,
            "thin": self.thin,
        }


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


def impute_linkage(
    result: LinkageResult,
    settings: ImputationSettings | None = None,
    *,
    seed: object = None,
    calibration: Calibration | None = None,
) -> LinkageImputations:
    """Draw ``settings.n_imputations`` linkages from the pairs a linkage kept.

    With ``calibration`` (fitted on match weights, :func:`calibrate`), pair probabilities are
    recalibrated from the pairs' ``match_weight`` first. Two records whose pair was not kept (below
    ``keep_pairs_above``, or never blocked) are never one person; the prior match probability (for
    the beta prior) comes from the trained model.
    """
    settings = settings or ImputationSettings()
    records = result.entities.drop(columns=["entity_id", "match_probability"], errors="ignore").reset_index(drop=True)
    pairs = result.pairs
    if calibration is not None:
        weights = pairs["match_weight"].fillna(np.inf).to_numpy(float)
        pairs = pairs.assign(match_probability=calibration.predict(weights))
    floor = min(float(result.settings.threshold), float(result.settings.keep_pairs_above))
    graph = pair_graph(records, pairs)
    lam = result.model.get("probability_two_random_records_match") if result.model else None
    if settings.lists_deduplicated and settings.sampler == "gibbs" and lam is None:
        n = graph.n_records
        lam = max(float(graph.probability.sum()) / max(n * (n - 1) / 2, 1.0), 1e-9)
    m = int(settings.n_imputations)
    if settings.sampler == "components":
        draws = sample_components(graph, m, seed, deduplicated=settings.lists_deduplicated)
    else:
        draws = sample_gibbs(
            graph, m, seed, deduplicated=settings.lists_deduplicated, options=settings.gibbs_options(lam)
        )
    persons = np.array([np.unique(row).size for row in draws])
    diagnostics = {
        "pairs_used": int(graph.probability.size),
        "pairs_kept_above": floor,
        "prior_match_probability": None if lam is None else float(lam),
        "persons_mean": float(persons.mean()),
        "persons_min": int(persons.min()),
        "persons_max": int(persons.max()),
        "persons_at_threshold": int(result.entities["entity_id"].nunique()),
        "calibrated": calibration is not None,
    }
    return LinkageImputations(records, draws, settings.to_dict(), diagnostics)
