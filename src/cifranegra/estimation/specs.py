"""Checks of estimator options, for the specs' ``__post_init__`` (the estimator contract).

Each check returns a problem ("level must be ...") or None; a spec collects them and raises one
:class:`~cifranegra.errors.InputError`, so the user sees every bad option at once. A message starts
with the option's name, which :func:`cifranegra.estimation.api.check_estimator` rewrites into the
caller's spelling (``--max-n``, a project file's key). Values of the wrong type (a word for a
number, true for a count) are problems too, never a ``TypeError``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from cifranegra.errors import InputError


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"a {type(value).__name__} of {len(text)} characters"


def is_whole(value: Any) -> bool:
    """A whole number (an int, or a float with no fraction), not a boolean."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return False
    if isinstance(value, np.integer):
        return True
    return isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer()


def is_number(value: Any) -> bool:
    """A finite real number (not a boolean)."""
    if isinstance(value, bool):
        return False
    if not (isinstance(value, (int, float)) or type(value).__module__ == "numpy"):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


def level(name: str, value: Any) -> str | None:
    """An interval level strictly between 0 and 1."""
    if not is_number(value) or not 0 < value < 1:
        return f"{name} must be a number between 0 and 1 (e.g. 0.95), got {_shown(value)}"
    return None


def whole(name: str, value: Any, low: int, *, optional: bool = False) -> str | None:
    """A whole number at least ``low`` (or None when ``optional``)."""
    if optional and value is None:
        return None
    if not is_whole(value) or value < low:
        return f"{name} must be a whole number ≥ {low}, got {_shown(value)}"
    return None


def positive(name: str, value: Any, *, optional: bool = False, what: str = "") -> str | None:
    """A finite number above 0 (or None when ``optional``)."""
    if optional and value is None:
        return None
    if not is_number(value) or not value > 0:
        return f"{name}{' (' + what + ')' if what else ''} must be a positive number, got {_shown(value)}"
    return None


def choice(name: str, value: Any, choices: Iterable[str]) -> str | None:
    """One of the words in ``choices``."""
    options = list(choices)
    if not isinstance(value, str) or value not in options:
        return f"{name} must be one of {', '.join(options)}, got {_shown(value)}"
    return None


def raise_problems(*problems: str | None) -> None:
    """One InputError listing every problem found (none: nothing happens)."""
    found = [p for p in problems if p]
    if found:
        raise InputError("; ".join(found))
