"""The app factory: :func:`create_app` wires the database, storage, error shape, audit and routers.

``app.state`` carries ``home`` (:class:`~.config.HubHome`), ``engine``, ``sessions`` (a sessionmaker) and
``storage`` (:class:`~.storage.Storage`, or ``None`` while that module is absent). Routers are the modules
``cifranegra.service.routers.<name>`` for the names in :data:`API_ROUTERS`, each exposing ``router``,
included under ``/api/v1``; the web pages (``cifranegra.service.web``) at ``/``. A router module that does
not exist is skipped (the hub is built in parts); any other import error propagates, so a broken router
never leaves a hub silently without its routes.

On start-up: ``storage.sweep_orphans`` (files left by a crash between writing a blob and committing its
key) and ``jobs.requeue_stale`` (runs whose worker died). The schema is not migrated here: ``hub init``
and ``hub serve`` run the migrations before any worker starts (:mod:`.migrate`).

:func:`serve` runs uvicorn with :func:`app_from_environment` as the factory (so that ``--workers N`` can
start N processes, each building its own app from ``$CIFRANEGRA_HUB_HOME``), plus one job-runner process.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy.orm import Session, sessionmaker

from cifranegra._version import __version__
from cifranegra.service import http_errors
from cifranegra.service.audit import AuditMiddleware
from cifranegra.service.config import HubHome, load_home
from cifranegra.service.db import make_engine, session_factory, transaction

log = logging.getLogger("cifranegra.service")

API_PREFIX = "/api/v1"
API_ROUTERS = ("auth", "users", "studies", "submissions", "runs", "releases", "public", "audit", "health")
HOME_ENV = "CIFRANEGRA_HUB_HOME"
DB_ENV = "CIFRANEGRA_HUB_DB"


def optional_module(name: str) -> ModuleType | None:
    """``importlib.import_module(name)``, or ``None`` when that very module does not exist."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def _make_storage(home: HubHome, sessions: sessionmaker[Session]) -> Any:
    """The encrypted store (``storage.open_storage``: finishes an interrupted key rotation and refuses a
    master key that is not the database's), or ``None`` while the storage module is absent."""
    module = optional_module("cifranegra.service.storage")
    if module is None:
        return None
    opener = getattr(module, "open_storage", None)
    if opener is None:
        return module.Storage(home.storage_dir, module.MasterKey.load(home.master_key_path))
    with transaction(sessions) as session:
        return opener(home, session)


def _startup(app: FastAPI) -> None:
    storage = app.state.storage
    if storage is not None and hasattr(storage, "sweep_orphans"):
        with transaction(app.state.sessions) as session:
            removed = storage.sweep_orphans(session)
        if removed:
            log.info("removed %d orphan storage file(s)", removed)
    jobs = optional_module("cifranegra.service.jobs")
    if jobs is not None and hasattr(jobs, "requeue_stale"):
        jobs.requeue_stale(app.state.sessions)


def create_app(home: HubHome) -> FastAPI:
    """The hub's FastAPI application for ``home`` (migrated already)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _startup(app)
        yield
        app.state.engine.dispose()

    app = FastAPI(
        title="cifranegra hub",
        version=__version__,
        description="Agencies submit encoded lists; a coordinating office links, estimates and releases. "
        "Errors: {\"error\": {\"status\", \"code\", \"message\"}}.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.home = home
    app.state.engine = make_engine(home.db_url)
    app.state.sessions = session_factory(app.state.engine)
    app.state.storage = _make_storage(home, app.state.sessions)
    http_errors.install(app)
    app.add_middleware(http_errors.BodyLimitMiddleware)  # inside the audit middleware: a 413 is audited
    app.add_middleware(AuditMiddleware, factory_of=lambda: app.state.sessions)
    for name in API_ROUTERS:
        module = optional_module(f"cifranegra.service.routers.{name}")
        if module is not None:
            app.include_router(module.router, prefix=API_PREFIX)
    web = optional_module("cifranegra.service.web")
    if web is not None:
        app.include_router(web.router)
        mount = getattr(web, "mount_static", None)
        if callable(mount):
            mount(app)
        page = getattr(web, "error_page", None)
        if callable(page):
            app.state.html_error = lambda request, status: page(request, None, status)
    return app


def get_session(request: Request) -> Iterator[Session]:
    """A dependency: one database session per request (closed after; the route commits)."""
    with request.app.state.sessions() as session:
        yield session


def app_from_environment() -> FastAPI:
    """The app of the home named by ``$CIFRANEGRA_HUB_HOME`` (uvicorn's factory in :func:`serve`)."""
    return create_app(load_home(os.environ[HOME_ENV], db_url=os.environ.get(DB_ENV) or None))


def run_job_runner(home: HubHome, parent_pid: int | None = None) -> None:
    """The job-runner process of :func:`serve`: ``jobs.run_forever(home)``, ended with its parent (on Linux,
    ``PR_SET_PDEATHSIG``: a runner never outlives a killed server; its run's lease then expires and the
    next server's runner retries it)."""
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if parent_pid is not None and os.getppid() != parent_pid:
        return  # the server died before the line above took effect
    jobs = optional_module("cifranegra.service.jobs")
    if jobs is not None:
        jobs.run_forever(home)


def serve(home: HubHome, *, host: str = "127.0.0.1", port: int = 8765, workers: int = 1) -> None:
    """Run the hub: migrate, start one job runner (if the jobs module is present), then uvicorn."""
    import multiprocessing

    import uvicorn

    from cifranegra.service import migrate

    migrate.upgrade(home.db_url)
    os.environ[HOME_ENV] = str(home.path)
    os.environ[DB_ENV] = home.db_url
    runner = None
    jobs = optional_module("cifranegra.service.jobs")
    if jobs is not None and hasattr(jobs, "run_forever"):
        # not a daemon: a run may start processes of its own, which a daemon may not
        runner = multiprocessing.get_context("spawn").Process(
            target=run_job_runner, args=(home, os.getpid()), name="cifranegra-hub-jobs", daemon=False
        )
        runner.start()
    try:
        uvicorn.run(
            "cifranegra.service.app:app_from_environment",
            factory=True, host=host, port=port, workers=max(1, workers), log_level="info",
            proxy_headers=True, server_header=False,
        )
    finally:
        if runner is not None and runner.is_alive():
            runner.terminate()
            runner.join(timeout=10)
