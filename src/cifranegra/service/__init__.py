"""The hub: agencies submit encoded lists; a coordinating office links, estimates and releases.

An optional part (``pip install 'cifranegra[hub]'``): FastAPI app factory (:func:`create_app`), one
router module per resource, encrypted storage, durable jobs and an audit log. See docs/hub.md.

``import cifranegra.service`` stays light: :func:`create_app` (and FastAPI with it) is imported only when
first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cifranegra.service.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from cifranegra.service.app import create_app

        return create_app
    raise AttributeError(f"module 'cifranegra.service' has no attribute {name!r}")
