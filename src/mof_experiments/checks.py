"""Checks at the boundary of public functions: one helper per rule, written once.

- a frame handed to a function has the columns the function reads (:func:`require_columns`);
- a level (``alpha``, a quantile, a share) is a number strictly between 0 and 1
  (:func:`check_alpha`); a size is a finite positive number (:func:`check_positive`);
- a column of labels has no missing value (:func:`labels`);
- a numeric column holds finite numbers (:func:`numeric`): booleans, also written as text
  (``TRUE`` / ``FALSE`` / ``true`` / ``false``, as spreadsheets and R export them), are 1 / 0;
  a missing value, text, ``inf``, ``-inf`` or a number too large for a float (``1e400``) is
  an error naming the column and the first such row;
- a rate needs a 0/1 outcome (:func:`pick_metric`).

Each raises :class:`~mof_experiments.errors.MofInputError` (data) or
:class:`~mof_experiments.errors.MofConfigError` (an option) as one line naming what is wrong,
what was found, and where.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

from mof_experiments.errors import MofConfigError, MofInputError

#: Text read as a boolean in a numeric column (compared case-insensitively).
TRUE_WORDS, FALSE_WORDS = ("true",), ("false",)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], source: str | None, *,
                    nonempty: bool = False) -> None:
    """Raise a one-line :class:`MofInputError` if ``frame`` lacks any of ``columns``.

    The message is ``"<source>: missing column(s) a, b (found: x, y, ...)"`` (at most 12 found
    columns are listed). ``source`` names the frame for the reader: a file, a table or the
    function's argument (e.g. ``"email_events"``). ``nonempty=True`` also refuses a frame with
    no rows (``"<source>: no rows"``); anything but a DataFrame is refused.
    """
    if not isinstance(frame, pd.DataFrame):
        raise MofInputError(f"expected a pandas DataFrame, got {type(frame).__name__}", source=source)
    missing = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if missing:
        found = [str(c) for c in frame.columns]
        shown = ", ".join(found[:12]) + (", ..." if len(found) > 12 else "")
        raise MofInputError(f"missing column(s) {', '.join(map(str, missing))} (found: {shown or 'none'})",
                            source=source)
    if nonempty and len(frame) == 0:
        raise MofInputError("no rows", source=source)


def check_alpha(alpha, name: str = "alpha", *, high: float = 1.0) -> float:
    """``alpha`` as a float strictly between 0 and ``high`` (default 1), else a one-line
    :class:`MofConfigError` naming ``name`` (e.g. ``--alpha``) and the value given."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise MofConfigError(f"{name} must be a number between 0 and {high:g} (exclusive), got {alpha!r}") from None
    if not (0.0 < a < high):
        raise MofConfigError(f"{name} must be between 0 and {high:g} (exclusive), got {alpha!r}")
    return a


def check_positive(value, name: str) -> float:
    """``value`` as a finite float > 0, else a one-line :class:`MofConfigError`."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise MofConfigError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise MofConfigError(f"{name} must be a positive number, got {value!r}")
    return v


def _plain(value):
    """A numpy scalar as the plain Python value (readable in an error message)."""
    return value.item() if hasattr(value, "item") else value


def labels(data: pd.DataFrame, column: str, source: str | None = None) -> pd.Series:
    """The column as strings; a missing value is an error naming the row."""
    s = data[column]
    miss = s.isna().to_numpy()
    if miss.any():
        i = int(np.flatnonzero(miss)[0])
        raise MofInputError("missing value", source=source, column=column, row=i + 1, value=None)
    return s.astype("str")


def _text_booleans(s: pd.Series) -> pd.Series:
    """Text ``true`` / ``false`` (any case, surrounding spaces ignored) as 1 / 0; other values unchanged."""
    if not (pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)):
        return s
    low = s.astype("str").str.strip().str.lower()
    out = s.astype("object").copy()
    out[low.isin(TRUE_WORDS).to_numpy()] = 1.0
    out[low.isin(FALSE_WORDS).to_numpy()] = 0.0
    out[s.isna().to_numpy()] = np.nan
    return out


def numeric(data: pd.DataFrame, column: str, source: str | None = None) -> np.ndarray:
    """The column as finite float64 (the module's rule for numeric columns).

    Booleans (and the text ``true`` / ``false`` in any case) become 1 / 0; a missing value,
    text, ``inf``, ``-inf`` or an overflowing number (``1e400``) is an error naming the first
    such row.
    """
    s = data[column]
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64").to_numpy()
    with np.errstate(over="ignore"):
        num = pd.to_numeric(_text_booleans(s), errors="coerce").astype("float64").to_numpy()
    bad = ~np.isfinite(num)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw = s.iloc[i]
        what = ("missing value (NaN)" if pd.isna(raw) else
                "infinite value (inf, -inf or beyond 1.8e308)" if np.isinf(num[i]) else "not a number")
        raise MofInputError(f"{what} in a numeric column", source=source, column=column, row=i + 1,
                            value=_plain(raw))
    return num


def finite_array(values, name: str) -> np.ndarray:
    """A 1-d float array without NaN or infinity (an error names the first bad position)."""
    v = np.asarray(values, dtype="float64").ravel()
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MofInputError("missing or infinite value", column=name, row=i + 1, value=float(v[i]))
    return v


def is_binary(values: np.ndarray) -> bool:
    """Every value is 0 or 1 (and there is at least one)."""
    return bool(len(values)) and bool(np.isin(values, (0.0, 1.0)).all())


def pick_metric(values: np.ndarray, metric: str | None, column: str, source: str | None = None) -> str:
    """``rate`` for a 0/1 outcome, else ``mean``; an explicit ``rate`` needs 0/1 values."""
    binary = is_binary(values)
    if metric is None:
        return "rate" if binary else "mean"
    if metric not in ("rate", "mean"):
        raise MofConfigError(f"metric of {column!r} must be 'rate' or 'mean', got {metric!r}")
    if metric == "rate" and not binary:
        i = int(np.flatnonzero(~np.isin(values, (0.0, 1.0)))[0])
        raise MofInputError("a rate needs a binary (0/1) outcome", source=source, column=column, row=i + 1,
                            value=float(values[i]))
    return metric


def isin(values: pd.Series, other) -> pd.Series:
    """``values.isin(other)``, with the same result, for large ``other``: pandas 3's ``str``
    dtype builds one Arrow scalar per element of ``other`` (0.3 s for 60,000 company ids); as
    Python objects it is a hash lookup (20x faster). With a missing value in ``other`` it is
    ``values.isin`` itself (pandas' rule for matching missing values)."""
    if isinstance(other, (set, frozenset)):
        other = list(other)
    idx = pd.Index(other, dtype=object)
    if idx.hasnans:
        return values.isin(other)
    return values.astype(object).isin(idx)


def read_yaml_file(path, what: str):
    """Read a YAML settings file (campaign, program, plan): ``(Path, data)``.

    One-line :class:`MofConfigError` naming the file when it is missing, not UTF-8 text or not
    valid YAML (what ``what`` is, e.g. ``"campaign spec"``, is in the message).
    """
    from pathlib import Path

    import yaml

    p = Path(path)
    if not p.is_file():
        raise MofConfigError(f"{p}: {what} not found")
    try:
        return p, yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise MofConfigError(f"{p}: {what} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise MofConfigError(f"{p}: {what} is not valid YAML: {' '.join(str(exc).split())[:200]}") from None


__all__ = ["isin", "read_yaml_file", "require_columns", "check_alpha", "check_positive", "labels", "numeric", "finite_array", "is_binary",
           "pick_metric", "TRUE_WORDS", "FALSE_WORDS"]
