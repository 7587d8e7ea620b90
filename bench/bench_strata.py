"""Time the default log-linear estimate on the strata of a stratified run, one after the other.

A stratified run (e.g. ``strata = ["sex", "age_group", "state"]`` on a 6,000-person simulation) spends
most of its estimation time on the small strata where one list is empty: five lists, so ``auto`` picks
the all-model BIC search, whose bootstrap re-selects among the top models on every replicate. This
script re-tabulates a finished run's ``entities.csv`` exactly as the pipeline does, estimates the chosen
strata single-process with the project's seed, and prints the CPU seconds; ``--save`` keeps every
estimate, interval and model (to compare two versions of the code to the last digit with ``--compare``).

    cifranegra simulate strat6k --persons 6000 --agencies 6 --seed 1
    # set [tabulation] strata = ["sex", "age_group", "state"] in strat6k/project.toml, then
    cifranegra run strat6k/project.toml -q
    python bench/bench_strata.py strat6k/results/entities.csv --lists 5 --save before.json
    python bench/bench_strata.py strat6k/results/entities.csv --lists 5 --compare before.json
    python bench/bench_strata.py strat6k/results/entities.csv --lists 5 --only 1 --profile

CPU time (``time.process_time``) is reported, not wall time: the machine may be shared.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from cifranegra.errors import CifranegraError
from cifranegra.estimation import estimate
from cifranegra.pipeline.run import tabulate

LISTS = ["fiscalia_estatal", "fgr_fevimtra", "dif", "refugios", "linea_nacional", "osc"]
STRATA = ["sex", "age_group", "state"]


def _strata(entities: Path, n_lists: int | None) -> list[tuple[str, Any]]:
    ent = pd.read_csv(entities, dtype=str)
    lists = [s for s in LISTS if s in set(ent["source"])]
    _, by = tabulate(ent, lists, STRATA)
    out = []
    for key, h in sorted(by.items(), key=lambda kv: tuple(map(str, kv[0]))):
        if "unknown" in map(str, key) or (n_lists is not None and h.n_lists != n_lists):
            continue
        out.append((" | ".join(map(str, key)), h))
    return out


def _one(h: Any, seed: int) -> dict[str, Any]:
    try:
        r = estimate(h, "loglinear", seed=seed, workers=1)
    except CifranegraError as exc:
        return {"error": type(exc).__name__}
    iv = r.interval(r.intervals[0].level) if r.intervals else None
    return {
        "estimate": r.estimate,
        "lower": None if iv is None else iv.lower,
        "upper": None if iv is None else iv.upper,
        "model": r.model,
        "replicates": None if r.replicates is None else [x if math.isfinite(x) else None for x in r.replicates],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("entities", type=Path, help="entities.csv of a finished stratified run")
    ap.add_argument("--lists", type=int, default=None, help="only strata with this many lists (5: the slow ones)")
    ap.add_argument("--only", type=int, default=None, help="only the first N strata")
    ap.add_argument("--seed", type=int, default=1, help="the project's seed (simulate writes 1)")
    ap.add_argument("--save", type=Path, help="write the results as JSON")
    ap.add_argument("--compare", type=Path, help="compare with results saved by --save (must be identical)")
    ap.add_argument("--profile", action="store_true", help="cProfile, top 30 by cumulative time")
    a = ap.parse_args()
    tabs = _strata(a.entities, a.lists)[: a.only]
    prof = cProfile.Profile() if a.profile else None
    t0 = time.process_time()
    if prof:
        prof.enable()
    out = {label: _one(h, a.seed) for label, h in tabs}
    if prof:
        prof.disable()
    cpu = time.process_time() - t0
    print(f"{len(tabs)} strata, {cpu:.1f} CPU s")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    if a.save:
        a.save.write_text(json.dumps(out))
    if a.compare:
        ref = json.loads(a.compare.read_text())
        diff = [k for k in out if out[k] != ref.get(k)]
        print("identical" if not diff and set(ref) == set(out) else f"DIFFERENT in {len(diff)} strata: {diff[:5]}")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
