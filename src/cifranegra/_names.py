"""Sequence arguments given as one bare string.

``tabulate(entities, lists, "sex")`` or ``read_lists("a.csv")`` iterated the string letter by letter
and failed with messages about columns 's', 'e', 'x' or files 'a', '.', 'c'. One string (or path)
where a sequence of names or paths goes is that one item.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def as_items(value: Iterable[T] | str | os.PathLike[str]) -> list[Any]:
    """``[value]`` for a bare string or path, ``list(value)`` otherwise."""
    if isinstance(value, (str, bytes, os.PathLike)):
        return [value]
    return list(value)
