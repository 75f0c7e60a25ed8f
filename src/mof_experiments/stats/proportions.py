"""Rates: the Wilson interval and the comparison of two independent proportions.

Every rate has its n and a confidence interval. The methods are statsmodels':
``proportion_confint(method="wilson")`` for a rate, ``confint_proportions_2indep`` for the
difference (Newcomb's hybrid score interval by default) and for the ratio (log-adjusted),
``test_proportions_2indep(method="score")`` for the p-value of equal rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mof_experiments.stats.comparison import ComparisonResult


def wilson_interval(events, n, *, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``events / n``, vectorized (statsmodels ``proportion_confint``).

    Returns ``(ci_low, ci_high)`` as float arrays of the broadcast shape; NaN where ``n == 0``
    (a rate of nothing has no interval).
    """
    from statsmodels.stats.proportion import proportion_confint

    k, n = np.asarray(events, dtype=float), np.asarray(n, dtype=float)
    lo, hi = proportion_confint(k, np.where(n > 0, n, 1), alpha=alpha, method="wilson")
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


@dataclass(frozen=True)
class ProportionComparison(ComparisonResult):
    """Rates of one or more arms vs a control; every field is an array (one element per arm).

    ``rate = events / n`` with Wilson ``ci_low`` / ``ci_high``; ``rate_control`` likewise from
    ``events_control / n_control``; ``lift = rate - rate_control`` with the ``diff_method``
    interval (Newcomb by default); ``rel_lift = rate / rate_control - 1`` with the log-adjusted
    ratio interval minus one (NaN when the control rate is 0); ``p_value`` of the score test
    of equal rates (1 when both arms have no events, or only events).
    """

    n: np.ndarray
    events: np.ndarray
    rate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_control: np.ndarray
    events_control: np.ndarray
    rate_control: np.ndarray
    lift: np.ndarray
    lift_ci_low: np.ndarray
    lift_ci_high: np.ndarray
    rel_lift: np.ndarray
    rel_lift_ci_low: np.ndarray
    rel_lift_ci_high: np.ndarray
    p_value: np.ndarray
    alpha: float = 0.05


def compare_proportions(x, n, x0, n0, *, alpha: float = 0.05, diff_method: str = "newcomb") -> ProportionComparison:
    """Rates of arms (``x`` events of ``n``) vs a control (``x0`` of ``n0``), vectorized.

    Parameters
    ----------
    x, n : events and units of each compared arm (scalars or arrays).
    x0, n0 : the control's (broadcast against ``x``, ``n``).
    alpha : 1 - confidence level of every interval.
    diff_method : statsmodels ``confint_proportions_2indep`` method of the difference's
        interval (``newcomb``, ``wald``, ``agresti-caffo``, ``score``).

    Returns
    -------
    ProportionComparison
    """
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    x, n, x0, n0 = (a.copy() for a in np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, dtype=float))
                                                             for a in (x, n, x0, n0))))
    lo, hi = wilson_interval(x, n, alpha=alpha)
    dlo, dhi = confint_proportions_2indep(x, n, x0, n0, method=diff_method, compare="diff", alpha=alpha)
    with np.errstate(all="ignore"):
        p = test_proportions_2indep(x, n, x0, n0, method="score", compare="diff").pvalue
        rlo, rhi = confint_proportions_2indep(x, n, x0, n0, method="log-adjusted", compare="ratio", alpha=alpha)
        rate, rate0 = x / n, x0 / n0
        rel = np.where(rate0 > 0, rate / rate0 - 1, np.nan)
    # both arms with no events (or all events): no evidence of a difference
    p = np.where((x + x0 == 0) | (x + x0 == n + n0), 1.0, p)
    arr = lambda v: np.atleast_1d(np.asarray(v, dtype=float))  # noqa: E731
    return ProportionComparison(n=n, events=x, rate=rate, ci_low=arr(lo), ci_high=arr(hi), n_control=n0,
                                events_control=x0, rate_control=rate0, lift=rate - rate0, lift_ci_low=arr(dlo),
                                lift_ci_high=arr(dhi), rel_lift=rel, rel_lift_ci_low=arr(rlo) - 1,
                                rel_lift_ci_high=arr(rhi) - 1, p_value=arr(p), alpha=alpha)


__all__ = ["wilson_interval", "compare_proportions", "ProportionComparison"]
