"""No hypothesis test may fail on time (issue 17 item 8): CI runs on 2 shared cores, where one
example can take seconds. The profile loaded for the suite has no deadline, and no test sets one."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import settings

TESTS = Path(__file__).parent


def test_the_loaded_profile_has_no_deadline() -> None:
    assert settings.default.deadline is None, (
        "register and load a deadline-free hypothesis profile in tests/conftest.py, e.g. "
        "settings.register_profile('ci', deadline=None); settings.load_profile('ci')"
    )


def test_no_test_sets_a_deadline() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.resolve() == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8")
        if "hypothesis" not in text:
            continue  # a variable called `deadline` (a wall-clock limit of a wait loop) is not a setting
        for m in re.finditer(r"deadline\s*=\s*([^,)\s]+)", text):
            if m.group(1) != "None":
                offenders.append(f"{path.relative_to(TESTS)}: deadline={m.group(1)}")
    assert not offenders, offenders
