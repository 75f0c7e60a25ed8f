"""Guardrails: counting by hand, the test against statsmodels, exact level and power by
enumerating every outcome of two binomial arms, and a planted doubling (slow)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from statsmodels.stats import proportion as smp

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.stats.guardrails import guardrail_sample_size, guardrail_test, guardrails
from mof_experiments.stats.studies import guardrail_events, guardrail_flag_probability, guardrail_study


def _events(rows):
    return pd.DataFrame(rows, columns=["contact_id", "company_id", "arm", "event"])


def test_counts_recipients_once_and_events_once_per_unit():
    rows = []
    for i in range(40):  # control: 40 recipients, 2 unsubscribe (one of them twice), 1 bounce
        rows.append((f"c{i}", f"co{i // 2}", "control", "sent"))
    rows += [("c0", "co0", "control", "unsubscribe"), ("c0", "co0", "control", "unsubscribe"),
             ("c1", "co0", "control", "unsubscribe"), ("c2", "co1", "control", "bounce")]
    for i in range(50):  # treatment: 50 sent + one contact with an unsubscribe and no recorded send
        rows.append((f"t{i}", f"to{i // 2}", "treatment", "sent"))
        rows.append((f"t{i}", f"to{i // 2}", "treatment", "sent"))  # two messages each
    rows += [(f"t{i}", f"to{i // 2}", "treatment", "unsubscribe") for i in range(6)]
    rows += [("t99", "to99", "treatment", "unsubscribe"), ("t3", "to1", "treatment", "open")]
    r = guardrails(_events(rows), control="control")
    s = r.summary.set_index(["guardrail", "arm"])
    assert s.loc[("unsubscribe_rate", "control"), ["n", "events"]].tolist() == [40, 2]
    assert s.loc[("unsubscribe_rate", "treatment"), ["n", "events"]].tolist() == [51, 7]
    assert s.loc[("bounce_rate", "control"), "events"] == 1
    assert s.loc[("unsubscribe_rate", "treatment"), "rate"] == pytest.approx(7 / 51)
    assert s.loc[("unsubscribe_rate", "treatment"), "lift"] == pytest.approx(7 / 51 - 2 / 40)
    # the p-value and bounds are statsmodels' Agresti-Caffo test and interval
    p = smp.test_proportions_2indep(7, 51, 2, 40, method="agresti-caffo", compare="diff", alternative="larger").pvalue
    lo, hi = smp.confint_proportions_2indep(7, 51, 2, 40, method="agresti-caffo", compare="diff", alpha=0.10)
    row = s.loc[("unsubscribe_rate", "treatment")]
    assert (row["p_value"], row["lift_lower"], row["lift_upper"]) == pytest.approx((p, lo, hi), rel=1e-12)
    # 9 events, 40 and 51 recipients: tested, p = 0.104 -> ok; complaints: none at all -> low data
    assert p == pytest.approx(0.1043, abs=1e-4) and row["status"] == "ok"
    assert s.loc[("complaint_rate", "treatment"), "status"] == "low data"
    assert r.status == "low data" and r.breached == ()
    # per company: co0 (2 unsubscribing contacts) counts once
    rc = guardrails(_events(rows), control="control", unit="company_id").summary.set_index(["guardrail", "arm"])
    assert rc.loc[("unsubscribe_rate", "control"), ["n", "events"]].tolist() == [20, 1]


def test_status_by_hand_and_margins():
    def frame(x, n, x0, n0):
        rows = [(f"t{i}", "x", "treatment", "sent") for i in range(n)] + \
               [(f"c{i}", "x", "control", "sent") for i in range(n0)] + \
               [(f"t{i}", "x", "treatment", "unsubscribe") for i in range(x)] + \
               [(f"c{i}", "x", "control", "unsubscribe") for i in range(x0)]
        return _events(rows)

    def status(*a, **kw):
        return guardrails(frame(*a), control="control", **kw).summary.set_index(["guardrail", "arm"]).loc[
            ("unsubscribe_rate", "treatment"), "status"]

    assert status(30, 1000, 10, 1000) == "breached"  # 3% vs 1%
    assert status(12, 1000, 10, 1000) == "ok"
    assert status(3, 1000, 0, 1000) == "low data"  # 3 events in all
    assert status(10, 20, 0, 20) == "low data"  # arms below 30 recipients
    assert status(10, 1000, 30, 1000) == "ok"  # better than control
    # a margin of 3 points: 3% vs 1% is no longer shown to be worse by more than the margin
    assert status(30, 1000, 10, 1000, margins={"unsubscribe_rate": 0.03}) == "ok"
    r = guardrails(frame(30, 1000, 10, 1000), control="control")
    assert r.breached == (("unsubscribe_rate", "treatment"),) and r.status == "breached"
    d = r.to_dict()
    assert d["status"] == "breached" and d["breached"] == [["unsubscribe_rate", "treatment"]]
    assert d["rows"][0]["p_value"] is None  # the control row has no test (JSON null, not NaN)
    assert "BREACHED" in str(r) and "<table" in r._repr_html_()


def test_arms_from_assignments():
    rows = [(f"c{i}", f"co{i}", None, "sent") for i in range(60)] + \
           [(f"c{i}", f"co{i}", None, "unsubscribe") for i in range(0, 60, 10)]
    ev = _events(rows).drop(columns="arm")
    asg = pd.DataFrame({"company_id": [f"co{i}" for i in range(50)], "arm": ["a", "b"] * 25})
    s = guardrails(ev, control="a", assignments=asg).summary.set_index(["guardrail", "arm"])
    # co50..co59 are unassigned: left out; unsubscribes at co0,10,20,30,40 are all arm "a"
    assert s.loc[("unsubscribe_rate", "a"), ["n", "events"]].tolist() == [25, 5]
    assert s.loc[("unsubscribe_rate", "b"), ["n", "events"]].tolist() == [25, 0]
    with pytest.raises(MofInputError, match="assignments: column 'company_id': company assigned twice"):
        guardrails(ev, control="a", assignments=pd.concat([asg, asg.head(1)]))


def test_guardrail_inputs_are_checked():
    ev = _events([("c1", "x", "control", "sent"), ("c1", "x", "treatment", "sent"), ("c2", "x", "treatment", "sent")])
    with pytest.raises(MofInputError, match=r"contact_id 'c1' appears in two arms \('control' and 'treatment'\)"):
        guardrails(ev, control="control")
    with pytest.raises(MofInputError, match="control arm 'holdout' has no email events"):
        guardrails(ev.iloc[2:], control="holdout", comparison="control")
    with pytest.raises(MofInputError, match=r"missing column\(s\) message_id"):  # thresholds count messages
        guardrails(ev.iloc[2:], control="holdout")
    with pytest.raises(MofInputError, match=r"missing column\(s\) event"):
        guardrails(ev.drop(columns="event"), control="control")
    with pytest.raises(MofConfigError, match="margins: unknown guardrail 'open_rate'"):
        guardrails(ev.iloc[2:], control="treatment", margins={"open_rate": 0.1})
    with pytest.raises(MofConfigError, match="margins: give a number or"):
        guardrails(ev.iloc[2:], control="treatment", margins="x")
    with pytest.raises(MofConfigError, match="margins: bounce_rate must be a number"):
        guardrails(ev.iloc[2:], control="treatment", margins={"bounce_rate": "high"})
    with pytest.raises(MofInputError, match="^no rows$"):
        guardrails(ev.iloc[:0], control="control")
    with pytest.raises(MofConfigError, match="need 0 < base_rate < ratio"):
        guardrail_sample_size(0.6, ratio=2)


def test_sample_size_is_the_textbook_formula():
    # n = (z_a sqrt(2 pbar qbar) + z_b sqrt(p1 q1 + p2 q2))^2 / d^2, one-sided alpha 0.05, power 0.9
    for p in (0.005, 0.03):
        p2, pbar = 2 * p, 1.5 * p
        za, zb = norm.ppf(0.95), norm.ppf(0.9)
        n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p * (1 - p) + p2 * (1 - p2))) ** 2 / p**2
        assert guardrail_sample_size(p) == math.ceil(n)
    assert (guardrail_sample_size(0.03), guardrail_sample_size(0.03, power=0.95)) == (816, 1031)
    assert (guardrail_sample_size(0.005), guardrail_sample_size(0.005, power=0.95)) == (5098, 6442)


def test_exact_flag_probability_by_hand():
    # 2 recipients per arm: never 5 events, never flagged
    assert guardrail_flag_probability(2, 0.9, 0.1) == 0.0
    # 30 per arm, p_t = 1, p_c = 0: the outcome is (30, 0) for sure, and it is flagged
    assert guardrail_flag_probability(30, 1.0, 0.0) == pytest.approx(1.0)
    # 40 per arm at 15% vs 10%: the sum of P(x_t) P(x_c) over the flagged outcomes, by a double loop
    from scipy.stats import binom

    total = 0.0
    for xt in range(41):
        for xc in range(41):
            if xt + xc >= 5 and guardrail_test(xt, 40, xc, 40)[0][0] < 0.05:
                total += binom.pmf(xt, 40, 0.15) * binom.pmf(xc, 40, 0.1)
    assert guardrail_flag_probability(40, 0.15, 0.1) == pytest.approx(total, abs=1e-10)


@pytest.mark.parametrize("base", [0.03, 0.005])
def test_exact_level_and_power_at_the_documented_sizes(base):
    n90, n95 = guardrail_sample_size(base), guardrail_sample_size(base, power=0.95)
    assert guardrail_flag_probability(n90, base, base) <= 0.05  # a null arm: 0.047 (3%), 0.046 (0.5%)
    assert guardrail_flag_probability(n95, base, base) <= 0.05
    assert guardrail_flag_probability(n90, 2 * base, base) >= 0.90  # a doubling: 0.904, 0.903
    assert guardrail_flag_probability(n95, 2 * base, base) >= 0.95  # 0.952, 0.953


@pytest.mark.slow
def test_planted_doubling_is_flagged_and_a_null_arm_is_not():
    # 1,000 simulated tests at the documented 95% size (3% base: 1,031 recipients per arm),
    # each through guardrails() on email_events rows
    n = guardrail_sample_size(0.03, power=0.95)
    doubled = guardrail_study(runs=1000, n_per_arm=n, base=0.03, ratio=2.0, seed=21)
    null = guardrail_study(runs=1000, n_per_arm=n, base=0.03, ratio=1.0, seed=22)
    assert doubled >= 0.90
    exact_null = guardrail_flag_probability(n, 0.03, 0.03)
    assert exact_null <= 0.05
    assert abs(null - exact_null) < 3 * math.sqrt(exact_null * (1 - exact_null) / 1000)  # the simulation agrees


def test_simulated_events_have_the_planted_rates():
    ev = guardrail_events(np.random.default_rng(0), n_per_arm=20_000, base=0.03, ratio=2.0)
    s = guardrails(ev, control="control").summary.set_index(["guardrail", "arm"])
    assert s.loc[("unsubscribe_rate", "control"), "rate"] == pytest.approx(0.03, abs=0.004)
    assert s.loc[("unsubscribe_rate", "treatment"), "rate"] == pytest.approx(0.06, abs=0.005)
