"""Formatting for a reader: %, pp, rounded CIs, plain names; the index's one-line takeaways."""

from __future__ import annotations

import pytest

from mof_experiments.reports import format_headlines, index_takeaway
from mof_experiments.reports.formatting import fmt_estimate, fmt_pct, fmt_pp, fmt_ratio


@pytest.mark.parametrize(("value", "text"), [(0.3343, "33%"), (0.042, "4.2%"), (0.0, "0%"), (None, "n/a"),
                                             (float("nan"), "n/a")])
def test_a_share_is_a_rounded_percentage(value, text):
    assert fmt_pct(value) == text


def test_a_certain_looking_probability_is_not_written_as_certain():
    assert fmt_pct(1.0, prob=True) == ">99%" and fmt_pct(0.001, prob=True) == "<1%"
    assert fmt_pct(0.85, prob=True) == "85%"


def test_a_difference_of_rates_is_in_signed_percentage_points():
    assert fmt_pp(0.062) == "+6.2 pp" and fmt_pp(-0.0278) == "-2.8 pp"
    assert fmt_estimate(0.0303, -0.0278, 0.0836, "pp") == "+3.0 pp (95% CI -2.8 pp to +8.4 pp)"
    assert fmt_ratio(2.013) == "2.0x"


def test_index_rows_have_plain_names_units_and_merged_intervals():
    rows = dict(format_headlines({
        "production_rate": 0.3343, "production_rate_ci": [0.31234, 0.35678], "companies": 2000,
        "holdout_effect": 0.0303, "holdout_ci": [-0.0278, 0.0836], "open_ratio": 2.013,
        "lift_email": 0.03, "lift_email_ci": [-0.028, 0.084], "prob_beat_control": {"email": 1.0},
        "takeaways": ["not a figure"], "first_app_km_median_days": None}))
    assert rows == {
        "Companies in production": "33% (95% CI 31% to 36%)",
        "Companies": "2,000",
        "Effect of the emails on conversion (randomized)": "+3.0 pp (95% CI -2.8 pp to +8.4 pp)",
        "Open rate ratio, production vs sandbox (observational)": "2.0x",
        "Lift of email vs control (randomized)": "+3.0 pp (95% CI -2.8 pp to +8.4 pp)",
        "Chance to beat control": "email: >99%",
    }


def test_content_optimization_gets_its_own_one_line_takeaway():
    h = {"engagement_multiple": 2.04, "engagement_multiple_ci_low": 1.71, "engagement_multiple_ci_high": 2.43,
         "best_zone_pm": "feature_highlight", "best_zone_dev": "assistance"}
    assert index_takeaway("content_optimization", h) == (
        "Targeted emails drew 2.0x (95% CI 1.7x to 2.4x) the engagement of generic ones; best zone by persona: "
        "PM: feature_highlight, DEV: assistance.")
    rows = dict(format_headlines(h))
    assert rows["Targeted vs generic engagement (multiple)"] == "2.0x (95% CI 1.7x to 2.4x)"
    assert rows["Best zone for PM"] == "feature_highlight"


def test_an_unknown_report_falls_back_to_its_first_takeaway_then_to_a_count():
    assert index_takeaway("program_readout", {"takeaways": ["Enrolled 120.", "More."], "x": 1}) == "Enrolled 120."
    assert index_takeaway("program_readout", {"enrolled": 120, "exits": 3}) == \
        "2 headline figures recorded (see the report)."
    # a malformed headline never breaks the index: the rule fails, the fallback speaks
    assert index_takeaway("funnel_overview", {"production_rate": "oops", "companies": 5}) == \
        "2 headline figures recorded (see the report)."


def test_content_takeaways_state_the_cross_fitted_multiple_and_the_chosen_zones():
    from types import SimpleNamespace

    import pandas as pd

    from mof_experiments.reports import content_takeaways

    grid = SimpleNamespace(ok=True, reason="")
    em = SimpleNamespace(estimate=2.99, ci_low=2.51, ci_high=3.57)
    best = pd.DataFrame({"persona": ["PM", "CFO", "GC"], "zone": ["feature_highlight", "roi_calculation", None],
                         "prob_best": [0.97, 0.62, None], "comparable": [True, True, False]})
    s, figures = content_takeaways(grid, em, best, true_multiple=2.99)
    assert "drew 3.0x (95% CI 2.5x to 3.6x) the engagement" in s[0] and "excludes 1" in s[0]
    assert "PM feature highlight (97% chance best); CFO roi calculation (62% chance best)" in s[1]
    assert "Too little data to choose for GC" in s[2] and s[-1].startswith("To act")
    assert ("Planted truth (simulator)", "3.0x") in figures
    # an interval that includes 1 is not a gain
    s, _ = content_takeaways(grid, SimpleNamespace(estimate=1.2, ci_low=0.9, ci_high=1.6), best)
    assert "includes 1: no gain is shown yet" in s[0]
    # the default design: no grid, three sentences and no zone named
    s, figures = content_takeaways(SimpleNamespace(ok=False, reason="one zone per persona."), None, None)
    assert len(s) == 3 and "one zone per persona" in s[0] and figures == [("Persona x zone grid", "cannot be estimated")]


def test_program_takeaways_state_the_lift_in_pp_with_n_and_the_srm_warning():
    from types import SimpleNamespace

    from mof_experiments.reports import program_takeaways

    h = {"status": "ok", "lift": 0.0942, "lift_ci_low": 0.0528, "lift_ci_high": 0.1321, "p_value": 1e-5,
         "rate_program": 0.297, "rate_holdout": 0.203, "n_program": 2173, "n_holdout": 517, "srm_p_value": 0.31,
         "window_days": 21, "planted_lift": 0.10}
    s, figures = program_takeaways(SimpleNamespace(headlines=lambda: h))
    assert "by +9.4 pp (95% CI +5.3 pp to +13.2 pp)" in s[0] and "30% of 2,173 program companies" in s[0]
    assert "20% of 517 in its holdout" in s[0] and "excludes zero" in s[0]
    assert not any("sample-ratio" in x for x in s) and "Planted effect (simulator): +10.0 pp." in s
    s, _ = program_takeaways(SimpleNamespace(headlines=lambda: {**h, "srm_p_value": 1e-6, "lift_ci_low": -0.01}))
    assert "includes zero" in s[0] and any("sample-ratio p = 1e-06" in x for x in s)
    none = {"status": "no_readout", "reason": "no company has entered yet"}
    s, figures = program_takeaways(SimpleNamespace(headlines=lambda: none))
    assert len(s) == 3 and s[0] == "No readout yet: no company has entered yet." and figures == [("Status", "no readout yet")]
