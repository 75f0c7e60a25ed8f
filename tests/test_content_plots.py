"""The content figures: every drawn label sits at its own row's value, in every panel."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mof_experiments.content.plots import content_panels, content_rates, grid_heatmap  # noqa: E402
from mof_experiments.errors import MofInputError  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _table():
    # open and assisted rates ordered differently, so a per-panel sort would mislabel rows
    return pd.DataFrame({
        "zone": ["feature_highlight", "case_study", "assistance", "security"],
        "topic": ["dashboards", "driving_adoption", "design_review", "data_integrity"],
        "persona": ["PM", "PM", "PM", "CSO"], "delivered": [300, 200, 250, 2],
        "open_rate": [0.40, 0.15, 0.30, 1.0], "open_ci_low": [0.35, 0.10, 0.25, 0.2],
        "open_ci_high": [0.45, 0.21, 0.36, 1.0],
        "assisted_rate": [0.05, 0.101, 0.02, 0.5], "assisted_ci_low": [0.03, 0.07, 0.01, 0.09],
        "assisted_ci_high": [0.08, 0.14, 0.04, 0.9], "too_little_data": [False, False, False, True]})


def _drawn(ax):
    """(label, x of the dot at that label's y) as the reader sees them: labels from the first panel."""
    pts = ax.collections[-1].get_offsets()
    return {round(float(y)): float(x) for x, y in pts}


def test_every_label_sits_at_its_own_value_in_both_panels():
    t = _table()
    axs = content_panels(t, ("open", "assisted"))
    labels = {round(tk.get_position()[1]): tk.get_text() for tk in axs[0].get_yticklabels()}
    for ax, metric in zip(axs, ("open", "assisted")):
        hi_lim = ax.get_xlim()[1]
        for y, x in _drawn(ax).items():
            lab = labels[y]
            row = t[[lab.startswith(f"{r.persona}: {r.zone.replace('_', ' ')}") for r in t.itertuples()]].iloc[0]
            assert x == pytest.approx(min(row[f"{metric}_rate"], hi_lim)), (metric, lab)
    # the second panel shows no labels of its own: the first panel's belong to both
    assert not axs[1].yaxis.get_tick_params()["labelleft"]


def test_low_data_rows_cannot_stretch_the_axis():
    ax = content_rates(_table(), metric="assisted")
    assert ax.get_xlim()[1] < 0.2  # the n=2 row (50%, CI to 90%) is clipped, not the scale
    assert any(t.get_text().startswith("50%, CI to 90%") for t in ax.texts)  # the clipped dot says its value
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any(lab.endswith("*") and "CSO" in lab and "n=2" in lab for lab in labels)


def test_content_rates_missing_metric_is_an_error():
    with pytest.raises(MofInputError, match="click_rate"):
        content_rates(_table(), metric="click")


def test_heatmap_writes_rate_and_n_in_each_cell_with_rating_colour():
    g = pd.DataFrame({"persona": ["PM", "PM", "GC"], "zone": ["case_study", "generic", "compliance"],
                      "delivered": [400, 390, 12], "click_rate": [0.1, 0.03, 0.25],
                      "rating": ["high", "low", None], "too_little_data": [False, False, True]})
    ax = grid_heatmap(g)
    texts = {t.get_text() for t in ax.texts}
    assert "10.0%\nn=400" in texts and "25.0%\nn=12\ntoo little data" in texts
    colors = [tuple(np.round(p.get_facecolor()[:3], 3)) for p in ax.patches]
    assert tuple(np.round(matplotlib.colors.to_rgb("#2a9d8f"), 3)) in colors
