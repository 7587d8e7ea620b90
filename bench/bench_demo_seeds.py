"""The demo's design on other seeds: does `cifranegra demo`'s interval cover its truth for a reason,
or by luck? (issue 14, item 7)

For each seed, the demo's lists are simulated again exactly as the bundled ones were
(``simulate(n_persons=5000, n_agencies=6, seed=SEED)``, the demo's own project.toml, so the same
linkage, strata, methods and linkage imputation), the project is run without writing files, and
the headline rows are recorded: every method's estimate for all persons and the stratified total,
with their intervals and what the intervals include. Truth: 5,000.

    nice -n 5 python bench/bench_demo_seeds.py --seeds 1-20 --out demo_seeds.csv

Prints one JSON line per seed and a summary line (coverage of each headline row).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path

TRUE_N = 5000


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def run_seed(seed: int) -> list[dict[str, object]]:
    import dataclasses

    from cifranegra.datasets.demo import DEMO_PERSONS, demo_directory
    from cifranegra.datasets.synthetic import simulate
    from cifranegra.pipeline import load_project, run_project

    work = Path(tempfile.mkdtemp(prefix="cn-demo-seed-"))
    try:
        simulate(n_persons=DEMO_PERSONS, n_agencies=6, seed=seed).write(work, persons=False)
        shutil.copy(demo_directory() / "project.toml", work / "project.toml")
        project = dataclasses.replace(load_project(work / "project.toml"), seed=seed)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = run_project(project, write=False)
        wall = time.perf_counter() - t0
        rows = []
        for e in result.estimates:
            if e["stratum"] != "all":
                continue
            rows.append({"seed": seed, "row": f"{e['method']} (all persons)", "observed": e.get("observed"),
                         "estimate": e.get("estimate"), "lower": e.get("lower"), "upper": e.get("upper"),
                         "interval_includes": e.get("interval_includes"), "wall_s": round(wall, 1)})
        for method, t in result.stratified_total_dict().items():
            iv = t.get("interval") or {}
            rows.append({"seed": seed, "row": f"{method} (stratified total)", "observed": t.get("observed"),
                         "estimate": t.get("estimate"), "lower": iv.get("lower"), "upper": iv.get("upper"),
                         "interval_includes": None, "wall_s": round(wall, 1)})
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1-20")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rows: list[dict[str, object]] = []
    for seed in _seeds(a.seeds):
        part = run_seed(seed)
        rows.extend(part)
        for r in part:
            print(json.dumps(r), flush=True)
    if a.out:
        with open(a.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    for name in dict.fromkeys(str(r["row"]) for r in rows):
        sel = [r for r in rows if r["row"] == name]
        ok = [r for r in sel if r["lower"] is not None and r["upper"] is not None]
        covered = sum(1 for r in ok if float(r["lower"]) <= TRUE_N <= float(r["upper"]))  # type: ignore[arg-type]
        below = sum(1 for r in ok if float(r["upper"]) < TRUE_N)  # type: ignore[arg-type]
        ests = sorted(float(r["estimate"]) for r in sel if r["estimate"] is not None)  # type: ignore[arg-type]
        print(json.dumps({"what": "summary", "row": name, "seeds": len(sel), "covered": covered, "below": below,
                          "median_estimate": ests[len(ests) // 2] if ests else None,
                          "min_estimate": ests[0] if ests else None, "max_estimate": ests[-1] if ests else None}))


if __name__ == "__main__":
    main()
