"""Input checks shared by the statistics modules (private).

Each check raises :class:`~mof_experiments.errors.MofInputError` or
:class:`~mof_experiments.errors.MofConfigError` naming the column and an example row.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mof_experiments.errors import MofConfigError, MofInputError


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """``alpha`` must be a number strictly between 0 and 1."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise MofConfigError(f"{name} must be a number between 0 and 1 (exclusive), got {alpha!r}") from None
    if not (0.0 < a < 1.0):
        raise MofConfigError(f"{name} must be between 0 and 1 (exclusive), got {alpha!r}")
    return a


def check_positive(value: float, name: str) -> float:
    """A finite number > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise MofConfigError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise MofConfigError(f"{name} must be a positive number, got {value!r}")
    return v


def check_columns(data: pd.DataFrame, columns, source: str | None = None) -> None:
    """``data`` is a non-empty DataFrame and every name in ``columns`` is one of its columns."""
    if not isinstance(data, pd.DataFrame):
        raise MofInputError(f"expected a pandas DataFrame, got {type(data).__name__}", source=source)
    if len(data) == 0:
        raise MofInputError("no rows", source=source)
    for col in columns:
        if col not in data.columns:
            raise MofInputError(f"column not found (columns: {', '.join(map(str, data.columns))})",
                                source=source, column=col)


def labels(data: pd.DataFrame, column: str, source: str | None = None) -> pd.Series:
    """The column as strings; a missing value is an error naming the row."""
    s = data[column]
    miss = s.isna().to_numpy()
    if miss.any():
        i = int(np.flatnonzero(miss)[0])
        raise MofInputError("missing value", source=source, column=column, row=i + 1, value=None)
    return s.astype("str")


def numeric(data: pd.DataFrame, column: str, source: str | None = None) -> np.ndarray:
    """The column as finite float64: booleans become 0/1; NaN, text and +-inf are errors."""
    s = data[column]
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64").to_numpy()
    num = pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()
    bad = ~np.isfinite(num)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw = s.iloc[i]
        what = ("missing value (NaN)" if pd.isna(raw) else
                "infinite value" if isinstance(num[i], float) and np.isinf(num[i]) else "not a number")
        raise MofInputError(f"{what} in a numeric column", source=source, column=column, row=i + 1,
                            value=raw.item() if hasattr(raw, "item") else raw)
    return num


def finite_array(values, name: str) -> np.ndarray:
    """A 1-d float array without NaN or infinity."""
    v = np.asarray(values, dtype="float64").ravel()
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MofInputError("missing or infinite value", column=name, row=i + 1, value=float(v[i]))
    return v


def is_binary(values: np.ndarray) -> bool:
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
