"""Dates: the ``as_of`` cut-off as a value, and the unit of every duration (days).

- :func:`parse_as_of` turns what a user types (a date, an ISO timestamp, ``now``) into a
  timezone-aware UTC ``datetime``. Naive values are UTC.
- Durations are days as floats with one-second resolution: seconds / :data:`SECONDS_PER_DAY`.
  In pandas code a window of ``w`` days is ``pd.Timedelta(days=w)``.

Which ``as_of`` applies when none is given depends on the data (the end of a simulation, else
now): that is :func:`mof_experiments.sources.resolve_as_of`, called once at the boundary.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache

import pandas as pd

from mof_experiments.errors import MofInputError

#: Seconds in a day: durations in days are epoch-second differences divided by this.
SECONDS_PER_DAY = 86_400


def parse_as_of(value) -> datetime:
    """A timezone-aware UTC datetime from a date, datetime or ISO string (naive = UTC); the
    string ``now`` is the current time."""
    if isinstance(value, str) and value.strip().lower() == "now":
        return datetime.now(timezone.utc)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise MofInputError(f"--as-of must be a date or ISO timestamp like 2026-07-01 (or now), got {value!r}") from None
    else:
        raise MofInputError(f"as_of must be a date, datetime or ISO string, got {type(value).__name__}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def days_between(end, start):
    """``(end - start)`` in days (float) for two Ibis timestamp expressions (backend-neutral)."""
    return (end.epoch_seconds() - start.epoch_seconds()).cast("float64") / SECONDS_PER_DAY


def utc_day(ts):
    """The UTC calendar day of an Ibis timestamp expression: ``floor(epoch seconds / 86400)``.

    The same integer on every backend. On DuckDB it is computed from ``epoch_us(ts)``: Ibis
    compiles ``epoch_seconds()`` there to ``epoch(CAST(ts AS TIMESTAMP))``, and that cast converts
    every value through the ICU time zone library (36 of the 40 CPU seconds of the behavior
    features at 100M events; benchmarks/README.md). Other backends use ``epoch_seconds()``.
    """
    try:
        backend = ts._find_backend(use_default=False).name
    except Exception:  # noqa: BLE001 - an unbound expression compiles for any backend
        backend = None
    if backend == "duckdb":
        return _duckdb_epoch_us()(ts) // (SECONDS_PER_DAY * 1_000_000)
    return ts.epoch_seconds() // SECONDS_PER_DAY


@lru_cache(maxsize=1)
def _duckdb_epoch_us():
    import ibis
    import ibis.expr.datatypes as dt

    def epoch_us(ts):
        """DuckDB's ``epoch_us``: microseconds since 1970-01-01 UTC of an instant."""

    return ibis.udf.scalar.builtin(epoch_us, name="epoch_us",
                                   signature=((dt.Timestamp(timezone="UTC"),), dt.int64))


__all__ = ["SECONDS_PER_DAY", "parse_as_of", "days_between", "utc_day"]
