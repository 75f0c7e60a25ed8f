"""Uplift evaluation: curves, Qini / uplift AUC, uplift at k, uplift by percentile, bands.

All functions take arguments in the scikit-learn order ``(y_true, uplift, treatment)``:
``y_true`` the observed outcome (0/1 for the normalized scores), ``uplift`` the model's score
(higher = target first), ``treatment`` 0/1. Definitions follow scikit-uplift (Radcliffe 2007;
Gutierrez & Gerardy 2017):

- rank units by decreasing ``uplift``; tied scores enter together (one curve point per
  distinct score);
- after the first ``k`` units, with ``n_t, n_c`` treated/control and ``y_t, y_c`` their
  conversions: **uplift curve** ``(y_t / n_t - y_c / n_c) * k``; **Qini curve**
  ``y_t - y_c * n_t / n_c`` (a ratio with a zero denominator counts as 0);
- the normalized scores are ``(AUC(model) - AUC(random)) / (AUC(perfect) - AUC(random))``:
  0 for a random ranking, 1 for the perfect one (the random curve is the straight line to the
  curve's end point).

Because on real data the signal is often inside the noise, :func:`uplift_score` adds a
permutation band (scores of randomly shuffled rankings) and a bootstrap CI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import auc

from mof_experiments.errors import MofInputError


def _check(y_true, uplift, treatment, *, binary_y: bool = True):
    y = np.asarray(y_true, dtype=float).ravel()
    u = np.asarray(uplift, dtype=float).ravel()
    t = np.asarray(treatment).ravel()
    if not (len(y) == len(u) == len(t)):
        raise MofInputError(f"y_true, uplift and treatment must have the same length, got {len(y)}, {len(u)}, {len(t)}")
    if len(y) == 0:
        raise MofInputError("no rows to evaluate")
    for name, v in (("y_true", y), ("uplift", u)):
        if not np.isfinite(v).all():
            i = int(np.flatnonzero(~np.isfinite(v))[0])
            raise MofInputError("missing or infinite value", column=name, row=i + 1, value=v[i])
    if t.dtype == bool:
        t = t.astype(int)
    tv = set(np.unique(t).tolist())
    if not tv <= {0, 1}:
        raise MofInputError(f"treatment must be 0/1, found {sorted(tv - {0, 1}, key=str)[0]!r}", column="treatment")
    if len(tv) < 2:
        which = "treated" if tv == {1} else "control"
        raise MofInputError(f"all rows are {which}: uplift metrics need both treated and control rows",
                            column="treatment")
    if binary_y and not set(np.unique(y).tolist()) <= {0.0, 1.0}:
        i = int(np.flatnonzero(~np.isin(y, (0.0, 1.0)))[0])
        raise MofInputError("a 0/1 outcome is needed", column="y_true", row=i + 1, value=y[i])
    return y, u, t.astype(int)


def _curve_points(n_all, n_t, y_t, y_c, kind: str):
    """The curve ``(x, value)`` from the cumulative counts at the end of each run of equal scores."""
    n_c = n_all - n_t
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "uplift":
            vals = (np.where(n_t > 0, y_t / n_t, 0.0) - np.where(n_c > 0, y_c / n_c, 0.0)) * n_all
        else:
            vals = y_t - np.where(n_c > 0, y_c * n_t / n_c, 0.0)
    return np.r_[0.0, n_all], np.r_[0.0, vals]


def _curve(y, u, t, kind: str):
    order = np.argsort(u, kind="mergesort")[::-1]
    y, u, t = y[order], u[order], t[order]
    idx = np.r_[np.flatnonzero(np.diff(u)), len(u) - 1]
    n_t = np.cumsum(t)[idx].astype(float)
    n_all = (idx + 1).astype(float)
    return _curve_points(n_all, n_t, np.cumsum(y * t)[idx], np.cumsum(y * (1 - t))[idx], kind)


def _curve_of_codes(codes, k: int, y, t, kind: str):
    """``_curve(y, values[codes], t, kind)`` for ``values`` the ``k`` distinct scores in ascending
    order: the curve is read at the end of each run of equal scores, where the cumulative sums
    are sums over groups of equal score (whole numbers: the same floats in any order), so
    ``bincount`` per group replaces the sort. For the random band: a permutation of the scores
    keeps their groups."""
    cnt = np.bincount(codes, minlength=k)[::-1]
    keep = cnt > 0
    n_all = np.cumsum(cnt[keep]).astype(float)
    n_t = np.cumsum(np.bincount(codes, weights=t, minlength=k)[::-1][keep])
    y_t = np.cumsum(np.bincount(codes, weights=y * t, minlength=k)[::-1][keep])
    y_c = np.cumsum(np.bincount(codes, weights=y * (1 - t), minlength=k)[::-1][keep])
    return _curve_points(n_all, n_t, y_t, y_c, kind)


def _qini_of_draw(y, t, codes, k: int, idx) -> float:
    """:func:`qini_auc_score` of the resample ``idx`` of a ranking given as score ``codes`` (see
    :func:`_curve_of_codes`); a degenerate resample raises ``MofInputError`` as the metric does."""
    yb, tb = y[idx], t[idx]
    perfect = _curve_of_codes((yb * tb - yb * (1 - tb) + 1).astype(np.intp), 3, yb, tb, "qini")
    return _normalized(_curve_of_codes(codes[idx], k, yb, tb, "qini"), perfect)


def uplift_curve(y_true, uplift, treatment):
    """Uplift curve: ``(x, value)`` arrays, ``x`` = units targeted (0 first), ``value`` =
    ``(y_t/n_t - y_c/n_c) * x`` (incremental conversions if that share were treated)."""
    y, u, t = _check(y_true, uplift, treatment, binary_y=False)
    return _curve(y, u, t, "uplift")


def qini_curve(y_true, uplift, treatment):
    """Qini curve: ``(x, value)`` with value ``y_t - y_c * n_t / n_c`` after ``x`` units."""
    y, u, t = _check(y_true, uplift, treatment, binary_y=False)
    return _curve(y, u, t, "qini")


def perfect_uplift_curve(y_true, treatment):
    """Uplift curve of the best possible ranking (scikit-uplift's construction): treated
    converters and control non-converters first, then the rest, control converters last."""
    y, _, t = _check(y_true, np.zeros(len(np.asarray(y_true))), treatment)
    cr = np.sum((y == 1) & (t == 0))
    tn = np.sum((y == 0) & (t == 1))
    summand = y if cr > tn else t
    return _curve(y, 2 * (y == t) + summand, t, "uplift")


def perfect_qini_curve(y_true, treatment):
    """Qini curve of the perfect ranking (treated converters first, control converters last)."""
    y, _, t = _check(y_true, np.zeros(len(np.asarray(y_true))), treatment)
    return _curve(y, y * t - y * (1 - t), t, "qini")


def _normalized(actual, perfect) -> float:
    xa, ya = actual
    xp, yp = perfect
    base = auc([0, xp[-1]], [0, yp[-1]])
    denom = auc(xp, yp) - base
    if denom == 0:
        raise MofInputError("the perfect curve equals the random one (no conversions, or every unit converts): "
                            "the normalized score is undefined")
    return float((auc(xa, ya) - base) / denom)


def qini_auc_score(y_true, uplift, treatment) -> float:
    """Qini coefficient normalized to the perfect Qini curve: 0 = random, 1 = perfect.

    ``(AUC(qini) - AUC(random)) / (AUC(perfect qini) - AUC(random))`` with the random curve the
    straight line from (0, 0) to the curve's end (scikit-uplift ``qini_auc_score``,
    ``negative_effect=True``).
    """
    y, u, t = _check(y_true, uplift, treatment)
    return _normalized(_curve(y, u, t, "qini"), _curve(y, y * t - y * (1 - t), t, "qini"))


def uplift_auc_score(y_true, uplift, treatment) -> float:
    """Area under the uplift curve normalized as scikit-uplift: 0 = random, 1 = perfect."""
    y, u, t = _check(y_true, uplift, treatment)
    return _normalized(_curve(y, u, t, "uplift"), perfect_uplift_curve(y, t))


def uplift_at_k(y_true, uplift, treatment, *, k: float | int = 0.3, strategy: str = "overall") -> float:
    """Observed uplift (treated rate - control rate) among the top ``k`` by score.

    ``k``: a share in (0, 1] (a float) or a count (an int). ``strategy``: ``overall`` (top k of
    all units, then split by arm; both arms must be present) or ``by_group`` (top k share/count
    of each arm separately).

    A share selects ``floor(k * m)`` units of the ``m`` ranked (scikit-uplift 0.5.1's rule,
    ``int(n_samples * k)``), where a product within 1e-9 (relative) of a whole number counts as
    that number, so float error cannot add or drop a unit: ``k=0.14`` of 5,000 units is 700
    (``0.14 * 5000`` is ``700.0000000000001`` in floating point) and ``k=0.29`` of 100 is 29
    (``28.999999999999996``). A share that selects no unit is an error.
    """
    y, u, t = _check(y_true, uplift, treatment, binary_y=False)
    n = len(y)

    def count(m):
        if isinstance(k, (float, np.floating)) and 0 < k <= 1:
            exact = float(k) * m
            c = int(np.floor(exact + 1e-9 * max(1.0, exact)))
            if c < 1:
                raise MofInputError(f"k={k!r} of {m} units selects no unit (floor({exact:g}) = 0): use a larger k")
            return c
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 1 <= k <= m:
            return int(k)
        raise MofInputError(f"k must be a share in (0, 1] or a count in 1..{m}, got {k!r}")

    if strategy == "overall":
        top = np.argsort(u, kind="mergesort")[::-1][:count(n)]
        yt, tt = y[top], t[top]
        if tt.min() == tt.max():
            raise MofInputError(f"the top {len(top)} units are all {'treated' if tt[0] else 'control'}: "
                                "use a larger k or strategy='by_group'")
        return float(yt[tt == 1].mean() - yt[tt == 0].mean())
    if strategy == "by_group":
        out = []
        for g in (1, 0):
            idx = np.flatnonzero(t == g)
            top = idx[np.argsort(u[idx], kind="mergesort")[::-1][:count(len(idx))]]
            out.append(y[top].mean())
        return float(out[0] - out[1])
    raise MofInputError(f"strategy must be 'overall' or 'by_group', got {strategy!r}")


def uplift_by_percentile(y_true, uplift, treatment, *, bins: int = 10, alpha: float = 0.05) -> pd.DataFrame:
    """Observed uplift per score bin (deciles by default), best scores first.

    Units are sorted by decreasing score and cut into ``bins`` near-equal groups.

    Returns
    -------
    DataFrame with columns: bin (1 = top), percentile (e.g. ``0-10``), score_min, score_max,
    n_treatment, n_control, rate_treatment, rate_control, uplift (rate difference),
    uplift_ci_low, uplift_ci_high (normal approximation), low_data (an arm with < 30 units).
    """
    from scipy.stats import norm

    y, u, t = _check(y_true, uplift, treatment, binary_y=False)
    if not (1 <= bins <= len(y)):
        raise MofInputError(f"bins must be between 1 and the number of rows ({len(y)}), got {bins}")
    order = np.argsort(u, kind="mergesort")[::-1]
    z = norm.ppf(1 - alpha / 2)
    rows = []
    for i, part in enumerate(np.array_split(order, bins), start=1):
        yy, tt, uu = y[part], t[part], u[part]
        n1, n0 = int(tt.sum()), int((1 - tt).sum())
        r1 = yy[tt == 1].mean() if n1 else np.nan
        r0 = yy[tt == 0].mean() if n0 else np.nan
        v1 = yy[tt == 1].var(ddof=1) / n1 if n1 > 1 else np.nan
        v0 = yy[tt == 0].var(ddof=1) / n0 if n0 > 1 else np.nan
        se = np.sqrt(v1 + v0)
        lo_p, hi_p = round(100 * (i - 1) / bins), round(100 * i / bins)
        rows.append({"bin": i, "percentile": f"{lo_p}-{hi_p}", "score_min": float(uu.min()),
                     "score_max": float(uu.max()), "n_treatment": n1, "n_control": n0, "rate_treatment": r1,
                     "rate_control": r0, "uplift": r1 - r0, "uplift_ci_low": r1 - r0 - z * se,
                     "uplift_ci_high": r1 - r0 + z * se, "low_data": min(n1, n0) < 30})
    return pd.DataFrame(rows)


_METRICS = {"qini": qini_auc_score, "uplift_auc": uplift_auc_score, "uplift_at_k": uplift_at_k}


@dataclass(frozen=True)
class UpliftScore:
    """A score with its random band and bootstrap CI.

    Attributes
    ----------
    metric : ``qini``, ``uplift_auc`` or ``uplift_at_k``.
    band : ``scores`` (permuted rankings) or ``treatment`` (permuted arms).
    score : the score of the model's ranking.
    ci_low, ci_high : percentile bootstrap CI (rows resampled within each arm).
    random_low, random_high, random_mean : the central ``1 - alpha`` band of the scores of
        randomly permuted rankings (what a useless model reaches on these data).
    p_value : share of permuted scores >= the score ((b + 1) / (B + 1)).
    above_random : ``score > random_high``.
    """

    metric: str
    score: float
    ci_low: float
    ci_high: float
    random_low: float
    random_high: float
    random_mean: float
    p_value: float
    n: int
    n_permutations: int
    n_bootstrap: int
    alpha: float
    random_scores: np.ndarray = field(repr=False)
    band: str = "scores"

    @property
    def above_random(self) -> bool:
        return bool(self.score > self.random_high)

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{k: getattr(self, k) for k in (
            "metric", "score", "ci_low", "ci_high", "random_low", "random_high", "random_mean", "p_value",
            "above_random", "band", "n", "n_permutations", "n_bootstrap", "alpha")}])

    def __str__(self) -> str:
        pct = round(100 * (1 - self.alpha))
        null = "random rankings" if self.band == "scores" else "permuted arms"
        return (f"{self.metric} = {self.score:.4f} ({pct}% CI {self.ci_low:.4f} to {self.ci_high:.4f}); "
                f"{null}: {self.random_low:.4f} to {self.random_high:.4f}; permutation p = {self.p_value:.3g}"
                f" -> {'above' if self.above_random else 'inside'} the random band")

    def _repr_html_(self) -> str:
        return f"<p>{self}</p>" + self.summary.to_html(index=False, float_format=lambda v: f"{v:.4g}")


def uplift_score(y_true, uplift, treatment, *, metric: str = "qini", n_permutations: int = 200,
                 n_bootstrap: int = 200, alpha: float = 0.05, band: str = "scores", random_state=None,
                 **kwargs) -> UpliftScore:
    """Score a ranking with a permutation random band and a bootstrap CI.

    Random band (``band="scores"``): the uplift scores are shuffled ``n_permutations`` times
    (the outcome and arm of each unit are kept) and the metric computed on each: what a random
    ranking reaches on these data. ``band="treatment"`` shuffles the treatment labels instead
    (scores and outcomes kept): the randomization distribution of the score when the email has
    no effect on anyone (a randomization test that keeps the model's ranking as it is; use it
    with out-of-fold scores). The band is the ``alpha/2`` and ``1 - alpha/2``
    quantiles. Bootstrap: rows resampled with replacement within each arm ``n_bootstrap``
    times; percentile interval. ``kwargs`` go to the metric (e.g. ``k``).
    """
    if metric not in _METRICS:
        raise MofInputError(f"metric must be one of {', '.join(_METRICS)}, got {metric!r}")
    f = _METRICS[metric]
    y, u, t = _check(y_true, uplift, treatment, binary_y=metric != "uplift_at_k")
    rng = np.random.default_rng(random_state)
    s = f(y, u, t, **kwargs)
    if band not in ("scores", "treatment"):
        raise MofInputError(f"band must be 'scores' or 'treatment', got {band!r}")
    fast = metric == "qini" and not kwargs
    if fast:  # the same numbers without a sort per resample (_curve_of_codes)
        levels, codes = np.unique(u, return_inverse=True)
        codes = codes.astype(np.intp)
    if fast and band == "scores":
        # rng.permutation(u) is u[rng.permutation(len(u))] (the same draws): the unit at i gets
        # the score of unit p[i]; y and t stay, so the perfect curve is computed once
        perfect = _curve(y, y * t - y * (1 - t), t, "qini")
        perm = np.array([_normalized(_curve_of_codes(codes[rng.permutation(len(u))], len(levels), y, t, "qini"),
                                     perfect) for _ in range(n_permutations)])
    elif band == "scores":
        perm = np.array([f(y, rng.permutation(u), t, **kwargs) for _ in range(n_permutations)])
    else:
        perm = np.array([f(y, u, rng.permutation(t), **kwargs) for _ in range(n_permutations)])
    i1, i0 = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    boot = []
    for _ in range(n_bootstrap):
        idx = np.r_[rng.choice(i1, len(i1)), rng.choice(i0, len(i0))]
        try:
            boot.append(_qini_of_draw(y, t, codes, len(levels), idx) if fast else f(y[idx], u[idx], t[idx], **kwargs))
        except MofInputError:  # a degenerate resample (e.g. no conversions)
            continue
    boot = np.asarray(boot)
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2]) if len(boot) else (np.nan, np.nan)
    rlo, rhi = np.quantile(perm, [alpha / 2, 1 - alpha / 2])
    p = (np.sum(perm >= s) + 1) / (n_permutations + 1)
    return UpliftScore(metric, float(s), float(lo), float(hi), float(rlo), float(rhi), float(perm.mean()), float(p),
                       len(y), n_permutations, len(boot), alpha, perm, band)


__all__ = ["uplift_curve", "qini_curve", "perfect_uplift_curve", "perfect_qini_curve", "qini_auc_score",
           "uplift_auc_score", "uplift_at_k", "uplift_by_percentile", "uplift_score", "UpliftScore"]
