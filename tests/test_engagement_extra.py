"""Smoothed odds ratio, phi, human engagements, the logistic regression and the article's comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mof_experiments.engagement import (company_features, conversion_logit, engagement_vs_conversion,
                                        human_engagements, message_engagement, phi_coefficient,
                                        sandbox_activity_before, smoothed_odds_ratio)
from mof_experiments.errors import MofInputError

T0 = pd.Timestamp("2026-03-01", tz="UTC")


def test_smoothed_odds_ratio_is_posthogs_add_one_rule():
    # 30 of 50 successes and 20 of 100 failures have the property
    assert smoothed_odds_ratio(30, 20, 50, 100) == pytest.approx((31 / 21) / (21 / 81))
    assert np.isfinite(smoothed_odds_ratio(0, 0, 10, 10))  # empty cells stay finite


def test_phi_equals_matthews_correlation():
    from sklearn.metrics import matthews_corrcoef

    rng = np.random.default_rng(3)
    x = rng.random(500) < 0.4
    y = (rng.random(500) < np.where(x, 0.6, 0.3))
    a, b = int((x & y).sum()), int((x & ~y).sum())
    c, d = int((~x & y).sum()), int((~x & ~y).sum())
    assert phi_coefficient(a, b, c, d) == pytest.approx(matthews_corrcoef(x, y))
    assert phi_coefficient(5, 0, 0, 0) == 0.0


def test_human_engagements_drop_flagged_and_instant_opens():
    ev = pd.DataFrame({
        "message_id": ["m"] * 5, "contact_id": "c", "company_id": "co", "campaign_id": "x", "zone": "z", "topic": "t",
        "event": ["delivered", "open", "open", "open", "click"],
        "ts": [T0, T0 + pd.Timedelta(seconds=3), T0 + pd.Timedelta(hours=1), T0 + pd.Timedelta(hours=2),
               T0 + pd.Timedelta(hours=2, seconds=5)],
        "machine_open": pd.array([None, False, True, False, None], dtype="boolean")})
    h = human_engagements(ev)
    assert h["ts"].tolist() == [T0 + pd.Timedelta(hours=2), T0 + pd.Timedelta(hours=2, seconds=5)]
    assert len(human_engagements(ev, exclude_machine_opens=False)) == 4


def test_human_engagements_missing_column_is_a_one_line_error():
    with pytest.raises(MofInputError, match="email_events: missing column"):
        human_engagements(pd.DataFrame({"message_id": ["m"], "event": ["open"]}))


def test_conversion_logit_recovers_known_coefficients():
    rng = np.random.default_rng(11)
    n = 20_000
    opened = (rng.random(n) < 0.4).astype(int)
    calls = rng.normal(0, 1, n)
    p = 1 / (1 + np.exp(-(-1.0 + 0.8 * opened + 0.5 * calls)))
    df = pd.DataFrame({"converted": (rng.random(n) < p).astype(int), "opened_any": opened, "log_calls": calls})
    fit = conversion_logit(df, controls=("log_calls",))
    s = fit.summary.set_index("term")
    assert s.loc["opened_any", "coef"] == pytest.approx(0.8, abs=0.08)
    assert s.loc["log_calls", "coef"] == pytest.approx(0.5, abs=0.05)
    assert s.loc["opened_any", "ci_low"] < np.exp(0.8) < s.loc["opened_any", "ci_high"]
    assert fit.n == n


def test_conversion_logit_missing_column_is_an_error():
    with pytest.raises(MofInputError, match="missing column"):
        conversion_logit(pd.DataFrame({"converted": [0, 1]}), controls=("x",))


def test_engagement_vs_conversion_and_features_on_the_simulation(sim2000):
    from mof_experiments.funnel import label

    funnel = label(sim2000)
    ev = sim2000.read("email_events")
    msgs = message_engagement(ev)
    ec = engagement_vs_conversion(msgs, funnel)
    # the simulator is calibrated to the article: converters open ~59%, about twice the others
    assert 0.52 <= ec.open_rate_production <= 0.66
    assert 1.6 <= ec.open_ratio <= 2.6
    assert ec.open_ratio_ci[0] < ec.open_ratio < ec.open_ratio_ci[1]
    c = ec.companies
    assert ec.smoothed_odds_ratio == pytest.approx(smoothed_odds_ratio(c["a"], c["b"], c["a"] + c["c"], c["b"] + c["d"]))
    assert ec.smoothed_odds_ratio > 1 and ec.phi > 0
    cut = msgs.groupby("company_id", as_index=False)["sent_at"].min().rename(columns={"sent_at": "cutoff_at"})
    act = sandbox_activity_before(sim2000, cut)
    # a second method for the activity counts: plain SQL on the same file
    one = cut.iloc[0]
    n_sql = sim2000.raw.execute("SELECT count(*) FROM api_events WHERE company_id = ? AND environment = 'sandbox' "
                                "AND ts < ?", [one["company_id"], one["cutoff_at"].to_pydatetime()]).fetchone()[0]
    assert act.set_index("company_id").loc[one["company_id"], "sandbox_calls_before"] == n_sql
    per = sim2000.read("sim_contact_truth")[["contact_id", "persona"]]
    feats = company_features(msgs, funnel, per, sim2000.read("companies"), act)
    assert feats["company_id"].is_unique and {"share_pm", "share_dev", "log_sandbox_calls", "size_log"} <= set(feats)
    assert feats["converted"].sum() == c["a"] + c["c"]


def test_contact_engagement_counts_per_delivered_message():
    from mof_experiments.engagement import contact_engagement

    m = pd.DataFrame({"message_id": list("abcd"), "contact_id": ["x", "x", "x", "y"], "company_id": "co",
                      "delivered": [True, True, False, True], "opened": [True, False, False, False],
                      "clicked": [True, False, False, False]})
    c = contact_engagement(m).set_index("contact_id")
    assert c.loc["x", ["delivered", "opened", "clicked"]].tolist() == [2, 1, 1]
    assert c.loc["x", "open_rate"] == 0.5 and c.loc["y", "open_rate"] == 0.0
