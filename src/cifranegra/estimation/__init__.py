"""Estimation core (layer 2): capture histories in, frozen results out. Pure: no files, no printing."""

from cifranegra.estimation.api import METHODS, estimate, register
from cifranegra.estimation.histories import CaptureDataWarning, CaptureHistories
from cifranegra.estimation.models import HierarchicalModel, enumerate_models
from cifranegra.estimation.result import EstimateResult, Interval

__all__ = [
    "METHODS",
    "CaptureDataWarning",
    "CaptureHistories",
    "EstimateResult",
    "HierarchicalModel",
    "Interval",
    "enumerate_models",
    "estimate",
    "register",
]
