"""Dispatch: plan, render, send through a back-end, record in the ledger and the workspace.

:func:`send_campaign` runs in four phases:

1. **Plan** (reads the workspace, writes nothing). Each cohort row gets a decision, checked in
   this order: ``duplicate_contact`` (a repeated contact_id in the file: ignored),
   ``unknown_contact`` (not in ``contacts``), ``invalid_address``, ``suppressed``
   (:func:`mof_experiments.cohorts.suppressed_contacts` plus the ledger's suppressions),
   ``holdout`` / ``control`` / ``other_arm`` / ``not_assigned`` (from ``assignments`` and
   ``experiment_arms``: the company comes from the workspace's ``contacts``, never from the
   cohort file), ``duplicate_email``, ``frequency_cap`` (sends of *any* campaign to the contact
   in the last ``days``: ledger ``sent`` rows plus workspace ``email_events`` ``sent`` rows not
   in the ledger). Rows already ``sent`` or ``failed_permanent`` are left alone; rows left in
   ``sending`` by a dead run are **ambiguous**.
2. **Render** every message to send, before the first send: a template error or a header
   injection (line break in a subject or name from the data) stops the run with nothing sent.
3. **Send**: per message, commit ``sending``, do the SMTP transaction, commit the outcome.
   4xx: retried after ``backoff * 2**(attempt-1)`` s up to ``max_attempts``; 5xx:
   ``failed_permanent`` and suppressed in the same commit.
4. **Record**: ledger ``sent`` rows not yet in the workspace are appended to ``email_events``
   (event ``sent``; message_ids already there are not repeated), ledger suppressions to the
   workspace ``suppressions`` table. A failure here is reported and retried by the next run.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from mof_experiments.errors import MofConfigError, MofError, MofInputError
from mof_experiments.schema import is_valid_email
from mof_experiments.send.backends import AmbiguousDelivery, BackendUnavailable, get_backend
from mof_experiments.send.ledger import DEFAULT_LEDGER, Ledger, LedgerLock, now_iso
from mof_experiments.send.message import MessageBuilder, header_problem, make_message_id
from mof_experiments.send.render import Renderer, render_one
from mof_experiments.send.spec import CampaignSpec, load_spec

RESOLVE = (None, "resend", "skip")


@dataclass(frozen=True)
class SendResult:
    """Outcome of one ``mof send`` run.

    Attributes
    ----------
    campaign_id, backend, dry_run
    planned : contacts in the cohort file after removing repeated contact_ids.
    sent : messages accepted by the server in this run (dry run: that would be sent).
    already_done : contacts whose ledger row was already ``sent`` / ``failed_permanent``.
    skipped : reason -> contacts skipped in this run.
    failed_temporary, failed_permanent : failures in this run (after retries).
    retried : 4xx replies that were retried.
    ambiguous : contact_ids left in ``sending`` (not resolved), for a decision.
    recorded : ``sent`` rows appended to the workspace ``email_events``.
    ledger_counts : state -> rows of this campaign in the ledger after the run.
    seconds : wall time of the whole run; send_seconds : time in the send loop (the rate's denominator).
    error : why the run stopped early (back-end unreachable, workspace locked), or None.
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

    @property
    def ok(self) -> bool:
        return not (self.failed_temporary or self.failed_permanent or self.ambiguous or self.error)

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
        if self.retried:
            lines.append(f"  (4xx replies retried: {self.retried})")
        if self.sent and not self.dry_run:
            lines.append(f"  rate: {self.sent / max(self.send_seconds, 1e-9):,.0f} messages/s "
                         f"({self.send_seconds:.1f} s sending, {self.seconds:.1f} s in all)")
        if self.ambiguous:
            shown = ", ".join(self.ambiguous[:5]) + (" ..." if len(self.ambiguous) > 5 else "")
            lines.append(f"  AMBIGUOUS (left in 'sending' by an interrupted run; the server may have accepted "
                         f"them): {shown}; decide with --resolve-ambiguous resend|skip")
        if self.ledger_counts:
            counts = sorted(self.ledger_counts.items())
            lines.append("  ledger (all runs): " + ", ".join(f"{k} {v:,}" for k, v in counts))
        if self.error:
            lines.append(f"  stopped: {self.error}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{self}</pre>"


def _load_workspace_facts(workspace_path, spec: CampaignSpec, window_start: datetime | None):
    from mof_experiments.cohorts import (excluded_companies, read_suppressions, require_table,
                                         suppressed_contacts)
    from mof_experiments.workspace import Workspace

    with Workspace(workspace_path, read_only=True, must_exist=True) as ws:
        require_table(ws, "contacts", "mof send")
        contacts = ws.read("contacts").astype({"contact_id": "str", "company_id": "str", "email": "str"})
        contacts["suppressed"] = suppressed_contacts(ws, contacts).to_numpy()
        sup = read_suppressions(ws)
        excl = excluded_companies(ws, spec.experiment_id, spec.arms)
        assigned = None
        if spec.experiment_id is not None:
            a = ws.read("assignments", ["experiment_id", "company_id"]).astype("str")
            assigned = set(a.loc[a["experiment_id"] == spec.experiment_id, "company_id"])
        recent = pd.DataFrame({"contact_id": pd.Series(dtype="str"), "message_id": pd.Series(dtype="str")})
        if window_start is not None and ws.has("email_events"):
            t = ws.table("email_events")
            expr = t.filter((t.event == "sent") & (t.ts >= window_start)).select("contact_id", "message_id")
            recent = expr.to_pandas().astype("str")
    return contacts.set_index("contact_id"), sup, excl, assigned, recent


def plan_and_render(spec: CampaignSpec, cohort: pd.DataFrame, *, workspace_path, ledger: Ledger,
                    cohort_source: str, now: datetime, resolve_ambiguous: str | None):
    """Phases 1 and 2: decisions for every row and the rendered messages (see module docstring)."""
    window_start = now - timedelta(days=spec.frequency_cap.days) if spec.frequency_cap else None
    contacts, sup, excl, assigned, recent = _load_workspace_facts(workspace_path, spec, window_start)
    led_emails, led_ids = ledger.suppressed()
    existing = ledger.rows(spec.campaign_id)
    cap_counts: dict[str, int] = {}
    if spec.frequency_cap:
        cap_counts = dict(ledger.sent_counts_since(now_iso(window_start), exclude_campaign=spec.campaign_id))
        in_ledger = ledger.sent_message_ids()
        own = {r["message_id"] for r in existing.values()}
        extra = recent[~recent["message_id"].isin(in_ledger | own)]
        for c, n in extra["contact_id"].value_counts().items():
            cap_counts[c] = cap_counts.get(c, 0) + int(n)
    company_of = dict(zip(contacts.index, contacts["company_id"]))
    suppressed_ids = set(contacts.index[contacts["suppressed"].to_numpy()])
    sup_emails = set(sup["email"].dropna().astype(str).str.lower())
    renderer = Renderer(spec)
    builder = MessageBuilder(spec)
    domain = spec.domain
    seen_ids, seen_emails = set(), set()
    decisions, to_send, ambiguous, already = [], [], [], 0
    skipped: dict[str, int] = {}
    has_name = "name" in cohort.columns
    records = cohort.to_dict("records")
    for i, row in enumerate(records, start=1):
        cid = str(row["contact_id"]).strip()
        email = str(row["email"]).strip()
        if cid in seen_ids:
            skipped["duplicate_contact"] = skipped.get("duplicate_contact", 0) + 1
            continue
        seen_ids.add(cid)
        for col, val in (("email", str(row["email"])), ("name", row.get("name") if has_name else None)):
            if isinstance(val, str) and header_problem(val):
                raise MofInputError(f"{header_problem(val)}; nothing was sent", source=cohort_source,
                                    column=col, row=i, value=val)
        mid = make_message_id(spec.campaign_id, cid, domain)
        prev = existing.get(cid)
        if prev is not None and prev["state"] in ("sent", "failed_permanent"):
            already += 1
            continue
        known = cid in company_of
        company = company_of.get(cid)
        if not known:
            reason = "unknown_contact"
        elif not is_valid_email(email):
            reason = "invalid_address"
        elif cid in suppressed_ids or cid in led_ids or email.lower() in led_emails \
                or email.lower() in sup_emails:
            reason = "suppressed"
        elif company in excl.index:
            reason = excl[company]
        elif assigned is not None and company not in assigned:
            reason = "not_assigned"
        elif email.lower() in seen_emails:
            reason = "duplicate_email"
        elif spec.frequency_cap and cap_counts.get(cid, 0) >= spec.frequency_cap.max_emails:
            reason = "frequency_cap"
        else:
            reason = None
        if reason is None:
            seen_emails.add(email.lower())
        if prev is not None and prev["state"] == "sending":
            ambiguous.append(cid)
            if resolve_ambiguous != "resend" or reason is not None:
                continue
        decisions.append({"contact_id": cid, "company_id": company, "email": email, "message_id": mid,
                          "state": "queued" if reason is None else "skipped", "reason": reason})
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        ctx = dict(row)
        ctx["contact_id"], ctx["email"], ctx["company_id"] = cid, email, company
        rendered = render_one(renderer, ctx, mid, source=cohort_source, rownum=i)
        prob = header_problem(rendered.subject) or header_problem(rendered.unsubscribe_url)
        if prob:
            raise MofInputError(f"rendered subject: {prob}; nothing was sent", source=cohort_source,
                                column="subject", row=i, value=rendered.subject)
        to_name = str(row["name"]).strip() if has_name and isinstance(row.get("name"), str) else None
        try:
            msg = builder.build(rendered, to_email=email, to_name=to_name, message_id=mid,
                                contact_id=cid, when=now)
        except (ValueError, TypeError) as exc:
            raise MofInputError(f"cannot build the message: {' '.join(str(exc).split())}; nothing was sent",
                                source=cohort_source, column="email", row=i, value=email) from None
        to_send.append((cid, email, msg))
    return decisions, to_send, ambiguous, already, skipped


def send_campaign(spec: CampaignSpec | str | Path, cohort: pd.DataFrame | str | Path, *, backend: str,
                  workspace: str | Path, ledger: str | Path = DEFAULT_LEDGER,
                  resolve_ambiguous: str | None = None, backoff_seconds: float | None = None,
                  max_attempts: int | None = None, now: datetime | None = None, progress: bool = False,
                  record: bool = True) -> SendResult:
    """Send ``spec`` to ``cohort`` through ``backend`` (see the module docstring for the phases).

    Parameters
    ----------
    spec : a :class:`CampaignSpec` or the path of its YAML.
    cohort : a DataFrame or the path of a cohort file (.csv/.parquet; columns contact_id, email,
        any others are template variables; ``name`` is the recipient's display name).
    backend : ``smtp://H:P``, ``smtps://H:P``, ``mbox:PATH`` or ``dry-run``.
    workspace : the workspace file (contacts, assignments, suppressions; gets ``sent`` events).
    ledger : the SQLite ledger (default ``data/send_ledger.sqlite``).
    resolve_ambiguous : None (report rows left in ``sending``), ``resend`` or ``skip``.
    backoff_seconds, max_attempts : override the spec's retry policy (e.g. 0 in tests).
    now : the clock for the frequency cap window (default: now, UTC).
    progress : show a progress bar (on a terminal).
    record : append ``sent`` rows and suppressions to the workspace (phase 4); False leaves the
        workspace untouched (the ledger keeps them unrecorded for a later run).

    Returns
    -------
    SendResult
        counts of this run, ambiguous rows, ledger counts by state; ``ok`` is False when a
        message failed, is ambiguous, or the run stopped early.
    """
    from mof_experiments.cohorts import read_cohort

    t0 = time.perf_counter()
    if resolve_ambiguous not in RESOLVE:
        raise MofConfigError(f"--resolve-ambiguous must be resend or skip, got {resolve_ambiguous!r}")
    if not isinstance(spec, CampaignSpec):
        spec = load_spec(spec)
    if isinstance(cohort, pd.DataFrame):
        source = "cohort"
        for c in ("contact_id", "email"):
            if c not in cohort.columns:
                raise MofInputError(f"cohort needs a column {c!r}", source=source, column=c)
    else:
        source = str(cohort)
        cohort = read_cohort(cohort)
    be = get_backend(backend)
    now = now or datetime.now(timezone.utc)
    max_attempts = max_attempts or spec.retry.max_attempts
    backoff = spec.retry.backoff_seconds if backoff_seconds is None else backoff_seconds
    from contextlib import nullcontext

    with (nullcontext() if be.dry_run else LedgerLock(ledger)):
        return _run(spec, cohort, source, be, workspace, ledger, resolve_ambiguous, now, max_attempts, backoff,
                    progress, record, t0)


def _run(spec, cohort, source, be, workspace, ledger, resolve_ambiguous, now, max_attempts, backoff, progress,
         record, t0) -> SendResult:
    led = Ledger(ledger, read_only=be.dry_run)
    try:
        decisions, to_send, ambiguous, already, skipped = plan_and_render(
            spec, cohort, workspace_path=workspace, ledger=led, cohort_source=source, now=now,
            resolve_ambiguous=resolve_ambiguous)
        all_amb = [r["contact_id"] for r in led.ambiguous(spec.campaign_id)]
        if be.dry_run:
            preview = to_send[0][2].as_string() if to_send else None
            return SendResult(spec.campaign_id, be.describe(), True, len(decisions) + already + len(
                [a for a in ambiguous if a not in {d["contact_id"] for d in decisions}]), len(to_send), already,
                skipped, 0, 0, 0, tuple(all_amb) if resolve_ambiguous is None else (), 0,
                led.counts(spec.campaign_id), time.perf_counter() - t0, None, 0.0, preview)
        led.plan(spec.campaign_id, decisions)
        sending_ids = {cid for cid, _, _ in to_send}
        if resolve_ambiguous == "skip":
            to_skip, unresolved = all_amb, []
        elif resolve_ambiguous == "resend":
            # in this cohort but no longer eligible (e.g. suppressed since): skipped, not resent;
            # not in this cohort file: cannot be rendered, so still reported
            to_skip = [a for a in ambiguous if a not in sending_ids]
            unresolved = [a for a in all_amb if a not in set(ambiguous)]
        else:
            to_skip, unresolved = [], all_amb
        if to_skip:
            led.resolve_ambiguous(spec.campaign_id, to_skip, "skip")
            skipped["ambiguous_skipped"] = len(to_skip)
        resend = set(ambiguous) & sending_ids if resolve_ambiguous == "resend" else set()
        stats = _send_loop(spec, be, led, to_send, max_attempts, backoff, progress, resend)
        recorded, rec_error = (_record(spec, led, workspace) if record else (0, None))
        error = stats["error"] or rec_error
        planned = len({d["contact_id"] for d in decisions} | set(ambiguous)) + already
        return SendResult(spec.campaign_id, be.describe(), False, planned, stats["sent"], already, skipped,
                          stats["failed_temporary"], stats["failed_permanent"], stats["retried"],
                          tuple(unresolved + stats["ambiguous"]), recorded, led.counts(spec.campaign_id),
                          time.perf_counter() - t0, error, stats["seconds"])
    finally:
        led.close()


def _send_loop(spec, be, led: Ledger, to_send, max_attempts: int, backoff: float, progress: bool,
               resend: set = frozenset()) -> dict:
    from tqdm import tqdm

    stats = {"sent": 0, "failed_temporary": 0, "failed_permanent": 0, "retried": 0, "ambiguous": [],
             "error": None, "seconds": 0.0}
    if not to_send:
        return stats
    t0 = time.perf_counter()
    from_addr = spec.from_address.addr_spec
    interval = 1.0 / spec.rate_limit_per_second if spec.rate_limit_per_second else 0.0
    queue = [(0.0, 1, item) for item in to_send]  # (due time, attempt, item)
    queue.reverse()
    retries: list = []
    last = 0.0
    # disable=None: tqdm shows the bar only on a terminal (not in cron logs)
    bar = tqdm(total=len(to_send), disable=None if progress else True, file=sys.stderr, unit="msg",
               desc=spec.campaign_id)
    try:
        be.open()
    except BackendUnavailable as exc:
        stats["error"] = str(exc)
        bar.close()
        return stats
    try:
        while queue or retries:
            if not queue:
                retries.sort(key=lambda r: r[0])
                due, attempt, item = retries.pop(0)
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            else:
                due, attempt, item = queue.pop()
            cid, email, msg = item
            if interval:
                wait = last + interval - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                last = time.monotonic()
            led.mark_sending(spec.campaign_id, cid, resend=cid in resend)
            try:
                out = be.send(msg, from_addr, email)
            except AmbiguousDelivery as exc:
                # left in 'sending' on purpose: reported, resolved by a human
                stats["ambiguous"].append(cid)
                bar.update(1)
                continue
            except BackendUnavailable as exc:
                led.mark(spec.campaign_id, cid, "failed_temporary", error=str(exc)[:200])
                stats["failed_temporary"] += 1
                stats["error"] = str(exc)
                break
            if out.status == "ok":
                led.mark(spec.campaign_id, cid, "sent", code=out.code)
                stats["sent"] += 1
                bar.update(1)
            elif out.status == "permanent":
                led.mark(spec.campaign_id, cid, "failed_permanent", code=out.code, error=out.message,
                         suppress=(email, f"smtp_{out.code}", f"send:{spec.campaign_id}"))
                stats["failed_permanent"] += 1
                bar.update(1)
            else:
                led.mark(spec.campaign_id, cid, "failed_temporary", code=out.code, error=out.message)
                if attempt < max_attempts:
                    stats["retried"] += 1
                    retries.append((time.monotonic() + backoff * 2 ** (attempt - 1), attempt + 1, item))
                else:
                    stats["failed_temporary"] += 1
                    bar.update(1)
    finally:
        be.close()
        bar.close()
        stats["seconds"] = time.perf_counter() - t0
    return stats


def _record(spec: CampaignSpec, led: Ledger, workspace) -> tuple[int, str | None]:
    """Phase 4: copy unrecorded ``sent`` rows and suppressions to the workspace."""
    from mof_experiments.cohorts import SUPPRESSIONS_TABLE, ensure_suppressions_table
    from mof_experiments.schema import validate
    from mof_experiments.workspace import Workspace

    sends = [r for r in led.unrecorded_sent() if r["campaign_id"] == spec.campaign_id]
    sups = led.unrecorded_suppressions()
    if not sends and not sups:
        return 0, None
    try:
        with Workspace(workspace, must_exist=True) as ws:
            have = set()
            if sends and ws.has("email_events"):
                t = ws.table("email_events")
                ids = [r["message_id"] for r in sends]
                have = set(t.filter((t.event == "sent") & t.message_id.isin(ids)).message_id.to_pandas())
            new = [r for r in sends if r["message_id"] not in have]
            tables = {}
            if new:
                ev = pd.DataFrame({
                    "message_id": [r["message_id"] for r in new], "campaign_id": spec.campaign_id,
                    "contact_id": [r["contact_id"] for r in new], "company_id": [r["company_id"] for r in new],
                    "zone": spec.zone, "topic": spec.topic, "variant": spec.variant, "event": "sent",
                    "ts": [r["sent_at"] for r in new],
                    "event_id": [f"mof-sent:{r['message_id']}" for r in new], "machine_open": None})
                tables["email_events"] = validate(ev, "email_events", source="send ledger")
            if sups:
                ensure_suppressions_table(ws)
                sp = pd.DataFrame(sups)
                sp["ts"] = pd.to_datetime(sp["ts"], utc=True)
                if ws.has(SUPPRESSIONS_TABLE):
                    old = ws.read(SUPPRESSIONS_TABLE)
                    key = set(zip(old["email"], old["reason"], old["source"]))
                    sp = sp[[k not in key for k in zip(sp["email"], sp["reason"], sp["source"])]]
                if len(sp):
                    tables[SUPPRESSIONS_TABLE] = sp.astype({"email": "str", "contact_id": "str", "reason": "str",
                                                            "source": "str"})
            if tables:
                ws.write_many(tables, mode="append")
    except MofError as exc:
        return 0, f"could not record events in the workspace ({exc.one_line()}); the next run records them"
    except Exception as exc:  # duckdb lock held by another process, ...
        return 0, (f"could not record events in the workspace ({type(exc).__name__}: "
                   f"{' '.join(str(exc).split())[:160]}); the next run records them")
    led.mark_recorded([(r["campaign_id"], r["contact_id"]) for r in sends],
                      [(s["email"], s["reason"], s["source"]) for s in sups])
    return len(new), None


__all__ = ["send_campaign", "SendResult", "plan_and_render"]
