"""The bundled demo: six synthetic agencies' lists of one population (true N 5,000).

Made by :func:`regenerate` (``simulate(n_persons=5000, n_agencies=6, seed=DEMO_SEED)``); every
person is fictitious. ``manifest.json`` names the files, their formats and the mapping file of the
agency whose headers need one; ``truth.csv`` gives the person behind each record and
``truth_by_stratum.csv`` the true N by state, sex and age group; ``project.toml`` runs the
pipeline on them (``cifranegra demo``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "DEMO_PERSONS",
    "DEMO_SEED",
    "demo_directory",
    "demo_lists",
    "demo_manifest",
    "regenerate",
]

DEMO_SEED = 20240601
DEMO_PERSONS = 5000


def demo_directory() -> Path:
    """Folder holding the demo files."""
    return Path(str(resources.files("cifranegra.datasets.demo")))


def demo_manifest() -> dict[str, Any]:
    """The demo's manifest (files, formats, parameters, true N)."""
    data: dict[str, Any] = json.loads((demo_directory() / "manifest.json").read_text("utf-8"))
    return data


def demo_lists() -> list[dict[str, Any]]:
    """One entry per agency: ``source``, ``path`` and ``mapping`` (a path or ``None``), ready for
    ``cifranegra.ingest.read_list(path, mapping, source)``."""
    d = demo_directory()
    return [
        {
            "source": e["source"],
            "path": d / e["file"],
            "mapping": d / e["mapping"] if e.get("mapping") else None,
        }
        for e in demo_manifest()["lists"]
    ]


def regenerate(directory: str | Path) -> dict[str, Any]:
    """Write the demo files again into ``directory`` (deterministic) and return the manifest."""
    from cifranegra.datasets.synthetic import simulate

    sim = simulate(n_persons=DEMO_PERSONS, n_agencies=6, seed=DEMO_SEED)
    return sim.write(directory, persons=False)
