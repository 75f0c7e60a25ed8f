"""``mof program run | status | readout``: behavioral programs (docs/programs.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from mof_experiments.cli._app import (app, as_of_option, echo_err, engine_option, resolve_workspace, source_option,
                                      workspace_option)

program_app = typer.Typer(help="Behavioral programs: triggered emails with a holdout, run daily (docs/programs.md).",
                          no_args_is_help=True, rich_markup_mode=None)
app.add_typer(program_app, name="program")

_PROGRAM = typer.Argument(..., help="Program spec (YAML), e.g. programs/stuck_on_errors.yaml.")


@program_app.command("run")
def run(
    program: Path = _PROGRAM,
    as_of: Optional[str] = as_of_option(": the day the program is evaluated (triggers, exits, due steps)"),
    backend: str = typer.Option("dry-run", "--backend", "-b",
                                help="smtp://HOST:PORT, smtps://HOST:PORT or mbox:PATH (as `mof send`). Without it "
                                     "the run is a dry run."),
    workspace: Optional[Path] = workspace_option(),
    ledger: Path = typer.Option(Path("data/send_ledger.sqlite"), "--ledger", help="SQLite send ledger."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (entries, exits, due steps); write and "
                                                          "send nothing."),
    engine: str = engine_option("the behavior aggregation of the trigger", "Program tables are"),
    source: Optional[Path] = source_option(),
    resolve_ambiguous: Optional[str] = typer.Option(None, "--resolve-ambiguous",
                                                    help="Messages a killed run left in 'sending' (the server may "
                                                         "have accepted them): resend or skip. Without it they are "
                                                         "only reported."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Evaluate a program as of a day and send the steps that are due, exactly once.

    Catches up missed days (up to the spec's catch_up.max_days); re-running a day sends nothing
    new. Every rule of `mof send` applies (ledger, suppressions, holdouts, control arms,
    frequency caps). Exit status: 0, 1 when a message failed or is ambiguous, 2 on bad input.
    """
    from mof_experiments.programs import load_program, run_program
    from mof_experiments.sources import resolve_as_of
    from mof_experiments.workspace import Workspace

    if resolve_ambiguous not in (None, "resend", "skip"):
        from mof_experiments.errors import MofConfigError

        raise MofConfigError(f"--resolve-ambiguous must be resend or skip, got {resolve_ambiguous!r}")
    spec = load_program(program)
    ws_path = resolve_workspace(workspace)
    with Workspace(ws_path, read_only=True, must_exist=True) as ws:
        at = resolve_as_of(ws, as_of)
    dry = dry_run or backend == "dry-run"
    result = run_program(spec, workspace=ws_path, as_of=at, backend=backend, ledger=ledger, engine=engine,
                         source=source, dry_run=dry, progress=not quiet, resolve_ambiguous=resolve_ambiguous)
    typer.echo(str(result))
    if dry:
        for day, dec in result.plan.items():
            for step, rows in dec.due.items():
                typer.echo(f"  {day:%Y-%m-%d} {step}: would send to {len(rows):,} contacts "
                           f"(e.g. {', '.join(rows['contact_id'].head(3))})")
    bad = [r for r in result.sends if not r.ok]
    if bad:
        echo_err("mof: " + "; ".join(p for r in bad for p in r.problems))
        return 1
    return 0


@program_app.command("status")
def status(
    program: Path = _PROGRAM,
    workspace: Optional[Path] = workspace_option(),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
):
    """Enrolled and holdout companies, exits by reason, and per step: sent, ambiguous, failed,
    pending, due (owed, not decided yet) and skipped by reason."""
    from mof_experiments.programs import load_program
    from mof_experiments.programs.status import program_status
    from mof_experiments.workspace import Workspace

    spec = load_program(program, check_campaigns=False)
    with Workspace(resolve_workspace(workspace), read_only=True, must_exist=True) as ws:
        st = program_status(ws, spec)
    typer.echo(json.dumps(st.to_dict(), indent=2, default=str) if as_json else str(st))


@program_app.command("readout")
def readout(
    program: Path = _PROGRAM,
    workspace: Optional[Path] = workspace_option(),
    as_of: Optional[str] = as_of_option(" of the outcome (first production call)"),
    window: Optional[int] = typer.Option(None, "--window", min=1,
                                         help="Conversion window in days [default: the spec's "
                                              "conversion_window_days]."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (headline figures and tables)."),
    engine: str = engine_option("the funnel labeling", "Nothing is"),
    source: Optional[Path] = source_option(),
):
    """Program vs holdout from entry: conversion within N days (rates, lift, 95% CI, SRM) and
    time to production by arm (Kaplan-Meier). Causal: the holdout is randomized per company."""
    from mof_experiments.engines import open_source
    from mof_experiments.programs import load_program
    from mof_experiments.programs.readout import program_readout
    from mof_experiments.sources import resolve_as_of
    from mof_experiments.workspace import Workspace

    spec = load_program(program, check_campaigns=False)
    with Workspace(resolve_workspace(workspace), read_only=True, must_exist=True) as ws:
        src = open_source(engine, source, workspace=ws)
        r = program_readout(ws, spec, as_of=resolve_as_of(src, as_of), window_days=window,
                            source=None if src is ws else src)
    if as_json:
        out = {"headlines": r.headlines(), "summary": json.loads(r.summary.to_json(orient="records")),
               "kaplan_meier": json.loads(r.km.summary.to_json(orient="records"))}
        typer.echo(json.dumps(out, indent=2, default=str))
    else:
        typer.echo(str(r))
