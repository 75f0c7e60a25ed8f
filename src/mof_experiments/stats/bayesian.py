"""Bayesian readout: posterior of each arm, chance to beat control, expected loss, credible intervals.

Models and priors (stated in every result's ``prior``)
------------------------------------------------------
- **Rates**: each arm's rate ``p_k ~ Beta(a0 + events_k, b0 + n_k - events_k)``, the conjugate
  posterior of a binomial count under a ``Beta(a0, b0)`` prior; default ``Beta(1, 1)``
  (uniform on [0, 1]; the arms are independent a priori).
- **Means**: normal approximation, ``mu_k ~ N(mean_k, var_k / n_k)`` with ``var_k`` the sample
  variance (``ddof=1``): the posterior under a flat (improper) prior on ``mu_k`` when the
  variance is taken as known (GrowthBook's default). With ``prior_mean`` and ``prior_sd`` a
  proper ``N(prior_mean, prior_sd^2)`` prior on each arm's mean is combined by precision:
  ``1/v = 1/prior_sd^2 + n/var``, ``m = v (prior_mean/prior_sd^2 + n mean/var)``.

Quantities (all computed without Monte Carlo)
---------------------------------------------
- ``prob_beat_control`` = ``P(theta_arm > theta_control)``. Rates: the one-dimensional integral
  ``int_0^1 (1 - F_arm(Q_control(u))) du`` (``F`` the posterior CDF, ``Q`` the control's quantile
  function), by adaptive quadrature (scipy ``quad``, absolute error < 1e-9); means: exactly
  ``Phi((m_arm - m_control) / sqrt(v_arm + v_control))``.
- ``prob_best`` = ``P(theta_arm is the largest)`` = ``int f_arm(x) prod_{k != arm} F_k(x) dx``.
- ``expected_loss`` of shipping an arm = ``E[max_k theta_k - theta_arm]``: the expected
  shortfall against the best arm if this arm is chosen ("risk" in GrowthBook and Eppo, in the
  metric's units). With two arms it is ``E[max(theta_other - theta_arm, 0)]``. Computed as
  ``E[max_k theta_k] - E[theta_arm]`` with ``E[max] = lo + int_lo^hi (1 - prod_k F_k(x)) dx``.
- ``credible_low`` / ``credible_high``: equal-tailed ``1 - alpha`` interval of each arm's
  rate or mean; ``lift_credible_low`` / ``lift_credible_high``: of ``theta_arm -
  theta_control`` (rates: the CDF of the difference ``P(D <= d)`` is a one-dimensional
  integral, inverted by root finding; means: normal).

"Higher is better" throughout; for a metric where lower is better, negate it first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.checks import (check_alpha, require_columns, check_positive, labels, numeric,
                                           pick_metric)

#: Default Beta prior of a rate (uniform).
DEFAULT_BETA_PRIOR = (1.0, 1.0)
_QUAD = {"epsabs": 1e-11, "epsrel": 1e-10, "limit": 500}


# --------------------------------------------------------------------------- the arithmetic
class _Posterior:
    """A posterior with fast scalar ``pdf`` / ``cdf`` / ``sf`` (scipy.special ufuncs: the
    integrals call them thousands of times) and its frozen scipy distribution for quantiles."""

    def __init__(self, dist, pdf, cdf, sf, lo: float, hi: float):
        self.dist = dist
        self.pdf, self.cdf, self.sf = pdf, cdf, sf
        self.mean = float(dist.mean())
        self.sd = float(dist.std())
        self.lo, self.hi = lo, hi  # support used for integration (tails beyond carry < 1e-14)


def _beta(a: float, b: float) -> _Posterior:
    from scipy.special import betainc, betaincc, betaln
    from scipy.stats import beta

    d = beta(a, b)
    lnorm = float(betaln(a, b))

    def pdf(x):
        if x <= 0.0 or x >= 1.0:
            return 0.0
        return math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - lnorm)

    def cdf(x):
        return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else float(betainc(a, b, x))

    def sf(x):
        return 1.0 if x <= 0.0 else 0.0 if x >= 1.0 else float(betaincc(a, b, x))

    return _Posterior(d, pdf, cdf, sf, float(d.ppf(1e-15)), float(d.isf(1e-15)))


def _normal(m: float, v: float) -> _Posterior:
    from scipy.special import ndtr
    from scipy.stats import norm

    s = math.sqrt(v)
    c = 1.0 / (s * math.sqrt(2 * math.pi))
    return _Posterior(norm(m, s), lambda x: c * math.exp(-0.5 * ((x - m) / s) ** 2),
                      lambda x: float(ndtr((x - m) / s)), lambda x: float(ndtr((m - x) / s)),
                      m - 8.5 * s, m + 8.5 * s)


def _quad(f, lo: float, hi: float, points=()) -> float:
    from scipy.integrate import quad

    pts = sorted({float(p) for p in points if lo < p < hi})
    return float(quad(f, lo, hi, points=pts or None, **_QUAD)[0])


def _breaks(posts: Sequence[_Posterior]) -> list[float]:
    out = []
    for p in posts:
        out += [p.mean - 4 * p.sd, p.mean - p.sd, p.mean, p.mean + p.sd, p.mean + 4 * p.sd]
    return out


def prob_greater(a: _Posterior, b: _Posterior) -> float:
    """``P(A > B)`` for independent A, B: ``int f_B(x) (1 - F_A(x)) dx`` by quadrature."""
    v = _quad(lambda x: b.pdf(x) * a.sf(x), b.lo, b.hi, _breaks([a, b]))
    return float(min(max(v, 0.0), 1.0))


def _expected_max(posts: Sequence[_Posterior]) -> float:
    lo, hi = min(p.lo for p in posts), max(p.hi for p in posts)

    def f(x):
        prod = 1.0
        for p in posts:
            prod *= p.cdf(x)
        return 1.0 - prod

    return lo + _quad(f, lo, hi, _breaks(posts))


def _prob_best(j: int, posts: Sequence[_Posterior]) -> float:
    pj = posts[j]
    others = [p for k, p in enumerate(posts) if k != j]

    def f(x):
        prod = pj.pdf(x)
        for p in others:
            prod *= p.cdf(x)
        return prod

    return float(min(max(_quad(f, pj.lo, pj.hi, _breaks(posts)), 0.0), 1.0))


def _diff_quantiles(a: _Posterior, b: _Posterior, probs: Sequence[float]) -> list[float]:
    """Quantiles of ``A - B`` (independent): invert ``P(A - B <= d) = int f_B(x) F_A(x + d) dx``."""
    from scipy.optimize import brentq

    def cdf(d):
        return _quad(lambda x: b.pdf(x) * a.cdf(x + d), b.lo, b.hi, _breaks([b]))

    lo_d, hi_d = a.lo - b.hi, a.hi - b.lo
    out = []
    for q in probs:
        out.append(float(brentq(lambda d: cdf(d) - q, lo_d, hi_d, xtol=1e-10, rtol=1e-10)))
    return out


# ------------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class BayesianResult:
    """Posterior comparison of arms.

    ``summary``: one row per arm (control first). Columns: arm, is_control, n, events (rates;
    NA for means), estimate (observed rate or mean), posterior_mean, credible_low,
    credible_high (equal-tailed ``1 - alpha`` interval of the arm's rate or mean), lift
    (posterior mean of arm - control), lift_credible_low, lift_credible_high,
    prob_beat_control (``P(arm > control)``), prob_best, expected_loss (``E[max_k theta_k -
    theta_arm]``, the risk of shipping this arm, in the metric's units). Control rows have no
    lift and no prob_beat_control.

    ``prob_beat_control`` and ``expected_loss`` are also given as ``{arm: value}``.
    """

    metric: str
    control: str
    prior: str
    alpha: float
    prob_beat_control: dict
    expected_loss: dict
    summary: pd.DataFrame = field(repr=False)

    def __str__(self) -> str:
        lines = [f"Bayesian readout ({self.metric}; prior {self.prior}; {1 - self.alpha:.0%} credible intervals)"]
        for r in self.summary.itertuples():
            s = (f"  {r.arm:<16} n={r.n:<8,} posterior {r.posterior_mean:.4g} "
                 f"[{r.credible_low:.4g}, {r.credible_high:.4g}]")
            if not r.is_control:
                s += f"  P(beats control)={r.prob_beat_control:.3f}"
            s += f"  risk if shipped={r.expected_loss:.3g}"
            lines.append(s)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<p>Bayesian readout ({self.metric}), prior <code>{self.prior}</code></p>" + \
            self.summary.to_html(index=False)


def _assemble(metric: str, names: list[str], control_idx: int, posts: list[_Posterior], n, events, estimate,
              alpha: float, prior: str, normal: bool) -> BayesianResult:
    from scipy.stats import norm

    k = len(posts)
    emax = _expected_max(posts) if k > 2 else None
    pc = posts[control_idx]
    rows = []
    for j, p in enumerate(posts):
        is_c = j == control_idx
        lo, hi = (float(p.dist.ppf(alpha / 2)), float(p.dist.isf(alpha / 2)))
        row = {"arm": names[j], "is_control": is_c, "n": int(n[j]),
               "events": int(events[j]) if metric == "rate" else pd.NA, "estimate": float(estimate[j]),
               "posterior_mean": p.mean, "credible_low": lo, "credible_high": hi}
        if is_c:
            row.update(lift=np.nan, lift_credible_low=np.nan, lift_credible_high=np.nan, prob_beat_control=np.nan)
        else:
            row["lift"] = p.mean - pc.mean
            if normal:
                sd = math.hypot(p.sd, pc.sd)
                row["prob_beat_control"] = float(norm.cdf((p.mean - pc.mean) / sd))
                row["lift_credible_low"], row["lift_credible_high"] = norm(p.mean - pc.mean, sd).ppf(
                    [alpha / 2, 1 - alpha / 2]).tolist()
            else:
                row["prob_beat_control"] = prob_greater(p, pc)
                row["lift_credible_low"], row["lift_credible_high"] = _diff_quantiles(p, pc, [alpha / 2, 1 - alpha / 2])
        if k == 2:
            other = posts[1 - j]
            row["prob_best"] = 1.0 - (prob_greater(other, p) if not normal else
                                      float(norm.cdf((other.mean - p.mean) / math.hypot(p.sd, other.sd))))
            # E[max(other - this, 0)] = E[max(this, other)] - E[this]
            if normal:
                m, s = other.mean - p.mean, math.hypot(p.sd, other.sd)
                row["expected_loss"] = float(m * norm.cdf(m / s) + s * norm.pdf(m / s))
            else:
                row["expected_loss"] = max(_expected_max([p, other]) - p.mean, 0.0)
        else:
            row["prob_best"] = _prob_best(j, posts)
            row["expected_loss"] = max(emax - p.mean, 0.0)
        rows.append(row)
    cols = ["arm", "is_control", "n", "events", "estimate", "posterior_mean", "credible_low", "credible_high", "lift",
            "lift_credible_low", "lift_credible_high", "prob_beat_control", "prob_best", "expected_loss"]
    summ = pd.DataFrame(rows)[cols]
    summ["events"] = summ["events"].astype("Int64")
    order = [control_idx] + [j for j in range(k) if j != control_idx]
    summ = summ.iloc[order].reset_index(drop=True)
    pbc = {r.arm: float(r.prob_beat_control) for r in summ.itertuples() if not r.is_control}
    el = {r.arm: float(r.expected_loss) for r in summ.itertuples()}
    return BayesianResult(metric, names[control_idx], prior, alpha, pbc, el, summ)


def _names_and_control(k: int, arms, control) -> tuple[list[str], int]:
    names = [str(a) for a in arms] if arms is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise MofInputError(f"{len(names)} arm names for {k} arms")
    if len(set(names)) != k:
        raise MofInputError(f"arm names must be distinct, got {names}")
    if k < 2:
        raise MofInputError("need at least two arms to compare")
    if control is None:
        return names, 0
    if str(control) not in names:
        raise MofInputError(f"control {control!r} is not one of the arms ({', '.join(names)})")
    return names, names.index(str(control))


def bayesian_rates(events, n, *, arms: Sequence[str] | None = None, control: str | None = None,
                   prior: tuple[float, float] = DEFAULT_BETA_PRIOR, alpha: float = 0.05) -> BayesianResult:
    """Beta-Binomial posteriors of rates: chance to beat control, expected loss, credible intervals.

    Parameters
    ----------
    events, n : per arm, the number of units with the event and the number of units.
    arms : arm names (default ``"0", "1", ...``); ``control`` names the control arm (default
        the first).
    prior : ``(a0, b0)`` of the Beta prior of every arm's rate (default ``(1, 1)``, uniform).
    alpha : credible intervals are equal-tailed ``1 - alpha``.

    Returns
    -------
    :class:`BayesianResult` (see the module docstring for the formulas).
    """
    alpha = check_alpha(alpha)
    a0, b0 = (check_positive(v, "prior") for v in prior)
    x = np.asarray(events, dtype="float64").ravel()
    m = np.asarray(n, dtype="float64").ravel()
    if len(x) != len(m):
        raise MofInputError(f"events and n must have the same length, got {len(x)} and {len(m)}")
    bad = ~np.isfinite(x) | ~np.isfinite(m) | (x < 0) | (m < 1) | (x > m) | (x != np.round(x)) | (m != np.round(m))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MofInputError(f"arm {i + 1}: need whole counts with 0 <= events <= n and n >= 1, got events={x[i]:g}, "
                            f"n={m[i]:g}")
    names, ci = _names_and_control(len(x), arms, control)
    posts = [_beta(a0 + xi, b0 + mi - xi) for xi, mi in zip(x, m)]
    return _assemble("rate", names, ci, posts, m, x, x / m, alpha, f"Beta({a0:g}, {b0:g}) on each arm's rate", False)


def bayesian_means(mean, var, n, *, arms: Sequence[str] | None = None, control: str | None = None,
                   prior_mean: float | None = None, prior_sd: float | None = None,
                   alpha: float = 0.05) -> BayesianResult:
    """Normal-approximation posteriors of means: chance to beat control, expected loss, credible intervals.

    Parameters
    ----------
    mean, var, n : per arm, the sample mean, sample variance (``ddof=1``) and number of units
        (n >= 2, var > 0).
    prior_mean, prior_sd : optional normal prior on each arm's mean; default flat (improper).

    Returns
    -------
    :class:`BayesianResult`; every quantity is exact under the normal posterior.
    """
    alpha = check_alpha(alpha)
    mu = np.asarray(mean, dtype="float64").ravel()
    v = np.asarray(var, dtype="float64").ravel()
    m = np.asarray(n, dtype="float64").ravel()
    if not (len(mu) == len(v) == len(m)):
        raise MofInputError(f"mean, var and n must have the same length, got {len(mu)}, {len(v)}, {len(m)}")
    bad = ~np.isfinite(mu) | ~np.isfinite(v) | ~np.isfinite(m) | (m < 2) | (v <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MofInputError(f"arm {i + 1}: a normal posterior needs n >= 2 and a variance > 0 (a constant outcome "
                            f"has none), got mean={mu[i]:g}, var={v[i]:g}, n={m[i]:g}")
    names, ci = _names_and_control(len(mu), arms, control)
    if (prior_mean is None) != (prior_sd is None):
        raise MofConfigError("give both prior_mean and prior_sd, or neither (flat prior)")
    pm, pv = mu, v / m
    prior = "flat (improper) on each arm's mean"
    if prior_mean is not None:
        sd0 = check_positive(prior_sd, "prior_sd")
        prec = 1.0 / sd0**2 + m / v
        pm = (float(prior_mean) / sd0**2 + m * mu / v) / prec
        pv = 1.0 / prec
        prior = f"Normal({float(prior_mean):g}, {sd0:g}^2) on each arm's mean"
    posts = [_normal(float(a), float(b)) for a, b in zip(pm, pv)]
    return _assemble("mean", names, ci, posts, m, np.full(len(m), np.nan), mu, alpha, prior, True)


def bayesian_readout(data: pd.DataFrame, *, arm: str, outcome: str, control: str, metric: str | None = None,
                     prior: tuple[float, float] = DEFAULT_BETA_PRIOR, prior_mean: float | None = None,
                     prior_sd: float | None = None, alpha: float = 0.05,
                     source: str | None = None) -> BayesianResult:
    """:func:`bayesian_rates` (0/1 outcome) or :func:`bayesian_means` from one row per unit.

    ``metric``: ``rate`` or ``mean`` (default ``rate`` when every value is 0/1). Arms are the
    values of ``arm``; ``control`` must be one of them.
    """
    require_columns(data, [arm, outcome], source, nonempty=True)
    a = labels(data, arm, source)
    y = numeric(data, outcome, source)
    metric = pick_metric(y, metric, outcome, source)
    names = [str(v) for v in a.unique()]
    if str(control) not in names:
        raise MofInputError(f"control value {control!r} not found (values: {', '.join(names[:10])})",
                            source=source, column=arm)
    names = [str(control)] + sorted(x for x in names if x != str(control))
    av = a.to_numpy()
    groups = [y[av == lv] for lv in names]
    if metric == "rate":
        return bayesian_rates([g.sum() for g in groups], [len(g) for g in groups], arms=names, control=str(control),
                              prior=prior, alpha=alpha)
    for lv, g in zip(names, groups):
        if len(g) < 2 or np.var(g) == 0:
            raise MofInputError(f"arm {lv!r} has {'one unit' if len(g) < 2 else 'a constant outcome'}: "
                                "no posterior variance", source=source, column=outcome)
    return bayesian_means([g.mean() for g in groups], [g.var(ddof=1) for g in groups], [len(g) for g in groups],
                          arms=names, control=str(control), prior_mean=prior_mean, prior_sd=prior_sd, alpha=alpha)


__all__ = ["bayesian_rates", "bayesian_means", "bayesian_readout", "BayesianResult", "DEFAULT_BETA_PRIOR"]
