"""The causal holdout effect, its correlational counterpart and the simulator's truth, on small
hand-made experiments with hand-computed answers."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import email_events, message_rows
from mof_experiments.engagement import human_engagements, message_engagement
from mof_experiments.errors import MofInputError
from mof_experiments.experiments import (correlation_vs_causation, holdout_effect, opener_difference,
                                         true_holdout_effect, true_uplift)
from mof_experiments.experiments.holdout import GROUP_COLUMNS
from mof_experiments.experiments.readout import READOUT_COLUMNS

T0 = pd.Timestamp("2026-03-01", tz="UTC")
DAY = pd.Timedelta(days=1)
AS_OF = T0 + 90 * DAY


def _experiment(n_t, k_t, n_c, k_c):
    ids = [f"t{i}" for i in range(n_t)] + [f"c{i}" for i in range(n_c)]
    arm = ["email"] * n_t + ["holdout"] * n_c
    asg = pd.DataFrame({"experiment_id": "exp", "company_id": ids, "arm": arm, "assigned_at": T0})
    conv = set(ids[:k_t]) | set(ids[n_t:n_t + k_c])
    # a late converter (after the window) and an early one (before assignment) must not count
    fp = [T0 + 5 * DAY if c in conv else (T0 + 40 * DAY if c == ids[-1] else pd.NaT) for c in ids]
    fun = pd.DataFrame({"company_id": ids, "first_production_at": pd.Series(fp, dtype="datetime64[us, UTC]"),
                        "signup_at": T0 - 10 * DAY, "days_observed": 100.0})
    return asg, fun


def test_holdout_effect_counts_conversions_inside_the_window():
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    asg, fun = _experiment(400, 120, 100, 20)
    e = holdout_effect(asg, fun, as_of=AS_OF, experiment_id="exp", control="holdout", window_days=30)
    assert e.effect == pytest.approx(120 / 400 - 20 / 100)
    lo, hi = confint_proportions_2indep(120, 400, 20, 100, compare="diff", method="newcomb")
    assert e.ci == (pytest.approx(lo), pytest.approx(hi))
    assert e.p_value == pytest.approx(test_proportions_2indep(120, 400, 20, 100, method="score").pvalue)
    assert e.rate_control == pytest.approx(0.2)
    assert e.summary["n"].tolist() == [400, 100] and e.summary["events"].tolist() == [120, 20]


def test_holdout_summary_says_what_a_readout_row_says():
    asg, fun = _experiment(40, 12, 10, 2)
    summ = holdout_effect(asg, fun, as_of=AS_OF, experiment_id="exp").summary
    assert list(summ.columns) == list(GROUP_COLUMNS)
    assert {"n", "events", "rate", "ci_low", "ci_high", "low_data"} <= set(summ.columns) & set(READOUT_COLUMNS)
    assert summ["low_data"].tolist() == [False, True]  # 40 treated with 12 events; 10 in the holdout


def test_windows_not_complete_at_as_of_are_dropped_from_both_arms():
    asg, fun = _experiment(40, 12, 10, 2)
    with pytest.raises(MofInputError, match="no companies with a fully observed window"):
        holdout_effect(asg, fun, as_of=T0 + 29 * DAY, experiment_id="exp")
    assert holdout_effect(asg, fun, as_of=T0 + 30 * DAY, experiment_id="exp").summary["n"].sum() == 50


def test_holdout_effect_unknown_control_is_an_error():
    asg, fun = _experiment(10, 1, 10, 1)
    with pytest.raises(MofInputError, match="control arm 'control' not found"):
        holdout_effect(asg, fun, as_of=AS_OF, experiment_id="exp", control="control")


def test_true_holdout_effect_is_the_mean_difference():
    se = pd.DataFrame({"experiment_id": "e", "company_id": ["a", "a", "b", "b"], "arm": ["email", "holdout"] * 2,
                       "p_convert": [0.5, 0.2, 0.3, 0.3]})
    assert true_holdout_effect(se, experiment_id="e") == pytest.approx(0.15)
    assert true_uplift(se, experiment_id="e")["email"].to_dict() == {"a": pytest.approx(0.3), "b": 0.0}


def test_opener_difference_on_a_hand_made_experiment():
    asg, fun = _experiment(4, 2, 2, 1)
    rows = message_rows("m0", "t0", "x0", T0, opens=[T0 + DAY]) + message_rows("m2", "t2", "x2", T0, opens=[T0 + DAY]) \
        + message_rows("m1", "t1", "x1", T0)
    ev = email_events(rows)
    d = opener_difference(asg, message_engagement(ev), human_engagements(ev), fun, as_of=AS_OF, experiment_id="exp")
    # openers t0 (converted), t2 (not); others t1 (converted), t3 (not)
    s = d.summary.set_index("group")
    assert (s.loc["openers", "n"], s.loc["openers", "events"], s.loc["others", "n"], s.loc["others", "events"]) \
        == (2, 1, 2, 1)
    assert d.difference == pytest.approx(0.0)
    side = correlation_vs_causation(d, holdout_effect(asg, fun, as_of=AS_OF, experiment_id="exp"))
    assert side["estimate"].tolist() == [pytest.approx(0.0), pytest.approx(2 / 4 - 1 / 2)]
