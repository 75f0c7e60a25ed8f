"""The report notebooks and their parameters (papermill's inspection of the ``parameters`` cell).

A parameter line reads ``name: type = default  # help``; :func:`coerce_parameter` turns a
``-p key=value`` string into the declared type.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from mof_experiments.errors import MofConfigError

NOTEBOOKS_ENV = "MOF_NOTEBOOKS"
DEFAULT_ORDER = ("funnel_overview", "content_optimization", "engagement_conversion", "experiment_readout",
                 "program_readout")


def notebook_dir() -> Path:
    """Where the report notebooks are: ``$MOF_NOTEBOOKS``, else ``./notebooks``, else the
    ``notebooks/`` folder of the source checkout the package was installed from."""
    env = os.environ.get(NOTEBOOKS_ENV)
    if env:
        return Path(env)
    local = Path.cwd() / "notebooks"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[3] / "notebooks"


@dataclass(frozen=True)
class ReportInfo:
    """A report notebook: ``name``, ``path`` and ``parameters`` (name -> dict with ``type``,
    ``default`` and ``help``, from papermill's inspection of the ``parameters`` cell)."""

    name: str
    path: Path
    parameters: dict


def import_papermill():
    """``papermill``, imported without the IRI syntax checker.

    nbformat validates notebooks with jsonschema, and jsonschema imports ``rfc3987_syntax`` when
    it is installed (a dependency of Jupyter's event schemas), which builds a grammar at import:
    0.9 s of the 1.4 s papermill takes to import, at the start of every report run, while no
    kernel runs yet. It only serves the ``iri`` string format, which no notebook schema uses, so
    it is left out unless something imported jsonschema before (then nothing changes).
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)     # `import rfc3987_syntax` -> ImportError
    import papermill

    return papermill


def list_reports(nb_dir: str | os.PathLike | None = None) -> list[ReportInfo]:
    """The notebooks in ``nb_dir`` (default :func:`notebook_dir`) with their parameters, in the
    order funnel_overview, content_optimization, engagement_conversion, experiment_readout, then
    any others alphabetically."""
    pm = import_papermill()

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


__all__ = ["NOTEBOOKS_ENV", "DEFAULT_ORDER", "notebook_dir", "ReportInfo", "list_reports", "coerce_parameter",
           "parse_parameter_args"]
