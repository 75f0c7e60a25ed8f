"""Heavy tails: winsorizing by hand, pooled caps, the dominance warning on the issue's case
(one unit of 49,854 among 45,000)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.stats.tails import DEFAULT_WINSORIZE_Q, dominance, winsorize, winsorize_columns


def test_winsorize_by_hand():
    y = np.array([0, 0, 1, 2, 3, 4, 100], dtype=float)
    w = winsorize(y, 0.75)
    # non-zero values 1, 2, 3, 4, 100: the linear 0.75 quantile is at position 3 -> 4
    assert w.upper == 4.0 and w.values.tolist() == [0, 0, 1, 2, 3, 4, 4]
    assert (w.n_capped, w.n_nonzero) == (1, 5)
    assert (w.mean_before, w.mean_after) == pytest.approx((110 / 7, 14 / 7))
    assert y[-1] == 100  # the input is not changed
    # lower cap at the 0.25 quantile of the non-zero values (2): 1 -> 2, zeros stay 0
    w2 = winsorize(y, 0.75, lower_q=0.25)
    assert w2.lower == 2.0 and w2.values.tolist() == [0, 0, 2, 2, 3, 4, 4]
    # interpolation: 0.9 of 1, 2, 3, 4, 100 is 4 + 0.6 * 96 = 61.6
    assert winsorize(y, 0.9).upper == pytest.approx(61.6)
    assert winsorize(np.zeros(5)).n_capped == 0 and np.isnan(winsorize(np.zeros(5)).upper)
    assert DEFAULT_WINSORIZE_Q == 0.99


def test_cap_is_pooled_over_arms_and_per_metric():
    df = pd.DataFrame({"arm": ["a"] * 5 + ["b"] * 5, "rev": [1, 2, 3, 4, 5, 10, 20, 30, 40, 50.0],
                       "calls": [0, 0, 0, 1, 1, 1, 2, 2, 3, 90.0]})
    out = winsorize_columns(df, {"rev": 0.5, "calls": None}, q=0.75)
    # rev: one cap for both arms, the median of all ten values (7.5)
    assert out.data["rev"].tolist() == [1, 2, 3, 4, 5, 7.5, 7.5, 7.5, 7.5, 7.5]
    # calls: default q=0.75 of the 7 non-zero values 1, 1, 1, 2, 2, 3, 90 -> position 4.5 -> 2.5
    assert out.data["calls"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2.5, 2.5]
    s = out.summary.set_index("column")
    assert s.loc["rev", "n_capped"] == 5 and s.loc["calls", "upper"] == 2.5 and s.loc["calls", "q"] == 0.75
    assert df["rev"].iloc[-1] == 50  # the caller's frame is not changed
    assert "rev: cap 7.5" in str(out)


def _issue_case(seed=0):
    rng = np.random.default_rng(seed)
    n = 45_000
    arm = np.where(rng.random(n) < 0.5, "control", "treatment")
    spend = np.where(rng.random(n) < 0.02, rng.lognormal(4, 1, n), 0.0)
    spend[5] = 49_854.0  # one company, treatment arm
    return pd.DataFrame({"company_id": [f"co{i}" for i in range(n)], "arm": arm, "spend": spend})


def test_one_unit_of_49854_among_45000_is_flagged_and_winsorizing_clears_it():
    df = _issue_case()
    d = dominance(df, arm="arm", outcome="spend", unit="company_id")
    assert d.dominated == ("treatment",)
    s = d.summary.set_index("arm")
    assert s.loc["treatment", "top_unit"] == "co5" and s.loc["treatment", "top_value"] == 49_854
    total_abs = df.loc[df.arm == "treatment", "spend"].abs().sum()
    assert s.loc["treatment", "top_share"] == pytest.approx(49_854 / total_abs)  # 0.58
    rest = df.loc[(df.arm == "treatment") & (df.company_id != "co5"), "spend"]
    assert s.loc["treatment", "mean_without_top"] == pytest.approx(rest.mean())
    assert "company_id co5" in d.warnings[0] and "58%" in d.warnings[0]
    means = df.groupby("arm")["spend"].mean()
    assert means["treatment"] - means["control"] == pytest.approx(1.86, abs=0.01)  # one unit makes the difference
    # the default cap (0.99 of the 846 buyers) takes it to 698 and the warning goes
    w = winsorize_columns(df, ["spend"])
    assert w.summary.loc[0, "n_nonzero"] == 846 and w.summary.loc[0, "upper"] == pytest.approx(698.26, abs=0.01)
    assert dominance(w.data, arm="arm", outcome="spend").dominated == ()
    m = w.data.groupby("arm")["spend"].mean()
    assert m["treatment"] - m["control"] == pytest.approx(-0.22, abs=0.01)
    # Statsig's 0.999 leaves a cap of 9,888: still 21% of the arm (why our default is 0.99)
    w999 = winsorize_columns(df, {"spend": 0.999})
    assert w999.summary.loc[0, "upper"] == pytest.approx(9888.06, abs=0.01)
    d999 = dominance(w999.data, arm="arm", outcome="spend")
    assert d999.dominated == ("treatment",)
    assert d999.summary.set_index("arm").loc["treatment", "top_share"] == pytest.approx(0.21, abs=0.005)


def test_dominance_by_hand():
    df = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 20, "y": [10, 1, 1, 1] + [1] * 20, "id": list("wxyz") + list(range(20))})
    d = dominance(df, arm="arm", outcome="y", unit="id")
    s = d.summary.set_index("arm")
    assert s.loc["a", "top_share"] == pytest.approx(10 / 13) and s.loc["a", "mean_without_top"] == 1.0
    assert s.loc["b", "top_share"] == pytest.approx(1 / 20) and not s.loc["b", "dominated"]
    assert d.dominated == ("a",)
    # negative values: the share is of the absolute total, so a refund cannot hide behind a small net sum
    neg = pd.DataFrame({"arm": ["a"] * 4, "y": [-50.0, 20.0, 20.0, 15.0]})
    sn = dominance(neg, arm="arm", outcome="y").summary.iloc[0]
    assert sn["top_share"] == pytest.approx(50 / 105) and sn["top_value"] == -50 and sn["top_unit"] == 1
    assert dominance(pd.DataFrame({"arm": ["a", "a"], "y": [0.0, 0.0]}), arm="arm", outcome="y").dominated == ()
    assert "no unit holds more than 10%" in str(dominance(df[df.arm == "b"], arm="arm", outcome="y"))


def test_tails_inputs_are_checked():
    with pytest.raises(MofConfigError, match="q must be between 0 and 1"):
        winsorize([1.0, 2.0], 1.0)
    with pytest.raises(MofConfigError, match="lower_q .* must be below q"):
        winsorize([1.0, 2.0], 0.5, lower_q=0.6)
    with pytest.raises(MofInputError, match="column 'spend': missing or infinite value .*row 2"):
        winsorize([1.0, np.inf], name="spend")
    df = pd.DataFrame({"arm": ["a", "b"], "y": [1.0, np.nan]})
    with pytest.raises(MofInputError, match=r"column 'y': missing value \(NaN\) in a numeric column \(e.g. row 2"):
        dominance(df, arm="arm", outcome="y")
    with pytest.raises(MofInputError, match="missing column\\(s\\) rev"):
        winsorize_columns(df, ["rev"])
    with pytest.raises(MofConfigError, match="threshold must be between 0 and 1"):
        dominance(df.fillna(0), arm="arm", outcome="y", threshold=10)
