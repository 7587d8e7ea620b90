"""Helpers of the pipeline tests: small agency CSVs in the canonical schema, and a project file."""

from __future__ import annotations

from pathlib import Path

PROJECT = """
name = "test"
seed = 3
output = "out"
{lists}
[linkage]
max_pairs_u = 50000
[linkage.uncertainty]
enabled = false  # these tests pin single-linkage numbers; tests/pipeline/test_imputation.py covers imputation
[tabulation]
strata = ["sex"]
[estimation]
methods = ["chapman", "loglinear"]
"""


def write_lists(folder: Path, records, drop=()) -> str:
    blocks = []
    for source, g in records.groupby("source", sort=True):
        path = folder / f"{source}.csv"
        g.drop(columns=["person_id", "source", *drop], errors="ignore").to_csv(path, index=False)
        blocks.append(f'[[lists]]\nsource = "{source}"\npath = "{path.name}"\n')
    return "\n".join(blocks)
