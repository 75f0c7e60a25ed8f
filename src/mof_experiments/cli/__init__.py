"""Command line: ``mof``. A thin layer: parse, call one package function, print.

Expected errors (:class:`~mof_experiments.errors.MofError`) are printed as one line,
``mof: error: ...``, with exit status 2. Command modules register on the shared Typer app.
"""

from __future__ import annotations

import sys

import click

from mof_experiments.cli import core, experiments, reports, segment, send  # noqa: F401 (each registers its commands)
from mof_experiments.cli._app import app
from mof_experiments.errors import MofError


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mof`` console script; returns the exit status."""
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="mof")
    except MofError as exc:
        click.echo(f"mof: error: {exc.one_line()}", err=True)
        return _exit(2)
    except click.exceptions.Abort:
        click.echo("mof: aborted", err=True)
        return _exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        return _exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        return _exit(exc.exit_code)
    return _exit(rv if isinstance(rv, int) else 0)


def _exit(code: int) -> int:
    if __name__ == "__main__" or sys.argv and sys.argv[0].endswith("mof"):
        sys.exit(code)
    return code


__all__ = ["app", "main"]
