"""Checks at the boundary of public functions that take DataFrames.

One rule, written once: a frame handed to a function must have the columns the function
reads; otherwise :class:`~mof_experiments.errors.MofInputError` names what is missing, what
was found, and where the frame came from.
"""

from __future__ import annotations

from typing import Iterable

import pandas as pd

from mof_experiments.errors import MofInputError


def require_columns(frame: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    """Raise a one-line :class:`MofInputError` if ``frame`` lacks any of ``columns``.

    The message is ``"<source>: missing column(s) a, b (found: x, y, ...)"`` (at most 12 found
    columns are listed). ``source`` names the frame for the reader: a file, a table or the
    function's argument (e.g. ``"email_events"``).
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = [str(c) for c in frame.columns]
        shown = ", ".join(found[:12]) + (", ..." if len(found) > 12 else "")
        raise MofInputError(f"missing column(s) {', '.join(missing)} (found: {shown or 'none'})", source=source)


__all__ = ["require_columns"]
