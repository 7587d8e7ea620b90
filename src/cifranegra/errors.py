"""The one error family of cifranegra.

Every error a user can cause is a :class:`CifranegraError`; the CLI and the service translate it into
a message and an exit code in one place. Messages name the file, row, column, the value received
(identifiers masked) and the fix. Subclasses exist only where callers catch them separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class CifranegraError(Exception):
    """Base class of every error raised deliberately by cifranegra."""


class InputError(CifranegraError, ValueError):
    """The user's data or arguments cannot be used as given (CLI exit code 2)."""


class ModelError(CifranegraError):
    """A model cannot be fitted to these data (no extended MLE, not identifiable, no overlap...)."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input, located as precisely as possible.

    ``row`` counts data rows from 1 (the header is not a row); ``None`` when the problem concerns the
    whole file or column.
    """

    file: str | None
    row: int | None
    column: str | None
    severity: str  # "error" or "warning"
    code: str
    message: str

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class ValidationError(InputError):
    """Several problems found at once; raised only after every problem has been collected."""

    problems: list[Problem] = field(default_factory=list)
    summary: str = "the input has problems"

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        errors = [p for p in self.problems if p.severity == "error"]
        lines = [f"{self.summary} ({len(errors)} error(s)):"]
        lines.extend(f"  - {p}" for p in errors[:50])
        if len(errors) > 50:
            lines.append(f"  ... and {len(errors) - 50} more")
        return "\n".join(lines)
