"""Estimation core (layer 2): capture histories in, frozen results out. Pure: no files, no printing.

The estimator specs (``LogLinear``, ``Independence``, ``Chao``, ``SaturatedMinusTop``, ``Petersen``,
``Chapman``, ``LCMCR``, ``DGA``, ``SampleCoverage``) and ``compare`` are loaded on first use, so that
importing the package does not pay for the compiled samplers.
"""

from importlib import import_module
from typing import Any

from cifranegra.estimation.api import (
    METHODS,
    ListLimits,
    check_estimator,
    check_lists,
    estimate,
    list_limits,
    max_lists,
    register,
)
from cifranegra.estimation.histories import CaptureDataWarning, CaptureHistories, StrataTables
from cifranegra.estimation.models import HierarchicalModel, enumerate_models
from cifranegra.estimation.result import EstimateResult, Interval

_LAZY = {
    "LogLinear": "cifranegra.estimation.loglinear",
    "Independence": "cifranegra.estimation.classic",
    "Chao": "cifranegra.estimation.classic",
    "SaturatedMinusTop": "cifranegra.estimation.classic",
    "Petersen": "cifranegra.estimation.petersen",
    "Chapman": "cifranegra.estimation.petersen",
    "LCMCR": "cifranegra.estimation.lcmcr",
    "DGA": "cifranegra.estimation.dga",
    "SampleCoverage": "cifranegra.estimation.coverage",
    "compare": "cifranegra.estimation.compare",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cifranegra.estimation' has no attribute {name!r}")


__all__ = [
    "DGA",
    "LCMCR",
    "METHODS",
    "CaptureDataWarning",
    "CaptureHistories",
    "Chao",
    "Chapman",
    "EstimateResult",
    "HierarchicalModel",
    "Independence",
    "Interval",
    "ListLimits",
    "LogLinear",
    "Petersen",
    "SampleCoverage",
    "SaturatedMinusTop",
    "StrataTables",
    "check_estimator",
    "check_lists",
    "compare",
    "enumerate_models",
    "estimate",
    "list_limits",
    "max_lists",
    "register",
]
