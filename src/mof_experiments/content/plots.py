"""Content figures: the persona x zone heatmap and the content-rate panels.

Rules of the drawing (tested: the labels drawn sit at their own values):
- :func:`content_rates` draws every metric on **one row order** (persona, then the first
  metric's rate), so panels side by side share their labels; each row's label names its row.
- Too-little-data rows are grey, and the axis is set by the rows with enough data (their
  intervals) so a row with two messages cannot stretch it; a clipped interval ends in an arrow.
- :func:`grid_heatmap`: persona rows, zone columns, colour = the within-persona rating
  (low / mid / high; grey: too little data), each cell writes the click rate and its n.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.plots import _pct_axis, axes

RATING_COLORS = {"low": "#e9c46a", "mid": "#8ab17d", "high": "#2a9d8f", None: "#dee2e6"}
NAMES = {"open": "Open rate", "click": "Click rate", "assisted": "Assisted-conversion rate"}


def row_order(table: pd.DataFrame, metric: str = "assisted") -> pd.DataFrame:
    """The rows in drawing order (bottom to top): persona, then ``<metric>_rate`` ascending."""
    return table.sort_values(["persona", f"{metric}_rate"], ascending=[False, True], kind="stable").reset_index(drop=True)


def row_label(r) -> str:
    what = r.zone.replace("_", " ") + (f" / {r.topic.replace('_', ' ')}" if "topic" in r._fields else "")
    return f"{r.persona}: {what} (n={int(r.delivered):,})"


def content_rates(table: pd.DataFrame, *, metric: str = "assisted", order_by: str | None = None, ax=None):
    """Horizontal dot-and-interval plot of one rate (``open``, ``click`` or ``assisted``) per row
    of a content table or grid, with n; too-little-data rows in grey and kept off the axis range.

    ``order_by`` (default ``metric``) fixes the row order: pass the same value to every panel of
    one figure so all panels share their rows (:func:`row_order`).
    """
    col = f"{metric}_rate"
    require_columns(table, ["zone", "persona", "delivered", col, f"{metric}_ci_low", f"{metric}_ci_high"],
                    "content table")
    t = row_order(table, order_by or metric)
    ax = axes(ax, (8, 0.45 * len(t) + 1.5))
    y = np.arange(len(t))
    flag = t["too_little_data"].to_numpy(bool) if "too_little_data" in t else np.zeros(len(t), bool)
    ok = ~flag if (~flag).any() else np.ones(len(t), bool)
    hi_lim = min(1.0, float(t.loc[ok, f"{metric}_ci_high"].max()) * 1.1 + 0.005)
    lo, hi, rate = t[f"{metric}_ci_low"].to_numpy(float), t[f"{metric}_ci_high"].to_numpy(float), t[col].to_numpy(float)
    colors = np.where(flag, "#adb5bd", "#264653")
    ax.hlines(y, lo, np.minimum(hi, hi_lim), color=colors, lw=2)
    ax.scatter(np.minimum(rate, hi_lim), y, color=colors, zorder=3)
    for yy, v, h in zip(y, rate, hi):
        if h > hi_lim:  # clipped interval: an arrow and where it ends
            ax.annotate((f"{v:.0%}, " if v > hi_lim else "") + f"CI to {h:.0%} \u2192", (hi_lim, yy), xytext=(-2, 4),
                        textcoords="offset points", ha="right", fontsize=8, color="#6c757d")
    labels = [row_label(r) + (" *" if f else "") for r, f in zip(t.itertuples(), flag)]
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlim(0, hi_lim)
    _pct_axis(ax, "x")
    ax.set(title=f"{NAMES.get(metric, metric)} per delivered message, 95% Wilson CI"
                 + ("\n(* grey: too little data; axis set by the other rows)" if flag.any() else ""),
           xlabel=f"{NAMES.get(metric, metric).lower()} (% of delivered messages)", ylabel="")
    return ax


def content_panels(table: pd.DataFrame, metrics=("open", "assisted"), *, order_by: str | None = None):
    """One figure, one panel per metric, all on the same rows (ordered by ``order_by``, default
    the last metric); only the first panel writes the row labels, which belong to every panel.
    Returns the list of Axes."""
    import matplotlib.pyplot as plt

    order_by = order_by or metrics[-1]
    fig, axs = plt.subplots(1, len(metrics), figsize=(6.5 * len(metrics) + 2, 0.42 * len(table) + 2),
                            layout="constrained", sharey=True)
    axs = list(np.atleast_1d(axs))
    for ax, m in zip(axs, metrics):
        content_rates(table, metric=m, order_by=order_by, ax=ax)
    for ax in axs[1:]:
        ax.tick_params(labelleft=False)
    return axs


def grid_heatmap(table: pd.DataFrame, *, value: str = "click_rate", ax=None):
    """Heatmap of the persona x zone grid: rating colours, the rate and n written in each cell."""
    import matplotlib.patches as mpatches

    require_columns(table, ["persona", "zone", "delivered", value, "rating", "too_little_data"], "content grid")
    personas = [p for p in ("PM", "DEV", "CEO", "CFO", "CSO", "GC", "OTHER") if p in set(table["persona"])]
    zones = list(dict.fromkeys(table["zone"]))
    ax = axes(ax, (1.4 * len(zones) + 2, 0.7 * len(personas) + 1.8))
    cell = table.set_index(["persona", "zone"])
    for i, p in enumerate(personas):
        for j, zn in enumerate(zones):
            if (p, zn) not in cell.index:
                ax.add_patch(mpatches.Rectangle((j - 0.5, i - 0.5), 1, 1, color="white", ec="#ced4da"))
                continue
            r = cell.loc[(p, zn)]
            rating = None if bool(r["too_little_data"]) or pd.isna(r["rating"]) else r["rating"]
            ax.add_patch(mpatches.Rectangle((j - 0.5, i - 0.5), 1, 1, color=RATING_COLORS[rating], ec="white"))
            text = f"{r[value]:.1%}\nn={int(r['delivered']):,}" + ("" if rating else "\ntoo little data")
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_xlim(-0.5, len(zones) - 0.5)
    ax.set_ylim(len(personas) - 0.5, -0.5)
    ax.set_xticks(range(len(zones)), [z.replace("_", " ") for z in zones], rotation=20, ha="right")
    ax.set_yticks(range(len(personas)), personas)
    handles = [mpatches.Patch(color=c, label=k or "too little data (no rating)") for k, c in RATING_COLORS.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, title="within persona")
    ax.set(title=f"{value.replace('_', ' ')} per delivered message by persona x zone (rating within persona)",
           xlabel="zone", ylabel="recipient persona")
    return ax


__all__ = ["content_rates", "content_panels", "grid_heatmap", "row_order", "row_label", "RATING_COLORS"]
