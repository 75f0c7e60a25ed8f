"""``mof report list`` and ``mof report run``: parameterized notebook reports (papermill)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mof_experiments.cli._app import app, echo_err, workspace_option

report_app = typer.Typer(
    help="Parameterized notebook reports: list them, run them with papermill into reports/<UTC timestamp>/.",
    no_args_is_help=True, add_completion=False, rich_markup_mode=None,
)
app.add_typer(report_app, name="report")


@report_app.command("list")
def list_cmd(
    notebooks: Optional[Path] = typer.Option(None, "--notebooks",
                                             help="Notebook folder [default: $MOF_NOTEBOOKS or ./notebooks]."),
):
    """List the report notebooks and their parameters (name: type = default  # help)."""
    from mof_experiments.reports import list_reports

    for r in list_reports(notebooks):
        typer.echo(f"{r.name}  ({r.path})")
        for name, p in r.parameters.items():
            help_ = f"  # {p['help']}" if p.get("help") else ""
            typer.echo(f"    {name}: {p.get('type') or 'any'} = {p.get('default')}{help_}")


@report_app.command("run")
def run_cmd(
    names: Optional[List[str]] = typer.Argument(None, help="Reports to run (default: all; see `mof report list`)."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p",
                                              help="Notebook parameter key=value (repeatable); converted to the "
                                                   "type the notebook declares; sent only to notebooks that "
                                                   "declare it."),
    out: Path = typer.Option(Path("reports"), "--out", "-o", help="Folder for the run folders."),
    workspace: Optional[Path] = workspace_option("Workspace DuckDB file, passed as the `workspace` parameter "
                                                 "[default: each notebook's own default]"),
    no_code: bool = typer.Option(False, "--no-code", help="Hide code cells in the HTML export."),
    notebooks: Optional[Path] = typer.Option(None, "--notebooks",
                                             help="Notebook folder [default: $MOF_NOTEBOOKS or ./notebooks]."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Per-cell timeout in seconds."),
    kernel: str = typer.Option("python3", "--kernel", help="Jupyter kernel name."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Notebooks run at the same time (one kernel each)."),
    no_snapshot: bool = typer.Option(False, "--no-snapshot",
                                     help="Each notebook loads its own data (default: what the notebooks load "
                                          "is computed once per run and shared; docs/reports.md)."),
):
    """Execute report notebooks into OUT/<UTC timestamp>/ (.ipynb + .html + manifest.json + index.html).

    A failing notebook does not stop the others; the executed copy keeps the failing cell,
    manifest.json names it, and the command exits 1.
    """
    from mof_experiments.reports import parse_parameter_args, run_reports

    result = run_reports(names or None, parse_parameter_args(param), out_dir=out, workspace=workspace,
                         no_code=no_code, nb_dir=notebooks, kernel_name=kernel, timeout=timeout, jobs=jobs,
                         progress=echo_err, snapshot=not no_snapshot)
    # each notebook's line was printed on stderr as it ended; here only the outcome and the failures
    nbs = result.manifest["notebooks"]
    failed = [nb for nb in nbs if nb["status"] != "ok"]
    typer.echo(f"{len(nbs)} notebook{'s' if len(nbs) != 1 else ''}: {len(nbs) - len(failed)} ok, {len(failed)} failed")
    for nb in failed:
        err = nb.get("error") or {}
        typer.echo(f"failed: {nb['name']}: cell {err.get('cell_index')} (In [{err.get('execution_count')}]): "
                   f"{err.get('ename')}: {err.get('evalue')}")
    typer.echo(f"manifest: {result.run_dir / 'manifest.json'}")
    typer.echo(f"index:    {result.run_dir / 'index.html'}")
    if not result.ok:
        raise typer.Exit(1)
