"""The causal effect of email (randomized holdout) and its correlational counterpart.

- :func:`holdout_effect`: conversion within ``window_days`` of enrollment, emailed arm(s) vs the
  randomized holdout. Randomization makes this difference the **causal** effect of sending.
- :func:`opener_difference`: on the same emailed companies and window, companies that opened vs
  those that did not. A **correlation**: it mixes the email's effect with selection
  (high-intent companies open more and convert more anyway).
- :func:`true_uplift`, :func:`true_holdout_effect`: the simulator's truth, to check both.

Both comparisons follow the conversion-window rule of
:mod:`mof_experiments.experiments.outcomes` and keep only companies whose window is complete at
``as_of`` (randomization keeps the holdout comparison fair). Their ``summary`` rows say
``group``, ``arms``, ``n`` (companies), ``events`` (converted), ``rate``, ``ci_low``,
``ci_high`` (Wilson 95%) and ``low_data`` (n < 30 or fewer than 5 events or non-events), the
same names as a readout row.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from mof_experiments.checks import isin, require_columns
from mof_experiments.errors import MofInputError
from mof_experiments.experiments.outcomes import converted_within, window_complete
from mof_experiments.stats import compare_proportions, low_data

GROUP_COLUMNS = ("group", "arms", "n", "events", "rate", "ci_low", "ci_high", "low_data")


def _groups(rows: list[tuple[str, str, int, int]], *, ci_method: str = "newcomb"):
    """Summary of two groups ``(group, arms, n, events)`` and the comparison of the first vs the second."""
    (g1, a1, n1, k1), (g0, a0, n0, k0) = rows
    c = compare_proportions([k1, k0], [n1, n0], k0, n0, diff_method=ci_method)
    n, k = np.array([n1, n0]), np.array([k1, k0])
    summ = pd.DataFrame({"group": [g1, g0], "arms": [a1, a0], "n": n, "events": k, "rate": c.rate,
                         "ci_low": c.ci_low, "ci_high": c.ci_high,
                         "low_data": low_data(n, k)})
    return summ[list(GROUP_COLUMNS)], c.row(0)


class _TwoGroups:
    """Display of a two-group comparison: its one-line headline, then the ``summary`` table."""

    def _headline(self) -> str:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self._headline())}</p>" + self.summary.to_html(index=False,
                                                                             float_format=lambda v: f"{v:.3f}")

    def __str__(self) -> str:
        return self._headline() + "\n" + self.summary.to_string(index=False)


@dataclass(frozen=True)
class HoldoutEffect(_TwoGroups):
    """Conversion within ``window_days`` of enrollment, emailed vs randomized holdout (causal).

    ``effect`` = rate(treated) - rate(control) in proportion points with a 95% CI ``ci`` from
    statsmodels ``confint_proportions_2indep(compare="diff", method=ci_method)`` and the score
    test's ``p_value``; ``summary`` has one row per group (:data:`GROUP_COLUMNS`).
    """

    experiment_id: str
    control: str
    treated: tuple
    window_days: float
    as_of: datetime
    summary: pd.DataFrame
    effect: float
    ci: tuple
    p_value: float
    ci_method: str

    @property
    def rate_treated(self) -> float:
        return float(self.summary.loc[self.summary["group"] == "treated", "rate"].iloc[0])

    @property
    def rate_control(self) -> float:
        return float(self.summary.loc[self.summary["group"] == "control", "rate"].iloc[0])

    def _headline(self) -> str:
        return (f"{self.experiment_id}: conversion within {self.window_days:g} days of enrollment, "
                f"{'+'.join(self.treated)} vs {self.control}: effect {self.effect:+.2%} "
                f"(95% CI {self.ci[0]:+.2%} to {self.ci[1]:+.2%}, p = {self.p_value:.3g})")


def _enrolled(assignments: pd.DataFrame, funnel: pd.DataFrame, experiment_id: str, window_days: float,
              as_of) -> pd.DataFrame:
    """Assignments of the experiment whose window is complete at ``as_of``, with ``converted``."""
    require_columns(assignments, ["experiment_id", "company_id", "arm", "assigned_at"], "assignments")
    require_columns(funnel, ["company_id", "first_production_at"], "funnel")
    a = assignments[assignments["experiment_id"] == experiment_id]
    if a.empty:
        raise MofInputError(f"no assignments for experiment {experiment_id!r}", source="assignments",
                            column="experiment_id")
    fp = funnel.drop_duplicates("company_id").set_index("company_id")["first_production_at"]
    a = a.assign(first_production_at=a["company_id"].map(fp))
    a = a[window_complete(a["assigned_at"], window_days, as_of)]
    return a.assign(converted=converted_within(a["assigned_at"], a["first_production_at"], window_days))


def holdout_effect(assignments: pd.DataFrame, funnel: pd.DataFrame, *, as_of: datetime,
                   experiment_id: str = "mof_email_2026", control: str = "holdout", treated=None,
                   window_days: float = 30.0, ci_method: str = "newcomb") -> HoldoutEffect:
    """Causal effect of email: conversion within ``window_days`` of ``assigned_at``, treated vs control.

    Parameters
    ----------
    assignments : canonical ``assignments`` (experiment_id, company_id, arm, assigned_at).
    funnel : :func:`mof_experiments.funnel.label` output as of ``as_of``.
    as_of : the cut-off of the funnel; windows ending after it are dropped from both arms.
    treated : arm names pooled as treated (default: every arm except ``control``).
    ci_method : statsmodels ``confint_proportions_2indep`` method for the difference.
    """
    a = _enrolled(assignments, funnel, experiment_id, window_days, as_of)
    arms = sorted(assignments.loc[assignments["experiment_id"] == experiment_id, "arm"].astype(str).unique())
    if control not in arms:
        raise MofInputError(f"control arm {control!r} not found (arms: {', '.join(arms)})", source="assignments",
                            column="arm")
    treated = tuple(x for x in arms if x != control) if treated is None else \
        tuple([treated] if isinstance(treated, str) else treated)
    rows = []
    for group, arms_g in (("treated", treated), ("control", (control,))):
        x = a[a["arm"].isin(arms_g)]
        if x.empty:
            raise MofInputError(f"no companies with a fully observed window in arm(s) {', '.join(arms_g)}",
                                source="assignments", column="arm")
        rows.append((group, "+".join(arms_g), len(x), int(x["converted"].sum())))
    summ, r = _groups(rows, ci_method=ci_method)
    return HoldoutEffect(experiment_id=experiment_id, control=control, treated=treated, window_days=window_days,
                         as_of=as_of, summary=summ, effect=r["lift"], ci=(r["lift_ci_low"], r["lift_ci_high"]),
                         p_value=r["p_value"], ci_method=ci_method)


@dataclass(frozen=True)
class OpenerDifference(_TwoGroups):
    """Conversion of emailed companies that opened vs those that did not (a correlation).

    ``difference`` = rate(openers) - rate(others) with the Newcomb 95% CI ``ci`` and the score
    test's ``p_value``; ``summary`` has the rows ``openers`` and ``others`` (:data:`GROUP_COLUMNS`).
    """

    experiment_id: str
    arms: tuple
    window_days: float
    summary: pd.DataFrame
    difference: float
    ci: tuple
    p_value: float

    def _headline(self) -> str:
        return (f"{self.experiment_id} ({'+'.join(self.arms)}): openers vs non-openers, conversion within "
                f"{self.window_days:g} days: difference {self.difference:+.2%} (95% CI {self.ci[0]:+.2%} "
                f"to {self.ci[1]:+.2%}); a correlation, not the email's effect")


def opener_difference(assignments: pd.DataFrame, messages: pd.DataFrame, engagements: pd.DataFrame,
                      funnel: pd.DataFrame, *, as_of: datetime, experiment_id: str = "mof_email_2026",
                      arms=("email",), window_days: float = 30.0) -> OpenerDifference:
    """The correlational counterpart of :func:`holdout_effect`, on the same companies and window.

    Among companies in the emailed ``arms`` whose window is complete at ``as_of``: conversion
    within ``window_days`` of ``assigned_at`` for companies with at least one human open/click
    in that window ("openers") vs the others.
    """
    require_columns(messages, ["message_id", "company_id"], "messages")
    require_columns(engagements, ["message_id", "ts"], "engagements")
    arms = (arms,) if isinstance(arms, str) else tuple(arms)
    a = _enrolled(assignments, funnel, experiment_id, window_days, as_of)
    a = a[a["arm"].isin(list(arms))]
    if a.empty:
        raise MofInputError(f"no companies in arm(s) {', '.join(arms)} of {experiment_id!r}", source="assignments")
    e = engagements[["message_id", "ts"]].merge(messages[["message_id", "company_id"]], on="message_id") \
        .merge(a[["company_id", "assigned_at"]], on="company_id")
    e = e[converted_within(e["assigned_at"], e["ts"], window_days)]
    opener = isin(a["company_id"], e["company_id"])
    conv = a["converted"]
    if opener.all() or not opener.any():
        raise MofInputError("need both openers and non-openers", source="email_events")
    summ, r = _groups([("openers", "+".join(arms), int(opener.sum()), int((conv & opener).sum())),
                       ("others", "+".join(arms), int((~opener).sum()), int((conv & ~opener).sum()))])
    return OpenerDifference(experiment_id=experiment_id, arms=arms, window_days=window_days, summary=summ,
                            difference=r["lift"], ci=(r["lift_ci_low"], r["lift_ci_high"]), p_value=r["p_value"])


def correlation_vs_causation(opener: OpenerDifference, effect: HoldoutEffect) -> pd.DataFrame:
    """The two estimates side by side, in proportion points: label, estimate, ci_low, ci_high
    (rows: openers vs non-openers, the correlation; emailed vs holdout, the causal effect)."""
    return pd.DataFrame([
        dict(label="openers vs non-openers (correlation)", estimate=opener.difference, ci_low=opener.ci[0],
             ci_high=opener.ci[1]),
        dict(label="emailed vs holdout (causal)", estimate=effect.effect, ci_low=effect.ci[0], ci_high=effect.ci[1]),
    ])


def true_uplift(sim_effects: pd.DataFrame, *, experiment_id: str = "mof_email_2026",
                control: str = "holdout") -> pd.DataFrame:
    """The simulator's true uplift per enrolled company: ``p_convert(arm) - p_convert(control)``.

    Returns a DataFrame indexed by company_id with one column per non-control arm.
    """
    require_columns(sim_effects, ["experiment_id", "company_id", "arm", "p_convert"], "sim_effects")
    e = sim_effects[sim_effects["experiment_id"] == experiment_id]
    w = e.pivot_table(index="company_id", columns="arm", values="p_convert")
    if control not in w.columns:
        raise MofInputError(f"control arm {control!r} not in sim_effects of {experiment_id!r}", source="sim_effects",
                            column="arm")
    return w.drop(columns=[control]).sub(w[control], axis=0).rename_axis(columns=None)


def true_holdout_effect(sim_effects: pd.DataFrame, *, experiment_id: str = "mof_email_2026",
                        control: str = "holdout", treated: str = "email") -> float:
    """The simulator's truth: mean over enrolled companies of ``p_convert(treated) - p_convert(control)``."""
    return float(true_uplift(sim_effects, experiment_id=experiment_id, control=control)[treated].mean())


__all__ = ["HoldoutEffect", "holdout_effect", "OpenerDifference", "opener_difference", "correlation_vs_causation",
           "true_uplift", "true_holdout_effect", "GROUP_COLUMNS"]
