"""The Typer application that every command module registers on."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.core import TyperGroup


def first_sentence(text: str | None) -> str:
    """The first sentence of a command's help, whole: up to the first ``.``/``!``/``?`` followed by
    a capitalized word or the end of the first paragraph (``e.g.`` does not end it)."""
    para = " ".join((text or "").strip().split("\n\n")[0].split())
    m = re.search(r"(?<=[.!?])\s+(?=[A-Z`])", para)
    return para[:m.start()] if m else para


class WholeHelpGroup(TyperGroup):
    """A command group whose ``--help`` lists each command with its whole first sentence, wrapped,
    instead of click's cut to the terminal width ("Simulate an API platform with known truth
    into a new...")."""

    def format_commands(self, ctx, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.short_help or first_sentence(cmd.help)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


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
