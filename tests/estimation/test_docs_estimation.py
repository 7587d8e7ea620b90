"""docs/estimation.md and docs/bayesian.md name every flag of `estimate`, `compare` and `describe`,
every method, and every option of every method (DESIGN.md: docs that cannot drift)."""

from __future__ import annotations

import re
from pathlib import Path

from cifranegra.cli import build_parser
from cifranegra.estimation.api import methods, option_names

DOCS = Path(__file__).parents[2] / "docs"


def _text() -> str:
    return (DOCS / "estimation.md").read_text(encoding="utf-8") + (DOCS / "bayesian.md").read_text(encoding="utf-8")


def test_every_flag_is_documented() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices  # type: ignore[union-attr]
    text = _text()
    missing = []
    for command in ("estimate", "compare", "describe"):
        for action in sub[command]._actions:
            for flag in action.option_strings:
                named = re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text)
                if flag.startswith("--") and flag != "--help" and not named:
                    missing.append(f"{command} {flag}")
    assert not missing, missing


def test_every_method_and_option_is_documented() -> None:
    text = _text()
    missing = [m for m in methods() if f"`{m}`" not in text]
    missing += [f"{m}: {o}" for m in methods() for o in option_names(m) if f"`{o}" not in text]
    assert not missing, missing
