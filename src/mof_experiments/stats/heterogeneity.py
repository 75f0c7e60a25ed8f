"""Breakdowns: the treatment effect per cell of a categorical column, and whether it differs.

Rule
----
For a column ``by`` (persona, plan, behavioral segment, ...), every cell (value; a missing
value is the cell ``(missing)``) gets the treatment-vs-control comparison the readout makes:

- rates: ``lift`` = rate difference with the Newcomb interval, score test (statsmodels
  ``confint_proportions_2indep`` / ``test_proportions_2indep``);
- means: difference of means with the Welch interval and t-test (statsmodels ``CompareMeans``).

The cells' p-values are corrected together (``correction``: ``holm`` by default, or ``fdr_bh``,
``bonferroni``, ``none``; statsmodels ``multipletests``). A cell is ``low_data`` when an arm
has fewer than ``min_n`` units, for a rate fewer than ``min_events`` events or non-events in
an arm (defaults: the package's low-data rule, ``stats.comparison.LOW_DATA_N`` = 30 and
``LOW_DATA_EVENTS`` = 5), for a mean no variation in either arm; a low-data cell is shown but
never called significant.

Interaction (heterogeneity) test
--------------------------------
Does the effect differ between cells? On the cells that are not low data: the Wald test that
all cells' treatment effects are equal in the saturated linear model ``y ~ cell +
cell:treated`` (one intercept and one treatment effect per cell) with heteroskedasticity-robust
``HC2`` covariance, chi-square on ``K - 1`` degrees of freedom. In the saturated model ``HC2``
gives each cell-arm its own sample variance, so the statistic is Cochran's ``Q = sum_k w_k
(lift_k - lift_w)^2`` with ``w_k = 1 / SE_k^2`` (Welch standard errors), which is how it is
computed (statsmodels ``combine_effects(...).test_homogeneity()``; the test suite checks it
against statsmodels ``OLS(...).fit(cov_type="HC2").wald_test``). It tests the effect **on the
scale of the table** (rate differences). For rates this is the linear
probability model; a logit model would test odds ratios instead, which differ between cells
with different base rates even when the rate difference does not.

The heterogeneity test is a correlation statement about segments of a randomized experiment:
the effect within each cell is causal, the reason it differs between cells is not shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.checks import check_alpha, labels, numeric, pick_metric, require_columns
from mof_experiments.stats.comparison import LOW_DATA_EVENTS, LOW_DATA_N

MISSING_CELL = "(missing)"
CORRECTIONS = ("holm", "fdr_bh", "bonferroni", "none")


@dataclass(frozen=True)
class Breakdown:
    """Treatment effect per cell and the interaction test.

    ``summary``: one row per cell (in order of the cell values). Columns: cell, n,
    n_control, events, events_control (rates; NA for means), estimate, control_estimate,
    lift (estimate - control_estimate), lift_ci_low, lift_ci_high, p_value, p_value_adj,
    significant (p_value_adj < alpha and not low_data), low_data.

    ``interaction_p_value`` is NaN (with ``note`` saying why) when fewer than two cells have
    enough data.
    """

    outcome: str
    by: str
    metric: str
    control: str
    treatment: str
    alpha: float
    correction: str
    interaction_statistic: float
    interaction_df: int
    interaction_p_value: float
    cells_tested: tuple
    note: str
    summary: pd.DataFrame = field(repr=False)

    @property
    def heterogeneous(self) -> bool:
        """The interaction test rejects equal effects at ``alpha``."""
        return bool(self.interaction_p_value < self.alpha)

    def __str__(self) -> str:
        head = (f"{self.outcome} ({self.metric}) by {self.by}: {self.treatment} vs {self.control}, "
                f"{self.correction} correction across {len(self.summary)} cells")
        lines = [head]
        for r in self.summary.itertuples():
            s = (f"  {str(r.cell):<20} n={r.n:,}/{r.n_control:,}  lift {r.lift:+.4g} "
                 f"[{r.lift_ci_low:+.4g}, {r.lift_ci_high:+.4g}] p={r.p_value:.3g} adj={r.p_value_adj:.3g}")
            lines.append(s + ("  LOW DATA" if r.low_data else ""))
        if np.isfinite(self.interaction_p_value):
            lines.append(f"  interaction: chi2={self.interaction_statistic:.3f} on {self.interaction_df} df, "
                         f"p={self.interaction_p_value:.3g} ({len(self.cells_tested)} cells)")
        else:
            lines.append(f"  interaction: not tested ({self.note})")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<p>" + str(self).split("\n")[0] + "<br>" + str(self).split("\n")[-1].strip() + "</p>" + \
            self.summary.to_html(index=False)


def _cell_rate(y1: np.ndarray, y0: np.ndarray, alpha: float) -> dict:
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    x, n, x0, n0 = float(y1.sum()), len(y1), float(y0.sum()), len(y0)
    out = {"events": int(x), "events_control": int(x0)}
    if n == 0 or n0 == 0:
        return out | {"lift": np.nan, "lift_ci_low": np.nan, "lift_ci_high": np.nan, "p_value": np.nan}
    with np.errstate(all="ignore"):
        lo, hi = confint_proportions_2indep(x, n, x0, n0, method="newcomb", compare="diff", alpha=alpha)
        p = 1.0 if x + x0 in (0, n + n0) else float(
            test_proportions_2indep(x, n, x0, n0, method="score", compare="diff").pvalue)
    return out | {"lift": x / n - x0 / n0, "lift_ci_low": float(lo), "lift_ci_high": float(hi), "p_value": p}


def _cell_mean(y1: np.ndarray, y0: np.ndarray, alpha: float) -> dict:
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    out = {"events": pd.NA, "events_control": pd.NA}
    if len(y1) < 2 or len(y0) < 2 or (np.var(y1) == 0 and np.var(y0) == 0):
        lift = y1.mean() - y0.mean() if len(y1) and len(y0) else np.nan
        return out | {"lift": lift, "lift_ci_low": np.nan, "lift_ci_high": np.nan, "p_value": np.nan}
    cm = CompareMeans(DescrStatsW(y1), DescrStatsW(y0))
    lo, hi = cm.tconfint_diff(alpha=alpha, usevar="unequal")
    p = float(cm.ttest_ind(usevar="unequal")[1])
    return out | {"lift": y1.mean() - y0.mean(), "lift_ci_low": float(lo), "lift_ci_high": float(hi), "p_value": p}


def interaction_test(y: np.ndarray, treated: np.ndarray, cell: np.ndarray) -> tuple[float, int, float]:
    """Test that the treatment effect is the same in every cell.

    Cochran's ``Q = sum_k w_k (lift_k - lift_w)^2`` on the cells' differences in means with
    ``w_k = 1 / (var_T,k / n_T,k + var_C,k / n_C,k)`` (sample variances, ``ddof=1``) and
    ``lift_w`` their ``w``-weighted mean, against chi-square with ``K - 1`` degrees of freedom
    (statsmodels ``combine_effects(...).test_homogeneity()``). This is exactly the Wald test of
    equal ``cell:treated`` coefficients in the saturated OLS ``y ~ 0 + cell + cell:treated``
    with HC2 covariance (``tests/test_stats_heterogeneity.py`` checks it against statsmodels
    ``OLS``), computed from the cell summaries rather than by fitting ``n`` rows.
    Returns ``(statistic, df, p_value)``. Every cell needs at least two units in each arm and
    some variation in one of them.
    """
    from statsmodels.stats.meta_analysis import combine_effects

    y = np.asarray(y, dtype="float64")
    t = np.asarray(treated).astype(bool)
    codes, uniq = pd.factorize(pd.Series(cell), sort=True)
    k = len(uniq)
    if k < 2:
        raise MofInputError("the interaction test needs at least two cells")
    lift, var = np.empty(k), np.empty(k)
    for j in range(k):
        a, b = y[(codes == j) & t], y[(codes == j) & ~t]
        if len(a) < 2 or len(b) < 2:
            raise MofInputError(f"cell {uniq[j]!r} needs at least two units in each arm for the interaction test")
        lift[j] = a.mean() - b.mean()
        var[j] = a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)
    if np.any(var <= 0):
        raise MofInputError(f"cell {uniq[int(np.flatnonzero(var <= 0)[0])]!r} has no variation in either arm")
    with np.errstate(invalid="ignore", divide="ignore"):  # its random-effects part, unused here
        h = combine_effects(lift, var, method_re="chi2").test_homogeneity()
    return float(h.statistic), int(h.df), float(h.pvalue)


def breakdown(data: pd.DataFrame, *, arm: str, outcome: str, by: str, control: str, treatment: str | None = None,
              metric: str | None = None, alpha: float = 0.05, correction: str = "holm", min_n: int = LOW_DATA_N,
              min_events: int = LOW_DATA_EVENTS, source: str | None = None) -> Breakdown:
    """Treatment effect of ``treatment`` vs ``control`` on ``outcome`` in every cell of ``by``.

    Parameters
    ----------
    data : one row per unit.
    arm, outcome, by : column names (``by`` categorical: persona, plan, segment, ...).
    control, treatment : arm values; ``treatment`` may be omitted when there is one other arm.
    metric : ``rate`` / ``mean``; default ``rate`` for a 0/1 outcome.
    correction : across cells: ``holm`` (default), ``fdr_bh``, ``bonferroni`` or ``none``.
    min_n, min_events : low-data thresholds (module docstring).

    Returns
    -------
    :class:`Breakdown`.
    """
    from statsmodels.stats.multitest import multipletests

    alpha = check_alpha(alpha)
    if correction not in CORRECTIONS:
        raise MofConfigError(f"correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}")
    if by in (arm, outcome):
        raise MofConfigError(f"--by {by}: the breakdown column must differ from the arm ({arm}) and the outcome "
                             f"({outcome}) columns (each cell would hold one arm or one outcome value)")
    require_columns(data, [arm, outcome, by], source, nonempty=True)
    a = labels(data, arm, source)
    arms = [str(v) for v in a.unique()]
    control = str(control)
    if control not in arms:
        raise MofInputError(f"control value {control!r} not found (values: {', '.join(arms[:10])})",
                            source=source, column=arm)
    others = [x for x in arms if x != control]
    if treatment is None:
        if len(others) != 1:
            raise MofConfigError(f"{len(others)} treatment arms ({', '.join(others[:10])}): name one with treatment=")
        treatment = others[0]
    treatment = str(treatment)
    if treatment == control:
        raise MofConfigError(f"treatment and control are the same arm ({control!r})")
    if treatment not in others:
        raise MofInputError(f"treatment value {treatment!r} not found (values: {', '.join(arms[:10])})",
                            source=source, column=arm)
    keep = a.isin([control, treatment]).to_numpy()
    sub = data.loc[keep]
    y = numeric(sub, outcome, source)
    metric = pick_metric(y, metric, outcome, source)
    cells = sub[by].astype("object").where(sub[by].notna(), MISSING_CELL).astype("str").to_numpy()
    treated = (a.to_numpy()[keep] == treatment)
    rows = []
    for c in sorted(set(cells), key=str):
        m = cells == c
        y1, y0 = y[m & treated], y[m & ~treated]
        r = (_cell_rate if metric == "rate" else _cell_mean)(y1, y0, alpha)
        low = min(len(y1), len(y0)) < min_n
        if metric == "rate":
            low |= min(r["events"], len(y1) - r["events"], r["events_control"], len(y0) - r["events_control"]) < min_events
        else:
            low |= not np.isfinite(r["p_value"])
        rows.append({"cell": c, "n": len(y1), "n_control": len(y0), "events": r["events"],
                     "events_control": r["events_control"], "estimate": y1.mean() if len(y1) else np.nan,
                     "control_estimate": y0.mean() if len(y0) else np.nan, "lift": r["lift"],
                     "lift_ci_low": r["lift_ci_low"], "lift_ci_high": r["lift_ci_high"], "p_value": r["p_value"],
                     "low_data": bool(low)})
    summ = pd.DataFrame(rows)
    for col in ("events", "events_control"):
        summ[col] = summ[col].astype("Int64")
    summ["p_value_adj"] = np.nan
    has_p = summ["p_value"].notna().to_numpy()
    if has_p.any():
        pv = summ.loc[has_p, "p_value"].to_numpy()
        summ.loc[has_p, "p_value_adj"] = pv if correction == "none" else multipletests(pv, alpha=alpha,
                                                                                        method=correction)[1]
    summ["significant"] = (summ["p_value_adj"] < alpha) & ~summ["low_data"]
    summ = summ[["cell", "n", "n_control", "events", "events_control", "estimate", "control_estimate", "lift",
                 "lift_ci_low", "lift_ci_high", "p_value", "p_value_adj", "significant", "low_data"]]
    tested = tuple(summ.loc[~summ["low_data"], "cell"])
    stat, df, p, note = np.nan, 0, np.nan, ""
    if len(tested) >= 2:
        m = np.isin(cells, tested)
        stat, df, p = interaction_test(y[m], treated[m], cells[m])
    else:
        note = f"{len(tested)} of {len(summ)} cells have enough data (need 2)"
    return Breakdown(outcome, by, metric, control, treatment, alpha, correction, stat, df, p, tested, note, summ)


__all__ = ["breakdown", "Breakdown", "interaction_test", "MISSING_CELL", "CORRECTIONS"]
