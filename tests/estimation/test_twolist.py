"""Lincoln–Petersen and Chapman, against hand computation.

Example: n1 = 100, n2 = 80, m = 20. Petersen N = 100·80/20 = 400, var = 100·80·80·60/20³ = 4800.
Chapman N = 101·81/21 − 1 = 388.571…, var = 101·81·80·60/(21²·22) = 4047.61…
"""

from __future__ import annotations

import math

import pytest

from cifranegra.errors import InputError, ModelError
from cifranegra.estimation import CaptureHistories, estimate


@pytest.fixture
def two() -> CaptureHistories:
    return CaptureHistories.from_counts({"10": 80, "01": 60, "11": 20}, ["fiscalia", "dif"])


def test_petersen(two: CaptureHistories) -> None:
    r = estimate(two, "petersen")
    assert r.estimate == pytest.approx(400.0)
    assert r.diagnostics["std_error"] == pytest.approx(math.sqrt(4800))
    iv = r.interval()
    assert iv.lower > two.observed and iv.lower < 400 < iv.upper


def test_chapman(two: CaptureHistories) -> None:
    r = estimate(two, "chapman")
    assert r.estimate == pytest.approx(101 * 81 / 21 - 1)
    assert r.diagnostics["std_error"] ** 2 == pytest.approx(101 * 81 * 80 * 60 / (21**2 * 22))


def test_petersen_equals_independence_loglinear(two: CaptureHistories) -> None:
    """With two lists the independence log-linear model is the Petersen estimator."""
    assert estimate(two, "independence").estimate == pytest.approx(400.0)


def test_two_list_methods_refuse_other_list_counts() -> None:
    three = CaptureHistories.from_counts({"100": 5, "010": 6, "001": 7, "110": 1, "011": 2}, ["a", "b", "c"])
    with pytest.raises(InputError, match="exactly two lists"):
        estimate(three, "petersen")


def test_no_overlap() -> None:
    h = CaptureHistories.from_counts({"10": 5, "01": 6}, ["a", "b"])
    with pytest.raises(ModelError, match="no one in common"):
        estimate(h, "petersen")
    with pytest.raises(ModelError, match=r"no one .* on more than one list"):
        estimate(h, "loglinear", interval="none")


def test_bic_refuses_too_many_models() -> None:
    from refdata import table

    with pytest.raises(InputError, match="stepwise"):
        estimate(table("SparseMSE_NewOrl"), "loglinear", select="bic", interval="none")
