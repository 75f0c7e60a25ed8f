"""Power: the minimum detectable effect at given sample sizes, and the sample size for an effect.

statsmodels ``NormalIndPower`` / ``zt_ind_solve_power`` with Cohen's effect sizes (``h`` for
rates, ``d`` for means), two-sided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mof_experiments.errors import MofConfigError


def mde_proportion(baseline: float, n_treatment, n_control, *, alpha: float = 0.05, power: float = 0.8):
    """Minimum detectable absolute lift of a rate (two-sided), from Cohen's h.

    Solves ``NormalIndPower`` for the effect size ``h`` at sample sizes ``n_treatment``,
    ``n_control`` and converts back: ``p1 = sin(h/2 + asin(sqrt(p0)))**2``; returns ``p1 - p0``.
    """
    from statsmodels.stats.power import NormalIndPower

    if n_treatment < 2 or n_control < 2:
        return float("nan")
    h = NormalIndPower().solve_power(effect_size=None, nobs1=n_treatment, alpha=alpha, power=power,
                                     ratio=n_control / n_treatment, alternative="two-sided")
    p1 = math.sin(min(h / 2 + math.asin(math.sqrt(baseline)), math.pi / 2)) ** 2
    return p1 - baseline


def mde_mean(sd: float, n_treatment, n_control, *, alpha: float = 0.05, power: float = 0.8):
    """Minimum detectable difference of means: Cohen's d from ``NormalIndPower`` times ``sd``."""
    from statsmodels.stats.power import NormalIndPower

    if n_treatment < 2 or n_control < 2 or not np.isfinite(sd):
        return float("nan")
    d = NormalIndPower().solve_power(effect_size=None, nobs1=n_treatment, alpha=alpha, power=power,
                                     ratio=n_control / n_treatment, alternative="two-sided")
    return d * sd


@dataclass(frozen=True)
class SampleSize:
    """Companies needed to detect ``mde`` (absolute) on a ``baseline`` rate."""

    baseline: float
    mde: float
    alpha: float
    power: float
    ratio: float
    n_treatment: int
    n_control: int

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


def sample_size(baseline: float, mde: float, *, alpha: float = 0.05, power: float = 0.8,
                ratio: float = 1.0) -> SampleSize:
    """Sample size per arm for a two-sided test of ``baseline`` vs ``baseline + mde``.

    ``zt_ind_solve_power`` with Cohen's h (``proportion_effectsize``); ``ratio`` =
    n_control / n_treatment. Returns rounded-up counts.
    """
    from statsmodels.stats.power import zt_ind_solve_power
    from statsmodels.stats.proportion import proportion_effectsize

    if not (0 < baseline < 1) or not (0 < baseline + mde < 1) or mde == 0:
        raise MofConfigError(f"need 0 < baseline < 1 and 0 < baseline + mde < 1, mde != 0; got {baseline}, {mde}")
    h = abs(proportion_effectsize(baseline + mde, baseline))
    n1 = zt_ind_solve_power(effect_size=h, nobs1=None, alpha=alpha, power=power, ratio=ratio)
    return SampleSize(baseline, mde, alpha, power, ratio, int(math.ceil(n1)), int(math.ceil(n1 * ratio)))


__all__ = ["mde_proportion", "mde_mean", "SampleSize", "sample_size"]
