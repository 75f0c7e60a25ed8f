"""The workspace: a DuckDB file holding the canonical tables, read through Ibis.

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
from datetime import datetime, timezone
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from mof_experiments.errors import MofInputError
from mof_experiments.schema import TABLES, create_table_sql, future_timestamps, validate

DEFAULT_WORKSPACE = Path("data") / "mof.duckdb"
META_TABLE = "mof_meta"
#: Seconds to wait for a workspace that another process holds (DuckDB allows one writer, or
#: readers only); ``$MOF_LOCK_TIMEOUT`` overrides it, 0 fails at once.
LOCK_TIMEOUT_ENV = "MOF_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 60.0


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
            self._con = _connect_waiting(lambda: ibis.duckdb.connect(str(self.path), read_only=self.read_only),
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


def lock_timeout_seconds(value: float | None = None) -> float:
    """``value`` if given, else ``$MOF_LOCK_TIMEOUT``, else :data:`DEFAULT_LOCK_TIMEOUT` (seconds)."""
    if value is not None:
        return max(float(value), 0.0)
    env = os.environ.get(LOCK_TIMEOUT_ENV)
    if env is None or not env.strip():
        return DEFAULT_LOCK_TIMEOUT
    try:
        return max(float(env), 0.0)
    except ValueError:
        raise MofInputError(f"${LOCK_TIMEOUT_ENV} must be a number of seconds, got {env!r}") from None


def _connect_waiting(connect, path: Path, timeout: float | None):
    """Call ``connect()``; while DuckDB says another process holds the file's lock, retry
    (every 0.2 s, then up to 1 s) until ``timeout`` seconds have passed, saying once on stderr
    that it waits. Other errors, and the lock after the timeout, are one-line MofInputErrors."""
    import sys
    import time

    limit = lock_timeout_seconds(timeout)
    start = time.monotonic()
    told, pause = False, 0.2
    while True:
        try:
            return connect()
        except Exception as exc:  # duckdb.IOException etc.
            text = " ".join(str(exc).split())
            if "lock" not in text.lower():
                raise MofInputError(f"cannot open workspace: {text[:300]}", source=str(path)) from None
            waited = time.monotonic() - start
            if waited >= limit:
                raise MofInputError(f"another process holds the workspace ({text[:200]}); waited {waited:.0f} s "
                                    f"(${LOCK_TIMEOUT_ENV} sets how long)", source=str(path)) from None
            if not told:
                holder = text[text.find("(PID"):].split(")")[0] + ")" if "(PID" in text else ""
                sys.stderr.write(f"mof: {path} is in use by another process {holder}; waiting up to "
                                 f"{limit:.0f} s (${LOCK_TIMEOUT_ENV})\n")
                sys.stderr.flush()
                told = True
            time.sleep(min(pause, max(limit - waited, 0.01)))
            pause = min(pause * 1.5, 1.0)


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
    return arrow.num_rows


def _exists(raw, name: str) -> bool:
    return bool(raw.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [name]).fetchone()[0])


# -- ingest ---------------------------------------------------------------------------------
SUPPORTED_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
                      ".ndjson": "jsonl", ".json": "jsonl"}


def read_input_file(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON Lines file as strings/typed columns, with one-line errors.

    A CSV whose lines end in LF (or CRLF) but that holds a bare carriage return (CR) outside
    quotes is refused, naming the line and column: CSV readers take a bare CR for the end of a
    row, which would silently cut the value in two (the next field would look "missing").
    """
    p = Path(path)
    src = str(p)
    if not p.exists():
        raise MofInputError("file not found", source=src)
    if p.is_dir():
        raise MofInputError("is a directory; give a file", source=src)
    if p.stat().st_size == 0:
        raise MofInputError("file is empty", source=src)
    kind = SUPPORTED_SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise MofInputError(f"unsupported file type {p.suffix!r} (use .csv, .parquet or .jsonl)", source=src)
    try:
        if kind == "csv":
            with open(p, "rb") as fh:
                _check_bare_cr(fh.read().decode("utf-8"), src)
            df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
        elif kind == "parquet":
            df = pd.read_parquet(p)
        else:
            with open(p, "rb") as fh:
                fh.read().decode("utf-8")
            df = pd.read_json(p, lines=True, dtype=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MofInputError(f"not UTF-8 text (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r}); "
                            "re-export as UTF-8", source=src) from None
    except pd.errors.EmptyDataError:
        raise MofInputError("file has no header or rows", source=src) from None
    except MofInputError:
        raise
    except Exception as exc:
        raise MofInputError(f"cannot read {kind}: {' '.join(str(exc).split())[:200]}", source=src) from None
    if len(df) == 0:
        raise MofInputError("file has a header but no rows", source=src)
    return df


def _check_bare_cr(text: str, src: str) -> None:
    """Raise if ``text`` (a CSV with LF line ends) has a CR, not followed by LF, outside quotes."""
    if "\r" not in text:
        return
    flat = text.replace("\r\n", "\n")
    if "\n" not in flat:  # classic Mac line ends: CR is the line end throughout
        return
    pos = flat.find("\r")
    while pos != -1:
        if flat.count('"', 0, pos) % 2 == 0:  # an even number of quotes before it: outside quotes
            line_start = flat.rfind("\n", 0, pos) + 1
            line_no = flat.count("\n", 0, pos)  # 0 = the header
            header = next(__import__("csv").reader([flat[:flat.find("\n")]]), [])
            k = flat.count(",", line_start, pos)
            column = header[k] if k < len(header) else None
            end = flat.find("\n", pos)
            raise MofInputError("bare carriage return (CR) inside a value, outside quotes; quote the value or "
                                "remove the CR (CSV readers end the row there)", source=src, column=column,
                                row=line_no, value=flat[line_start:end if end != -1 else None][:80])
        pos = flat.find("\r", pos + 1)


@dataclass(frozen=True)
class IngestReport:
    """What :func:`ingest` did.

    Attributes
    ----------
    table, files
    rows : rows written (new to the workspace).
    dropped_duplicates : exact duplicate rows within the input files (keyless tables), dropped.
    already_present : input rows identical to rows already in the table, not written again.
    dropped_columns : input columns outside the contract (ignored).
    warnings : one line per timestamp column with values in the future.
    """

    table: str
    rows: int
    files: tuple[str, ...]
    dropped_duplicates: int = 0
    dropped_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    already_present: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.rows > 0

    def __str__(self) -> str:
        if not self.rows and self.already_present:
            s = (f"nothing changed: every row of the {len(self.files)} file(s) is already in {self.table} "
                 f"({self.already_present:,} distinct rows)")
        else:
            s = f"ingested {self.rows:,} rows into {self.table} from {len(self.files)} file(s)"
            if self.already_present:
                s += f"; skipped {self.already_present:,} rows already in the workspace"
        if self.dropped_duplicates:
            s += f"; dropped {self.dropped_duplicates:,} exact duplicate rows"
        if self.dropped_columns:
            s += f"; ignored columns not in the contract: {', '.join(self.dropped_columns)}"
        return s


def ingest(workspace: Workspace, table: str, files: Iterable[str | os.PathLike], *,
           assume_tz: str | None = None, mode: str = "append", strict: bool = False,
           now: datetime | None = None) -> IngestReport:
    """Validate ``files`` against ``table``'s contract and load them, all or nothing; idempotent.

    Rules
    -----
    - Every file is read and validated before anything is written (one transaction).
    - Keyed tables (companies, contacts, assignments): a key repeated across the files is an
      error. With ``mode='append'``, a row whose key is already in the table is skipped if it
      is identical to the stored row and an error naming the differing column if it is not.
    - Keyless tables (api_events, email_events): exact duplicate rows within the files are
      dropped, and with ``mode='append'`` so are rows identical to a row already in the table
      (compared on every column, nulls equal, among stored rows in the batch's time range).
      Loading the same file twice therefore changes nothing, and says so.
    - Timestamps later than ``now`` (default: the time of the call) are counted and warned
      about (:func:`mof_experiments.schema.future_timestamps`); ``strict=True`` refuses them.
    """
    if table not in TABLES:
        raise MofInputError(f"unknown table {table!r} (known: {', '.join(TABLES)})")
    spec = TABLES[table]
    files = [str(f) for f in files]
    if not files:
        raise MofInputError("no input files given")
    now = now or datetime.now(timezone.utc)
    frames, dropped_cols, warnings = [], set(), []
    for f in files:
        raw = read_input_file(f)
        dropped_cols |= {str(c) for c in raw.columns if str(c).strip() not in spec.names}
        frame = validate(raw, table, source=f, assume_tz=assume_tz)
        warnings += future_timestamps(frame, table, now=now, source=f, strict=strict)
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    bounds = np.cumsum([0] + [len(f) for f in frames])

    def where(i: int) -> tuple[str, int]:
        """(file, 1-based row in that file) of row i of the concatenated data."""
        k = int(np.searchsorted(bounds, i, side="right") - 1)
        return files[k], i - int(bounds[k]) + 1

    appending = mode == "append" and workspace.has(table)
    dropped_dups = already = 0
    if spec.key:
        dup = data.duplicated(list(spec.key))
        if dup.any():
            f, row = where(int(dup.to_numpy().nonzero()[0][0]))
            raise MofInputError(f"duplicate key ({', '.join(spec.key)}) across input files", source=f,
                                column=spec.key[0], row=row, value=data.loc[bounds[files.index(f)] + row - 1, spec.key[0]])
        if appending:
            same = _stored_rows(workspace, table, data, spec, where)
            already = int(same.sum())
            data = data.loc[~same].reset_index(drop=True)
        workspace.write(table, data, mode=mode)
        written = len(data)
    else:
        dup = data.duplicated()
        dropped_dups = int(dup.sum())
        if dropped_dups:
            data = data.loc[~dup].reset_index(drop=True)
        if appending:
            written = _append_new_rows(workspace, table, data)
            already = len(data) - written
        else:
            workspace.write(table, data, mode=mode)
            written = len(data)
    return IngestReport(table, written, tuple(files), dropped_dups, tuple(sorted(dropped_cols)),
                        already_present=already, warnings=tuple(warnings))


def _stored_rows(workspace: Workspace, table: str, data: pd.DataFrame, spec, where) -> np.ndarray:
    """Boolean mask of ``data`` rows whose key is already stored with identical values; raise
    (naming the file, row and first differing column) if a stored key holds different values."""
    key = list(spec.key)
    view = "_mof_keys"
    workspace.raw.register(view, pa.Table.from_pandas(data.assign(_row=np.arange(len(data))), preserve_index=False))
    try:
        on = " AND ".join(f't."{k}" = k."{k}"' for k in key)
        same = " AND ".join(f't."{c}" IS NOT DISTINCT FROM k."{c}"' for c in spec.names)
        hits = workspace.raw.execute(f'SELECT k._row, {same} AS same FROM "{view}" k JOIN "{table}" t ON {on} '
                                     "ORDER BY k._row").fetchall()
    finally:
        workspace.raw.unregister(view)
    mask = np.zeros(len(data), dtype=bool)
    for i, is_same in hits:
        if is_same:
            mask[int(i)] = True
            continue
        f, row = where(int(i))
        cur = workspace.raw.execute(f'SELECT * FROM "{table}" WHERE ' + " AND ".join(f'"{k}" = ?' for k in key),
                                    [str(data.loc[int(i), k]) for k in key])
        stored = cur.to_arrow_table().to_pandas().iloc[0]
        col = next((c for c in spec.names if c in stored.index and not _same_value(stored[c], data.loc[int(i), c])),
                   key[0])
        keyval = ", ".join(f"{k}={data.loc[int(i), k]!r}" for k in key)
        stored_val = None if pd.isna(stored[col]) else str(stored[col])
        raise MofInputError(f"key {keyval} already in workspace table {table} with a different {col!r} "
                            f"(stored {stored_val!r}); use --mode replace to reload the table", source=f,
                            column=col, row=row, value=None if pd.isna(data.loc[int(i), col]) else
                            str(data.loc[int(i), col]))
    return mask


def _same_value(a, b) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    if pd.isna(a) or pd.isna(b):
        return False
    if isinstance(a, pd.Timestamp) or isinstance(b, pd.Timestamp):
        return pd.Timestamp(a) == pd.Timestamp(b)
    return a == b


def _append_new_rows(workspace: Workspace, table: str, data: pd.DataFrame) -> int:
    """Append the rows of ``data`` (already without duplicates) that are not already in
    ``table`` (every column equal, nulls equal); return how many were written.

    Only stored rows within the batch's ``ts`` range can be equal: when there are none (the
    usual next export) the batch is inserted as it is; otherwise it is anti-joined with those
    stored rows (a hash join built on them).
    """
    if not len(data):
        return 0
    arrow = pa.Table.from_pandas(data, preserve_index=False)
    names = arrow.column_names
    cols = ", ".join(f'"{c}"' for c in names)
    view = f"_mof_in_{table}"
    bounds = [data["ts"].min().to_pydatetime(), data["ts"].max().to_pydatetime()]
    with workspace.transaction() as raw:
        raw.register(view, arrow)
        try:
            raw.execute(create_table_sql(table))
            overlap = raw.execute(f'SELECT count(*) FROM "{table}" WHERE ts >= ? AND ts <= ?', bounds).fetchone()[0]
            if not overlap:
                n = raw.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM "{view}"').fetchone()[0]
            else:
                same = " AND ".join(f's."{c}" IS NOT DISTINCT FROM v."{c}"' for c in names)
                n = raw.execute(f'INSERT INTO "{table}" ({cols}) SELECT {", ".join(f"v.{c}" for c in cols.split(", "))} '
                                f'FROM "{view}" v ANTI JOIN (SELECT {cols} FROM "{table}" WHERE ts >= ? AND ts <= ?) s '
                                f"ON {same}", bounds).fetchone()[0]
        finally:
            raw.unregister(view)
    return int(n)
