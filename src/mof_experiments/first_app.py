"""Time to first working app (TTFWA): the funnel's headline, by group measured at a landmark.

The headline (:func:`first_app_headline`) is never empty: among the companies that made an API
call, the Kaplan-Meier share with a first working app within ``horizon_days`` of sign-up (with
its 95% CI), the median among converted companies only (labelled so: it is biased low, slow companies have not
converted yet), and the Kaplan-Meier median, or "not reached: X% by day N" when fewer than half
have converted.

By group, at a landmark (:func:`landmark_cohort`, :func:`landmark_groups`, :func:`first_app_by_group`)
-----------------------------------------------------------------------------------------------------
A segment computed at the end of the period is partly defined by the outcome (a company that
went live is by definition not "stuck in sandbox", so sandbox-only segments show 0% conversion).
Here every group is measured **at the landmark**, ``landmark_days`` after the company's first
sandbox call, from events **before** it; only companies still not in production and still
observed at the landmark are followed, and time to first working app is counted **from the
landmark**. No group can therefore be defined by what happens afterwards. Groups (``dimension``):

- ``segment``: the behavioral rule segments (``segments.yaml``) evaluated on the behavior as of
  the landmark (:func:`mof_experiments.segments.behavior.behavior_at`); a company may be in several;
- ``persona_mix``: who works at the company (job titles are known at sign-up): ``developers only``,
  ``developers + business``, ``business only``, ``no known persona``;
- ``plan``: the company's plan;
- ``arm``: the experiment arm if assigned before the landmark, else ``not enrolled by landmark``;
- ``cluster``: KMeans clusters fitted on the landmark behavior (optional);
- ``archetype``: the simulator's truth (simulated workspaces only; for checking).

Comparisons between groups are **observational** (groups differ in more than their label),
except between randomized arms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mof_experiments.checks import isin, require_columns
from mof_experiments.dates import SECONDS_PER_DAY
from mof_experiments.errors import MofInputError
from mof_experiments.survival import kaplan_meier, time_to_production_table

#: Groups smaller than this are flagged ``too_little_data`` (drawn as such, not compared).
MIN_GROUP = 30
BUSINESS = ("PM", "CEO", "CFO", "GC", "CSO")
COHORT_COLUMNS = ("company_id", "first_sandbox_at", "landmark_at", "duration", "event")
BY_GROUP_COLUMNS = ("dimension", "group", "companies", "events", "converted_by", "ci_low", "ci_high",
                    "median_converted_days", "km_median_days", "km_median", "too_little_data", "horizon_days")


def _km_median_text(med: float, share: float, horizon: float) -> str:
    if med is None or not np.isfinite(med):
        return f"not reached: {share:.0%} by day {horizon:g}"
    return f"{med:.1f} days"


@dataclass(frozen=True)
class FirstAppHeadline:
    """The never-empty TTFWA headline. ``companies`` (made a first API call), ``converted``
    (reached production by ``as_of``), ``converted_by`` (Kaplan-Meier share within
    ``horizon_days`` of sign-up) with ``ci``, ``median_converted_days`` (converted
    companies only; biased low), ``km_median_days`` (NaN when not reached) and ``km_median``
    (its text: ``"12.3 days"`` or ``"not reached: 34% by day 30"``), ``followed_days`` (the longest
    follow-up; when it is shorter than ``horizon_days`` the share is the one at ``followed_days``
    and the texts say so)."""

    companies: int
    converted: int
    converted_by: float
    ci: tuple
    median_converted_days: float
    km_median_days: float
    km_median: str
    horizon_days: float
    followed_days: float = float("inf")

    @property
    def window_days(self) -> float:
        """The window the share is measured over: ``horizon_days``, or less if nobody was followed that long."""
        return min(self.horizon_days, self.followed_days)

    @property
    def summary(self) -> pd.DataFrame:
        h = self.window_days
        return pd.DataFrame([
            ("companies that made a first API call", f"{self.companies:,}"),
            (f"first working app within {h:g} days (Kaplan-Meier, 95% CI)",
             f"{self.converted_by:.0%} ({self.ci[0]:.0%} to {self.ci[1]:.0%})"),
            ("median days, Kaplan-Meier (all companies)", self.km_median),
            (f"median days, converted companies only (n = {self.converted:,}; biased low)",
             f"{self.median_converted_days:.1f}" if np.isfinite(self.median_converted_days) else "none converted"),
        ], columns=["measure", "value"])

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


def first_app_headline(funnel: pd.DataFrame, *, horizon_days: float = 30.0) -> FirstAppHeadline:
    """TTFWA headline over the companies that made a first API call (time zero: sign-up, as in
    ``days_to_production``; censored at ``as_of``; see the module docstring)."""
    ttp = time_to_production_table(funnel)
    if ttp.empty:
        raise MofInputError("no company made an API call: time to first working app is undefined", source="funnel",
                            column="first_call_at")
    km = kaplan_meier(ttp, group="group", horizon_days=horizon_days)
    r = km.summary.iloc[0]
    conv = ttp.loc[ttp["event"] == 1, "duration"]
    med = float(r["median_days"])
    followed = float(ttp["duration"].max())
    return FirstAppHeadline(companies=len(ttp), converted=len(conv), converted_by=float(r["converted_by"]),
                            ci=(float(r["converted_by_ci_low"]), float(r["converted_by_ci_high"])),
                            median_converted_days=float(conv.median()) if len(conv) else float("nan"),
                            km_median_days=med,
                            km_median=_km_median_text(med, float(r["converted_by"]), min(horizon_days, followed)),
                            horizon_days=horizon_days, followed_days=followed)


def landmark_cohort(funnel: pd.DataFrame, as_of, *, landmark_days: float = 7.0) -> pd.DataFrame:
    """The companies followed from their landmark: first sandbox call + ``landmark_days``.

    Kept: a first sandbox call, landmark at or before ``as_of``, not in production before the
    landmark. Returns ``COHORT_COLUMNS``: ``duration`` (days from the landmark to the first
    working app, or to ``as_of`` if censored) and ``event`` (1 = reached production).
    """
    require_columns(funnel, ["company_id", "first_sandbox_at", "first_production_at"], "funnel")
    if not landmark_days >= 0:
        raise MofInputError(f"landmark_days must be >= 0, got {landmark_days!r}")
    end = pd.Timestamp(as_of)
    end = end.tz_localize("UTC") if end.tzinfo is None else end
    f = funnel[funnel["first_sandbox_at"].notna()].copy()
    f["landmark_at"] = f["first_sandbox_at"] + pd.Timedelta(days=landmark_days)
    fp = f["first_production_at"]
    keep = (f["landmark_at"] <= end) & ~(fp < f["landmark_at"]).fillna(False).astype(bool)
    f = f[keep.to_numpy()]
    conv = f["first_production_at"].notna() & (f["first_production_at"] < end)
    stop = f["first_production_at"].where(conv, end)
    f["duration"] = (stop - f["landmark_at"]).dt.total_seconds() / SECONDS_PER_DAY
    f["event"] = conv.astype("int64")
    return f[list(COHORT_COLUMNS)].reset_index(drop=True)


def persona_mix(personas: pd.DataFrame) -> pd.Series:
    """Company -> persona mix (``developers only``, ``developers + business``, ``business only``,
    ``no known persona``) from the contacts' personas (``personas`` table: contact_id,
    company_id, persona; job titles are known at sign-up). Business = PM, CEO, CFO, GC, CSO."""
    require_columns(personas, ["company_id", "persona"], "personas")
    p = personas
    g = p.assign(dev=p["persona"] == "DEV", biz=p["persona"].isin(BUSINESS)).groupby("company_id")[["dev", "biz"]].any()
    mix = np.select([g["dev"] & g["biz"], g["dev"], g["biz"]], ["developers + business", "developers only",
                                                               "business only"], "no known persona")
    return pd.Series(mix, index=g.index.astype(str), name="persona_mix")


def landmark_groups(cohort: pd.DataFrame, *, behavior: pd.DataFrame | None = None, rules=None,
                    companies: pd.DataFrame | None = None, mix: pd.Series | None = None,
                    assignments: pd.DataFrame | None = None, experiment_id: str | None = None,
                    truth: pd.DataFrame | None = None, clusters: pd.Series | None = None) -> pd.DataFrame:
    """Long table (company_id, dimension, group) of the cohort's groups, all known at the landmark.

    ``behavior``: :func:`~mof_experiments.segments.behavior.behavior_at` with ``cutoff_at =
    landmark_at`` (rule segments, plus ``no segment``); ``companies``: plans; ``mix``:
    :func:`persona_mix`; ``assignments``: arms assigned before the landmark; ``truth``:
    ``sim_truth`` (archetype); ``clusters``: company -> cluster fitted on landmark behavior.
    """
    from mof_experiments.segments.rules import assign_segments

    ids = cohort["company_id"].astype(str)
    parts = []

    def add(dim, values):
        parts.append(pd.DataFrame({"company_id": ids.to_numpy(), "dimension": dim,
                                   "group": values.astype(str).to_numpy()}))

    if behavior is not None:
        segs = assign_segments(behavior[isin(behavior["company_id"], ids)], rules)
        none = sorted(ids[~isin(ids, segs["company_id"])].unique().tolist())
        parts.append(pd.concat([segs.rename(columns={"segment": "group"}).assign(dimension="segment"),
                                pd.DataFrame({"company_id": none, "group": "no segment", "dimension": "segment"})]))
    if mix is not None:
        add("persona_mix", ids.map(mix).fillna("no known persona"))
    if companies is not None and "plan" in companies:
        add("plan", ids.map(companies.set_index("company_id")["plan"]).fillna("unknown"))
    if assignments is not None:
        a = assignments if experiment_id is None else assignments[assignments["experiment_id"] == experiment_id]
        a = a.sort_values("assigned_at", kind="stable").drop_duplicates("company_id").set_index("company_id")
        lm = cohort.set_index("company_id")["landmark_at"]
        arm = ids.map(a["arm"]).where(ids.map(a["assigned_at"]).to_numpy() < lm.reindex(ids).to_numpy())
        add("arm", arm.fillna("not enrolled by landmark"))
    if clusters is not None:
        add("cluster", ids.map(clusters).map(lambda c: f"cluster {c}" if pd.notna(c) else "unknown"))
    if truth is not None:
        add("archetype", ids.map(truth.set_index("company_id")["archetype"]).fillna("unknown"))
    if not parts:
        raise MofInputError("landmark_groups needs at least one source of groups")
    return pd.concat(parts, ignore_index=True)[["company_id", "dimension", "group"]]


def first_app_by_group(cohort: pd.DataFrame, groups: pd.DataFrame, *, horizon_days: float = 30.0,
                       min_n: int = MIN_GROUP) -> pd.DataFrame:
    """TTFWA from the landmark per (dimension, group): Kaplan-Meier share converted within
    ``horizon_days`` of the landmark with its 95% CI, the converted-only median, the KM median
    (or "not reached"), ``too_little_data`` when a group has fewer than ``min_n`` companies.
    Returns ``BY_GROUP_COLUMNS``, largest groups first within a dimension."""
    require_columns(cohort, list(COHORT_COLUMNS), "cohort")
    require_columns(groups, ["company_id", "dimension", "group"], "groups")
    d = groups.merge(cohort[["company_id", "duration", "event"]], on="company_id")
    rows = []
    for (dim, g), x in d.groupby(["dimension", "group"], sort=False):
        km = kaplan_meier(x.assign(_g=g), group="_g", horizon_days=horizon_days).summary.iloc[0]
        med = float(km["median_days"])
        conv = x.loc[x["event"] == 1, "duration"]
        rows.append(dict(dimension=dim, group=g, companies=len(x), events=int(x["event"].sum()),
                         converted_by=float(km["converted_by"]), ci_low=float(km["converted_by_ci_low"]),
                         ci_high=float(km["converted_by_ci_high"]),
                         median_converted_days=float(conv.median()) if len(conv) else np.nan, km_median_days=med,
                         km_median=_km_median_text(med, float(km["converted_by"]), horizon_days),
                         too_little_data=len(x) < min_n, horizon_days=horizon_days))
    out = pd.DataFrame(rows, columns=list(BY_GROUP_COLUMNS))
    dims = list(dict.fromkeys(groups["dimension"]))
    out["_d"] = out["dimension"].map({k: i for i, k in enumerate(dims)})
    return out.sort_values(["_d", "companies"], ascending=[True, False]).drop(columns="_d").reset_index(drop=True)


def weekly_cohorts(funnel: pd.DataFrame, as_of, *, horizon_days: float = 30.0) -> pd.DataFrame:
    """Conversion trend by sign-up week: per ISO week (Monday, UTC) of ``signup_at``, the share of
    companies with a first working app within ``horizon_days`` of sign-up, with a 95% Wilson CI
    (statsmodels). Only weeks whose every company has been observed ``horizon_days`` are rated
    (``complete``); later weeks keep their counts and a NaN rate.

    Columns: week, companies, converted, rate, ci_low, ci_high, complete.
    """
    from statsmodels.stats.proportion import proportion_confint

    require_columns(funnel, ["signup_at", "first_production_at"], "funnel")
    end = pd.Timestamp(as_of)
    end = end.tz_localize("UTC") if end.tzinfo is None else end
    f = funnel[funnel["signup_at"] < end]
    week = f["signup_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
    days = (f["first_production_at"] - f["signup_at"]).dt.total_seconds() / SECONDS_PER_DAY
    conv = (days <= horizon_days).fillna(False).astype(bool)
    g = pd.DataFrame({"week": week.to_numpy(), "conv": conv.to_numpy()}).groupby("week")["conv"].agg(["size", "sum"])
    out = g.rename(columns={"size": "companies", "sum": "converted"}).reset_index()
    week_end = out["week"].dt.tz_localize("UTC") + pd.Timedelta(days=7)
    out["complete"] = (week_end + pd.Timedelta(days=horizon_days)) <= end
    lo, hi = proportion_confint(out["converted"], out["companies"], method="wilson")
    out["rate"] = np.where(out["complete"], out["converted"] / out["companies"], np.nan)
    out["ci_low"] = np.where(out["complete"], lo, np.nan)
    out["ci_high"] = np.where(out["complete"], hi, np.nan)
    return out[["week", "companies", "converted", "rate", "ci_low", "ci_high", "complete"]]


__all__ = ["FirstAppHeadline", "first_app_headline", "landmark_cohort", "persona_mix", "landmark_groups",
           "first_app_by_group", "weekly_cohorts", "MIN_GROUP", "COHORT_COLUMNS", "BY_GROUP_COLUMNS"]
