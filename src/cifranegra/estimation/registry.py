"""The table of estimators: method name → where its spec class lives (and any options it fixes).

This is the one place that says which estimators exist. It is data only: it imports nothing from
the estimators (nor from :mod:`cifranegra.estimation.api`, which reads it), so listing the methods
(``cifranegra estimate --method``'s choices, a project file's check) costs no import of scipy,
pandas, numba or any estimator module. A spec class is imported on first use (:meth:`MethodEntry.load`).

An entry's ``preset`` fixes options of its class: a name for a particular setting of a general
estimator (the user cannot set those options under that name).

To add a method: write its spec (a frozen dataclass whose init fields are its options, validated in
``__post_init__`` with :class:`~cifranegra.errors.InputError`, and ``fit(histories, rng=None)``),
add one line here, and document it in docs/estimation.md; the contract test
(tests/estimation/test_contract.py) then runs it through every check.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from types import MappingProxyType
from typing import Any

_EST = "cifranegra.estimation."


@dataclass(frozen=True)
class MethodEntry:
    """Where method's spec class lives (``module``, ``cls``) and the options the name fixes."""

    module: str
    cls: str
    preset: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def load(self) -> Any:
        """The spec class (importing its module now, once)."""
        return getattr(import_module(self.module), self.cls)

    def available(self) -> bool:
        """True when the module can be imported (found on the path; not imported here)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):  # pragma: no cover - a parent package missing
            return False


def _entry(module: str, cls: str, **preset: Any) -> MethodEntry:
    return MethodEntry(_EST + module, cls, MappingProxyType(preset))


#: every built-in method, in the order a spec class's canonical name is looked up (the first name
#: of a class is the one :func:`~cifranegra.estimation.api.to_dict` writes; later ones are aliases)
TABLE: Mapping[str, MethodEntry] = MappingProxyType(
    {
        # log-linear family and Rcapture's classic models
        "loglinear": _entry("loglinear", "LogLinear"),
        "independence": _entry("classic", "Independence"),
        "mt": _entry("classic", "Independence"),  # Rcapture's name for the same model
        "chao": _entry("classic", "Chao"),
        "saturated": _entry("classic", "SaturatedMinusTop"),
        # two lists
        "petersen": _entry("petersen", "Petersen"),
        "chapman": _entry("petersen", "Chapman"),
        # Rcapture's heterogeneity models (closedp.t)
        "m0": _entry("heterogeneity", "M0"),
        "mh-chao": _entry("heterogeneity", "MhChao"),
        "mh-poisson2": _entry("heterogeneity", "MhPoisson2"),
        "mh-darroch": _entry("heterogeneity", "MhDarroch"),
        "mh-gamma3.5": _entry("heterogeneity", "MhGamma35"),
        "mth-chao": _entry("heterogeneity", "MthChao"),
        "mth-poisson2": _entry("heterogeneity", "MthPoisson2"),
        "mth-darroch": _entry("heterogeneity", "MthDarroch"),
        "mth-gamma3.5": _entry("heterogeneity", "MthGamma35"),
        # Bayesian and coverage families
        "lcmcr": _entry("lcmcr", "LCMCR"),
        "dga": _entry("dga", "DGA"),
        "sample-coverage": _entry("coverage", "SampleCoverage"),
    }
)
