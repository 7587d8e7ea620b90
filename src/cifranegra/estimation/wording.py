"""How estimation messages name an option: as both faces spell it.

Messages from the estimators reach users of the command line (``--max-n 50000``) and of Python
(``max_n=50000``) alike; the core does not know which is reading, so it names both. CLI flags are the
option names with dashes (``cifranegra estimate --max-n``), which the CLI guarantees.
"""

from __future__ import annotations

from typing import Any

_MISSING = object()


def flag(name: str) -> str:
    """The command-line flag of estimator option ``name``: ``max_n`` → ``--max-n``."""
    return "--" + name.replace("_", "-")


def option(name: str, value: Any = _MISSING) -> str:
    """``--variant low (variant='low' in Python)``; without a value, ``--max-n (max_n in Python)``."""
    if value is _MISSING:
        return f"{flag(name)} ({name} in Python)"
    return f"{flag(name)} {value} ({name}={value!r} in Python)"
