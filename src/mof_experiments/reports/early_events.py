"""A report run's early API events: the one scan of ``api_events`` the notebooks share.

The report notebooks measure sandbox activity *before* a per-company time: the landmark of the
funnel report (first sandbox call + 7 days), the first email and the landmark of the
engagement report (enrollment + 7 days), the assignment of the experiment report. Each used
to scan every API event (100M rows in the nightly benchmark) to keep the few before that
time. In a report run (a snapshot folder, :mod:`mof_experiments.reports.snapshot`) the first
kernel that needs them writes those events once, as a Parquet file, and every analysis reads
the file instead of the whole table.

Rules
-----
- **Reach.** For each company the file holds every event with ``ts < reach_at``, where
  ``reach_at = max(first sandbox call, last assignment before as_of, first email sent) +
  REACH_DAYS`` (the report parameters' default landmark, 7 days). A company with none of these
  has no reach and no events in the file.
- **Only when it covers.** :meth:`EarlyEvents.covers` is true when every company asked about
  has a reach and its cut-off is at or before it (missing cut-offs count as covered: they
  select no event either way). Otherwise the analysis reads the workspace as before; the result
  is the same either way, only slower (a notebook run with a longer landmark, say).
- **Platform endpoints.** ``behavior_at``'s ``endpoint_share`` divides by the endpoints any
  company called before the latest cut-off: the part stores each endpoint's first call
  (:meth:`EarlyEvents.platform_endpoints_before`), which gives that count exactly.
- **Exact.** An analysis that keeps a company's events with ``ts < cutoff_at <= reach_at``
  sees the same rows from the file as from the table, so every output is equal (tested).
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mof_experiments.atomic import atomic_path
from mof_experiments.engines import sql_string

#: Days added to each company's latest known time (the default landmark of the reports).
REACH_DAYS = 7.0
#: Columns of the early events (what the analyses read of ``api_events``).
EVENT_COLUMNS = ("company_id", "ts", "environment", "endpoint", "status_code")


@dataclass(frozen=True)
class EarlyEvents:
    """The stored early events: ``path`` (Parquet), ``reach`` (company_id -> reach_at),
    ``first_seen`` (endpoint -> first call), ``rows`` (events in the file)."""

    path: str
    reach: pd.Series
    first_seen: pd.Series
    rows: int

    def covers(self, cutoffs: pd.DataFrame, column: str = "cutoff_at") -> bool:
        """Whether every company of ``cutoffs`` (company_id, ``column``) is covered (module rules)."""
        if not Path(self.path).is_file():
            return False
        c = cutoffs[["company_id", column]]
        c = c[c[column].notna()]
        if c.empty:
            return True
        reach = c["company_id"].astype(str).map(self.reach)
        return bool(reach.notna().all() and (pd.to_datetime(c[column], utc=True) <= reach).all())

    def platform_endpoints_before(self, ts) -> int:
        """Distinct endpoints called (by anyone) before ``ts``."""
        return int((self.first_seen < pd.Timestamp(ts)).sum())


def reach_times(funnel: pd.DataFrame, assignments: pd.DataFrame, messages: pd.DataFrame | None,
                reach_days: float = REACH_DAYS) -> pd.Series:
    """``reach_at`` per company (index company_id): see the module's rule."""
    parts = [funnel.set_index("company_id")["first_sandbox_at"].dropna()]
    if assignments is not None and not assignments.empty:
        parts.append(assignments.groupby("company_id")["assigned_at"].max())
    if messages is not None and not messages.empty:
        parts.append(messages.groupby("company_id")["sent_at"].min())
    t = pd.concat(parts, axis=1).max(axis=1).dropna()
    t.index = t.index.astype(str)
    return (t + pd.Timedelta(days=reach_days)).rename("reach_at")


def first_sends(workspace, as_of) -> pd.Series:
    """Each company's first ``sent`` email event before ``as_of`` (empty without email events)."""
    if not workspace.has("email_events"):
        return pd.Series(dtype="datetime64[us, UTC]", name="sent_at")
    df = workspace.raw.execute("SELECT company_id, min(ts) AS sent_at FROM email_events "
                               "WHERE event = 'sent' AND ts < ? GROUP BY company_id",
                               [pd.Timestamp(as_of).to_pydatetime()]).fetch_arrow_table().to_pandas()
    return pd.Series(pd.to_datetime(df["sent_at"], utc=True).to_numpy(), index=df["company_id"].astype(str),
                     name="sent_at")


def compute_early_events(snapshot, workspace_path, as_of, funnel: pd.DataFrame,
                         assignments: pd.DataFrame) -> EarlyEvents:
    """The part a report run stores: reach from ``funnel`` (labeled as of ``as_of``),
    ``assignments`` (before ``as_of``) and the first sends, and the events written to a Parquet
    file in the run's snapshot folder."""
    from mof_experiments.workspace import Workspace

    with Workspace(workspace_path, read_only=True, must_exist=True) as ws:
        sends = first_sends(ws, as_of).rename_axis("company_id").reset_index()
        reach = reach_times(funnel, assignments, sends)
        return write_early_events(ws, reach, Path(snapshot.folder) / f"early_events-{uuid.uuid4().hex}.parquet")


def write_early_events(workspace, reach: pd.Series, path: str | os.PathLike) -> EarlyEvents:
    """Scan ``api_events`` once: write each company's events before its reach to ``path``
    (atomically) and collect each endpoint's first call."""
    raw = workspace.raw
    cut = pd.DataFrame({"company_id": reach.index.astype(str), "reach_at": reach.to_numpy()})
    raw.register("_mof_reach", cut)
    try:
        cols = ", ".join(f"e.{c}" for c in EVENT_COLUMNS)
        with atomic_path(Path(path)) as tmp:
            raw.execute(f"COPY (SELECT {cols} FROM api_events e JOIN _mof_reach r ON e.company_id = r.company_id "
                        f"WHERE e.ts < r.reach_at) TO {sql_string(tmp)} (FORMAT parquet)")
        first = raw.execute("SELECT endpoint, min(ts) AS first_at FROM api_events GROUP BY endpoint").fetch_arrow_table().to_pandas()
        rows = raw.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
    finally:
        raw.unregister("_mof_reach")
    first_seen = pd.Series(pd.to_datetime(first["first_at"], utc=True).to_numpy(), index=first["endpoint"].astype(str))
    return EarlyEvents(str(path), reach, first_seen, int(rows))


class EarlyEventsSource:
    """A table source (:class:`~mof_experiments.sources.TableSource`): the workspace ``ws``
    whose ``api_events`` is the early-events file (a view on the same connection, so it joins
    with the workspace's tables)."""

    def __init__(self, ws, early: EarlyEvents):
        self.ws = ws
        self.early = early
        self._events = ws.con.read_parquet(early.path)

    def table(self, name: str):
        return self._events if name == "api_events" else self.ws.table(name)

    def has(self, name: str) -> bool:
        return self.ws.has(name)

    def meta(self) -> dict:
        return self.ws.meta()

    def platform_endpoints_before(self, ts) -> int:
        return self.early.platform_endpoints_before(ts)

    def __repr__(self) -> str:
        return f"EarlyEventsSource({str(self.ws.path)!r}, {self.early.rows:,} events)"


@contextmanager
def events_source(workspace, early: EarlyEvents | None, cutoffs: pd.DataFrame, column: str = "cutoff_at"):
    """A source for analyses of events before ``cutoffs``: the early events when they cover
    them, else the workspace itself. ``workspace``: an open Workspace, or a path (opened
    read-only for the block)."""
    from mof_experiments.workspace import Workspace

    if not isinstance(workspace, Workspace):
        with Workspace(workspace, read_only=True, must_exist=True) as ws:
            with events_source(ws, early, cutoffs, column) as src:
                yield src
        return
    yield EarlyEventsSource(workspace, early) if early is not None and early.covers(cutoffs, column) else workspace


__all__ = ["EarlyEvents", "EarlyEventsSource", "REACH_DAYS", "compute_early_events", "events_source", "first_sends",
           "reach_times", "write_early_events"]
