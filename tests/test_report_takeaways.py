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
