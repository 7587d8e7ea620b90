"""One private folder for the linkage engines' working files, removed when linkage ends.

DuckDB spills to disk when memory runs short and Spark writes checkpoints, shuffle files and a
warehouse; all of them hold plaintext names, CURPs and birth dates. They go to a single folder that
only the user running cifranegra can open (mode 0700, files created while it is in use get mode
0600), made fresh for each linkage (``cifranegra-*`` in the system temporary folder, or in the
``work_dir`` of :class:`~cifranegra.linkage.LinkageSettings`) and removed at the end, also when
linkage fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

from cifranegra.errors import InputError

#: Prefix of every engine working folder.
PREFIX = "cifranegra-"

_umask_lock = threading.Lock()
_umask_users = 0
_umask_saved = 0


class WorkDirWarning(UserWarning):
    """An engine working folder could not be removed completely (it is named, so it can be)."""


def check_work_dir(parent: str | os.PathLike[str]) -> Path:
    """The configured parent folder of the engine working folders, or a clear :class:`InputError`."""
    path = Path(parent).expanduser()
    if not path.exists():
        raise InputError(
            f"linkage work_dir {str(path)!r} does not exist; create it (a folder on a local disk that only "
            "you can read) or leave work_dir out to use the system temporary folder"
        )
    if not path.is_dir():
        raise InputError(f"linkage work_dir {str(path)!r} is not a folder; point work_dir at a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(
            f"linkage work_dir {str(path)!r} is not writable by you; choose a folder you can write to"
        )
    return path


@contextlib.contextmanager
def _private_umask() -> Iterator[None]:
    """Files created meanwhile are readable by their owner only (umask 077; process-wide, so
    restored only when the last concurrent linkage ends)."""
    global _umask_users, _umask_saved
    with _umask_lock:
        if _umask_users == 0:
            _umask_saved = os.umask(0o077)
        _umask_users += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_users -= 1
            if _umask_users == 0:
                os.umask(_umask_saved)


def _remove(path: Path) -> None:
    def retry(func: object, name: str, _exc: object) -> None:
        # a folder a process made read-only: make it writable by us, then try once more
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), stat.S_IRWXU)
            os.chmod(name, stat.S_IRWXU)
            if os.path.isdir(name) and not os.path.islink(name):
                shutil.rmtree(name, ignore_errors=True)
            else:
                os.unlink(name)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)
    if path.exists():
        warnings.warn(
            f"the linkage working folder {str(path)!r} could not be removed completely; it may hold "
            "identifying data: delete it by hand",
            WorkDirWarning,
            stacklevel=4,
        )


@contextlib.contextmanager
def private_work_dir(parent: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """A fresh folder (mode 0700) for the engines' working files, removed on exit whatever happens.

    ``parent`` is where to make it (checked with :func:`check_work_dir`); by default the system
    temporary folder (``TMPDIR``).
    """
    base = None if parent is None else str(check_work_dir(parent))
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
    try:
        os.chmod(path, stat.S_IRWXU)
        with _private_umask():
            yield path
    finally:
        _remove(path)
