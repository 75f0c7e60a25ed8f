"""Always-valid inference: confidence sequences for the difference between two arms.

Why
---
A fixed-horizon 95% interval is right if it is read once, at a sample size fixed in advance.
Read every morning, the chance that it excludes the true difference on *some* morning is far
above 5% (28-31% over 30 daily looks: ``benchmarks/sequential_study.py``). A **confidence
sequence** is a band ``C_t`` at every sample size ``t`` with, asymptotically,
``P(the true difference is inside C_t at every t) >= 1 - alpha``: it may be read as often as
one likes, and an experiment may be stopped as soon as the band excludes 0.

The boundary (normal mixture)
-----------------------------
The asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas
("Time-uniform central limit theory and asymptotic confidence sequences", 2023, eq. 9 and
Thm 2.2), which takes the normal-mixture boundary of Robbins (1970) and Howard, Ramdas,
McAuliffe and Sekhon ("Time-uniform, nonparametric, nonasymptotic confidence sequences",
Ann. Statist. 2021) and plugs in the estimated variance::

    half_width(t) = s * sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) * log( sqrt(t rho^2 + 1) / alpha ) )

For two arms (``T`` and control ``C``), ``t = n_T + n_C`` and ``s^2 = t * SE^2`` with
``SE^2 = var_T / n_T + var_C / n_C``: the difference of means behaves as the mean of ``t``
independent terms of variance ``s^2`` (GrowthBook's construction; with equal arms,
``s^2 = 2 (var_T + var_C)``). The band is ``lift +- half_width(t)``.

Variances: a **rate** uses ``p~ (1 - p~)`` with ``p~ = (events + 0.5) / (n + 1)`` (the estimate
itself stays ``events / n``; the half-count keeps an arm with no events, common at the first
looks, from giving a band of width 0); a **mean** uses the sample variance (``ddof=1``).

The tuning parameter ``rho``
----------------------------
``rho`` sets where the band is narrowest. Minimizing ``half_width(t)`` at ``t = n_expected``
gives ``x - log x = 1 - 2 log alpha`` for ``x = n_expected rho^2 + 1``, solved exactly by the
lower branch of the Lambert W function, ``x = -W_{-1}(-alpha^2 / e)`` (:func:`mixture_rho`).
At ``alpha = 0.05``: ``n_expected rho^2 = 8.21``, and at ``t = n_expected`` the half-width is
``s sqrt(x / t) = 3.035 s / sqrt(t)``, 1.55 times the fixed-horizon ``1.96 s / sqrt(t)``. A
wrong guess costs little: for any ``t`` from ``n_expected / 4.9`` to ``19.6 n_expected`` the
band is at most 10% wider than one tuned for that ``t``. (Waudby-Smith et al. eq. 161 and
GrowthBook use the approximation ``n rho^2 = -2 log alpha + log(1 - 2 log alpha)`` = 7.94 at
``alpha = 0.05``; the two bands differ by less than 1.6% at every ``t``.)

**Choose ``n_expected`` before the experiment** (the planned total number of units, both arms),
never from the data being read: a ``rho`` re-chosen at every look is not a sequence.

The always-valid p-value
------------------------
``seq_p_value = min(1, 1 / M_t)`` with the mixture martingale
``M_t = exp(rho^2 t^2 lift^2 / (2 s^2 (t rho^2 + 1))) / sqrt(t rho^2 + 1)``
(Waudby-Smith et al. eq. 155): ``seq_p_value <= alpha`` exactly when the band excludes 0.

Caveat: the guarantee is asymptotic (large ``t``); the study in ``benchmarks/`` measures it at
the sizes our users run (1,000 to 20,000 companies, 30 daily looks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.checks import (check_alpha, check_positive, finite_array, labels, numeric, pick_metric,
                                    require_columns)
from mof_experiments.stats.comparison import low_data

#: Pseudo-count added to the events (and twice to n) in a rate's variance only.
RATE_VARIANCE_PSEUDOCOUNT = 0.5


# ----------------------------------------------------------------------------- the boundary
def mixture_rho(n_expected: float, alpha: float = 0.05) -> float:
    """The ``rho`` for which the two-sided normal-mixture band is narrowest at ``t = n_expected``.

    ``rho = sqrt((x - 1) / n_expected)`` with ``x = -W_{-1}(-alpha^2 / e)``, the root above 1
    of ``x - log x = 1 - 2 log alpha`` (scipy ``lambertw``, branch -1). ``alpha = 0.05``:
    ``n_expected * rho**2 = 8.2118``.
    """
    from scipy.special import lambertw

    alpha = check_alpha(alpha)
    n_expected = check_positive(n_expected, "n_expected")
    x = float(-lambertw(-alpha**2 / math.e, k=-1).real)
    return math.sqrt((x - 1.0) / n_expected)


def mixture_boundary(t, rho, alpha: float = 0.05) -> np.ndarray:
    """Unit-variance half-width of the two-sided normal-mixture band after ``t`` observations.

    ``sqrt(2 (t rho^2 + 1) / (t^2 rho^2) * log(sqrt(t rho^2 + 1) / alpha))``; multiply by the
    per-observation standard deviation ``s``. ``inf`` where ``t < 1``.
    """
    t = np.asarray(t, dtype="float64")
    r2 = np.asarray(rho, dtype="float64") ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        v = 2.0 * (t * r2 + 1.0) / (t**2 * r2) * np.log(np.sqrt(t * r2 + 1.0) / alpha)
        out = np.sqrt(v)
    return np.where(t >= 1, out, np.inf)


def sequential_interval(lift, se, t, *, rho, alpha: float = 0.05):
    """Band and always-valid p-value for an estimated difference, vectorized.

    Parameters
    ----------
    lift : estimated difference (treatment - control).
    se : its standard error, ``sqrt(var_T / n_T + var_C / n_C)``.
    t : total units behind the estimate (``n_T + n_C``).
    rho : tuning parameter (:func:`mixture_rho`); an array gives each estimate its own.

    Returns
    -------
    (seq_ci_low, seq_ci_high, seq_p_value) arrays. Where ``se`` is NaN the band is NaN; a
    difference with ``se == 0`` gets a band of width 0 (and p = 1 if the difference is 0).
    """
    lift, se, t = (np.asarray(a, dtype="float64") for a in (lift, se, t))
    s = se * np.sqrt(t)
    half = s * mixture_boundary(t, rho, alpha)
    half = np.where(s == 0, 0.0, half)
    r2 = rho**2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tr = t * r2 + 1.0
        log_m = r2 * t**2 * lift**2 / (2.0 * s**2 * tr) - 0.5 * np.log(tr)
        p = np.minimum(1.0, np.exp(-log_m))
    p = np.where(s == 0, np.where(lift == 0, 1.0, 0.0), p)
    p = np.where(np.isnan(s) | np.isnan(lift), np.nan, p)
    return lift - half, lift + half, p


def _arm_moments(metric: str, n, total, total_sq):
    """Mean and per-unit variance of an arm from its count, sum and sum of squares."""
    n, total, total_sq = (np.asarray(a, dtype="float64") for a in (n, total, total_sq))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
        if metric == "rate":
            pt = (total + RATE_VARIANCE_PSEUDOCOUNT) / (n + 2 * RATE_VARIANCE_PSEUDOCOUNT)
            var = np.where(n > 0, pt * (1 - pt), np.nan)
        else:
            var = np.where(n > 1, (total_sq - n * mean**2) / (n - 1), np.nan)
            var = np.maximum(var, 0.0)
    return mean, var


def _fixed_horizon(metric: str, n, total, var, n0, total0, var0, alpha: float):
    """What a fixed-horizon readout shows at each look: lift CI and p-value.

    Rates: Newcomb interval and score test (statsmodels, as the readout); means: Welch
    interval and t-test (scipy ``ttest_ind_from_stats``).
    """
    from scipy import stats

    n, total, var, n0, total0, var0 = (np.asarray(a, dtype="float64") for a in (n, total, var, n0, total0, var0))
    lo = np.full(n.shape, np.nan)
    hi = np.full(n.shape, np.nan)
    p = np.full(n.shape, np.nan)
    if metric == "rate":
        from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

        ok = (n > 0) & (n0 > 0)
        if ok.any():
            x, m, x0, m0 = total[ok], n[ok], total0[ok], n0[ok]
            with np.errstate(all="ignore"):
                a, b = confint_proportions_2indep(x, m, x0, m0, method="newcomb", compare="diff", alpha=alpha)
                pv = test_proportions_2indep(x, m, x0, m0, method="score", compare="diff").pvalue
            pv = np.where((x + x0 == 0) | (x + x0 == m + m0), 1.0, pv)
            lo[ok], hi[ok], p[ok] = a, b, pv
        return lo, hi, p
    ok = (n > 1) & (n0 > 1) & ((var > 0) | (var0 > 0))
    if ok.any():
        m1, m0_ = total[ok] / n[ok], total0[ok] / n0[ok]
        v1, v0, k1, k0 = var[ok], var0[ok], n[ok], n0[ok]
        se2 = v1 / k1 + v0 / k0
        df = se2**2 / ((v1 / k1) ** 2 / (k1 - 1) + (v0 / k0) ** 2 / (k0 - 1))
        q = stats.t.ppf(1 - alpha / 2, df)
        lo[ok], hi[ok] = m1 - m0_ - q * np.sqrt(se2), m1 - m0_ + q * np.sqrt(se2)
        p[ok] = stats.ttest_ind_from_stats(m1, np.sqrt(v1), k1, m0_, np.sqrt(v0), k0, equal_var=False).pvalue
    return lo, hi, p


# ------------------------------------------------------------------------------- one look
@dataclass(frozen=True)
class SequentialResult:
    """A confidence sequence read at one look: treatment vs control.

    ``summary`` (one row) columns: metric, n, n_control, events, events_control (rates; NA
    for means), estimate (treatment rate or mean), control_estimate, lift (estimate -
    control_estimate), seq_ci_low, seq_ci_high (the band on ``lift``), seq_p_value
    (always-valid), low_data (an arm with n < 30, or for a rate < 5 events or non-events).
    """

    metric: str
    alpha: float
    n_expected: float
    rho: float
    n: int
    n_control: int
    estimate: float
    control_estimate: float
    lift: float
    seq_ci_low: float
    seq_ci_high: float
    seq_p_value: float
    low_data: bool
    summary: pd.DataFrame = field(repr=False)

    def __str__(self) -> str:
        flag = "  LOW DATA" if self.low_data else ""
        return (f"{self.metric} {self.estimate:.4g} vs {self.control_estimate:.4g}: lift {self.lift:+.4g}, "
                f"{1 - self.alpha:.0%} confidence sequence [{self.seq_ci_low:+.4g}, {self.seq_ci_high:+.4g}], "
                f"always-valid p={self.seq_p_value:.3g} (n={self.n:,} vs {self.n_control:,}; tuned for "
                f"{self.n_expected:,.0f} units){flag}")

    def _repr_html_(self) -> str:
        return f"<p>{self}</p>" + self.summary.to_html(index=False)


def _low_data(metric: str, n, events, n0, events0) -> np.ndarray:
    """Either arm is low data (:func:`~mof_experiments.stats.comparison.low_data`)."""
    rate = metric == "rate"
    return np.asarray(low_data(n, events if rate else None)) | np.asarray(low_data(n0, events0 if rate else None))


def compare_sequential(y, y0, *, n_expected: float, metric: str | None = None,
                       alpha: float = 0.05) -> SequentialResult:
    """Confidence sequence for ``mean(y) - mean(y0)`` at the current look.

    Parameters
    ----------
    y, y0 : treatment and control outcomes, one value per unit (0/1 for a rate).
    n_expected : planned total number of units (both arms); the band is narrowest there.
        Fix it before the experiment (see the module docstring).
    metric : ``rate`` or ``mean``; default ``rate`` when every value is 0/1.
    alpha : 1 - coverage of the sequence (two-sided).

    Returns
    -------
    :class:`SequentialResult`.
    """
    alpha = check_alpha(alpha)
    rho = mixture_rho(n_expected, alpha)
    y, y0 = finite_array(y, "y"), finite_array(y0, "y0")
    if len(y) == 0 or len(y0) == 0:
        raise MofInputError(f"both arms need units (treatment {len(y)}, control {len(y0)})")
    both = np.concatenate([y, y0])
    metric = pick_metric(both, metric, "outcome")
    m1, v1 = _arm_moments(metric, len(y), y.sum(), (y**2).sum())
    m0, v0 = _arm_moments(metric, len(y0), y0.sum(), (y0**2).sum())
    se = np.sqrt(v1 / len(y) + v0 / len(y0))
    lift = m1 - m0
    lo, hi, p = sequential_interval(lift, se, len(y) + len(y0), rho=rho, alpha=alpha)
    if metric == "rate":  # a difference of rates lies in [-1, 1]: the band intersected with it
        lo, hi = np.clip(lo, -1.0, 1.0), np.clip(hi, -1.0, 1.0)
    ev, ev0 = (float(y.sum()), float(y0.sum())) if metric == "rate" else (np.nan, np.nan)
    low = bool(_low_data(metric, len(y), ev, len(y0), ev0))
    summ = pd.DataFrame([{
        "metric": metric, "n": len(y), "n_control": len(y0),
        "events": int(ev) if metric == "rate" else pd.NA, "events_control": int(ev0) if metric == "rate" else pd.NA,
        "estimate": float(m1), "control_estimate": float(m0), "lift": float(lift),
        "seq_ci_low": float(lo), "seq_ci_high": float(hi), "seq_p_value": float(p), "low_data": low}])
    for c in ("events", "events_control"):
        summ[c] = summ[c].astype("Int64")
    return SequentialResult(metric, alpha, float(n_expected), rho, len(y), len(y0), float(m1), float(m0),
                            float(lift), float(lo), float(hi), float(p), low, summ)


# -------------------------------------------------------------------------- looks over time
@dataclass(frozen=True)
class SequentialPath:
    """The band at every look: what a daily reader saw, and whether it was safe to act on.

    ``summary``: one row per (look, treatment arm), looks in time order. Columns: look (the
    cutoff: the UTC day for daily looks, else the value given), arm, n, n_control, events,
    events_control (rates; NA for means), estimate, control_estimate, lift, lift_ci_low,
    lift_ci_high, p_value (the fixed-horizon interval and test a one-off readout shows:
    Newcomb / score test for rates, Welch for means), seq_ci_low, seq_ci_high, seq_p_value
    (the confidence sequence and its always-valid p-value), low_data.

    ``first_significant``: per arm, the first look whose band excludes 0 (None if none).
    """

    outcome: str
    metric: str
    arm_column: str
    control: str
    alpha: float
    n_expected: float
    rho: float
    first_significant: dict
    summary: pd.DataFrame = field(repr=False)

    def final(self) -> pd.DataFrame:
        """The rows of the last look."""
        s = self.summary
        return s[s["look"] == s["look"].iloc[-1]].reset_index(drop=True) if len(s) else s

    def __str__(self) -> str:
        n_looks = self.summary["look"].nunique()
        tuned = (f"tuned for {self.n_expected:,.0f} units" if math.isfinite(self.n_expected) else
                 "re-tuned at each look for its n")
        lines = [f"confidence sequence for {self.outcome!r} ({self.metric}), {n_looks} looks, {tuned}, "
                 f"alpha {self.alpha:g}"]
        for r in self.final().itertuples():
            first = self.first_significant.get(r.arm)
            lines.append(f"  {r.arm}: lift {r.lift:+.4g} [{r.seq_ci_low:+.4g}, {r.seq_ci_high:+.4g}] at the last look"
                         + (f"; band first excluded 0 at {first}" if first is not None else "; band never excluded 0"))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<p>" + str(self).replace("\n", "<br>") + "</p>" + self.final().to_html(index=False)


def _utc_ns(ts: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch, UTC (naive ones are taken as UTC)."""
    ts = ts.dt.tz_convert("UTC").dt.tz_localize(None) if ts.dt.tz is not None else ts
    return ts.astype("datetime64[ns]").to_numpy().astype("int64")


def _look_cutoffs(times: pd.Series, looks, source) -> tuple[np.ndarray, np.ndarray, list]:
    """(unit keys, cutoff keys, look labels); a unit is in a look when key <= cutoff."""
    if pd.api.types.is_datetime64_any_dtype(times.dtype):
        keys = _utc_ns(times)
        if looks is None:
            day = 86_400 * 10**9
            first, last = keys.min() // day, keys.max() // day
            days = np.arange(first, last + 1, dtype="int64")
            labels_ = [d.date() for d in pd.to_datetime(days * day, unit="ns")]
            return keys, (days + 1) * day - 1, labels_
        lk = pd.Series(pd.to_datetime(list(looks), utc=True))
        return keys, _utc_ns(lk), list(looks)
    if pd.api.types.is_numeric_dtype(times.dtype) and not pd.api.types.is_bool_dtype(times.dtype):
        keys = times.to_numpy(dtype="float64")
        if looks is None:
            u = np.unique(times.to_numpy())  # labels in the column's own type (day 13, not 13.0)
            return keys, u.astype("float64"), u.tolist()
        return keys, np.asarray(list(looks), dtype="float64"), list(looks)
    raise MofInputError(f"arrival time must be a timestamp or a number, got dtype {times.dtype}", source=source,
                        column=times.name)


def sequential_path(data: pd.DataFrame, *, arm: str, outcome: str, time: str, control: str,
                    n_expected: float | str, looks: Sequence | None = None, metric: str | None = None,
                    alpha: float = 0.05, source: str | None = None) -> SequentialPath:
    """The confidence sequence (and the fixed-horizon readout) at each look over time.

    Parameters
    ----------
    data : one row per unit: its arm, its outcome and its arrival time (e.g. ``assigned_at``).
    arm, outcome, time : column names.
    control : the control arm's value in ``arm``; every other arm is compared with it.
    n_expected : planned units of one comparison (treatment + control) at the end; the band
        is narrowest there. ``"current"`` re-tunes the band at every look for that look's n
        (what a reader who never fixed a plan gets from a readout run each day; its error
        rate over 30 daily looks is measured in ``benchmarks/sequential_study.py``).
    looks : cutoffs; a look includes the units with ``time <= cutoff``. Default: the end of
        every UTC day from the first arrival to the last (timestamps), or every distinct
        value (numbers, e.g. a day index).
    metric : ``rate`` / ``mean``; default ``rate`` for a 0/1 outcome.
    alpha : 1 - coverage (two-sided).

    The outcome of each unit is taken as given: for a look at day ``d`` to be a true replay
    of what was known on day ``d`` the outcome must have been observed by then (e.g. a
    fixed window after arrival, counted only for units whose window had closed).

    Returns
    -------
    :class:`SequentialPath`; the arms beyond one treatment are not corrected for multiplicity
    (use ``alpha / (number of arms - 1)`` for a family-wise guarantee).
    """
    alpha = check_alpha(alpha)
    retune = isinstance(n_expected, str)
    if retune and n_expected != "current":
        raise MofConfigError(f"n_expected must be a positive number or 'current', got {n_expected!r}")
    rho = float("nan") if retune else mixture_rho(n_expected, alpha)
    c = mixture_rho(1.0, alpha) ** 2  # rho tuned for n is sqrt(c / n)
    require_columns(data, [arm, outcome, time], source, nonempty=True)
    a = labels(data, arm, source)
    y = numeric(data, outcome, source)
    t = data[time]
    if t.isna().any():
        i = int(np.flatnonzero(t.isna().to_numpy())[0])
        raise MofInputError("missing arrival time", source=source, column=time, row=i + 1, value=None)
    metric = pick_metric(y, metric, outcome, source)
    control = str(control)
    arms = [str(v) for v in a.unique()]
    if control not in arms:
        raise MofInputError(f"control value {control!r} not found (values: {', '.join(arms[:10])})",
                            source=source, column=arm)
    if len(arms) < 2:
        raise MofInputError(f"only one arm ({arms[0]!r}): nothing to compare", source=source, column=arm)
    keys, cut, look_labels = _look_cutoffs(t.reset_index(drop=True), looks, source)
    if len(cut) == 0:
        raise MofConfigError("looks: give at least one cutoff")
    if np.any(np.diff(cut) < 0):
        raise MofConfigError("looks must be in increasing order")

    def cumulative(mask):
        order = np.argsort(keys[mask], kind="stable")
        k, v = keys[mask][order], y[mask][order]
        pos = np.searchsorted(k, cut, side="right")
        c1 = np.r_[0.0, np.cumsum(v)]
        c2 = np.r_[0.0, np.cumsum(v**2)]
        return pos.astype("float64"), c1[pos], c2[pos]

    av = a.to_numpy()
    n0, s0, q0 = cumulative(av == control)
    m0, v0 = _arm_moments(metric, n0, s0, q0)
    frames, first = [], {}
    for lv in sorted(x for x in arms if x != control):
        n1, s1, q1 = cumulative(av == lv)
        m1, v1 = _arm_moments(metric, n1, s1, q1)
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.sqrt(v1 / n1 + v0 / n0)
        lift = m1 - m0
        look_rho = np.sqrt(c / np.maximum(n1 + n0, 1.0)) if retune else rho
        lo, hi, p = sequential_interval(lift, se, n1 + n0, rho=look_rho, alpha=alpha)
        if metric == "rate":
            lo, hi = np.clip(lo, -1.0, 1.0), np.clip(hi, -1.0, 1.0)
        flo, fhi, fp = _fixed_horizon(metric, n1, s1, v1, n0, s0, v0, alpha)
        rate = metric == "rate"
        f = pd.DataFrame({
            "look": look_labels, "arm": lv, "n": n1.astype("int64"), "n_control": n0.astype("int64"),
            "events": pd.array(s1.round().astype("int64"), dtype="Int64") if rate else pd.array([pd.NA] * len(cut), dtype="Int64"),
            "events_control": pd.array(s0.round().astype("int64"), dtype="Int64") if rate else pd.array([pd.NA] * len(cut), dtype="Int64"),
            "estimate": m1, "control_estimate": m0, "lift": lift, "lift_ci_low": flo, "lift_ci_high": fhi,
            "p_value": fp, "seq_ci_low": lo, "seq_ci_high": hi, "seq_p_value": p,
            "low_data": _low_data(metric, n1, s1 if rate else 0, n0, s0 if rate else 0),
        })
        hit = np.flatnonzero((lo > 0) | (hi < 0))
        first[lv] = look_labels[int(hit[0])] if len(hit) else None
        frames.append(f)
    summ = pd.concat(frames, ignore_index=True)
    order = np.argsort(np.tile(np.arange(len(cut)), len(frames)), kind="stable")
    summ = summ.iloc[order].reset_index(drop=True)
    return SequentialPath(outcome, metric, arm, control, alpha, float("nan") if retune else float(n_expected), rho,
                          first, summ)


__all__ = ["mixture_rho", "mixture_boundary", "sequential_interval", "compare_sequential", "SequentialResult",
           "sequential_path", "SequentialPath", "RATE_VARIANCE_PSEUDOCOUNT"]
