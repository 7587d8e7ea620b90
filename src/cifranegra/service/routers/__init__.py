"""The hub's HTTP API, one module per resource, each exposing ``router = APIRouter()``.

:func:`cifranegra.service.app.create_app` includes them under ``/api/v1``.
"""
