"""The pipeline (layer 4): a project file → ingest → link → tabulate → estimate → results.

See docs/pipeline.md. Public API: :func:`load_project`, :func:`run_project`, :func:`demo_project`,
:func:`tabulate`, :class:`Project`, :class:`ListSpec`, :class:`RunResult`; the checks made before
the linkage (:func:`check_output`, :func:`check_strata`, :func:`check_compatible`).
"""

from pathlib import Path

from cifranegra.pipeline.project import (
    MAX_LISTS,
    STRATA,
    UNRECOGNISED,
    ListSpec,
    Project,
    load_project,
    project_from_dict,
)
from cifranegra.pipeline.run import (
    RunResult,
    check_compatible,
    check_output,
    check_strata,
    estimate_all,
    histories_by_stratum,
    link_project,
    linkage_sensitivity,
    read_project_lists,
    run_project,
    tabulate,
    write_results,
)


def demo_project() -> Path:
    """Path of the bundled demo project file (synthetic Mexican agency lists)."""
    from importlib.resources import files

    return Path(str(files("cifranegra.datasets") / "demo" / "project.toml"))


__all__ = [
    "MAX_LISTS",
    "STRATA",
    "UNRECOGNISED",
    "ListSpec",
    "Project",
    "RunResult",
    "check_compatible",
    "check_output",
    "check_strata",
    "demo_project",
    "estimate_all",
    "histories_by_stratum",
    "link_project",
    "linkage_sensitivity",
    "load_project",
    "project_from_dict",
    "read_project_lists",
    "run_project",
    "tabulate",
    "write_results",
]
