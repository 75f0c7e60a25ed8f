"""Send a content plan: each contact of a cohort gets the campaign its persona was planned.

Rules (:func:`send_plan`):

1. The plan (:func:`mof_experiments.content.load_plan`) is validated, then every campaign it
   names is loaded (paths relative to the working directory, else to the plan file) and its
   ``zone`` must be the entry's. The plan's ``experiment_id`` / ``arms`` replace each spec's:
   a campaign spec is reusable under any experiment, and the send still refuses control,
   holdout, other-arm and suppressed contacts (the rules of :mod:`~.dispatch`, unchanged).
2. The persona of each cohort contact comes from the workspace ``personas`` table (never from
   the file: a ``persona`` column of the file is replaced, so the copy matches the campaign); a
   contact whose persona (and segment) has no entry is not sent, and counted.
3. When the plan's experiment is **contact-level** (a zone test, ``mof assign --unit contact``)
   each entry's campaign is sent under the arm named like its zone only (within the plan's
   arms): a contact gets its persona's planned campaign only if it was assigned that zone, so
   the plan never sends a contact another zone than its own (the others are ``other_arm``).
4. **Nothing is sent until everything renders**: every campaign is first planned and rendered
   for its contacts (a dry run; a missing template variable or an unknown contact is a
   one-line error here), then each campaign is sent through the ledger.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd

from mof_experiments.content.plan import assign_entries, load_plan
from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.send.dispatch import send_campaign
from mof_experiments.send.spec import load_spec


def _resolve(campaign: str, plan_path: Path) -> Path:
    p = Path(campaign)
    return p if p.is_absolute() or p.exists() else plan_path.parent / p


def plan_campaigns(plan_path: str | os.PathLike):
    """The plan and, per entry, its campaign spec under the plan's experiment (rule 1)."""
    plan = load_plan(plan_path)
    specs = []
    for i, e in enumerate(plan.entries, start=1):
        f = _resolve(e.campaign, Path(plan_path))
        if not f.is_file():
            raise MofConfigError(f"{plan.source}: entry {i} ({e.persona}): unknown campaign {e.campaign!r} "
                                 f"(no file {f})")
        spec = load_spec(f)
        if spec.zone != e.zone:
            raise MofConfigError(f"{plan.source}: entry {i} ({e.persona}): campaign {e.campaign} is zone "
                                 f"{spec.zone!r}, the plan says {e.zone!r}")
        if plan.experiment_id:
            spec = dataclasses.replace(spec, experiment_id=plan.experiment_id, arms=plan.arms)
        specs.append(spec)
    return plan, specs


def send_plan(plan_path: str | os.PathLike, cohort: pd.DataFrame | str | os.PathLike, *, backend: str,
              workspace: str | os.PathLike, ledger: str | os.PathLike, progress: bool = False, **kwargs):
    """Send each cohort contact its persona's planned campaign (module docstring: the rules).

    Returns ``(results, unplanned)``: a list of ``(persona, campaign_id, SendResult)`` and the
    number of cohort contacts whose persona has no entry. ``kwargs`` go to
    :func:`~mof_experiments.send.dispatch.send_campaign` (``resolve_ambiguous``, ``now``, ...).
    """
    from mof_experiments.cohorts import read_cohort
    from mof_experiments.experiments import experiment_unit
    from mof_experiments.workspace import Workspace

    plan, specs = plan_campaigns(plan_path)
    frame = cohort if isinstance(cohort, pd.DataFrame) else read_cohort(cohort)
    with Workspace(workspace, read_only=True, must_exist=True) as ws:
        if not ws.has("personas"):
            raise MofInputError("the workspace has no personas table (run `mof segment`); a plan sends by persona",
                                source=str(workspace), column="persona")
        per = ws.read("personas")[["contact_id", "company_id", "persona"]].drop_duplicates("contact_id")
        segs = ws.read("segments") if ws.has("segments") else None
        if plan.experiment_id and experiment_unit(ws, plan.experiment_id) == "contact":  # rule 3
            for i, e in enumerate(plan.entries):
                if plan.arms and e.zone not in plan.arms:
                    raise MofConfigError(f"{plan.source}: entry {i + 1} ({e.persona}): zone {e.zone!r} is not among "
                                         f"the plan's arms ({', '.join(plan.arms)}) of contact-level experiment "
                                         f"{plan.experiment_id!r}")
                specs[i] = dataclasses.replace(specs[i], arms=(e.zone,))
    ids = frame["contact_id"].astype(str).str.strip()
    who = pd.DataFrame({"contact_id": ids}).merge(per, on="contact_id", how="left")
    who["persona"] = who["persona"].fillna("")
    entry = assign_entries(plan, who, segs).to_numpy()
    # the persona that picked the campaign also picks its copy: the workspace's, never the file's
    frame = frame.assign(persona=who["persona"].to_numpy())
    parts = [(e, specs[i], frame[entry == i]) for i, e in enumerate(plan.entries) if (entry == i).any()]
    for e, spec, sub in parts:  # phase A: plan and render everything, send nothing
        send_campaign(spec, sub, backend="dry-run", workspace=workspace, ledger=ledger, record=False, **kwargs)
    results = []
    for e, spec, sub in parts:  # phase B: send, campaign by campaign, through the ledger
        results.append((e.persona, spec.campaign_id,
                        send_campaign(spec, sub, backend=backend, workspace=workspace, ledger=ledger,
                                      progress=progress, **kwargs)))
    return results, int((entry < 0).sum())


__all__ = ["send_plan", "plan_campaigns"]
