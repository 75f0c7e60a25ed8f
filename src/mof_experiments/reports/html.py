"""HTML of a report run: each executed notebook (nbconvert) and the run's ``index.html``."""

from __future__ import annotations

import html as _html
import os
from pathlib import Path

from mof_experiments.atomic import write_text_atomic


#: nbconvert's lab template without the two scripts it loads from a CDN (require.js, MathJax, Mermaid):
#: the reports need neither, and offline (a mail attachment, a closed network) they fail to load
#: and fill the browser console with errors.
_TEMPLATE = ("{%- extends 'lab/index.html.j2' -%}\n"
             "{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}\n"
             "{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}\n"
             "{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}\n")


def export_html(ipynb: str | os.PathLike, html_path: str | os.PathLike, *, no_code: bool = False) -> Path:
    """Export an executed notebook to standalone HTML (nbconvert's lab template; images embedded;
    no script loaded from the network).

    ``no_code=True`` hides code cells (inputs) and papermill's parameter cell, keeping the
    narrative, tables, figures and error tracebacks.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(ipynb), as_version=4)
    exporter = HTMLExporter(extra_loaders=[DictLoader({"mof_report.html.j2": _TEMPLATE})],
                            template_file="mof_report.html.j2", exclude_input=no_code,
                            exclude_input_prompt=no_code, exclude_output_prompt=no_code)
    body, _ = exporter.from_notebook_node(nb)
    return write_text_atomic(html_path, body)


def write_index(run_dir: Path, manifest: dict) -> Path:
    """Write ``index.html``: per report, its link and status, a one-line takeaway and its
    headline figures formatted for a reader (:mod:`~mof_experiments.reports.headline_table`);
    the raw figures stay in ``manifest.json``."""
    from mof_experiments.reports.headline_table import format_headlines, index_takeaway

    e = _html.escape
    rows = []
    for nb in manifest["notebooks"]:
        link = (f'<a href="{e(nb["outputs"]["html"])}">{e(nb["name"])}</a>' if nb["outputs"].get("html")
                else e(nb["name"]))
        err = nb.get("error")
        status = e(nb["status"]) + (f"<br><small>cell {err['cell_index']}: {e(str(err['ename']))}: "
                                    f"{e(str(err['evalue']))}</small>" if err else "")
        heads = nb.get("headlines", {})
        takeaway = index_takeaway(nb["name"], heads) if nb["status"] == "ok" else "The report failed: see its page."
        figures = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in format_headlines(heads))
        table = f"<table class='mof-headlines'>{figures}</table>" if figures else ""
        dur = f"{nb['duration_s']:.0f} s" if isinstance(nb.get("duration_s"), (int, float)) else ""
        rows.append(f"<section class='report'><h2>{link}</h2><p class='mof-takeaway'>{e(takeaway)}</p>"
                    f"<p class='meta'>status: {status}; {dur}</p>{table}</section>")
    as_of = manifest.get("as_of")
    body = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>mof report run {e(manifest['run_id'])}</title>"
            "<style>body{font-family:sans-serif;margin:2em;max-width:60em}th,td{border-bottom:1px solid #ddd;"
            "padding:3px 8px;text-align:left;vertical-align:top}th{font-weight:normal;color:#333}"
            "table{border-collapse:collapse;margin-bottom:1em}.mof-takeaway{font-size:1.1em}"
            ".meta{color:#666;font-size:0.9em}</style></head><body>"
            f"<h1>Report run {e(manifest['run_id'])}</h1><p class='meta'>data as of {e(str(as_of or 'n/a'))} UTC; "
            f"workspace: {e(str(manifest.get('workspace')))}; status: <b>{e(manifest['status'])}</b>; "
            f"started {e(manifest['created_at'])} UTC. Raw figures: <a href='manifest.json'>manifest.json</a>.</p>"
            + "".join(rows) + "</body></html>")
    return write_text_atomic(run_dir / "index.html", body)


__all__ = ["export_html", "write_index"]
