"""Plots of uplift evaluation (matplotlib/seaborn); every function returns the Axes."""

from __future__ import annotations

import numpy as np

from mof_experiments.plots import axes, uplift_by_bin
from mof_experiments.uplift.metrics import (perfect_qini_curve, perfect_uplift_curve, qini_curve, uplift_by_percentile,
                                            uplift_curve)


def _band(ax, y, u, t, curve, n_permutations, alpha, random_state):
    """Shade the pointwise band of curves of randomly permuted scores."""
    rng = np.random.default_rng(random_state)
    grid = np.linspace(0, len(y), 101)
    vals = np.array([np.interp(grid, *curve(y, rng.permutation(u), t)) for _ in range(n_permutations)])
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2], axis=0)
    ax.fill_between(grid, lo, hi, color="0.8", alpha=0.6, label=f"random rankings ({1 - alpha:.0%})")


def _plot_curve(curve, perfect_curve, ylabel, y_true, uplift, treatment, ax, perfect, random_band,
                n_permutations, alpha, random_state, label):
    ax = axes(ax, (6, 4))
    y, u, t = (np.asarray(a) for a in (y_true, uplift, treatment))
    x, v = curve(y, u, t)
    if random_band:
        _band(ax, y.astype(float), u.astype(float), t, curve, n_permutations, alpha, random_state)
    ax.plot(x, v, label=label, color="C0")
    ax.plot([0, x[-1]], [0, v[-1]], ls="--", color="0.4", label="random")
    if perfect:
        xp, vp = perfect_curve(y, t)
        ax.plot(xp, vp, color="C2", alpha=0.7, label="perfect")
    ax.set_xlabel("units targeted (by decreasing predicted uplift)")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    return ax


def plot_qini_curve(y_true, uplift, treatment, *, ax=None, perfect: bool = True, random_band: bool = True,
                    n_permutations: int = 100, alpha: float = 0.05, random_state=0, label: str = "model"):
    """Qini curve of the model, the random line, optionally the perfect curve and the band of
    curves of randomly permuted scores. x: units targeted; y: incremental conversions (Qini)."""
    return _plot_curve(qini_curve, perfect_qini_curve, "incremental conversions (Qini)", y_true, uplift,
                       treatment, ax, perfect, random_band, n_permutations, alpha, random_state, label)


def plot_uplift_curve(y_true, uplift, treatment, *, ax=None, perfect: bool = True, random_band: bool = True,
                      n_permutations: int = 100, alpha: float = 0.05, random_state=0, label: str = "model"):
    """Uplift curve ``(rate_t - rate_c) * k`` against units targeted ``k``, with the random
    line, the perfect curve and the permutation band."""
    return _plot_curve(uplift_curve, perfect_uplift_curve, "incremental conversions", y_true, uplift,
                       treatment, ax, perfect, random_band, n_permutations, alpha, random_state, label)


def plot_uplift_by_percentile(y_true, uplift, treatment, *, bins: int = 10, ax=None, alpha: float = 0.05):
    """Bars of the observed uplift per score bin (best first) with their CIs: the table of
    :func:`~mof_experiments.uplift.metrics.uplift_by_percentile` drawn by
    :func:`mof_experiments.plots.uplift_by_bin`."""
    tab = uplift_by_percentile(y_true, uplift, treatment, bins=bins, alpha=alpha)
    return uplift_by_bin(tab, x="percentile", ax=ax)


def plot_score_band(score, *, ax=None):
    """Histogram of the permuted (random) scores with the model's score and bootstrap CI."""
    import seaborn as sns

    ax = axes(ax, (6, 4))
    sns.histplot(score.random_scores, ax=ax, color="0.7", label="random rankings")
    ax.axvline(score.score, color="C0", label=f"model ({score.score:.3f})")
    ax.axvspan(score.ci_low, score.ci_high, color="C0", alpha=0.15, label="bootstrap CI")
    ax.set_xlabel(score.metric)
    ax.legend(frameon=False)
    return ax


__all__ = ["plot_qini_curve", "plot_uplift_curve", "plot_uplift_by_percentile", "plot_score_band"]
