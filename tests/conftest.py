"""Shared fixtures (helpers live in tests/refdata.py, importable as ``refdata``)."""

from __future__ import annotations

import pytest

from cifranegra.estimation import CaptureHistories
from refdata import table


@pytest.fixture
def korea() -> CaptureHistories:
    return table("MultipleSystemsEstimation_Korea")


@pytest.fixture
def kosovo() -> CaptureHistories:
    return table("MultipleSystemsEstimation_Kosovo")
