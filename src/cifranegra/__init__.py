"""cifranegra: estimate the hidden number of victims of human trafficking from overlapping lists.

The public surface is re-exported here and pinned by ``tests/test_public_api.py``. The estimation
names are loaded on first use (PEP 562), so that ``import cifranegra`` — and therefore every
command's start-up — imports neither numpy, pandas nor scipy until a command needs them
(``tests/test_import_laziness.py``).
"""

import importlib as _importlib
import typing as _typing

from cifranegra._version import __version__
from cifranegra.errors import CifranegraError, InputError, ModelError, ValidationError

if _typing.TYPE_CHECKING:  # pragma: no cover - for type checkers only; at run time see __getattr__
    from cifranegra.estimation import (
        CaptureHistories,
        EstimateResult,
        HierarchicalModel,
        Interval,
        estimate,
    )

_LAZY = {
    "CaptureHistories": "cifranegra.estimation",
    "EstimateResult": "cifranegra.estimation",
    "HierarchicalModel": "cifranegra.estimation",
    "Interval": "cifranegra.estimation",
    "estimate": "cifranegra.estimation",
}


def __getattr__(name: str) -> _typing.Any:
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'cifranegra' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*(n for n in globals() if not n.startswith("_")), *_LAZY, *__all__})


__all__ = [
    "CaptureHistories",
    "CifranegraError",
    "EstimateResult",
    "HierarchicalModel",
    "InputError",
    "Interval",
    "ModelError",
    "ValidationError",
    "__version__",
    "estimate",
]
