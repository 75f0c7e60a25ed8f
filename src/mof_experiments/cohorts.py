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
of *any* experiment (``experiment_arms.is_control``: reason ``control``), in an arm of ``E``
not in ``A`` (reason ``other_arm``) or not assigned in ``E`` at all (reason ``not_assigned``).
A cohort export applies the holdout and control rules too, with or without an experiment
(``include_control=True`` keeps them, and the export says how many it kept).
In a **contact-level** experiment (``mof assign --unit contact``) the arm is the contact's, and a
contact in a control arm of any of them is excluded like a control company (``contact_exclusions``).

Cohort files are *selections*: ``mof send`` takes every address from the workspace's
``contacts``, and a file whose ``email`` disagrees with it is refused.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from mof_experiments.atomic import atomic_path
from mof_experiments.checks import require_columns
from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.schema import GLOBAL_HOLDOUT_EXPERIMENT, PERSONAS, STAGES, email_key

SUPPRESSIONS_TABLE = "suppressions"
SUPPRESSION_COLUMNS = ("email", "contact_id", "reason", "source", "ts")
#: Default export columns; ``company_name`` is written when ``companies`` has a ``name``
#: column (the shipped campaign's templates use it).
DEFAULT_COLUMNS = ("contact_id", "email", "company_id", "persona", "company_name")
#: OWASP "CSV injection": a cell starting with one of these is run as a formula by spreadsheets.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NEUTRALIZED_RE = re.compile(r"^'+[=+\-@\t\r]")
_TO_NEUTRALIZE_RE = re.compile(r"^'*[=+\-@\t\r]")
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
    kept : rule -> contacts in ``frame`` that the rule would have removed but
        ``include_control=True`` kept (``global_holdout``, ``control_arm``); empty by default.
    """

    frame: pd.DataFrame
    summary: pd.DataFrame
    filters: dict = field(default_factory=dict)
    kept: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def excluded(self) -> dict:
        s = self.summary.iloc[1:]
        return {r.step: int(r.removed) for r in s.itertuples() if r.removed}

    def __str__(self) -> str:
        parts = ", ".join(f"{k}: {v:,}" for k, v in self.excluded.items()) or "none"
        text = f"selected {self.n:,} contacts of {int(self.summary['remaining'].iloc[0]):,}; excluded {parts}"
        if self.filters.get("include_control"):
            kept = ", ".join(f"{k}: {v:,}" for k, v in self.kept.items()) or "none"
            text += f"; KEPT by --include-control (holdout/control contacts that must not be emailed): {kept}"
        return text

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

    Rule: ``unsubscribed_at`` not null, or contact_id in ``suppressions.contact_id``, or the
    address in ``suppressions.email`` (compared by :func:`mof_experiments.schema.email_key`:
    case-insensitive, an internationalized domain equal to its punycode form).
    """
    if contacts is None:
        contacts = workspace.read("contacts")
    sup = read_suppressions(workspace)
    ids = set(sup["contact_id"].dropna().astype(str))
    emails = set(sup["email"].dropna().map(email_key))
    out = contacts["contact_id"].astype(str).isin(ids) | contacts["email"].map(email_key).isin(emails)
    if "unsubscribed_at" in contacts.columns:
        out = out | contacts["unsubscribed_at"].notna()
    return out.astype(bool)


def experiment_arms(workspace, experiment_id: str) -> pd.DataFrame:
    """Rows of ``experiment_arms`` for ``experiment_id`` (error if the experiment is unknown)."""
    from mof_experiments.experiments.registry import registered_arms

    require_table(workspace, "experiment_arms", f"experiment {experiment_id!r}")
    arms = registered_arms(workspace, experiment_id)
    if arms.empty:
        raise MofConfigError(f"experiment {experiment_id!r} has no arms in experiment_arms "
                             f"(run `mof assign {experiment_id} --arms ...` first)")
    return arms


def check_arms(workspace, experiment_id: str, arms: Sequence[str] | None, *,
               include_control: bool = False) -> list[str]:
    """Validate ``arms`` against the experiment: each must exist and not be a control arm
    (unless ``include_control``, for an export that is not sent: ``mof cohort export
    --include-control``).

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
        if a in control and not include_control:
            raise MofConfigError(f"arm {a!r} of experiment {experiment_id!r} is a control arm and is never emailed "
                                 "(an export for analysis needs --include-control)")
    return list(arms)


def excluded_companies(workspace, experiment_id: str | None = None,
                       arms: Sequence[str] | None = None) -> pd.Series:
    """Companies that must not be emailed, as a Series ``company_id -> reason``.

    Reasons (first that applies): ``holdout`` (global holdout: assignments with experiment_id
    ``global_holdout`` and arm ``holdout``), ``control`` (a control arm, per
    ``experiment_arms.is_control``, of *any* experiment: a control company is never emailed,
    whichever campaign asks), ``other_arm`` (an arm of ``experiment_id`` not in ``arms``).
    Companies not assigned in ``experiment_id`` are not listed here; callers treat them as
    ``not_assigned``.
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
    for c in control_companies(workspace, asg):
        out.setdefault(c, "control")
    if experiment_id is not None:
        send_arms = set(check_arms(workspace, experiment_id, arms))
        e = asg[asg["experiment_id"] == experiment_id]
        for c, a in zip(e["company_id"], e["arm"]):
            if a not in send_arms:
                out.setdefault(c, "other_arm")
    return pd.Series(out, dtype="str")


def control_companies(workspace, assignments: pd.DataFrame | None = None) -> list[str]:
    """Companies assigned to a control arm (``experiment_arms.is_control``) of any experiment."""
    if not workspace.has("experiment_arms") or not workspace.has("assignments"):
        return []
    ea = workspace.read("experiment_arms", ["experiment_id", "arm", "is_control"])
    ea = ea[ea["is_control"].fillna(False).astype(bool)]
    if ea.empty:
        return []
    asg = assignments if assignments is not None else workspace.read("assignments",
                                                                     ["experiment_id", "company_id", "arm"])
    asg = asg.astype({"experiment_id": "str", "company_id": "str", "arm": "str"})
    ctl = set(zip(ea["experiment_id"].astype(str), ea["arm"].astype(str)))
    hit = [(e, a) in ctl for e, a in zip(asg["experiment_id"], asg["arm"])]
    return sorted(set(asg.loc[hit, "company_id"]))


def _excluded(workspace, df: pd.DataFrame, excl: pd.Series, reason: str) -> pd.Series:
    """Rows whose company has ``reason`` in ``excl`` (``control``: or the contact, contact-level)."""
    out = df["company_id"].isin(set(excl.index[excl == reason]))
    if reason == "control":
        from mof_experiments.experiments.contact_assignment import contact_exclusions

        ce = contact_exclusions(workspace)
        out = out | df["contact_id"].isin(set(ce.index[ce == "control"]))
    return out


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
                  columns: Sequence[str] | None = None, include_control: bool = False,
                  exclude_needs_review: bool = False) -> Cohort:
    """Select contacts by funnel stage, persona, behavioral segment and experiment arm.

    Rules are applied in this order, each counted in ``Cohort.summary``: ``stage`` (company's
    ``funnel.stage`` in the given stages), ``persona`` (``personas.persona``), ``needs_review``
    (with ``exclude_needs_review``: ``personas.needs_review`` is false), ``segment``
    (company in *any* of the named segments), ``experiment_arm`` (company assigned to one of
    ``arms`` of ``experiment_id``; default every non-control arm), ``global_holdout`` and
    ``control_arm`` (the company is in the global holdout, or in a control arm of *any*
    experiment: always, with or without ``experiment_id``, unless ``include_control``, which
    keeps them and counts them in ``Cohort.kept``), ``suppressed`` (see
    :func:`suppressed_contacts`; never overridable), ``duplicate_email`` (the same address,
    case-insensitive, on several contacts: the first contact_id in sort order is kept).

    Returns
    -------
    Cohort
        ``frame`` has exactly ``columns`` (default contact_id, email, company_id, persona and,
        when ``companies`` has names, company_name), sorted by contact_id.
    """
    stage, personas, segments, arms = map(_as_list, (stage, personas, segments, arms))
    if not columns:
        columns = list(DEFAULT_COLUMNS)
        if not (workspace.has("companies") and "name" in workspace.table("companies").columns):
            columns.remove("company_name")
    columns = list(columns)
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
        from mof_experiments.experiments.contact_assignment import unit_arms

        send_arms = check_arms(workspace, experiment_id, arms, include_control=include_control)
        key, a = unit_arms(workspace, experiment_id)  # the contact's arm in a contact-level experiment
        df = df.merge(a, on=key, how="left")
        step("experiment_arm", df["arm"].isin(send_arms))
    elif "assignments" in need:
        raise MofConfigError("column 'arm' needs --experiment")
    excl = excluded_companies(workspace)
    rules = (("global_holdout", "holdout"), ("control_arm", "control"))
    for name, reason in rules:
        out = _excluded(workspace, df, excl, reason)
        step(name, ~out if not include_control else pd.Series(True, index=df.index))
    step("suppressed", ~suppressed_contacts(workspace, df).to_numpy())
    step("duplicate_email", ~df["email"].map(email_key).duplicated())  # one key per address, as mof send
    # what --include-control kept: contacts in the result that the rules would have removed
    kept = {name: int(_excluded(workspace, df, excl, reason).sum()) for name, reason in rules} \
        if include_control else {}
    if "companies" in need:
        co = workspace.read("companies").astype({"company_id": "str"})
        # company_name is the table's `name`
        require_columns(co, [{"company_name": "name"}.get(c, c) for c in ("company_name", "plan") if c in columns],
                        f"{workspace.path}: table companies")
        co = co.rename(columns={"name": "company_name"})
        keep = ["company_id"] + [c for c in ("company_name", "plan") if c in co.columns]
        df = df.merge(co[keep], on="company_id", how="left")
    frame = df[columns].reset_index(drop=True)
    summary = pd.DataFrame(steps, columns=["step", "removed", "remaining"])
    filters = {"stage": stage, "persona": personas, "segment": segments, "experiment": experiment_id,
               "arm": arms, "columns": columns, "include_control": include_control}
    return Cohort(frame, summary, filters, kept)


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas (OWASP rule).

    A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR (after any leading single
    quotes) gets one more leading single quote: ``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``.
    :func:`restore_formulas` undoes it exactly, so a file survives the round trip.
    """
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
            hit = out[c].astype("str").str.contains(_TO_NEUTRALIZE_RE, na=False) & out[c].notna()
            if hit.any():
                out[c] = out[c].astype(object).where(~hit, "'" + out[c].astype("str"))
    return out


def restore_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`neutralize_formulas` (drop the one single quote it added)."""
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
            hit = out[c].astype("str").str.contains(_NEUTRALIZED_RE, na=False) & out[c].notna()
            if hit.any():
                out[c] = out[c].where(~hit, out[c].astype("str").str[1:])
    return out


def write_cohort(frame: pd.DataFrame, path: str | os.PathLike, *, neutralize: bool = True) -> Path:
    """Write a cohort to ``.csv`` or ``.parquet`` atomically (:func:`mof_experiments.atomic.atomic_path`).

    CSV: RFC 4180 (CRLF line ends, so a value holding a CR or LF is quoted and reads back
    whole) and, unless ``neutralize=False``, formula cells neutralized
    (:func:`neutralize_formulas`; :func:`read_cohort` restores them).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise MofConfigError(f"{path}: cohort file must end in .csv or .parquet")
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            (neutralize_formulas(frame) if neutralize else frame).to_csv(tmp, index=False, lineterminator="\r\n")
        else:
            frame.to_parquet(tmp, index=False)
    return path


def read_cohort(path: str | os.PathLike) -> pd.DataFrame:
    """Read a cohort file (.csv or .parquet); needs a ``contact_id`` column.

    ``email`` is optional: the address always comes from the workspace, and an ``email``
    column is only checked against it (by ``mof send``). Values are strings; rows are kept in
    file order; cells neutralized by :func:`write_cohort` are restored. Errors name the file,
    column and row.
    """
    from mof_experiments.workspace import read_input_file

    src = str(path)
    df = read_input_file(path)
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, ["contact_id"], src)
    df = df.astype({c: "str" for c in df.columns if df[c].dtype != "str"}).reset_index(drop=True)
    if Path(path).suffix.lower() == ".csv":
        df = restore_formulas(df)
    for c in [c for c in ("contact_id", "email") if c in df.columns]:
        miss = df[c].isna() | (df[c].str.strip() == "")
        if miss.any():
            row = int(miss.to_numpy().nonzero()[0][0])
            raise MofInputError("missing value", source=src, column=c, row=row + 1, value=df.loc[row, c])
    return df


__all__ = ["Cohort", "export_cohort", "ensure_suppressions_table", "write_cohort", "read_cohort", "suppressed_contacts",
           "excluded_companies", "control_companies", "check_arms", "neutralize_formulas", "restore_formulas",
           "read_suppressions", "require_table", "SUPPRESSIONS_TABLE", "SUPPRESSION_COLUMNS", "AVAILABLE_COLUMNS",
           "DEFAULT_COLUMNS"]
