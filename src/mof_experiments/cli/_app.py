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


def resolve_workspace(path: Path | None) -> Path:
    from mof_experiments.workspace import default_workspace_path

    return Path(path) if path is not None else default_workspace_path()


def echo_err(msg: str) -> None:
    typer.echo(msg, err=True)
