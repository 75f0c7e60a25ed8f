"""Landmark construction (who is at risk, which opens count, durations), Kaplan-Meier and Cox."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mof_experiments.errors import MofInputError
from mof_experiments.survival import (LANDMARK_COLUMNS, TIERS, cox_by_tier, kaplan_meier, landmark_table,
                                      time_to_production_table)

T0 = pd.Timestamp("2026-03-01", tz="UTC")
DAY = pd.Timedelta(days=1)
AS_OF = T0 + 100 * DAY


def _setup():
    """Companies (all assigned at T0 except E; landmark 7 days):
    A: email arm, 2 messages opened before the landmark, converts at day 20
    B: email arm, 1 message opened before the landmark + 1 opened after it, never converts
    C: email arm, delivered but not opened, converts at day 3 (before the landmark: excluded)
    D: holdout (no message), converts at day 50
    E: assigned at day 97 (landmark after as_of: excluded)
    F: email arm, first message delivered only after the landmark (tier 'not emailed'), censored
    """
    asg = pd.DataFrame({"experiment_id": "exp", "company_id": list("ABCDEF"),
                        "arm": ["email", "email", "email", "holdout", "email", "email"],
                        "assigned_at": [T0, T0, T0, T0, T0 + 97 * DAY, T0]})
    msgs = pd.DataFrame({"message_id": ["a1", "a2", "b1", "b2", "c1", "f1"],
                         "company_id": list("AABBCF"),
                         "delivered_at": [T0 + DAY, T0 + 4 * DAY, T0 + DAY, T0 + 5 * DAY, T0 + DAY, T0 + 8 * DAY]})
    eng = pd.DataFrame({"message_id": ["a1", "a2", "a2", "b1", "b2", "f1"],
                        "ts": [T0 + 2 * DAY, T0 + 5 * DAY, T0 + 6 * DAY, T0 + 2 * DAY, T0 + 8 * DAY, T0 + 9 * DAY]})
    fp = {"A": T0 + 20 * DAY, "C": T0 + 3 * DAY, "D": T0 + 50 * DAY}
    funnel = pd.DataFrame({"company_id": list("ABCDEF"),
                           "first_production_at": pd.Series([fp.get(c, pd.NaT) for c in "ABCDEF"],
                                                            dtype="datetime64[us, UTC]"),
                           "signup_at": AS_OF - 100 * DAY, "days_observed": 100.0})
    return asg, msgs, eng, funnel


def test_landmark_keeps_only_companies_at_risk_and_measures_engagement_before_it():
    lm = landmark_table(*_setup(), as_of=AS_OF, landmark_days=7, experiment_id="exp").set_index("company_id")
    assert tuple(lm.reset_index().columns) == LANDMARK_COLUMNS
    assert set(lm.index) == {"A", "B", "D", "F"}  # C converted before the landmark, E's landmark is after as_of
    assert lm.loc["A", "tier"] == "2+ opens" and lm.loc["A", "opens_before_landmark"] == 2
    assert lm.loc["B", "tier"] == "1 open"  # b2 was opened after the landmark: ignored
    assert lm.loc["D", "tier"] == "not emailed"
    assert lm.loc["F", "tier"] == "not emailed" and lm.loc["F", "delivered_before_landmark"] == 0


def test_landmark_durations_start_at_the_landmark():
    lm = landmark_table(*_setup(), as_of=AS_OF, landmark_days=7, experiment_id="exp").set_index("company_id")
    assert lm.loc["A", "duration"] == pytest.approx(13.0) and lm.loc["A", "event"] == 1
    assert lm.loc["D", "duration"] == pytest.approx(43.0) and lm.loc["D", "event"] == 1
    assert lm.loc["B", "duration"] == pytest.approx(93.0) and lm.loc["B", "event"] == 0  # censored at as_of


def test_a_later_landmark_moves_companies_between_tiers_and_out_of_the_risk_set():
    lm = landmark_table(*_setup(), as_of=AS_OF, landmark_days=10, experiment_id="exp").set_index("company_id")
    assert lm.loc["B", "tier"] == "2+ opens"
    assert lm.loc["F", "tier"] == "1 open"
    lm0 = landmark_table(*_setup(), as_of=AS_OF, landmark_days=0, experiment_id="exp").set_index("company_id")
    assert "C" in lm0.index and (lm0.loc[["A", "B", "C", "F"], "tier"] == "not emailed").all()


def test_landmark_unknown_experiment_is_an_error():
    with pytest.raises(MofInputError, match="no assignments for experiment 'nope'"):
        landmark_table(*_setup(), as_of=AS_OF, experiment_id="nope")


def test_kaplan_meier_matches_a_hand_computed_curve():
    # durations 1, 2+, 3, 4, 5+ : S(1)=4/5, S(3)=4/5*2/3, S(4)=4/5*2/3*1/2
    lm = pd.DataFrame({"tier": pd.Categorical(["1 open"] * 5, categories=list(TIERS)),
                       "duration": [1.0, 2.0, 3.0, 4.0, 5.0], "event": [1, 0, 1, 1, 0]})
    km = kaplan_meier(lm, horizon_days=3.5)
    c = km.curves
    assert c["surv"].tolist() == pytest.approx([1.0, 0.8, 0.8 * 2 / 3, 0.8 * 2 / 3 * 0.5])
    s = km.summary.iloc[0]
    assert s["converted_by"] == pytest.approx(1 - 0.8 * 2 / 3)
    assert s["converted_by_ci_low"] < s["converted_by"] < s["converted_by_ci_high"]
    assert s["companies"] == 5 and s["events"] == 3


def test_cox_recovers_a_known_hazard_ratio():
    rng = np.random.default_rng(7)
    n = 3000
    tier = rng.choice(["no opens", "2+ opens"], size=n)
    rate = np.where(tier == "2+ opens", 0.1 * 2.0, 0.1)  # true hazard ratio 2
    t = rng.exponential(1 / rate)
    cens = rng.uniform(0, 20, n)
    lm = pd.DataFrame({"tier": pd.Categorical(tier, categories=list(TIERS)), "duration": np.minimum(t, cens),
                       "event": (t <= cens).astype(int)})
    cox = cox_by_tier(lm)
    assert cox.reference == "no opens"
    hr = cox.summary.set_index("term").loc["tier[2+ opens]"]
    assert hr["ci_low"] < 2.0 < hr["ci_high"]
    assert hr["hazard_ratio"] == pytest.approx(2.0, rel=0.15)


def test_time_to_production_table_censors_at_days_observed():
    f = pd.DataFrame({"company_id": ["a", "b", "c"], "first_call_at": [T0, T0, pd.NaT],
                      "days_to_production": [5.0, np.nan, np.nan], "days_observed": [30.0, 40.0, 10.0]})
    t = time_to_production_table(f)
    assert t["company_id"].tolist() == ["a", "b"]
    assert t["duration"].tolist() == [5.0, 40.0] and t["event"].tolist() == [1, 0]
