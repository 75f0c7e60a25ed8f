"""Reading input files (CSV, Parquet, JSON Lines) with one-line errors naming the file.

Rule: a missing, empty, non-UTF-8, unreadable or header-only file, a directory, or a CSV with a
bare carriage return outside quotes is refused with a :class:`MofInputError` that names the
file (and, where there is one, the column and row); nothing is guessed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from mof_experiments.errors import MofInputError

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


__all__ = ["SUPPORTED_SUFFIXES", "read_input_file"]
