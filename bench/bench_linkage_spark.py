"""The scale benchmark of bench_linkage.py on Spark (pyspark local mode): same data, same code path.

    python bench/bench_linkage_spark.py --records 100000 [--spark-master local[2]] [--driver-memory 12g]

Needs ``pip install 'cifranegra[spark]'`` and Java. Prints the same JSON line as
``bench_linkage.py scale --engine duckdb`` for comparison (figures in docs/notes/issue-5.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_linkage import main as linkage_main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=100_000)
    p.add_argument("--agencies", type=int, default=6)
    p.add_argument("--spark-master", default="local[2]")
    p.add_argument("--driver-memory", default="4g", help="Spark driver heap (local mode: all of Spark), e.g. 12g")
    p.add_argument("--quality", action="store_true")
    p.add_argument("--blocking", choices=("default", "large"), default="default")
    args = p.parse_args()
    argv = ["scale", "--engine", "spark", "--records", str(args.records), "--agencies", str(args.agencies),
            "--spark-master", args.spark_master, "--blocking", args.blocking,
            "--spark-driver-memory", args.driver_memory]
    if args.quality:
        argv.append("--quality")
    linkage_main(argv)


if __name__ == "__main__":
    main()
