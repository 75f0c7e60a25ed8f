"""Bayesian readout: closed forms (Evan Miller, Stucchio), 200,000-draw Monte Carlo, hand cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln
from scipy.stats import beta, norm

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.stats.bayesian import bayesian_means, bayesian_rates, bayesian_readout
from mof_experiments.stats.studies import bayesian_monte_carlo_check


def miller(a_c, b_c, a_t, b_t):
    """P(p_t > p_c) for p ~ Beta, integer a_t (Evan Miller, "Formulas for Bayesian A/B testing")."""
    i = np.arange(int(a_t))
    return float(np.exp(betaln(a_c + i, b_c + b_t) - np.log(b_t + i) - betaln(1 + i, b_t) - betaln(a_c, b_c)).sum())


def stucchio_loss(a_t, b_t, a_c, b_c):
    """E[max(p_c - p_t, 0)] (Chris Stucchio, "Bayesian A/B testing at VWO"): with p Beta(a, b)
    f(p) = a/(a+b) Beta(a+1, b) f, it is E[p_c] P(Beta(a_c+1, b_c) > p_t) - E[p_t] P(p_c > Beta(a_t+1, b_t))."""
    m_c, m_t = a_c / (a_c + b_c), a_t / (a_t + b_t)
    return m_c * miller(a_t, b_t, a_c + 1, b_c) - m_t * miller(a_t + 1, b_t, a_c, b_c)


@pytest.mark.slow
def test_chance_to_beat_control_agrees_with_200000_draw_monte_carlo_on_20_random_cases():
    check = bayesian_monte_carlo_check(cases=20, draws=200_000, seed=2026)
    assert len(check) == 20
    assert check["prob_beat_control"].between(0.02, 0.98).sum() >= 10  # close calls, not only 0s and 1s
    assert check["abs_diff"].max() < 0.005
    assert np.allclose(check["expected_loss"], check["mc_loss"], atol=2e-4)


def test_chance_to_beat_control_equals_evan_millers_closed_form():
    rng = np.random.default_rng(3)
    for _ in range(15):
        n0, n1 = rng.integers(20, 5000, 2)
        x0, x1 = rng.integers(0, n0 + 1), rng.integers(0, n1 + 1)
        r = bayesian_rates([x0, x1], [n0, n1])
        assert r.prob_beat_control["1"] == pytest.approx(miller(1 + x0, 1 + n0 - x0, 1 + x1, 1 + n1 - x1), abs=1e-8)


def test_expected_loss_equals_stucchios_closed_form_for_both_arms():
    for x0, n0, x1, n1 in [(10, 100, 12, 100), (120, 1000, 150, 1000), (3, 50, 0, 60), (900, 3000, 850, 2800)]:
        r = bayesian_rates([x0, x1], [n0, n1], arms=["c", "t"])
        a_c, b_c, a_t, b_t = 1 + x0, 1 + n0 - x0, 1 + x1, 1 + n1 - x1
        assert r.expected_loss["t"] == pytest.approx(stucchio_loss(a_t, b_t, a_c, b_c), abs=1e-9)
        assert r.expected_loss["c"] == pytest.approx(stucchio_loss(a_c, b_c, a_t, b_t), abs=1e-9)


def test_rates_by_hand_posterior_and_intervals():
    # 10/100 vs 15/100 under Beta(1, 1): posteriors Beta(11, 91) and Beta(16, 86)
    r = bayesian_rates([10, 15], [100, 100], arms=["control", "treatment"])
    s = r.summary.set_index("arm")
    assert s.loc["control", "posterior_mean"] == pytest.approx(11 / 102)
    assert s.loc["treatment", "posterior_mean"] == pytest.approx(16 / 102)
    assert (s.loc["treatment", "credible_low"], s.loc["treatment", "credible_high"]) == pytest.approx(
        tuple(beta(16, 86).ppf([0.025, 0.975])), rel=1e-12)
    assert s.loc["treatment", "lift"] == pytest.approx(5 / 102)
    assert r.prior == "Beta(1, 1) on each arm's rate"
    assert s.loc["treatment", "prob_best"] == pytest.approx(s.loc["treatment", "prob_beat_control"], abs=1e-9)
    assert s.loc["control", "prob_best"] + s.loc["treatment", "prob_best"] == pytest.approx(1.0, abs=1e-9)
    # the lift's credible interval against a million draws
    rng = np.random.default_rng(0)
    d = rng.beta(16, 86, 1_000_000) - rng.beta(11, 91, 1_000_000)
    assert (s.loc["treatment", "lift_credible_low"], s.loc["treatment", "lift_credible_high"]) == pytest.approx(
        tuple(np.quantile(d, [0.025, 0.975])), abs=1.5e-3)
    # a stated prior moves the posterior: Beta(2, 18) adds 2 events in 20
    p = bayesian_rates([10, 15], [100, 100], prior=(2, 18))
    assert p.summary.loc[0, "posterior_mean"] == pytest.approx(12 / 120) and p.prior == "Beta(2, 18) on each arm's rate"


def test_three_arms_prob_best_and_loss_against_monte_carlo():
    r = bayesian_rates([30, 36, 41], [400, 400, 410], arms=["control", "b", "c"])
    rng = np.random.default_rng(1)
    draws = np.column_stack([rng.beta(1 + x, 1 + n - x, 400_000) for x, n in [(30, 400), (36, 400), (41, 410)]])
    best = draws.argmax(axis=1)
    s = r.summary.set_index("arm")
    for j, arm in enumerate(["control", "b", "c"]):
        assert s.loc[arm, "prob_best"] == pytest.approx((best == j).mean(), abs=3e-3)
        assert s.loc[arm, "expected_loss"] == pytest.approx((draws.max(axis=1) - draws[:, j]).mean(), abs=2e-4)
    assert s["prob_best"].sum() == pytest.approx(1.0, abs=1e-8)
    assert s.loc["c", "prob_beat_control"] == pytest.approx((draws[:, 2] > draws[:, 0]).mean(), abs=3e-3)


def test_means_are_exact_under_the_normal_posterior():
    r = bayesian_means([10.0, 10.5], [4.0, 9.0], [100, 80], arms=["control", "treatment"])
    sd = math.sqrt(4 / 100 + 9 / 80)
    assert r.prob_beat_control["treatment"] == pytest.approx(norm.cdf(0.5 / sd), rel=1e-12)
    # E[max(c - t, 0)] with c - t ~ N(-0.5, sd^2): m Phi(m/s) + s phi(m/s)
    m = -0.5
    assert r.expected_loss["treatment"] == pytest.approx(m * norm.cdf(m / sd) + sd * norm.pdf(m / sd), rel=1e-10)
    assert r.expected_loss["control"] - r.expected_loss["treatment"] == pytest.approx(0.5, rel=1e-9)
    s = r.summary.set_index("arm")
    assert (s.loc["treatment", "lift_credible_low"], s.loc["treatment", "lift_credible_high"]) == pytest.approx(
        (0.5 - 1.959964 * sd, 0.5 + 1.959964 * sd), rel=1e-6)
    assert r.prior == "flat (improper) on each arm's mean"
    # three arms: the quadrature of E[max] against Monte Carlo
    r3 = bayesian_means([1.0, 1.1, 0.9], [1.0, 1.0, 2.0], [200, 150, 100], arms=["a", "b", "c"])
    rng = np.random.default_rng(5)
    draws = np.column_stack([rng.normal(mu, math.sqrt(v / n), 400_000) for mu, v, n in
                             [(1.0, 1.0, 200), (1.1, 1.0, 150), (0.9, 2.0, 100)]])
    for j, arm in enumerate("abc"):
        assert r3.expected_loss[arm] == pytest.approx((draws.max(axis=1) - draws[:, j]).mean(), abs=5e-4)


def test_a_normal_prior_is_combined_by_precision():
    r = bayesian_means([10.0, 12.0], [4.0, 4.0], [4, 4], prior_mean=0.0, prior_sd=1.0)
    # precision 1/1 + 4/4 = 2: posterior mean (0 + 4 * 10 / 4) / 2 = 5, variance 1/2
    s = r.summary
    assert s.loc[0, "posterior_mean"] == pytest.approx(5.0) and s.loc[1, "posterior_mean"] == pytest.approx(6.0)
    assert s.loc[0, "credible_high"] - 5.0 == pytest.approx(1.959964 * math.sqrt(0.5), rel=1e-6)
    assert r.prior == "Normal(0, 1^2) on each arm's mean"


def test_readout_from_one_row_per_unit_matches_the_counts():
    df = pd.DataFrame({"arm": ["b"] * 50 + ["a"] * 60 + ["ctl"] * 55,
                       "y": [1] * 9 + [0] * 41 + [1] * 4 + [0] * 56 + [1] * 7 + [0] * 48})
    r = bayesian_readout(df, arm="arm", outcome="y", control="ctl")
    c = bayesian_rates([7, 4, 9], [55, 60, 50], arms=["ctl", "a", "b"])
    pd.testing.assert_frame_equal(r.summary, c.summary)
    assert "P(beats control)" in str(r) and "<table" in r._repr_html_()
    m = bayesian_readout(df.assign(y=df["y"] * 2.5 + np.arange(len(df)) % 3), arm="arm", outcome="y", control="ctl")
    assert m.metric == "mean" and pd.isna(m.summary.loc[0, "events"])


def test_bayesian_inputs_are_checked():
    with pytest.raises(MofInputError, match="0 <= events <= n"):
        bayesian_rates([5, 12], [10, 11])
    with pytest.raises(MofInputError, match="control 'x' is not one of the arms"):
        bayesian_rates([1, 2], [10, 10], arms=["a", "b"], control="x")
    with pytest.raises(MofInputError, match="a constant outcome"):
        bayesian_means([1.0, 1.0], [0.0, 1.0], [10, 10])
    with pytest.raises(MofConfigError, match="both prior_mean and prior_sd"):
        bayesian_means([1.0, 2.0], [1.0, 1.0], [10, 10], prior_mean=0.0)
    df = pd.DataFrame({"arm": ["a", "b", "a", "b"], "y": [1.0, 2.0, 1.0, 3.0]})
    with pytest.raises(MofInputError, match="arm 'a' has a constant outcome"):
        bayesian_readout(df, arm="arm", outcome="y", control="a")
    with pytest.raises(MofConfigError, match="alpha must be between 0 and 1"):
        bayesian_rates([1, 2], [10, 10], alpha=0)
