"""What one ``mof send`` run did: :class:`SendResult` (counts, ambiguous rows, ledger state)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

#: How many ambiguous contact_ids a run prints in full.
SHOW_AMBIGUOUS = 100


@dataclass(frozen=True)
class SendResult:
    """Outcome of one ``mof send`` run.

    Attributes
    ----------
    campaign_id, backend, dry_run
    planned : contacts in the cohort file after removing repeated contact_ids.
    sent : messages accepted by the server in this run (dry run: that would be sent).
    already_done : contacts whose ledger row was already ``sent`` / ``failed_permanent``, or
        whose message the workspace records as sent.
    skipped : reason -> contacts skipped in this run (``ambiguous_skipped``: by a decision,
        this run's or an earlier one's).
    failed_temporary, failed_permanent : failures in this run (after retries).
    retried : 4xx replies that were retried.
    ambiguous : contact_ids left in ``sending`` (not resolved), for a decision.
    recorded : ``sent`` rows appended to the workspace ``email_events``.
    ledger_counts : state -> rows of this campaign in the ledger after the run.
    seconds : wall time of the whole run; send_seconds : time in the send loop (the rate's denominator).
    error : why the send loop stopped early (back-end unreachable), or None.
    record_error : why recording in the workspace failed (e.g. locked), or None; the next run
        records them.
    from_workspace : of ``already_done``, messages known as sent only from the workspace's
        ``email_events`` (the ledger had no such row: a new or lost ledger).
    resent_ambiguous : ambiguous messages sent again on ``--resolve-ambiguous resend``.
    """

    campaign_id: str
    backend: str
    dry_run: bool
    planned: int
    sent: int
    already_done: int
    skipped: dict
    failed_temporary: int
    failed_permanent: int
    retried: int
    ambiguous: tuple
    recorded: int
    ledger_counts: dict
    seconds: float
    error: str | None = None
    send_seconds: float = 0.0
    preview: str | None = field(default=None, repr=False)
    record_error: str | None = None
    from_workspace: int = 0
    resent_ambiguous: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> list[str]:
        """What needs attention, one phrase each (empty when the run went well)."""
        out = []
        if self.failed_temporary:
            out.append(f"{self.failed_temporary:,} failed temporarily (4xx or no connection; the next run retries)")
        if self.failed_permanent:
            out.append(f"{self.failed_permanent:,} refused permanently (5xx; suppressed, never retried)")
        if self.ambiguous:
            out.append(f"{len(self.ambiguous):,} ambiguous (decide with --resolve-ambiguous resend|skip)")
        if self.error:
            out.append(f"stopped early: {self.error}")
        if self.record_error:
            what = f"all {self.sent:,} messages of this run were sent, but" if self.sent and not (
                self.failed_temporary or self.failed_permanent or self.ambiguous or self.error) else "sent messages"
            out.append(f"{what} recording in the workspace failed ({self.record_error}); the next run records them")
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """Columns ``outcome`` and ``contacts`` (this run)."""
        rows = [("would_send" if self.dry_run else "sent", self.sent), ("already_done", self.already_done),
                ("failed_temporary", self.failed_temporary), ("failed_permanent", self.failed_permanent),
                ("ambiguous", len(self.ambiguous))]
        rows += [(f"skipped:{k}", v) for k, v in sorted(self.skipped.items())]
        return pd.DataFrame(rows, columns=["outcome", "contacts"])

    def __str__(self) -> str:
        head = (f"{'DRY RUN ' if self.dry_run else ''}campaign {self.campaign_id} via {self.backend}: "
                f"{self.planned:,} contacts in cohort")
        lines = [head] + [f"  {r.outcome:<28} {r.contacts:>7,}" for r in self.summary.itertuples() if r.contacts]
        if self.from_workspace:
            lines.append(f"  ({self.from_workspace:,} of already_done known only from the workspace's email_events: "
                         "this ledger had no row for them (new or lost ledger); not sent again)")
        if self.skipped.get("ambiguous_skipped"):
            lines.append("  (ambiguous_skipped: skipped by a --resolve-ambiguous skip decision; final until "
                         "--resolve-ambiguous resend)")
        if self.resent_ambiguous:
            lines.append(f"  OVERRIDE --resolve-ambiguous resend: {self.resent_ambiguous:,} messages the server may "
                         "already have accepted were sent again")
        if self.retried:
            lines.append(f"  (4xx replies retried: {self.retried})")
        if self.sent and not self.dry_run:
            lines.append(f"  rate: {self.sent / max(self.send_seconds, 1e-9):,.0f} messages/s "
                         f"({self.send_seconds:.1f} s sending, {self.seconds:.1f} s in all)")
        if self.ambiguous:
            shown = ", ".join(self.ambiguous[:SHOW_AMBIGUOUS])
            more = f" ... and {len(self.ambiguous) - SHOW_AMBIGUOUS:,} more" if len(self.ambiguous) > SHOW_AMBIGUOUS \
                else ""
            lines.append(f"  AMBIGUOUS ({len(self.ambiguous):,} left in 'sending' by an interrupted run; the server "
                         f"may have accepted them): {shown}{more}; decide with --resolve-ambiguous resend|skip")
        if self.ledger_counts:
            counts = sorted(self.ledger_counts.items())
            lines.append("  ledger (all runs): " + ", ".join(f"{k} {v:,}" for k, v in counts))
        if self.error:
            lines.append(f"  stopped: {self.error}")
        if self.record_error:
            lines.append(f"  not recorded: {self.record_error}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{self}</pre>"


__all__ = ["SendResult", "SHOW_AMBIGUOUS"]
