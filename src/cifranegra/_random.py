"""Explicit randomness: every stochastic function takes a seed or a numpy Generator.

Streams for parallel work are derived with ``SeedSequence.spawn`` from the user's seed, so that the
numbers depend on the seed and the task index only, never on the number of workers.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np

SeedLike: TypeAlias = "int | np.random.SeedSequence | np.random.Generator | None"


def as_seed_sequence(seed: int | np.random.SeedSequence | np.random.Generator | None) -> np.random.SeedSequence:
    """A SeedSequence from an int, an existing SeedSequence, a Generator, or None (fresh entropy)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        # derive a child sequence from the generator's own stream, reproducibly
        return np.random.SeedSequence(int(seed.integers(0, 2**63 - 1)))
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"a seed must be a non-negative integer, got {seed}")
        return np.random.SeedSequence(int(seed))
    raise TypeError(f"seed must be an int, SeedSequence, Generator or None, not {type(seed).__name__}")


def make_rng(seed: int | np.random.SeedSequence | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator (PCG64) for this seed; a Generator passed in is returned unchanged."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(as_seed_sequence(seed))


def spawn_seeds(
    seed: int | np.random.SeedSequence | np.random.Generator | None, n: int
) -> list[np.random.SeedSequence]:
    """``n`` independent child seed sequences: task ``i`` always gets child ``i``."""
    return as_seed_sequence(seed).spawn(n)
