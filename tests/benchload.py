"""Load a script of ``bench/`` as a module, for the tests that check its code (``bench/`` is not a
package, so its scripts are loaded by path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load_bench(script: str) -> ModuleType:
    """``bench/SCRIPT`` as the module ``cifranegra_bench_<stem>``, registered in ``sys.modules``
    (dataclasses need it)."""
    path = BENCH / script
    spec = importlib.util.spec_from_file_location(f"cifranegra_bench_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
