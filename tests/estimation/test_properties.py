"""Invariants (hypothesis): the estimate does not depend on list order or on how counts are written."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cifranegra.estimation import CaptureHistories, estimate


@st.composite
def tables(draw: st.DrawFn) -> CaptureHistories:
    k = draw(st.integers(3, 4))
    counts = np.array([0] + [draw(st.integers(1, 60)) for _ in range(2**k - 1)])
    return CaptureHistories(tuple("ABCD"[:k]), counts)


def _permuted(h: CaptureHistories, perm: list[int]) -> CaptureHistories:
    df = h.to_frame()
    return CaptureHistories.from_frame(df[[h.lists[i] for i in perm] + ["count"]])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.randoms())
def test_permuting_lists_leaves_estimates_unchanged(h: CaptureHistories, rnd) -> None:  # type: ignore[no-untyped-def]
    perm = list(range(h.n_lists))
    rnd.shuffle(perm)
    p = _permuted(h, perm)
    for kw in ({"select": "bic"}, {"select": "stepwise"}, {"select": "aic"}):
        a = estimate(h, "loglinear", interval="none", **kw)
        b = estimate(p, "loglinear", interval="none", **kw)
        assert np.isclose(a.estimate, b.estimate, rtol=1e-6)
    assert np.isclose(estimate(h, "chao").estimate, estimate(p, "chao").estimate, rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(tables(), st.data())
def test_splitting_a_count_across_duplicate_rows_changes_nothing(h: CaptureHistories, data: st.DataObject) -> None:
    df = h.to_frame()
    i = data.draw(st.integers(0, len(df) - 1))
    c = int(df.loc[i, "count"])
    part = data.draw(st.integers(0, c))
    extra = df.loc[[i]].copy()
    df.loc[i, "count"] = c - part
    extra["count"] = part
    split = pd.concat([df, extra], ignore_index=True).sample(frac=1, random_state=0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h2 = CaptureHistories.from_frame(split)
    assert h2 == h
    assert estimate(h2, "loglinear", interval="none").estimate == estimate(h, "loglinear", interval="none").estimate
