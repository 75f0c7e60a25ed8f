"""Cohorts: the contacts a campaign may go to, with every exclusion counted.

``export_cohort(workspace, stage="sandbox", personas=["PM"])`` returns a :class:`Cohort`
(the selected contacts plus a ``summary`` of how many each rule removed);
``write_cohort(cohort.frame, "cohort.csv")`` writes it atomically.

The exclusion contract shared with :mod:`mof_experiments.send`
---------------------------------------------------------------
A contact is **suppressed** when any of these holds (:func:`suppressed_contacts`):

- ``contacts.unsubscribed_at`` is set;
- its contact_id or email is in the workspace table ``suppressions``
  (email, contact_id, reason, source, ts), which ``mof send`` (5xx replies) and
  ``mof events import`` (unsubscribes, hard bounces, complaints) append to;
- (at send time) its address is in the send ledger's own ``suppressions`` table, which is
  written in the same SQLite transaction as a 5xx reply and copied to the workspace table.

A company is **excluded** from a campaign of experiment ``E`` sending arms ``A``
(:func:`excluded_companies`) when it is in the global holdout (``assignments`` rows with
``experiment_id == "global_holdout"`` and arm ``holdout``: reason ``holdout``), in a control arm
of ``E`` (``experiment_arms.is_control``: reason ``control``), in an arm of ``E`` not in ``A``
(reason ``other_arm``) or not assigned in ``E`` at all (reason ``not_assigned``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.schema import GLOBAL_HOLDOUT_EXPERIMENT, PERSONAS, STAGES

SUPPRESSIONS_TABLE = "suppressions"
SUPPRESSION_COLUMNS = ("email", "contact_id", "reason", "source", "ts")
DEFAULT_COLUMNS = ("contact_id", "email", "company_id", "persona")
#: Columns `export_cohort` can write, and the workspace table each comes from.
AVAILABLE_COLUMNS = {
    "contact_id": "contacts", "email": "contacts", "company_id": "contacts", "job_title": "contacts",
    "persona": "personas", "stage": "funnel", "arm": "assignments", "company_name": "companies",
    "plan": "companies",
}
#: The command that writes each derived table (named in the "table absent" error).
PRODUCER = {"personas": "mof segment", "segments": "mof segment", "funnel": "mof label",
            "assignments": "mof assign", "experiment_arms": "mof assign", "contacts": "mof ingest contacts",
            "companies": "mof ingest companies"}


def require_table(workspace, name: str, why: str):
    """Raise a one-line :class:`MofInputError` naming the command to run if ``name`` is absent."""
    if not workspace.has(name):
        raise MofInputError(f"{why} needs table {name!r}, which is not in the workspace "
                            f"(run `{PRODUCER.get(name, 'mof ingest')}` first)", source=str(workspace.path))


@dataclass(frozen=True)
class Cohort:
    """A selected cohort.

    Attributes
    ----------
    frame : the contacts, one row each, with the requested columns.
    summary : DataFrame with columns ``step`` (rule applied, in order), ``removed`` (contacts
        removed by that rule) and ``remaining`` (contacts left after it). The first row,
        ``all_contacts``, has ``removed == 0`` and the workspace's contact count.
    filters : the filters used.
    """

    frame: pd.DataFrame
    summary: pd.DataFrame
    filters: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def excluded(self) -> dict:
        s = self.summary.iloc[1:]
        return {r.step: int(r.removed) for r in s.itertuples() if r.removed}

    def __str__(self) -> str:
        parts = ", ".join(f"{k}: {v:,}" for k, v in self.excluded.items()) or "none"
        return f"selected {self.n:,} contacts of {int(self.summary['remaining'].iloc[0]):,}; excluded {parts}"

    def _repr_html_(self) -> str:
        return f"<p>{self}</p>" + self.summary.to_html(index=False)


def ensure_suppressions_table(workspace) -> None:
    """Create the workspace ``suppressions`` table with its fixed column types if absent
    (email, contact_id, reason, source VARCHAR; ts TIMESTAMPTZ), so appends never depend on
    the types of the first batch."""
    workspace.raw.execute(f'CREATE TABLE IF NOT EXISTS "{SUPPRESSIONS_TABLE}" (email VARCHAR, contact_id VARCHAR, '
                          "reason VARCHAR, source VARCHAR, ts TIMESTAMPTZ)")


def read_suppressions(workspace) -> pd.DataFrame:
    """The workspace ``suppressions`` table (empty frame with its columns if absent)."""
    if workspace is None or not workspace.has(SUPPRESSIONS_TABLE):
        return pd.DataFrame({c: pd.Series(dtype="str") for c in SUPPRESSION_COLUMNS})
    return workspace.read(SUPPRESSIONS_TABLE)


def suppressed_contacts(workspace, contacts: pd.DataFrame | None = None) -> pd.Series:
    """Boolean Series indexed like ``contacts``: True where the contact is suppressed.

    Rule: ``unsubscribed_at`` not null, or contact_id in ``suppressions.contact_id``, or
    lower-cased email in lower-cased ``suppressions.email``.
    """
    if contacts is None:
        contacts = workspace.read("contacts")
    sup = read_suppressions(workspace)
    ids = set(sup["contact_id"].dropna().astype(str))
    emails = set(sup["email"].dropna().astype(str).str.lower())
    out = contacts["contact_id"].astype(str).isin(ids) | contacts["email"].astype(str).str.lower().isin(emails)
    if "unsubscribed_at" in contacts.columns:
        out = out | contacts["unsubscribed_at"].notna()
    return out.astype(bool)


def experiment_arms(workspace, experiment_id: str) -> pd.DataFrame:
    """Rows of ``experiment_arms`` for ``experiment_id`` (error if the experiment is unknown)."""
    require_table(workspace, "experiment_arms", f"experiment {experiment_id!r}")
    arms = workspace.read("experiment_arms")
    arms = arms[arms["experiment_id"].astype(str) == experiment_id]
    if arms.empty:
        raise MofConfigError(f"experiment {experiment_id!r} has no arms in experiment_arms "
                             f"(run `mof assign {experiment_id} --arms ...` first)")
    return arms


def check_arms(workspace, experiment_id: str, arms: Sequence[str] | None) -> list[str]:
    """Validate ``arms`` against the experiment: each must exist and not be a control arm.

    ``None`` means every non-control arm. Returns the list of arms to send.
    """
    table = experiment_arms(workspace, experiment_id)
    known = table["arm"].astype(str).tolist()
    control = set(table.loc[table["is_control"].fillna(False).astype(bool), "arm"].astype(str))
    if arms is None:
        return [a for a in known if a not in control]
    for a in arms:
        if a not in known:
            raise MofConfigError(f"experiment {experiment_id!r} has no arm {a!r} (arms: {', '.join(known)})")
        if a in control:
            raise MofConfigError(f"arm {a!r} of experiment {experiment_id!r} is a control arm and is never emailed")
    return list(arms)


def excluded_companies(workspace, experiment_id: str | None = None,
                       arms: Sequence[str] | None = None) -> pd.Series:
    """Companies that must not be emailed, as a Series ``company_id -> reason``.

    Reasons (first that applies): ``holdout`` (global holdout: assignments with experiment_id
    ``global_holdout`` and arm ``holdout``), ``control`` (a control arm of ``experiment_id``),
    ``other_arm`` (an arm of ``experiment_id`` not in ``arms``). Companies not assigned in
    ``experiment_id`` are not listed here; callers treat them as ``not_assigned``.
    """
    out: dict[str, str] = {}
    if not workspace.has("assignments"):
        if experiment_id is not None:
            require_table(workspace, "assignments", f"experiment {experiment_id!r}")
        return pd.Series(out, dtype="str")
    asg = workspace.read("assignments", ["experiment_id", "company_id", "arm"])
    asg = asg.astype({"experiment_id": "str", "company_id": "str", "arm": "str"})
    gh = asg[(asg["experiment_id"] == GLOBAL_HOLDOUT_EXPERIMENT) & (asg["arm"] == "holdout")]
    for c in gh["company_id"]:
        out.setdefault(c, "holdout")
    if experiment_id is not None:
        send_arms = set(check_arms(workspace, experiment_id, arms))
        table = experiment_arms(workspace, experiment_id)
        control = set(table.loc[table["is_control"].fillna(False).astype(bool), "arm"].astype(str))
        e = asg[asg["experiment_id"] == experiment_id]
        for c, a in zip(e["company_id"], e["arm"]):
            if a in control:
                out.setdefault(c, "control")
            elif a not in send_arms:
                out.setdefault(c, "other_arm")
    return pd.Series(out, dtype="str")


def _as_list(v) -> list[str] | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = [v]
    v = [str(x) for x in v if str(x).strip()]
    return v or None


def _read_personas(workspace, with_review: bool) -> pd.DataFrame:
    cols = ["contact_id", "persona"] + (["needs_review"] if with_review else [])
    if with_review and "needs_review" not in workspace.table("personas").columns:
        raise MofConfigError("--exclude-needs-review: the personas table has no needs_review column "
                             "(written by an older `mof segment`); run `mof segment` again")
    return workspace.read("personas", cols).astype({"contact_id": "str", "persona": "str"})


def export_cohort(workspace, *, stage: str | Iterable[str] | None = None,
                  personas: str | Iterable[str] | None = None, segments: str | Iterable[str] | None = None,
                  experiment_id: str | None = None, arms: str | Iterable[str] | None = None,
                  columns: Sequence[str] | None = None, exclude_needs_review: bool = False) -> Cohort:
    """Select contacts by funnel stage, persona, behavioral segment and experiment arm.

    Rules are applied in this order, each counted in ``Cohort.summary``: ``stage`` (company's
    ``funnel.stage`` in the given stages), ``persona`` (``personas.persona``), ``needs_review``
    (with ``exclude_needs_review``: ``personas.needs_review`` is false), ``segment``
    (company in *any* of the named segments), ``experiment_arm`` (company assigned to one of
    ``arms`` of ``experiment_id``; default every non-control arm), ``global_holdout`` (always),
    ``suppressed`` (see :func:`suppressed_contacts`), ``duplicate_email`` (the same address,
    case-insensitive, on several contacts: the first contact_id in sort order is kept).

    Returns
    -------
    Cohort
        ``frame`` has exactly ``columns`` (default contact_id, email, company_id, persona),
        sorted by contact_id.
    """
    stage, personas, segments, arms = map(_as_list, (stage, personas, segments, arms))
    columns = list(columns) if columns else list(DEFAULT_COLUMNS)
    for c in columns:
        if c not in AVAILABLE_COLUMNS:
            raise MofConfigError(f"unknown cohort column {c!r} (available: {', '.join(AVAILABLE_COLUMNS)})")
    if len(set(columns)) != len(columns):
        raise MofConfigError(f"cohort columns repeat a name: {', '.join(columns)}")
    for s in stage or []:
        if s not in STAGES:
            raise MofConfigError(f"unknown stage {s!r} (stages: {', '.join(STAGES)})")
    for p in personas or []:
        if p not in PERSONAS:
            raise MofConfigError(f"unknown persona {p!r} (personas: {', '.join(PERSONAS)})")
    if arms and experiment_id is None:
        raise MofConfigError("--arm needs --experiment")

    require_table(workspace, "contacts", "a cohort")
    df = workspace.read("contacts").astype({"contact_id": "str", "company_id": "str", "email": "str"})
    df = df.sort_values("contact_id", kind="stable").reset_index(drop=True)
    steps = [("all_contacts", 0, len(df))]

    def step(name, keep):
        nonlocal df
        keep = pd.Series(keep, index=df.index).fillna(False).astype(bool)
        steps.append((name, int((~keep).sum()), int(keep.sum())))
        df = df.loc[keep].reset_index(drop=True)

    need = set(AVAILABLE_COLUMNS[c] for c in columns)
    if stage or "funnel" in need:
        require_table(workspace, "funnel", "--stage" if stage else "column 'stage'")
        f = workspace.read("funnel", ["company_id", "stage"]).astype({"company_id": "str", "stage": "str"})
        df = df.merge(f, on="company_id", how="left")
        if stage:
            step("stage", df["stage"].isin(stage))
    if personas or exclude_needs_review or "personas" in need:
        require_table(workspace, "personas", "--persona" if personas else "column 'persona'")
        p = _read_personas(workspace, exclude_needs_review)
        df = df.merge(p.drop_duplicates("contact_id"), on="contact_id", how="left")
        if personas:
            step("persona", df["persona"].isin(personas))
        if exclude_needs_review:
            step("needs_review", df["needs_review"].eq(False))
    if segments:
        require_table(workspace, "segments", "--segment")
        s = workspace.read("segments", ["company_id", "segment"]).astype({"company_id": "str", "segment": "str"})
        # a defined segment that no company meets is known (and selects nobody), not a typo
        known = set(s["segment"]) | set(workspace.meta().get("segment_names", []))
        unknown = [x for x in segments if x not in known]
        if unknown:
            raise MofConfigError(f"unknown segment {unknown[0]!r} (segments in the workspace: "
                                 f"{', '.join(sorted(known)) or 'none'})")
        step("segment", df["company_id"].isin(set(s.loc[s["segment"].isin(segments), "company_id"])))
    if experiment_id is not None or "assignments" in need:
        require_table(workspace, "assignments", "--experiment" if experiment_id else "column 'arm'")
    if experiment_id is not None:
        send_arms = check_arms(workspace, experiment_id, arms)
        a = workspace.read("assignments", ["experiment_id", "company_id", "arm"]).astype("str")
        a = a[a["experiment_id"] == experiment_id][["company_id", "arm"]]
        df = df.merge(a, on="company_id", how="left")
        step("experiment_arm", df["arm"].isin(send_arms))
    elif "assignments" in need:
        raise MofConfigError("column 'arm' needs --experiment")
    excl = excluded_companies(workspace)
    step("global_holdout", ~df["company_id"].isin(set(excl.index)))
    step("suppressed", ~suppressed_contacts(workspace, df).to_numpy())
    step("duplicate_email", ~df["email"].str.lower().duplicated())
    if "companies" in need:
        co = workspace.read("companies").astype({"company_id": "str"})
        co = co.rename(columns={"name": "company_name"})
        keep = ["company_id"] + [c for c in ("company_name", "plan") if c in co.columns]
        df = df.merge(co[keep], on="company_id", how="left")
        for c in ("company_name", "plan"):
            if c in columns and c not in df.columns:
                raise MofInputError(f"companies has no column {c!r}", source=str(workspace.path))
    frame = df[columns].reset_index(drop=True)
    summary = pd.DataFrame(steps, columns=["step", "removed", "remaining"])
    filters = {"stage": stage, "persona": personas, "segment": segments, "experiment": experiment_id,
               "arm": arms, "columns": columns}
    return Cohort(frame, summary, filters)


def write_cohort(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a cohort to ``.csv`` or ``.parquet`` atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise MofConfigError(f"{path}: cohort file must end in .csv or .parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_cohort(path: str | os.PathLike) -> pd.DataFrame:
    """Read a cohort file (.csv or .parquet); needs at least ``contact_id`` and ``email``.

    Values are strings; rows are kept in file order. Errors name the file, column and row.
    """
    from mof_experiments.workspace import read_input_file

    src = str(path)
    df = read_input_file(path)
    df.columns = [str(c).strip() for c in df.columns]
    for c in ("contact_id", "email"):
        if c not in df.columns:
            raise MofInputError(f"cohort needs a column {c!r} (found: {', '.join(df.columns)})",
                                source=src, column=c)
    df = df.astype({c: "str" for c in df.columns if df[c].dtype != "str"}).reset_index(drop=True)
    for c in ("contact_id", "email"):
        miss = df[c].isna() | (df[c].str.strip() == "")
        if miss.any():
            row = int(miss.to_numpy().nonzero()[0][0])
            raise MofInputError("missing value", source=src, column=c, row=row + 1, value=df.loc[row, c])
    return df


__all__ = ["Cohort", "export_cohort", "ensure_suppressions_table", "write_cohort", "read_cohort", "suppressed_contacts",
           "excluded_companies", "check_arms", "read_suppressions", "require_table", "SUPPRESSIONS_TABLE",
           "SUPPRESSION_COLUMNS", "AVAILABLE_COLUMNS", "DEFAULT_COLUMNS"]
