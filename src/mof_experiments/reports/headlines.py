"""Headline figures: the numbers a report notebook records for the manifest and the tests.

Notebooks call :func:`record_headline` (``record_headline("open_ratio", 2.01)``). During a
report run the runner points the environment variable ``MOF_HEADLINES_FILE`` at
``<run>/<name>.headlines.json`` (the kernel inherits the environment) and each call merges its
value into that JSON file, atomically. Run interactively (variable unset), the value is only kept
in memory (:func:`recorded_headlines`), so an analyst's session writes nothing.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from mof_experiments.atomic import write_json_atomic
from mof_experiments.errors import MofInputError

HEADLINES_ENV = "MOF_HEADLINES_FILE"
_MEMORY: dict = {}


def to_jsonable(value):
    """Plain JSON types from numpy / pandas scalars and containers (NaN becomes None)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (int, str)):
        return value
    if value is pd.NA:
        return None
    raise MofInputError(f"headline value of type {type(value).__name__} is not JSON-serializable: {value!r}")


def record_headline(name: str, value, *, path: str | os.PathLike | None = None) -> None:
    """Record a headline figure of the running notebook.

    Returns nothing, so a notebook cell that ends with it shows no stray value (the rule of
    :func:`~mof_experiments.reports.outputs.stray_outputs`).

    Parameters
    ----------
    name : a snake_case key (e.g. ``open_ratio``); recording the same name again replaces it.
    value : a number, string, bool, None, or a list / dict of those (numpy scalars are
        converted; NaN is stored as null).
    path : the JSON file to merge into; default ``$MOF_HEADLINES_FILE`` (set by the report
        runner). With neither, the value is only kept in memory (:func:`recorded_headlines`).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise MofInputError(f"headline name must be a snake_case identifier, got {name!r}")
    v = to_jsonable(value)
    _MEMORY[name] = v
    target = path if path is not None else os.environ.get(HEADLINES_ENV)
    if target:
        target = Path(target)
        data = read_headlines(target) if target.exists() else {}
        data[name] = v
        write_json_atomic(target, data)


def recorded_headlines() -> dict:
    """Headlines recorded in this Python process (a copy)."""
    return dict(_MEMORY)


def read_headlines(path: str | os.PathLike) -> dict:
    """Read a headlines JSON file (``{}`` if it does not exist)."""
    p = Path(path)
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MofInputError(f"not valid JSON ({exc.msg} at line {exc.lineno})", source=str(p)) from None
    if not isinstance(data, dict):
        raise MofInputError("headlines file must hold a JSON object", source=str(p))
    return data


__all__ = ["HEADLINES_ENV", "record_headline", "recorded_headlines", "read_headlines", "to_jsonable"]
