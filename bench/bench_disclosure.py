"""Time disclosure control on a demo-sized release.

    /work/venv/bin/python bench/bench_disclosure.py              # 5 tables, 5 years, 32 states, 5 lists
    /work/venv/bin/python bench/bench_disclosure.py --persons 3000 --years 3

The release: year × sex × age group × form of exploitation with every margin, state × sex,
state × year, state × age group (each with margins) and the national capture-pattern table of 5
lists with list sizes and pairwise overlaps, from a simulated population of detected victims whose
states are skewed (many small states, so many counts below the threshold). Prints cells, withheld
(primary, secondary), audit rounds, linear programmes and the seconds (process time, one thread;
the fair clock on a shared machine) for suppression plus audit.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import pandas as pd

from cifranegra.estimation import CaptureHistories
from cifranegra.report.disclosure import capture_pattern_table, protect_tables


def margins(people: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    """Every margin of ``people`` over ``dims`` (all categories, zeros included), tidy with ``total``."""
    levels = {d: sorted(people[d].unique()) for d in dims}
    rows = []
    for combo in itertools.product(*([*levels[d], "total"] for d in dims)):
        mask = np.ones(len(people), dtype=bool)
        for d, v in zip(dims, combo, strict=True):
            if v != "total":
                mask &= (people[d] == v).to_numpy()
        rows.append({**dict(zip(dims, combo, strict=True)), "count": int(mask.sum())})
    return pd.DataFrame(rows)


def release(n: int, years: int, lists: int, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    weights = rng.gamma(0.6, size=32)
    people = pd.DataFrame({
        "year": rng.choice([str(2019 + y) for y in range(years)], size=n),
        "state": rng.choice([f"{s + 1:02d}" for s in range(32)], size=n, p=weights / weights.sum()),
        "sex": rng.choice(["female", "male"], size=n, p=[0.7, 0.3]),
        "age_group": rng.choice(["0-17", "18+"], size=n, p=[0.3, 0.7]),
        "exploitation": rng.choice(["sexual", "labour", "other"], size=n, p=[0.6, 0.3, 0.1]),
    })
    seen = rng.random((n, lists)) < 0.35
    seen[~seen.any(axis=1), 0] = True
    masks = (seen * (1 << np.arange(lists))).sum(axis=1)
    histories = CaptureHistories(tuple(f"list_{k + 1}" for k in range(lists)),
                                 np.bincount(masks, minlength=2**lists))
    return {
        "sdg": margins(people, ["year", "sex", "age_group", "exploitation"]),
        "state_sex": margins(people, ["state", "sex"]),
        "state_year": margins(people, ["state", "year"]),
        "state_age": margins(people, ["state", "age_group"]),
        "patterns": capture_pattern_table(histories),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=4000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--lists", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    tables = release(args.persons, args.years, args.lists, args.seed)
    start = time.process_time()
    out = protect_tables(tables)
    seconds = time.process_time() - start
    a = out.audit
    print(f"tables {len(tables)}, cells {a['cells']}, unknowns {a['unknowns']}, withheld {a['withheld']} "
          f"(primary {a['primary']}, secondary {a['secondary']}), audit rounds {a['audit_rounds']}, "
          f"linear programmes {a['linear_programmes']}, narrowest range {a['narrowest_range']}, "
          f"passed {a['passed']}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
