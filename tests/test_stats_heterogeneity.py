"""Breakdowns: per-cell comparisons against statsmodels, the interaction test against Cochran's Q
by hand, low-data cells, a planted difference, and the null rejection rate (slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2
from statsmodels.stats import proportion as smp
from statsmodels.stats.multitest import multipletests

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.stats.heterogeneity import breakdown, interaction_test
from mof_experiments.stats.studies import breakdown_null_study


def _data(seed=0, n=4000, effects=None, metric="rate"):
    rng = np.random.default_rng(seed)
    cells = rng.choice(["PM", "DEV", "CFO"], n, p=[0.5, 0.3, 0.2])
    t = rng.random(n) < 0.5
    effects = effects or {"PM": 0.03, "DEV": 0.03, "CFO": 0.03}
    eff = pd.Series(cells).map(effects).to_numpy()
    base = pd.Series(cells).map({"PM": 0.10, "DEV": 0.25, "CFO": 0.05}).to_numpy()
    y = (rng.random(n) < base + eff * t).astype(int) if metric == "rate" else \
        rng.gamma(2.0, 5.0 * base, n) + eff * t
    return pd.DataFrame({"arm": np.where(t, "email", "control"), "y": y, "persona": cells})


def _cochran_q(df, cells):
    lift, w = [], []
    for c in cells:
        g = df[df.persona == c]
        a, b = g.loc[g.arm == "email", "y"], g.loc[g.arm == "control", "y"]
        lift.append(a.mean() - b.mean())
        w.append(1 / (a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
    lift, w = np.array(lift), np.array(w)
    q = float((w * (lift - (w * lift).sum() / w.sum()) ** 2).sum())
    return q, chi2.sf(q, len(cells) - 1)


def _ols_hc2_wald(df, cells):
    """Wald test of equal cell:treated coefficients in the saturated OLS with HC2 covariance."""
    import statsmodels.api as sm

    k = len(cells)
    code = df["persona"].map({c: i for i, c in enumerate(cells)}).to_numpy()
    t = (df["arm"] == "email").to_numpy().astype(float)
    x = np.zeros((len(df), 2 * k))
    x[np.arange(len(df)), code] = 1.0
    x[np.arange(len(df)), k + code] = t
    res = sm.OLS(df["y"].to_numpy(dtype=float), x).fit(cov_type="HC2")
    r = np.zeros((k - 1, 2 * k))
    r[:, k] = -1.0
    r[np.arange(k - 1), k + 1 + np.arange(k - 1)] = 1.0
    w = res.wald_test(r, use_f=False, scalar=True)
    return float(w.statistic), float(w.pvalue)


@pytest.mark.parametrize("metric", ["rate", "mean"])
def test_interaction_test_is_the_hc2_wald_test_and_cochrans_q(metric):
    df = _data(1, effects={"PM": 0.0, "DEV": 0.06, "CFO": 0.02}, metric=metric)
    b = breakdown(df, arm="arm", outcome="y", by="persona", control="control")
    q, p = _cochran_q(df, ["CFO", "DEV", "PM"])
    assert b.interaction_statistic == pytest.approx(q, rel=1e-9)
    assert b.interaction_p_value == pytest.approx(p, rel=1e-9)
    assert (b.interaction_statistic, b.interaction_p_value) == pytest.approx(_ols_hc2_wald(df, ["CFO", "DEV", "PM"]),
                                                                             rel=1e-8)
    assert b.interaction_df == 2 and b.cells_tested == ("CFO", "DEV", "PM")


def test_cells_match_statsmodels_and_holm_across_cells():
    df = _data(2)
    b = breakdown(df, arm="arm", outcome="y", by="persona", control="control")
    s = b.summary.set_index("cell")
    assert list(s.index) == ["CFO", "DEV", "PM"]
    for c in s.index:
        g = df[df.persona == c]
        x, n = g.loc[g.arm == "email", "y"].sum(), (g.arm == "email").sum()
        x0, n0 = g.loc[g.arm == "control", "y"].sum(), (g.arm == "control").sum()
        lo, hi = smp.confint_proportions_2indep(x, n, x0, n0, method="newcomb", compare="diff")
        p = smp.test_proportions_2indep(x, n, x0, n0, method="score", compare="diff").pvalue
        assert (s.loc[c, "n"], s.loc[c, "events"], s.loc[c, "n_control"], s.loc[c, "events_control"]) == (n, x, n0, x0)
        assert (s.loc[c, "lift"], s.loc[c, "lift_ci_low"], s.loc[c, "lift_ci_high"], s.loc[c, "p_value"]) == \
            pytest.approx((x / n - x0 / n0, lo, hi, p), rel=1e-9)
    assert s["p_value_adj"].to_numpy() == pytest.approx(multipletests(s["p_value"].to_numpy(), method="holm")[1])
    assert (s["significant"] == (s["p_value_adj"] < 0.05)).all()


def test_a_planted_difference_between_cells_is_found_and_a_common_effect_is_not():
    het = breakdown(_data(3, n=12_000, effects={"PM": 0.0, "DEV": 0.08, "CFO": 0.0}), arm="arm", outcome="y",
                    by="persona", control="control")
    assert het.heterogeneous and het.interaction_p_value < 0.01
    s = het.summary.set_index("cell")
    assert s.loc["DEV", "lift_ci_low"] < 0.08 < s.loc["DEV", "lift_ci_high"] and s.loc["DEV", "significant"]
    hom = breakdown(_data(3, n=12_000), arm="arm", outcome="y", by="persona", control="control")
    assert hom.interaction_p_value > 0.05  # the same +3 points everywhere, on different base rates


def test_low_data_cells_are_shown_flagged_and_left_out_of_the_interaction_test():
    df = _data(4, n=3000)
    extra = pd.DataFrame({"arm": ["email"] * 12 + ["control"] * 12, "y": [1] * 12 + [0] * 12, "persona": "GC"})
    df = pd.concat([df, extra, pd.DataFrame({"arm": ["email", "control"] * 20, "y": [1, 0] * 20,
                                             "persona": [None] * 40})], ignore_index=True)
    b = breakdown(df, arm="arm", outcome="y", by="persona", control="control")
    s = b.summary.set_index("cell")
    assert s.loc["GC", "low_data"] and s.loc["(missing)", "low_data"]
    assert s.loc["GC", "p_value"] < 0.05 and not s.loc["GC", "significant"]  # 12/12 vs 0/12: low data, never significant
    assert set(b.cells_tested) == {"CFO", "DEV", "PM"}
    q, _ = _cochran_q(df[df.persona.isin(["CFO", "DEV", "PM"])], ["CFO", "DEV", "PM"])
    assert b.interaction_statistic == pytest.approx(q, rel=1e-9)
    one = breakdown(df[df.persona.isin(["PM", "GC"])], arm="arm", outcome="y", by="persona", control="control")
    assert np.isnan(one.interaction_p_value) and "1 of 2 cells have enough data" in one.note
    assert "not tested" in str(one)


def test_breakdown_inputs_are_checked():
    df = _data(5, n=600)
    three = df.assign(arm=np.where(np.arange(600) % 3 == 0, "other", df["arm"]))
    with pytest.raises(MofConfigError, match="2 treatment arms .*name one with treatment="):
        breakdown(three, arm="arm", outcome="y", by="persona", control="control")
    b = breakdown(three, arm="arm", outcome="y", by="persona", control="control", treatment="other")
    assert b.summary["n"].sum() == 200 and b.treatment == "other"
    with pytest.raises(MofConfigError, match="treatment and control are the same arm"):
        breakdown(df, arm="arm", outcome="y", by="persona", control="control", treatment="control")
    with pytest.raises(MofInputError, match="^no rows$"):
        breakdown(df.iloc[:0], arm="arm", outcome="y", by="persona", control="control")
    with pytest.raises(MofInputError, match="missing column\\(s\\) plan"):
        breakdown(df, arm="arm", outcome="y", by="plan", control="control")
    with pytest.raises(MofConfigError, match="correction must be one of"):
        breakdown(df, arm="arm", outcome="y", by="persona", control="control", correction="sidak")
    with pytest.raises(MofInputError, match="at least two cells"):
        interaction_test(np.array([1.0, 0.0]), np.array([1, 0]), np.array(["a", "a"]))


@pytest.mark.slow
def test_interaction_test_rejects_at_most_6_percent_of_null_simulations():
    # 2,000 experiments of 3,000 companies in 5 personas of different base rates, one common
    # +2-point effect (2,000 runs: the standard error of the rate is 0.5 points, so 6% is a real
    # bound on a 5% test); and 500 of a heavy-tailed mean (about 45 s in all)
    rate = breakdown_null_study(runs=2000, n_units=3000, lift=0.02, metric="rate", seed=31)
    mean = breakdown_null_study(runs=500, n_units=1000, lift=0.3, metric="mean", seed=32)
    assert rate <= 0.06 and mean <= 0.06
    assert rate > 0.02 and mean > 0.02  # and it is a 5% test, not a test that never rejects


def test_a_breakdown_by_the_arm_or_the_outcome_column_is_a_one_line_error():
    d = pd.DataFrame({"arm": ["c", "t"] * 50, "y": [0, 1] * 50, "plan": ["a"] * 100})
    assert list(breakdown(d, arm="arm", outcome="y", by="plan", control="c").summary["cell"]) == ["a"]
    with pytest.raises(MofConfigError, match="--by arm: the breakdown column must differ"):
        breakdown(d, arm="arm", outcome="y", by="arm", control="c")
    with pytest.raises(MofConfigError, match="--by y: the breakdown column must differ"):
        breakdown(d, arm="arm", outcome="y", by="y", control="c")
