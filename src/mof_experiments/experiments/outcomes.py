"""Experiment data: who was assigned before ``as_of``, did they convert within the window, and
what they did before assignment.

The conversion-window rule (one place: :func:`converted_within`, :func:`window_complete`)
---------------------------------------------------------------------------------------------
A company assigned at ``assigned_at`` **converted** when its ``first_production_at`` (the
funnel's first 2xx production call, as of ``as_of``) satisfies ``assigned_at <=
first_production_at < assigned_at + window_days``. Its window is **complete** when
``assigned_at + window_days <= as_of``; a readout uses complete windows only.

Only companies assigned before ``as_of`` are in the experiment as of ``as_of``: an earlier
``as_of`` reads out fewer companies, and the same ``as_of`` always gives the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.dates import days_between, utc_day
from mof_experiments.errors import MofInputError
from mof_experiments.experiments.registry import arm_weights, assignments_of


def converted_within(assigned_at: pd.Series, first_production_at: pd.Series, window_days: float) -> pd.Series:
    """Bool Series: ``assigned_at <= first_production_at < assigned_at + window_days``
    (False where ``first_production_at`` is missing)."""
    end = assigned_at + pd.Timedelta(days=window_days)
    return ((first_production_at >= assigned_at) & (first_production_at < end)).fillna(False).astype(bool)


def window_complete(assigned_at: pd.Series, window_days: float, as_of) -> pd.Series:
    """Bool Series: the whole window is observed, ``assigned_at + window_days <= as_of``."""
    return (assigned_at + pd.Timedelta(days=window_days)) <= pd.Timestamp(as_of)


def pre_assignment_features(source, experiment_id: str, *, as_of: datetime, contacts: bool = True) -> pd.DataFrame:
    """Per-company behavior from ``api_events`` strictly before the company's ``assigned_at``.

    Only companies assigned before ``as_of`` are included, and only pre-assignment behavior is
    used, so the features cannot be affected by the arm (the condition for uplift modelling).
    Computed as one Ibis expression (runs on the source's engine). Companies with no call
    before assignment get zeros (and NaN recency).

    Returns
    -------
    DataFrame, one row per assigned company: company_id, arm, calls, errors, error_rate
    (errors / calls), auth_error_share (401/403 among errors), distinct_endpoints, active_days
    (distinct UTC days with a call), days_since_signup, days_since_first_call,
    days_since_last_call (days, at assignment), sandbox_calls, production_calls; with
    ``contacts=True`` (and a ``contacts`` table) also n_contacts, n_unsubscribed (unsubscribed
    before assignment) and n_legal, n_security, n_finance, n_product, n_engineering,
    n_executive: contacts per coarse job-title group (:data:`TITLE_GROUPS`; the email a
    company would get depends on who works there).
    """
    import ibis

    from mof_experiments.workspace import to_pandas

    cutoff = ibis.literal(pd.Timestamp(as_of).to_pydatetime(), type="timestamp('UTC')")
    asg = source.table("assignments")
    asg = asg.filter((asg.experiment_id == experiment_id) & (asg.assigned_at < cutoff))
    asg = asg.select("company_id", "arm", "assigned_at")
    co = source.table("companies").select("company_id", "signup_at")
    ev = source.table("api_events").select("company_id", "ts", "environment", "endpoint", "status_code")
    j = ev.join(asg, "company_id")
    j = j.filter(j.ts < j.assigned_at)
    err = j.status_code >= 400
    auth = j.status_code.isin([401, 403])
    agg = j.group_by("company_id").aggregate(
        calls=j.ts.count(), errors=j.ts.count(where=err), auth_errors=j.ts.count(where=auth),
        distinct_endpoints=j.endpoint.nunique(), active_days=utc_day(j.ts).nunique(),
        first_call=j.ts.min(), last_call=j.ts.max(),
        sandbox_calls=j.ts.count(where=j.environment == "sandbox"),
        production_calls=j.ts.count(where=j.environment == "production"))
    t = asg.join(co, "company_id", how="left").drop("company_id_right")
    t = t.left_join(agg, "company_id").drop("company_id_right")
    t = t.select("company_id", "arm", "calls", "errors", "auth_errors", "distinct_endpoints", "active_days",
                 "sandbox_calls", "production_calls",
                 days_since_signup=days_between(t.assigned_at, t.signup_at),
                 days_since_first_call=days_between(t.assigned_at, t.first_call),
                 days_since_last_call=days_between(t.assigned_at, t.last_call))
    df = to_pandas(t.order_by("company_id"))
    for c in ("calls", "errors", "auth_errors", "distinct_endpoints", "active_days", "sandbox_calls",
              "production_calls"):
        df[c] = df[c].fillna(0).astype("int64")
    calls = df["calls"].to_numpy()
    df["error_rate"] = np.where(calls > 0, df["errors"] / np.maximum(calls, 1), 0.0)
    df["auth_error_share"] = np.where(df["errors"] > 0, df["auth_errors"] / np.maximum(df["errors"], 1), 0.0)
    for c in ("days_since_signup", "days_since_first_call", "days_since_last_call"):
        df[c] = df[c].astype("float64")
    df = df[list(BEHAVIOR_FEATURES)]
    if contacts and source.has("contacts"):
        asg_pd = df[["company_id"]].merge(assignments_of(source, experiment_id)[["company_id", "assigned_at"]],
                                          on="company_id")
        df = df.merge(_contact_features(source, asg_pd), on="company_id", how="left")
        for c in CONTACT_FEATURES:
            df[c] = df[c].fillna(0).astype("int64")
    return df.reset_index(drop=True)


BEHAVIOR_FEATURES = ("company_id", "arm", "calls", "errors", "error_rate", "auth_error_share", "distinct_endpoints",
                     "active_days", "days_since_signup", "days_since_first_call", "days_since_last_call",
                     "sandbox_calls", "production_calls")
#: Coarse title groups for contact features (regular expressions on the lower-cased job title).
#: A simple, documented stand-in for a persona classifier: who at the company would receive
#: which email matters for uplift. The first matching group wins, in this order.
TITLE_GROUPS = {
    "legal": r"counsel|councel|legal|attorney|abogado|juridique|\bgc\b|\bclo\b",
    "security": r"secur|\bciso\b|\bcso\b|infosec|appsec|sécurité",
    "finance": r"financ|finacial|\bcfo\b|fp&a|controller|treasurer|finanz",
    "product": r"product|produkt|produit|producto|prodcut|\bpm\b|\bcpo\b",
    "engineering": r"engineer|develop|desarroll|entwickler|ingénieur|sofware|\bswe\b|\bcto\b|\bdev|"
                   r"platform|tech lead|reliability|\bvp eng",
    "executive": r"\bceo\b|founder|fundador|president|managing director|owner|geschäftsführer|"
                 r"directeur général",
}
CONTACT_FEATURES = ("n_contacts", "n_unsubscribed", *(f"n_{g}" for g in TITLE_GROUPS))


def _contact_features(source, assigned: pd.DataFrame) -> pd.DataFrame:
    """Contacts per company and title group, and those unsubscribed before ``assigned_at``."""
    from mof_experiments.workspace import to_pandas

    c = to_pandas(source.table("contacts").select("contact_id", "company_id", "job_title", "unsubscribed_at"))
    c = c.merge(assigned, on="company_id", how="inner")
    title = c["job_title"].fillna("").astype("str").str.lower()
    # each distinct title is matched once (titles repeat: 244k contacts, a few thousand titles)
    titles = pd.Series(title.unique(), dtype="str")
    group = pd.Series("other", index=titles.index, dtype="str")
    for g, rx in reversed(list(TITLE_GROUPS.items())):  # earlier groups win
        group = group.mask(titles.str.contains(rx, regex=True) & ~titles.str.contains("marketing"), g)
    group = title.map(pd.Series(group.to_numpy(), index=titles.to_numpy()))
    c["unsub"] = (c["unsubscribed_at"] < c["assigned_at"]).fillna(False)
    out = (c.groupby(["company_id", group.rename("group")]).size().unstack("group", fill_value=0)
           .reindex(columns=list(TITLE_GROUPS), fill_value=0).astype("int64"))
    out.columns = [f"n_{g}" for g in out.columns]
    out["n_contacts"] = c.groupby("company_id").size()
    out["n_unsubscribed"] = c.groupby("company_id")["unsub"].sum()
    return out.reset_index().rename(columns={"index": "company_id"})[["company_id", *CONTACT_FEATURES]]


def conversion_outcomes(source, experiment_id: str, *, as_of: datetime, window_days: float = 30,
                        min_success: int = 1) -> pd.DataFrame:
    """Did each company assigned before ``as_of`` reach production within ``window_days``?

    ``first_production_at`` is the observed one from :func:`mof_experiments.funnel.label` as of
    ``as_of`` (the ``min_success``-th 2xx production call); ``converted`` and ``complete``
    follow the module's window rule. Returns company_id, arm, assigned_at,
    first_production_at, converted (0/1 int), complete (bool), sorted by company_id.
    """
    from mof_experiments.funnel import label

    asg = assignments_of(source, experiment_id)
    asg = asg[asg["assigned_at"] < pd.Timestamp(as_of)]
    if asg.empty:
        raise MofInputError(f"no assignments for experiment {experiment_id!r} before {pd.Timestamp(as_of):%Y-%m-%d %H:%M}",
                            source=str(getattr(source, "path", source)), column="experiment_id")
    f = label(source, as_of, min_success=min_success)[["company_id", "first_production_at"]]
    df = asg[["company_id", "arm", "assigned_at"]].merge(f, on="company_id", how="left")
    df["converted"] = converted_within(df["assigned_at"], df["first_production_at"], window_days).astype("int64")
    df["complete"] = window_complete(df["assigned_at"], window_days, as_of)
    return df.sort_values("company_id").reset_index(drop=True)


def experiment_outcomes(source, experiment_id: str, *, as_of: datetime, window_days: float = 30) -> pd.DataFrame:
    """:func:`conversion_outcomes` joined with :func:`pre_assignment_features` (one row per
    company assigned before ``as_of``), with an ``experiment_id`` column: the table
    ``mof experiment outcomes`` writes, ready for :func:`~mof_experiments.experiments.readout`
    and for uplift models."""
    out = conversion_outcomes(source, experiment_id, as_of=as_of, window_days=window_days)
    feats = pre_assignment_features(source, experiment_id, as_of=as_of).drop(columns=["arm"])
    df = out.merge(feats, on="company_id", how="left")
    df.insert(0, "experiment_id", experiment_id)
    return df


#: The ``email_events`` kinds an experiment's guardrails count (``sent`` is the denominator).
GUARDRAIL_EVENTS = ("sent", "bounce", "unsubscribe", "complaint")


def experiment_email_events(source, experiment_id: str, *, as_of: datetime) -> pd.DataFrame:
    """The experiment's email events that its guardrails count, with each company's arm.

    Rows of ``email_events`` of :data:`GUARDRAIL_EVENTS` kinds, of companies assigned to
    ``experiment_id`` before ``as_of``, at or after the company's ``assigned_at`` and before
    ``as_of`` (one Ibis expression). Columns: message_id, contact_id, company_id, event, ts,
    arm. Empty (same columns) when the source has no ``email_events``.
    """
    import ibis

    from mof_experiments.workspace import to_pandas

    cols = ["message_id", "contact_id", "company_id", "event", "ts", "arm"]
    if not source.has("email_events") or not source.has("assignments"):
        return pd.DataFrame(columns=cols)
    cutoff = ibis.literal(pd.Timestamp(as_of).to_pydatetime(), type="timestamp('UTC')")
    asg = source.table("assignments")
    asg = asg.filter((asg.experiment_id == experiment_id) & (asg.assigned_at < cutoff)).select(
        "company_id", "arm", "assigned_at")
    ev = source.table("email_events")
    ev = ev.filter(ev.event.isin(list(GUARDRAIL_EVENTS)) & (ev.ts < cutoff)).select(
        "message_id", "contact_id", "company_id", "event", "ts")
    j = ev.join(asg, "company_id")
    j = j.filter(j.ts >= j.assigned_at).select(*cols)
    return to_pandas(j.order_by(["ts", "message_id", "event"])).reset_index(drop=True)


@dataclass(frozen=True)
class ExperimentData:
    """An experiment as of a date: ``outcomes`` (:func:`conversion_outcomes`), ``features``
    (:func:`pre_assignment_features`), the registered design ``weights`` (None if absent) and
    ``email_events`` (:func:`experiment_email_events`: what its guardrails count)."""

    experiment_id: str
    as_of: datetime
    window_days: float
    outcomes: pd.DataFrame = field(repr=False)
    features: pd.DataFrame = field(repr=False)
    weights: dict | None = None
    email_events: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def enrolled(self) -> int:
        """Companies assigned before ``as_of``."""
        return len(self.outcomes)

    @property
    def complete(self) -> pd.DataFrame:
        """The outcomes whose whole window is observed (what a readout uses)."""
        return self.outcomes[self.outcomes["complete"]].reset_index(drop=True)

    def __str__(self) -> str:
        return (f"{self.experiment_id} as of {pd.Timestamp(self.as_of):%Y-%m-%d %H:%M} UTC: {self.enrolled:,} companies "
                f"assigned, {len(self.complete):,} with their whole {self.window_days:g}-day window observed")


def experiment_data(source, experiment_id: str, *, as_of: datetime, window_days: float = 30.0,
                    min_success: int = 1, features_source=None) -> ExperimentData:
    """Read :class:`ExperimentData` of ``experiment_id`` from a source, as of ``as_of``.

    ``features_source``: where :func:`pre_assignment_features` reads the events (default
    ``source``; a report run passes its early events, :mod:`mof_experiments.reports.early_events`).
    """
    return ExperimentData(
        experiment_id=experiment_id, as_of=as_of, window_days=window_days,
        outcomes=conversion_outcomes(source, experiment_id, as_of=as_of, window_days=window_days,
                                     min_success=min_success),
        features=pre_assignment_features(source if features_source is None else features_source, experiment_id,
                                         as_of=as_of),
        weights=arm_weights(source, experiment_id),
        email_events=experiment_email_events(source, experiment_id, as_of=as_of))


def company_attribute(source, name: str, company_ids) -> tuple[pd.Series, str]:
    """A per-company column to break a readout down by, read from the workspace.

    ``name`` is looked up in this order:

    - a column of ``companies`` (``plan``, ``size``, ...): the value as recorded;
    - ``persona``: the company's **primary persona**, the persona (``personas`` table, written
      by ``mof segment``) held by most of its contacts, ties broken in the order PM, GC, CSO,
      CFO, CEO, DEV, OTHER (the specialised stakeholder first); a company without contacts
      has none (missing). Job titles do not change with the arm, so it is pre-assignment;
    - a segment of the ``segments`` table (e.g. ``stuck_on_errors``): ``in`` / ``not in``.
      Segments are computed as of the last ``mof segment`` run, often after assignment, when
      the email may have moved a company in or out: the returned note says so.

    Returns ``(values, note)``: a Series indexed like ``company_ids`` (in that order) and a
    sentence saying where the values came from.
    """
    from mof_experiments.schema import PERSONAS
    from mof_experiments.workspace import to_pandas

    def read(table: str) -> pd.DataFrame:
        return to_pandas(source.table(table))

    ids = pd.Index(pd.Series(list(company_ids), dtype="str"))
    where = str(getattr(source, "path", "workspace"))
    if source.has("companies"):
        co = read("companies")
        if name in co.columns and name != "company_id":
            s = co.assign(company_id=co["company_id"].astype("str")).set_index("company_id")[name]
            return s.reindex(ids), f"{name!r} from companies"
    if name == "persona":
        if not (source.has("personas") and source.has("contacts")):
            raise MofInputError("breakdown by persona needs the personas table: run `mof segment` first",
                                source=where, column="persona")
        per = read("personas")[["contact_id", "persona"]].merge(read("contacts")[["contact_id", "company_id"]],
                                                                 on="contact_id")
        per["company_id"] = per["company_id"].astype("str")
        rank = {p: i for i, p in enumerate(PERSONAS)}
        counts = per.groupby(["company_id", "persona"]).size().rename("k").reset_index()
        counts["rank"] = counts["persona"].map(rank).fillna(len(rank))
        top = counts.sort_values(["company_id", "k", "rank"], ascending=[True, False, True]).drop_duplicates(
            "company_id").set_index("company_id")["persona"]
        return top.reindex(ids), "primary persona (most contacts; ties: PM, GC, CSO, CFO, CEO, DEV, OTHER)"
    if source.has("segments"):
        seg = read("segments")
        if name in set(seg["segment"].astype("str")):
            members = set(seg.loc[seg["segment"].astype("str") == name, "company_id"].astype("str"))
            vals = pd.Series(np.where(ids.isin(list(members)), "in", "not in"), index=ids)
            return vals, (f"segment {name!r} (in / not in) as of the last `mof segment` run: a segment measured "
                          "after assignment may itself be moved by the email")
    raise MofInputError(f"no column, persona or segment named {name!r} to break down by (companies columns, "
                        "'persona', or a segment of the segments table)", source=where, column=name)


@dataclass(frozen=True)
class UpliftDesign:
    """Model-ready arrays for uplift learners, one row per company (see :func:`uplift_design`)."""

    X: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    treatment: np.ndarray = field(repr=False)
    company_id: np.ndarray = field(repr=False)
    feature_names: tuple
    control: str

    def __len__(self) -> int:
        return len(self.y)


def uplift_design(outcomes: pd.DataFrame, features: pd.DataFrame, control: str, *,
                  outcome: str = "converted") -> UpliftDesign:
    """The design matrix of an uplift model: every pre-assignment feature of each company.

    Rows: the companies of ``outcomes`` (pass complete windows only) that have features.
    ``X``: every column of ``features`` except company_id and arm, float, missing values 0
    (recency of a company that never called); ``y``: ``outcome`` (0/1); ``treatment``: 1 unless
    the arm is ``control``.
    """
    require_columns(outcomes, ["company_id", "arm", outcome], "outcomes")
    require_columns(features, ["company_id"], "features")
    if control not in set(outcomes["arm"].astype(str)):
        raise MofInputError(f"control arm {control!r} not found (arms: {', '.join(sorted(set(outcomes['arm'])))})",
                            source="outcomes", column="arm")
    names = tuple(c for c in features.columns if c not in ("company_id", "arm"))
    d = outcomes[["company_id", "arm", outcome]].merge(features[["company_id", *names]], on="company_id")
    return UpliftDesign(X=d[list(names)].fillna(0.0).to_numpy(float), y=d[outcome].to_numpy(int),
                        treatment=(d["arm"].astype(str) != control).astype(int).to_numpy(),
                        company_id=d["company_id"].to_numpy(), feature_names=names, control=control)


__all__ = ["converted_within", "window_complete", "pre_assignment_features", "conversion_outcomes",
           "experiment_outcomes", "ExperimentData", "experiment_data", "experiment_email_events", "GUARDRAIL_EVENTS",
           "company_attribute", "UpliftDesign", "uplift_design",
           "TITLE_GROUPS", "CONTACT_FEATURES"]
