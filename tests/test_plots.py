"""Every figure function returns Axes with a title and labelled axes, on small hand-made inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mof_experiments import plots  # noqa: E402
from mof_experiments.errors import MofInputError  # noqa: E402
from mof_experiments.survival import TIERS  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _labelled(ax, *, xlabel=True):
    assert ax.get_title()
    assert ax.get_ylabel() or ax.get_yticklabels()
    if xlabel:
        assert ax.get_xlabel()


def test_funnel_stages_counts_bars():
    f = pd.DataFrame({"stage": ["sandbox"] * 5 + ["production"] * 3 + ["signed_up"] * 2})
    ax = plots.funnel_stages(f)
    _labelled(ax)
    assert [p.get_height() for p in ax.patches] == [2, 5, 3]
    assert "(count)" in ax.get_ylabel()


def test_survival_curves_draws_one_line_per_group():
    c = pd.DataFrame({"tier": pd.Categorical(["no opens"] * 3 + ["2+ opens"] * 3, categories=list(TIERS)),
                      "time": [0, 1, 2] * 2, "surv": [1, .9, .8, 1, .7, .5], "ci_low": [1, .8, .7, 1, .6, .4],
                      "ci_high": [1, .95, .9, 1, .8, .6]})
    ax = plots.survival_curves(c)
    _labelled(ax)
    assert len(ax.get_lines()) == 2 and "days" in ax.get_xlabel()
    assert len(ax.collections) == 2  # one band per group


def test_survival_curves_flag_small_groups_instead_of_drawing_their_band():
    c = pd.DataFrame({"plan": ["free"] * 3 + ["enterprise"] * 3, "time": [0, 1, 2] * 2,
                      "surv": [1, .9, .8, 1, .75, .5], "ci_low": [1, .85, .75, 1, .1, .05],
                      "ci_high": [1, .95, .85, 1, 1, .95], "n": [500] * 3 + [4] * 3})
    ax = plots.survival_curves(c, group="plan", small="dashed")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["free (n = 500)", "enterprise (n = 4, too little data)"]
    assert len(ax.collections) == 1  # the band of the 4-company group is not drawn
    assert ax.get_lines()[1].get_linestyle() == "--"
    # default: a 4-company group is left out (no sharp drop drawn), and the figure says so
    ax = plots.survival_curves(c, group="plan", note="Observational.")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["free (n = 500)"]
    assert len(ax.get_lines()) == 1
    note = " ".join(ax.figure.get_supxlabel().split())
    assert "Left out, fewer than 30 companies: enterprise (n = 4)." in note and "Observational." in note
    # the legend sits outside the plotting area: it cannot cover a curve
    ax.figure.canvas.draw()
    legend, frame = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= frame.x1
    # free and the next plans get distinct colour-blind-safe colours
    assert ax.get_lines()[0].get_color().lower() in [c.lower() for c in plots.OKABE_ITO]


def test_first_app_groups_labels_match_values_and_flag_small_groups():
    t = pd.DataFrame({"dimension": ["segment"] * 3, "group": ["stuck_on_errors", "ready", "tiny"],
                      "companies": [300, 80, 12], "converted_by": [0.22, 0.6, 0.25], "ci_low": [0.18, 0.49, 0.1],
                      "ci_high": [0.27, 0.7, 0.54], "too_little_data": [False, False, True], "horizon_days": 30.0})
    ax = plots.first_app_groups(t, "segment", landmark_days=7)
    labels = [x.get_text() for x in ax.get_yticklabels()]
    assert labels == ["stuck on errors (n = 300)", "tiny (n = 12, too little data)", "ready (n = 80)"]
    from matplotlib.collections import PathCollection

    dots = [tuple(p) for coll in ax.collections if isinstance(coll, PathCollection) for p in coll.get_offsets()]
    assert [round(x, 2) for x, _ in sorted(dots, key=lambda d: d[1])] == [0.22, 0.25, 0.6]  # label row = its value
    assert "7 days after the first sandbox call" in ax.get_title() and "30 days" in ax.get_title()
    assert "Observational" in ax.figure.get_supxlabel()


def test_cohort_trend_leaves_out_incomplete_weeks_with_a_note():
    w = pd.DataFrame({"week": pd.to_datetime(["2026-01-05", "2026-01-12", "2026-01-19"]), "companies": [80, 90, 85],
                      "converted": [28, 30, 5], "rate": [0.35, 0.333, float("nan")], "ci_low": [0.25, 0.24, float("nan")],
                      "ci_high": [0.46, 0.44, float("nan")], "complete": [True, True, False]})
    ax = plots.cohort_trend(w)
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [0.35, 0.333]
    assert "last 1 week(s) are left out" in ax.figure.get_supxlabel()


def test_a_difference_of_rates_has_pp_ticks_not_percent():
    rows = pd.DataFrame({"label": ["causal", "correlation"], "estimate": [0.03, 0.24], "ci_low": [-0.03, 0.19],
                         "ci_high": [0.08, 0.29]})
    ax = plots.correlation_vs_causation(rows)
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(t.endswith("pp") for t in ticks) and "percentage points" in ax.get_xlabel()


def test_rates_by_outcome_bars_have_cis():
    r = pd.DataFrame({"group": ["production", "sandbox"], "delivered": [100, 300], "open_rate": [.6, .3],
                      "open_ci_low": [.5, .25], "open_ci_high": [.7, .35], "click_rate": [.15, .08],
                      "click_ci_low": [.1, .05], "click_ci_high": [.2, .1]})
    ax = plots.rates_by_outcome(r)
    _labelled(ax, xlabel=False)
    assert sorted(round(p.get_height(), 2) for p in ax.patches) == [0.08, 0.15, 0.3, 0.6]
    assert "%" in ax.get_ylabel()


def _table():
    return pd.DataFrame({"zone": ["fh", "cs", "sec"], "topic": ["dash", "adopt", "integ"], "persona": ["PM", "PM", "CSO"],
                         "delivered": [300, 200, 20], "assisted_rate": [.1, .05, .2], "assisted_ci_low": [.07, .03, .05],
                         "assisted_ci_high": [.14, .09, .45], "too_little_data": [False, False, True],
                         "prob_best": [.9, .1, 1.0]})


def test_prob_best_bars_and_unknown_persona():
    ax = plots.prob_best_bars(_table(), "PM")
    _labelled(ax)
    assert sorted(p.get_width() for p in ax.patches) == [0.1, 0.9]
    with pytest.raises(MofInputError, match="no content for persona 'GC'"):
        plots.prob_best_bars(_table(), "GC")


def test_arm_rates_draws_a_holdout_summary_as_it_is():
    s = pd.DataFrame({"group": ["treated", "control"], "arms": ["email", "holdout"], "n": [800, 200],
                      "events": [240, 50], "rate": [.3, .25], "ci_low": [.27, .2], "ci_high": [.33, .31]})
    ax = plots.arm_rates(s)
    _labelled(ax, xlabel=False)
    assert [round(p.get_height(), 2) for p in ax.patches] == [0.3, 0.25]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["treated\n(email, n = 800)", "control\n(holdout, n = 200)"]


def test_arm_rates_draws_a_readout_summary_as_it_is():
    from mof_experiments.experiments import readout

    df = pd.DataFrame({"arm": ["holdout"] * 200 + ["email"] * 800,
                       "converted": [1] * 50 + [0] * 150 + [1] * 240 + [0] * 560})
    r = readout(df, "arm", "converted", "holdout")
    ax = plots.arm_rates(r.summary)
    drawn = {t.get_text(): round(p.get_height(), 4) for t, p in zip(ax.get_xticklabels(), ax.patches)}
    assert drawn == {"holdout\n(control, n = 200)": 0.25, "email\n(treated, n = 800)": 0.3}
    two = pd.concat([r.summary, r.summary.assign(outcome="other")])
    with pytest.raises(MofInputError, match="2 outcomes: select one"):
        plots.arm_rates(two)


def test_correlation_and_uplift_plots():
    rows = pd.DataFrame({"label": ["corr", "causal"], "estimate": [.2, .03], "ci_low": [.15, -.02], "ci_high": [.25, .08]})
    _labelled(plots.correlation_vs_causation(rows))
    bins = pd.DataFrame({"bin": [1, 2], "uplift": [.1, -.02], "uplift_ci_low": [.0, -.1], "uplift_ci_high": [.2, .06]})
    ax = plots.uplift_by_bin(bins)
    _labelled(ax)
    assert np.allclose([p.get_height() for p in ax.patches], [.1, -.02])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]


def test_draws_into_a_given_axes():
    fig, ax = plt.subplots()
    out = plots.funnel_stages(pd.DataFrame({"stage": ["sandbox"]}), ax=ax)
    assert out is ax


def _band_path():
    """A hand-made SequentialPath.summary: 4 daily looks of one arm, the first one low data."""
    looks = [pd.Timestamp(f"2026-03-0{d}").date() for d in (1, 2, 3, 4)]
    return pd.DataFrame({
        "look": looks, "arm": "email", "n": [20, 200, 400, 600], "events": [4, 60, 120, 180],
        "lift": [0.20, 0.06, 0.05, 0.05], "lift_ci_low": [-0.10, 0.01, 0.02, 0.025],
        "lift_ci_high": [0.50, 0.11, 0.08, 0.075], "seq_ci_low": [-0.90, -0.03, 0.004, 0.01],
        "seq_ci_high": [1.30, 0.15, 0.096, 0.09], "low_data": [True, False, False, False]})


def test_sequential_band_draws_the_band_the_fixed_interval_and_the_lift_at_each_look():
    import matplotlib.dates as mdates

    path = _band_path()
    ax = plots.sequential_band(path, control="holdout")
    _labelled(ax)
    x = mdates.date2num(pd.to_datetime(path["look"]))
    handles, labels = ax.get_legend_handles_labels()
    drawn = dict(zip(labels, handles))
    # the band: the shaded polygon passes through (look, seq_ci_low) and (look, seq_ci_high) at every look
    band = drawn["95% confidence sequence (valid at every look)"]
    verts = {(round(a, 6), round(b, 6)) for a, b in band.get_paths()[0].vertices}
    for xi, lo, hi in zip(x, path["seq_ci_low"], path["seq_ci_high"]):
        assert (round(xi, 6), round(lo, 6)) in verts and (round(xi, 6), round(hi, 6)) in verts
    # the lift line and the fixed interval's two dashed lines carry the frame's values, look by look
    lift = drawn["cumulative lift (email - holdout)"]
    assert np.allclose(lift.get_xydata(), np.c_[x, path["lift"]])
    fixed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(fixed) == 2 and "95% fixed-horizon interval (valid only if read once)" in labels
    assert np.allclose(fixed[0].get_ydata(), path["lift_ci_low"]) and np.allclose(fixed[1].get_ydata(), path["lift_ci_high"])
    # the first look whose band excludes 0 is day 3 (seq_ci_low 0.004 > 0), named in its label
    assert "band first excludes 0 (2026-03-03)" in labels
    vline = drawn["band first excludes 0 (2026-03-03)"]
    assert np.allclose(mdates.date2num(pd.to_datetime(list(vline.get_xdata()))), x[2])
    assert "too little data (an arm < 30 units or < 5 events)" in labels
    # the y range is the band's where there is enough data, not the first look's +-100 points
    lo, hi = ax.get_ylim()
    assert -0.05 < lo < -0.03 and 0.15 < hi < 0.17
    assert ax.get_ylabel() == "lift (percentage points)" and ax.get_title().startswith("email vs holdout")


def test_sequential_band_needs_one_arm():
    two = pd.concat([_band_path(), _band_path().assign(arm="sms")])
    with pytest.raises(MofInputError, match=r"path has 2 arms \(email, sms\): choose one with arm="):
        plots.sequential_band(two)
    ax = plots.sequential_band(two, arm="sms")
    assert "cumulative lift (sms - control)" in ax.get_legend_handles_labels()[1]
