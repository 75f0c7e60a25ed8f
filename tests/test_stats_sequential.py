"""Confidence sequences: the boundary by hand, GrowthBook's published values, the band at each
look against a one-off computation, and the daily-peeking study (slow)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq, minimize_scalar

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.stats.sequential import (compare_sequential, mixture_boundary, mixture_rho, sequential_interval,
                                              sequential_path)
from mof_experiments.stats.studies import daily_experiment, peeking_study


def _x_root(alpha):
    """Root above 1 of x - log x = 1 - 2 log alpha, by bisection (not Lambert W)."""
    return brentq(lambda x: x - math.log(x) - 1 + 2 * math.log(alpha), 1.0 + 1e-12, 1e3)


# ------------------------------------------------------------------------------- the boundary
def test_boundary_by_hand():
    # t = 100, rho = 0.1: sqrt(2 * (1 + 1) / (10000 * 0.01) * log(sqrt(2) / 0.05))
    #   = sqrt(0.04 * log(28.28427)) = sqrt(0.04 * 3.342306) = 0.3656394
    assert mixture_boundary(100, 0.1, 0.05) == pytest.approx(0.3656394, abs=1e-7)
    assert mixture_boundary(0, 0.1) == np.inf


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.10])
@pytest.mark.parametrize("n_expected", [500, 20_000])
def test_rho_makes_the_band_narrowest_at_n_expected(alpha, n_expected):
    rho = mixture_rho(n_expected, alpha)
    best = minimize_scalar(lambda r: float(mixture_boundary(n_expected, r, alpha)), bounds=(1e-5, 1.0),
                           method="bounded", options={"xatol": 1e-10})
    assert rho == pytest.approx(best.x, rel=1e-4)
    # at t = n_expected the unit half-width is sqrt(x / t), x the root of x - log x = 1 - 2 log alpha
    x = _x_root(alpha)
    assert n_expected * rho**2 == pytest.approx(x - 1, rel=1e-9)
    assert mixture_boundary(n_expected, rho, alpha) == pytest.approx(math.sqrt(x / n_expected), rel=1e-9)


def test_rho_at_alpha_05_and_growthbooks_approximation():
    rho = mixture_rho(1000, 0.05)
    assert 1000 * rho**2 == pytest.approx(8.2120, abs=1e-4)
    assert mixture_boundary(1000, rho) * math.sqrt(1000) == pytest.approx(3.0351, abs=1e-4)  # vs 1.96 fixed
    # Waudby-Smith et al. eq. 161 / GrowthBook: N rho^2 = -2 log a + log(1 - 2 log a) = 7.936
    approx = math.sqrt((-2 * math.log(0.05) + math.log(1 - 2 * math.log(0.05))) / 1000)
    t = np.geomspace(10, 1e6, 500)
    ratio = mixture_boundary(t, approx) / mixture_boundary(t, rho)
    assert 0.998 < ratio.min() and ratio.max() < 1.016


def test_growthbook_published_sequential_intervals():
    # GrowthBook gbstats tests/frequentist/test_tests.py, TestSequentialTTest (relative lift,
    # rho from eq. 161 with their tuning parameter, s^2 = SE^2 * (n_A + n_B)).
    def gb_rho(n_tuning, alpha=0.05):
        return math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / n_tuning)

    def relative(ma, va, na, mb, vb, nb):
        return (mb - ma) / ma, math.sqrt(vb / (ma**2 * nb) + va * mb**2 / (ma**4 * na))

    # test_sequential_test_runs_prop: 1396/3000 vs 2422/3461, tuning 5000 -> ci (0.40098, 0.60675)
    ma, mb = 1396 / 3000, 2422 / 3461
    est, se = relative(ma, ma * (1 - ma), 3000, mb, mb * (1 - mb), 3461)
    lo, hi, _ = sequential_interval(est, se, 6461, rho=gb_rho(5000))
    assert (round(float(est), 5), round(float(se), 5)) == (0.50386, 0.03386)
    assert (round(float(lo), 5), round(float(hi), 5)) == (0.40098, 0.60675)
    # test_sequential_test_runs: means from sums and sums of squares, tuning 1000 -> (-0.55844, 1.56516)
    def mv(s, ss, n):
        return s / n, (ss - s**2 / n) / (n - 1)

    (ma, va), (mb, vb) = mv(1396.87, 52377.9767, 3000), mv(2422.7, 134698.29, 3461)
    est, se = relative(ma, va, 3000, mb, vb, 3461)
    lo, hi, p = sequential_interval(est, se, 6461, rho=gb_rho(1000))
    assert (round(float(lo), 5), round(float(hi), 5)) == (-0.55844, 1.56516)
    assert float(p) == 1.0  # GrowthBook's pValue=1


def test_band_excludes_zero_exactly_when_the_always_valid_p_is_below_alpha():
    rng = np.random.default_rng(4)
    lift = rng.normal(0, 0.03, 2000)
    se = rng.uniform(0.005, 0.02, 2000)
    t = rng.integers(100, 50_000, 2000)
    rho = mixture_rho(5000)
    lo, hi, p = sequential_interval(lift, se, t, rho=rho)
    excl = (lo > 0) | (hi < 0)
    assert excl.any() and (~excl).any()
    assert np.array_equal(excl, p < 0.05)
    assert np.all((p > 0) & (p <= 1))


# ---------------------------------------------------------------------------------- one look
def test_compare_sequential_by_hand():
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 0])  # 3 / 10
    y0 = np.array([1] + [0] * 11)  # 1 / 12
    r = compare_sequential(y, y0, n_expected=100)
    # variance with half a count added: p~ = 3.5 / 11 and 1.5 / 13
    v1, v0 = 3.5 / 11 * (7.5 / 11), 1.5 / 13 * (11.5 / 13)
    se = math.sqrt(v1 / 10 + v0 / 12)
    x = _x_root(0.05)
    r2 = (x - 1) / 100
    half = se * math.sqrt(22) * math.sqrt(2 * (22 * r2 + 1) / (22**2 * r2) * math.log(math.sqrt(22 * r2 + 1) / 0.05))
    assert r.metric == "rate" and r.lift == pytest.approx(0.3 - 1 / 12)
    assert (r.seq_ci_low, r.seq_ci_high) == pytest.approx((0.3 - 1 / 12 - half, 0.3 - 1 / 12 + half), abs=1e-12)
    assert r.low_data  # 10 and 12 units
    assert r.summary.loc[0, "events"] == 3 and r.summary.loc[0, "events_control"] == 1
    # means: sample variance ddof=1, no pseudo-count
    m = compare_sequential([1.0, 2.0, 4.0], [0.0, 1.0, 1.0, 2.0], n_expected=100, metric="mean")
    se = math.sqrt(np.var([1, 2, 4], ddof=1) / 3 + np.var([0, 1, 1, 2], ddof=1) / 4)
    assert m.seq_ci_high - m.lift == pytest.approx(se * math.sqrt(7) * float(mixture_boundary(7, mixture_rho(100))))


def test_no_events_in_either_arm_gives_a_band_not_a_point():
    r = compare_sequential(np.zeros(40), np.zeros(50), n_expected=1000)
    assert r.lift == 0 and r.seq_ci_low < 0 < r.seq_ci_high and r.seq_p_value == 1.0


def test_sequence_is_wider_than_the_fixed_interval_by_1_55_at_the_planned_size():
    rng = np.random.default_rng(0)
    y, y0 = rng.normal(1, 2, 5000), rng.normal(1, 2, 5000)
    r = compare_sequential(y, y0, n_expected=10_000, metric="mean")
    se = math.sqrt(y.var(ddof=1) / 5000 + y0.var(ddof=1) / 5000)
    assert (r.seq_ci_high - r.lift) / (1.959964 * se) == pytest.approx(3.03512 / 1.959964, rel=1e-4)


# ---------------------------------------------------------------------------- looks over time
def _frame(seed=1, n=2000, days=10):
    rng = np.random.default_rng(seed)
    df = daily_experiment(rng, n_units=n, days=days, base=0.2, lift=0.05)
    return df.assign(arm=np.where(rng.random(n) < 0.1, "treatment_b", df["arm"]))


def test_each_look_equals_a_one_off_computation_on_the_units_arrived_by_then():
    df = _frame()
    path = sequential_path(df, arm="arm", outcome="y", time="day", control="control", n_expected=3000)
    s = path.summary
    assert list(s["arm"].unique()) == ["treatment", "treatment_b"]
    assert s["look"].tolist()[:4] == [1, 1, 2, 2]  # looks in time order, arms inside a look
    for day in (1, 4, 10):
        sub = df[df["day"] <= day]
        for arm in ("treatment", "treatment_b"):
            one = compare_sequential(sub.loc[sub.arm == arm, "y"], sub.loc[sub.arm == "control", "y"], n_expected=3000)
            row = s[(s["look"] == day) & (s["arm"] == arm)].iloc[0]
            assert row["n"] == one.n and row["n_control"] == one.n_control
            assert (row["seq_ci_low"], row["seq_ci_high"], row["seq_p_value"]) == pytest.approx(
                (one.seq_ci_low, one.seq_ci_high, one.seq_p_value), abs=1e-12)


def test_fixed_horizon_columns_are_the_readouts_tests():
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    df = _frame()
    row = sequential_path(df, arm="arm", outcome="y", time="day", control="control",
                          n_expected=3000).final().iloc[0]
    t, c = df.loc[df.arm == "treatment", "y"], df.loc[df.arm == "control", "y"]
    lo, hi = confint_proportions_2indep(t.sum(), len(t), c.sum(), len(c), method="newcomb", compare="diff")
    p = test_proportions_2indep(t.sum(), len(t), c.sum(), len(c), method="score", compare="diff").pvalue
    assert (row["lift_ci_low"], row["lift_ci_high"], row["p_value"]) == pytest.approx((lo, hi, p), rel=1e-9)
    # means: Welch, as statsmodels CompareMeans
    rng = np.random.default_rng(2)
    dm = daily_experiment(rng, n_units=600, days=5, base=10.0, lift=1.0, metric="mean")
    row = sequential_path(dm, arm="arm", outcome="y", time="day", control="control", n_expected=600).final().iloc[0]
    cm = CompareMeans(DescrStatsW(dm.loc[dm.arm == "treatment", "y"].to_numpy()),
                      DescrStatsW(dm.loc[dm.arm == "control", "y"].to_numpy()))
    assert (row["lift_ci_low"], row["lift_ci_high"]) == pytest.approx(cm.tconfint_diff(usevar="unequal"), rel=1e-9)
    assert row["p_value"] == pytest.approx(cm.ttest_ind(usevar="unequal")[1], rel=1e-9)
    assert pd.isna(row["events"])


def test_daily_looks_from_timestamps_are_utc_days_including_empty_ones():
    # each time twice (control, treatment); 23:30 in New York on 1 March is 04:30 UTC on 2 March
    local = ["2026-03-01 23:30", "2026-03-02 00:30", "2026-03-02 10:00", "2026-03-04 09:00"]
    ts = pd.to_datetime([t for t in local for _ in range(2)] * 10).tz_localize("America/New_York")
    df = pd.DataFrame({"arm": ["control", "treatment"] * 40, "y": [0, 1, 1, 0] * 20, "assigned_at": ts})
    s = sequential_path(df, arm="arm", outcome="y", time="assigned_at", control="control", n_expected=500).summary
    assert [str(d) for d in s["look"]] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert s["n"].tolist() == [30, 30, 40] and s["n_control"].tolist() == [30, 30, 40]
    # naive timestamps are UTC: the same instants without a zone give the same looks
    naive = df.assign(assigned_at=ts.tz_convert("UTC").tz_localize(None))
    s2 = sequential_path(naive, arm="arm", outcome="y", time="assigned_at", control="control", n_expected=500).summary
    assert s2["n"].tolist() == [30, 30, 40]
    # explicit cutoffs: units with time <= cutoff
    s3 = sequential_path(df, arm="arm", outcome="y", time="assigned_at", control="control", n_expected=500,
                         looks=["2026-03-02T05:30:00Z", "2026-03-05T00:00:00Z"]).summary
    assert s3["n"].tolist() == [20, 40]


def test_first_significant_look_is_where_the_band_leaves_zero():
    rng = np.random.default_rng(7)
    df = daily_experiment(rng, n_units=6000, days=30, base=0.10, lift=0.06)
    path = sequential_path(df, arm="arm", outcome="y", time="day", control="control", n_expected=6000)
    s = path.summary
    first = path.first_significant["treatment"]
    assert first is not None
    before = s[s["look"] < first]
    assert ((before["seq_ci_low"] <= 0) & (before["seq_ci_high"] >= 0)).all()
    assert s.loc[s["look"] == first, "seq_ci_low"].iloc[0] > 0
    assert "band first excluded 0" in str(path)


def test_sequential_inputs_are_checked():
    df = _frame()
    with pytest.raises(MofConfigError, match="n_expected must be a positive number"):
        sequential_path(df, arm="arm", outcome="y", time="day", control="control", n_expected=0)
    with pytest.raises(MofConfigError, match="alpha must be between 0 and 1"):
        compare_sequential([1, 0], [0, 1], n_expected=10, alpha=1.5)
    with pytest.raises(MofInputError, match="missing column\\(s\\) when"):
        sequential_path(df, arm="arm", outcome="y", time="when", control="control", n_expected=10)
    with pytest.raises(MofInputError, match="control value 'ctrl' not found"):
        sequential_path(df, arm="arm", outcome="y", time="day", control="ctrl", n_expected=10)
    bad = df.assign(y=df["y"].astype(float))
    bad.loc[3, "y"] = np.inf
    with pytest.raises(MofInputError, match=r"column 'y': infinite value .*row 4"):
        sequential_path(bad, arm="arm", outcome="y", time="day", control="control", n_expected=10)
    with pytest.raises(MofInputError, match="a rate needs a binary"):
        compare_sequential([0.5, 1], [0, 1], n_expected=10, metric="rate")
    with pytest.raises(MofConfigError, match="increasing order"):
        sequential_path(df, arm="arm", outcome="y", time="day", control="control", n_expected=10, looks=[5, 3])


# ------------------------------------------------------------------------------- the study
@pytest.mark.slow
def test_daily_peeking_aa_false_positives_and_ab_coverage():
    # 1,000 A/A experiments of 3,000 companies read daily for 30 days (about 5 s per 1,000)
    aa = peeking_study(runs=1000, n_units=3000, days=30, base=0.10, lift=0.0, seed=11)
    assert aa.fixed_any > 0.15  # the fixed-horizon test read daily: far above 5%
    assert 0.02 < aa.fixed_final < 0.08  # read once, at the end, it is a 5% test
    assert aa.seq_any <= 0.05
    ab = peeking_study(runs=1000, n_units=3000, days=30, base=0.10, lift=0.03, seed=12)
    assert ab.seq_covered_all >= 0.95
    assert ab.fixed_covered_all < 0.85  # the fixed interval misses the truth at some look far more often


@pytest.mark.slow
def test_a_band_re_tuned_each_morning_for_that_mornings_n_keeps_the_aa_error_under_5_percent():
    # the readout's default (no planned n): every daily read tunes the band for the n it sees
    aa = peeking_study(runs=1000, n_units=3000, days=30, base=0.10, lift=0.0, n_expected="current", seed=13)
    assert aa.fixed_any > 0.15 and aa.seq_any <= 0.05  # measured 2.0% (fixed-horizon read daily: 25%)
    ab = peeking_study(runs=1000, n_units=3000, days=30, base=0.10, lift=0.03, n_expected="current", seed=14)
    assert ab.seq_covered_all >= 0.95


def test_re_tuned_path_is_each_looks_own_narrowest_band():
    df = daily_experiment(np.random.default_rng(5), n_units=2000, days=10, base=0.2, lift=0.0)
    path = sequential_path(df, arm="arm", outcome="y", time="day", control="control", n_expected="current")
    assert math.isnan(path.n_expected) and "re-tuned at each look" in str(path)
    for _, r in path.summary.iloc[[2, 9]].iterrows():
        seen = df[df["day"] <= r["look"]]
        y, y0 = (seen.loc[seen.arm == a, "y"] for a in ("treatment", "control"))
        one = compare_sequential(y, y0, n_expected=len(y) + len(y0))  # tuned for exactly this look
        assert (r["seq_ci_low"], r["seq_ci_high"]) == pytest.approx((one.seq_ci_low, one.seq_ci_high), rel=1e-12)
    with pytest.raises(MofConfigError, match="n_expected must be a positive number or 'current'"):
        sequential_path(df, arm="arm", outcome="y", time="day", control="control", n_expected="planned")


def test_a_rate_difference_band_stays_within_minus_one_and_one():
    # one treated unit that converted against 9 controls, 1 converted: the unclipped band is
    # lift 0.889 +/- more than 1.1, part of it outside the parameter space
    r = compare_sequential([1], [1] + [0] * 9, n_expected=10)
    row = r.summary.iloc[0]
    lift = 1 - 0.1
    assert row["lift"] == pytest.approx(lift)
    assert -1.0 <= row["seq_ci_low"] < lift and row["seq_ci_high"] == 1.0
    # a mean is not bounded: its band is not clipped
    m = compare_sequential([2.0, 0.0], [1.0] + [0.0] * 9, n_expected=12, metric="mean").summary.iloc[0]
    assert m["lift"] == pytest.approx(0.9) and m["seq_ci_high"] > 1.0 and m["seq_ci_low"] < -1.0
