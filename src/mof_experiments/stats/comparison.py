"""The result of comparing an arm with a control: the fields every comparison shares.

A comparison (:class:`~mof_experiments.stats.proportions.ProportionComparison`,
:class:`~mof_experiments.stats.means.MeanComparison`) carries, per compared arm, its ``n``,
its estimate with ``ci_low`` / ``ci_high``, the control's, and the difference: ``lift``
(arm - control) with ``lift_ci_low`` / ``lift_ci_high``, ``rel_lift`` (lift / control
estimate) with its interval, and ``p_value``. ``summary`` is a DataFrame with one row per
comparison and those names as columns (public API).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

#: Fields of the difference, the same for rates and means (the readout's column names).
COMPARISON_FIELDS = ("lift", "lift_ci_low", "lift_ci_high", "rel_lift", "rel_lift_ci_low", "rel_lift_ci_high",
                     "p_value")
#: The low-data rule, the one set of thresholds of the package: a group (an arm, a cell) is
#: flagged ``low_data`` with fewer than ``LOW_DATA_N`` units or, for a rate, fewer than
#: ``LOW_DATA_EVENTS`` events or non-events (:func:`low_data`). A comparison is low data when
#: either of its groups is; it is shown, never called significant.
LOW_DATA_N = 30
LOW_DATA_EVENTS = 5


def low_data(n, events=None):
    """The low-data rule, vectorized: ``n < LOW_DATA_N`` or, when ``events`` is given (a rate),
    ``min(events, n - events) < LOW_DATA_EVENTS``. Returns a bool array (a bool for scalars)."""
    n = np.asarray(n, dtype="float64")
    low = n < LOW_DATA_N
    if events is not None:
        ev = np.asarray(events, dtype="float64")
        low = low | (np.minimum(ev, n - ev) < LOW_DATA_EVENTS)
    return bool(low) if low.ndim == 0 else low


def json_number(value):
    """A float for JSON: ``None`` for NaN, infinity or a value that is not a number."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


class ComparisonResult:
    """Shared behaviour of the frozen comparison dataclasses: ``summary``, ``row``, HTML."""

    def _columns(self) -> dict:
        return {f.name: np.atleast_1d(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "alpha"}

    @property
    def summary(self) -> pd.DataFrame:
        """One row per comparison; columns are the dataclass fields except ``alpha``."""
        return pd.DataFrame(self._columns())

    def row(self, i: int = 0) -> dict:
        """The ``i``-th comparison as a dict of plain floats (field -> value)."""
        return {k: float(v[i]) for k, v in self._columns().items()}

    def __len__(self) -> int:
        return len(np.atleast_1d(self.lift))

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False, float_format=lambda v: f"{v:.4g}")


__all__ = ["COMPARISON_FIELDS", "LOW_DATA_N", "LOW_DATA_EVENTS", "low_data", "ComparisonResult", "json_number"]
