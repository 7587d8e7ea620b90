"""cifranegra._pool.process_pool: an interrupt stops the pool's work at once (`estimate --help`: exit 130
on Ctrl-C). Before, a bootstrap spread over processes ran every task already submitted before the
interrupt took effect. Counts of tasks started, not wall-clock times (CI machines are loaded)."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import pytest

from cifranegra._pool import process_pool

TASKS = 40


def _task(folder: str, i: int) -> int:
    Path(folder, f"{i}.started").touch()
    time.sleep(0.3)
    return i


def _context():  # type: ignore[no-untyped-def]
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def test_an_interrupt_cancels_the_tasks_not_started_and_ends_the_workers(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), process_pool(2, _context()) as pool:
        futures = [pool.submit(_task, str(tmp_path), i) for i in range(TASKS)]
        futures[0].result()
        processes = list(pool._processes.values())  # type: ignore[attr-defined]
        raise KeyboardInterrupt
    started = len(list(tmp_path.glob("*.started")))
    time.sleep(1.0)  # a worker left running would go on starting tasks
    assert len(list(tmp_path.glob("*.started"))) == started
    assert started < TASKS // 2, started
    assert not any(p.is_alive() for p in processes)


def test_without_an_interrupt_every_task_runs(tmp_path: Path) -> None:
    with process_pool(2, _context()) as pool:
        assert sorted(pool.map(_task, [str(tmp_path)] * 6, range(6))) == list(range(6))
    assert len(list(tmp_path.glob("*.started"))) == 6
