"""The takeaways of the shipped reports, computed from their results (see :mod:`.takeaways`).

Each ``*_takeaways`` function returns ``(sentences, figures)`` for
:func:`~mof_experiments.reports.takeaways.show_takeaways`: what we found, how sure we are (95%
intervals; percentage points for a difference of rates), what to do; "observational" where a
comparison is not randomized. Also :func:`first_app_report`, the funnel report's time-to-first-
working-app data (one call from a :class:`~mof_experiments.reports.data.ReportData`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mof_experiments.reports.formatting import fmt_ci, fmt_count, fmt_estimate, fmt_pct, fmt_pp, fmt_ratio


@dataclass(frozen=True)
class FirstAppReport:
    """Time to first working app for the funnel report: ``headline``
    (:class:`~mof_experiments.first_app.FirstAppHeadline`), ``cohort`` (companies followed from
    the landmark), ``groups`` (long: company_id, dimension, group, all known at the landmark),
    ``by_group`` (:func:`~mof_experiments.first_app.first_app_by_group`), ``weekly``
    (:func:`~mof_experiments.first_app.weekly_cohorts`), ``landmark_days``, ``horizon_days``."""

    headline: object
    cohort: pd.DataFrame
    groups: pd.DataFrame
    by_group: pd.DataFrame
    weekly: pd.DataFrame
    landmark_days: float
    horizon_days: float


def first_app_report(data, *, landmark_days: float = 7.0, horizon_days: float = 30.0,
                     experiment_id: str | None = None, clusters: bool = True, random_state: int = 0) -> FirstAppReport:
    """Compute the funnel report's TTFWA tables from ``data`` (a ReportData loaded with personas).

    Groups are measured at the landmark (``landmark_days`` after the first sandbox call): rule
    segments and clusters on :func:`~mof_experiments.segments.behavior.behavior_at` as of the
    landmark, persona mix, plan, arm assigned before the landmark, and the simulator's archetype
    when the workspace is simulated. See :mod:`mof_experiments.first_app`.
    """
    from mof_experiments.first_app import (first_app_by_group, first_app_headline, landmark_cohort, landmark_groups,
                                           persona_mix, weekly_cohorts)
    from mof_experiments.segments.behavior import behavior_at
    from mof_experiments.segments.clusters import cluster_companies

    cohort = landmark_cohort(data.funnel, data.as_of, landmark_days=landmark_days)
    with data.events_before(cohort, "landmark_at") as src:
        beh = behavior_at(src, cohort.rename(columns={"landmark_at": "cutoff_at"}))
    cl = None
    if clusters and len(beh) >= 60:
        fit = cluster_companies(beh, k_range=range(3, 7), random_state=random_state)
        cl = fit.labels.set_index("company_id")["cluster"]
    mix = persona_mix(data.personas) if data.personas is not None and "company_id" in data.personas else None
    groups = landmark_groups(cohort, behavior=beh, companies=data.companies, mix=mix, assignments=data.assignments,
                             experiment_id=experiment_id, clusters=cl, truth=data.truth.get("sim_truth"))
    return FirstAppReport(headline=first_app_headline(data.funnel, horizon_days=horizon_days), cohort=cohort,
                          groups=groups, by_group=first_app_by_group(cohort, groups, horizon_days=horizon_days),
                          weekly=weekly_cohorts(data.funnel, data.as_of, horizon_days=horizon_days),
                          landmark_days=landmark_days, horizon_days=horizon_days)


def funnel_takeaways(summary, report: FirstAppReport) -> tuple[list, list]:
    """Sentences and headline figures of the funnel report (``summary``: FunnelSummary)."""
    h, H, L = report.headline, report.horizon_days, report.landmark_days
    W = h.window_days  # H, unless nobody has been followed H days yet
    med = (f"half had one after {h.km_median_days:.0f} days" if np.isfinite(h.km_median_days)
           else "the median time is not reached: fewer than half have converted in the time observed")
    short = f" (no company has been followed {H:g} days yet)" if W < H else ""
    s = [f"{fmt_pct(h.converted_by)} of the {fmt_count(h.companies)} companies that called the API had a first working "
         f"app within {W:.0f} days of sign-up {fmt_ci(*h.ci, 'pct')}{short}; {med}.",
         f"Those that converted took a median of {h.median_converted_days:.1f} days (converted companies only: "
         "slower companies have not converted yet, so this understates the wait)."]
    seg = report.by_group[(report.by_group["dimension"] == "segment") & ~report.by_group["too_little_data"]
                          & (report.by_group["group"] != "no segment")]
    if len(seg) >= 2:
        hi, lo = seg.loc[seg["converted_by"].idxmax()].copy(), seg.loc[seg["converted_by"].idxmin()].copy()
        hi["group"], lo["group"] = str(hi["group"]).replace("_", " "), str(lo["group"]).replace("_", " ")
        s.append(f"Measured {L:g} days after the first sandbox call, '{hi['group']}' companies went on to convert most "
                 f"({fmt_pct(hi['converted_by'])} within {H:g} days, n = {fmt_count(hi['companies'])}) and "
                 f"'{lo['group']}' least ({fmt_pct(lo['converted_by'])}, n = {fmt_count(lo['companies'])}). "
                 "This is observational: the segments differ in more than their label.")
        s.append(f"To act: '{lo['group']}' at day {L:g} is the largest gap to close; test a help email for it against "
                 "a randomized holdout before rolling it out.")
    w = report.weekly[report.weekly["complete"]]
    if len(w) >= 4:
        first, last = w["rate"].iloc[:4].mean(), w["rate"].iloc[-4:].mean()
        s.append(f"By sign-up week, {H:g}-day conversion averaged {fmt_pct(first)} in the first four complete weeks and "
                 f"{fmt_pct(last)} in the last four ({fmt_pp(last - first)}).")
    figures = [("Companies", fmt_count(summary.n)),
               ("In production now", fmt_estimate(summary.production_rate, *summary.production_ci, "pct")),
               (f"First working app within {W:.0f} days of sign-up", fmt_estimate(h.converted_by, *h.ci, "pct")),
               ("Median days to first working app (Kaplan-Meier)", h.km_median),
               ("Median days, converted companies only", f"{h.median_converted_days:.1f} (n = {fmt_count(h.converted)})")]
    return s, figures


def engagement_takeaways(ec, effect, obs) -> tuple[list, list]:
    """Sentences and figures of the engagement report: ``ec`` (EngagementConversion), ``effect``
    (HoldoutEffect, randomized), ``obs`` (OpenerDifference, observational)."""
    W = effect.window_days
    sure = ("the interval excludes zero" if effect.ci[0] > 0 or effect.ci[1] < 0
            else "the interval includes zero: no effect is ruled out")
    s = [f"Sending the emails changed {W:g}-day conversion by {fmt_estimate(effect.effect, *effect.ci, 'pp')} "
         f"(randomized holdout; {sure}).",
         f"Companies in production opened {fmt_ratio(ec.open_ratio)} as many emails as those still in sandbox "
         f"({fmt_pct(ec.open_rate_production)} vs {fmt_pct(ec.open_rate_sandbox)}): observational, it does not show "
         "that opening causes conversion.",
         f"Openers vs non-openers: {fmt_pp(obs.difference)} in {W:g}-day conversion {fmt_ci(*obs.ci, 'pp')} "
         "(observational); "
         + (f"the randomized effect is {fmt_pp(effect.effect)}, so most of that gap is selection (engaged companies "
            "convert anyway), not the email." if obs.ci[0] > effect.ci[1]
            else "here the observational gap is within the randomized estimate's range."),
         "To act: judge emails by the holdout comparison, never by open rates of converters."]
    figures = [(f"Effect of the emails on {W:g}-day conversion (randomized)", fmt_estimate(effect.effect, *effect.ci, "pp")),
               ("Openers vs non-openers (observational)", fmt_estimate(obs.difference, *obs.ci, "pp")),
               ("Open rate, production vs sandbox (observational)",
                f"{fmt_ratio(ec.open_ratio)} {fmt_ci(*ec.open_ratio_ci, 'ratio')}".strip())]
    return s, figures


def readout_takeaways(ro, *, window_days: float, enrolled: int, complete: int) -> tuple[list, list]:
    """Sentences and figures of the experiment readout (``ro``: Readout with sequential and
    Bayesian columns)."""
    t = ro.summary[~ro.summary["is_control"]]
    c = ro.summary[ro.summary["is_control"]].iloc[0]
    s, figures = [], [("Companies enrolled", fmt_count(enrolled)),
                      (f"Whole {window_days:g}-day window observed", fmt_count(complete)),
                      (f"{c['arm']} (control) conversion", fmt_estimate(c["rate"], c["ci_low"], c["ci_high"], "pct"))]
    for r in t.itertuples():
        seq = "seq_ci_low" in t.columns
        sure = ("the always-valid interval excludes zero: safe to act" if seq and (r.seq_ci_low > 0 or r.seq_ci_high < 0)
                else "not yet conclusive at every look (the always-valid interval includes zero)" if seq
                else "")
        s.append(f"'{r.arm}' converted {fmt_pct(r.rate)} within {window_days:g} days vs {fmt_pct(c['rate'])} for "
                 f"'{c['arm']}': {fmt_estimate(r.lift, r.lift_ci_low, r.lift_ci_high, 'pp')} (randomized)"
                 + (f"; {sure}." if sure else "."))
        if "prob_beat_control" in t.columns:
            s.append(f"Chance that '{r.arm}' beats '{c['arm']}': {fmt_pct(r.prob_beat_control, prob=True)}.")
        figures.append((f"Lift of {r.arm} vs {c['arm']}", fmt_estimate(r.lift, r.lift_ci_low, r.lift_ci_high, "pp")))
    if ro.srm.p_value < 0.001:
        s.append(f"Warning: the arms' sizes do not match the planned split (sample-ratio p = {ro.srm.p_value:.1g}); "
                 "check the assignment before trusting the lift.")
    g = ro.guardrail_status
    if g is not None:
        s.append(f"Guardrails (unsubscribes, complaints, bounces): {g}.")
        figures.append(("Guardrails", g))
    return s, figures


def content_takeaways(grid, multiple=None, best=None, *, true_multiple=None) -> tuple[list, list]:
    """Sentences and figures of the content report: ``grid`` (:func:`~mof_experiments.content.content_grid`),
    ``multiple`` (:func:`~mof_experiments.content.engagement_multiple`), ``best``
    (:func:`~mof_experiments.content.best_zones`), ``true_multiple`` (simulated workspaces)."""
    zone_test = getattr(grid, "zone_experiment_id", None)
    if not grid.ok and zone_test:  # randomized within persona (a contact-level zone test), too small so far
        return ([f"No content recommendation from this data yet: {grid.reason}",
                 f"The content rates below come from zone test {zone_test!r} (randomized within persona), "
                 "too few yet to rank zones: read them as provisional.",
                 f"To act: keep {zone_test!r} running (re-run its `mof assign --unit contact` for new contacts, "
                 "send each zone its campaign, import the events) and re-run this report."],
                [("Persona x zone grid", "too little data yet")])
    if not grid.ok:
        return ([f"No content recommendation from this data: {grid.reason}",
                 "The content rates below are observational (who got which email was not randomized within "
                 "persona): they describe, they do not rank zones.",
                 "To act: run a randomized content test (zones randomized within persona; docs/reports.md) "
                 "before choosing content by persona."], [("Persona x zone grid", "cannot be estimated")])
    s, figures = [], []
    if multiple is not None:
        est = fmt_estimate(multiple.estimate, multiple.ci_low, multiple.ci_high, "ratio")
        sure = ("the interval excludes 1: targeting pays" if multiple.ci_low > 1
                else "the interval includes 1: no gain is shown yet")
        s.append(f"Sending each persona its best zone drew {est} the engagement (clicks per delivered message) of "
                 f"the generic email, measured on contacts not used to choose the zones (randomized; {sure}).")
        figures.append(("Targeted vs generic engagement (cross-fitted)", est))
        if true_multiple is not None:
            figures.append(("Planted truth (simulator)", fmt_ratio(true_multiple)))
    if best is not None and len(best):
        chosen = best[best["comparable"].astype(bool)]
        if len(chosen):
            s.append("Best zone by engagement: " + "; ".join(
                f"{r.persona} {str(r.zone).replace('_', ' ')} ({fmt_pct(r.prob_best, prob=True)} chance best)"
                for r in chosen.itertuples()) + ".")
        undecided = best.loc[~best["comparable"].astype(bool), "persona"].tolist()
        if undecided:
            s.append(f"Too little data to choose for {', '.join(map(str, undecided))}: keep testing there.")
        for r in chosen.itertuples():
            figures.append((f"Best zone for {r.persona}", f"{str(r.zone).replace('_', ' ')} "
                                                          f"({fmt_pct(r.prob_best, prob=True)} chance best)"))
    s.append("To act: `mof plan content` turns these choices into a send plan; conversion lifts per cell are "
             "shown in the grid but are too noisy to rank zones at this size.")
    return s, figures


def program_takeaways(ro) -> tuple[list, list]:
    """Sentences and figures of the program readout (``ro``: ProgramReadout, or NoReadout)."""
    h = ro.headlines()
    if h.get("status") != "ok":
        return ([f"No readout yet: {str(h.get('reason')).rstrip('.')}.",
                 "The readout compares the program's companies with its randomized holdout from entry, once both "
                 "arms have companies whose conversion window is over.",
                 "To act: keep `mof program run` on its daily schedule (docs/programs.md) and read this report "
                 "again when the window has passed."], [("Status", "no readout yet")])
    W = h["window_days"]
    est = fmt_estimate(h["lift"], h["lift_ci_low"], h["lift_ci_high"], "pp")
    sure = ("the interval excludes zero" if h["lift_ci_low"] > 0 or h["lift_ci_high"] < 0
            else "the interval includes zero: no effect is ruled out")
    s = [f"Running the program changed {W:g}-day conversion from entry by {est} "
         f"({fmt_pct(h['rate_program'])} of {fmt_count(h['n_program'])} program companies vs "
         f"{fmt_pct(h['rate_holdout'])} of {fmt_count(h['n_holdout'])} in its holdout; randomized; {sure})."]
    if h["srm_p_value"] is not None and h["srm_p_value"] < 0.001:
        s.append(f"Warning: the arms' sizes do not match the holdout share (sample-ratio p = {h['srm_p_value']:.1g}); "
                 "check enrollment before trusting the lift.")
    if h.get("planted_lift") is not None:
        s.append(f"Planted effect (simulator): {fmt_pp(h['planted_lift'])}.")
    s.append("To act: keep the program if the lift's interval is above zero; otherwise let it run until the "
             "interval narrows, or change its steps under a new program id.")
    figures = [(f"Lift in {W:g}-day conversion (randomized)", est),
               ("Program companies", fmt_count(h["n_program"])), ("Holdout companies", fmt_count(h["n_holdout"]))]
    return s, figures


__all__ = ["FirstAppReport", "first_app_report", "funnel_takeaways", "engagement_takeaways", "readout_takeaways",
           "content_takeaways", "program_takeaways"]
