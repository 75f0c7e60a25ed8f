"""The Typer application that every command module registers on."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    name="mof",
    help="mof-experiments: behavioral email research for API platforms (middle of the funnel).\n\n"
         "Start with `mof simulate` (demo data with known truth) or `mof ingest` (your exports), "
         "then `mof label`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def workspace_option(default_help: str = "Workspace DuckDB file [default: $MOF_WORKSPACE or data/mof.duckdb]"):
    return typer.Option(None, "--workspace", "-w", help=default_help, show_default=False)


def as_of_option(what: str = ""):
    """``--as-of``: the cut-off shared by the commands that read events."""
    return typer.Option(None, "--as-of",
                        help=f"Cut-off date or timestamp (UTC if naive){what}; events at or after it are ignored. "
                             "Default: end of the simulated period, else now.")


def engine_option(what: str, written: str):
    """``--engine``: where the heavy aggregation of label/segment runs."""
    return typer.Option("duckdb", "--engine",
                        help=f"Where {what} runs: duckdb (the workspace), pyspark, or an Ibis connection URL. "
                             f"{written} written to the workspace either way.")


def source_option():
    """``--source``: the Parquet files an engine reads instead of the workspace."""
    return typer.Option(None, "--source",
                        help="Directory of Parquet files (companies.parquet, api_events/ or api_events.parquet) "
                             "for --engine pyspark or duckdb (`mof export` writes them).")


def resolve_workspace(path: Path | None) -> Path:
    from mof_experiments.workspace import default_workspace_path

    return Path(path) if path is not None else default_workspace_path()


def echo_err(msg: str) -> None:
    typer.echo(msg, err=True)
