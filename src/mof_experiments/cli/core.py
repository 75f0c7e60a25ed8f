"""Foundation commands: simulate, ingest, label."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mof_experiments.cli._app import (app, as_of_option, echo_err, engine_option, resolve_workspace, source_option,
                                      workspace_option)


@app.command()
def simulate(
    companies: int = typer.Option(3000, "--companies", "-n", help="Number of companies to simulate."),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same seed gives an identical workspace."),
    workspace: Optional[Path] = workspace_option(),
    start: str = typer.Option("2026-01-05", "--start", help="First day of the simulated period (UTC date)."),
    days: int = typer.Option(180, "--days", help="Length of the simulated period in days."),
    design: str = typer.Option("holdout", "--design",
                               help="Experiment arms: holdout (holdout 20% / email 80%), zones "
                                    "(control + one arm per content zone) or content_test (holdout 20% / "
                                    "email 80%, each emailed contact randomized to one of six zones or a "
                                    "generic email; truth per persona x zone in sim_content)."),
    no_heterogeneity: bool = typer.Option(False, "--no-heterogeneity",
                                          help="Same email effect for every archetype (for null checks)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing workspace file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Simulate an API platform with known truth into a new workspace.

    Writes companies, contacts (messy job titles), api_events, email_events, assignments and the
    truth tables sim_truth, sim_contact_truth, sim_effects and sim_content.
    """
    from mof_experiments.simulate import SimConfig, simulate as run

    cfg = SimConfig(companies=companies, seed=seed, start=start, days=days, design=design,
                    heterogeneous=not no_heterogeneity)
    result = run(cfg, resolve_workspace(workspace), overwrite=overwrite, progress=not quiet)
    typer.echo(str(result))


@app.command()
def ingest(
    table: str = typer.Argument(..., help="Canonical table: companies, contacts, api_events, email_events, "
                                          "assignments."),
    files: List[Path] = typer.Argument(..., help="CSV, Parquet or JSON Lines files."),
    workspace: Optional[Path] = workspace_option(),
    assume_tz: Optional[str] = typer.Option(None, "--assume-tz",
                                            help="Zone of naive timestamps (e.g. UTC, Europe/Paris); "
                                                 "without it naive timestamps are rejected."),
    mode: str = typer.Option("append", "--mode", help="append (rows already in the table are skipped) or replace "
                                                      "(reload the table)."),
    strict: bool = typer.Option(False, "--strict", help="Refuse timestamps in the future (default: load them and "
                                                        "warn with their count)."),
):
    """Validate files against a canonical table's contract and load them, all or nothing.

    Idempotent: rows already in the table (identical) are skipped, so loading the same file
    again changes nothing and says so.
    """
    from datetime import datetime, timezone

    from mof_experiments.errors import MofInputError
    from mof_experiments.workspace import Workspace, ingest as run

    if mode not in ("append", "replace"):
        raise MofInputError(f"--mode must be append or replace, got {mode!r}")
    now = datetime.now(timezone.utc)
    with Workspace(resolve_workspace(workspace)) as ws:
        report = run(ws, table, files, assume_tz=assume_tz, mode=mode, strict=strict, now=now)
    for w in report.warnings:
        echo_err(f"mof: warning: {w}")
    typer.echo(str(report))


@app.command()
def label(
    workspace: Optional[Path] = workspace_option(),
    as_of: Optional[str] = as_of_option(),
    min_success: int = typer.Option(1, "--min-success",
                                    help="Successful (2xx) production calls that count as 'in production'."),
    engine: str = engine_option("the aggregation", "The funnel table is"),
    source: Optional[Path] = source_option(),
):
    """Label each company's funnel stage as of a date and write the `funnel` table."""
    from mof_experiments.engines import open_source
    from mof_experiments.funnel import label_workspace, summarize
    from mof_experiments.sources import resolve_as_of
    from mof_experiments.workspace import Workspace

    ws_path = resolve_workspace(workspace)
    with Workspace(ws_path, must_exist=source is None and engine == "duckdb") as ws:
        src = open_source(engine, source, workspace=ws)
        df, report = label_workspace(ws, resolve_as_of(src, as_of), min_success=min_success, source=src)
    for w in report.warnings():
        echo_err(f"mof: warning: {w}")
    typer.echo(f"funnel as of {report.as_of:%Y-%m-%d %H:%M} UTC: {len(df):,} companies, "
               f"{report.events_total - report.events_after_as_of:,} events before as_of")
    typer.echo(str(summarize(df, report.as_of)))


@app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="Directory for the Parquet files."),
    workspace: Optional[Path] = workspace_option(),
    tables: List[str] = typer.Option(["companies", "api_events"], "--table",
                                     help="Tables to export (repeatable)."),
):
    """Export workspace tables to Parquet (e.g. to run `mof label --engine pyspark --source DIR`)."""
    from mof_experiments.engines import export_parquet
    from mof_experiments.workspace import Workspace

    with Workspace(resolve_workspace(workspace), read_only=True, must_exist=True) as ws:
        paths = export_parquet(ws, out, tables)
    for p in paths:
        typer.echo(f"wrote {p}")
