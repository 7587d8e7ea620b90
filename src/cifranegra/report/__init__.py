"""cifranegra.report: what may leave the office — disclosure-controlled tables, charts and reports
(see DESIGN.md for this layer's role).

``publish`` is loaded on first use, so that importing the package stays light (the report extra —
matplotlib, Jinja2, WeasyPrint — is only needed when a report is written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cifranegra.report.render import publish

__all__ = ["publish"]


def __getattr__(name: str) -> Any:
    if name == "publish":
        from cifranegra.report.render import publish

        return publish
    raise AttributeError(f"module 'cifranegra.report' has no attribute {name!r}")
