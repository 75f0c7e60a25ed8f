"""HTML of a report run: each executed notebook (nbconvert) and the run's ``index.html``."""

from __future__ import annotations

import html as _html
import json
import os
from pathlib import Path

from mof_experiments.atomic import write_text_atomic


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
    return write_text_atomic(html_path, body)


def _fmt_headline(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    s = json.dumps(v) if not isinstance(v, str) else v
    return s if len(s) <= 80 else s[:77] + "..."


def write_index(run_dir: Path, manifest: dict) -> Path:
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
    return write_text_atomic(run_dir / "index.html", body)


__all__ = ["export_html", "write_index"]
