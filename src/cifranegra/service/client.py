"""The agency's side of a submission: send one encoded file to the hub (``cifranegra hub submit``).

A retry can never create a second submission: the ``Idempotency-Key`` is the SHA-256 of the file's
content and the study name, so a repeated request — after a dropped connection, a 5xx, or running the
command again next day — names the submission the hub already holds and gets it back (200, same id).
Connection errors and 5xx answers are retried with exponential backoff; a 4xx is the hub's verdict
and is not. The token is read from a file and never appears in a message.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from cifranegra.errors import CifranegraError, InputError

PARQUET_TYPE = "application/vnd.apache.parquet"
MAX_BACKOFF_S = 8.0


def idempotency_key(data: bytes, study: str) -> str:
    """The key of a file for a study: equal for the same content and study, whoever sends it when."""
    return hashlib.sha256(data + b"\x00" + study.encode("utf-8")).hexdigest()


def read_token(token_file: str | os.PathLike[str]) -> str:
    """The bearer token from ``token_file`` (its first line); errors name the file, never its content."""
    name = str(token_file)
    path = Path(token_file)
    if not path.exists() and "/" not in name and len(name) >= 32 and "." not in name:
        raise InputError("the value given to --token-file looks like a token itself, not a file name; never type "
                         "the token on the command line: save it in a file readable only by you and give that file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"token file {name!r} not found; check the path given to --token-file") from None
    except IsADirectoryError:
        raise InputError(f"token file {name!r} is a folder; give the file holding the token") from None
    except UnicodeDecodeError:
        raise InputError(f"token file {name!r} is not text; save the token the hub gave at login in it") from None
    except OSError as exc:
        raise InputError(f"cannot read token file {name!r}: {exc.strerror}") from None
    lines = text.strip().splitlines()
    token = lines[0].strip() if lines else ""
    if not token or any(c.isspace() for c in token):
        raise InputError(f"token file {name!r} holds no token on its first line; save the token the hub gave at "
                         "login (POST /api/v1/login) in it")
    return token


def _check_hub_url(hub: str) -> str:
    """``hub`` without a trailing slash; plain http only to this machine (the token would travel in clear)."""
    parts = urlsplit(hub.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"--hub {hub!r} is not a web address; give the hub's address, e.g. https://hub.example.org")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise InputError(f"--hub {hub!r} uses plain http to another machine, which would send the token and the file "
                         "in clear; use the hub's https:// address")
    return hub.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_file(path: str | os.PathLike[str]) -> bytes:
    name = str(path)
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"file {name!r} not found; give the encoded file written by `cifranegra encode`") from None
    except IsADirectoryError:
        raise InputError(f"{name!r} is a folder; give the encoded file written by `cifranegra encode`") from None
    except OSError as exc:
        raise InputError(f"cannot read {name!r}: {exc.strerror}") from None


def _check_encoded(path: str | os.PathLike[str]) -> None:
    """The file is read here as the hub will read it, before anything is sent: a plain agency list
    (names, CURPs) given by mistake must never leave the agency, not even to be refused, and a dry
    run sends the whole file too. Errors name the file, never its content."""
    from cifranegra.ingest.encoded import read_encoded

    try:
        read_encoded(path)
    except InputError as exc:  # ValidationError included
        raise InputError(f"nothing was sent: {exc}") from None


def _error_message(response: Any) -> str:
    """The hub's error message (its one JSON shape), or a short description when the body is not that."""
    try:
        body = response.json()
        error = body["error"]
        message = str(error["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
    problems = error.get("problems") if isinstance(error, dict) else None
    if isinstance(problems, list) and problems:
        lines = [f"  - {p.get('message', p)}" if isinstance(p, dict) else f"  - {p}" for p in problems]
        return message + "\n" + "\n".join(lines)
    return message


def submit(
    path: str | os.PathLike[str],
    *,
    hub: str,
    study: str,
    token_file: str | os.PathLike[str],
    dry_run: bool = False,
    retries: int = 5,
    timeout: float = 60.0,
    transport: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Submit the encoded file ``path`` to ``study`` on ``hub``; returns the hub's JSON answer
    (``{"id", "sha256", "n_records", "problems"}``; a dry run: the validation report, nothing kept).
    The file is first read and checked here as the hub reads it: anything but an encoded list is
    refused before a byte is sent.

    ``retries``: further attempts after a connection error or a 5xx (backoff 0.5 s, doubling, at most
    8 s). ``transport``: an httpx transport (tests). Errors are :class:`CifranegraError` with the
    hub's message.
    """
    import httpx

    if retries < 0:
        raise InputError("retries must be 0 or more")
    base = _check_hub_url(hub)
    if not study.strip():
        raise InputError("--study is empty; give the study's name as the coordinator created it")
    token = read_token(token_file)
    data = _read_file(path)
    _check_encoded(path)
    url = f"{base}/api/v1/studies/{quote(study, safe='')}/submissions"
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": PARQUET_TYPE,
        "Idempotency-Key": idempotency_key(data, study),
    }
    params = {"dry_run": "true"} if dry_run else {}
    last = ""
    with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
        for attempt in range(retries + 1):
            if attempt:
                sleep(min(MAX_BACKOFF_S, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))
            try:
                response = client.post(url, content=data, headers=headers, params=params)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__} ({exc})" if str(exc) else type(exc).__name__
                continue
            if response.status_code >= 500:
                last = f"HTTP {response.status_code}: {_error_message(response)}"
                continue
            return _answer(response, data, study, str(path))
    raise CifranegraError(f"could not submit {str(path)!r} to {base} after {retries + 1} attempt(s); last: {last}. "
                          "Running the same command again is safe: the hub keeps one copy of a file")


def _answer(response: Any, data: bytes, study: str, name: str) -> dict[str, Any]:
    status = response.status_code
    if status == 401:
        raise CifranegraError("the hub did not accept the token (missing, expired or revoked); log in again and "
                              "save the new token in the --token-file")
    if status == 404:
        raise CifranegraError(f"the hub has no study {study!r} that your account may submit to; check --study and "
                              "--hub with the coordinator")
    if status == 413:
        raise CifranegraError(f"{name!r} is larger than the hub accepts; {_error_message(response)}")
    if status >= 400:
        raise CifranegraError(f"the hub refused {name!r} (HTTP {status}): {_error_message(response)}")
    try:
        body = response.json()
    except ValueError:
        raise CifranegraError(f"the hub's answer (HTTP {status}) is not JSON; is --hub the hub's address?") from None
    if not isinstance(body, dict):
        raise CifranegraError(f"the hub's answer (HTTP {status}) is not a JSON object; is --hub the hub's address?")
    sent = hashlib.sha256(data).hexdigest()
    if body.get("sha256") not in (None, sent):
        raise CifranegraError(f"the hub holds a file with another checksum than {name!r}; the upload was altered in "
                              "transit: submit again and tell the coordinator")
    return body
