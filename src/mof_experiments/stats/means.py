"""Means: the comparison of an arm's mean with the control's, and CUPED.

statsmodels ``DescrStatsW`` (t interval of each mean) and ``CompareMeans`` (Welch interval
and t-test of the difference). The relative lift ``(m - m0) / m0`` has a **delta-method
interval with the Welch t quantile**: ``SE^2 = s^2 / (n m0^2) + m^2 s0^2 / (n0 m0^4)`` with
the sample variances ``s^2``, ``s0^2`` (``ddof=1``), and the quantile of Student's t with the
Welch-Satterthwaite degrees of freedom of the difference (the same as its Welch interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mof_experiments.stats.comparison import ComparisonResult


@dataclass(frozen=True)
class MeanComparison(ComparisonResult):
    """Mean of an arm vs the control (floats).

    ``mean`` with its t interval ``ci_low`` / ``ci_high``; ``lift = mean - mean_control`` with
    the Welch interval and ``p_value`` of the Welch t-test (NaN when an arm has fewer than two
    units or both have no variance); ``rel_lift = lift / mean_control`` with the delta-method
    interval, Welch t quantile (module docstring; NaN when the control mean is 0 or the
    difference has no variance).
    """

    n: int
    mean: float
    ci_low: float
    ci_high: float
    n_control: int
    mean_control: float
    lift: float
    lift_ci_low: float
    lift_ci_high: float
    rel_lift: float
    rel_lift_ci_low: float
    rel_lift_ci_high: float
    p_value: float
    alpha: float = 0.05


def compare_means(y, y0, *, alpha: float = 0.05) -> MeanComparison:
    """Compare the mean of ``y`` (an arm's values) with ``y0`` (the control's); see :class:`MeanComparison`."""
    from scipy import stats
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    y, y0 = np.asarray(y, dtype=float), np.asarray(y0, dtype=float)
    d, d0 = DescrStatsW(y), DescrStatsW(y0)
    lo, hi = d.tconfint_mean(alpha=alpha) if len(y) > 1 else (np.nan, np.nan)
    cm = CompareMeans(d, d0)
    if len(y) > 1 and len(y0) > 1 and (d.std > 0 or d0.std > 0):
        dlo, dhi = cm.tconfint_diff(alpha=alpha, usevar="unequal")
        p = cm.ttest_ind(usevar="unequal")[1]
    else:
        dlo = dhi = p = np.nan
    m, m0 = d.mean, d0.mean
    diff = m - m0
    rel = diff / m0 if m0 != 0 else np.nan
    rlo = rhi = np.nan
    if m0 != 0 and len(y) > 1 and len(y0) > 1 and (d.std > 0 or d0.std > 0):
        s2, s02 = float(np.var(y, ddof=1)), float(np.var(y0, ddof=1))
        v = s2 / len(y) / m0**2 + (m**2) * s02 / len(y0) / m0**4
        a, b = s2 / len(y), s02 / len(y0)
        df = (a + b) ** 2 / (a**2 / (len(y) - 1) + b**2 / (len(y0) - 1))
        q = stats.t.ppf(1 - alpha / 2, df)
        rlo, rhi = rel - q * math.sqrt(v), rel + q * math.sqrt(v)
    return MeanComparison(n=len(y), mean=float(m), ci_low=float(lo), ci_high=float(hi),
                          n_control=len(y0), mean_control=float(m0), lift=float(diff), lift_ci_low=float(dlo),
                          lift_ci_high=float(dhi), rel_lift=float(rel), rel_lift_ci_low=float(rlo),
                          rel_lift_ci_high=float(rhi), p_value=float(p), alpha=alpha)


def cuped(y, x) -> tuple[np.ndarray, float]:
    """CUPED: ``y - theta * (x - mean(x))`` with ``theta = cov(y, x) / var(x)`` pooled over all units.

    Returns the adjusted outcome and ``theta``. The adjusted outcome has the same mean per
    arm in expectation (x is measured before assignment) and lower variance by the factor
    ``1 - corr(y, x)**2``.
    """
    y, x = np.asarray(y, float), np.asarray(x, float)
    vx = np.var(x, ddof=1)
    theta = float(np.cov(y, x, ddof=1)[0, 1] / vx) if vx > 0 else 0.0
    return y - theta * (x - x.mean()), theta


__all__ = ["compare_means", "MeanComparison", "cuped"]
