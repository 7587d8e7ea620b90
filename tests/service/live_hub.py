"""A real hub server in a subprocess, for the kill -9 test and bench/bench_hub.py.

:class:`LiveHub` runs ``cifranegra hub serve HOME --port P --workers N`` (uvicorn workers plus the job
runner) in its own process group, so that :meth:`LiveHub.kill` can SIGKILL the whole group at once —
what a power cut or the OOM killer does. :func:`setup_study` makes, through the API, the accounts an
upload needs: an agency, its submitter, a coordinator with a study, and an auditor.

Import as ``from service.live_hub import LiveHub`` (``tests`` is on ``pythonpath``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

API = "/api/v1"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def init_home(path: Path, admin: str = "admin") -> Path:
    """A new hub home at ``path`` with the account ``admin`` (password :data:`PASSWORD`)."""
    from cifranegra.service.config import init_home as _init

    _init(path, admin_user=admin, admin_password=PASSWORD)
    return path


class LiveHub:
    """``cifranegra hub serve`` on a free loopback port; logs to ``HOME/../serve-N.log``."""

    def __init__(self, home: Path, *, workers: int = 1, port: int | None = None) -> None:
        self.home = Path(home)
        self.workers = workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    def command(self) -> list[str]:
        args = [str(self.home), "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        if importlib.util.find_spec("cifranegra.cli.hub") is not None:
            return [sys.executable, "-m", "cifranegra", "hub", "serve", *args]
        code = ("import sys; from cifranegra.service.app import serve; from cifranegra.service.config import "
                "load_home; serve(load_home(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), "
                "workers=int(sys.argv[3]))")
        return [sys.executable, "-c", code, str(self.home), str(self.port), str(self.workers)]

    def start(self, timeout: float = 120.0) -> LiveHub:
        self.starts += 1
        self._log = open(self.home.parent / f"serve-{self.starts}.log", "wb")  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited with code {self.proc.returncode}; see {self.log_path()}")
            try:
                if httpx.get(self.url + API + "/healthz", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the hub did not answer within {timeout:.0f} s; see {self.log_path()}")

    def log_path(self) -> Path:
        return self.home.parent / f"serve-{self.starts}.log"

    def kill(self) -> None:
        """SIGKILL the server's whole process group (uvicorn's workers and the job runner)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._wait_group_gone(self.proc.pid)
        self._close()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it does not end in ``timeout``."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._wait_group_gone(self.proc.pid)
        self._close()

    def _wait_group_gone(self, pgid: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def _close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        self.proc = None

    def __enter__(self) -> LiveHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class StudyAccounts:
    study: str
    agency: str
    submitter: str  # bearer tokens
    coordinator: str
    auditor: str


def login(url: str, username: str) -> str:
    r = httpx.post(url + API + "/login", json={"username": username, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return str(r.json()["token"])


def _post(url: str, path: str, token: str, body: dict[str, object]) -> None:
    r = httpx.post(url + API + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if r.status_code != 201:
        raise RuntimeError(f"POST {path}: {r.status_code} {r.text}")


def setup_study(url: str, study: str = "crashstudy", agency: str = "Agency A", admin: str = "admin") -> StudyAccounts:
    """Through the API: the agency, a coordinator who creates ``study``, the agency's submitter, an auditor."""
    admin_token = login(url, admin)
    _post(url, "/agencies", admin_token, {"name": agency})
    _post(url, "/users", admin_token, {"username": "coord", "password": PASSWORD, "role": "coordinator"})
    coordinator = login(url, "coord")
    _post(url, "/studies", coordinator, {"name": study})
    _post(url, "/users", admin_token, {"username": "submitter", "password": PASSWORD, "role": "agency_submitter",
                                       "agency": agency, "study": study})
    _post(url, "/users", admin_token, {"username": "auditor", "password": PASSWORD, "role": "auditor"})
    return StudyAccounts(study, agency, login(url, "submitter"), coordinator, login(url, "auditor"))
