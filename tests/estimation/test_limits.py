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
    with pytest.raises(InputError, match=f"option '{option}' of method '{method}'"):
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
