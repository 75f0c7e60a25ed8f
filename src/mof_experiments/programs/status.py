"""``mof program status``: what a program has done so far, from its tables.

:func:`program_status` returns :class:`ProgramStatus`: ``arms`` (arm, companies, contacts,
open, exited, and one column per exit reason) and ``steps`` (step, sent, ambiguous, failed,
pending = planned or deferred, due = owed to open enrollments of the program arm and not
decided yet, and one ``skipped_<reason>`` column per skip reason seen).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from mof_experiments.programs.spec import PROGRAM_ARM, ProgramSpec
from mof_experiments.programs.store import read_enrollments, read_runs, read_steps


@dataclass(frozen=True)
class ProgramStatus:
    """See the module docstring; ``last_day`` is the last day a run finished (None: never)."""

    program_id: str
    last_day: object
    arms: pd.DataFrame = field(repr=False)
    steps: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict:
        return {"program_id": self.program_id, "last_day": None if self.last_day is None else str(self.last_day),
                "arms": json.loads(self.arms.to_json(orient="records")),
                "steps": json.loads(self.steps.to_json(orient="records"))}

    def __str__(self) -> str:
        last = "never run" if self.last_day is None else f"last day finished {self.last_day:%Y-%m-%d}"
        return (f"program {self.program_id} ({last})\n" + self.arms.to_string(index=False) + "\n\n"
                + self.steps.to_string(index=False))

    def _repr_html_(self) -> str:
        return f"<p>{self}</p>".split("\n")[0] + self.arms.to_html(index=False) + self.steps.to_html(index=False)


def program_status(ws, spec: ProgramSpec) -> ProgramStatus:
    """Counts per arm and per step (see the module docstring) from the workspace ``ws``."""
    enr = read_enrollments(ws, spec.program_id)
    steps = read_steps(ws, spec.program_id)
    runs = read_runs(ws, spec.program_id)
    done = runs.loc[runs["finished_at"].notna(), "day"] if len(runs) else pd.Series(dtype="object")
    arms = []
    for arm in ("program", "holdout"):
        e = enr[enr["arm"] == arm]
        co = e.drop_duplicates(["company_id", "entry"])
        row = {"arm": arm, "companies": int(e["company_id"].nunique()), "contacts": int(e["contact_id"].nunique()),
               "open": int(co["exited_at"].isna().sum()), "exited": int(co["exited_at"].notna().sum())}
        for reason in ("production", "completed", "max_days", "left_trigger"):
            row[f"exit_{reason}"] = int((co["exit_reason"] == reason).sum())
        arms.append(row)
    open_prog = enr[enr["exited_at"].isna() & (enr["arm"] == PROGRAM_ARM)]
    pers = ws.raw.execute("SELECT contact_id, persona FROM personas").df() if ws.has("personas") else \
        pd.DataFrame({"contact_id": [], "persona": []})
    open_prog = open_prog.merge(pers, on="contact_id", how="left")
    reasons = sorted(steps.loc[steps["state"] == "skipped", "reason"].dropna().unique()) if len(steps) else []
    rows = []
    for s in spec.steps:
        x = steps[steps["step"] == s.name]
        owed = open_prog[open_prog["persona"].isin(s.personas)]
        decided = set(zip(x["contact_id"], x["entry"].astype(int)))
        row = {"step": s.name, "delay_days": s.delay_days, "sent": int((x["state"] == "sent").sum()),
               "ambiguous": int((x["state"] == "sending").sum()),
               "failed": int((x["state"] == "failed_permanent").sum()),
               "pending": int(x["state"].isin(["queued", "failed_temporary"]).sum()
                              + ((x["state"] == "skipped") & x["reason"].isin(["frequency_cap"])).sum()),
               "due": int(sum((c, int(e)) not in decided for c, e in zip(owed["contact_id"], owed["entry"])))}
        for r in reasons:
            if r != "frequency_cap":
                row[f"skipped_{r}"] = int(((x["state"] == "skipped") & (x["reason"] == r)).sum())
        rows.append(row)
    return ProgramStatus(spec.program_id, None if done.empty else pd.Timestamp(done.max()), pd.DataFrame(arms),
                         pd.DataFrame(rows).fillna(0))


__all__ = ["ProgramStatus", "program_status"]
