"""numba, loaded without the scipy.linalg import it does not need here.

When numba loads its first compiled function it imports ``numba.np.arraymath``, which imports
``scipy.linalg`` only to find out whether a BLAS is there (``_HAVE_BLAS``; it decides whether the
compiled ``np.correlate``/``np.convolve`` call BLAS). That import costs about 0.17 s of every
process that runs a compiled kernel (0.2 s of LCMCR's 0.85 s start-up on this machine; the kernels
in cifranegra use no BLAS). :func:`load` imports ``numba.np.arraymath`` once with ``scipy.linalg``
hidden, so the check says "no BLAS" and numba carries on; numba's linear algebra (``np.dot``,
``np.linalg``) still imports scipy when a kernel using it is compiled (``ensure_blas`` runs again
then), so nothing is lost. Where scipy.linalg is already imported, the import is free and nothing is
hidden.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

_HIDDEN = "scipy.linalg"


class _HideScipyLinalg(importlib.abc.MetaPathFinder):
    """Refuses ``scipy.linalg`` (and its submodules) while numba checks for a BLAS."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname == _HIDDEN or fullname.startswith(_HIDDEN + "."):
            raise ImportError(f"{fullname} hidden while numba loads (cifranegra._numba)")
        return None


def load() -> ModuleType:
    """Import numba and its array support (see the module's docstring); returns ``numba``."""
    import numba

    if "numba.np.arraymath" not in sys.modules and _HIDDEN not in sys.modules:
        finder = _HideScipyLinalg()
        sys.meta_path.insert(0, finder)
        try:
            import numba.np.arraymath
        finally:
            sys.meta_path.remove(finder)
    return numba
