"""One day of a program, decided from the workspace as of that day (pure pandas, nothing written).

Rules, in the order they are applied on day ``d`` (a cut-off: events before ``d`` count):

1. **Exits** of open enrollments: ``production`` (the company made a 2xx production call
   before ``d``), ``left_trigger`` (only with ``exits.left_trigger``: no longer in the
   trigger), ``max_days`` (``d >= entered_at + exits.max_days``), ``completed`` (the last
   step's due day has passed and, in the program arm, every step of every enrolled contact is
   decided for good). ``exited_at = d``.
2. **Entries**: a company in the trigger as of ``d``, eligible (``stage: sandbox``: it called
   the API and is not in production; ``any``: not in production), not in the global holdout
   nor in a control arm of another experiment, with at least one contact of the program's
   personas, and without an open enrollment; a company enrolled before re-enters only with
   ``reentry.after_days`` set and its last exit at least that many days before ``d``. Its
   contacts of the program's personas are enrolled with ``entered_at = d`` and the company's
   arm: ``holdout`` with probability ``holdout``, else ``program``, a pure function of the
   program's experiment id and the company id (:func:`mof_experiments.experiments.assign`).
3. **Due steps** (program arm, open enrollments): a contact whose persona the step names is due
   on ``entered_at + delay_days <= d`` unless the step is already decided for good for this
   entry. It is skipped for good with reason ``condition`` when the step's condition no longer
   holds on ``d`` (``in_trigger``, ``in_sandbox``), or ``too_late`` when the run's ``as_of``
   is more than ``catch_up.late_days`` days after the due day; otherwise it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from mof_experiments.programs.spec import HOLDOUT_ARM, PROGRAM_ARM, ProgramSpec
from mof_experiments.programs.store import ENROLLMENT_COLUMNS, FINAL_STATES, RETRY_REASONS, STEP_COLUMNS

DAY = pd.Timedelta(days=1)


@dataclass
class DayDecision:
    """What one day decides: ``entries`` (new ``program_enrollments`` rows), ``exits``
    (program_id, company_id, entry, exited_at, exit_reason), ``skipped`` (``program_steps``
    rows decided without a send), ``due`` (step -> frame of contact_id, company_id, entry,
    due_at to send), ``assignments`` (new rows for the program's experiment)."""

    day: datetime
    entries: pd.DataFrame
    exits: pd.DataFrame
    skipped: pd.DataFrame
    due: dict = field(default_factory=dict)
    assignments: pd.DataFrame | None = None

    def counts(self) -> dict:
        arm = self.entries.drop_duplicates("company_id")["arm"].value_counts() if len(self.entries) else {}
        return {"entered": int(self.entries["company_id"].nunique()) if len(self.entries) else 0,
                "entered_program": int(arm.get(PROGRAM_ARM, 0)), "entered_holdout": int(arm.get(HOLDOUT_ARM, 0)),
                "exited": len(self.exits), "skipped": len(self.skipped),
                "due": int(sum(len(v) for v in self.due.values()))}


def empty_frame(columns) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def final_mask(steps: pd.DataFrame, *, ambiguous_final: bool = True) -> pd.Series:
    """Step records decided for good (never offered again); ``ambiguous_final=False`` offers
    ambiguous ones (``sending``) again, for an explicit ``--resolve-ambiguous``."""
    final = steps["state"].isin(FINAL_STATES) & ~steps["reason"].fillna("").isin(RETRY_REASONS)
    return final if ambiguous_final else final & (steps["state"] != "sending")


def decide_day(spec: ProgramSpec, day: datetime, as_of: datetime, behavior: pd.DataFrame,
               contacts: pd.DataFrame, enrollments: pd.DataFrame, steps: pd.DataFrame,
               excluded: set, assigned: pd.DataFrame, *, reopen_ambiguous: bool = False) -> DayDecision:
    """Decide ``day`` (rules in the module docstring).

    Parameters
    ----------
    behavior : the behavior table as of ``day`` (company_id + the features the trigger reads,
        ``calls``, ``in_production``).
    contacts : contact_id, company_id, persona (contacts with a persona).
    enrollments, steps : this program's ``program_enrollments`` / ``program_steps`` rows so far.
    excluded : companies in the global holdout or a control arm of another experiment.
    assigned : company_id, arm already recorded for the program's experiment.
    reopen_ambiguous : offer steps left ambiguous (``sending``) again (``--resolve-ambiguous``).
    """
    from mof_experiments.experiments.assignment import assign
    from mof_experiments.segments.rules import evaluate_rule

    d = pd.Timestamp(day)
    beh = behavior.set_index(behavior["company_id"].astype(str))
    in_trig = evaluate_rule(spec.trigger_rule, beh)
    in_prod = beh["in_production"] == 1
    in_sb = (beh["calls"] > 0) & ~in_prod
    enr = enrollments.copy()
    open_ = enr[enr["exited_at"].isna()]

    # 1. exits (per company entry)
    last_delay = max(s.delay_days for s in spec.steps)
    fin = steps[final_mask(steps, ambiguous_final=not reopen_ambiguous)] if len(steps) else steps
    g = open_.drop_duplicates(["company_id", "entry"])[["company_id", "entry", "entered_at", "arm"]]
    if len(g):
        entered = pd.to_datetime(g["entered_at"], utc=True)
        prod = g["company_id"].map(in_prod).fillna(False).astype(bool).to_numpy()
        trig = g["company_id"].map(in_trig).fillna(False).astype(bool).to_numpy()
        missing = _undecided(spec, open_, fin, contacts)
        decided = [missing.get((c, int(e)), 0) == 0 for c, e in zip(g["company_id"], g["entry"])]
        done = (d > entered + last_delay * DAY).to_numpy() & ((g["arm"] == HOLDOUT_ARM).to_numpy() | decided)
        reason = np.select([prod, spec.left_trigger_exits & ~trig, (d >= entered + spec.max_days * DAY).to_numpy(),
                            done], ["production", "left_trigger", "max_days", "completed"], "")
        hit = reason != ""
        exits = pd.DataFrame({"program_id": spec.program_id, "company_id": g["company_id"].to_numpy()[hit],
                              "entry": g["entry"].astype(int).to_numpy()[hit], "exited_at": d,
                              "exit_reason": reason[hit]})
    else:
        exits = pd.DataFrame(columns=["program_id", "company_id", "entry", "exited_at", "exit_reason"])
    if len(exits):
        key = set(zip(exits["company_id"], exits["entry"]))
        closed = [(c, e) in key for c, e in zip(enr["company_id"], enr["entry"])]
        enr.loc[closed, "exited_at"] = d
    open_ids = set(enr.loc[enr["exited_at"].isna(), "company_id"])

    # 2. entries
    eligible = in_trig & ~in_prod & (in_sb if spec.stage == "sandbox" else True)
    cand = pd.Index(beh.index[eligible.to_numpy()]).difference(pd.Index(sorted(excluded | open_ids)))
    if spec.reentry_after_days is None:
        cand = cand.difference(pd.Index(enr["company_id"].unique()))
    elif len(enr):
        last_exit = enr.groupby("company_id")["exited_at"].max()
        ok = last_exit.reindex(cand).isna() | (last_exit.reindex(cand) <= d - spec.reentry_after_days * DAY)
        never = ~cand.isin(enr["company_id"])
        cand = cand[never | ok.to_numpy()]
    ct = contacts[contacts["persona"].isin(spec.personas) & contacts["company_id"].isin(cand)]
    new_ids = sorted(ct["company_id"].unique())
    entries = empty_frame(ENROLLMENT_COLUMNS)
    new_asg = None
    if new_ids:
        known = assigned.set_index("company_id")["arm"] if len(assigned) else pd.Series(dtype="str")
        fresh = [c for c in new_ids if c not in known.index]
        arms = known.to_dict()
        if fresh:
            new_asg = assign(fresh, spec.experiment_id, spec.arms, assigned_at=d.to_pydatetime())
            arms.update(zip(new_asg["company_id"], new_asg["arm"]))
        prev = enr.groupby("company_id")["entry"].max() if len(enr) else pd.Series(dtype="int64")
        ct = ct.sort_values(["company_id", "contact_id"])
        entries = pd.DataFrame({
            "program_id": spec.program_id, "company_id": ct["company_id"].to_numpy(),
            "contact_id": ct["contact_id"].to_numpy(),
            "entry": [int(prev.get(c, 0)) + 1 for c in ct["company_id"]],
            "entered_at": d, "arm": [arms[c] for c in ct["company_id"]], "exited_at": pd.NaT,
            "exit_reason": None, "spec_digest": spec.digest})
        entries["entered_at"] = pd.to_datetime(entries["entered_at"], utc=True)
        entries["exited_at"] = pd.to_datetime(entries["exited_at"], utc=True)
        enr = pd.concat([enr, entries], ignore_index=True) if len(enr) else entries.copy()

    # 3. due steps
    active = enr[enr["exited_at"].isna() & (enr["arm"] == PROGRAM_ARM)]
    active = active.merge(contacts[["contact_id", "persona"]], on="contact_id", how="left")
    done = set(zip(fin["contact_id"], fin["entry"].astype(int), fin["step"])) if len(fin) else set()
    skipped, due = [], {}
    for step in spec.steps:
        rows = active[active["persona"].isin(step.personas)].copy()
        if rows.empty:
            continue
        rows["due_at"] = pd.to_datetime(rows["entered_at"], utc=True) + step.delay_days * DAY
        rows = rows[rows["due_at"] <= d]
        rows = rows[[(c, int(e), step.name) not in done for c, e in zip(rows["contact_id"], rows["entry"])]]
        if rows.empty:
            continue
        if step.condition == "in_trigger":
            holds = rows["company_id"].map(in_trig).fillna(False).astype(bool)
        elif step.condition == "in_sandbox":
            holds = rows["company_id"].map(in_sb).fillna(False).astype(bool)
        else:
            holds = pd.Series(True, index=rows.index)
        late = (pd.Timestamp(as_of) - rows["due_at"]) > spec.late_days * DAY
        reason = np.where(~holds.to_numpy(), "condition", np.where(late.to_numpy(), "too_late", ""))
        for r, why in zip(rows.itertuples(), reason):
            if why:
                skipped.append((spec.program_id, r.company_id, r.contact_id, int(r.entry), step.name,
                                spec.campaign_id(step, int(r.entry)), None, r.due_at, d, "skipped", why))
        send = rows[reason == ""]
        if len(send):
            due[step.name] = send[["contact_id", "company_id", "entry", "due_at"]].reset_index(drop=True)
    skipped = pd.DataFrame(skipped, columns=list(STEP_COLUMNS)) if skipped else empty_frame(STEP_COLUMNS)
    return DayDecision(day=d.to_pydatetime(), entries=entries, exits=exits, skipped=skipped, due=due,
                       assignments=new_asg)


def _undecided(spec: ProgramSpec, open_: pd.DataFrame, final_steps: pd.DataFrame,
               contacts: pd.DataFrame) -> dict:
    """(company_id, entry) -> number of (contact, step) pairs it owes without a final step record."""
    if open_.empty:
        return {}
    owed = open_[["company_id", "contact_id", "entry"]].merge(contacts[["contact_id", "persona"]], on="contact_id")
    parts = [owed[owed["persona"].isin(s.personas)].assign(step=s.name) for s in spec.steps]
    owed = pd.concat(parts, ignore_index=True)
    owed["entry"] = owed["entry"].astype(int)
    if len(final_steps):
        have = final_steps[["contact_id", "entry", "step"]].astype({"entry": int}).assign(_have=1)
        owed = owed.merge(have, on=["contact_id", "entry", "step"], how="left")
        owed = owed[owed["_have"].isna()]
    return owed.groupby(["company_id", "entry"]).size().to_dict()


__all__ = ["DayDecision", "decide_day", "final_mask", "empty_frame"]
