"""Methods, options and numbers of lists refused before any work (issue 12, items 4 and 6)."""

from __future__ import annotations

import numpy as np
import pytest

from cifranegra.errors import InputError
from cifranegra.estimation import (
    CaptureHistories,
    check_estimator,
    check_lists,
    estimate,
    list_limits,
    max_lists,
)
from cifranegra.estimation.api import methods, option_names
from cifranegra.estimation.histories import MAX_LISTS


def test_unknown_method_suggests_the_closest() -> None:
    with pytest.raises(InputError, match=r"unknown method 'loglinar' \(did you mean 'loglinear'\?\)") as e:
        check_estimator("loglinar", {})
    assert "sample-coverage" in str(e.value)  # the valid ones are listed


def test_unknown_option_lists_the_valid_ones() -> None:
    with pytest.raises(InputError, match=r"no option 'priro' \(did you mean 'prior'\?\)") as e:
        check_estimator("dga", {"priro": "1/N"})
    assert "delta, grid_points, level, max_n, prior, top_models" in str(e.value)
    assert "progress" not in option_names("loglinear")  # plumbing, not a setting


@pytest.mark.parametrize(
    ("method", "options", "option"),
    [
        ("loglinear", {"n_boot": "many"}, "n_boot"),  # TypeError inside the spec
        ("lcmcr", {"chains": "four"}, "chains"),  # ValueError (int('four')) inside the spec
        ("sample-coverage", {"level": 0.5, "n_boot": [1]}, "n_boot"),
    ],
)
def test_refused_values_name_the_option(method: str, options: dict, option: str) -> None:
    # the spec names the option first ("n_boot must be ..."), or api names it for the spec
    with pytest.raises(InputError, match=rf"^({option} must be|option '{option}' of method '{method}')"):
        check_estimator(method, options)


def test_good_options_pass() -> None:
    for m in methods():
        check_estimator(m, {})
    check_estimator("lcmcr", {"chains": 2, "samples": 100})
    check_estimator("sample-coverage", {"variant": "low"})


def test_every_method_states_its_limit() -> None:
    for m in methods():
        lim = list_limits(m)
        assert 2 <= lim.min_lists <= lim.max_lists <= MAX_LISTS
        assert lim.reason
        assert max_lists(m) == lim.max_lists
    assert max_lists("dga") == 7
    assert max_lists("petersen") == 2


@pytest.mark.parametrize("method", ["dga", "loglinear", "chao", "saturated", "sample-coverage"])
def test_too_many_lists_refused_with_reason(method: str) -> None:
    k = max_lists(method) + 1
    with pytest.raises(InputError, match=rf"at most {k - 1} lists, got {k}: .*fewer lists") as e:
        check_lists(method, k)
    assert "docs/estimation.md" in str(e.value)


def test_estimate_checks_lists_before_fitting() -> None:
    # 8 lists for dga: refused by the limit, not by the graph enumeration
    k = 8
    counts = np.zeros(2**k, dtype=np.int64)
    counts[1:] = 1
    h = CaptureHistories(tuple(f"L{i}" for i in range(k)), counts)
    with pytest.raises(InputError, match="at most 7 lists, got 8: it enumerates"):
        estimate(h, "dga")


def test_table_wider_than_the_dense_limit_is_refused_before_allocation() -> None:
    k = MAX_LISTS + 6  # 2^30 cells: would be 8 GiB if allocated
    with pytest.raises(InputError, match=f"{k} lists: .*at most {MAX_LISTS} lists"):
        CaptureHistories.from_counts({"1" + "0" * (k - 1): 3}, [f"L{i}" for i in range(k)])


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_bad_seed_is_an_input_error(seed: object) -> None:
    h = CaptureHistories.from_counts({"10": 5, "01": 6, "11": 2}, ["a", "b"])
    with pytest.raises(InputError, match="seed must be a whole number"):
        estimate(h, "chapman", seed=seed)


def _naive_select(h: CaptureHistories, idx: list[int]) -> np.ndarray:
    new = np.zeros(2 ** len(idx), dtype=np.int64)
    for mask in range(1, 2**h.n_lists):
        new[sum(((mask >> i) & 1) << pos for pos, i in enumerate(idx))] += h.counts[mask]
    new[0] = 0
    return new


def test_select_and_merge_from_observed_patterns_match_the_dense_loops() -> None:
    rng = np.random.default_rng(3)
    k = 6
    counts = rng.poisson(2.0, 2**k) * (rng.random(2**k) < 0.6)
    counts[0] = 0
    counts[1:k + 1] += 1
    h = CaptureHistories(tuple("abcdef"), counts)
    for keep in ([0, 2, 5], [5, 1], [3, 0, 1, 4]):
        np.testing.assert_array_equal(h.select_lists(keep).counts, _naive_select(h, keep))
    merged = h.merge_lists([["a", "c"], ["b", "f"]])
    expected = np.zeros(2**4, dtype=np.int64)
    groups = [[0, 2], [1, 5], [3], [4]]
    for mask in range(1, 2**k):
        merged_mask = sum(1 << g for g, members in enumerate(groups) if any((mask >> i) & 1 for i in members))
        expected[merged_mask] += counts[mask]
    np.testing.assert_array_equal(merged.counts, expected)
    sizes = [int(sum(counts[m] for m in range(2**k) if (m >> i) & 1)) for i in range(k)]
    assert h.list_sizes().tolist() == sizes
    assert np.diag(h.overlaps().to_numpy()).tolist() == sizes
    assert h.counts_by_number_of_lists().sum() == h.observed


def test_many_strata_of_wide_tables_are_refused_before_allocation() -> None:
    import pandas as pd

    k = 22  # 2^22 cells × 8 B × 2 = 64 MiB per stratum: 40 strata (2.5 GiB) exceed the 2 GiB budget
    rows = pd.DataFrame(np.eye(k, dtype=int)[np.arange(40) % k], columns=[f"L{i}" for i in range(k)])
    rows["s"] = np.arange(40)
    rows["count"] = 1
    with pytest.raises(InputError, match=r"40 strata × 2\^22 patterns would take 2.5 GiB"):
        CaptureHistories.stratified_from_frame(rows, strata=["s"])
