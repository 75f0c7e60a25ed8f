"""The program tables of the workspace (created on first use; documented in docs/data-contracts.md).

- ``program_enrollments``: one row per (program, company, contact, entry): program_id,
  company_id, contact_id, entry (1 for the first entry, 2 after a re-entry, ...), entered_at,
  arm (``program`` / ``holdout``), exited_at, exit_reason (``production``, ``left_trigger``,
  ``max_days``, ``completed``), spec_digest (the spec's content hash at entry).
- ``program_steps``: one row per (program, contact, entry, step) that was decided: campaign_id
  and message_id (the send ledger's key and the message's id: the tie to the ledger), due_at,
  decided_on (the run day), state (the ledger's state: ``sent``, ``sending`` = ambiguous,
  ``failed_temporary``, ``failed_permanent``, ``queued``; or ``skipped``) and reason (the
  ledger's skip reason, or ``condition``, ``too_late``, ``exited``).
- ``program_runs``: one row per (program, day) evaluated: day, started_at, finished_at (null:
  the run died before the end of that day), spec_digest, counts (JSON).

Writes go through :func:`write_day` (one transaction per call), so a killed run leaves each
table as it was before the call or after it.
"""

from __future__ import annotations

import pandas as pd

ENROLLMENTS, STEPS, RUNS = "program_enrollments", "program_steps", "program_runs"
ENROLLMENT_COLUMNS = ("program_id", "company_id", "contact_id", "entry", "entered_at", "arm", "exited_at",
                      "exit_reason", "spec_digest")
STEP_COLUMNS = ("program_id", "company_id", "contact_id", "entry", "step", "campaign_id", "message_id", "due_at",
                "decided_on", "state", "reason")
#: step states after which a step is never offered again
FINAL_STATES = ("sent", "sending", "failed_permanent", "skipped")
#: ledger skip reasons that are not final (the step is offered again the next day, until too late)
RETRY_REASONS = ("frequency_cap", "failed_temporary")

_DDL = f"""
CREATE TABLE IF NOT EXISTS {ENROLLMENTS} (
    program_id VARCHAR NOT NULL, company_id VARCHAR NOT NULL, contact_id VARCHAR NOT NULL,
    entry INTEGER NOT NULL, entered_at TIMESTAMPTZ NOT NULL, arm VARCHAR NOT NULL,
    exited_at TIMESTAMPTZ, exit_reason VARCHAR, spec_digest VARCHAR,
    PRIMARY KEY (program_id, company_id, contact_id, entry));
CREATE TABLE IF NOT EXISTS {STEPS} (
    program_id VARCHAR NOT NULL, company_id VARCHAR NOT NULL, contact_id VARCHAR NOT NULL,
    entry INTEGER NOT NULL, step VARCHAR NOT NULL, campaign_id VARCHAR NOT NULL, message_id VARCHAR,
    due_at TIMESTAMPTZ NOT NULL, decided_on TIMESTAMPTZ NOT NULL, state VARCHAR NOT NULL, reason VARCHAR,
    PRIMARY KEY (program_id, contact_id, entry, step));
CREATE TABLE IF NOT EXISTS {RUNS} (
    program_id VARCHAR NOT NULL, day TIMESTAMPTZ NOT NULL, started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ, spec_digest VARCHAR, counts VARCHAR,
    PRIMARY KEY (program_id, day));
"""


def ensure_tables(raw) -> None:
    """Create the three tables if absent (inside the caller's transaction)."""
    for stmt in _DDL.split(";"):
        if stmt.strip():
            raw.execute(stmt)


def _read(ws, table: str, program_id: str, columns) -> pd.DataFrame:
    if not ws.has(table):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    df = ws.raw.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE program_id = ?", [program_id]).df()
    for c in df.columns:
        if str(df[c].dtype).startswith("datetime64"):
            df[c] = pd.to_datetime(df[c], utc=True)
    return df


def read_enrollments(ws, program_id: str) -> pd.DataFrame:
    """``program_enrollments`` rows of one program (columns :data:`ENROLLMENT_COLUMNS`)."""
    return _read(ws, ENROLLMENTS, program_id, ENROLLMENT_COLUMNS)


def read_steps(ws, program_id: str) -> pd.DataFrame:
    """``program_steps`` rows of one program (columns :data:`STEP_COLUMNS`)."""
    return _read(ws, STEPS, program_id, STEP_COLUMNS)


def read_runs(ws, program_id: str) -> pd.DataFrame:
    """``program_runs`` rows of one program, by day."""
    return _read(ws, RUNS, program_id, ("program_id", "day", "started_at", "finished_at", "spec_digest",
                                         "counts")).sort_values("day").reset_index(drop=True)


def write_day(ws, *, new_enrollments: pd.DataFrame | None = None, exits: pd.DataFrame | None = None,
              steps: pd.DataFrame | None = None, assignments: pd.DataFrame | None = None,
              experiment_arms: pd.DataFrame | None = None, run: dict | None = None) -> None:
    """Write one day's decisions in one transaction.

    ``new_enrollments`` are inserted (existing keys kept); ``exits`` (program_id, company_id,
    entry, exited_at, exit_reason) close open enrollments; ``steps`` are upserted on their key;
    ``assignments`` / ``experiment_arms`` rows are appended (the caller passes only new ones);
    ``run`` upserts the ``program_runs`` row.
    """
    with ws.transaction() as raw:
        ensure_tables(raw)
        if new_enrollments is not None and len(new_enrollments):
            raw.register("_new_enr", new_enrollments[list(ENROLLMENT_COLUMNS)])
            raw.execute(f"INSERT INTO {ENROLLMENTS} SELECT * FROM _new_enr ON CONFLICT DO NOTHING")
            raw.unregister("_new_enr")
        if exits is not None and len(exits):
            raw.register("_exits", exits)
            raw.execute(f"UPDATE {ENROLLMENTS} AS e SET exited_at = x.exited_at, exit_reason = x.exit_reason "
                        "FROM _exits AS x WHERE e.program_id = x.program_id AND e.company_id = x.company_id "
                        "AND e.entry = x.entry AND e.exited_at IS NULL")
            raw.unregister("_exits")
        if steps is not None and len(steps):
            raw.register("_steps", steps[list(STEP_COLUMNS)])
            raw.execute(f"INSERT INTO {STEPS} SELECT * FROM _steps ON CONFLICT DO UPDATE SET "
                        "state = excluded.state, reason = excluded.reason, decided_on = excluded.decided_on, "
                        "message_id = excluded.message_id")
            raw.unregister("_steps")
        for name, df in (("experiment_arms", experiment_arms), ("assignments", assignments)):
            if df is not None and len(df):
                from mof_experiments.schema import create_table_sql, validate

                raw.execute(create_table_sql(name))
                raw.register("_rows", validate(df, name, source=f"program:{name}"))
                raw.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _rows")
                raw.unregister("_rows")
        if run is not None:
            raw.execute(f"INSERT INTO {RUNS} VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                        "finished_at = excluded.finished_at, spec_digest = excluded.spec_digest, "
                        "counts = excluded.counts", [run["program_id"], run["day"], run["started_at"],
                                                     run.get("finished_at"), run.get("spec_digest"),
                                                     run.get("counts")])


__all__ = ["ENROLLMENTS", "STEPS", "RUNS", "ENROLLMENT_COLUMNS", "STEP_COLUMNS", "FINAL_STATES", "read_enrollments",
           "read_steps", "read_runs", "write_day", "ensure_tables"]
