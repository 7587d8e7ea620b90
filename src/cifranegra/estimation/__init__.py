"""Estimation core (layer 2): capture histories in, frozen results out. Pure: no files, no printing.

Every name here is loaded on first use: importing the package imports neither scipy, pandas nor any
estimator (the compiled samplers least of all). The methods are the table in
:mod:`cifranegra.estimation.registry`; :mod:`cifranegra.estimation.api` is the entry point and the
estimator contract (``estimate``, ``check_estimator``, ``to_dict``/``from_dict``).
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers only; at run time see __getattr__
    from cifranegra.estimation.api import (
        METHODS,
        ListLimits,
        check_estimator,
        check_lists,
        estimate,
        from_dict,
        list_limits,
        max_lists,
        register,
        to_dict,
    )
    from cifranegra.estimation.classic import Chao, Independence, SaturatedMinusTop
    from cifranegra.estimation.compare import compare
    from cifranegra.estimation.coverage import SampleCoverage
    from cifranegra.estimation.dga import DGA
    from cifranegra.estimation.histories import CaptureDataWarning, CaptureHistories, StrataTables
    from cifranegra.estimation.lcmcr import LCMCR
    from cifranegra.estimation.loglinear import LogLinear
    from cifranegra.estimation.models import HierarchicalModel, enumerate_models
    from cifranegra.estimation.petersen import Chapman, Petersen
    from cifranegra.estimation.result import EstimateResult, Interval

_API = "cifranegra.estimation.api"
_LAZY = {
    "METHODS": _API,
    "ListLimits": _API,
    "check_estimator": _API,
    "check_lists": _API,
    "estimate": _API,
    "from_dict": _API,
    "list_limits": _API,
    "max_lists": _API,
    "register": _API,
    "to_dict": _API,
    "CaptureDataWarning": "cifranegra.estimation.histories",
    "CaptureHistories": "cifranegra.estimation.histories",
    "StrataTables": "cifranegra.estimation.histories",
    "HierarchicalModel": "cifranegra.estimation.models",
    "enumerate_models": "cifranegra.estimation.models",
    "EstimateResult": "cifranegra.estimation.result",
    "Interval": "cifranegra.estimation.result",
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
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'cifranegra.estimation' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """Keeps ``cifranegra.estimation.compare`` the function: importing the submodule of the same name
    (which any ``from cifranegra.estimation.compare import ...`` does) would otherwise replace it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "compare" and isinstance(value, types.ModuleType):
            value = value.compare
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
    "from_dict",
    "list_limits",
    "max_lists",
    "register",
    "to_dict",
]
