"""One entry point, ``estimate(histories, method=...)``, over every estimator family.

Each family is a spec class (settings only, validated at construction) with
``fit(histories, rng=None) -> EstimateResult``. ``METHODS`` maps the public method names (those of
``cifranegra estimate --method``) to a factory taking the keyword options.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from cifranegra.errors import InputError
from cifranegra.estimation.histories import CaptureHistories
from cifranegra.estimation.result import EstimateResult


class Estimator(Protocol):
    def fit(self, histories: CaptureHistories, rng: Any = None) -> EstimateResult: ...


METHODS: dict[str, Callable[..., Estimator]] = {}


def register(name: str, factory: Callable[..., Estimator]) -> None:
    """Make an estimator available to ``estimate`` and the CLI under ``name``."""
    METHODS[name] = factory


def estimate(
    histories: CaptureHistories, method: str = "loglinear", *, seed: Any = None, **options: Any
) -> EstimateResult:
    """Fit ``method`` with ``options`` to ``histories``; ``seed`` drives every random step."""
    _load_builtin()
    try:
        factory = METHODS[method]
    except KeyError:
        raise InputError(f"unknown method {method!r}; choose one of {sorted(METHODS)}") from None
    spec = factory(**options)
    return spec.fit(histories, rng=seed)


def _load_builtin() -> None:
    # importing the modules registers their methods
    from cifranegra.estimation import registry  # noqa: F401
