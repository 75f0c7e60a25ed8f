"""Ingest: validate input files against a table's contract and load them, all or nothing.

See :func:`ingest` for the rules (one transaction; keys; idempotent appends; future timestamps).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from mof_experiments.errors import MofInputError
from mof_experiments.schema import TABLES, create_table_sql, future_timestamps, validate
from mof_experiments.workspace.files import read_input_file
from mof_experiments.workspace.store import Workspace, stamp_written


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
            if n:
                stamp_written(raw, table)
        finally:
            raw.unregister(view)
    return int(n)


__all__ = ["IngestReport", "ingest"]
