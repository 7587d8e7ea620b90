"""Does the interval cover the true N when the linkage is uncertain? Simulation with known truth
(issue 14, item 5).

Each replicate simulates a population and its agencies' lists with the synthetic Mexican generator
(names, CURPs, dates and the agencies' recording errors), writes them (Parquet) and reads them back
through ingest, links them with the default Splink settings and estimates N with the default
log-linear estimator in four ways:

- ``oracle``: the true linkage (the generator's person ids);
- ``single``: the linkage at the threshold, as if certain (what every MSE tool does);
- ``imputation``: M linkages drawn by the Gibbs sampler from the kept pairs, their probabilities
  calibrated from the lists' within-list pairs where that calibration can be fitted, estimated and
  combined by Rubin's rules (cifranegra's default in ``run``);
- ``corrected``: the K-list correction of Di Consiglio & Tuoto (2018) with the error rates that a
  complete clerical review would find (computed from the truth: a best case for the correction),
  the single linkage's selected model; a point estimate (no interval);
- ``linkage-free``: Račinskij, Smith & van der Heijden's n_a·n_b / Σp for the first two lists
  (two-list independence; a diagnostic, point estimate).

Capture is homogeneous and independent between lists (heterogeneity 0, no stratum focus, no
referrals), so that the oracle's interval keeps its coverage and what changes across cells is the
linkage only. Cells (the grid of identifier corruption):

- ``errors-x1``: the default recording errors (30% missing CURP, 2% typos, ...);
- ``errors-x3``: every error rate tripled (90% missing CURP, 6% typos, 3% day/month swaps, ...);
- ``no-curp-x2``: no CURP at all, other errors doubled (more birth-date errors);
- ``common-names``: names drawn only from the 10 most frequent given names (per sex) and 10 most
  frequent surnames, no CURP, errors doubled: many different people share a name, the source of
  false links.

    nice -n 5 python bench/bench_linkage_uncertainty.py --reps 200 --processes 2 --out linkage_uncertainty.csv

    python bench/bench_linkage_uncertainty.py plot linkage_uncertainty.csv linkage_uncertainty_5000.csv \
        docs/img/linkage-uncertainty.png

draws the figure in docs/linkage.md from the saved rows. Seeds: replicate r of cell c (its index in
CELLS) uses seed SEED·1000 + 100·c + r for simulation, linkage, imputation and estimation; SEED = 14005
(with more than 100 replicates, cells share some populations: common random numbers, each cell's own
seeds distinct). One JSON line per cell × method, and every replicate's row in ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_linkage import simulated_records, truth_entities

SEED = 14005
LEVEL = 0.95
METHODS = ("oracle", "single", "imputation", "corrected", "linkage-free")


@dataclass(frozen=True)
class Cell:
    name: str
    error_scale: float = 1.0
    no_curp: bool = False
    common_names: int = 0  # draw names only from the top k of each table (0: every name)


CELLS = (
    Cell("errors-x1"),
    Cell("errors-x3", error_scale=3.0),
    Cell("no-curp-x2", error_scale=2.0, no_curp=True),
    Cell("common-names", error_scale=2.0, no_curp=True, common_names=10),
)


def _profiles(n_lists: int):
    from cifranegra.datasets.synthetic.profiles import default_profiles

    base = default_profiles()
    rates = (0.30, 0.25, 0.20, 0.25, 0.2, 0.3)
    return [dataclasses.replace(base[k], heterogeneity=0.0, focus={}, capture_rate=rates[k], file_format="parquet")
            for k in range(n_lists)]


def _common_names(k: int):
    """A stand-in for ``population.name_tables`` keeping the ``k`` most frequent names of each table."""
    from cifranegra.datasets.synthetic import population

    full = population.name_tables()
    out = {}
    for key, (names, p) in full.items():
        top = np.argsort(-p)[:k]
        out[key] = (names[top], p[top] / p[top].sum())
    return lambda: out


def simulate_records(cell: Cell, n_persons: int, n_lists: int, seed: int, workdir: Path):
    """The cell's lists, written to ``workdir`` and read back (``bench_linkage.simulated_records``)."""
    from cifranegra.datasets.synthetic import population

    profiles = _profiles(n_lists)
    if cell.no_curp:
        profiles = [dataclasses.replace(p, errors=dataclasses.replace(p.errors, missing_curp=1.0)) for p in profiles]
    original = population.name_tables
    if cell.common_names:
        population.name_tables = _common_names(cell.common_names)  # type: ignore[assignment]
    try:
        records, truth, _ = simulated_records(n_persons, n_lists, seed, cell.error_scale, directory=workdir,
                                              profiles=profiles, referrals=[])
    finally:
        population.name_tables = original  # type: ignore[assignment]
    return records, truth


def _true_person(records: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    return truth_entities(records, truth)["entity_id"].to_numpy()


def error_rates(entities: pd.DataFrame, person: np.ndarray, lists: list[str]):
    """Missed-link rate per pair of lists and false-link rate per direction, as a full review would
    find them: a person on lists a and b is missed when no entity holds a record of theirs from each;
    a record of list a whose person is not on b is falsely linked when its entity holds a b record."""
    src = entities["source"].astype(str).to_numpy()
    ent = entities["entity_id"].to_numpy()
    df = pd.DataFrame({"source": src, "entity": ent, "person": person})
    on = {s: set(df.loc[df["source"] == s, "person"]) for s in lists}
    ent_lists = df.groupby("entity")["source"].agg(set)
    k = len(lists)
    missed = np.zeros((k, k))
    false = np.zeros((k, k))
    pe = df.groupby(["person", "source"])["entity"].agg(set)
    for i, a in enumerate(lists):
        for j, b in enumerate(lists):
            if i == j:
                continue
            both = on[a] & on[b]
            if i < j and both:
                miss = sum(1 for p in both if not (pe[(p, a)] & pe[(p, b)]))
                missed[i, j] = missed[j, i] = miss / len(both)
            only_a = df[(df["source"] == a) & ~df["person"].isin(on[b])]
            if len(only_a):
                linked = only_a["entity"].map(lambda e, b=b: b in ent_lists[e]).to_numpy()
                false[i, j] = float(linked.mean())
    return missed, false


def one_replicate(job: tuple[int, int, int, int, int]) -> list[dict[str, object]]:
    c_index, rep, n_persons, n_lists, m = job
    warnings.simplefilter("ignore")
    from cifranegra.estimation import CaptureHistories, estimate
    from cifranegra.estimation.combine import impute_and_estimate
    from cifranegra.estimation.linkage_error import corrected_loglinear, linkage_free_estimate
    from cifranegra.linkage import LinkageSettings, link_records
    from cifranegra.linkage.uncertainty import ImputationSettings, impute_linkage

    cell = CELLS[c_index]
    seed = SEED * 1000 + 100 * c_index + rep
    work = Path(tempfile.mkdtemp(prefix="cn-lu-"))
    rows: list[dict[str, object]] = []

    def add(method: str, value: float, lo: float = math.nan, hi: float = math.nan, **extra: object) -> None:
        rows.append({"cell": cell.name, "rep": rep, "method": method, "N": n_persons, "estimate": value,
                     "lower": lo, "upper": hi, **extra})

    def iv(r):
        i = r.interval(LEVEL)
        return (i.lower, i.upper) if i is not None else (math.nan, math.nan)

    try:
        records, truth = simulate_records(cell, n_persons, n_lists, seed, work)
        lists = sorted(records["source"].astype(str).unique())
        person = _true_person(records, truth)
        oracle_entities = records[["source", "record_id"]].astype(str).assign(entity_id=person)
        oracle = estimate(CaptureHistories.from_entities(oracle_entities, lists=lists), "loglinear", seed=seed)
        add("oracle", oracle.estimate, *iv(oracle), observed=oracle.observed)
        t0 = time.process_time()
        result = link_records(records, LinkageSettings(seed=seed))
        table = CaptureHistories.from_entities(result.entities, lists=lists)
        single = estimate(table, "loglinear", seed=seed)
        t_single = time.process_time() - t0
        add("single", single.estimate, *iv(single), observed=single.observed, cpu_s=round(t_single, 2))
        t0 = time.process_time()
        imp = impute_linkage(result, ImputationSettings(n_imputations=m), seed=seed)
        combined, _ = impute_and_estimate(imp, "loglinear", lists=lists, seed=seed)
        cal = imp.diagnostics["calibration"]
        add("imputation", combined.estimate, *iv(combined), observed=single.observed,
            linkage_share=round(float(combined.diagnostics["linkage_share_of_variance"]), 4),
            cpu_s=round(time.process_time() - t0, 2), calibration=cal["method"],
            expected_links=round(float(cal.get("expected_between_links", math.nan)), 1))
        ent = result.entities.astype({"source": str, "record_id": str})
        person_linked = _true_person(ent, truth)
        missed, false = error_rates(ent, person_linked, lists)
        try:
            model = str(single.models().iloc[0]["model"])
            corr = corrected_loglinear(table, missed, false, model=model)
            add("corrected", corr.estimate, missed_mean=round(float(missed[np.triu_indices(len(lists), 1)].mean()), 4),
                false_mean=round(float(false.sum() / (len(lists) * (len(lists) - 1))), 5))
        except Exception as exc:
            add("corrected", math.nan, error=type(exc).__name__)
        a, b = lists[0], lists[1]
        sizes = oracle_entities.groupby("source")["entity_id"].nunique()
        n_a = int(result.entities.loc[result.entities["source"].astype(str) == a, "entity_id"].nunique())
        n_b = int(result.entities.loc[result.entities["source"].astype(str) == b, "entity_id"].nunique())
        pairs = result.pairs
        cross = pairs[pairs["source_l"].astype(str).isin([a, b]) & pairs["source_r"].astype(str).isin([a, b])]
        lf = linkage_free_estimate(cross, n_a, n_b, list_a=a, list_b=b)
        # its target: the two-list Petersen estimate of the true linkage of lists a and b
        on_a = set(oracle_entities.loc[oracle_entities["source"] == a, "entity_id"])
        on_b = set(oracle_entities.loc[oracle_entities["source"] == b, "entity_id"])
        add("linkage-free", lf.estimate, oracle_petersen=int(sizes[a]) * int(sizes[b]) / max(len(on_a & on_b), 1),
            expected_matches=round(lf.expected_matches, 3), true_matches=len(on_a & on_b))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def summarise(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    out = []
    groups = [(cell.name, n) for cell in CELLS
              for n in sorted({int(float(str(r["N"]))) for r in rows if r["cell"] == cell.name})]
    for name, n in groups:
        label = name if n == 1000 else f"{name} ({n:,})"
        for method in METHODS:
            sel = [r for r in rows if r["cell"] == name and int(float(str(r["N"]))) == n and r["method"] == method]
            if not sel:
                continue
            n_true = float(n)
            est = np.array([float(r["estimate"]) for r in sel])
            lo = np.array([float(r["lower"]) for r in sel])
            hi = np.array([float(r["upper"]) for r in sel])
            ok = np.isfinite(est)
            has_iv = np.isfinite(lo) & np.isfinite(hi)
            s: dict[str, object] = {
                "cell": label, "method": method, "N": int(n_true), "reps": len(sel), "failed": int((~ok).sum()),
                "relative_bias": round(float(est[ok].mean() / n_true - 1), 4) if ok.any() else None,
                "rmse_over_N": (round(float(np.sqrt(np.mean((est[ok] - n_true) ** 2)) / n_true), 4)
                                if ok.any() else None),
            }
            if has_iv.any():
                cov = float((has_iv & (lo <= n_true) & (n_true <= hi)).mean())
                s.update(coverage=round(cov, 3), coverage_se=round(math.sqrt(cov * (1 - cov) / len(sel)), 3),
                         below=round(float((has_iv & (hi < n_true)).mean()), 3),
                         above=round(float((has_iv & (lo > n_true)).mean()), 3),
                         median_width_over_N=round(float(np.median((hi - lo)[has_iv]) / n_true), 3))
            if method == "linkage-free":
                ratio = [float(r["estimate"]) / float(r["oracle_petersen"]) for r in sel]
                s["median_ratio_to_oracle_petersen"] = round(float(np.median(ratio)), 4)
                s["mean_abs_log_ratio_to_oracle_petersen"] = round(float(np.mean(np.abs(np.log(ratio)))), 4)
            share = [float(r["linkage_share"]) for r in sel if "linkage_share" in r]
            if share:
                s["linkage_share_median"] = round(float(np.median(share)), 3)
                s["linkage_share_p90"] = round(float(np.quantile(share, 0.9)), 3)
            calibrated = [r["calibration"] == "within-lists" for r in sel if "calibration" in r]
            if calibrated:
                s["calibrated_share"] = round(float(np.mean(calibrated)), 3)
            cpu = [float(r["cpu_s"]) for r in sel if "cpu_s" in r]
            if cpu:
                s["mean_cpu_s"] = round(float(np.mean(cpu)), 2)
            out.append(s)
    return out


def plot(rows: list[dict[str, object]], path: str) -> None:
    """Coverage (with ±2 binomial standard errors) and relative bias of each method in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarise(rows)
    cells = list(dict.fromkeys(str(s["cell"]) for s in summary))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    styles = {"oracle": ("o", "#444444"), "single": ("s", "#d95f02"), "imputation": ("^", "#1b9e77"),
              "corrected": ("D", "#7570b3"), "linkage-free": ("v", "#999999")}
    for k, method in enumerate(METHODS):
        sel = {str(s["cell"]): s for s in summary if s["method"] == method}
        x = np.arange(len(cells)) + (k - 2) * 0.08
        marker, colour = styles[method]
        if any("coverage" in sel.get(c, {}) for c in cells):
            cov = np.array([float(sel[c]["coverage"]) for c in cells])
            se = np.array([float(sel[c]["coverage_se"]) for c in cells])
            ax1.errorbar(x, cov, yerr=2 * se, fmt=marker, color=colour, label=method, capsize=3)
        bias = np.array([float(sel[c]["relative_bias"]) if c in sel and sel[c]["relative_bias"] is not None
                         else np.nan for c in cells])
        ax2.plot(x, 100 * bias, marker, color=colour, label=method)
    ax1.axhline(0.95, color="black", lw=0.8, ls="--")
    ax1.axhline(0.90, color="grey", lw=0.8, ls=":")
    ticks = [c.replace(" (", "\n(") for c in cells]
    ax1.set_xticks(range(len(cells)), ticks)
    ax1.set_ylabel("coverage of the true N (95% intervals)")
    ax1.set_ylim(0, 1.02)
    ax1.legend(loc="lower left", fontsize=8)
    ax2.axhline(0, color="black", lw=0.8)
    ax2.set_xticks(range(len(cells)), ticks)
    ax2.set_ylabel("relative bias of N-hat (%)")
    ax2.legend(loc="best", fontsize=8)
    fig.suptitle("Linkage uncertainty: 3 lists, 1,000 victims unless stated, homogeneous capture "
                 "(bench_linkage_uncertainty.py)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _read_rows(path: str) -> list[dict[str, object]]:
    with open(path, newline="") as fh:
        return [{k: v for k, v in r.items() if v != ""} for r in csv.DictReader(fh)]


def main() -> None:
    if sys.argv[1:2] == ["plot"]:  # plot CSV [CSV ...] PNG: the figure of docs/linkage.md from saved runs
        plot([r for path in sys.argv[2:-1] for r in _read_rows(path)], sys.argv[-1])
        return
    if sys.argv[1:2] == ["summarise"]:  # summarise CSV [CSV ...]: the JSON lines of saved runs
        for s in summarise([r for path in sys.argv[2:] for r in _read_rows(path)]):
            print(json.dumps(s))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--persons", type=int, default=1000)
    ap.add_argument("--lists", type=int, default=3)
    ap.add_argument("--M", type=int, default=10, help="imputations per replicate")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--cells", default=",".join(c.name for c in CELLS))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    chosen = [i for i, c in enumerate(CELLS) if c.name in a.cells.split(",")]
    jobs = [(i, r, a.persons, a.lists, a.M) for i in chosen for r in range(a.reps)]
    t0 = time.perf_counter()
    rows: list[dict[str, object]] = []
    with ProcessPoolExecutor(a.processes) as pool:
        for part in pool.map(one_replicate, jobs):
            rows.extend(part)
            if a.out and len(rows) % 50 < len(part):
                print(f"{len(rows) // len(METHODS)} replicates", file=sys.stderr, flush=True)
    if a.out:
        fields: list[str] = []
        for r in rows:
            fields.extend(k for k in r if k not in fields)
        with open(a.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
    for s in summarise(rows):
        print(json.dumps(s))
    print(json.dumps({"what": "time", "wall_s": round(time.perf_counter() - t0, 1), "replicates": len(jobs),
                      "seed": SEED, "persons": a.persons, "lists": a.lists, "M": a.M}))


if __name__ == "__main__":
    main()
