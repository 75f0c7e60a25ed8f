"""Figures for the report notebooks (seaborn / matplotlib).

Every function takes the package's result tables, draws one figure with a title and axis
labels that carry units, and returns the ``matplotlib.axes.Axes`` it drew on (pass ``ax=`` to
draw into an existing figure). Rates are shown as percentages with their 95% intervals.

Rules every figure follows: colours from the Okabe-Ito colour-blind-safe palette
(:data:`OKABE_ITO`); a rate's ticks say ``%`` and a difference of rates' ticks say ``pp``
(percentage points), as its axis label does; legends sit outside the plotting area, so they
never cover data; groups below the minimum size are drawn as "too little data" or left out
with a note on the figure; a comparison that is not randomized carries a note saying so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.errors import MofInputError

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
#: Ordered so that neighbours differ most (orange and vermillion, the two closest, are far apart).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
GREY, LIGHT_GREY = "#7f7f7f", "#bdbdbd"
PALETTE = {"production": "#009E73", "sandbox": "#E69F00", "signed_up": LIGHT_GREY,
           "not emailed": GREY, "no opens": "#D55E00", "1 open": "#56B4E9", "2+ opens": "#0072B2",
           "treated": "#0072B2", "control": GREY}
OBSERVATIONAL = "Observational: the groups differ in more than this label; not a causal comparison."


def axes(ax=None, figsize=(7, 4)):
    """``ax`` if given, else the Axes of a new figure of ``figsize`` inches (constrained layout)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _pct_axis(ax, axis: str = "x") -> None:
    """Ticks of a share (fractions) in %: no decimals unless the axis spans under 5 points."""
    from matplotlib.ticker import PercentFormatter

    lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(1.0, decimals=0 if hi - lo >= 0.05 else 1))


def _pp_axis(ax, axis: str = "y") -> None:
    """Ticks of a difference of rates (fractions) in signed percentage points: ``+3 pp``."""
    from matplotlib.ticker import FuncFormatter

    f = FuncFormatter(lambda v, _: f"{100 * v:+.0f} pp" if abs(v) > 1e-12 else "0 pp")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(f)


def _note(ax, text: str) -> None:
    """A note under the figure (the reader's caveat, on the figure itself; laid out with it)."""
    import textwrap

    ax.figure.supxlabel("\n".join(textwrap.wrap(text, 110)), fontsize=8, color="#444444", x=0.01, ha="left")


def _legend_outside(ax, title=None, **kw) -> None:
    ax.legend(title=title, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kw)


def funnel_stages(funnel: pd.DataFrame, *, ax=None):
    """Bar chart: companies per funnel stage (count, with the share written on each bar)."""
    require_columns(funnel, ["stage"], "funnel")
    stages = ["signed_up", "sandbox", "production"]
    counts = funnel["stage"].value_counts().reindex(stages, fill_value=0)
    ax = axes(ax, (6, 3.5))
    names = {"signed_up": "signed up only", "sandbox": "in sandbox", "production": "in production"}
    ax.bar([names[s] for s in stages], counts.to_numpy(), color=[PALETTE[s] for s in stages])
    n = max(int(counts.sum()), 1)
    for i, v in enumerate(counts.to_numpy()):
        ax.annotate(f"{v:,}\n({v / n:.0%})", (i, v), ha="center", va="bottom", fontsize=9)
    ax.set_ylim(0, counts.max() * 1.25 + 1)
    ax.set(title=f"Funnel stage of {n:,} companies", xlabel="stage", ylabel="companies (count)")
    return ax


def survival_curves(curves: pd.DataFrame, *, group: str = "tier", ax=None, title: str | None = None,
                    xmax: float | None = 60.0, min_n: int = 30, small: str = "omit", note: str | None = None,
                    xlabel: str = "days since time zero", legend_title: str | None = None):
    """Kaplan-Meier step curves with pointwise 95% bands: share still not in production over time.

    ``curves`` is :attr:`mof_experiments.survival.KaplanMeier.curves` (or any frame with
    ``group``, time, surv, ci_low, ci_high). When it has the column ``n`` (companies per group)
    the legend shows it, and a group with fewer than ``min_n`` companies is left out with a note
    under the figure (``small="omit"``, default: a few companies make sharp, meaningless drops) or
    drawn dashed, without its band, labelled "too little data" (``small="dashed"``). ``note``
    adds a caveat under the figure (e.g. that the comparison is observational). The legend sits
    outside the plotting area.
    """
    require_columns(curves, [group, "time", "surv", "ci_low", "ci_high"], "curves")
    if small not in ("omit", "dashed"):
        raise MofInputError(f"small must be 'omit' or 'dashed', got {small!r}")
    ax = axes(ax, (8, 4))
    groups = curves[group].cat.categories if hasattr(curves[group], "cat") else curves[group].unique()
    omitted, drawn = [], 0
    for g in groups:
        d = curves[curves[group] == g]
        if d.empty:
            continue
        n = int(d["n"].iloc[0]) if "n" in d.columns else None
        few = n is not None and n < min_n
        if few and small == "omit":
            omitted.append(f"{g} (n = {n:,})")
            continue
        color = PALETTE.get(str(g), OKABE_ITO[drawn % len(OKABE_ITO)])
        drawn += 1
        label = str(g) if n is None else f"{g} (n = {n:,}{', too little data' if few else ''})"
        ax.step(d["time"], d["surv"], where="post", label=label, color=color, lw=1.5 if few else 2,
                ls="--" if few else "-")
        if not few:
            ax.fill_between(d["time"], d["ci_low"], d["ci_high"], step="post", alpha=0.15, color=color)
    if xmax is not None:
        ax.set_xlim(0, xmax)
    ax.set_ylim(None, 1.01)
    _pct_axis(ax, "y")
    ax.set(title=title or "Time to first working app (Kaplan-Meier, 95% CI)",
           xlabel=xlabel, ylabel="not yet in production (%)")
    _legend_outside(ax, legend_title if legend_title is not None else group.replace("_", " "))
    notes = ([f"Left out, fewer than {min_n} companies: {', '.join(omitted)}."] if omitted else []) + ([note] if note else [])
    if notes:
        _note(ax, " ".join(notes))
    return ax


def rates_by_outcome(rates: pd.DataFrame, *, ax=None):
    """Grouped bars: open and click rate per delivered message, converters vs still in sandbox."""
    require_columns(rates, ["group", "open_rate", "open_ci_low", "open_ci_high", "click_rate", "click_ci_low",
                  "click_ci_high", "delivered"], "rates")
    ax = axes(ax, (8, 4))
    width = 0.38
    x = np.arange(2)
    for j, (_, r) in enumerate(rates.iterrows()):
        vals = np.array([r["open_rate"], r["click_rate"]])
        lo = vals - np.array([r["open_ci_low"], r["click_ci_low"]])
        hi = np.array([r["open_ci_high"], r["click_ci_high"]]) - vals
        pos = x + (j - 0.5) * width
        ax.bar(pos, vals, width, yerr=[lo, hi], capsize=4, color=PALETTE.get(r["group"]),
               label=f"{r['group']} (n = {int(r['delivered']):,} messages)")
        for p, v in zip(pos, vals):
            ax.annotate(f"{v:.0%}", (p, v), xytext=(0, 12), textcoords="offset points", ha="center", fontsize=9)
    ax.set_xticks(x, ["open rate", "click rate"])
    _pct_axis(ax, "y")
    ax.set_ylim(0, min(1.0, float(rates["open_ci_high"].max()) * 1.3))
    ax.set(title="Open and click rates: companies in production vs still in sandbox (all emails sent)",
           xlabel="", ylabel="per delivered message (%)")
    _legend_outside(ax)
    _note(ax, OBSERVATIONAL + " Companies that convert were more engaged to begin with.")
    return ax


def prob_best_bars(table: pd.DataFrame, persona: str, *, ax=None):
    """Bars: posterior probability that each content is the best for ``persona``
    (:func:`mof_experiments.attribution.prob_best` output)."""
    require_columns(table, ["persona", "zone", "topic", "prob_best"], "content table")
    t = table[table["persona"] == persona].sort_values("prob_best")
    if t.empty:
        raise MofInputError(f"no content for persona {persona!r}", source="content table")
    ax = axes(ax, (7, 0.5 * len(t) + 1.5))
    labels = [f"{z.replace('_', ' ')} / {tp.replace('_', ' ')}" for z, tp in zip(t["zone"], t["topic"])]
    ax.barh(labels, t["prob_best"], color=OKABE_ITO[0])
    for i, v in enumerate(t["prob_best"]):
        ax.annotate(f"{v:.0%}", (v, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set_xlim(0, 1.1)
    _pct_axis(ax, "x")
    ax.set(title=f"{persona}: probability of having the highest assisted-conversion rate",
           xlabel="posterior probability of being best (%)", ylabel="")
    return ax


def arm_rates(summary: pd.DataFrame, *, ax=None, title: str | None = None):
    """Bars with 95% CIs: conversion within the window per arm or arm group.

    ``summary`` is :attr:`mof_experiments.experiments.HoldoutEffect.summary` (one row per
    ``group``: treated / control, with ``arms``) or a :attr:`~mof_experiments.experiments.Readout.summary`
    of one outcome (one row per ``arm``, ``is_control``), as they are: columns n, rate, ci_low,
    ci_high. Each bar is labelled with its group or arm and its n.
    """
    require_columns(summary, ["n", "rate", "ci_low", "ci_high"], "summary")
    if "outcome" in summary.columns and summary["outcome"].nunique() > 1:
        raise MofInputError(f"summary has {summary['outcome'].nunique()} outcomes: select one", source="summary",
                            column="outcome")
    if "group" in summary.columns:
        names = summary["group"].astype(str).tolist()
        detail = summary["arms"].astype(str).tolist() if "arms" in summary.columns else names
        colors = [PALETTE.get(g, OKABE_ITO[0]) for g in names]
    else:
        require_columns(summary, ["arm"], "summary")
        names = summary["arm"].astype(str).tolist()
        control = summary["is_control"].astype(bool).tolist() if "is_control" in summary.columns else [False] * len(names)
        detail = ["control" if c else "treated" for c in control]
        colors = [PALETTE["control" if c else "treated"] for c in control]
    ax = axes(ax, (5.5, 4))
    lab = [f"{g}\n({d}, n = {int(n):,})" for g, d, n in zip(names, detail, summary["n"])]
    vals = summary["rate"].to_numpy(float)
    err = [vals - summary["ci_low"].to_numpy(float), summary["ci_high"].to_numpy(float) - vals]
    ax.bar(lab, vals, yerr=err, capsize=5, color=colors)
    for i, v in enumerate(vals):
        ax.annotate(f"{v:.1%}", (i, v / 2), ha="center", va="center", color="white", fontweight="bold")
    _pct_axis(ax, "y")
    ax.set_ylim(0, float(summary["ci_high"].max()) * 1.3)
    ax.set(title=title or "Conversion within the window: emailed vs randomized holdout",
           xlabel="", ylabel="converted within window (% of companies)")
    return ax


def correlation_vs_causation(rows: pd.DataFrame, *, ax=None, title: str | None = None):
    """Side-by-side estimates with CIs (columns: label, estimate, ci_low, ci_high), in proportion
    points, e.g. the observational difference in conversion vs the randomized effect."""
    require_columns(rows, ["label", "estimate", "ci_low", "ci_high"], "rows")
    ax = axes(ax, (7, 0.7 * len(rows) + 1.6))
    y = np.arange(len(rows))
    ax.errorbar(rows["estimate"], y, xerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
                fmt="o", color=OKABE_ITO[0], capsize=4)
    for yi, (v, lo, hi) in enumerate(zip(rows["estimate"], rows["ci_low"], rows["ci_high"])):
        ax.annotate(f"{100 * v:+.1f} pp", (v, yi), xytext=(0, 8), textcoords="offset points", ha="center", fontsize=9)
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(y, rows["label"])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    _pp_axis(ax, "x")
    ax.set(title=title or "Correlation vs causal effect (95% CI)", xlabel="difference in conversion rate (percentage points)",
           ylabel="")
    return ax


def uplift_by_bin(table: pd.DataFrame, *, x: str = "bin", ax=None, title: str | None = None):
    """Bars: observed uplift (treated - control conversion) per predicted-uplift group, with CIs.

    ``table`` is :func:`mof_experiments.uplift.uplift_by_percentile` output as it is (columns
    ``x``, uplift, uplift_ci_low, uplift_ci_high, in proportion points); ``x`` is ``bin``
    (1 = highest predicted uplift) or ``percentile``.
    """
    require_columns(table, [x, "uplift", "uplift_ci_low", "uplift_ci_high"], "uplift table")
    ax = axes(ax, (7, 4))
    vals = table["uplift"].to_numpy(float)
    ax.bar(table[x].astype(str), vals, yerr=[vals - table["uplift_ci_low"], table["uplift_ci_high"] - vals],
           capsize=4, color=OKABE_ITO[0])
    ax.axhline(0, color="grey", lw=1)
    _pp_axis(ax, "y")
    xlabel = "predicted-uplift group (1 = highest)" if x == "bin" else f"{x} of predicted uplift (best first)"
    ax.set(title=title or "Observed uplift by predicted-uplift group (95% CI)", xlabel=xlabel,
           ylabel="observed uplift (percentage points)")
    return ax


def sequential_band(path: pd.DataFrame, *, arm: str | None = None, control: str = "control", alpha: float = 0.05,
                    ax=None, title: str | None = None):
    """Cumulative lift over time with its confidence sequence and the fixed-horizon interval.

    ``path`` is :attr:`mof_experiments.stats.SequentialPath.summary` as it is (one row per look
    and arm: look, arm, lift, lift_ci_low, lift_ci_high, seq_ci_low, seq_ci_high, low_data;
    ``events`` tells a rate from a mean); ``arm`` selects one treatment arm (required when
    there are several); ``control`` names the control arm in the labels. Drawn: the band ``seq_ci_low``..``seq_ci_high`` (shaded, valid at
    every look), the fixed-horizon interval (dashed lines, valid only when read once), the
    lift (line), 0 (grey), the looks with too little data (grey span) and the first look
    whose band excludes 0 (dotted line). The y range covers the band where there is enough
    data (the first looks' bands can be very wide). Rates are in percentage points.
    """
    require_columns(path, ["look", "arm", "lift", "lift_ci_low", "lift_ci_high", "seq_ci_low", "seq_ci_high",
                           "low_data"], "sequential path")
    arms = list(dict.fromkeys(path["arm"].astype(str)))
    if arm is None:
        if len(arms) != 1:
            raise MofInputError(f"path has {len(arms)} arms ({', '.join(arms)}): choose one with arm=",
                                source="sequential path", column="arm")
        arm = arms[0]
    d = path[path["arm"].astype(str) == str(arm)].reset_index(drop=True)
    if d.empty:
        raise MofInputError(f"no looks for arm {arm!r} (arms: {', '.join(arms)})", source="sequential path",
                            column="arm")
    rate = "events" in d.columns and d["events"].notna().all()
    x = pd.to_datetime(d["look"]) if not pd.api.types.is_numeric_dtype(d["look"]) else d["look"]
    low = d["low_data"].to_numpy(bool)
    level = f"{1 - alpha:.0%}"
    ax = axes(ax, (10, 4.2))
    ax.fill_between(x, d["seq_ci_low"], d["seq_ci_high"], color=OKABE_ITO[0], alpha=0.25, lw=0,
                    label=f"{level} confidence sequence (valid at every look)")
    ax.plot(x, d["lift_ci_low"], color=OKABE_ITO[5], ls="--", lw=1.2,
            label=f"{level} fixed-horizon interval (valid only if read once)")
    ax.plot(x, d["lift_ci_high"], color=OKABE_ITO[5], ls="--", lw=1.2, label="_nolegend_")
    ax.plot(x, d["lift"], color="#000000", lw=2, label=f"cumulative lift ({arm} - {control})")
    ax.axhline(0, color="grey", lw=1)
    if low.any():
        last_low = int(np.flatnonzero(low)[-1])
        ax.axvspan(x.iloc[0], x.iloc[min(last_low + 1, len(d) - 1)], color="0.85", alpha=0.6, lw=0,
                   label="too little data (an arm < 30 units or < 5 events)")
    hit = np.flatnonzero((d["seq_ci_low"].to_numpy() > 0) | (d["seq_ci_high"].to_numpy() < 0))
    if len(hit):
        ax.axvline(x.iloc[hit[0]], color="#000000", ls=":", lw=1.2,
                   label=f"band first excludes 0 ({pd.Timestamp(x.iloc[hit[0]]):%Y-%m-%d})"
                   if not pd.api.types.is_numeric_dtype(x) else f"band first excludes 0 (look {x.iloc[hit[0]]})")
    ok = ~low if (~low).any() else np.ones(len(d), bool)
    lo = float(np.nanmin(np.r_[d["seq_ci_low"].to_numpy()[ok], d["lift_ci_low"].to_numpy()[ok], 0.0]))
    hi = float(np.nanmax(np.r_[d["seq_ci_high"].to_numpy()[ok], d["lift_ci_high"].to_numpy()[ok], 0.0]))
    pad = 0.08 * (hi - lo if hi > lo else 1.0)
    ax.set_ylim(lo - pad, hi + pad)
    if rate:
        _pp_axis(ax, "y")
    ax.set(title=title or f"{arm} vs {control}: cumulative lift, {level} confidence sequence and fixed interval",
           xlabel="look (end of day, UTC)" if not pd.api.types.is_numeric_dtype(x) else "look",
           ylabel="lift (percentage points)" if rate else "lift (difference of means)")
    _legend_outside(ax, fontsize=8)
    if not pd.api.types.is_numeric_dtype(x):
        ax.figure.autofmt_xdate()
    return ax


def first_app_groups(table: pd.DataFrame, dimension: str, *, ax=None, title: str | None = None,
                     landmark_days: float | None = None, note: bool = True):
    """Dots with 95% intervals: share with a first working app within the horizon, per group of
    one ``dimension`` of :func:`mof_experiments.first_app.first_app_by_group` (as it is).

    Each label carries the group's n; groups flagged ``too_little_data`` are drawn hollow and
    grey and labelled so. A note says the comparison is observational (randomized for
    ``dimension == "arm"``, apart from the "not enrolled" group).
    """
    require_columns(table, ["dimension", "group", "companies", "converted_by", "ci_low", "ci_high",
                            "too_little_data", "horizon_days"], "first-app table")
    t = table[table["dimension"] == dimension].sort_values("converted_by").reset_index(drop=True)
    if t.empty:
        raise MofInputError(f"no groups for dimension {dimension!r}", source="first-app table", column="dimension")
    ax = axes(ax, (8, 0.42 * len(t) + 1.9))
    y = np.arange(len(t))
    few = t["too_little_data"].to_numpy(bool)
    for yi, r, f in zip(y, t.itertuples(), few):
        color = LIGHT_GREY if f else OKABE_ITO[0]
        ax.hlines(yi, r.ci_low, r.ci_high, color=color, lw=2)
        ax.scatter([r.converted_by], [yi], s=36, zorder=3, color="white" if f else color, edgecolors=color)
        ax.annotate(f"{r.converted_by:.0%}", (r.ci_high, yi), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8, color="#444444")
    labels = [f"{str(r.group).replace('_', ' ')} (n = {r.companies:,}{', too little data' if f else ''})"
              for r, f in zip(t.itertuples(), few)]
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlim(0, min(1.0, float(t["ci_high"].max()) + 0.12))
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    h = float(t["horizon_days"].iloc[0])
    when = f"{landmark_days:g} days after the first sandbox call" if landmark_days is not None else "the landmark"
    ax.set(title=title if title is not None else
           f"First working app within {h:g} days of the landmark, by {dimension.replace('_', ' ')}\n(measured {when})",
           xlabel=f"first working app within {h:g} days of the landmark (Kaplan-Meier, 95% CI)", ylabel="")
    if note:
        caveat = ("Arms are randomized; 'not enrolled by landmark' is not." if dimension == "arm" else OBSERVATIONAL)
        _note(ax, f"Companies still not in production at the landmark. {caveat}"
              + (" Hollow grey: fewer than 30 companies." if few.any() else ""))
    return ax


def first_app_panel(table: pd.DataFrame, *, dimensions=None, landmark_days: float | None = None):
    """All dimensions of :func:`mof_experiments.first_app.first_app_by_group` in one figure: one
    :func:`first_app_groups` panel per dimension (same x axis), one title, one note. Returns the
    array of Axes."""
    import matplotlib.pyplot as plt

    require_columns(table, ["dimension", "group", "horizon_days", "too_little_data"], "first-app table")
    dims = list(dimensions) if dimensions is not None else list(dict.fromkeys(table["dimension"]))
    sizes = [max(int((table["dimension"] == d).sum()), 1) for d in dims]
    fig, axs = plt.subplots(len(dims), 1, figsize=(9, 0.34 * sum(sizes) + 1.0 * len(dims) + 1.2),
                            height_ratios=[s + 1.5 for s in sizes], sharex=True, layout="constrained", squeeze=False)
    axs = axs[:, 0]
    for ax, d in zip(axs, dims):
        first_app_groups(table, d, ax=ax, title="", note=False)
        ax.set_title({"archetype": "archetype (the simulator's truth)"}.get(d, d.replace("_", " ")), loc="left",
                     fontweight="bold")
        ax.set_xlabel("")
    h = float(table["horizon_days"].iloc[0])
    axs[-1].set_xlabel(f"first working app within {h:g} days of the landmark (Kaplan-Meier, 95% CI)")
    hi = float(table.loc[table["dimension"].isin(dims), "ci_high"].max())
    axs[-1].set_xlim(0, min(1.0, hi + 0.12))
    when = f"{landmark_days:g} days after the first sandbox call" if landmark_days is not None else "the landmark"
    fig.suptitle(f"First working app within {h:g} days of the landmark, by group measured {when}\n"
                 "(companies still not in production at the landmark)")
    few = table["dimension"].isin(dims) & table["too_little_data"].astype(bool)
    _note(axs[-1], OBSERVATIONAL + " Arms are randomized (except 'not enrolled by landmark')."
          + (" Hollow grey: fewer than 30 companies." if few.any() else ""))
    return axs


def cohort_trend(weekly: pd.DataFrame, *, ax=None, title: str | None = None):
    """Share converted within the horizon by sign-up week with 95% intervals
    (:func:`mof_experiments.first_app.weekly_cohorts` as it is); weeks whose window is not over are
    left out, with a note."""
    require_columns(weekly, ["week", "companies", "rate", "ci_low", "ci_high", "complete"], "weekly cohorts")
    w = weekly[weekly["complete"].astype(bool)]
    if w.empty:
        raise MofInputError("no sign-up week has its whole window observed yet", source="weekly cohorts",
                            column="complete")
    ax = axes(ax, (8, 3.8))
    x = pd.to_datetime(w["week"])
    ax.fill_between(x, w["ci_low"], w["ci_high"], color=OKABE_ITO[0], alpha=0.2, lw=0, label="95% CI")
    ax.plot(x, w["rate"], marker="o", ms=3, color=OKABE_ITO[0], label="share converted")
    _pct_axis(ax, "y")
    ax.set_ylim(0, min(1.0, float(w["ci_high"].max()) * 1.2))
    ax.set(title=title or "First working app within 30 days of sign-up, by sign-up week",
           xlabel="sign-up week (Monday, UTC)", ylabel="converted (% of companies)")
    _legend_outside(ax)
    left = int((~weekly["complete"].astype(bool)).sum())
    _note(ax, f"All companies that signed up in the week (n = {int(w['companies'].min()):,} to "
              f"{int(w['companies'].max()):,} per week)."
          + (f" The last {left} week(s) are left out: their window is not over yet." if left else ""))
    ax.figure.autofmt_xdate()
    return ax


__all__ = ["axes", "funnel_stages", "survival_curves", "rates_by_outcome", "prob_best_bars", "arm_rates",
           "correlation_vs_causation", "uplift_by_bin", "sequential_band", "first_app_groups", "first_app_panel", "cohort_trend", "PALETTE",
           "OKABE_ITO", "OBSERVATIONAL"]
