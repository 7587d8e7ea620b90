"""How many records a linkage puts into persons holding three or more records of one list (the share
behind ``linkage.link.merged_lists_warnings``), on replicates of the linkage-uncertainty study's cells.

    python bench/bench_over_merged.py --cell common-names --reps 0 1 6

Prints per replicate: records, persons, the most records of one list in one person, the records in
persons with two or more and with three or more records of one list, the largest person, and the
linkage warnings (their first 90 characters). Replicate 6 of the common-names cell is a collapsed
linkage (782 records into 116 persons).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from benchload import load_bench  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", default="common-names")
    ap.add_argument("--reps", type=int, nargs="+", default=[0, 1, 6])
    ap.add_argument("--persons", type=int, default=1000)
    args = ap.parse_args()
    from cifranegra.linkage import LinkageSettings, link_records
    from cifranegra.linkage.link import list_crowding, merged_lists_warnings

    study = load_bench("bench_linkage_uncertainty.py")
    c = next(i for i, x in enumerate(study.CELLS) if x.name == args.cell)
    for rep in args.reps:
        seed = study.SEED * 1000 + 100 * c + rep
        records, _ = study.simulate_records(study.CELLS[c], args.persons, 3, seed, Path(tempfile.mkdtemp()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = link_records(records, LinkageSettings(seed=seed)).entities
        most, size = list_crowding(e)
        three = int(size[most >= 3].sum())
        print(f"replicate {rep}: {len(e)} records, {e['entity_id'].nunique()} persons, most of one list "
              f"{int(most.max())}, records in persons with >= 2 of one list {int(size[most >= 2].sum())}, "
              f">= 3: {three} ({three / len(e):.1%}), largest person {int(size.max())}; warned: "
              f"{[w[:90] for w in merged_lists_warnings(e)]}")


if __name__ == "__main__":
    main()
