"""``mof program run``: evaluate a program day by day and send the due steps through the ledger.

Rule of a run as of ``D`` (see docs/programs.md):

- **Days evaluated**: the days after the last day this program finished, up to ``D``, at most
  ``catch_up.max_days`` of them (older missed days are not evaluated: a company still in the
  trigger enters on the first evaluated day). A first run, or a re-run of a day already
  finished, evaluates ``D`` alone. Each day is decided by
  :func:`mof_experiments.programs.evaluate.decide_day` from the behavior computed fresh from the
  events as of that day (on ``source``, e.g. Spark), never from a stored table.
- **Per day**, in three steps: (1) entries, exits, steps skipped for good, the new assignments
  of the program's experiment and a ``program_runs`` row are written in one transaction;
  (2) each due step is sent with :func:`mof_experiments.send.send_campaign` under the ledger
  key ``<program_id>.<step>`` and the program's experiment (arm ``program``), so every rule of
  ``mof send`` applies: exactly once per contact, suppressed / global holdout / control arms /
  holdout excluded, frequency caps across all campaigns, messages left in ``sending`` by a
  crash reported as ambiguous and never resent without ``--resolve-ambiguous``; (3) the ledger's
  state of every message sent or planned is copied to ``program_steps`` and the day is marked
  finished.
- A run killed anywhere is resumed by running again: the day is decided again (the same
  entries, already recorded), the ledger refuses what it already sent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import pandas as pd

from mof_experiments.programs.evaluate import DAY, DayDecision, decide_day, empty_frame
from mof_experiments.programs.spec import HOLDOUT_ARM, PROGRAM_ARM, ProgramSpec, load_program
from mof_experiments.programs.store import (STEP_COLUMNS, read_enrollments, read_runs, read_steps, write_day)


@dataclass
class ProgramRun:
    """What a run did: ``days`` one row per day evaluated (day, entered, entered_program,
    entered_holdout, exited, skipped, due, sent, already, ambiguous, not_sent), the
    :class:`~mof_experiments.send.SendResult` of every send, ``seconds`` (total) and
    ``send_seconds`` (time inside the send loops, i.e. the SMTP time)."""

    program_id: str
    as_of: datetime
    dry_run: bool
    days: pd.DataFrame
    sends: list = field(default_factory=list)
    seconds: float = 0.0
    send_seconds: float = 0.0
    plan: dict = field(default_factory=dict)

    @property
    def ambiguous(self) -> int:
        return int(self.days["ambiguous"].sum()) if len(self.days) else 0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.sends)

    def __str__(self) -> str:
        head = (f"program {self.program_id} as of {self.as_of:%Y-%m-%d %H:%M} UTC"
                f"{' (dry run: nothing written or sent)' if self.dry_run else ''}: "
                f"{len(self.days)} day(s) evaluated in {self.seconds:.1f} s")
        return head + "\n" + self.days.to_string(index=False)


def _days(spec: ProgramSpec, ws, as_of: pd.Timestamp) -> list[pd.Timestamp]:
    runs = read_runs(ws, spec.program_id)
    done = runs.loc[runs["finished_at"].notna(), "day"] if len(runs) else pd.Series(dtype="object")
    if done.empty:
        return [as_of]
    last = pd.Timestamp(done.max())
    if as_of <= last:
        return [as_of]
    n = int((as_of - last) / DAY)
    n = max(min(n, spec.catch_up_days), 1)
    return [as_of - k * DAY for k in range(n - 1, -1, -1)]


def _inputs(ws, spec: ProgramSpec, day, src) -> tuple:
    from mof_experiments.cohorts import control_companies, require_table
    from mof_experiments.schema import GLOBAL_HOLDOUT_EXPERIMENT
    from mof_experiments.segments.behavior import behavior

    require_table(ws, "personas", f"program {spec.program_id} (its steps target personas)")
    beh = behavior(ws, day, source=src)
    ct = ws.raw.execute("SELECT c.contact_id, c.company_id, p.persona FROM contacts c JOIN personas p "
                        "USING (contact_id)").df().astype("str")
    excluded: set = set()
    assigned = pd.DataFrame({"company_id": pd.Series(dtype="str"), "arm": pd.Series(dtype="str")})
    if ws.has("assignments"):
        asg = ws.read("assignments", ["experiment_id", "company_id", "arm"]).astype("str")
        excluded |= set(asg.loc[(asg.experiment_id == GLOBAL_HOLDOUT_EXPERIMENT) & (asg.arm == "holdout"),
                                "company_id"])
        other = asg[asg.experiment_id != spec.experiment_id]
        excluded |= set(control_companies(ws, other))
        assigned = asg.loc[asg.experiment_id == spec.experiment_id, ["company_id", "arm"]]
    return beh, ct, excluded, assigned


def _registration(ws, spec: ProgramSpec) -> pd.DataFrame | None:
    from mof_experiments.experiments.registry import registered_arms

    reg = registered_arms(ws, spec.experiment_id) if ws.has("experiment_arms") else pd.DataFrame()
    new = pd.DataFrame({"experiment_id": spec.experiment_id, "arm": [HOLDOUT_ARM, PROGRAM_ARM],
                        "weight": [spec.holdout, 1 - spec.holdout], "is_control": [True, False]})
    if len(reg):
        w = dict(zip(reg["arm"], reg["weight"].astype(float)))
        if set(w) != {HOLDOUT_ARM, PROGRAM_ARM} or abs(w[HOLDOUT_ARM] - spec.holdout) > 1e-9:
            from mof_experiments.errors import MofConfigError

            raise MofConfigError(f"{spec.source}: key 'holdout': program {spec.program_id!r} is already running "
                                 f"with holdout {w.get(HOLDOUT_ARM)}; a new design needs a new program_id "
                                 "(docs/programs.md: changing a spec)")
        return None
    return new


def _program_lock(workspace, program_id: str):
    """An exclusive ``flock`` on ``<workspace>.<program_id>.lock`` for a whole run (the send
    ledger's lock, :class:`~mof_experiments.send.ledger.LedgerLock`): a second run of the same
    program on the same workspace fails at once (one line) instead of racing the first."""
    import os

    from mof_experiments.send.ledger import LedgerLock

    path = os.path.realpath(workspace) + f".{program_id}.lock"
    return LedgerLock(workspace, suffix=f".{program_id}.lock",
                      busy=f"another `mof program run` of this program is running on this workspace ({path}); "
                           "wait for it to finish")


def run_program(program: ProgramSpec | str, *, workspace, as_of, backend: str = "dry-run", ledger=None,
                engine: str = "duckdb", source=None, dry_run: bool = False, progress: bool = False,
                backoff_seconds: float | None = None, resolve_ambiguous: str | None = None) -> ProgramRun:
    """Run ``program`` as of ``as_of`` (rules in the module docstring).

    Parameters
    ----------
    program : a :class:`ProgramSpec` or the path of its YAML.
    workspace : the workspace file (behavior, contacts, personas, assignments; gets the program tables).
    as_of : the run's cut-off (a resolved ``datetime``).
    backend : the send back-end (``smtp://H:P``, ``mbox:PATH``, ...); ``dry-run`` with ``dry_run``.
    ledger : the send ledger (default ``data/send_ledger.sqlite``).
    engine, source : where the behavior aggregation runs (as in ``mof segment``).
    dry_run : decide the days in memory and return the plan; nothing is written or sent.
    resolve_ambiguous : ``resend`` or ``skip`` the messages a killed run left ambiguous
        (``sending``), as ``mof send --resolve-ambiguous``; None reports them.
    """
    from mof_experiments.send.ledger import DEFAULT_LEDGER

    t0 = time.perf_counter()
    spec = program if isinstance(program, ProgramSpec) else load_program(program)
    if dry_run:
        return _run(spec, workspace, as_of, backend, ledger or DEFAULT_LEDGER, engine, source, True, progress,
                    backoff_seconds, resolve_ambiguous, t0)
    with _program_lock(workspace, spec.program_id):
        return _run(spec, workspace, as_of, backend, ledger or DEFAULT_LEDGER, engine, source, False, progress,
                    backoff_seconds, resolve_ambiguous, t0)


def _run(spec, workspace, as_of, backend, ledger, engine, source, dry_run, progress, backoff_seconds,
         resolve_ambiguous, t0) -> ProgramRun:
    from mof_experiments.engines import open_source
    from mof_experiments.workspace import Workspace

    as_of = pd.Timestamp(as_of).tz_convert("UTC") if pd.Timestamp(as_of).tzinfo else \
        pd.Timestamp(as_of).tz_localize("UTC")
    rows, sends, send_s, plan = [], [], 0.0, {}
    with Workspace(workspace, read_only=dry_run, must_exist=True) as ws:
        days = _days(spec, ws, as_of)
        reg = _registration(ws, spec)
        enr, steps = read_enrollments(ws, spec.program_id), read_steps(ws, spec.program_id)
    for day in days:
        with Workspace(workspace, read_only=dry_run, must_exist=True) as ws:
            src = open_source(engine, source, workspace=ws)
            beh, ct, excluded, assigned = _inputs(ws, spec, day.to_pydatetime(), src)
            dec = decide_day(spec, day.to_pydatetime(), as_of.to_pydatetime(), beh, ct, enr, steps, excluded, assigned,
                             reopen_ambiguous=resolve_ambiguous is not None)
            counts = dec.counts()
            if not dry_run:
                started = datetime.now(timezone.utc)
                nothing_due = not dec.due       # then the day is finished in this same transaction
                counts.update(sent=0, already=0, ambiguous=0, not_sent=0) if nothing_due else None
                write_day(ws, new_enrollments=dec.entries, exits=dec.exits, steps=dec.skipped,
                          assignments=dec.assignments, experiment_arms=reg,
                          run={"program_id": spec.program_id, "day": day.to_pydatetime(), "started_at": started,
                               "finished_at": datetime.now(timezone.utc) if nothing_due else None,
                               "spec_digest": spec.digest, "counts": json.dumps(counts)})
                reg = None
        enr, steps = _apply(enr, steps, dec)
        if not dry_run and not dec.due:
            rows.append({"day": day, **counts})
            continue
        if dry_run:
            plan[day] = dec
            rows.append({"day": day, **counts, "sent": 0, "already": 0, "ambiguous": 0, "not_sent": 0})
            continue
        res, t_send, step_rows = _send_due(spec, dec, workspace, ledger, backend, progress, backoff_seconds,
                                           resolve_ambiguous)
        sends += res
        send_s += t_send
        sent = sum(r.sent for r in res)
        counts.update(sent=sent, already=sum(r.already_done for r in res), ambiguous=sum(len(r.ambiguous) for r in res))
        counts["not_sent"] = counts["due"] - counts["sent"] - counts["already"] - counts["ambiguous"]
        with Workspace(workspace, must_exist=True) as ws:
            write_day(ws, steps=step_rows, run={"program_id": spec.program_id, "day": day.to_pydatetime(),
                                                "started_at": datetime.now(timezone.utc),
                                                "finished_at": datetime.now(timezone.utc),
                                                "spec_digest": spec.digest, "counts": json.dumps(counts)})
        steps = _upsert(steps, step_rows)
        rows.append({"day": day, **counts})
    return ProgramRun(spec.program_id, as_of.to_pydatetime(), dry_run, pd.DataFrame(rows), sends,
                      time.perf_counter() - t0, send_s, plan)


def _apply(enr: pd.DataFrame, steps: pd.DataFrame, dec: DayDecision) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The state after ``dec`` (what the tables hold once it is written)."""
    enr = enr.copy()
    if len(dec.exits):
        key = dict(zip(zip(dec.exits["company_id"], dec.exits["entry"].astype(int)), dec.exits["exit_reason"]))
        hit = [(c, int(e)) in key and pd.isna(x) for c, e, x in zip(enr["company_id"], enr["entry"], enr["exited_at"])]
        enr.loc[hit, "exited_at"] = pd.Timestamp(dec.day)
        enr.loc[hit, "exit_reason"] = [key[(c, int(e))] for c, e in zip(enr.loc[hit, "company_id"],
                                                                        enr.loc[hit, "entry"])]
    if len(dec.entries):
        enr = pd.concat([enr, dec.entries], ignore_index=True) if len(enr) else dec.entries.copy()
    return enr, _upsert(steps, dec.skipped)


def _upsert(steps: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    if new is None or not len(new):
        return steps
    both = pd.concat([steps, new], ignore_index=True) if len(steps) else new.copy()
    return both.drop_duplicates(["contact_id", "entry", "step"], keep="last").reset_index(drop=True)


def _send_due(spec: ProgramSpec, dec: DayDecision, workspace, ledger, backend, progress, backoff, resolve):
    """Send each due step (in step order) and read the ledger's state back for ``program_steps``."""
    from mof_experiments.send import Ledger, load_spec, send_campaign

    results, seconds, out = [], 0.0, []
    for step in spec.steps:
        due = dec.due.get(step.name)
        if due is None or due.empty:
            continue
        base = load_spec(step.campaign_path)
        for entry, group in due.groupby("entry", sort=True):
            cid = spec.campaign_id(step, int(entry))
            camp = replace(base, campaign_id=cid, experiment_id=spec.experiment_id, arms=(PROGRAM_ARM,))
            res = send_campaign(camp, group[["contact_id"]], backend=backend, workspace=workspace, ledger=ledger,
                                progress=progress, backoff_seconds=backoff, resolve_ambiguous=resolve)
            results.append(res)
            seconds += res.send_seconds
            with Ledger(ledger, read_only=True) as led:
                lrows = led.rows(cid)
            for r in group.itertuples():
                lr = lrows.get(r.contact_id)
                state = lr["state"] if lr else "queued"
                out.append((spec.program_id, r.company_id, r.contact_id, int(entry), step.name, cid,
                            lr["message_id"] if lr else None, r.due_at, dec.day, state,
                            lr["reason"] if lr else None))
    frame = pd.DataFrame(out, columns=list(STEP_COLUMNS)) if out else empty_frame(STEP_COLUMNS)
    return results, seconds, frame


__all__ = ["ProgramRun", "run_program"]
