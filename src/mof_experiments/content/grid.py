"""The persona x zone grid of a randomized content test.

Rules (public API; every number of the content grid comes from here)
--------------------------------------------------------------------
- **Rows**: recipient persona (the ``personas`` table) x zone (``email_events.zone``), every
  delivered message of the experiment's emailed companies.
- **Engagement** (the objective of the best zone and of the 3x check) = ``click_rate``: human
  clicks per delivered message. ``open_rate`` likewise (human opens). Wilson 95% intervals.
- **Assisted conversion** (``assisted_rate``): messages engaged with within ``window_days``
  before the company converted (:func:`mof_experiments.attribution.assisted_messages`).
  **Observational**: converters engage more partly because they are more engaged to begin with.
- **Causal conversion lift** (randomized): unit = contact; outcome = the contact's company
  converted within ``window_days`` of its assignment (whole window observed at ``as_of``). A
  zone's contacts are compared with the same persona's contacts that got the **generic** email
  (``lift_vs_generic``: the zone was randomized within persona) and with the same persona's
  contacts in **holdout** companies (``lift_vs_holdout``: the company arm was randomized), each
  with Newcomb's 95% interval (:func:`mof_experiments.stats.compare_proportions`). Contacts of
  one company share the outcome, so these intervals are slightly narrow when a company has
  several contacts of one persona.
- **Guardrails**: ``unsubscribe_rate``, ``complaint_rate``, ``bounce_rate`` per sent message.
- **Too little data**: a row with fewer than ``LOW_DATA_N`` delivered messages or fewer than
  ``LOW_DATA_EVENTS`` clicks or non-clicks (:func:`mof_experiments.stats.low_data`), or a
  click-rate interval wider than ``max_ci_width``. It is shown, flagged, and given no rating.
- **Rating** ``low`` / ``mid`` / ``high``: terciles of the click rate **within persona** among
  the persona's rows with enough data.
- **Contact-level zone test** (real customers: ``mof assign EXP --unit contact --within
  PARENT:ARM``, table ``contact_assignments``): when ``experiment_id`` is that experiment, or
  the company-level parent of exactly one, the company arm (holdout / emailed) comes from the
  parent; the messages are the zone test's (to an assigned contact, in its assigned zone, sent
  at or after its assignment: another campaign of that zone before the test does not count); the
  causal lifts are **intention to treat**: every assigned contact counts in its *assigned* zone,
  sent or not, its window starting at its company's assignment in the parent (the clock of the
  parent's holdout, ``lift_vs_holdout``). Engagement still comes from delivered messages.
- **Estimable**: the grid can only be read when the zone was randomized within persona: a
  persona is estimable when it has at least two zones with enough data and at most
  ``max_mixed_share`` (5%) of its contacts got more than one zone. The default ``holdout``
  design sends each persona its fixed emails (one zone, or several to every contact), so it
  is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mof_experiments.attribution.content import tercile_rating
from mof_experiments.checks import require_columns
from mof_experiments.errors import MofInputError
from mof_experiments.experiments.contact_assignment import zone_test_rows
from mof_experiments.experiments.outcomes import converted_within, window_complete
from mof_experiments.stats import LOW_DATA_EVENTS, LOW_DATA_N, compare_proportions, low_data, wilson_interval

GENERIC = "generic"
PERSONAS = ("PM", "GC", "CSO", "CFO", "CEO", "DEV")
GRID_COLUMNS = (
    "persona", "zone", "contacts", "sent", "delivered",
    "opened", "open_rate", "open_ci_low", "open_ci_high",
    "clicked", "click_rate", "click_ci_low", "click_ci_high",
    "assisted", "assisted_rate", "assisted_ci_low", "assisted_ci_high",
    "converted", "conversion_rate",
    "lift_vs_generic", "lift_vs_generic_ci_low", "lift_vs_generic_ci_high",
    "lift_vs_holdout", "lift_vs_holdout_ci_low", "lift_vs_holdout_ci_high",
    "unsubscribe_rate", "complaint_rate", "bounce_rate",
    "too_little_data", "rating",
)


@dataclass(frozen=True)
class ContentGrid:
    """The grid: ``table`` (columns ``GRID_COLUMNS``, one row per persona x zone), the per-message
    frame it was computed from (``messages``: persona, zone, contact_id, delivered, clicked, ...),
    which personas are ``estimable`` and, if none is, the ``reason``; ``zone_experiment_id`` is
    the contact-level zone test read (None: the zones of a company-level experiment)."""

    table: pd.DataFrame
    messages: pd.DataFrame
    estimable: tuple
    reason: str | None
    experiment_id: str
    window_days: float
    zone_experiment_id: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.estimable)

    @property
    def summary(self) -> pd.DataFrame:
        return self.table

    def _repr_html_(self) -> str:
        head = (f"<p>Content grid of {self.experiment_id}: persona x zone, {len(self.table)} rows; estimable for "
                f"{', '.join(self.estimable) or 'no persona'}</p>")
        if self.reason:
            head += f"<p><b>{self.reason}</b></p>"
        return head + self.table.to_html(index=False, float_format=lambda v: f"{v:.3g}")


def content_messages(messages: pd.DataFrame, personas: pd.DataFrame, assignments: pd.DataFrame, *,
                     experiment_id: str, email_events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Messages of the experiment's non-control companies with the recipient's persona, the
    company's arm and ``assigned_at``, and ``complained`` (from ``email_events`` when given)."""
    require_columns(messages, ["message_id", "contact_id", "company_id", "zone", "delivered", "opened", "clicked"],
                    "messages")
    require_columns(personas, ["contact_id", "persona"], "personas")
    require_columns(assignments, ["experiment_id", "company_id", "arm", "assigned_at"], "assignments")
    a = assignments[assignments["experiment_id"] == experiment_id]
    if a.empty:
        raise MofInputError(f"no assignments for experiment {experiment_id!r}", source="assignments",
                            column="experiment_id")
    m = messages.merge(a[["company_id", "arm", "assigned_at"]], on="company_id", how="inner")
    m = m.merge(personas[["contact_id", "persona"]].drop_duplicates("contact_id"), on="contact_id", how="left")
    m["persona"] = m["persona"].fillna("OTHER").astype(str)
    if "complained" not in m:
        ids = set()
        if email_events is not None:
            ids = set(email_events.loc[email_events["event"] == "complaint", "message_id"])
        m["complained"] = m["message_id"].isin(ids)
    return m.reset_index(drop=True)


def _contact_outcomes(assignments, funnel, personas, experiment_id, window_days, as_of) -> pd.DataFrame:
    """One row per contact of an assigned company whose window is complete: persona, arm, converted."""
    a = assignments[assignments["experiment_id"] == experiment_id]
    fp = funnel.drop_duplicates("company_id").set_index("company_id")["first_production_at"]
    a = a.assign(first_production_at=a["company_id"].map(fp))
    a = a[window_complete(a["assigned_at"], window_days, as_of)]
    a = a.assign(converted=converted_within(a["assigned_at"], a["first_production_at"], window_days))
    require_columns(personas, ["contact_id", "persona"], "personas")
    if "company_id" not in personas:
        raise MofInputError("the personas table needs company_id for the causal lift", source="personas",
                            column="company_id")
    return personas[["contact_id", "company_id", "persona"]].merge(a[["company_id", "arm", "converted"]],
                                                                   on="company_id", how="inner")


def content_grid(messages: pd.DataFrame, personas: pd.DataFrame, assignments: pd.DataFrame, funnel: pd.DataFrame,
                 *, experiment_id: str, as_of, holdout_arm: str = "holdout", window_days: float = 30.0,
                 attribution_days: float = 14.0, max_ci_width: float = 0.15, max_mixed_share: float = 0.05,
                 engagements: pd.DataFrame | None = None, email_events: pd.DataFrame | None = None,
                 contact_assignments: pd.DataFrame | None = None) -> ContentGrid:
    """The persona x zone grid (see the module docstring for every rule).

    Parameters
    ----------
    messages : :func:`mof_experiments.engagement.message_engagement` output (``zone`` per message).
    personas : contact_id, company_id, persona (the workspace ``personas`` table).
    assignments : the ``assignments`` table (company arms; ``holdout_arm`` is the holdout).
    funnel : :func:`mof_experiments.funnel.label` output (company_id, first_production_at).
    experiment_id : the content test's experiment.
    as_of : the cut-off; conversion windows ending after it are left out of the lifts.
    window_days : conversion window of the lifts; ``attribution_days`` that of assisted conversion.
    engagements : :func:`mof_experiments.engagement.human_engagements` (every human open / click)
        for assisted conversion; None: first opens only.
    email_events : optional raw events, for ``complaint_rate`` when ``messages`` has no ``complained``.
    contact_assignments : the ``contact_assignments`` table; used when ``experiment_id`` is a
        contact-level zone test or its parent (module docstring), ignored otherwise.

    Returns
    -------
    ContentGrid
    """
    from mof_experiments.attribution.content import assisted_messages

    zones = zone_test_rows(contact_assignments, experiment_id)
    company_exp = experiment_id if zones is None else str(zones["parent_experiment_id"].iloc[0])
    m = content_messages(messages, personas, assignments, experiment_id=company_exp, email_events=email_events)
    if zones is not None:  # the zone test's messages: to an assigned contact, in its zone, not before assignment
        own = zones[["contact_id", "arm", "assigned_at"]].rename(columns={"arm": "_zone", "assigned_at": "_at"})
        m = m.merge(own, on="contact_id", how="inner")
        keep = m["zone"] == m["_zone"]
        if "sent_at" in m:
            keep &= ~(m["sent_at"] < m["_at"])
        m = m[keep].drop(columns=["_zone", "_at"])
    m = m[m["arm"] != holdout_arm]
    if m.empty:
        raise MofInputError(f"no messages to emailed companies of {experiment_id!r}", source="email_events",
                            column="company_id")
    if engagements is None:  # first opens only (a click counts as an open)
        engagements = m.loc[m["opened"], ["message_id", "first_open_at"]].rename(columns={"first_open_at": "ts"})
    m = assisted_messages(m, engagements, funnel, window_days=attribution_days)
    keys = ["persona", "zone"]
    d = m[m["delivered"].astype(bool)]
    g = d.groupby(keys).agg(delivered=("message_id", "size"), opened=("opened", "sum"), clicked=("clicked", "sum"),
                            assisted=("assisted", "sum"))
    sent = m.groupby(keys).agg(sent=("message_id", "size"), contacts=("contact_id", "nunique"),
                               unsub=("unsubscribed", "sum"), compl=("complained", "sum"), bounced=("bounced", "sum"))
    t = sent.join(g, how="left").fillna(0).reset_index()
    for c in ("sent", "contacts", "delivered", "opened", "clicked", "assisted", "unsub", "compl", "bounced"):
        t[c] = t[c].astype("int64")
    n = t["delivered"].to_numpy(float)
    for name, col in (("open", "opened"), ("click", "clicked"), ("assisted", "assisted")):
        k = t[col].to_numpy(float)
        t[f"{name}_rate"] = np.where(n > 0, k / np.maximum(n, 1), np.nan)
        t[f"{name}_ci_low"], t[f"{name}_ci_high"] = wilson_interval(k, n)
    ns = t["sent"].to_numpy(float)
    t["unsubscribe_rate"] = t["unsub"] / ns
    t["complaint_rate"] = t["compl"] / ns
    t["bounce_rate"] = t["bounced"] / ns
    t = _add_lifts(t, m, assignments, funnel, personas, company_exp, holdout_arm, window_days, as_of, zones)
    width = t["click_ci_high"] - t["click_ci_low"]
    t["too_little_data"] = low_data(t["delivered"], t["clicked"]) | ~(width <= max_ci_width)
    t["rating"] = pd.Series(pd.NA, index=t.index, dtype="object")
    for _, idx in t[~t["too_little_data"]].groupby("persona").groups.items():
        t.loc[idx, "rating"] = tercile_rating(t.loc[idx, "click_rate"])
    order = {z: i for i, z in enumerate(("feature_highlight", "assistance", "case_study", "roi_calculation",
                                         "security", "compliance", GENERIC))}
    t = t.assign(_o=t["zone"].map(order).fillna(99)).sort_values(["persona", "_o", "zone"], kind="stable")
    t = t[list(GRID_COLUMNS)].reset_index(drop=True)
    estimable, reason = _estimable(t, m, max_mixed_share)
    if reason and zones is not None:  # randomized within persona, but too small so far
        reason = (f"The persona x zone grid cannot be estimated yet: zone test {zones['experiment_id'].iloc[0]!r} "
                  "randomized the zone within persona, but no persona has two zones with enough data (at least "
                  f"{LOW_DATA_N} delivered messages, {LOW_DATA_EVENTS} clicks and non-clicks, and a click-rate 95% CI "
                  f"narrower than max_ci_width = {max_ci_width:g}); send to more contacts or wait for more events.")
    return ContentGrid(t, m.reset_index(drop=True), estimable, reason, experiment_id, window_days,
                       None if zones is None else str(zones["experiment_id"].iloc[0]))


def _add_lifts(t, m, assignments, funnel, personas, experiment_id, holdout_arm, window_days, as_of, zones=None):
    """Conversion per persona x zone (contacts) and the Newcomb lifts vs generic and vs holdout;
    with ``zones`` (a contact-level zone test) each assigned contact in its assigned zone (ITT)."""
    for c in ("converted", "conversion_rate", "lift_vs_generic", "lift_vs_generic_ci_low", "lift_vs_generic_ci_high",
              "lift_vs_holdout", "lift_vs_holdout_ci_low", "lift_vs_holdout_ci_high"):
        t[c] = np.nan
    if "company_id" not in personas:
        return t
    oc = _contact_outcomes(assignments, funnel, personas, experiment_id, window_days, as_of)
    conv = oc.set_index("contact_id")["converted"]
    if zones is None:  # the zone of each emailed contact: its (first) message's zone
        zc = m.sort_values("sent_at" if "sent_at" in m else "message_id").drop_duplicates("contact_id")
    else:  # intention to treat: the assigned zone, sent or not
        zc = zones[["contact_id", "arm"]].rename(columns={"arm": "zone"}).merge(
            oc[["contact_id", "persona"]].drop_duplicates("contact_id"), on="contact_id", how="inner")
    zc = zc[["contact_id", "persona", "zone"]].assign(converted=lambda x: x["contact_id"].map(conv))
    zc = zc[zc["converted"].notna()]
    cz = zc.groupby(["persona", "zone"])["converted"].agg(["sum", "size"])
    hold = oc[oc["arm"] == holdout_arm].groupby("persona")["converted"].agg(["sum", "size"])
    for i, r in t.iterrows():
        key = (r["persona"], r["zone"])
        if key not in cz.index:
            continue
        x, nn = float(cz.loc[key, "sum"]), float(cz.loc[key, "size"])
        t.loc[i, "converted"] = x
        t.loc[i, "conversion_rate"] = x / nn
        for name, ref in (("generic", cz.loc[(r["persona"], GENERIC)] if (r["persona"], GENERIC) in cz.index
                           else None), ("holdout", hold.loc[r["persona"]] if r["persona"] in hold.index else None)):
            if ref is None or (name == "generic" and r["zone"] == GENERIC):
                continue
            c = compare_proportions(x, nn, float(ref["sum"]), float(ref["size"]))
            t.loc[i, f"lift_vs_{name}"] = c.lift[0]
            t.loc[i, f"lift_vs_{name}_ci_low"] = c.lift_ci_low[0]
            t.loc[i, f"lift_vs_{name}_ci_high"] = c.lift_ci_high[0]
    return t


def _estimable(t: pd.DataFrame, m: pd.DataFrame, max_mixed_share: float) -> tuple[tuple, str | None]:
    zones_per_contact = m.groupby(["persona", "contact_id"])["zone"].nunique()
    mixed = (zones_per_contact > 1).groupby(level="persona").mean()
    ok = []
    for p in PERSONAS:
        rows = t[(t["persona"] == p) & ~t["too_little_data"] & (t["zone"] != GENERIC)]
        if len(rows) >= 2 and mixed.get(p, 1.0) <= max_mixed_share:
            ok.append(p)
    if ok:
        return tuple(ok), None
    return (), ("The persona x zone grid cannot be estimated from this experiment: the zone was not randomized "
                "within persona (each persona got one zone, or every contact got all of its persona's emails). "
                "Run a content test: `mof simulate --design content_test`, or on real customers randomize the "
                "zone within persona with `mof assign EXP --unit contact --within PARENT:ARM` and read it with "
                "experiment_id=EXP (docs/reports.md, 'On real customers').")


__all__ = ["ContentGrid", "content_grid", "content_messages", "GRID_COLUMNS", "GENERIC", "PERSONAS"]
