"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Rule: the content is written to a temporary file in the destination's folder (same file
system), which then replaces the destination with ``os.replace`` (atomic on POSIX and
Windows). If writing fails, the temporary file is removed and the destination is untouched.
"""

from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on success it replaces ``path``.

    The temporary path does not exist yet (so a database can be created there) and starts
    with a dot (``.<name>.<pid>-<random>.tmp``). On an exception it is removed (with a DuckDB
    ``.wal`` beside it) and the exception propagates. The parent folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON (a final newline) to ``path`` atomically."""
    return write_text_atomic(path, json.dumps(data, indent=2) + "\n")


__all__ = ["atomic_path", "write_text_atomic", "write_json_atomic"]
