"""Shared fixtures (helpers live in tests/refdata.py, importable as ``refdata``)."""

from __future__ import annotations

import pytest
from hypothesis import settings

from cifranegra.estimation import CaptureHistories
from refdata import table

# CI runs on two shared, often loaded cores: no hypothesis test may fail on time (issue 17)
settings.register_profile("cifranegra", deadline=None)
settings.load_profile("cifranegra")


@pytest.fixture
def korea() -> CaptureHistories:
    return table("MultipleSystemsEstimation_Korea")


@pytest.fixture
def kosovo() -> CaptureHistories:
    return table("MultipleSystemsEstimation_Kosovo")
