"""The :class:`Workspace`: a DuckDB file holding the canonical tables, read through Ibis.

Heavy per-company aggregation (labeling, behavioral features) is written as Ibis expressions
over :meth:`Workspace.table`, so it runs on the embedded DuckDB file by default and unchanged
on another Ibis backend. Writes are transactional: a failed write leaves the workspace as it
was.

Example
-------
>>> ws = Workspace("data/mof.duckdb")                    # doctest: +SKIP
>>> ws.table("api_events").count().execute()             # an Ibis expression  # doctest: +SKIP
>>> companies = ws.read("companies")                     # a pandas DataFrame  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow as pa

from mof_experiments.errors import MofInputError
from mof_experiments.schema import TABLES, create_table_sql
from mof_experiments.workspace.locking import connect_waiting

DEFAULT_WORKSPACE = Path("data") / "mof.duckdb"
META_TABLE = "mof_meta"


def default_workspace_path() -> Path:
    """The workspace used when none is given: ``$MOF_WORKSPACE`` if set, else the project's
    ``data/mof.duckdb``.

    The project's is the first ``data/mof.duckdb`` found in the working directory or one of
    its parents (so a notebook running in ``notebooks/`` finds the project's workspace); if
    there is none, ``data/mof.duckdb`` relative to the working directory (where a new
    workspace is created).
    """
    env = os.environ.get("MOF_WORKSPACE")
    if env:
        return Path(env)
    cwd = Path.cwd()
    for d in (cwd, *cwd.parents):
        if (d / DEFAULT_WORKSPACE).is_file():
            return d / DEFAULT_WORKSPACE
    return DEFAULT_WORKSPACE


class Workspace:
    """A DuckDB workspace file.

    Parameters
    ----------
    path : path of the DuckDB file (created on first write unless ``must_exist``).
    read_only : open without write access (several readers may share a file).
    must_exist : raise :class:`MofInputError` if the file does not exist.
    lock_timeout : seconds to wait while another process holds the file (a report run while
        ``mof label`` writes), saying so once on stderr; default ``$MOF_LOCK_TIMEOUT`` or 60.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, read_only: bool = False,
                 must_exist: bool = False, lock_timeout: float | None = None):
        self.path = Path(path) if path is not None else default_workspace_path()
        self.read_only = read_only
        self.lock_timeout = lock_timeout
        if must_exist and not self.path.exists():
            raise MofInputError("workspace not found (run `mof simulate` or `mof ingest` first)",
                                source=str(self.path))
        self._con = None

    # -- connections -------------------------------------------------------------------
    @property
    def con(self):
        """The Ibis DuckDB backend (opened lazily)."""
        if self._con is None:
            import ibis

            if not self.read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = connect_waiting(lambda: ibis.duckdb.connect(str(self.path), read_only=self.read_only),
                                         self.path, self.lock_timeout)
            self._con.raw_sql("SET TimeZone = 'UTC'")
        return self._con

    @property
    def raw(self):
        """The underlying ``duckdb.DuckDBPyConnection`` (for transactional writes)."""
        return self.con.con

    def close(self) -> None:
        if self._con is not None:
            self._con.disconnect()
            self._con = None

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    # -- reading -----------------------------------------------------------------------
    def tables(self) -> list[str]:
        return sorted(self.con.list_tables())

    def has(self, name: str) -> bool:
        return name in self.con.list_tables()

    def table(self, name: str):
        """An Ibis table expression for ``name``."""
        if not self.has(name):
            raise MofInputError(f"table {name!r} not in workspace (has: {', '.join(self.tables()) or 'nothing'})",
                                source=str(self.path))
        return self.con.table(name)

    def read(self, name: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """Read a whole table as a pandas DataFrame (timestamps as ``datetime64[us, UTC]``)."""
        t = self.table(name)
        if columns is not None:
            t = t.select(*columns)
        return to_pandas(t)

    def count(self, name: str) -> int:
        return int(self.table(name).count().execute()) if self.has(name) else 0

    # -- writing -----------------------------------------------------------------------
    @contextmanager
    def transaction(self):
        """All writes inside commit together or not at all."""
        raw = self.raw
        raw.execute("BEGIN TRANSACTION")
        try:
            yield raw
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        else:
            raw.execute("COMMIT")

    def write(self, name: str, data, *, mode: str = "replace") -> int:
        """Write ``data`` (DataFrame or Arrow table) to table ``name`` atomically.

        ``mode`` is ``replace`` (drop and recreate) or ``append``. Canonical tables are created
        with their contract's column types; other (derived) tables take the data's types.
        """
        return self.write_many({name: data}, mode=mode)

    def write_many(self, tables: dict, *, mode: str = "replace") -> int:
        if mode not in ("replace", "append"):
            raise ValueError(f"mode must be 'replace' or 'append', not {mode!r}")
        rows = 0
        with self.transaction() as raw:
            for name, data in tables.items():
                rows += _write_one(raw, name, data, mode)
        return rows

    def meta(self) -> dict:
        """Key/value facts about the workspace (e.g. the simulation's period)."""
        if not self.has(META_TABLE):
            return {}
        rows = self.raw.execute(f"SELECT key, value FROM {META_TABLE}").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def set_meta(self, **values) -> None:
        with self.transaction() as raw:
            raw.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)")
            for k, v in values.items():
                raw.execute(f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?)", [k, json.dumps(v, default=str)])


def to_pandas(expr) -> pd.DataFrame:
    """Execute an Ibis expression into pandas with UTC timestamps and ``str`` IDs.

    On DuckDB the result goes through Arrow directly: Ibis's own ``to_pandas`` turns every
    column that holds a null into Python objects, row by row (1.3 s of the 8 s labeling of 100M
    events; benchmarks/label_bench.py).
    """
    df = None
    if expr._find_backend(use_default=True).name == "duckdb":
        import pyarrow.types as pat

        table = expr.as_table()
        if not any(pat.is_nested(f.type) or pat.is_dictionary(f.type) for f in table.schema().to_pyarrow()):
            df = table.to_pyarrow().to_pandas()
    if df is None:
        df = expr.to_pandas()
    for c in df.columns:
        dt = df[c].dtype
        if isinstance(dt, pd.DatetimeTZDtype):
            df[c] = df[c].dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        elif pd.api.types.is_datetime64_dtype(dt):
            # engines without a zoned type (Spark) return instants as naive values in the session
            # zone, which mof_experiments.engines sets to UTC
            df[c] = df[c].dt.tz_localize("UTC").astype("datetime64[us, UTC]")
    return df


def _write_one(raw, name: str, data, mode: str) -> int:
    if isinstance(data, pd.DataFrame):
        arrow = pa.Table.from_pandas(data, preserve_index=False)
    elif isinstance(data, pa.Table):
        arrow = data
    else:
        raise TypeError(f"cannot write {type(data).__name__} to {name}")
    view = f"_mof_in_{name}"
    raw.register(view, arrow)
    try:
        if mode == "replace":
            raw.execute(f'DROP TABLE IF EXISTS "{name}"')
        if name in TABLES:
            raw.execute(create_table_sql(name))
            cols = ", ".join(f'"{c}"' for c in arrow.column_names)
            raw.execute(f'INSERT INTO "{name}" ({cols}) SELECT {cols} FROM "{view}"')
        elif mode == "replace" or not _exists(raw, name):
            raw.execute(f'CREATE TABLE "{name}" AS SELECT * FROM "{view}"')
        else:
            raw.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM "{view}"')
    finally:
        raw.unregister(view)
    stamp_written(raw, name)
    return arrow.num_rows


def stamp_written(raw, name: str) -> None:
    """Record in ``mof_meta`` that ``name`` was written (key ``written:<name>``, a fresh id).

    Called inside the writing transaction by every write of the package (``Workspace.write``,
    ``mof ingest``), so a result derived from a table can tell whether the table changed since
    (e.g. the stored ``funnel``: :func:`mof_experiments.funnel.stored_labels`).
    """
    import uuid

    raw.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)")
    raw.execute(f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?)", [f"written:{name}", json.dumps(uuid.uuid4().hex)])


def _exists(raw, name: str) -> bool:
    return bool(raw.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchone()[0])


__all__ = ["DEFAULT_WORKSPACE", "META_TABLE", "default_workspace_path", "Workspace", "to_pandas", "stamp_written"]
