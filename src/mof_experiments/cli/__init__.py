"""Command line: ``mof``. A thin layer: parse, call one package function, print.

Expected errors (:class:`~mof_experiments.errors.MofError`) are printed as one line,
``mof: error: ...``, with exit status 2. Command modules register on the shared Typer app.
"""

from __future__ import annotations

import sys

import click
import typer

from mof_experiments.cli import core, experiments, plan, program, reports, segment, send  # noqa: F401 (each registers its commands)
from mof_experiments.cli._app import WholeHelpGroup, app
from mof_experiments.errors import MofError


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mof`` console script; returns the exit status."""
    try:
        command = typer.main.get_command(app)
        _whole_help(command)
        rv = command.main(args=argv, standalone_mode=False, prog_name="mof")
    except MofError as exc:
        click.echo(f"mof: error: {exc.one_line()}", err=True)
        return _exit(2)
    except (click.exceptions.Abort, typer.Abort):
        click.echo("mof: aborted", err=True)
        return _exit(130)
    except (click.exceptions.Exit, typer.Exit) as exc:
        return _exit(exc.exit_code)
    except (click.exceptions.ClickException, typer.TyperException) as exc:
        # a bad or missing option (typer >= 0.24 raises its own copy of click's exceptions):
        # one line naming the option, and where to read the usage
        msg = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # `mof` or `mof experiment` alone: the help
            click.echo(msg, err=True)
            return _exit(getattr(exc, "exit_code", 2))
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        click.echo(f"mof: error: {' '.join(str(msg).split())}{where}", err=True)
        return _exit(getattr(exc, "exit_code", 2))
    if rv == 130:          # typer turns Ctrl-C into a silent return of 130 (no command returns it)
        click.echo("mof: aborted", err=True)
    return _exit(rv if isinstance(rv, int) else 0)


def _whole_help(group) -> None:
    """Every command group (``mof``, ``mof report``, ...) lists its commands' whole first sentence."""
    if isinstance(getattr(group, "commands", None), dict):  # a group (typer >= 0.24 vendors its own click)
        if type(group) is typer.core.TyperGroup:
            group.__class__ = WholeHelpGroup
        for sub in group.commands.values():
            _whole_help(sub)


def _exit(code: int) -> int:
    if __name__ == "__main__" or sys.argv and sys.argv[0].endswith("mof"):
        # The process ends here: the interpreter's last garbage collection would walk every object
        # of pandas, scikit-learn, statsmodels and the command's data for nothing (0.5 s after
        # `mof segment` at 100M events; benchmarks/README.md). Frozen objects are left out of it;
        # atexit handlers, finalizers and thread joins run as before.
        import gc

        gc.freeze()
        sys.exit(code)
    return code


__all__ = ["app", "main"]
