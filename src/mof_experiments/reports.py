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
folder), ``headlines`` (the figures the notebook recorded with :func:`record_headline`) and,
when it failed, ``error``: ``cell_index`` (0-based, in the executed copy, counting papermill's
injected-parameters cell), ``execution_count``, ``source`` (the failing cell's code), ``ename``,
``evalue``.

A failing notebook does not stop the run: papermill keeps the executed copy with the failing
cell's traceback (and an error banner at the top), the other notebooks still run, and the run's
status is ``failed`` (``mof report run`` then exits 1).

Headline figures
----------------
Notebooks call :func:`record_headline` (``record_headline("open_ratio", 2.01)``). During a
report run the runner points the environment variable ``MOF_HEADLINES_FILE`` at
``<run>/<name>.headlines.json`` (the kernel inherits the environment) and each call merges its
value into that JSON file, atomically. Run interactively (variable unset), the value is only kept
in memory (:func:`recorded_headlines`), so an analyst's session writes nothing.
"""

from __future__ import annotations

import html as _html
import json
import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from mof_experiments.errors import MofConfigError, MofInputError

HEADLINES_ENV = "MOF_HEADLINES_FILE"
NOTEBOOKS_ENV = "MOF_NOTEBOOKS"
KERNEL_NAME = "python3"
DEFAULT_ORDER = ("funnel_overview", "content_optimization", "engagement_conversion", "experiment_readout")
_MEMORY: dict = {}


# ------------------------------------------------------------------------------------------
# headline figures
# ------------------------------------------------------------------------------------------

def _jsonable(value):
    """Plain JSON types from numpy / pandas scalars and containers (NaN becomes None)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (int, str)):
        return value
    if value is pd.NA:
        return None
    raise MofInputError(f"headline value of type {type(value).__name__} is not JSON-serializable: {value!r}")


def _write_json_atomic(path: Path, data) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def record_headline(name: str, value, *, path: str | os.PathLike | None = None):
    """Record a headline figure of the running notebook and return ``value`` unchanged.

    Parameters
    ----------
    name : a snake_case key (e.g. ``open_ratio``); recording the same name again replaces it.
    value : a number, string, bool, None, or a list / dict of those (numpy scalars are
        converted; NaN is stored as null).
    path : the JSON file to merge into; default ``$MOF_HEADLINES_FILE`` (set by the report
        runner). With neither, the value is only kept in memory (:func:`recorded_headlines`).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise MofInputError(f"headline name must be a snake_case identifier, got {name!r}")
    v = _jsonable(value)
    _MEMORY[name] = v
    target = path if path is not None else os.environ.get(HEADLINES_ENV)
    if target:
        target = Path(target)
        data = read_headlines(target) if target.exists() else {}
        data[name] = v
        _write_json_atomic(target, data)
    return value


def recorded_headlines() -> dict:
    """Headlines recorded in this Python process (a copy)."""
    return dict(_MEMORY)


def read_headlines(path: str | os.PathLike) -> dict:
    """Read a headlines JSON file (``{}`` if it does not exist)."""
    p = Path(path)
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MofInputError(f"not valid JSON ({exc.msg} at line {exc.lineno})", source=str(p)) from None
    if not isinstance(data, dict):
        raise MofInputError("headlines file must hold a JSON object", source=str(p))
    return data


# ------------------------------------------------------------------------------------------
# notebooks and their parameters
# ------------------------------------------------------------------------------------------

def notebook_dir() -> Path:
    """Where the report notebooks are: ``$MOF_NOTEBOOKS``, else ``./notebooks``, else the
    ``notebooks/`` folder of the source checkout the package was installed from."""
    env = os.environ.get(NOTEBOOKS_ENV)
    if env:
        return Path(env)
    local = Path.cwd() / "notebooks"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[2] / "notebooks"


@dataclass(frozen=True)
class ReportInfo:
    """A report notebook: ``name``, ``path`` and ``parameters`` (name -> dict with ``type``,
    ``default`` and ``help``, from papermill's inspection of the ``parameters`` cell)."""

    name: str
    path: Path
    parameters: dict


def list_reports(nb_dir: str | os.PathLike | None = None) -> list[ReportInfo]:
    """The notebooks in ``nb_dir`` (default :func:`notebook_dir`) with their parameters, in the
    order funnel_overview, content_optimization, engagement_conversion, experiment_readout, then
    any others alphabetically."""
    import papermill as pm

    d = Path(nb_dir) if nb_dir is not None else notebook_dir()
    if not d.is_dir():
        raise MofConfigError(f"notebook folder not found: {d} (set {NOTEBOOKS_ENV} or run from the project root)")
    paths = sorted(p for p in d.glob("*.ipynb") if not p.name.startswith("."))
    rank = {n: i for i, n in enumerate(DEFAULT_ORDER)}
    paths.sort(key=lambda p: (rank.get(p.stem, len(rank)), p.stem))
    out = []
    for p in paths:
        raw = pm.inspect_notebook(str(p))
        params = {k: {"type": v.get("inferred_type_name"), "default": v.get("default"), "help": v.get("help")}
                  for k, v in raw.items()}
        out.append(ReportInfo(name=p.stem, path=p, parameters=params))
    return out


_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def coerce_parameter(name: str, text: str, type_name: str | None):
    """Convert a ``-p key=value`` string to the type the notebook declares (int, float, bool,
    str; ``None``/``null`` for optional parameters). Raises :class:`MofConfigError`."""
    t = (type_name or "").replace(" ", "")
    optional = t.startswith("Optional[") or t.endswith("|None") or t.startswith("None|")
    base = t.removeprefix("Optional[").removesuffix("]").replace("|None", "").replace("None|", "")
    if optional and text.strip().lower() in ("none", "null", ""):
        return None
    try:
        if base == "int":
            return int(text)
        if base == "float":
            return float(text)
        if base == "bool":
            low = text.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
    except ValueError:
        raise MofConfigError(f"-p {name}={text}: expected {base}") from None
    if base in ("str", ""):
        return text
    try:  # lists, dicts and other annotated types: JSON, else the plain string
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_parameter_args(items) -> dict:
    """``["key=value", ...]`` -> ``{key: "value"}`` (strings; typed later per notebook)."""
    out = {}
    for item in items or ():
        if "=" not in item:
            raise MofConfigError(f"-p expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        k = k.strip()
        if not k.isidentifier():
            raise MofConfigError(f"-p parameter name must be an identifier, got {k!r}")
        out[k] = v
    return out


# ------------------------------------------------------------------------------------------
# running
# ------------------------------------------------------------------------------------------

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


def export_html(ipynb: str | os.PathLike, html_path: str | os.PathLike, *, no_code: bool = False) -> Path:
    """Export an executed notebook to standalone HTML (nbconvert; images embedded).

    ``no_code=True`` hides code cells (inputs) and papermill's parameter cell, keeping the
    narrative, tables, figures and error tracebacks.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(ipynb), as_version=4)
    exporter = HTMLExporter(exclude_input=no_code, exclude_input_prompt=no_code, exclude_output_prompt=no_code)
    body, _ = exporter.from_notebook_node(nb)
    out = Path(html_path)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, out)
    return out


def _error_info(exc) -> dict:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return dict(cell_index=exc.cell_index, execution_count=exc.exec_count, source=exc.source,
                    ename=exc.ename, evalue=" ".join(str(exc.evalue).split())[:500])
    return dict(cell_index=None, execution_count=None, source=None, ename=type(exc).__name__,
                evalue=" ".join(str(exc).split())[:500])


def _execute_task(task: dict) -> dict:
    """Execute one notebook (in this process or a worker); never raises for a notebook error."""
    import papermill as pm

    old_env = os.environ.get(HEADLINES_ENV)
    os.environ[HEADLINES_ENV] = task["headlines"]
    t0 = time.perf_counter()
    try:
        kw = {"execution_timeout": task["timeout"]} if task["timeout"] else {}
        # the kernel's own start-up warnings (e.g. ipykernel 7's "running over TCP without
        # encryption" for a local kernel) are noise in a report run; errors still show
        kw["extra_arguments"] = ["--IPKernelApp.log_level=ERROR"]
        pm.execute_notebook(task["input"], task["output"], parameters=task["parameters"],
                            kernel_name=task["kernel_name"], progress_bar=False, cwd=task["cwd"], **kw)
        status, error = "ok", None
    except Exception as exc:  # a failing notebook must not stop the others
        status, error = "failed", _error_info(exc)
    finally:
        if old_env is None:
            os.environ.pop(HEADLINES_ENV, None)
        else:
            os.environ[HEADLINES_ENV] = old_env
    return dict(status=status, duration_s=round(time.perf_counter() - t0, 2), error=error)


def run_reports(names=None, parameters: dict | None = None, *, out_dir: str | os.PathLike = "reports",
                workspace: str | os.PathLike | None = None, no_code: bool = False,
                nb_dir: str | os.PathLike | None = None, kernel_name: str = KERNEL_NAME,
                timeout: float | None = None, jobs: int = 1, progress=None) -> ReportRun:
    """Execute report notebooks with papermill into ``out_dir/<UTC timestamp>/``.

    Parameters
    ----------
    names : notebook names (stems) to run; default all (:func:`list_reports`).
    parameters : ``{name: value}``; string values (from ``-p key=value``) are converted to the
        type each notebook declares. A parameter goes only to the notebooks that declare it; one
        that no selected notebook declares is an error.
    workspace : passed as the ``workspace`` parameter (made absolute) to every notebook.
    no_code : hide code cells in the HTML export.
    kernel_name : Jupyter kernel (default ``python3``).
    timeout : per-cell execution timeout in seconds (None: no limit).
    jobs : notebooks executed at the same time (separate processes and kernels; default 1).
    progress : optional callable ``progress(message)`` called as each notebook starts / ends.

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
    if workspace is not None:
        params["workspace"] = str(Path(workspace).expanduser().resolve())
        if not Path(params["workspace"]).exists():
            raise MofInputError("workspace not found (run `mof simulate` or `mof ingest` first)", source=str(workspace))
    for k in params:
        if not any(k in r.parameters for r in selected):
            raise MofConfigError(f"parameter {k!r} is not declared by any selected notebook "
                                 f"({', '.join(r.name for r in selected)}); see `mof report list`")

    if isinstance(params.get("as_of"), str) and params["as_of"].strip():
        from mof_experiments.funnel import parse_as_of

        parse_as_of(params["as_of"])  # the cut-off every report shares: a bad date is a bad option

    typed = {}  # convert every -p value before anything is written
    for info in selected:
        typed[info.name] = {k: coerce_parameter(k, v, info.parameters[k]["type"]) if isinstance(v, str) else v
                            for k, v in params.items() if k in info.parameters}

    run_dir = _new_run_dir(Path(out_dir))
    manifest = dict(run_id=run_dir.name, created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    finished_at=None, run_dir=str(run_dir.resolve()), workspace=params.get("workspace"),
                    no_code=no_code, jobs=jobs, status="running", notebooks=[])
    _write_json_atomic(run_dir / "manifest.json", manifest)
    tasks = []
    for info in selected:
        nb_params = typed[info.name]
        tasks.append(dict(name=info.name, input=str(info.path.resolve()), output=str((run_dir / f"{info.name}.ipynb").resolve()),
                          headlines=str((run_dir / f"{info.name}.headlines.json").resolve()), parameters=nb_params,
                          kernel_name=kernel_name, timeout=timeout, cwd=os.getcwd()))

    def finish(task, result):
        out_nb, head_path = Path(task["output"]), Path(task["headlines"])
        entry = dict(name=task["name"], input=task["input"], parameters=_jsonable(task["parameters"]),
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
            progress(f"{entry['name']}: {entry['status']} in {entry['duration_s'] or 0:.1f} s")
        return entry

    entries: dict = {}
    if jobs <= 1 or len(tasks) == 1:
        for task in tasks:
            if progress:
                progress(f"running {task['name']} ...")
            entries[task["name"]] = finish(task, _execute_task(task))
            manifest["notebooks"] = [entries[t["name"]] for t in tasks if t["name"] in entries]
            _write_json_atomic(run_dir / "manifest.json", manifest)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # one process per running notebook: each sets its own MOF_HEADLINES_FILE for its kernel
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(_execute_task, task): task for task in tasks}
            if progress:
                progress(f"running {len(tasks)} notebooks, {jobs} at a time ...")
            for fut in as_completed(futures):
                task = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # the worker itself died
                    result = dict(status="failed", duration_s=None, error=_error_info(exc))
                entries[task["name"]] = finish(task, result)
                manifest["notebooks"] = [entries[t["name"]] for t in tasks if t["name"] in entries]
                _write_json_atomic(run_dir / "manifest.json", manifest)
    manifest["status"] = "ok" if all(nb["status"] == "ok" for nb in manifest["notebooks"]) else "failed"
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    _write_json_atomic(run_dir / "manifest.json", manifest)
    _write_index(run_dir, manifest)
    return ReportRun(run_dir=run_dir, manifest=manifest)


def _fmt_headline(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    s = json.dumps(v) if not isinstance(v, str) else v
    return s if len(s) <= 80 else s[:77] + "..."


def _write_index(run_dir: Path, manifest: dict) -> Path:
    e = _html.escape
    rows = []
    for nb in manifest["notebooks"]:
        link = (f'<a href="{e(nb["outputs"]["html"])}">{e(nb["name"])}</a>' if nb["outputs"].get("html")
                else e(nb["name"]))
        err = nb.get("error")
        status = e(nb["status"]) + (f"<br><small>cell {err['cell_index']}: {e(str(err['ename']))}: "
                                    f"{e(str(err['evalue']))}</small>" if err else "")
        heads = "<br>".join(f"{e(k)} = {e(_fmt_headline(v))}" for k, v in nb.get("headlines", {}).items())
        rows.append(f"<tr><td>{link}</td><td>{status}</td><td>{nb['duration_s']}</td><td>{heads}</td></tr>")
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>mof report run {e(manifest['run_id'])}</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px 8px;"
            "vertical-align:top}table{border-collapse:collapse}</style></head><body>"
            f"<h1>Report run {e(manifest['run_id'])}</h1><p>workspace: {e(str(manifest.get('workspace')))}; "
            f"status: <b>{e(manifest['status'])}</b>; started {e(manifest['created_at'])} UTC</p>"
            "<table><tr><th>report</th><th>status</th><th>seconds</th><th>headline figures</th></tr>"
            + "".join(rows) + "</table></body></html>")
    out = run_dir / "index.html"
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, out)
    return out


def read_manifest(run_dir: str | os.PathLike) -> dict:
    """Read ``manifest.json`` of a run folder."""
    p = Path(run_dir) / "manifest.json"
    if not p.exists():
        raise MofInputError("manifest.json not found", source=str(run_dir))
    return json.loads(p.read_text(encoding="utf-8"))


__all__ = ["record_headline", "recorded_headlines", "read_headlines", "notebook_dir", "ReportInfo", "list_reports",
           "coerce_parameter", "parse_parameter_args", "ReportRun", "run_reports", "export_html", "read_manifest",
           "HEADLINES_ENV", "KERNEL_NAME"]
