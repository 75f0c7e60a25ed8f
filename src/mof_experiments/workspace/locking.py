"""Waiting for a workspace another process holds.

DuckDB allows one writer, or readers only, per file. Rule: while DuckDB says another process
holds the file's lock, the opener retries (every 0.2 s, growing to 1 s) for at most the lock
timeout (``lock_timeout``, else ``$MOF_LOCK_TIMEOUT``, else 60 s; 0 fails at once), saying once
on stderr that it waits; then it fails with a one-line :class:`MofInputError`.
"""

from __future__ import annotations

import os
from pathlib import Path

from mof_experiments.errors import MofInputError

#: Seconds to wait for a workspace that another process holds (DuckDB allows one writer, or
#: readers only); ``$MOF_LOCK_TIMEOUT`` overrides it, 0 fails at once.
LOCK_TIMEOUT_ENV = "MOF_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 60.0


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


def connect_waiting(connect, path: Path, timeout: float | None):
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


__all__ = ["LOCK_TIMEOUT_ENV", "DEFAULT_LOCK_TIMEOUT", "lock_timeout_seconds", "connect_waiting"]
