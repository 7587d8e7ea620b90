"""A simulated truth sample for calibrating private linkage's Dice scores (opt-in).

No one sees two agencies' plaintexts, so a study has no labelled pairs of its own encoded lists. The
simulator's lists do have labels: encoded with the study's spec, linked as the study's lists are, their
pairs give P(match | Dice) by isotonic regression (within and between lists apart), and
:func:`~cifranegra.linkage.uncertainty.impute_linkage` draws linkages from it. Measured on the
simulator itself (docs/private-linkage.md, "The bias is the calibration's"): as a run does it, imputed
N̂ +1.69% on average against the true linkage's on six held-out seeds, every interval holding it; the
key does not matter, the size does (a sample twice the lists' size: +8%), so the sample is sized to
the study's number of records. It does not carry over to lists recorded worse than the simulator's:
with every error rate doubled the imputed N̂ came out 12% high (7 of 12 intervals missing the true
linkage's), and a study cannot tell its recording quality from its encodings; where it does fit, its
interval held the true linkage's N̂ no more often than the single linkage's (12 of 12 each, as wide).
So this is an option, not the default.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cifranegra.errors import InputError
from cifranegra.linkage.uncertainty import Calibration, calibrate, pair_truth_labels

#: the simulated number of records must come within this share of the study's
SIZE_TOLERANCE = 0.05
#: the fewest persons simulated
MIN_PERSONS = 50
_PROJECT = "cifranegra-simulated-truth-sample"


def _read_back(sim: Any) -> pd.DataFrame:
    """The simulator's agency files read through ingest, as an agency's list is."""
    from cifranegra.ingest import read_list

    with tempfile.TemporaryDirectory() as tmp:
        manifest = sim.write(tmp, persons=False)
        frames = []
        for entry in manifest["lists"]:
            mapping = str(Path(tmp) / entry["mapping"]) if entry.get("mapping") else None
            df, _ = read_list(Path(tmp) / entry["file"], mapping, entry["source"], on_error="report")
            frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _sample_seed(seed: int) -> np.random.SeedSequence:
    """The simulated population's seed from the run's: every bit of ``seed`` counts (the words above its
    lowest 32 bits are appended only when there are any, so seeds below 2**32 give the samples they
    always gave), and the tag 0x5EED7 keeps it apart from the seeds the run uses elsewhere."""
    if int(seed) < 0:
        raise InputError(f"seed must be a whole number of at least 0, not {seed}")
    words, high = [int(seed) & 0xFFFFFFFF, 0x5EED7], int(seed) >> 32
    while high:
        words.append(high & 0xFFFFFFFF)
        high >>= 32
    return np.random.SeedSequence(np.random.SeedSequence(words).entropy, spawn_key=(1,))


def simulated_dice_calibration(
    spec: Any, sizes: Sequence[int], *, seed: int, options: Mapping[str, Any] | None = None,
    error_scale: float = 1.0,
) -> tuple[Calibration, dict[str, Any]]:
    """P(match | Dice) fitted on simulated lists as many as ``sizes`` and about as large in all
    (within :data:`SIZE_TOLERANCE` of their records; the number of persons is adjusted up to three
    times, and a study the simulator cannot match in size is refused), encoded with ``spec`` under a
    key derived from ``seed`` (the key does not change Dice's distribution; the simulated persons are
    fictitious), linked with the study's private-linkage ``options``. ``error_scale`` multiplies the
    simulator's recording-error rates (a sensitivity analysis from Python; a run uses 1). Returns the
    calibration and what it was fitted on (JSON-ready)."""
    from cifranegra.datasets.synthetic import simulate
    from cifranegra.datasets.synthetic.simulate import MAX_AGENCIES
    from cifranegra.linkage.private import LinkageSecret, encode_records, link_encoded_scored

    k, target = len(sizes), int(sum(sizes))
    if k < 2 or target < 2:
        raise InputError("a simulated truth sample needs at least two lists with records")
    if k > MAX_AGENCIES:
        raise InputError(f"the simulator has {MAX_AGENCIES} agencies and this study {k} lists: a simulated truth "
                         "sample cannot stand for it; use calibration = \"within-lists\"")
    sample_seed = _sample_seed(seed)
    n_persons = max(MIN_PERSONS, round(target * 1.1))
    for _ in range(3):
        sim = simulate(n_persons=n_persons, n_agencies=k, seed=sample_seed, error_scale=error_scale)
        records = _read_back(sim)
        if abs(len(records) / target - 1) <= SIZE_TOLERANCE:
            break
        n_persons = max(MIN_PERSONS, round(n_persons * target / max(len(records), 1)))
    else:
        # P(match | Dice) depends on the lists' size (a sample twice as large: N-hat +8%), so a sample
        # of another size is refused rather than used
        raise InputError(
            f"calibration = \"simulated\" could not simulate lists of about {target:,} records (the nearest had "
            f"{len(records):,}; the simulator's smallest study is {MIN_PERSONS} persons), and a truth sample of "
            "another size would bias the calibration; use calibration = \"within-lists\" or turn imputation off"
        )
    key = hashlib.sha256(f"cifranegra simulated truth sample {int(seed)}".encode()).digest()
    secret = LinkageSecret(key)
    encs = [encode_records(g, secret, _PROJECT, spec) for _, g in records.groupby("source", sort=True)]
    _, scored = link_encoded_scored(encs, **dict(options or {}))
    p = scored.pairs
    labels = pair_truth_labels(p, sim.truth).astype(bool)
    within = (p["source_l"] == p["source_r"]).to_numpy()
    if within.all() or not within.any() or not labels.any():
        raise InputError("the simulated truth sample has too few scored pairs to calibrate Dice on; use "
                         "calibration = \"within-lists\"")
    cal = calibrate(p["dice"].to_numpy(float), labels, score="dice", within=within)
    info = {"method": "simulated truth sample", "persons": int(sim.n_persons), "records": len(records),
            "study_records": target, "lists": k, "pairs": len(labels), "true_pairs": int(labels.sum()),
            "seed": int(seed), **({"error_scale": float(error_scale)} if error_scale != 1.0 else {})}
    return cal, info
