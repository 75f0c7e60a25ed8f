"""Send commands: ``mof cohort export``, ``mof send``, ``mof events import``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mof_experiments.cli._app import app, echo_err, resolve_workspace, workspace_option

cohort_app = typer.Typer(help="Select and export cohorts of contacts.", no_args_is_help=True,
                         rich_markup_mode=None)
events_app = typer.Typer(help="Bring ESP engagement events back into the workspace.", no_args_is_help=True,
                         rich_markup_mode=None)
app.add_typer(cohort_app, name="cohort")
app.add_typer(events_app, name="events")


def _split(values: Optional[List[str]]) -> Optional[List[str]]:
    if not values:
        return None
    out = [v.strip() for item in values for v in item.split(",") if v.strip()]
    return out or None


@cohort_app.command("export")
def cohort_export(
    out: Path = typer.Option(..., "--out", "-o", help="Output file, .csv or .parquet (written atomically)."),
    workspace: Optional[Path] = workspace_option(),
    stage: Optional[List[str]] = typer.Option(None, "--stage",
                                              help="Funnel stage(s): signed_up, sandbox, production (needs "
                                                   "`mof label`). Repeat or comma-separate."),
    persona: Optional[List[str]] = typer.Option(None, "--persona",
                                                help="Persona(s): PM, GC, CSO, CFO, CEO, DEV, OTHER (needs "
                                                     "`mof segment`)."),
    exclude_needs_review: bool = typer.Option(False, "--exclude-needs-review",
                                              help="Leave out contacts whose persona needs review (low "
                                                   "confidence or unreadable title; needs `mof segment`)."),
    segment: Optional[List[str]] = typer.Option(None, "--segment",
                                                help="Behavioral segment name(s); a company in any of them "
                                                     "qualifies (needs `mof segment`)."),
    experiment: Optional[str] = typer.Option(None, "--experiment",
                                             help="Keep companies assigned in this experiment (needs `mof assign`)."),
    arm: Optional[List[str]] = typer.Option(None, "--arm", help="Arm(s) of --experiment [default: every "
                                                                "non-control arm]; control arms are refused "
                                                                "(unless --include-control)."),
    columns: Optional[List[str]] = typer.Option(None, "--columns",
                                                help="Columns to write [default: contact_id,email,company_id,"
                                                     "persona,company_name]; also job_title, stage, arm, plan."),
    include_control: bool = typer.Option(False, "--include-control",
                                         help="Keep contacts of companies in the global holdout or in a control "
                                              "arm of any experiment (excluded by default; e.g. for analysis). "
                                              "Prints how many it kept; `mof send` still never emails them."),
    allow_formulas: bool = typer.Option(False, "--allow-formulas",
                                        help="Write CSV cells that start with = + - @ tab or CR as they are "
                                             "(default: prefixed with ' so spreadsheets do not run them)."),
    plan: Optional[Path] = typer.Option(None, "--plan",
                                        help="A plan from `mof plan content`: keep the personas it plans, "
                                             "under its experiment and arms, and add a planned_campaign column."),
):
    """Export the contacts matching the filters, minus suppressed contacts, the global holdout
    and the control arms of every experiment.

    With a contact-level --experiment (a zone test, `mof assign --unit contact`) --arm selects
    contacts by their own arm, and the file carries the behavior-aware variables the zone
    campaigns use (top_error_class, top_error_endpoint), as with --plan.

    Prints how many contacts were selected and how many each rule excluded.
    """
    from mof_experiments.cohorts import export_cohort, write_cohort
    from mof_experiments.workspace import Workspace

    planned = None
    if plan is not None:
        from mof_experiments.content import load_plan
        from mof_experiments.errors import MofConfigError

        planned = load_plan(plan)
        if experiment and planned.experiment_id and experiment != planned.experiment_id:
            raise MofConfigError(f"--experiment {experiment} disagrees with the plan's {planned.experiment_id}")
        experiment = experiment or planned.experiment_id
        arm = arm or (list(planned.arms) if planned.arms else None)
        persona = persona or sorted({e.persona for e in planned.entries})
        cols = _split(columns)
        if cols and "persona" not in cols:
            cols = cols + ["persona"]
        columns = cols
    with Workspace(resolve_workspace(workspace), read_only=True, must_exist=True) as ws:
        cohort = export_cohort(ws, stage=_split(stage), personas=_split(persona), segments=_split(segment),
                               experiment_id=experiment, arms=_split(arm), columns=_split(columns),
                               include_control=include_control, exclude_needs_review=exclude_needs_review)
        from mof_experiments.experiments import experiment_unit

        zone_test = experiment is not None and experiment_unit(ws, experiment) == "contact"
        if planned is not None:  # persona-only entries; segment entries are resolved by `mof send --plan`
            by_persona = {e.persona: e.campaign for e in reversed(planned.entries)}
            cohort.frame["planned_campaign"] = cohort.frame["persona"].map(by_persona)
        if planned is not None or zone_test:  # for the zone campaigns (a plan's, or a zone test's)
            from mof_experiments.content.context import CONTEXT_COLUMNS, error_context
            from mof_experiments.sources import resolve_as_of

            # behavior-aware variables of the templates (e.g. the assistance email's error class)
            ctx = error_context(ws, cohort.frame["company_id"], resolve_as_of(ws, None))
            cohort.frame[list(CONTEXT_COLUMNS)] = cohort.frame[["company_id"]].merge(
                ctx, on="company_id", how="left")[list(CONTEXT_COLUMNS)].to_numpy()
    write_cohort(cohort.frame, out, neutralize=not allow_formulas)
    typer.echo(f"{cohort} -> {out}")
    for r in cohort.summary.itertuples():
        kept = cohort.kept.get(r.step)
        note = f"   KEPT {kept:,} (--include-control)" if include_control and kept is not None else ""
        typer.echo(f"  {r.step:<18} removed {r.removed:>7,}   remaining {r.remaining:>7,}{note}")
    if include_control:
        echo_err(f"mof: warning: --include-control kept {sum(cohort.kept.values()):,} contacts in the global "
                 "holdout or a control arm; do not email this file from another tool")


@app.command("send")
def send(
    campaign: Optional[Path] = typer.Argument(None, help="Campaign spec (YAML), e.g. campaigns/case_study_pm.yaml "
                                                         "(or --plan)."),
    cohort: Path = typer.Option(..., "--cohort", "-c", help="Cohort file from `mof cohort export` (.csv/.parquet): "
                                                            "contact_id selects; addresses come from the workspace."),
    backend: str = typer.Option(..., "--backend", "-b",
                                help="smtp://HOST:PORT (STARTTLS when offered), smtps://HOST:PORT, mbox:PATH or "
                                     "dry-run. Credentials only from $MOF_SMTP_USER / $MOF_SMTP_PASSWORD."),
    workspace: Optional[Path] = workspace_option(),
    ledger: Path = typer.Option(Path("data/send_ledger.sqlite"), "--ledger",
                                help="SQLite send ledger (one row per campaign and contact)."),
    resolve_ambiguous: Optional[str] = typer.Option(None, "--resolve-ambiguous",
                                                    help="What to do with messages an interrupted run left in "
                                                         "'sending' (the server may have accepted them): resend "
                                                         "or skip. Without it they are only reported. A skip is "
                                                         "final until resend is given."),
    retry_backoff: Optional[float] = typer.Option(None, "--retry-backoff",
                                                  help="Seconds before the first retry of a 4xx reply (doubles "
                                                       "each time) [default: the spec's retry.backoff_seconds]."),
    max_attempts: Optional[int] = typer.Option(None, "--max-attempts",
                                               help="Attempts per message on 4xx [default: the spec's "
                                                    "retry.max_attempts]."),
    preview: bool = typer.Option(False, "--preview", help="With dry-run: print the first message."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    plan: Optional[Path] = typer.Option(None, "--plan",
                                        help="Send each contact its persona's planned campaign (a plan from `mof "
                                             "plan content`) instead of one CAMPAIGN; every campaign is rendered "
                                             "for its contacts before the first is sent."),
    experiment: Optional[str] = typer.Option(None, "--experiment",
                                             help="Send CAMPAIGN under this experiment instead of the spec's "
                                                  "experiment_id (printed), e.g. a zone test: --experiment mof_zone "
                                                  "--arm security sends only the contacts assigned security."),
    arm: Optional[List[str]] = typer.Option(None, "--arm",
                                            help="Arm(s) of --experiment to send [default: every non-control arm]."),
):
    """Send a campaign to a cohort, safely: never twice, never to suppressed, holdout or control.

    The cohort file selects contacts by contact_id; every address comes from the workspace (a
    file whose email disagrees is refused). Every message is planned and rendered before the
    first is sent. Exit status: 0 when all went well, 1 when some message failed or is
    ambiguous or the sends could not be recorded in the workspace (the line says which), 2 on
    bad input.
    """
    from mof_experiments.errors import MofConfigError
    from mof_experiments.send.dispatch import send_campaign

    if resolve_ambiguous not in (None, "resend", "skip"):
        raise MofConfigError(f"--resolve-ambiguous must be resend or skip, got {resolve_ambiguous!r}")
    if (campaign is None) == (plan is None):
        raise MofConfigError("give either a CAMPAIGN spec or --plan PLAN (not both, not neither)")
    if arm and experiment is None:
        raise MofConfigError("--arm needs --experiment")
    if experiment is not None and plan is not None:
        raise MofConfigError("--experiment is for one CAMPAIGN; a plan sends under its own experiment")
    if experiment is not None:
        import dataclasses

        from mof_experiments.send.spec import load_spec

        spec = load_spec(campaign)
        arms = tuple(_split(arm)) if _split(arm) else None
        echo_err(f"mof: note: sending {spec.campaign_id} under experiment {experiment} (arms: "
                 f"{', '.join(arms) if arms else 'every non-control arm'}) instead of the spec's "
                 f"{spec.experiment_id or 'none'} ({', '.join(spec.arms or ()) or 'every non-control arm'})")
        campaign = dataclasses.replace(spec, experiment_id=experiment, arms=arms)
    if plan is not None:
        from mof_experiments.send.plan_send import send_plan

        results, unplanned = send_plan(plan, cohort, backend=backend, workspace=resolve_workspace(workspace),
                                       ledger=ledger, resolve_ambiguous=resolve_ambiguous,
                                       backoff_seconds=retry_backoff, max_attempts=max_attempts, progress=not quiet)
        bad = []
        for persona_, cid, r in results:
            typer.echo(f"[{persona_}] {r}")
            if not r.ok:
                bad.append(f"{cid}: " + "; ".join(r.problems))
        if unplanned:
            typer.echo(f"{unplanned:,} cohort contacts have no planned campaign for their persona: not sent")
        if bad:
            echo_err("mof: " + " | ".join(bad))
            return 1
        return 0
    result = send_campaign(campaign, cohort, backend=backend, workspace=resolve_workspace(workspace),
                           ledger=ledger, resolve_ambiguous=resolve_ambiguous, backoff_seconds=retry_backoff,
                           max_attempts=max_attempts, progress=not quiet)
    typer.echo(str(result))
    if preview and result.preview:
        typer.echo("-" * 72)
        typer.echo(result.preview)
    if not result.ok:
        echo_err("mof: " + "; ".join(result.problems))
        return 1
    return 0


@events_app.command("import")
def events_import(
    file: Path = typer.Argument(..., help="ESP event export: SendGrid webhook JSON, Mailgun events JSON or CSV."),
    format: str = typer.Option(..., "--format", "-f", help="sendgrid, mailgun or csv."),
    workspace: Optional[Path] = workspace_option(),
    strict: bool = typer.Option(False, "--strict", help="Refuse events timestamped in the future (default: import "
                                                        "them and warn with their count)."),
):
    """Import delivered/open/click/bounce/unsubscribe/complaint events into email_events.

    Duplicates (same ESP event id) are dropped; unsubscribes, hard bounces and complaints are
    added to the suppression list. A malformed file imports nothing.
    """
    from datetime import datetime, timezone

    from mof_experiments.send.events import import_events
    from mof_experiments.workspace import Workspace

    now = datetime.now(timezone.utc)
    with Workspace(resolve_workspace(workspace), must_exist=True) as ws:
        report = import_events(ws, file, format, strict=strict, now=now)
    for w in report.warnings:
        echo_err(f"mof: warning: {w}")
    typer.echo(str(report))
