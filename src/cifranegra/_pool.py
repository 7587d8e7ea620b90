"""A process pool that stops at once on an interrupt.

``concurrent.futures.ProcessPoolExecutor`` used as a context manager waits, on leaving, for every
task already submitted, so Ctrl-C during a bootstrap spread over processes was acted on only after
the whole remaining bootstrap had run. :func:`process_pool` cancels the tasks not started and ends
the worker processes when the block is left by an exception (an interrupt or an error), and waits
for them as usual otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any


@contextmanager
def process_pool(max_workers: int, mp_context: Any = None) -> Iterator[ProcessPoolExecutor]:
    """``ProcessPoolExecutor(max_workers, mp_context)`` as a context manager that, when its block
    raises (KeyboardInterrupt included), drops the queued tasks and terminates the workers before
    the exception goes on."""
    pool = ProcessPoolExecutor(max_workers=max_workers, mp_context=mp_context)
    try:
        yield pool
    except BaseException:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
        raise
    pool.shutdown(wait=True)
