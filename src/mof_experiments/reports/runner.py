"""Report runs: execute the parameterized notebooks with papermill, export HTML, write a manifest.

``run_reports(["content_optimization"], {"window_days": 7})`` (or ``mof report run``) executes
each notebook from ``notebooks/`` into ``reports/<UTC timestamp>/<name>.ipynb``, exports
``<name>.html`` with nbconvert (``no_code=True`` hides the code cells), and writes
``manifest.json`` and ``index.html`` in the run folder.

Manifest (``manifest.json``; keys are public API)
-------------------------------------------------
``run_id``, ``created_at`` (UTC ISO), ``finished_at``, ``run_dir``, ``workspace``, ``no_code``, ``jobs``,
``status`` (``ok`` if every notebook ran, else ``failed``), and ``notebooks``: one entry per
notebook with ``name``, ``input``, ``parameters`` (as injected), ``status`` (``ok`` / ``failed``),
``duration_s``, ``outputs`` (``ipynb``, ``html``, ``headlines``: paths relative to the run
folder), ``headlines`` (the figures the notebook recorded with
:func:`~mof_experiments.reports.record_headline`) and, when it failed, ``error``:
``cell_index`` (0-based, in the executed copy, counting papermill's injected-parameters cell),
``execution_count``, ``source`` (the failing cell's code), ``ename``, ``evalue``.

A failing notebook does not stop the run: papermill keeps the executed copy with the failing
cell's traceback (and an error banner at the top), the other notebooks still run, and the run's
status is ``failed`` (``mof report run`` then exits 1).

Ctrl-C stops the run: no other notebook starts, the running kernels are killed (they run in
sessions of their own, so the signal reaches only the runner), and the manifest gets status
``failed``, ``interrupted: true`` and ``finished_at``, listing the notebooks that had ended.

Workspace: every notebook that declares a ``workspace`` parameter gets the same absolute path,
resolved once here: the ``workspace`` argument, else ``$MOF_WORKSPACE``, else the project's
``data/mof.duckdb`` (:func:`mof_experiments.workspace.default_workspace_path`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from mof_experiments.atomic import write_json_atomic
from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.reports.catalog import coerce_parameter, list_reports, notebook_dir
from mof_experiments.reports.headlines import HEADLINES_ENV, read_headlines, to_jsonable
from mof_experiments.reports.html import export_html, write_index
from mof_experiments.reports.snapshot import SNAPSHOT_ENV, new_snapshot_folder
from mof_experiments.workspace import default_workspace_path

KERNEL_NAME = "python3"


@dataclass
class ReportRun:
    """The outcome of :func:`run_reports`: ``run_dir``, ``manifest`` (the dict written to
    ``manifest.json``), ``ok`` and a ``summary`` table (name, status, duration_s, html, error)."""

    run_dir: Path
    manifest: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.manifest.get("status") == "ok"

    @property
    def summary(self) -> pd.DataFrame:
        rows = []
        for nb in self.manifest.get("notebooks", []):
            err = nb.get("error") or {}
            rows.append(dict(name=nb["name"], status=nb["status"], duration_s=nb["duration_s"],
                             html=str(self.run_dir / nb["outputs"]["html"]) if nb["outputs"].get("html") else "",
                             error=(f"cell {err.get('cell_index')}: {err.get('ename')}: {err.get('evalue')}"
                                    if err else "")))
        return pd.DataFrame(rows, columns=["name", "status", "duration_s", "html", "error"])

    def _repr_html_(self) -> str:
        return f"<p>Report run {self.run_dir}</p>" + self.summary.to_html(index=False)


def _new_run_dir(out_dir: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(1000):
        d = out_dir / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            d.mkdir()
            return d
        except FileExistsError:
            continue
    raise MofConfigError(f"cannot create a run folder in {out_dir}")


def _longest_first(tasks: list, out_dir: Path, run_dir: Path) -> list:
    """``tasks`` in the order to start them: the longest first, by their durations in the newest
    earlier run of ``out_dir`` (the nightly run has one); notebooks it did not time go first,
    in catalog order. With ``--jobs 2`` the last notebook to start is then a short one, so
    neither kernel waits long for the other at the end of the run."""
    last = {}
    for d in sorted((p for p in out_dir.iterdir() if p.is_dir() and p != run_dir), reverse=True):
        try:
            nbs = json.loads((d / "manifest.json").read_text(encoding="utf-8")).get("notebooks") or []
        except (OSError, ValueError):
            continue
        last = {nb.get("name"): nb.get("duration_s") for nb in nbs if isinstance(nb, dict)}
        if last:
            break
    return sorted(tasks, key=lambda t: -(last.get(t["name"]) or float("inf")))


def _start_prewarm(snap_dir: Path, params: dict):
    """Start :mod:`~mof_experiments.reports.prewarm` for the run (None without a workspace)."""
    import subprocess
    import sys

    if not params.get("workspace") or not params.get("as_of"):
        return None
    env = {**os.environ, SNAPSHOT_ENV: str(snap_dir.resolve())}
    return subprocess.Popen([sys.executable, "-m", "mof_experiments.reports.prewarm", str(params["workspace"]),
                             str(params["as_of"])], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc) -> None:
    """Reap the prewarm process (done long before the notebooks); kill it if it is not."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _error_info(exc) -> dict:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return dict(cell_index=exc.cell_index, execution_count=exc.exec_count, source=exc.source,
                    ename=exc.ename, evalue=" ".join(str(exc.evalue).split())[:500])
    return dict(cell_index=None, execution_count=None, source=None, ename=type(exc).__name__,
                evalue=" ".join(str(exc).split())[:500])


def _kernel_manager_class(env: dict, cwd: str):
    """A Jupyter kernel manager whose kernel starts in ``cwd`` with ``env`` added to this process's
    environment: each notebook gets its own ``MOF_HEADLINES_FILE`` without changing the
    environment of the runner, whose threads run several notebooks at once."""
    from jupyter_client.manager import AsyncKernelManager

    class NotebookKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            kw["env"] = {**kw.get("env", os.environ), **env}
            kw["cwd"] = cwd
            out = await super().start_kernel(**kw)
            _KERNELS.add(self)
            return out

    return NotebookKernelManager


#: The kernel managers this process started (weak: a finished notebook's manager goes away).
_KERNELS: "weakref.WeakSet" = weakref.WeakSet()


def _kill_kernels() -> None:
    """Kill every kernel of this process that is still running.

    A kernel runs in a session of its own (jupyter_client), so the SIGINT of a Ctrl-C reaches the
    runner only: without this, the run would wait for the running notebooks to finish.
    """
    for km in list(_KERNELS):
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        if proc is None or proc.poll() is not None:
            continue
        try:
            os.killpg(proc.pid, signal.SIGKILL)      # its session: the kernel and what it started
        except OSError:
            proc.kill()


def _execute_task(task: dict) -> dict:
    """Execute one notebook in its own kernel; never raises for a notebook error."""
    from mof_experiments.reports.catalog import import_papermill

    pm = import_papermill()

    env = {HEADLINES_ENV: task["headlines"]}
    if task.get("snapshot"):
        env[SNAPSHOT_ENV] = task["snapshot"]
    t0 = time.perf_counter()
    try:
        kw = {"execution_timeout": task["timeout"]} if task["timeout"] else {}
        # the kernel's own start-up warnings (e.g. ipykernel 7's "running over TCP without
        # encryption" for a local kernel) are noise in a report run; errors still show
        kw["extra_arguments"] = ["--IPKernelApp.log_level=ERROR"]
        # once the last cell's outputs are in, the kernel is killed, not asked to exit: a graceful
        # shutdown waits while the kernel runs its atexit hooks and tears down pandas, statsmodels
        # and scikit-learn, 0.7-1.0 s per notebook on the run's critical path
        # (benchmarks/README.md). Nothing of a report is written at the kernel's exit: headlines
        # and snapshot parts are written (atomically) by the cells.
        kw["shutdown_kernel"] = "immediate"
        pm.execute_notebook(task["input"], task["output"], parameters=task["parameters"],
                            kernel_name=task["kernel_name"], progress_bar=False,
                            kernel_manager_class=_kernel_manager_class(env, task["cwd"]), **kw)
        status, error = "ok", None
    except Exception as exc:  # a failing notebook must not stop the others
        status, error = "failed", _error_info(exc)
    return dict(status=status, duration_s=round(time.perf_counter() - t0, 2), error=error)


def _resolve_run_as_of(value, workspace: str | None) -> str:
    """The run's ``as_of`` as an ISO string: ``value`` parsed, else the workspace's default."""
    from mof_experiments.sources import resolve_as_of
    from mof_experiments.workspace import Workspace

    if value is not None and not (isinstance(value, str) and not value.strip()):
        return resolve_as_of(None, value).isoformat()
    if workspace is None:
        return resolve_as_of(None, None).isoformat()
    with Workspace(workspace, read_only=True, must_exist=True) as ws:
        return resolve_as_of(ws, None).isoformat()


def run_reports(names=None, parameters: dict | None = None, *, out_dir: str | os.PathLike = "reports",
                workspace: str | os.PathLike | None = None, no_code: bool = False,
                nb_dir: str | os.PathLike | None = None, kernel_name: str = KERNEL_NAME,
                timeout: float | None = None, jobs: int = 1, progress=None, snapshot: bool = True) -> ReportRun:
    """Execute report notebooks with papermill into ``out_dir/<UTC timestamp>/``.

    Parameters
    ----------
    names : notebook names (stems) to run; default all (:func:`list_reports`).
    parameters : ``{name: value}``; string values (from ``-p key=value``) are converted to the
        type each notebook declares. A parameter goes only to the notebooks that declare it; one
        that no selected notebook declares is an error.
    workspace : passed as the ``workspace`` parameter (made absolute) to every notebook that
        declares one; default ``$MOF_WORKSPACE``, else the project's ``data/mof.duckdb``.
        A workspace that does not exist is an error before anything runs.
    no_code : hide code cells in the HTML export.
    kernel_name : Jupyter kernel (default ``python3``).
    timeout : per-cell execution timeout in seconds (None: no limit).
    jobs : notebooks executed at the same time (one kernel process each; default 1).
    progress : optional callable ``progress(message)`` called as each notebook starts / ends.
    snapshot : share what the notebooks load (:func:`~mof_experiments.reports.load_report_data`)
        through the run's snapshot folder, so the funnel, email events and experiment are
        computed once per run, not once per notebook (:mod:`~mof_experiments.reports.snapshot`;
        the folder is removed when the run ends). False: each notebook loads its own.

    ``as_of`` (``parameters["as_of"]``, or the default of
    :func:`~mof_experiments.sources.resolve_as_of` on the workspace) is resolved once and passed
    as an ISO timestamp to every notebook that declares ``as_of``: all reports of a run share
    one cut-off, recorded in the manifest.

    Returns
    -------
    :class:`ReportRun`; ``manifest.json`` and ``index.html`` are in ``run_dir``.
    """
    if jobs < 1:
        raise MofConfigError(f"--jobs must be at least 1, got {jobs}")
    reports = {r.name: r for r in list_reports(nb_dir)}
    if not reports:
        raise MofConfigError(f"no notebooks found in {nb_dir or notebook_dir()}")
    if names:
        unknown = [n for n in names if n not in reports]
        if unknown:
            raise MofConfigError(f"unknown report {unknown[0]!r} (available: {', '.join(reports)})")
        selected = [reports[n] for n in dict.fromkeys(names)]
    else:
        selected = list(reports.values())
    params = dict(parameters or {})
    explicit = workspace if workspace is not None else params.get("workspace")
    if explicit is not None or any("workspace" in r.parameters for r in selected):
        ws_path = Path(explicit if explicit is not None else default_workspace_path()).expanduser().resolve()
        if not ws_path.exists():
            raise MofInputError("workspace not found (run `mof simulate` or `mof ingest` first, or give --workspace)",
                                source=str(ws_path))
        params["workspace"] = str(ws_path)
    for k in params:
        if not any(k in r.parameters for r in selected):
            raise MofConfigError(f"parameter {k!r} is not declared by any selected notebook "
                                 f"({', '.join(r.name for r in selected)}); see `mof report list`")
    if any("as_of" in r.parameters for r in selected):
        # the cut-off every report of the run shares, resolved once (a bad date is a bad option)
        params["as_of"] = _resolve_run_as_of(params.get("as_of"), params.get("workspace"))

    typed = {}  # convert every -p value before anything is written
    for info in selected:
        typed[info.name] = {k: coerce_parameter(k, v, info.parameters[k]["type"]) if isinstance(v, str) else v
                            for k, v in params.items() if k in info.parameters}

    run_dir = _new_run_dir(Path(out_dir))
    manifest = dict(run_id=run_dir.name, created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    finished_at=None, run_dir=str(run_dir.resolve()), workspace=params.get("workspace"),
                    as_of=params.get("as_of"), no_code=no_code, jobs=jobs, status="running", notebooks=[])
    write_json_atomic(run_dir / "manifest.json", manifest)
    snap_dir = new_snapshot_folder(run_dir) if snapshot else None
    tasks = []
    for info in selected:
        nb_params = typed[info.name]
        tasks.append(dict(name=info.name, input=str(info.path.resolve()), output=str((run_dir / f"{info.name}.ipynb").resolve()),
                          headlines=str((run_dir / f"{info.name}.headlines.json").resolve()), parameters=nb_params,
                          kernel_name=kernel_name, timeout=timeout, cwd=os.getcwd(),
                          snapshot=str(snap_dir.resolve()) if snap_dir else None))

    def finish(task, result):
        out_nb, head_path = Path(task["output"]), Path(task["headlines"])
        entry = dict(name=task["name"], input=task["input"], parameters=to_jsonable(task["parameters"]),
                     status=result["status"], duration_s=result["duration_s"],
                     outputs=dict(ipynb=out_nb.name if out_nb.exists() else None, html=None, headlines=None),
                     headlines={}, error=result["error"])
        if head_path.exists():
            entry["outputs"]["headlines"] = head_path.name
            entry["headlines"] = read_headlines(head_path)
        if out_nb.exists():
            try:
                export_html(out_nb, run_dir / f"{task['name']}.html", no_code=no_code)
                entry["outputs"]["html"] = f"{task['name']}.html"
            except Exception as exc:  # keep going; say why in the manifest
                entry["html_error"] = f"{type(exc).__name__}: {exc}"[:300]
        if progress:
            done = len(entries) + 1
            progress(f"[{done}/{len(tasks)}] {entry['name']:<24} {entry['status']:<7} {entry['duration_s'] or 0:>7.1f} s")
        return entry

    entries: dict = {}
    warm = _start_prewarm(snap_dir, params) if snap_dir is not None and jobs > 1 and len(tasks) > 1 else None
    try:
        _run_tasks(tasks, jobs, finish, entries, manifest, run_dir, progress,
                   order=_longest_first(tasks, Path(out_dir), run_dir) if jobs > 1 else tasks)
    finally:
        if warm is not None:
            _stop(warm)
        if snap_dir is not None:
            shutil.rmtree(snap_dir, ignore_errors=True)
    manifest["status"] = "ok" if all(nb["status"] == "ok" for nb in manifest["notebooks"]) else "failed"
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_json_atomic(run_dir / "manifest.json", manifest)
    write_index(run_dir, manifest)
    return ReportRun(run_dir=run_dir, manifest=manifest)


def _run_tasks(tasks, jobs, finish, entries, manifest, run_dir, progress, order=None) -> None:
    """Execute the tasks, ``jobs`` at a time and started in ``order`` (default: ``tasks``),
    recording each in the manifest (in the order of ``tasks``) as it ends.

    Each notebook runs in its own kernel (a separate process); the runner waits on them from
    threads (papermill only relays messages), so no worker process is started and imported
    per notebook, and each kernel gets its environment at start (:func:`_kernel_manager_class`).
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed, wait

    if progress:
        progress(f"running {len(tasks)} notebook{'s' if len(tasks) != 1 else ''}"
                 + (f", {min(jobs, len(tasks))} at a time ..." if jobs > 1 and len(tasks) > 1 else " ..."))
    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(tasks))))
    futures: dict = {}
    try:
        futures.update({pool.submit(_execute_task, task): task for task in (order or tasks)})
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - the thread itself failed
                result = dict(status="failed", duration_s=None, error=_error_info(exc))
            entries[task["name"]] = finish(task, result)
            manifest["notebooks"] = [entries[t["name"]] for t in tasks if t["name"] in entries]
            write_json_atomic(run_dir / "manifest.json", manifest)
    except BaseException as exc:
        # Ctrl-C (or the runner itself failing): start no other notebook, stop the running ones,
        # and say in the manifest that the run did not finish (status "failed", the notebooks
        # that ended listed; "interrupted" for a Ctrl-C)
        pool.shutdown(wait=False, cancel_futures=True)
        running = {f for f in futures if not f.done()}
        while running:                     # a kernel may still be starting: kill until none runs
            _kill_kernels()
            running = wait(running, timeout=0.5).not_done
        pool.shutdown(wait=True)
        manifest.update(status="failed", finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        if isinstance(exc, KeyboardInterrupt):
            manifest["interrupted"] = True
        try:
            write_json_atomic(run_dir / "manifest.json", manifest)
        except OSError:                    # the error being raised says more than this one would
            pass
        raise
    pool.shutdown(wait=True)


def read_manifest(run_dir: str | os.PathLike) -> dict:
    """Read ``manifest.json`` of a run folder."""
    p = Path(run_dir) / "manifest.json"
    if not p.exists():
        raise MofInputError("manifest.json not found", source=str(run_dir))
    return json.loads(p.read_text(encoding="utf-8"))


__all__ = ["KERNEL_NAME", "ReportRun", "run_reports", "read_manifest"]
