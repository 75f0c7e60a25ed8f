"""The send ledger: SQLite (stdlib), one row per (campaign_id, contact_id), a state machine.

States
------
``queued``            planned, not attempted yet in this state
``sending``           committed *before* the SMTP transaction; if a run dies here the server
                      may or may not have accepted the message: the row is **ambiguous**, it is
                      reported and only resent or skipped with ``--resolve-ambiguous``
``sent``              the server accepted it (250 after DATA), committed right after; never sent again
``failed_temporary``  4xx reply or connection trouble before DATA, retries exhausted; retried by a re-run
``failed_permanent``  5xx reply; the address is added to ``suppressions``; never retried
``skipped``           not sent, with ``reason`` (suppressed, holdout, control, other_arm,
                      not_assigned, frequency_cap, invalid_address, unknown_contact,
                      duplicate_email): re-evaluated by the next run; or reason
                      ``ambiguous_skipped``: a human's ``--resolve-ambiguous skip``, **final**
                      (never re-planned) until ``--resolve-ambiguous resend`` is given

Transitions: queued → sending → sent | failed_temporary | failed_permanent;
queued | skipped (not ambiguous_skipped) | failed_temporary → queued | skipped (re-planning);
failed_temporary → sending (retry); sending → sending (``resend``) | skipped (``skip``);
skipped (ambiguous_skipped) → sending (only ``resend``: ambiguous again, then sent or skipped);
queued | skipped | failed_temporary | sending → sent when the workspace's ``email_events``
already records the message as sent (a new or lost ledger: :meth:`Ledger.adopt_sent`).

The ledger also holds ``suppressions`` (email, contact_id, reason, source, ts): addresses that
answered 5xx are written in the same transaction as their ``failed_permanent`` state and
copied to the workspace ``suppressions`` table at the end of the run.

Timestamps are ISO-8601 UTC strings. The journal is WAL with ``synchronous=NORMAL``: every
commit survives a killed process (SIGKILL); use ``synchronous=FULL`` (``durable=True``) to
survive power loss too.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_LEDGER = Path("data") / "send_ledger.sqlite"
STATES = ("queued", "sending", "sent", "failed_temporary", "failed_permanent", "skipped")
TERMINAL = ("sent", "failed_permanent")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sends (
    campaign_id TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    company_id  TEXT,
    email       TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('queued','sending','sent','failed_temporary',
                                               'failed_permanent','skipped')),
    reason      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_code   INTEGER,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    sent_at     TEXT,
    recorded    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX IF NOT EXISTS sends_contact ON sends (contact_id, state);
CREATE TABLE IF NOT EXISTS suppressions (
    email TEXT NOT NULL, contact_id TEXT, reason TEXT NOT NULL, source TEXT NOT NULL, ts TEXT NOT NULL,
    recorded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (email, reason, source)
);
"""


def now_iso(when: datetime | None = None) -> str:
    return (when or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="microseconds")


class Ledger:
    """A ledger file. ``Ledger(path)`` creates it (and its folder) if needed.

    With ``read_only=True`` an absent file behaves as an empty ledger (used by dry runs).
    """

    def __init__(self, path=DEFAULT_LEDGER, *, read_only: bool = False, durable: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        if read_only:
            if self.path.exists():
                self.con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            else:
                self.con = sqlite3.connect(":memory:", isolation_level=None)
                self.con.executescript(_SCHEMA)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit mode: every transaction is explicit (BEGIN IMMEDIATE ... COMMIT)
        self.con = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self.con.executescript(_SCHEMA)

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading ---------------------------------------------------------------------
    def rows(self, campaign_id: str) -> dict[str, dict]:
        cur = self.con.execute("SELECT * FROM sends WHERE campaign_id = ?", [campaign_id])
        cols = [d[0] for d in cur.description]
        return {r[1]: dict(zip(cols, r)) for r in cur.fetchall()}

    def counts(self, campaign_id: str) -> dict[str, int]:
        return dict(self.con.execute("SELECT state, count(*) FROM sends WHERE campaign_id = ? GROUP BY state",
                                     [campaign_id]).fetchall())

    def ambiguous(self, campaign_id: str | None = None) -> list[dict]:
        q = "SELECT campaign_id, contact_id, email, message_id, updated_at FROM sends WHERE state = 'sending'"
        args = []
        if campaign_id is not None:
            q += " AND campaign_id = ?"
            args.append(campaign_id)
        cur = self.con.execute(q + " ORDER BY contact_id", args)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def sent_counts_since(self, since_iso: str, exclude_campaign: str | None = None) -> dict[str, int]:
        """contact_id -> number of ``sent`` rows (any campaign but ``exclude_campaign``) at/after ``since``."""
        rows = self.con.execute(
            "SELECT contact_id, count(*) FROM sends WHERE state = 'sent' AND sent_at >= ? "
            "AND campaign_id IS NOT ? GROUP BY contact_id", [since_iso, exclude_campaign]).fetchall()
        return dict(rows)

    def sent_message_ids(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT message_id FROM sends WHERE state = 'sent'")}

    def suppressed(self) -> tuple[set[str], set[str]]:
        """(lower-cased emails, contact_ids) in the ledger's suppressions."""
        rows = self.con.execute("SELECT email, contact_id FROM suppressions").fetchall()
        return {e.lower() for e, _ in rows}, {c for _, c in rows if c}

    # -- writing ---------------------------------------------------------------------
    def plan(self, campaign_id: str, rows: list[dict], when: datetime | None = None) -> None:
        """Insert or re-plan rows in one transaction. Each dict: contact_id, company_id, email,
        message_id, state ('queued' or 'skipped'), reason. Rows already ``sent``,
        ``failed_permanent``, ``sending`` or skipped by a human decision (``ambiguous_skipped``)
        are left untouched."""
        ts = now_iso(when)
        with self._tx() as con:
            con.executemany(
                "INSERT INTO sends (campaign_id, contact_id, company_id, email, message_id, state, reason, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (campaign_id, contact_id) DO UPDATE SET state = excluded.state, "
                "reason = excluded.reason, email = excluded.email, company_id = excluded.company_id, "
                "updated_at = excluded.updated_at "
                "WHERE sends.state IN ('queued', 'failed_temporary') "
                "OR (sends.state = 'skipped' AND coalesce(sends.reason, '') <> 'ambiguous_skipped')",
                [(campaign_id, r["contact_id"], r.get("company_id"), r["email"], r["message_id"], r["state"],
                  r.get("reason"), ts, ts) for r in rows])

    def mark_sending(self, campaign_id: str, contact_id: str, *, resend: bool = False) -> None:
        """Commit ``sending`` (attempts + 1) before the SMTP transaction. A row already in
        ``sending`` (ambiguous) is only taken with ``resend=True``."""
        allowed = "('queued', 'failed_temporary', 'sending')" if resend else "('queued', 'failed_temporary')"
        with self._tx() as con:
            n = con.execute("UPDATE sends SET state = 'sending', attempts = attempts + 1, updated_at = ? "
                            f"WHERE campaign_id = ? AND contact_id = ? AND state IN {allowed}",
                            [now_iso(), campaign_id, contact_id]).rowcount
        if n != 1:
            raise RuntimeError(f"ledger: {campaign_id}/{contact_id} is not sendable")

    def mark(self, campaign_id: str, contact_id: str, state: str, *, code: int | None = None,
             error: str | None = None, reason: str | None = None, suppress: tuple | None = None) -> None:
        """Commit the outcome; ``suppress=(email, reason, source)`` adds a suppression in the same transaction."""
        if state not in STATES:
            raise ValueError(state)
        ts = now_iso()
        with self._tx() as con:
            con.execute("UPDATE sends SET state = ?, last_code = ?, last_error = ?, reason = coalesce(?, reason), "
                        "updated_at = ?, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END "
                        "WHERE campaign_id = ? AND contact_id = ?",
                        [state, code, error, reason, ts, state, ts, campaign_id, contact_id])
            if suppress is not None:
                email, why, source = suppress
                con.execute("INSERT OR IGNORE INTO suppressions (email, contact_id, reason, source, ts) "
                            "VALUES (?, ?, ?, ?, ?)", [email, contact_id, why, source, ts])

    def resolve_ambiguous(self, campaign_id: str, contact_ids: list[str], action: str) -> None:
        """``skip``: ambiguous rows become skipped (reason ambiguous_skipped); ``resend`` keeps them
        in ``sending`` and the caller sends them again."""
        if action == "skip":
            with self._tx() as con:
                con.executemany("UPDATE sends SET state = 'skipped', reason = 'ambiguous_skipped', updated_at = ? "
                                "WHERE campaign_id = ? AND contact_id = ? AND state = 'sending'",
                                [(now_iso(), campaign_id, c) for c in contact_ids])

    def reopen_skipped_ambiguous(self, campaign_id: str, contact_ids: list[str]) -> int:
        """``--resolve-ambiguous resend`` given explicitly: rows skipped by an earlier ``skip``
        decision become ambiguous (``sending``) again, to be resent or skipped by this run."""
        with self._tx() as con:
            return sum(con.execute("UPDATE sends SET state = 'sending', updated_at = ? WHERE campaign_id = ? AND "
                                   "contact_id = ? AND state = 'skipped' AND reason = 'ambiguous_skipped'",
                                   [now_iso(), campaign_id, c]).rowcount for c in contact_ids)

    def adopt_sent(self, campaign_id: str, rows: list[dict]) -> None:
        """Record as ``sent`` (and already recorded) messages the workspace's ``email_events``
        shows as sent but this ledger does not (a new or lost ledger). Each dict: contact_id,
        company_id, email, message_id, sent_at (ISO). ``sent`` / ``failed_permanent`` rows are
        left as they are."""
        ts = now_iso()
        with self._tx() as con:
            con.executemany(
                "INSERT INTO sends (campaign_id, contact_id, company_id, email, message_id, state, reason, "
                "created_at, updated_at, sent_at, recorded) VALUES (?, ?, ?, ?, ?, 'sent', 'workspace_record', "
                "?, ?, ?, 1) ON CONFLICT (campaign_id, contact_id) DO UPDATE SET state = 'sent', "
                "reason = 'workspace_record', sent_at = excluded.sent_at, recorded = 1, updated_at = excluded.updated_at "
                "WHERE sends.state NOT IN ('sent', 'failed_permanent')",
                [(campaign_id, r["contact_id"], r.get("company_id"), r["email"], r["message_id"], ts, ts,
                  r["sent_at"]) for r in rows])

    def unrecorded_sent(self) -> list[dict]:
        cur = self.con.execute("SELECT * FROM sends WHERE state = 'sent' AND recorded = 0")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def unrecorded_suppressions(self) -> list[dict]:
        cur = self.con.execute("SELECT email, contact_id, reason, source, ts FROM suppressions WHERE recorded = 0")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def mark_recorded(self, sends: list[tuple[str, str]], suppressions: list[tuple[str, str, str]]) -> None:
        with self._tx() as con:
            con.executemany("UPDATE sends SET recorded = 1 WHERE campaign_id = ? AND contact_id = ?", sends)
            con.executemany("UPDATE suppressions SET recorded = 1 WHERE email = ? AND reason = ? AND source = ?",
                            suppressions)

    def _tx(self):
        return _Tx(self.con)


class LedgerLock:
    """An exclusive lock on ``<ledger>.lock`` (``fcntl.flock``) held for a whole send run, so two
    runs never work on one ledger at once. The ledger path is resolved first (symlinks,
    ``..``, relative spellings), so every name of one ledger file takes the same lock. The OS
    releases it when the process dies, even on SIGKILL. A no-op where ``fcntl`` is
    unavailable (Windows)."""

    def __init__(self, path, *, suffix: str = ".lock", busy: str | None = None):
        """``busy``: the one-line error when the lock is held (default: the ledger's message)."""
        self.path = Path(os.path.realpath(path) + suffix)
        self._busy = busy
        self._fh = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            self._fh = None
            from mof_experiments.errors import MofConfigError

            raise MofConfigError(self._busy or f"{self.path.with_suffix('')}: another `mof send` is using this "
                                 "ledger; wait for it to finish") from None
        return self

    def __exit__(self, *exc):
        if self._fh is not None:
            self._fh.close()  # closing releases the flock
            self._fh = None
        return False


class _Tx:
    def __init__(self, con):
        self.con = con

    def __enter__(self):
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, et, ev, tb):
        self.con.execute("COMMIT" if et is None else "ROLLBACK")
        return False


__all__ = ["Ledger", "LedgerLock", "STATES", "DEFAULT_LEDGER", "now_iso"]
