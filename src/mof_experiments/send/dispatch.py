"""Dispatch: plan, render, send through a back-end, record in the ledger and the workspace.

The workspace decides who may be emailed and at which address: the cohort file *selects*
contacts by ``contact_id``; every address, company and exclusion comes from the workspace, and a
file whose ``email`` disagrees with the workspace's is refused before anything is sent.

:func:`send_campaign` runs in four phases:

1. **Plan** (reads the workspace, writes nothing). Each cohort row gets a decision, checked in
   this order: ``duplicate_contact`` (a repeated contact_id in the file: ignored),
   ``unknown_contact`` (not in ``contacts``), ``invalid_address`` (the workspace address fails
   ``email-validator``, or needs SMTPUTF8), ``suppressed``
   (:func:`mof_experiments.cohorts.suppressed_contacts` plus the ledger's suppressions),
   ``holdout`` / ``control`` / ``other_arm`` / ``not_assigned`` (from ``assignments`` and
   ``experiment_arms``; ``control`` is a control arm of *any* experiment; for a contact-level
   experiment, ``mof assign --unit contact``, the contact's own arm in ``contact_assignments``,
   and a contact in a control arm of any of them is ``control``), ``duplicate_email``,
   ``frequency_cap`` (sends of *any* campaign to the contact in the last ``days``: ledger
   ``sent`` rows plus workspace ``email_events`` ``sent`` rows not in the ledger). Rows already
   ``sent`` or ``failed_permanent`` are left alone, and so are rows a human skipped
   (``--resolve-ambiguous skip``: final until ``--resolve-ambiguous resend``); rows left in
   ``sending`` by a dead run are **ambiguous**. A message the workspace's ``email_events``
   already records as sent (same campaign and contact, or same Message-ID) is never sent again,
   even when the ledger has no row for it (a new or lost ledger): it is written to the ledger
   as ``sent``.
2. **Render** every message to send, before the first send: a template variable that neither
   the cohort nor the workspace provides, a template error or a header injection (line break
   in a subject or name from the data) stops the run with nothing sent.
3. **Send**: per message, commit ``sending``, do the SMTP transaction, commit the outcome.
   4xx: retried after ``backoff * 2**(attempt-1)`` s up to ``max_attempts``; 5xx:
   ``failed_permanent`` and suppressed in the same commit.
4. **Record**: ledger ``sent`` rows not yet in the workspace are appended to ``email_events``
   (event ``sent``; message_ids already there are not repeated), ledger suppressions to the
   workspace ``suppressions`` table. A failure here is reported and retried by the next run.

Where each phase lives: the workspace's facts in :mod:`~mof_experiments.send.facts`, phases 1
and 2 in :mod:`~mof_experiments.send.plan`, phase 3 in :mod:`~mof_experiments.send.loop`,
phase 4 in :mod:`~mof_experiments.send.record`, the result in :mod:`~mof_experiments.send.result`;
this module runs them in order under the ledger lock and the workspace's send lock (one real send
at a time per workspace, whatever its ledger: two ledgers cannot see each other's rows).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.errors import MofConfigError
from mof_experiments.send.backends import get_backend
from mof_experiments.send.ledger import DEFAULT_LEDGER, Ledger, LedgerLock
from mof_experiments.send.loop import send_loop
from mof_experiments.send.plan import plan_and_render
from mof_experiments.send.record import record_in_workspace
from mof_experiments.send.result import SendResult
from mof_experiments.send.spec import CampaignSpec, load_spec

RESOLVE = (None, "resend", "skip")


def send_campaign(spec: CampaignSpec | str | Path, cohort: pd.DataFrame | str | Path, *, backend: str,
                  workspace: str | Path, ledger: str | Path = DEFAULT_LEDGER,
                  resolve_ambiguous: str | None = None, backoff_seconds: float | None = None,
                  max_attempts: int | None = None, now: datetime | None = None, progress: bool = False,
                  record: bool = True) -> SendResult:
    """Send ``spec`` to ``cohort`` through ``backend`` (see the module docstring for the phases).

    Parameters
    ----------
    spec : a :class:`CampaignSpec` or the path of its YAML.
    cohort : a DataFrame or the path of a cohort file (.csv/.parquet): ``contact_id`` selects
        the contacts; ``email``, if present, must agree with the workspace (which supplies every
        address); other columns are template variables; ``name`` is the recipient's display name.
    backend : ``smtp://H:P``, ``smtps://H:P``, ``mbox:PATH`` or ``dry-run``.
    workspace : the workspace file (contacts, assignments, suppressions; gets ``sent`` events).
    ledger : the SQLite ledger (default ``data/send_ledger.sqlite``).
    resolve_ambiguous : None (report rows left in ``sending``), ``resend`` or ``skip``.
    backoff_seconds, max_attempts : override the spec's retry policy (e.g. 0 in tests).
    now : the clock for the frequency cap window (default: now, UTC).
    progress : show a progress bar (on a terminal).
    record : append ``sent`` rows and suppressions to the workspace (phase 4); False leaves the
        workspace untouched (the ledger keeps them unrecorded for a later run).

    Returns
    -------
    SendResult
        counts of this run, ambiguous rows, ledger counts by state; ``ok`` is False when a
        message failed, is ambiguous, or the run stopped early.
    """
    from mof_experiments.cohorts import read_cohort

    t0 = time.perf_counter()
    if resolve_ambiguous not in RESOLVE:
        raise MofConfigError(f"--resolve-ambiguous must be resend or skip, got {resolve_ambiguous!r}")
    if not isinstance(spec, CampaignSpec):
        spec = load_spec(spec)
    if isinstance(cohort, pd.DataFrame):
        source = "cohort"
        require_columns(cohort, ["contact_id"], source)
    else:
        source = str(cohort)
        cohort = read_cohort(cohort)
    be = get_backend(backend)
    now = now or datetime.now(timezone.utc)
    max_attempts = max_attempts or spec.retry.max_attempts
    backoff = spec.retry.backoff_seconds if backoff_seconds is None else backoff_seconds
    with (nullcontext() if be.dry_run else LedgerLock(ledger)), \
            (nullcontext() if be.dry_run or not Path(workspace).exists() else _workspace_lock(workspace)):
        return _run(spec, cohort, source, be, workspace, ledger, resolve_ambiguous, now, max_attempts, backoff,
                    progress, record, t0)


def _workspace_lock(workspace) -> LedgerLock:
    """The lock on ``<workspace>.send.lock`` held by a real send (the ledger's lock,
    :class:`~mof_experiments.send.ledger.LedgerLock`): two runs with different ledgers cannot see
    each other's rows, and the workspace records ``sent`` events only at the end of a run, so
    only one send at a time may read and email from one workspace."""
    return LedgerLock(workspace, suffix=".send.lock",
                      busy=f"{workspace}: another `mof send` is sending from this workspace (with another ledger, "
                           "or `mof program run`); wait for it to finish")


def _run(spec, cohort, source, be, workspace, ledger, resolve_ambiguous, now, max_attempts, backoff, progress,
         record, t0) -> SendResult:
    led = Ledger(ledger, read_only=be.dry_run)
    try:
        plan = plan_and_render(spec, cohort, workspace_path=workspace, ledger=led, cohort_source=source, now=now,
                               resolve_ambiguous=resolve_ambiguous)
        decided = {d["contact_id"] for d in plan.decisions}
        if be.dry_run:
            all_amb = [r["contact_id"] for r in led.ambiguous(spec.campaign_id)]
            preview = plan.to_send[0][3].as_string() if plan.to_send else None
            return SendResult(spec.campaign_id, be.describe(), True, len(decided) + plan.already + len(
                [a for a in plan.ambiguous if a not in decided]), len(plan.to_send), plan.already,
                plan.skipped, 0, 0, 0, tuple(all_amb) if resolve_ambiguous is None else (), 0,
                led.counts(spec.campaign_id), time.perf_counter() - t0, None, 0.0, preview,
                from_workspace=len(plan.adopt))
        if plan.adopt:
            led.adopt_sent(spec.campaign_id, plan.adopt)
        if plan.reopen:
            led.reopen_skipped_ambiguous(spec.campaign_id, plan.reopen)
        led.plan(spec.campaign_id, plan.decisions)
        all_amb = [r["contact_id"] for r in led.ambiguous(spec.campaign_id)]
        sending_ids = {item[0] for item in plan.to_send}
        if resolve_ambiguous == "skip":
            to_skip, unresolved = all_amb, []
        elif resolve_ambiguous == "resend":
            # in this cohort but no longer eligible (e.g. suppressed since): skipped, not resent;
            # not in this cohort file: cannot be rendered, so still reported
            to_skip = [a for a in plan.ambiguous if a not in sending_ids]
            unresolved = [a for a in all_amb if a not in set(plan.ambiguous)]
        else:
            to_skip, unresolved = [], all_amb
        if to_skip:
            led.resolve_ambiguous(spec.campaign_id, to_skip, "skip")
            plan.skipped["ambiguous_skipped"] = plan.skipped.get("ambiguous_skipped", 0) + len(to_skip)
        resend = set(plan.ambiguous) & sending_ids if resolve_ambiguous == "resend" else set()
        stats = send_loop(spec, be, led, plan.to_send, max_attempts, backoff, progress, resend)
        recorded, rec_error = (record_in_workspace(spec, led, workspace) if record else (0, None))
        planned = len(decided | set(plan.ambiguous)) + plan.already
        return SendResult(spec.campaign_id, be.describe(), False, planned, stats["sent"], plan.already, plan.skipped,
                          stats["failed_temporary"], stats["failed_permanent"], stats["retried"],
                          tuple(unresolved + stats["ambiguous"]), recorded, led.counts(spec.campaign_id),
                          time.perf_counter() - t0, stats["error"], stats["seconds"], record_error=rec_error,
                          from_workspace=len(plan.adopt), resent_ambiguous=len(resend))
    finally:
        led.close()


__all__ = ["send_campaign", "SendResult", "plan_and_render"]
