"""Assisted conversion windows, the content table (CIs, ratings, flags), best content and Thompson
allocation, on small hand-made fixtures with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from helpers import email_events, message_rows
from mof_experiments.attribution import (CONTENT_COLUMNS, assisted_messages, best_content, content_table,
                                         prob_best, tercile_rating, thompson_allocation)
from mof_experiments.engagement import human_engagements, message_engagement
from mof_experiments.errors import MofInputError

T0 = pd.Timestamp("2026-03-01", tz="UTC")
DAY = pd.Timedelta(days=1)


def _funnel(first_production: dict, companies=("A", "B", "C")):
    return pd.DataFrame({"company_id": list(companies),
                         "first_production_at": [first_production.get(c, pd.NaT) for c in companies],
                         "signup_at": T0 - 30 * DAY, "days_observed": 200.0,
                         "stage": ["production" if c in first_production else "sandbox" for c in companies]})


def _assisted(rows, fp, window_days=14.0):
    ev = email_events(rows)
    return assisted_messages(message_engagement(ev), human_engagements(ev), _funnel(fp), window_days=window_days) \
        .set_index("message_id")


def test_open_after_conversion_never_assists():
    conv = T0 + 10 * DAY
    a = _assisted(message_rows("m1", "A", "a1", T0 + 9 * DAY, opens=[conv + pd.Timedelta(minutes=1), conv + 3 * DAY]),
                  {"A": conv})
    assert not a.loc["m1", "assisted"]


def test_open_at_the_conversion_instant_does_not_assist():
    conv = T0 + 10 * DAY
    a = _assisted(message_rows("m1", "A", "a1", T0, opens=[conv]), {"A": conv})
    assert not a.loc["m1", "assisted"]


def test_open_just_inside_the_window_assists():
    conv = T0 + 20 * DAY
    a = _assisted(message_rows("m1", "A", "a1", T0, opens=[conv - 14 * DAY + pd.Timedelta(minutes=1)]), {"A": conv})
    assert a.loc["m1", "assisted"]
    assert a.loc["m1", "last_engaged_before_conversion_at"] == conv - 14 * DAY + pd.Timedelta(minutes=1)


def test_open_just_outside_the_window_does_not_assist_but_a_reopen_inside_does():
    conv = T0 + 30 * DAY
    early = conv - 14 * DAY - pd.Timedelta(minutes=1)
    rows = message_rows("m1", "A", "a1", T0, opens=[early]) + message_rows("m2", "A", "a2", T0, opens=[early, conv - 2 * DAY])
    a = _assisted(rows, {"A": conv})
    assert not a.loc["m1", "assisted"]
    assert a.loc["m2", "assisted"]  # every human engagement counts, not only the first


def test_window_is_a_parameter():
    conv = T0 + 30 * DAY
    rows = message_rows("m1", "A", "a1", T0, opens=[conv - 10 * DAY])
    assert _assisted(rows, {"A": conv}, window_days=14).loc["m1", "assisted"]
    assert not _assisted(rows, {"A": conv}, window_days=7).loc["m1", "assisted"]


def test_one_conversion_credits_several_messages_and_unconverted_never_assist():
    conv = T0 + 12 * DAY
    rows = (message_rows("m1", "A", "a1", T0, opens=[T0 + DAY]) + message_rows("m2", "A", "a2", T0, opens=[T0 + 5 * DAY])
            + message_rows("m3", "B", "b1", T0, opens=[T0 + DAY]))
    a = _assisted(rows, {"A": conv})
    assert a.loc["m1", "assisted"] and a.loc["m2", "assisted"]
    assert not a.loc["m3", "assisted"]


def test_machine_opens_do_not_assist():
    conv = T0 + 5 * DAY
    rows = message_rows("m1", "A", "a1", T0, opens=[T0 + pd.Timedelta(seconds=32)])  # 2 s after delivery: a proxy fetch
    a = _assisted(rows, {"A": conv})
    assert not a.loc["m1", "assisted"]
    assert a.loc["m1", "machine_opens"] == 1


def test_window_must_be_positive():
    ev = email_events(message_rows("m1", "A", "a1", T0))
    with pytest.raises(MofInputError, match="window_days must be positive"):
        assisted_messages(message_engagement(ev), human_engagements(ev), _funnel({}), window_days=0)


# ---------------------------------------------------------------------------------------- content table

def _table_input(spec):
    """spec: (zone, topic, persona, delivered, opened, assisted) -> a message frame for content_table."""
    rows = []
    for zone, topic, persona, n, k_open, k_assist in spec:
        for i in range(n):
            rows.append(dict(message_id=f"{zone}{topic}{persona}{i}", company_id=f"co{i % 7}", contact_id=f"{persona}{i}",
                             zone=zone, topic=topic, persona=persona, delivered=True, opened=i < k_open,
                             clicked=i < k_open // 2, assisted=i < k_assist))
    return pd.DataFrame(rows)


def _wilson_by_hand(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_content_table_rates_and_wilson_intervals_match_the_formula():
    t = content_table(_table_input([("fh", "dash", "PM", 200, 80, 10), ("cs", "adopt", "PM", 50, 10, 4)]))
    assert tuple(t.columns) == CONTENT_COLUMNS
    r = t.set_index("topic").loc["dash"]
    assert (r["delivered"], r["opened"], r["assisted"]) == (200, 80, 10)
    assert r["open_rate"] == pytest.approx(0.4)
    lo, hi = _wilson_by_hand(80, 200)
    assert (r["open_ci_low"], r["open_ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    lo, hi = _wilson_by_hand(10, 200)
    assert (r["assisted_ci_low"], r["assisted_ci_high"]) == (pytest.approx(lo), pytest.approx(hi))


def test_too_little_data_flag_follows_the_ci_width_threshold():
    t = content_table(_table_input([("fh", "dash", "PM", 400, 160, 20), ("sec", "integrity", "CSO", 30, 12, 1)]),
                      max_ci_width=0.15).set_index("persona")
    # Wilson width for 160/400 is 0.096; for 12/30 it is 0.33
    assert not t.loc["PM", "too_little_data"]
    assert t.loc["CSO", "too_little_data"]
    assert t.loc["CSO", "ci_width_max"] == pytest.approx(np.subtract(*_wilson_by_hand(12, 30)[::-1]))
    loose = content_table(_table_input([("sec", "integrity", "CSO", 30, 12, 1)]), max_ci_width=0.5)
    assert not loose["too_little_data"].any()


def test_persona_comes_from_the_personas_table_and_missing_is_other():
    m = _table_input([("fh", "dash", "PM", 10, 5, 1)]).drop(columns=["persona"])
    personas = pd.DataFrame({"contact_id": [f"PM{i}" for i in range(6)], "persona": "PM"})
    t = content_table(m, personas).set_index("persona")
    assert t.loc["PM", "delivered"] == 6 and t.loc["OTHER", "delivered"] == 4


def test_content_table_without_personas_is_a_one_line_error():
    m = _table_input([("fh", "dash", "PM", 10, 5, 1)]).drop(columns=["persona"])
    with pytest.raises(MofInputError, match="run `mof segment`"):
        content_table(m)


def test_tercile_ratings():
    r = tercile_rating(pd.Series([0.1, 0.5, 0.3, 0.9, 0.2, 0.7]))
    assert r.tolist() == ["low", "mid", "mid", "high", "low", "high"]  # sorted: 0.1 0.2 | 0.3 0.5 | 0.7 0.9
    assert tercile_rating(pd.Series([0.1, 0.2])).tolist() == ["mid", "mid"]


def test_prob_best_matches_numerical_integration():
    # P(p1 > p2) for p1 ~ Beta(1+30, 1+170), p2 ~ Beta(1+20, 1+180), by quadrature (a second method)
    t = content_table(_table_input([("a", "x", "PM", 200, 90, 30), ("b", "y", "PM", 200, 90, 20)]))
    pb = prob_best(t, draws=200_000, seed=1, prior=(1, 1)).set_index("zone")
    b1, b2 = stats.beta(31, 171), stats.beta(21, 181)
    exact, _ = integrate.quad(lambda x: b1.pdf(x) * b2.cdf(x), 0, 1)
    assert pb.loc["a", "prob_best"] == pytest.approx(exact, abs=0.005)
    assert pb["prob_best"].sum() == pytest.approx(1.0)
    assert pb.loc["a", "posterior_mean"] == pytest.approx(31 / 202)


def test_pooled_prior_is_centred_on_the_pooled_rate():
    from mof_experiments.attribution import resolve_prior

    t = content_table(_table_input([("a", "x", "PM", 300, 90, 30), ("b", "y", "PM", 100, 40, 10)]))
    a, b = resolve_prior(t, "pooled", 20)
    assert (a, b) == (pytest.approx(0.1 * 20), pytest.approx(0.9 * 20))
    with pytest.raises(MofInputError, match="must be positive"):
        resolve_prior(t, (0, 1))


def test_a_tiny_lucky_row_does_not_become_best():
    # 1 assisted of 3 (33%) vs 45 of 300 (15%): with a uniform prior the tiny row often "wins";
    # the pooled prior shrinks it, and min_delivered keeps it out of the candidates
    t = content_table(_table_input([("a", "x", "CEO", 300, 90, 45), ("b", "y", "CEO", 3, 2, 1)]))
    uniform = prob_best(t, prior=(1, 1), seed=2).set_index("zone")
    pooled = prob_best(t, seed=2).set_index("zone")
    assert pooled.loc["b", "prob_best"] < uniform.loc["b", "prob_best"]
    best = best_content(t, seed=2).set_index("persona")
    assert best.loc["CEO", "zone"] == "a" and best.loc["CEO", "candidates"] == 1


def test_best_content_per_persona_and_single_candidate_has_probability_one():
    t = content_table(_table_input([("a", "x", "PM", 300, 90, 45), ("b", "y", "PM", 300, 90, 15),
                                    ("c", "z", "DEV", 100, 40, 5)]))
    best = best_content(t, seed=3).set_index("persona")
    assert best.loc["PM", "zone"] == "a" and best.loc["PM", "prob_best"] > 0.99
    assert best.loc["DEV", "prob_best"] == 1.0 and best.loc["DEV", "candidates"] == 1


def test_thompson_allocation_sums_to_n_and_follows_prob_best():
    t = content_table(_table_input([("a", "x", "PM", 300, 90, 30), ("b", "y", "PM", 300, 90, 24),
                                    ("c", "z", "PM", 40, 10, 2)]))
    alloc = thompson_allocation(t, 20_000, persona="PM", seed=5).set_index("zone")
    pb = prob_best(t, draws=200_000, seed=6).set_index("zone")  # same (pooled) prior as the allocation
    assert alloc["sends_next"].sum() == 20_000
    for z in "abc":
        assert alloc.loc[z, "share_next"] == pytest.approx(pb.loc[z, "prob_best"], abs=0.02)
    again = thompson_allocation(t, 20_000, persona="PM", seed=5).set_index("zone")
    assert again["sends_next"].tolist() == alloc["sends_next"].tolist()  # seeded


def test_thompson_unknown_persona_is_an_error():
    t = content_table(_table_input([("a", "x", "PM", 30, 9, 3)]))
    with pytest.raises(MofInputError, match="no content for persona 'GC'"):
        thompson_allocation(t, 10, persona="GC")
