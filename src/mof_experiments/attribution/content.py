"""Assisted conversion and the content table (the article's zone x topic x persona table).

Counting rules (public API; every number in the content-optimization report comes from here)
--------------------------------------------------------------------------------------------
- **Engagement** is a human open or click (:func:`mof_experiments.engagement.human_engagements`:
  machine opens excluded by default).
- **Assisted conversion**: a company's conversion (``first_production_at`` from the funnel) is
  *assisted* by a message when a contact of that company engaged with that message at a time
  ``t`` with ``first_production_at - window_days <= t < first_production_at``. Engagement at or
  after the conversion never assists. **One conversion may credit several messages** (every
  message engaged with inside the window gets the credit; credit is not split), so summing
  assisted counts over messages over-counts conversions; ``assisted_companies`` in the content
  table counts each company once per row.
- **Content table** (the article's table): one row per zone x topic x persona, where persona is
  the *recipient's* persona (the ``personas`` table written by ``mof segment``). Rates are per
  delivered message with Wilson 95% intervals and their n: ``open_rate``, ``click_rate``,
  ``assisted_rate``. Ratings ``low`` / ``mid`` / ``high`` are terciles of the rate across the
  table's rows. ``too_little_data`` is true when any of the three intervals is wider than
  ``max_ci_width`` (the article's "estimated" rows).

The content table is observational; the causal effect of email is
:func:`mof_experiments.experiments.holdout_effect`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.errors import MofInputError
from mof_experiments.stats import wilson_interval

CONTENT_KEYS = ("zone", "topic", "persona")
CONTENT_COLUMNS = (
    "zone", "topic", "persona", "sends", "delivered",
    "opened", "open_rate", "open_ci_low", "open_ci_high",
    "clicked", "click_rate", "click_ci_low", "click_ci_high",
    "assisted", "assisted_rate", "assisted_ci_low", "assisted_ci_high", "assisted_companies",
    "open_rating", "assisted_rating", "ci_width_max", "too_little_data",
)
RATINGS = ("low", "mid", "high")


def assisted_messages(messages: pd.DataFrame, engagements: pd.DataFrame, funnel: pd.DataFrame, *,
                      window_days: float = 14.0) -> pd.DataFrame:
    """Flag each message that assisted its company's conversion.

    Parameters
    ----------
    messages : :func:`~mof_experiments.engagement.message_engagement` output (one row per message).
    engagements : :func:`~mof_experiments.engagement.human_engagements` output (every human open /
        click; all of them count, not only the first).
    funnel : :func:`mof_experiments.funnel.label` output (``company_id``, ``first_production_at``).
    window_days : the attribution window in days (default 14).

    Returns
    -------
    ``messages`` with added columns ``first_production_at``, ``assisted`` (bool: engaged at a time
    ``t`` with ``first_production_at - window_days <= t < first_production_at``) and
    ``last_engaged_before_conversion_at`` (the latest such ``t``; NaT if none).
    """
    require_columns(messages, ["message_id", "company_id"], "messages")
    require_columns(engagements, ["message_id", "ts"], "engagements")
    require_columns(funnel, ["company_id", "first_production_at"], "funnel")
    if not window_days > 0:
        raise MofInputError(f"window_days must be positive, got {window_days!r}")
    fp = funnel.drop_duplicates("company_id").set_index("company_id")["first_production_at"]
    out = messages.copy()
    # .array, not .to_numpy(): a zoned timestamp column becomes one Python Timestamp per row there
    out["first_production_at"] = pd.Series(fp.reindex(out["company_id"]).array, index=out.index, dtype=fp.dtype)
    e = engagements[["message_id", "ts"]].merge(out[["message_id", "first_production_at"]], on="message_id")
    inside = (e["ts"] < e["first_production_at"]) & (e["ts"] >= e["first_production_at"] - pd.Timedelta(days=window_days))
    last = e[inside.fillna(False).to_numpy()].groupby("message_id")["ts"].max()
    out["last_engaged_before_conversion_at"] = pd.Series(last.reindex(out["message_id"]).array, index=out.index,
                                                         dtype=engagements["ts"].dtype)
    out["assisted"] = out["last_engaged_before_conversion_at"].notna()
    return out


def tercile_rating(values: pd.Series) -> pd.Series:
    """``low`` / ``mid`` / ``high`` by tercile of rank across rows (ties broken by order).

    With fewer than three non-missing values every row is ``mid``; missing values stay missing.
    """
    v = values.astype(float)
    ok = v.notna()
    out = pd.Series(pd.NA, index=values.index, dtype="object")
    if ok.sum() < 3:
        out[ok] = "mid"
        return out
    r = v[ok].rank(method="first")
    out[ok] = pd.qcut(r, 3, labels=list(RATINGS)).astype(str).to_numpy()
    return out


def content_table(assisted: pd.DataFrame, personas: pd.DataFrame | None = None, *,
                  max_ci_width: float = 0.15, alpha: float = 0.05) -> pd.DataFrame:
    """The article's table: zone x topic x recipient persona, with n, rates, CIs, ratings, flag.

    Parameters
    ----------
    assisted : :func:`assisted_messages` output.
    personas : ``contact_id``, ``persona`` (the workspace ``personas`` table). Messages to
        contacts without a persona count as ``OTHER``. If None, ``assisted`` must already have
        a ``persona`` column.
    max_ci_width : a row is ``too_little_data`` when any rate's CI is wider than this
        (proportion points; default 0.15).
    alpha : 1 - confidence level of the Wilson intervals.

    Returns
    -------
    DataFrame with ``CONTENT_COLUMNS``: ``sends`` (messages sent), ``delivered`` (the n of every
    rate), ``opened`` / ``clicked`` / ``assisted`` (delivered messages opened, clicked, that
    assisted a conversion), ``*_rate`` = count / delivered, ``*_ci_low`` / ``*_ci_high`` (Wilson),
    ``assisted_companies`` (distinct companies whose conversion the row assisted),
    ``open_rating`` / ``assisted_rating`` (terciles across rows), ``ci_width_max``,
    ``too_little_data``. Sorted by persona, then assisted rate (highest first).
    """
    require_columns(assisted, ["zone", "topic", "delivered", "opened", "clicked", "assisted", "company_id"], "messages")
    m = assisted
    if personas is not None:
        require_columns(personas, ["contact_id", "persona"], "personas")
        m = m.drop(columns=["persona"], errors="ignore").merge(
            personas[["contact_id", "persona"]].drop_duplicates("contact_id"), on="contact_id", how="left")
    elif "persona" not in m:
        raise MofInputError("no persona column and no personas table (run `mof segment`)", source="messages")
    m = m.assign(persona=m["persona"].fillna("OTHER").astype(str))
    keys = list(CONTENT_KEYS)
    sends = m.groupby(keys).size().rename("sends")
    d = m[m["delivered"].astype(bool)]
    g = d.groupby(keys).agg(delivered=("message_id", "size"), opened=("opened", "sum"),
                            clicked=("clicked", "sum"), assisted=("assisted", "sum"))
    comp = d[d["assisted"]].groupby(keys)["company_id"].nunique().rename("assisted_companies")
    t = pd.concat([sends, g, comp], axis=1).fillna(0).reset_index()
    for c in ("sends", "delivered", "opened", "clicked", "assisted", "assisted_companies"):
        t[c] = t[c].astype("int64")
    n = t["delivered"].to_numpy()
    widths = []
    for name, col in (("open", "opened"), ("click", "clicked"), ("assisted", "assisted")):
        k = t[col].to_numpy()
        t[f"{name}_rate"] = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
        lo, hi = wilson_interval(k, n, alpha=alpha)
        t[f"{name}_ci_low"], t[f"{name}_ci_high"] = lo, hi
        widths.append(hi - lo)
    t["open_rating"] = tercile_rating(t["open_rate"])
    t["assisted_rating"] = tercile_rating(t["assisted_rate"])
    w = np.vstack(widths)
    t["ci_width_max"] = np.where(np.isnan(w).all(axis=0), np.nan, np.nanmax(np.where(np.isnan(w), -1, w), axis=0))
    t["too_little_data"] = ~(t["ci_width_max"] <= max_ci_width)
    t = t.sort_values(["persona", "assisted_rate", "open_rate"], ascending=[True, False, False], kind="stable")
    return t[list(CONTENT_COLUMNS)].reset_index(drop=True)


__all__ = ["assisted_messages", "content_table", "tercile_rating", "CONTENT_COLUMNS", "CONTENT_KEYS", "RATINGS"]
