"""What an executed report may show: figures, tables, markdown and deliberate displays, nothing stray.

Rule (:func:`stray_outputs`): an output of an executed code cell is **stray** when it is

- a ``stream`` (``print``, a warning or a log line on stdout/stderr), or
- an ``execute_result`` / ``display_data`` whose only representation is ``text/plain`` (a bare
  value left as a cell's last expression: ``1656``, ``0.349...``, a dict, ``<Axes: ...>``).

Allowed: images (``image/png``, ``image/svg+xml``), HTML (tables, objects with
``_repr_html_`` such as the toolkit's results and :class:`~mof_experiments.reports.takeaways.Takeaways`),
Markdown (``IPython.display.Markdown``), and papermill's own error banner. Errors are not
stray outputs; a failing notebook is reported by the run.
"""

from __future__ import annotations

import os

_RICH = ("image/png", "image/svg+xml", "image/jpeg", "text/html", "text/markdown", "text/latex")


def stray_outputs(notebook) -> list[dict]:
    """The stray outputs of an executed notebook (a path or an ``nbformat`` node).

    Returns
    -------
    list of dicts: ``cell_index`` (0-based, in the executed notebook), ``output_type``, ``text``
    (the first 200 characters of what it shows), ``source`` (the cell's first line).
    """
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4) if isinstance(notebook, (str, os.PathLike)) else notebook
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for o in cell.get("outputs", []):
            kind = o.get("output_type")
            if kind == "stream":
                text = o.get("text", "")
            elif kind in ("execute_result", "display_data"):
                data = o.get("data", {})
                if any(m in data for m in _RICH):
                    continue
                text = data.get("text/plain", "")
            else:
                continue
            text = "".join(text) if isinstance(text, list) else str(text)
            out.append(dict(cell_index=i, output_type=kind, text=text[:200],
                            source=(cell.source.splitlines() or [""])[0][:120]))
    return out


__all__ = ["stray_outputs"]
