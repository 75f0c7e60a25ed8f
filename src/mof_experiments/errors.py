"""Typed errors. The CLI prints them as one line (``mof: error: ...``) and exits 2."""

from __future__ import annotations


class MofError(Exception):
    """Base class of the toolkit's expected errors (bad input, bad configuration)."""

    def one_line(self) -> str:
        return " ".join(str(self).split())


class MofInputError(MofError, ValueError):
    """Input data does not fit a contract: names the file, the column and an example row."""

    def __init__(self, message: str, *, source: str | None = None, column: str | None = None,
                 row: int | None = None, value: object = None):
        parts = []
        if source:
            parts.append(str(source))
        if column:
            parts.append(f"column {column!r}")
        head = ": ".join(parts)
        text = f"{head}: {message}" if head else message
        if row is not None:
            text += f" (e.g. row {row}: {value!r})"
        super().__init__(text)
        self.source = source
        self.column = column
        self.row = row
        self.value = value


class MofConfigError(MofError, ValueError):
    """A configuration file or option is wrong (YAML rules, campaign specs, CLI options)."""
