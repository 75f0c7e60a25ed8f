"""Assignment, global holdout, readout statistics, SRM, power, CUPED, bad input, simulation studies."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.experiments import (GLOBAL_HOLDOUT_SALT, assign, assign_global_holdout, assign_workspace,
                                         compare_proportions, conversion_outcomes, cuped, excluded_companies,
                                         hash_unit, mde_proportion, parse_arms, pre_assignment_features, readout,
                                         sample_size, srm_test)
from mof_experiments.schema import GLOBAL_HOLDOUT_EXPERIMENT
from mof_experiments.workspace import Workspace

UTC = "UTC"


def _ts(s):
    return pd.Timestamp(s, tz=UTC)


@pytest.fixture()
def small_ws(tmp_path):
    """A workspace with 2,000 companies (no events)."""
    ws = Workspace(tmp_path / "mof.duckdb")
    ids = [f"co_{i:05d}" for i in range(2000)]
    plans = np.array(["free", "startup", "growth", "enterprise"])[np.arange(2000) % 4]
    ws.write("companies", pd.DataFrame({"company_id": ids, "signup_at": _ts("2026-01-01"), "plan": plans}))
    yield ws
    ws.close()


# ------------------------------------------------------------------------------ hashing
def test_hash_unit_is_the_documented_sha256_rule():
    expected = int(hashlib.sha256(b"mof-v1:exp:co_1").hexdigest()[:16], 16) / 2**64
    assert hash_unit(["co_1"], "exp")[0] == expected


def test_assign_shares_follow_weights_and_are_order_independent():
    ids = [f"c{i}" for i in range(20_000)]
    a = assign(ids, "exp", "control=0.2,treatment=0.8")
    share = (a["arm"] == "control").mean()
    # binomial sd at n=20,000, p=0.2 is 0.0028: 4 sd
    assert abs(share - 0.2) < 0.0115
    b = assign(ids[::-1][:500], "exp", {"control": 1, "treatment": 4})  # weights normalized, other order
    merged = b.merge(a, on="company_id")
    assert (merged["arm_x"] == merged["arm_y"]).all()


def test_assignment_depends_on_experiment_id():
    ids = [f"c{i}" for i in range(2000)]
    a = assign(ids, "exp_a", "control=0.5,treatment=0.5")["arm"]
    b = assign(ids, "exp_b", "control=0.5,treatment=0.5")["arm"]
    agree = (a == b).mean()
    assert 0.45 < agree < 0.55  # independent coin flips agree half the time


def test_stratified_assignment_balances_each_stratum_to_one_unit():
    ids = [f"c{i}" for i in range(1003)]
    strata = np.array(["a", "b", "c"])[np.arange(1003) % 3]
    a = assign(ids, "exp", "control=0.3,treatment=0.7", strata=strata)
    for s, g in a.groupby("stratum"):
        assert abs((g["arm"] == "control").sum() - 0.3 * len(g)) <= 1
    again = assign(ids, "exp", "control=0.3,treatment=0.7", strata=strata)
    assert a["arm"].equals(again["arm"])


def test_parse_arms_rejects_bad_specs():
    with pytest.raises(MofConfigError, match="NAME=WEIGHT"):
        parse_arms("control,treatment=0.8")
    with pytest.raises(MofConfigError, match="positive weight"):
        parse_arms("control=0,treatment=1")


# ------------------------------------------------------------------------------ workspace
def test_rerun_keeps_arms_and_appends_only_new_companies(small_ws):
    r1 = assign_workspace(small_ws, "exp1", "control=0.2,treatment=0.8",
                          company_ids=[f"co_{i:05d}" for i in range(1000)])
    first = small_ws.read("assignments")
    r2 = assign_workspace(small_ws, "exp1", "control=0.2,treatment=0.8")
    both = small_ws.read("assignments")
    assert (r1.new, r2.new, r2.total) == (1000, 1000, 2000)
    merged = first.merge(both, on=["experiment_id", "company_id"])
    assert len(merged) == 1000 and (merged["arm_x"] == merged["arm_y"]).all()
    r3 = assign_workspace(small_ws, "exp1", "control=0.2,treatment=0.8")
    assert r3.new == 0 and small_ws.count("assignments") == 2000
    arms = small_ws.read("experiment_arms")
    assert set(zip(arms["arm"], arms["is_control"])) == {("control", True), ("treatment", False)}


def test_changing_the_arms_of_a_registered_experiment_is_an_error(small_ws):
    assign_workspace(small_ws, "exp1", "control=0.2,treatment=0.8")
    with pytest.raises(MofConfigError, match="already registered"):
        assign_workspace(small_ws, "exp1", "control=0.5,treatment=0.5")


def test_global_holdout_is_excluded_from_experiments_and_from_sends(small_ws):
    r = assign_workspace(small_ws, "exp1", "holdout=0.2,email=0.8", global_holdout=0.1)
    a = small_ws.read("assignments")
    gh = a[a["experiment_id"] == GLOBAL_HOLDOUT_EXPERIMENT]
    assert len(gh) == 2000  # every company has a decision (holdout or eligible)
    held = set(gh.loc[gh["arm"] == "holdout", "company_id"])
    assert 0.08 < len(held) / 2000 < 0.12
    exp = a[a["experiment_id"] == "exp1"]
    assert not held & set(exp["company_id"]) and r.total == 2000 - len(held)
    control = set(exp.loc[exp["arm"] == "holdout", "company_id"])
    assert excluded_companies(small_ws, "exp1") == held | control
    # the holdout uses its own salt: the same companies whatever the experiment
    expect = assign_global_holdout([f"co_{i:05d}" for i in range(2000)], 0.1)
    assert held == set(expect.loc[expect["arm"] == "holdout", "company_id"])
    # ... and the decision is the documented rule with that salt: u(salt, "global_holdout", id) < share
    ids = [f"co_{i:05d}" for i in range(2000)]
    u = [int(hashlib.sha256(f"{GLOBAL_HOLDOUT_SALT}:{GLOBAL_HOLDOUT_EXPERIMENT}:{c}".encode()).hexdigest()[:16], 16)
         / 2**64 for c in ids]
    assert held == {c for c, x in zip(ids, u) if x < 0.1}
    # a later experiment without --global-holdout still skips held-out companies
    assign_workspace(small_ws, "exp2", "control=0.5,b=0.5")
    a2 = small_ws.read("assignments")
    assert not held & set(a2.loc[a2["experiment_id"] == "exp2", "company_id"])
    with pytest.raises(MofConfigError, match="already set at 0.1"):
        assign_workspace(small_ws, "exp3", "control=0.5,b=0.5", global_holdout=0.2)


def test_a_new_global_holdout_says_which_running_experiments_it_takes_companies_from(small_ws):
    first = assign_workspace(small_ws, "running", "holdout=0.3,email=0.7")
    assert first.warnings() == [] and first.global_holdout_taken == {}
    r = assign_workspace(small_ws, "spring", "control=0.2,treatment=0.8", global_holdout=0.05)
    a = small_ws.read("assignments")
    held = set(a.loc[(a["experiment_id"] == GLOBAL_HOLDOUT_EXPERIMENT) & (a["arm"] == "holdout"), "company_id"])
    run = a[(a["experiment_id"] == "running") & a["company_id"].isin(held)]
    expect = {"running": {arm: int(n) for arm, n in run["arm"].value_counts().items()}}
    assert r.global_holdout_taken == expect and sum(expect["running"].values()) == len(held) > 50
    (w,) = r.warnings()
    assert f"takes {len(held):,} companies" in w and f"email {expect['running']['email']:,}" in w
    # decided once: a later run takes no one new and says nothing
    again = assign_workspace(small_ws, "summer", "control=0.5,b=0.5", global_holdout=0.05)
    assert again.warnings() == []


def test_stratify_by_a_companies_column(small_ws):
    assign_workspace(small_ws, "exp1", "control=0.25,treatment=0.75", stratify="plan")
    a = small_ws.read("assignments").merge(small_ws.read("companies"), on="company_id")
    for plan, g in a.groupby("plan"):
        assert abs((g["arm"] == "control").sum() - 0.25 * len(g)) <= 1
        assert (g["stratum"] == plan).all()


def test_cli_assign(small_ws, capsys):
    from mof_experiments.cli import main

    path = str(small_ws.path)
    small_ws.close()
    assert main(["assign", "exp9", "--arms", "control=0.2,treatment=0.8", "--global-holdout", "0.05",
                 "--workspace", path]) == 0
    out = capsys.readouterr().out
    assert "exp9:" in out and "global holdout" in out
    assert main(["assign", "exp9", "--arms", "a=0.5,b=0.5", "--workspace", path]) == 2
    assert "name one with --control" in capsys.readouterr().err


# ------------------------------------------------------------------------------ statistics
def test_rates_match_closed_form_wilson_newcomb_and_score_test():
    x1, n1, x0, n0, z = 30, 200, 20, 210, stats.norm.ppf(0.975)

    def wilson(x, n):
        p = x / n
        c = (p + z * z / (2 * n)) / (1 + z * z / n)
        h = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return c - h, c + h

    r = compare_proportions([x1], [n1], [x0], [n0]).row(0)
    (l1, u1), (l0, u0) = wilson(x1, n1), wilson(x0, n0)
    assert r["ci_low"] == pytest.approx(l1, abs=1e-12) and r["ci_high"] == pytest.approx(u1, abs=1e-12)
    d = x1 / n1 - x0 / n0
    # Newcomb (1998) method 10
    assert r["lift_ci_low"] == pytest.approx(d - math.sqrt((x1 / n1 - l1) ** 2 + (u0 - x0 / n0) ** 2), abs=1e-12)
    assert r["lift_ci_high"] == pytest.approx(d + math.sqrt((u1 - x1 / n1) ** 2 + (x0 / n0 - l0) ** 2), abs=1e-12)
    # score test of p1 = p0 (Miettinen-Nurminen variance, with its N / (N - 1) factor)
    p, N = (x1 + x0) / (n1 + n0), n1 + n0
    zs = d / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n0) * N / (N - 1))
    assert r["p_value"] == pytest.approx(2 * stats.norm.sf(abs(zs)), rel=1e-9)


def _frame(rows):
    return pd.DataFrame(rows, columns=["arm", "y"])


def test_readout_means_match_welch_and_holm():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"arm": np.repeat(["c", "a", "b"], 300),
                       "y": np.r_[rng.normal(10, 2, 300), rng.normal(10.5, 2, 300), rng.normal(10.1, 3, 300)]})
    r = readout(df, "arm", "y", "c")
    s = r.summary.set_index("arm")
    c = df.loc[df.arm == "c", "y"]
    for arm in ("a", "b"):
        g = df.loc[df.arm == arm, "y"]
        assert s.loc[arm, "p_value"] == pytest.approx(stats.ttest_ind(g, c, equal_var=False).pvalue, rel=1e-9)
        assert s.loc[arm, "lift"] == pytest.approx(g.mean() - c.mean())
    p = np.sort(s.loc[["a", "b"], "p_value"].to_numpy())
    holm = [min(1, 2 * p[0]), min(1, max(2 * p[0], p[1]))]
    assert np.sort(s.loc[["a", "b"], "p_value_adj"].to_numpy()) == pytest.approx(holm)
    assert s.loc["a", "metric"] == "mean" and pd.isna(s.loc["c", "lift"])
    assert "<table" in r._repr_html_() and "SRM" in str(r) and r.srm.status == "ok"
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.control = "a"


def test_cuped_reduces_variance_without_bias():
    rng = np.random.default_rng(1)
    n = 4000
    x = rng.normal(50, 10, n)
    arm = np.where(rng.random(n) < 0.5, "t", "c")
    y = x + rng.normal(0, 5, n) + np.where(arm == "t", 1.0, 0.0)
    df = pd.DataFrame({"arm": arm, "y": y, "pre": x})
    plain = readout(df, "arm", "y", "c").summary.set_index("arm").loc["t"]
    adj = readout(df, "arm", "y", "c", covariates={"y": "pre"}).summary.set_index("arm").loc["t"]
    _, theta = cuped(y, x)
    assert theta == pytest.approx(1.0, abs=0.05)
    width = lambda r: r["lift_ci_high"] - r["lift_ci_low"]  # noqa: E731
    # var(y) = 125 vs var(adjusted) = 25: the interval shrinks by about sqrt(5)
    assert width(adj) < 0.5 * width(plain)
    assert adj["lift_ci_low"] < 1.0 < adj["lift_ci_high"]
    assert adj["covariate"] == "pre"


def test_srm_flags_a_52_48_split_at_20000():
    r = srm_test({"a": 10_400, "b": 9_600})
    assert r.status == "blocking" and r.p_value < 1e-7
    ok = srm_test({"a": 10_040, "b": 9_960})
    assert ok.status == "ok"
    # design weights 20/80: 4,000/16,000 is exact
    assert srm_test({"c": 4000, "t": 16000}, {"c": 0.2, "t": 0.8}).p_value == pytest.approx(1.0)
    # warning tier: p between 0.001 and 0.01 (chi2 = 8.0 -> p = 0.0047)
    assert srm_test({"a": 10_200, "b": 9_800}).status == "warning"
    # an arm of the design that received nobody
    empty = srm_test({"c": 5000, "t": 5000}, {"c": 1, "t": 1, "u": 1})
    assert empty.status == "blocking" and empty.summary.set_index("arm").loc["u", "n"] == 0


def test_sample_size_and_mde_are_inverse():
    s = sample_size(0.10, 0.02)
    h = 2 * math.asin(math.sqrt(0.12)) - 2 * math.asin(math.sqrt(0.10))
    # var(2 asin sqrt(p_hat)) = 1/n per arm, so the difference has variance 2/n
    n = 2 * ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / h) ** 2
    assert s.n_treatment == math.ceil(n) == s.n_control
    assert mde_proportion(0.10, s.n_treatment, s.n_control) == pytest.approx(0.02, abs=1e-4)


# ------------------------------------------------------------------------------ bad input
@pytest.fixture()
def ab():
    return pd.DataFrame({"arm": ["c", "t"] * 50, "y": [0, 1, 1, 0] * 25, "v": np.arange(100.0)})


def test_missing_arm_column_is_one_line_error(ab):
    with pytest.raises(MofInputError, match=r"ab.csv: missing column\(s\) grp \(found: arm, y, v\)"):
        readout(ab, "grp", "y", "c", source="ab.csv")


def test_control_value_absent_is_one_line_error(ab):
    with pytest.raises(MofInputError, match="control value 'ctl' not found"):
        readout(ab, "arm", "y", "ctl")


def test_non_binary_outcome_for_rate_is_error(ab):
    with pytest.raises(MofInputError, match=r"column 'v': a rate needs a binary \(0/1\) outcome \(e.g. row 3: 2.0\)"):
        readout(ab, "arm", "v:rate", "c")


def test_nan_outcome_is_error(ab):
    bad = ab.assign(y=ab["y"].astype(float).where(ab.index != 7))
    with pytest.raises(MofInputError, match="column 'y': missing value .* row 8"):
        readout(bad, "arm", "y", "c")


def test_nan_arm_is_error(ab):
    bad = ab.assign(arm=ab["arm"].where(ab.index != 4))
    with pytest.raises(MofInputError, match="column .arm.: missing value .* row 5"):
        readout(bad, "arm", "y", "c")


# ------------------------------------------------------------------------------ simulation studies
@pytest.mark.slow
def test_ci_coverage_over_1000_simulated_ab_tests():
    rng = np.random.default_rng(2026)
    runs, n, p0, p1 = 1000, 2000, 0.10, 0.13
    x1, x0 = rng.binomial(n, p1, runs), rng.binomial(n, p0, runs)
    r = compare_proportions(x1, np.full(runs, n), x0, np.full(runs, n))
    covered = (r.lift_ci_low <= p1 - p0) & (p1 - p0 <= r.lift_ci_high)
    assert 0.93 <= covered.mean() <= 0.97, covered.mean()
    # and the rejection rate matches the power computed by statsmodels (Cohen's h, normal approximation)
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    power = NormalIndPower().power(proportion_effectsize(p1, p0), nobs1=n, alpha=0.05, ratio=1.0)
    assert abs((r.p_value < 0.05).mean() - power) < 0.035  # 3 binomial sd at 1,000 runs


@pytest.mark.slow
def test_false_positive_rate_over_1000_aa_tests():
    rng = np.random.default_rng(7)
    runs, n, p = 1000, 2000, 0.10
    x1, x0 = rng.binomial(n, p, runs), rng.binomial(n, p, runs)
    fpr = (compare_proportions(x1, np.full(runs, n), x0, np.full(runs, n)).p_value < 0.05).mean()
    assert 0.035 <= fpr <= 0.065, fpr


@pytest.mark.slow
def test_srm_detects_injected_52_48_split_in_most_runs():
    rng = np.random.default_rng(3)
    a = rng.binomial(20_000, 0.52, 200)
    flagged = [srm_test({"a": int(k), "b": 20_000 - int(k)}).status != "ok" for k in a]
    assert np.mean(flagged) > 0.99


# ------------------------------------------------------------------------------ hillstrom
def test_hillstrom_readout_reproduces_published_rates(hillstrom_csv, capsys):
    from mof_experiments.cli import main

    assert main(["experiment", "readout", str(hillstrom_csv), "--arm", "segment", "--outcome", "visit",
                 "--outcome", "conversion", "--control", "No E-Mail", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    arms = {a["arm"]: a for a in out["arms"]}
    got = {k: (round(v["outcomes"]["visit"]["rate"], 4), round(v["outcomes"]["conversion"]["rate"], 4))
           for k, v in arms.items()}
    # published: Hillstrom (2008) challenge; e.g. Radcliffe & Surry (2011), scikit-uplift docs
    assert got == {"Mens E-Mail": (0.1828, 0.0125), "Womens E-Mail": (0.1514, 0.0088),
                   "No E-Mail": (0.1062, 0.0057)}
    assert arms["Mens E-Mail"]["n"] == 21307 and arms["No E-Mail"]["n"] == 21306
    assert out["srm"]["status"] == "ok" and out["srm"]["p_value"] == pytest.approx(0.90, abs=0.01)
    lift = arms["Womens E-Mail"]["outcomes"]["visit"]
    assert lift["lift"] == pytest.approx(0.1514 - 0.1062, abs=1e-3)
    assert lift["lift_ci_low"] < lift["lift"] < lift["lift_ci_high"]
    assert lift["p_value"] < 1e-10


def test_cli_readout_bad_control_is_one_line(hillstrom_csv, capsys):
    from mof_experiments.cli import main

    assert main(["experiment", "readout", str(hillstrom_csv), "--arm", "segment", "--outcome", "visit",
                 "--control", "Nobody"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "control value 'Nobody' not found" in err


def test_readout_from_workspace_table(small_ws, capsys):
    from mof_experiments.cli import main

    assign_workspace(small_ws, "exp1", "control=0.5,treatment=0.5")
    a = small_ws.read("assignments")
    a["converted"] = (np.arange(len(a)) % 7 == 0).astype(int)
    small_ws.write("exp1_outcomes", a.drop(columns=["assigned_at"]))
    path = str(small_ws.path)
    small_ws.close()
    assert main(["experiment", "readout", "workspace:exp1_outcomes", "--arm", "arm", "--outcome", "converted",
                 "--control", "control", "--json", "--weights", "control=1,treatment=1", "--workspace", path]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sum(x["n"] for x in out["arms"]) == 2000 and out["srm"]["weights_assumed"] is False


# ------------------------------------------------------------------------------ experiment data
@pytest.fixture()
def events_ws(tmp_path):
    ws = Workspace(tmp_path / "ev.duckdb")
    ws.write("companies", pd.DataFrame({"company_id": ["a", "b"], "signup_at": [_ts("2026-01-01"), _ts("2026-01-05")]}))
    ev = pd.DataFrame([
        ("a", "2026-01-02 10:00", "sandbox", "/v1/x", 200),
        ("a", "2026-01-02 11:00", "sandbox", "/v1/y", 401),
        ("a", "2026-01-03 09:00", "sandbox", "/v1/x", 500),
        ("a", "2026-01-04 12:00", "production", "/v1/x", 200),  # after assignment
        ("b", "2026-01-06 08:00", "sandbox", "/v1/x", 403),
        ("b", "2026-03-01 08:00", "production", "/v1/x", 200),  # after the 30-day window
    ], columns=["company_id", "ts", "environment", "endpoint", "status_code"])
    ev["ts"] = pd.to_datetime(ev["ts"]).dt.tz_localize(UTC)
    ws.write("api_events", ev)
    ws.write("contacts", pd.DataFrame({"contact_id": ["k1", "k2", "k3"], "company_id": ["a", "a", "b"],
                                       "email": ["p@a.io", "d@a.io", "c@b.io"],
                                       "job_title": ["Senior Product Manager", "Backend Engineer II", "CFO"],
                                       "unsubscribed_at": [pd.NaT, _ts("2026-01-01"), pd.NaT]}))
    ws.write("assignments", pd.DataFrame({"experiment_id": "e", "company_id": ["a", "b"], "arm": ["email", "holdout"],
                                          "assigned_at": [_ts("2026-01-04"), _ts("2026-01-07")], "stratum": None}))
    ws.set_meta(simulated_end="2026-06-01T00:00:00+00:00")
    yield ws
    ws.close()


def test_pre_assignment_features_use_only_events_before_assignment(events_ws):
    f = pre_assignment_features(events_ws, "e", as_of=_ts("2026-06-01")).set_index("company_id")
    a = f.loc["a"]
    assert (a["calls"], a["errors"], a["distinct_endpoints"], a["active_days"], a["production_calls"]) == (3, 2, 2, 2, 0)
    assert a["error_rate"] == pytest.approx(2 / 3) and a["auth_error_share"] == pytest.approx(0.5)
    assert a["days_since_signup"] == pytest.approx(3.0)
    assert a["days_since_first_call"] == pytest.approx(38 / 24)  # 2026-01-02 10:00 -> 01-04 00:00
    assert (a["n_contacts"], a["n_product"], a["n_engineering"], a["n_unsubscribed"]) == (2, 1, 1, 1)
    b = f.loc["b"]
    assert (b["calls"], b["auth_error_share"], b["n_finance"]) == (1, 1.0, 1)


def test_conversion_outcomes_count_first_production_within_window(events_ws):
    o = conversion_outcomes(events_ws, "e", as_of=_ts("2026-06-01"), window_days=30).set_index("company_id")
    assert o.loc["a", "converted"] == 1 and o.loc["b", "converted"] == 0
    assert o["complete"].all()
    # as of 2026-01-05 only company a (assigned 01-04) is in the experiment, its window still open
    early = conversion_outcomes(events_ws, "e", as_of=_ts("2026-01-05"), window_days=30)
    assert early["company_id"].tolist() == ["a"] and early["converted"].tolist() == [1]
    assert not early["complete"].any()
    assert pre_assignment_features(events_ws, "e", as_of=_ts("2026-01-05"))["company_id"].tolist() == ["a"]


def test_cli_outcomes_then_readout_uses_registered_weights(events_ws, capsys):
    from mof_experiments.cli import main

    events_ws.write("experiment_arms", pd.DataFrame({"experiment_id": "e", "arm": ["holdout", "email"],
                                                     "weight": [0.2, 0.8], "is_control": [True, False]}))
    path = str(events_ws.path)
    events_ws.close()
    assert main(["experiment", "outcomes", "e", "--workspace", path]) == 0
    assert "wrote 2 rows to experiment_outcomes" in capsys.readouterr().out
    assert main(["experiment", "readout", "workspace:experiment_outcomes", "--arm", "arm", "--outcome", "converted",
                 "--control", "holdout", "--json", "--workspace", path]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["srm"]["weights_assumed"] is False and out["srm"]["expected"] == {"holdout": 0.4, "email": 1.6}
    email = next(a for a in out["arms"] if a["arm"] == "email")["outcomes"]["converted"]
    assert email["rate"] == 1.0 and email["low_data"] is True


def test_stage_filter_uses_the_funnel(small_ws):
    f = small_ws.read("companies")[["company_id"]].assign(stage=np.where(np.arange(2000) < 300, "sandbox", "signed_up"))
    small_ws.write("funnel", f)
    r = assign_workspace(small_ws, "exp_s", "control=0.5,treatment=0.5", stages=["sandbox"])
    assert r.total == 300
    with pytest.raises(MofConfigError, match="--stage 'prod' is not a stage"):
        assign_workspace(small_ws, "exp_s", "control=0.5,treatment=0.5", stages=["prod"])
