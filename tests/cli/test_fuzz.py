"""A bounded fuzz suite: mutated inputs through the commands, in process, with the generators of
``bench/fuzz.py`` (loaded by path: ``bench/`` is not a package). Every input must end without an
uncaught exception (nothing escaping ``main``, no exit code 3) and without printing any identifier
planted in it. The full campaign (≥ 10,000 inputs, every command) is ``python bench/fuzz.py``.

Examples are derandomized (the same inputs on every run) so that a failure is reproducible: the
failing case's command and index rerun with ``python bench/fuzz.py --case COMMAND:INDEX --seed 0``.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchload import load_bench

fuzz = load_bench("fuzz.py")
fuzz.QUICK = True  # fast options only: the slow ones are the full campaign's business
SEED = 0


def _check(command: str, index: int, tmp: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"{command}-{index}-", dir=tmp))  # hypothesis may repeat an index
    case = fuzz.build_case(command, SEED, index, folder)
    outcome = fuzz.run_case(case, timeout=120, folder=folder)
    where = f"python bench/fuzz.py --seed {SEED} --case {command}:{index}  argv={case.argv} mutations={case.mutations}"
    assert outcome.uncaught is None, f"uncaught {outcome.uncaught}: {where}\n{outcome.stderr_tail}"
    assert not outcome.identifiers, f"identifiers printed {outcome.identifiers[:3]}: {where}"
    assert outcome.exit_code in (0, 1, 2), f"exit {outcome.exit_code}: {where}"


def _fuzz_settings(n: int):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@_fuzz_settings(35)
@given(index=st.integers(0, 10**6))
def test_validate(index, tmp_path):
    _check("validate", index, tmp_path)


@_fuzz_settings(40)
@given(index=st.integers(0, 10**6))
def test_describe(index, tmp_path):
    _check("describe", index, tmp_path)


@_fuzz_settings(25)
@given(index=st.integers(0, 10**6))
def test_estimate(index, tmp_path):
    _check("estimate", index, tmp_path)


@_fuzz_settings(10)
@given(index=st.integers(0, 10**6))
def test_compare(index, tmp_path):
    _check("compare", index, tmp_path)


@_fuzz_settings(30)
@given(index=st.integers(0, 10**6))
def test_encode(index, tmp_path):
    _check("encode", index, tmp_path)


@_fuzz_settings(30)
@given(index=st.integers(0, 10**6))
def test_simulate(index, tmp_path):
    _check("simulate", index, tmp_path)


def test_cases_are_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for command in ("validate", "estimate", "encode", "run"):
        ca, cb = fuzz.build_case(command, 3, 17, a), fuzz.build_case(command, 3, 17, b)
        assert [x.replace(str(a), "") for x in ca.argv] == [x.replace(str(b), "") for x in cb.argv]
        assert ca.mutations == cb.mutations and ca.planted == cb.planted
    assert sorted(p.name for p in a.rglob("*")) == sorted(p.name for p in b.rglob("*"))


def test_detector_self_test():
    """Planted identifiers are flagged in text, escaped JSON and in several date formats, through
    the real cli.main too; code-list words and digits inside numbers are not."""
    assert fuzz.self_test() == []


def test_detector_details():
    p = fuzz.Planted()
    p.add_name("José Guadalupe Pérez")  # "guadalupe" is a word of the code lists (a place): not counted
    p.add_curp("PEJS100427HZSRRBA7")
    p.add_date(dt.date(2010, 4, 27), (dt.date(2023, 1, 1), dt.date(2023, 12, 31)))
    p.add_date(dt.date(2023, 5, 5), (dt.date(2023, 1, 1), dt.date(2023, 12, 31)))  # a registration date
    assert "jose" in p.names and "perez" in p.names
    assert dt.date(2023, 5, 5) not in p.dates
    kinds = {h["kind"] for h in fuzz.find_identifiers(json.dumps({"m": "JOSÉ 27/04/2010 100427HZS"}), p)}
    assert kinds == {"name", "birth_date", "curp"}
    assert fuzz.find_identifiers("observed 5100427 people, record DIF-2023-100427", p) == []  # digits alone


def test_plan_reaches_n_and_caps_run():
    counts = fuzz.plan(10_000, list(fuzz.COMMANDS), run_cases=200)
    assert sum(counts.values()) >= 10_000 and counts["run"] == 200
    assert set(counts) == set(fuzz.COMMANDS) and all(v > 0 for v in counts.values())


@pytest.mark.parametrize("command", ["validate", "estimate", "describe", "compare", "encode", "simulate", "run"])
def test_every_builder_makes_inputs(command, tmp_path):
    for index in range(5):
        folder = tmp_path / str(index)
        folder.mkdir()
        case = fuzz.build_case(command, SEED, index, folder)
        assert case.argv[0] == command and case.command == command


def _sleep(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def test_time_out_ends_worker_processes(monkeypatch):
    """A case waiting on a worker process is stopped by the wall-clock backstop and its worker is
    ended, also when the code joins its workers on the way out (as a process pool does)."""
    import multiprocessing

    import cifranegra.cli.simulate as cmd

    workers = []

    def slow(args):
        worker = multiprocessing.get_context("fork").Process(target=_sleep, args=(60,))
        workers.append(worker)
        worker.start()
        try:
            worker.join()
        finally:
            worker.join()  # waits for the worker on the way out
        return 0

    fuzz.call_main(["simulate", "--help"], timeout=0)  # every command module imported before the clock runs
    monkeypatch.setattr(cmd, "run", slow)
    monkeypatch.setattr(fuzz, "WALL_FACTOR", 0.2)  # 10 CPU s, or 2 s of waiting
    monkeypatch.setattr(fuzz, "REARM_SECONDS", 0.5)
    call = fuzz.call_main(["simulate", "x"], timeout=10)
    assert call.timed_out and call.seconds < 20
    workers[0].join(5)
    assert not workers[0].is_alive()
