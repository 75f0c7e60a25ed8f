"""The workspace: a DuckDB file holding the canonical tables, read through Ibis.

Heavy per-company aggregation (labeling, behavioral features) is written as Ibis expressions
over :meth:`Workspace.table`, so it runs on the embedded DuckDB file by default and unchanged
on another Ibis backend. Writes are transactional: a failed write leaves the workspace as it
was.

- :mod:`~mof_experiments.workspace.store`: :class:`Workspace` (reading, transactional writes,
  ``meta``), :func:`to_pandas`, :func:`default_workspace_path`;
- :mod:`~mof_experiments.workspace.locking`: waiting (bounded) for a file another process holds;
- :mod:`~mof_experiments.workspace.files`: :func:`read_input_file` (CSV, Parquet, JSON Lines);
- :mod:`~mof_experiments.workspace.loading`: :func:`ingest`, validated, all or nothing, idempotent.

Example
-------
>>> ws = Workspace("data/mof.duckdb")                    # doctest: +SKIP
>>> ws.table("api_events").count().execute()             # an Ibis expression  # doctest: +SKIP
>>> companies = ws.read("companies")                     # a pandas DataFrame  # doctest: +SKIP
"""

from mof_experiments.workspace.files import SUPPORTED_SUFFIXES, read_input_file
from mof_experiments.workspace.loading import IngestReport, ingest
from mof_experiments.workspace.locking import DEFAULT_LOCK_TIMEOUT, LOCK_TIMEOUT_ENV, lock_timeout_seconds
from mof_experiments.workspace.store import DEFAULT_WORKSPACE, META_TABLE, Workspace, default_workspace_path, to_pandas, stamp_written

__all__ = ["Workspace", "default_workspace_path", "DEFAULT_WORKSPACE", "META_TABLE", "to_pandas", "stamp_written",
           "LOCK_TIMEOUT_ENV", "DEFAULT_LOCK_TIMEOUT", "lock_timeout_seconds",
           "SUPPORTED_SUFFIXES", "read_input_file", "IngestReport", "ingest"]
