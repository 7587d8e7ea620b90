"""cifranegra: estimate the hidden number of victims of human trafficking from overlapping lists.

The public surface is re-exported here and pinned by ``tests/test_public_api.py``.
"""

from cifranegra._version import __version__
from cifranegra.errors import CifranegraError, InputError, ModelError, ValidationError
from cifranegra.estimation import (
    CaptureHistories,
    EstimateResult,
    HierarchicalModel,
    Interval,
    estimate,
)

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
