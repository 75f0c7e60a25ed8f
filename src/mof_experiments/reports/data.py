"""The report notebooks' data: one loader call reads everything a notebook shows, as of one date.

Every report notebook starts with ``data = load_report_data(workspace, as_of, ...)``. The rules:

- ``workspace``: the path given; if empty, ``$MOF_WORKSPACE``; else the project's
  ``data/mof.duckdb`` (:func:`mof_experiments.workspace.default_workspace_path`, which also
  finds it from ``notebooks/``, where JupyterLab runs). Opened read-only.
- ``as_of``: resolved once (:func:`mof_experiments.sources.resolve_as_of`: the value given,
  else the end of the simulated period, else now) and used for every table: the funnel is
  labeled as of it, email events at or after it are ignored, and an experiment only contains
  companies assigned before it.
- In a report run (``mof report run``) the parts are computed once per run and shared by the
  notebooks through the run's snapshot (:mod:`~mof_experiments.reports.snapshot`); the data
  are the same as computed alone. So are the API events before each company's landmark, first
  email or assignment (:meth:`ReportData.events_before`,
  :mod:`~mof_experiments.reports.early_events`): one scan of ``api_events`` per run.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import pandas as pd

from mof_experiments.errors import MofInputError
from mof_experiments.experiments import ExperimentData

#: The simulator's truth tables (absent from real data).
TRUTH_TABLES = ("sim_truth", "sim_effects", "sim_content", "sim_contact_truth")


def load_personas(workspace) -> pd.DataFrame:
    """The workspace's ``personas`` table (contact_id, persona, ...); if the table is absent,
    personas computed from the contacts' job titles (as ``mof segment`` would)."""
    if workspace.has("personas"):
        return workspace.read("personas")
    from mof_experiments.segments import personas_from_workspace  # the classifier: only when needed

    return personas_from_workspace(workspace)


@dataclass(frozen=True)
class ReportData:
    """The inputs of a report notebook, read once from a workspace as of a date.

    ``workspace_path``, ``as_of`` (UTC), ``funnel`` (:func:`mof_experiments.funnel.label` as of
    ``as_of``), ``companies``, ``assignments`` (all experiments, assigned before ``as_of``),
    ``messages`` (:func:`~mof_experiments.engagement.message_engagement` of email events before
    ``as_of``; None when email was not requested), ``engagements``
    (:func:`~mof_experiments.engagement.human_engagements`), ``personas`` (:func:`load_personas`,
    or None), ``experiment`` (:class:`~mof_experiments.experiments.ExperimentData` when an
    experiment was requested, else None), ``truth`` (the simulator's ``sim_*`` tables by
    name; empty for real data) and ``contact_assignments`` (contact-level experiments, assigned
    before ``as_of``; None when the workspace has none).
    """

    workspace_path: str
    as_of: datetime
    funnel: pd.DataFrame = field(repr=False)
    companies: pd.DataFrame = field(repr=False)
    assignments: pd.DataFrame = field(repr=False)
    messages: pd.DataFrame | None = field(default=None, repr=False)
    engagements: pd.DataFrame | None = field(default=None, repr=False)
    personas: pd.DataFrame | None = field(default=None, repr=False)
    experiment: ExperimentData | None = field(default=None, repr=False)
    truth: dict = field(default_factory=dict, repr=False)
    contact_assignments: pd.DataFrame | None = field(default=None, repr=False)
    early_events: Callable | None = field(default=None, repr=False, compare=False)

    @contextmanager
    def events_before(self, cutoffs: pd.DataFrame, column: str = "cutoff_at"):
        """A read-only table source for analyses of each company's API events before its own
        ``column`` in ``cutoffs`` (e.g. ``sandbox_activity_before(src, cutoffs)``): in a report run,
        the run's early events when they cover the cut-offs; otherwise the workspace. The
        results are the same either way (:mod:`~mof_experiments.reports.early_events`)."""
        from mof_experiments.reports.early_events import events_source

        early = self.early_events() if self.early_events is not None else None
        with events_source(self.workspace_path, early, cutoffs, column) as src:
            yield src

    @property
    def summary(self) -> pd.DataFrame:
        rows = [("as of (UTC)", f"{pd.Timestamp(self.as_of):%Y-%m-%d %H:%M}"), ("companies", f"{len(self.funnel):,}")]
        m = self.messages
        if m is not None:
            rows += [("messages sent", f"{len(m):,}"), ("delivered", f"{int(m['delivered'].sum()):,}"),
                     ("machine opens excluded", f"{int(m['machine_opens'].sum()):,}"),
                     ("human engagements (opens + clicks)", f"{len(self.engagements):,}")]
        rows.append(("experiment assignments", f"{len(self.assignments):,}"))
        if self.experiment is not None:
            x = self.experiment
            rows += [(f"{x.experiment_id}: companies assigned", f"{x.enrolled:,}"),
                     (f"{x.experiment_id}: whole {x.window_days:g}-day window observed", f"{len(x.complete):,}")]
        rows.append(("simulated (truth available)", "yes" if self.truth else "no"))
        return pd.DataFrame(rows, columns=["item", "value"])

    def _repr_html_(self) -> str:
        return f"<p>Workspace <code>{self.workspace_path}</code></p>" + self.summary.to_html(index=False)


def load_report_data(workspace=None, as_of=None, *, email: bool = True, personas: bool | None = None,
                     experiment_id: str | None = None, window_days: float = 30.0, min_success: int = 1,
                     exclude_machine_opens: bool = True, machine_open_seconds: float = 10.0) -> ReportData:
    """Open the workspace read-only and load what a report notebook uses, as of one date.

    Parameters
    ----------
    workspace : path of the workspace; None or ``""``: ``$MOF_WORKSPACE``, else the project's
        ``data/mof.duckdb`` (see the module's rules).
    as_of : the cut-off; None or ``""``: the end of the simulated period, else now.
    email : load ``messages`` and ``engagements`` (an error when there is no email event
        before ``as_of``).
    personas : load the contacts' personas (:func:`load_personas`); None (default): when
        ``email`` is requested.
    experiment_id : also load the experiment's outcomes and features (``experiment``), with
        conversion within ``window_days`` of assignment.
    min_success : successful production calls that count as "in production" (funnel rule).
    exclude_machine_opens, machine_open_seconds : the machine-open rule of
        :func:`mof_experiments.engagement.message_engagement`.
    """
    from mof_experiments.engagement import human_engagements, message_engagement
    from mof_experiments.experiments import experiment_data
    from mof_experiments.funnel import label, reuse_labels, stored_labels
    from mof_experiments.reports.early_events import compute_early_events, events_source
    from mof_experiments.reports.snapshot import Snapshot
    from mof_experiments.sources import resolve_as_of
    from mof_experiments.workspace import Workspace

    snap = Snapshot.from_env()
    with Workspace(workspace or None, read_only=True, must_exist=True) as ws:
        t = resolve_as_of(ws, as_of)
        cutoff = pd.Timestamp(t)

        def part(name, compute, **args):
            """One part of the data: from the run's snapshot when there is one (computed once per run)."""
            return compute() if snap is None else snap.get(name, compute, ws.path, as_of=t.isoformat(), **args)

        def read_tables():
            asg = ws.read("assignments") if ws.has("assignments") else pd.DataFrame(
                columns=["experiment_id", "company_id", "arm", "assigned_at"])
            ca = ws.read("contact_assignments") if ws.has("contact_assignments") else None
            ca = None if ca is None else ca[ca["assigned_at"] < cutoff].reset_index(drop=True)
            return dict(companies=ws.read("companies"), assignments=asg[asg["assigned_at"] < cutoff].reset_index(drop=True),
                        truth={n: ws.read(n) for n in TRUTH_TABLES if ws.has(n)},
                        contact_assignments=ca)

        def read_email():
            ev = ws.read("email_events")
            ev = ev[ev["ts"] < cutoff]
            if ev.empty:
                raise MofInputError(f"no email events before as_of {cutoff:%Y-%m-%d %H:%M}", source=str(ws.path),
                                    column="ts")
            return (message_engagement(ev, exclude_machine_opens=exclude_machine_opens,
                                       machine_open_seconds=machine_open_seconds),
                    human_engagements(ev, exclude_machine_opens=exclude_machine_opens,
                                      machine_open_seconds=machine_open_seconds))

        def read_funnel():
            # the nightly run labels first (`mof label`): its stored table, when still current
            stored = stored_labels(ws, t, min_success=min_success)
            return label(ws, t, min_success=min_success) if stored is None else stored

        funnel = part("funnel", read_funnel, min_success=min_success)
        tables = part("tables", read_tables)
        early = None
        if snap is not None:
            def early():
                """The run's early API events (computed by the first analysis that asks)."""
                return part("early_events", lambda: compute_early_events(snap, ws.path, t, funnel,
                                                                         tables["assignments"]),
                            min_success=min_success)
        msgs = eng = per = exp = None
        if email:
            msgs, eng = part("email", read_email, exclude_machine_opens=exclude_machine_opens,
                             machine_open_seconds=machine_open_seconds)
        if personas or (personas is None and email):
            per = part("personas", lambda: load_personas(ws))
        if experiment_id is not None:
            def read_experiment():
                # its outcomes label the funnel again: reuse the one above
                asg = tables["assignments"]
                asg = asg.loc[asg["experiment_id"] == experiment_id, ["company_id", "assigned_at"]]
                with reuse_labels(ws, {(t, min_success): funnel}), \
                        events_source(ws, early() if early else None, asg, "assigned_at") as src:
                    return experiment_data(ws, experiment_id, as_of=t, window_days=window_days,
                                           min_success=min_success, features_source=src)

            exp = part("experiment", read_experiment, experiment_id=experiment_id, window_days=window_days,
                       min_success=min_success)
        data = ReportData(workspace_path=str(ws.path.resolve()), as_of=t, funnel=funnel,
                          companies=tables["companies"], assignments=tables["assignments"], messages=msgs,
                          engagements=eng, personas=per, experiment=exp, truth=tables["truth"],
                          contact_assignments=tables.get("contact_assignments"), early_events=early)
    return data


__all__ = ["ReportData", "load_report_data", "load_personas", "TRUTH_TABLES"]
