"""Errors a user can cause, each naming the file, row, field and value, and what to do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["COMMAND_LINE", "InputError", "InputIssue"]

COMMAND_LINE = "<command line>"  # the `file` of an issue with a command-line option


@dataclass(frozen=True)
class InputIssue:
    """One problem in the user's input.

    Parameters
    ----------
    file
        The file the problem is in (as the user named it).
    row
        The row as a spreadsheet (or text editor) shows it: the header is its own row (1 when
        nothing is above it) and the first data row the next; ``None`` for whole-file or
        parameter problems. (Plan files, which sampler writes, count 1-based data rows, and a
        check-in keeps its data row as its position in the file.)
    field
        Column or parameter name as it appears in the file.
    value
        The offending value, as text.
    fix
        What the user should do, in one sentence.
    """

    file: str
    row: int | None
    field: str
    value: str
    fix: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}, row {self.row}"
        return f"{where}, field '{self.field}', value {self.value!r}: {self.fix}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "field": self.field,
            "value": self.value,
            "fix": self.fix,
        }


class InputError(Exception):
    """Bad input: carries every issue found, not just the first."""

    def __init__(self, issues: Iterable[InputIssue]):
        self.issues: list[InputIssue] = list(issues)
        super().__init__(self._text())

    def _text(self, limit: int = 50) -> str:
        lines = [str(i) for i in self.issues[:limit]]
        more = len(self.issues) - limit
        if more > 0:
            lines.append(f"... and {more} more issues")
        return f"{len(self.issues)} input issue(s):\n" + "\n".join(lines)
