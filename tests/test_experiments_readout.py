"""The readout safe to read every day (issue 15): confidence sequences, Bayesian chance to win,
winsorizing and the dominance warning, breakdowns, guardrails, and the bugs found by an
independent check (each test below fails on the readout before this change)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from helpers import copy_workspace, run_mof

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.experiments import (company_attribute, experiment_data, experiment_path, readout)
from mof_experiments.sources import resolve_as_of
from mof_experiments.stats import (bayesian_rates, breakdown, compare_sequential, dominance, guardrails,
                                   winsorize)
from mof_experiments.workspace import Workspace


def _csv(tmp_path, text: str, name: str = "ab.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def _one_line_error(p, *pieces):
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("mof: error:"), p.stderr
    for piece in pieces:
        assert piece in lines[0], lines[0]


def _ab(n_c=400, n_t=400, p_c=0.10, p_t=0.14, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"company_id": [f"co{i}" for i in range(n_c + n_t)],
                         "arm": ["control"] * n_c + ["treatment"] * n_t,
                         "y": np.r_[rng.random(n_c) < p_c, rng.random(n_t) < p_t].astype(int),
                         "spend": np.r_[rng.lognormal(3, 1, n_c), rng.lognormal(3.1, 1, n_t)],
                         "plan": rng.choice(["free", "startup", "growth"], n_c + n_t)})


# ------------------------------------------------------------------------------ item 6: the bugs
@pytest.mark.parametrize("alpha", ["0.8", "1.5", "0", "-1", "nan", "abc"])
def test_alpha_outside_0_to_half_is_a_one_line_error(tmp_path, alpha):
    f = _csv(tmp_path, "arm,y\n" + "".join(f"{a},{i % 3 == 0:d}\n" for i, a in enumerate("ab" * 40)))
    p = run_mof("experiment", "readout", f, "--arm", "arm", "--outcome", "y", "--control", "a", "--alpha", alpha)
    _one_line_error(p, "--alpha")


def test_infinite_or_overflowing_outcome_is_refused_naming_the_row(tmp_path):
    for bad, row in (("inf", 3), ("-inf", 3), ("1e400", 3)):
        f = _csv(tmp_path, f"arm,y\na,1.5\nb,2\na,{bad}\nb,4\n")
        p = run_mof("experiment", "readout", f, "--arm", "arm", "--outcome", "y", "--control", "a")
        _one_line_error(p, "column 'y'", "infinite value", f"row {row}: '{bad}'")


def test_csv_booleans_in_any_case_are_a_rate(tmp_path):
    rows = ["a,TRUE", "a,FALSE", "a,false", "a,true", "b,True", "b,TRUE", "b,true", "b,FALSE"] * 10
    f = _csv(tmp_path, "arm,y\n" + "\n".join(rows) + "\n")
    p = run_mof("experiment", "readout", f, "--arm", "arm", "--outcome", "y", "--control", "a", "--json")
    assert p.returncode == 0, p.stderr
    arms = {a["arm"]: a["outcomes"]["y"] for a in json.loads(p.stdout)["arms"]}
    assert (arms["a"]["events"], arms["a"]["rate"]) == (20, 0.5) and (arms["b"]["events"], arms["b"]["rate"]) == (30, 0.75)


def test_a_bad_weights_option_blames_weights(tmp_path):
    f = _csv(tmp_path, "arm,y\na,1\nb,0\n")
    p = run_mof("experiment", "readout", f, "--arm", "arm", "--outcome", "y", "--control", "a", "--weights", "a=1")
    _one_line_error(p, "--weights: need at least two arms")
    assert "--arms" not in p.stderr


def test_a_repeated_outcome_is_one_test_in_the_holm_family():
    df = _ab()
    once = readout(df, "arm", "y", "control").summary
    twice = readout(df, "arm", ["y", "y", "y:rate"], "control").summary
    assert len(twice) == 2  # one row per arm, not per mention
    t = twice[~twice["is_control"]].iloc[0]
    assert t["p_value_adj"] == pytest.approx(t["p_value"])  # a family of one: Holm leaves it alone
    assert t["p_value_adj"] == once.loc[~once["is_control"], "p_value_adj"].iloc[0]
    with pytest.raises(MofConfigError, match="outcome 'y' given as both rate and mean"):
        readout(df, "arm", ["y:rate", "y:mean"], "control")


def test_relative_lift_of_means_uses_ddof1_and_the_welch_t_quantile():
    y = np.array([3.0, 5.0, 4.0, 8.0, 6.0])
    y0 = np.array([2.0, 4.0, 3.0, 3.0])
    r = readout(pd.DataFrame({"arm": ["t"] * 5 + ["c"] * 4, "v": np.r_[y, y0]}), "arm", "v", "c").summary
    row = r[r["arm"] == "t"].iloc[0]
    m, m0, s2, s02 = 5.2, 3.0, np.var(y, ddof=1), np.var(y0, ddof=1)  # 3.7 and 2/3
    se = math.sqrt(s2 / 5 / m0**2 + m**2 * s02 / 4 / m0**4)
    a, b = s2 / 5, s02 / 4
    df = (a + b) ** 2 / (a**2 / 4 + b**2 / 3)
    q = stats.t.ppf(0.975, df)
    assert row["rel_lift"] == pytest.approx(2.2 / 3)
    assert (row["rel_lift_ci_low"], row["rel_lift_ci_high"]) == pytest.approx((2.2 / 3 - q * se, 2.2 / 3 + q * se),
                                                                              rel=1e-12)


def test_arms_of_a_few_units_get_fishers_exact_test_and_are_never_significant():
    df = pd.DataFrame({"arm": ["c"] * 3 + ["t"] * 3, "y": [0, 0, 0, 1, 1, 1]})
    r = readout(df, "arm", "y", "c", correction="none").summary.set_index("arm")
    # the score test gives p = 0.014; Fisher's exact test of [[3, 0], [0, 3]] gives 0.1
    assert r.loc["t", "p_value"] == pytest.approx(stats.fisher_exact([[3, 0], [0, 3]]).pvalue) == pytest.approx(0.1)
    assert r.loc["t", "test"] == "fisher" and bool(r.loc["t", "low_data"]) and not bool(r.loc["t", "significant"])
    # 2 units vs 2 units, all vs none, and a mean on 3 vs 3 units: never significant
    tiny = readout(pd.DataFrame({"arm": ["c", "c", "t", "t"], "y": [0, 0, 1, 1]}), "arm", "y", "c").summary
    assert not tiny["significant"].any()
    m = readout(pd.DataFrame({"arm": ["c"] * 3 + ["t"] * 3, "v": [1.0, 1.1, 0.9, 9.0, 9.1, 8.9]}), "arm", "v",
                "c").summary.set_index("arm")
    assert m.loc["t", "p_value"] < 0.001 and not bool(m.loc["t", "significant"]) and m.loc["t", "test"] == "welch"
    # with enough data the score test is used and significance stands
    big = readout(_ab(2000, 2000, 0.10, 0.14), "arm", "y", "control").summary.set_index("arm")
    assert big.loc["treatment", "test"] == "score" and bool(big.loc["treatment", "significant"])


def test_a_constant_outcome_says_there_is_nothing_to_compare(tmp_path):
    f = _csv(tmp_path, "arm,k\n" + "".join(f"{a},5\n" for a in "ab" * 40))
    p = run_mof("experiment", "readout", f, "--arm", "arm", "--outcome", "k", "--control", "a")
    assert p.returncode == 0
    assert "WARNING: k: every unit has the value 5: nothing to compare (no interval, no test)" in p.stdout
    r = readout(pd.DataFrame({"arm": ["a"] * 40 + ["b"] * 40, "k": [1.0] * 40 + [2.0] * 40}), "arm", "k", "a")
    assert "k: b vs a: no test (no variation within either arm)" in r.warnings


def test_the_text_output_says_when_cuped_was_applied():
    rng = np.random.default_rng(1)
    x = rng.normal(10, 2, 600)
    df = pd.DataFrame({"arm": np.repeat(["c", "t"], 300), "pre": x, "y": x + rng.normal(0, 1, 600)})
    r = readout(df, "arm", "y", "c", covariates={"y": "pre"})
    (c,) = r.cuped
    theta = np.cov(df["y"], df["pre"])[0, 1] / np.var(df["pre"], ddof=1)
    assert (c.outcome, c.covariate) == ("y", "pre") and c.theta == pytest.approx(theta)
    assert 0.7 < c.variance_reduction < 0.9  # corr^2 = 4 / 5
    assert f"CUPED applied: y adjusted by pre (theta {theta:.4g}; variance -{c.variance_reduction:.0%})" in str(r)
    assert r.to_dict()["cuped"][0]["covariate"] == "pre"
    assert "CUPED" not in str(readout(df, "arm", "y", "c"))


# ------------------------------------------------------------------------------ sequential and Bayesian
def test_sequential_columns_are_the_confidence_sequence_of_each_lift():
    df = _ab(900, 1100)
    r = readout(df, "arm", ["y", "spend"], "control", sequential=True)
    s = r.summary.set_index(["outcome", "arm"])
    for o in ("y", "spend"):
        y = df.loc[df.arm == "treatment", o].to_numpy(float)
        y0 = df.loc[df.arm == "control", o].to_numpy(float)
        want = compare_sequential(y, y0, n_expected=2000)  # default: the comparison's current n
        row = s.loc[(o, "treatment")]
        assert (row["seq_ci_low"], row["seq_ci_high"], row["seq_p_value"]) == pytest.approx(
            (want.seq_ci_low, want.seq_ci_high, want.seq_p_value), rel=1e-12)
        assert row["seq_ci_low"] < row["lift_ci_low"] < row["lift"] < row["lift_ci_high"] < row["seq_ci_high"]
        assert math.isnan(s.loc[(o, "control"), "seq_ci_low"])
    planned = readout(df, "arm", "y", "control", sequential=True, n_expected=8000).summary
    assert planned["seq_ci_low"].iloc[1] == pytest.approx(compare_sequential(
        df.loc[df.arm == "treatment", "y"], df.loc[df.arm == "control", "y"], n_expected=8000).seq_ci_low)
    out = r.to_dict()
    t = next(a for a in out["arms"] if a["arm"] == "treatment")["outcomes"]["y"]
    assert {"seq_ci_low", "seq_ci_high"} <= set(t) and out["sequential"]["n_expected"] is None
    assert "always-valid [" in str(r) and "each comparison's current n" in str(r)
    assert "seq_ci_low" not in readout(df, "arm", "y", "control").summary.columns


def test_bayesian_columns_are_the_beta_binomial_posterior():
    df = _ab(500, 500, 0.10, 0.13, seed=3)
    r = readout(df, "arm", "y", "control", bayesian=True)
    s = r.summary.set_index("arm")
    x = df.groupby("arm")["y"].agg(["sum", "size"])
    want = bayesian_rates(x["sum"], x["size"], arms=list(x.index), control="control").summary.set_index("arm")
    for c in ("prob_beat_control", "expected_loss", "credible_low", "credible_high"):
        assert s.loc["treatment", c] == pytest.approx(want.loc["treatment", c], rel=1e-9)
    assert s.loc["control", "expected_loss"] == pytest.approx(want.loc["control", "expected_loss"], rel=1e-9)
    # P(p_t > p_c) by Monte Carlo of the two Beta(1 + x, 1 + n - x) posteriors
    rng = np.random.default_rng(0)
    draw = {a: rng.beta(1 + x.loc[a, "sum"], 1 + x.loc[a, "size"] - x.loc[a, "sum"], 200_000) for a in x.index}
    assert s.loc["treatment", "prob_beat_control"] == pytest.approx((draw["treatment"] > draw["control"]).mean(),
                                                                    abs=0.005)
    t = next(a for a in r.to_dict()["arms"] if a["arm"] == "treatment")["outcomes"]["y"]
    assert {"prob_beat_control", "expected_loss"} <= set(t)
    assert r.bayesian_prior == {"y": "Beta(1, 1) on each arm's rate"} and "P(beats control)=" in str(r)
    flat = readout(pd.DataFrame({"arm": ["c"] * 30 + ["t"] * 30, "v": [1.0] * 30 + list(range(30))}), "arm", "v", "c",
                   bayesian=True)
    assert "v: no Bayesian readout (arm 'c' has no variation)" in flat.warnings


# ------------------------------------------------------------------------------ heavy tails
@pytest.mark.slow
def test_the_issues_outlier_is_warned_about_and_winsorizing_clears_it(tmp_path):
    rng = np.random.default_rng(0)
    n = 45_000
    arm = np.where(rng.random(n) < 0.5, "control", "treatment")
    spend = np.where(rng.random(n) < 0.02, rng.lognormal(4, 1, n), 0.0)
    spend[5] = 49_854.0  # one company of the treatment arm
    df = pd.DataFrame({"company_id": [f"co{i}" for i in range(n)], "arm": arm, "spend": spend})
    r = readout(df, "arm", "spend", "control")
    (w,) = r.warnings
    assert w.startswith("spend: in arm 'treatment' one unit (company_id co5, value 49,854) holds 58%")
    assert r.summary.set_index("arm").loc["treatment", "lift"] == pytest.approx(1.86, abs=0.01)
    capped = readout(df, "arm", "spend", "control", winsorize=0.99)
    assert capped.warnings == ()
    cap = winsorize(df["spend"].to_numpy(), 0.99)
    assert capped.winsorized.loc[0, "upper"] == pytest.approx(cap.upper)  # 698.26
    means = pd.Series(cap.values).groupby(df["arm"]).mean()
    assert capped.summary.set_index("arm").loc["treatment", "lift"] == pytest.approx(
        means["treatment"] - means["control"])  # -0.22
    assert "winsorized: spend capped at 698.26" in str(capped)
    # per metric on the command line: COL=Q; a rate cannot be winsorized
    f = tmp_path / "spend.csv"
    df.assign(y=(df["spend"] > 0).astype(int)).to_csv(f, index=False)
    p = run_mof("experiment", "readout", str(f), "--arm", "arm", "--outcome", "spend", "--outcome", "y",
                "--control", "control", "--winsorize", "spend=0.999", "--json")
    out = json.loads(p.stdout)
    assert out["winsorized"][0]["q"] == 0.999 and out["winsorized"][0]["upper"] == pytest.approx(9888.06, abs=0.01)
    assert any("holds 21%" in x for x in out["warnings"])  # 0.999 leaves the unit at 21% of its arm
    bad = run_mof("experiment", "readout", str(f), "--arm", "arm", "--outcome", "y", "--control", "control",
                  "--winsorize", "y=0.99")
    _one_line_error(bad, "'y' is a rate; winsorizing applies to means")


def test_small_arms_are_not_called_dominated():
    d = dominance(pd.DataFrame({"arm": ["a"] * 3, "y": [5.0, 5.0, 5.0]}), arm="arm", outcome="y")
    assert d.dominated == ()  # each of 3 equal units holds a third: a small arm, not an outlier
    d = dominance(pd.DataFrame({"arm": ["a"] * 5, "y": [1.0, 1.0, 1.0, 1.0, 10.0]}), arm="arm", outcome="y")
    assert d.dominated == ("a",)  # 10 / 14 = 71% > 2 / 5


# ------------------------------------------------------------------------------ breakdowns
@pytest.mark.slow
def test_breakdown_by_a_column_is_the_stats_breakdown_per_arm():
    df = _ab(1500, 1500)
    df = pd.concat([df, _ab(300, 300, seed=9).assign(arm=lambda d: np.where(d.arm == "control", "control", "b"))])
    r = readout(df, "arm", "y", "control", by="plan")
    assert [(b.outcome, b.by, b.treatment) for b in r.breakdowns] == [("y", "plan", "b"), ("y", "plan", "treatment")]
    want = breakdown(df, arm="arm", outcome="y", by="plan", control="control", treatment="treatment")
    got = r.breakdowns[1]
    pd.testing.assert_frame_equal(got.summary, want.summary)
    assert got.interaction_p_value == pytest.approx(want.interaction_p_value)
    js = r.to_dict()["breakdowns"][1]
    assert js["arm"] == "treatment" and [c["cell"] for c in js["cells"]] == ["free", "growth", "startup"]
    assert {"p_value_adj", "low_data", "significant"} <= set(js["cells"][0]) and "p_value" in js["interaction"]
    with pytest.raises(MofConfigError, match="--by company_id: 3,000 distinct values; bin it"):
        readout(df, "arm", "y", "control", by="company_id")


@pytest.mark.slow
def test_company_attributes_for_a_breakdown(sim2000_path, tmp_path):
    path = copy_workspace(sim2000_path, tmp_path)
    with Workspace(path) as ws:
        ws.write("personas", pd.DataFrame({"contact_id": ["k1", "k2", "k3", "k4"],
                                           "persona": ["DEV", "PM", "PM", "CFO"]}))
        ws.write("contacts", pd.DataFrame({"contact_id": ["k1", "k2", "k3", "k4"], "company_id": ["a", "a", "b", "b"],
                                           "email": ["1@a.io", "2@a.io", "3@b.io", "4@b.io"],
                                           "job_title": ["x"] * 4}))
        ws.write("segments", pd.DataFrame({"company_id": ["b"], "segment": ["gone_quiet"]}))
        plan_of = ws.read("companies").set_index("company_id")["plan"]
        first = plan_of.index[:3].tolist()
        plans, note = company_attribute(ws, "plan", first)
        assert plans.tolist() == plan_of.loc[first].tolist() and note == "'plan' from companies"
        # a: DEV 1, PM 1 -> the tie goes to PM (first in PM, GC, CSO, CFO, CEO, DEV, OTHER); b: PM 1, CFO 1 -> PM;
        # c has no contact
        per, _ = company_attribute(ws, "persona", ["a", "b", "c"])
        assert per.tolist()[:2] == ["PM", "PM"] and pd.isna(per.iloc[2])
        seg, note = company_attribute(ws, "gone_quiet", ["a", "b"])
        assert seg.tolist() == ["not in", "in"] and "after assignment" in note
        with pytest.raises(MofInputError, match="no column, persona or segment named 'mood'"):
            company_attribute(ws, "mood", ["a"])


# ------------------------------------------------------------------------------ guardrails
def _events(n_c, x_c, n_t, x_t, kind="unsubscribe"):
    """email_events of one message per contact: ``n`` sent, ``x`` with ``kind`` per arm (company = contact)."""
    rows = []
    for arm, n, x in (("control", n_c, x_c), ("treatment", n_t, x_t)):
        for i in range(n):
            cid = f"{arm[0]}{i}"
            rows.append((f"m{cid}", cid, cid, "sent"))
            if i < x:
                rows.append((f"m{cid}", cid, cid, kind))
    return pd.DataFrame(rows, columns=["message_id", "contact_id", "company_id", "event"])


def test_guardrails_against_an_emailed_control():
    ev = _events(1000, 10, 1000, 30)
    units = pd.DataFrame({"company_id": [f"c{i}" for i in range(1000)] + [f"t{i}" for i in range(1000)],
                          "arm": ["control"] * 1000 + ["treatment"] * 1000, "y": [0, 1] * 1000})
    r = readout(units, "arm", "y", "control", email_events=ev)
    g = r.guardrails
    assert g.comparison == "control" and g.status == "breached" and g.breached == (("unsubscribe_rate", "treatment"),)
    direct = guardrails(ev.assign(arm=np.where(ev["company_id"].str[0] == "c", "control", "treatment")),
                        control="control")
    pd.testing.assert_frame_equal(g.summary, direct.summary)
    out = r.to_dict()["guardrails"]
    assert out["status"] == "breached" and out["comparison"] == "control"
    assert "GUARDRAIL BREACHED (each arm vs control 'control' per recipient" in str(r)
    assert r.guardrail_status == "breached"


def test_guardrails_against_thresholds_when_the_control_is_never_emailed():
    ev = _events(0, 0, 1000, 20)  # 2% unsubscribes per message; the holdout gets no email
    bounces = _events(0, 0, 1000, 40, "bounce")
    ev = pd.concat([ev, bounces[bounces["event"] == "bounce"]])  # 40 bounces of the same 1,000 messages
    units = pd.DataFrame({"company_id": [f"c{i}" for i in range(300)] + [f"t{i}" for i in range(1000)],
                          "arm": ["holdout"] * 300 + ["email"] * 1000, "y": 0})
    r = readout(units, "arm", "y", "holdout", email_events=ev)
    g = r.guardrails
    assert g.comparison == "thresholds" and g.unit == "message_id"
    s = g.summary.set_index("guardrail")
    # unsubscribe: 20 of 1,000 vs 1%: exact one-sided p = P(Bin(1000, 0.01) >= 20)
    assert s.loc["unsubscribe_rate", "p_value"] == pytest.approx(stats.binom.sf(19, 1000, 0.01), rel=1e-9)
    assert s.loc["unsubscribe_rate", "status"] == "breached"
    # bounce: 4% vs the 5% limit: ok; complaints: none, ok
    assert s.loc["bounce_rate", "rate"] == 0.04 and s.loc["bounce_rate", "status"] == "ok"
    assert s.loc["complaint_rate", "status"] == "ok"
    # the Clopper-Pearson lower bound is above the limit exactly when the test rejects
    assert (s["rate_lower"] > s["threshold"]).tolist() == (s["p_value"] < 0.05).tolist()
    assert "vs absolute thresholds" in g.describe() and "'holdout' has no email events" in g.describe()
    assert r.to_dict()["guardrails"]["thresholds"] == {"unsubscribe_rate": 0.01, "complaint_rate": 0.003,
                                                       "bounce_rate": 0.05}
    empty = readout(units, "arm", "y", "holdout", email_events=ev.iloc[:0])
    assert empty.guardrails is None and "no email events: no guardrails" in empty.warnings


def test_threshold_test_level_and_power_are_exact():
    from mof_experiments.stats import threshold_sample_size, threshold_test
    from mof_experiments.stats.studies import threshold_flag_probability
    from statsmodels.stats.proportion import binom_test

    # the exact probability is the sum of the binomial pmf over the counts threshold_test flags
    n, limit = 300, 0.01
    k = np.arange(n + 1)
    p = threshold_test(k, np.full(n + 1, n), limit)[0]
    assert p[7] == pytest.approx(binom_test(7, n, limit, alternative="larger"))
    for p_true in (limit, 0.02, 0.03):
        assert threshold_flag_probability(n, p_true, limit) == pytest.approx(
            stats.binom.pmf(k, n, p_true)[p < 0.05].sum(), abs=1e-12)
    for limit in (0.003, 0.01, 0.05):  # the default thresholds: level <= 5%, power near 90% at the planned size
        m = threshold_sample_size(limit)
        assert threshold_flag_probability(m, limit, limit) <= 0.05
        assert threshold_flag_probability(m, 2 * limit, limit) >= 0.88


# ------------------------------------------------------------------------------ the simulator, end to end
@pytest.mark.slow
def test_the_simulated_experiment_read_out_every_way(sim2000_path, tmp_path):
    path = copy_workspace(sim2000_path, tmp_path)
    with Workspace(path, read_only=True) as ws:
        x = experiment_data(ws, "mof_email_2026", as_of=resolve_as_of(ws, None))
    # the holdout is never emailed: every email event of the experiment belongs to the email arm
    assert set(x.email_events["arm"]) == {"email"} and len(x.email_events) > 0
    r = readout(x.complete, "arm", "converted", "holdout", weights=x.weights, sequential=True, bayesian=True,
                email_events=x.email_events)
    assert r.guardrails.comparison == "thresholds"
    # the daily path and the readout agree at the last look (same n, same tuning)
    p = experiment_path(x, "holdout")
    last = p.final().iloc[0]
    row = r.summary.set_index("arm").loc["email"]
    assert (last["n"], last["n_control"]) == (row["n"], r.summary.set_index("arm").loc["holdout", "n"])
    assert (last["seq_ci_low"], last["seq_ci_high"]) == pytest.approx((row["seq_ci_low"], row["seq_ci_high"]))
    # a look at day d holds the companies whose window closed by the end of day d
    known = x.complete["assigned_at"] + pd.Timedelta(days=x.window_days)
    look = p.summary.iloc[len(p.summary) // 2]
    end = pd.Timestamp(look["look"]).tz_localize("UTC") + pd.Timedelta(days=1)
    assert look["n"] + look["n_control"] == int((known < end).sum())
    # the command line gives the same numbers
    q = run_mof("experiment", "outcomes", "mof_email_2026", "--workspace", str(path))
    assert q.returncode == 0, q.stderr
    q = run_mof("experiment", "readout", "workspace:experiment_outcomes", "--arm", "arm", "--outcome", "converted",
                "--control", "holdout", "--sequential", "--bayesian", "--guardrails", "--by", "plan", "--json",
                "--workspace", str(path))
    assert q.returncode == 0, q.stderr
    out = json.loads(q.stdout)
    email = next(a for a in out["arms"] if a["arm"] == "email")["outcomes"]["converted"]
    assert email["seq_ci_low"] == pytest.approx(row["seq_ci_low"]) and email["prob_beat_control"] == pytest.approx(
        row["prob_beat_control"])
    assert out["guardrails"]["status"] == r.guardrails.status and out["guardrails"]["comparison"] == "thresholds"
    assert out["breakdowns"][0]["by"] == "plan" and "note: --by plan: 'plan' from companies" in q.stderr


def test_guardrails_count_only_email_sent_after_a_companys_assignment():
    ev = _events(100, 0, 100, 0).assign(ts=pd.Timestamp("2026-03-01", tz="UTC"))
    early = ev[ev["event"] == "sent"].head(50).assign(event="unsubscribe", ts=pd.Timestamp("2026-01-01", tz="UTC"))
    units = pd.DataFrame({"company_id": [f"c{i}" for i in range(100)] + [f"t{i}" for i in range(100)],
                          "arm": ["control"] * 100 + ["treatment"] * 100, "y": [0, 1] * 100,
                          "assigned_at": pd.Timestamp("2026-02-01", tz="UTC")})
    s = readout(units, "arm", "y", "control", email_events=pd.concat([ev, early])).guardrails.summary
    assert s.loc[s["guardrail"] == "unsubscribe_rate", "events"].tolist() == [0, 0]  # January's are not the test's
    s = readout(units.drop(columns="assigned_at"), "arm", "y", "control",
                email_events=pd.concat([ev, early])).guardrails.summary
    assert s.loc[s["guardrail"] == "unsubscribe_rate", "events"].tolist() == [50, 0]


def test_what_the_readout_did_not_compute_or_cap_is_said_plainly():
    df = _ab(n_c=60, n_t=1)
    r = readout(df, "arm", ["y", "spend"], "control", bayesian=True)
    assert set(r.bayesian_prior) == {"y"}            # spend: no posterior, so no prior to state
    assert "prior None" not in str(r) and "spend: no Bayesian readout (arm 'treatment' has fewer than 2 units)" in r.warnings
    with pytest.raises(MofConfigError, match=r"^--winsorize must be between 0 and 1 \(exclusive\), got '1.5'"):
        readout(df, "arm", "spend", "control", winsorize={"*": "1.5"})   # the command line's bare `--winsorize 1.5`
    only_rates = readout(df, "arm", "y", "control", winsorize=0.99)
    assert only_rates.winsorized is None
    assert only_rates.warnings == ("--winsorize: nothing capped: every outcome is a rate (y); "
                                   "winsorizing applies to means",)


def test_a_workspace_outcomes_table_is_read_out_on_the_companies_whose_window_is_complete(tmp_path):
    # `mof experiment outcomes --as-of` mid-experiment writes companies whose 30-day window is still
    # open (converted=0 so far, complete=False); the notebook reads x.complete, so must the command
    df = _ab(n_c=200, n_t=200, seed=3)
    df["complete"] = np.arange(len(df)) % 4 != 0
    df.loc[~df["complete"], "y"] = 0                     # censored: not converted *yet*
    with Workspace(tmp_path / "w.duckdb") as ws:
        ws.write("experiment_outcomes", df)
    p = run_mof("experiment", "readout", "workspace:experiment_outcomes", "--arm", "arm", "--outcome", "y",
                "--control", "control", "--json", "--workspace", str(tmp_path / "w.duckdb"))
    assert p.returncode == 0, p.stderr
    arms = {a["arm"]: a["outcomes"]["y"] for a in json.loads(p.stdout)["arms"]}
    expected = readout(df[df["complete"]], "arm", "y", "control").summary.set_index("arm")
    assert arms["control"]["n"] == 150 and arms["treatment"]["n"] == 150
    assert arms["treatment"]["lift"] == pytest.approx(expected.loc["treatment", "lift"])
    assert "100 companies whose window is not complete" in p.stderr


def test_email_events_of_no_read_out_unit_give_a_warning_not_a_traceback():
    units = _ab(n_c=50, n_t=50)
    foreign = pd.DataFrame({"message_id": ["m1", "m1"], "contact_id": ["x1", "x1"], "company_id": ["zz1", "zz1"],
                            "event": ["sent", "unsubscribe"], "ts": pd.Timestamp("2026-01-02", tz="UTC")})
    r = readout(units, "arm", "y", "control", email_events=foreign)
    assert r.guardrails is None
    assert r.warnings == ("no email events of the read-out units (2 events, none of them of a company_id in the "
                          "data): no guardrails",)
    asg = units[["company_id", "arm"]]
    with pytest.raises(MofInputError, match=r"^email_events: column 'company_id': no event belongs to a company of the assignments \(2 events\) \(e.g. row 1: 'zz1'\)$"):
        guardrails(foreign, control="control", assignments=asg, source="email_events")


def test_expected_n_alone_implies_the_sequential_readout(tmp_path):
    f = tmp_path / "ab.csv"
    _ab().to_csv(f, index=False)
    args = ("experiment", "readout", str(f), "--arm", "arm", "--outcome", "y", "--control", "control", "--json")
    alone = json.loads(run_mof(*args, "--expected-n", "5000").stdout)
    both = json.loads(run_mof(*args, "--expected-n", "5000", "--sequential").stdout)
    assert alone["sequential"]["n_expected"] == 5000
    assert alone["arms"][1]["outcomes"]["y"]["seq_ci_low"] == both["arms"][1]["outcomes"]["y"]["seq_ci_low"]
