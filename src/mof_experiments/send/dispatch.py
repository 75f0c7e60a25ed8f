"""Dispatch: plan, render, send through a back-end, record in the ledger and the workspace.

The workspace decides who may be emailed and at which address: the cohort file *selects*
contacts by ``contact_id``; every address, company and exclusion comes from the workspace, and a
file whose ``email`` disagrees with the workspace's is refused before anything is sent.

:func:`send_campaign` runs in four phases:

1. **Plan** (reads the workspace, writes nothing). Each cohort row gets a decision, checked in
   this order: ``duplicate_contact`` (a repeated contact_id in the file: ignored),
   ``unknown_contact`` (not in ``contacts``), ``invalid_address`` (the workspace address fails
   ``email-validator``, or needs SMTPUTF8), ``suppressed``
   (:func:`mof_experiments.cohorts.suppressed_contacts` plus the ledger's suppressions),
   ``holdout`` / ``control`` / ``other_arm`` / ``not_assigned`` (from ``assignments`` and
   ``experiment_arms``; ``control`` is a control arm of *any* experiment), ``duplicate_email``,
   ``frequency_cap`` (sends of *any* campaign to the contact in the last ``days``: ledger
   ``sent`` rows plus workspace ``email_events`` ``sent`` rows not in the ledger). Rows already
   ``sent`` or ``failed_permanent`` are left alone, and so are rows a human skipped
   (``--resolve-ambiguous skip``: final until ``--resolve-ambiguous resend``); rows left in
   ``sending`` by a dead run are **ambiguous**. A message the workspace's ``email_events``
   already records as sent (same campaign and contact, or same Message-ID) is never sent again,
   even when the ledger has no row for it (a new or lost ledger): it is written to the ledger
   as ``sent``.
2. **Render** every message to send, before the first send: a template variable that neither
   the cohort nor the workspace provides, a template error or a header injection (line break
   in a subject or name from the data) stops the run with nothing sent.
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
from mof_experiments.schema import email_key, sendable_email
from mof_experiments.send.backends import AmbiguousDelivery, BackendUnavailable, get_backend
from mof_experiments.send.ledger import DEFAULT_LEDGER, Ledger, LedgerLock, now_iso
from mof_experiments.send.message import MessageBuilder, header_problem, make_message_id
from mof_experiments.send.render import BUILTIN_VARIABLES, Renderer, render_one
from mof_experiments.send.spec import CampaignSpec, load_spec

RESOLVE = (None, "resend", "skip")
#: Template variables the workspace can supply when the cohort file has no such column:
#: variable -> (table, column), read per contact (companies and funnel through the contact's company).
WORKSPACE_FIELDS = {"job_title": ("contacts", "job_title"), "company_name": ("companies", "name"),
                    "plan": ("companies", "plan"), "persona": ("personas", "persona"), "stage": ("funnel", "stage")}
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


@dataclass(frozen=True)
class _Facts:
    """What the plan reads from the workspace (see the module docstring)."""

    contacts: pd.DataFrame      # indexed by contact_id: company_id, email, suppressed, + WORKSPACE_FIELDS used
    suppressions: pd.DataFrame
    excluded: pd.Series         # company_id -> reason
    assigned: set | None
    recent_sent: pd.DataFrame   # contact_id, message_id of 'sent' events in the cap window
    already_sent: pd.DataFrame  # contact_id, message_id, ts of this campaign's 'sent' events


def _load_workspace_facts(workspace_path, spec: CampaignSpec, window_start: datetime | None,
                          fields: set[str], message_ids: list[str]) -> _Facts:
    from mof_experiments.cohorts import (excluded_companies, read_suppressions, require_table,
                                         suppressed_contacts)
    from mof_experiments.workspace import Workspace

    with Workspace(workspace_path, read_only=True, must_exist=True) as ws:
        require_table(ws, "contacts", "mof send")
        contacts = ws.read("contacts").astype({"contact_id": "str", "company_id": "str", "email": "str"})
        contacts["suppressed"] = suppressed_contacts(ws, contacts).to_numpy()
        for var in sorted(fields):
            table, col = WORKSPACE_FIELDS[var]
            if table == "contacts":
                contacts[var] = contacts[col]
                continue
            if not ws.has(table) or col not in ws.table(table).columns:
                continue
            key = "contact_id" if table == "personas" else "company_id"
            t = ws.read(table, [key, col]).astype({key: "str"}).drop_duplicates(key).rename(columns={col: var})
            contacts = contacts.merge(t, on=key, how="left")
        sup = read_suppressions(ws)
        excl = excluded_companies(ws, spec.experiment_id, spec.arms)
        assigned = None
        if spec.experiment_id is not None:
            a = ws.read("assignments", ["experiment_id", "company_id"]).astype("str")
            assigned = set(a.loc[a["experiment_id"] == spec.experiment_id, "company_id"])
        recent = pd.DataFrame({"contact_id": pd.Series(dtype="str"), "message_id": pd.Series(dtype="str")})
        done = pd.DataFrame({"contact_id": pd.Series(dtype="str"), "message_id": pd.Series(dtype="str"),
                             "ts": pd.Series(dtype="datetime64[us, UTC]")})
        if ws.has("email_events"):
            t = ws.table("email_events")
            if window_start is not None:
                expr = t.filter((t.event == "sent") & (t.ts >= window_start)).select("contact_id", "message_id")
                recent = expr.to_pandas().astype("str")
            import ibis

            from mof_experiments.workspace import to_pandas

            mine = t.campaign_id == spec.campaign_id
            if message_ids:  # a semi-join, not a literal list: cohorts can be large
                ids = ibis.memtable(pd.DataFrame({"message_id": pd.Series(message_ids, dtype="str")}))
                mine = mine | t.message_id.isin(ids.message_id)

            done = to_pandas(t.filter((t.event == "sent") & mine).select("contact_id", "message_id", "ts"))
    return _Facts(contacts.set_index("contact_id"), sup, excl, assigned, recent, done)


@dataclass
class _Plan:
    """The plan of one run (phases 1 and 2)."""

    decisions: list = field(default_factory=list)   # rows for Ledger.plan
    to_send: list = field(default_factory=list)     # (contact_id, wire address, ledger address, message)
    ambiguous: list = field(default_factory=list)   # cohort contacts whose row is ambiguous
    reopen: list = field(default_factory=list)      # ambiguous_skipped rows reopened by an explicit resend
    adopt: list = field(default_factory=list)       # sent per the workspace, unknown to the ledger
    already: int = 0
    skipped: dict = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _check_variables(renderer: Renderer, cohort_columns: list[str], workspace_vars: set[str], source: str) -> None:
    """Every variable a template names must be a cohort column, a workspace field or a built-in."""
    have = set(cohort_columns) | set(workspace_vars) | set(BUILTIN_VARIABLES) | {"contact_id", "email",
                                                                                   "company_id"}
    for name, used in renderer.variables().items():
        missing = sorted(used - have)
        if missing:
            raise MofInputError(
                f"{renderer.where(name)} uses the variable {missing[0]!r}, which is neither a column of the cohort "
                f"({', '.join(cohort_columns)}) nor a workspace field the send can read "
                f"({', '.join(sorted(workspace_vars)) or 'none available'}); add the column to the cohort "
                "(e.g. `mof cohort export --columns ...`); nothing was sent", source=source, column=missing[0])


def _blame(ctx: dict, variables: set[str], default: str) -> tuple[str, object]:
    """The variable of ``ctx`` (among ``variables``) whose value breaks a header, else ``default``."""
    for k in sorted(variables):
        v = ctx.get(k)
        if isinstance(v, str) and header_problem(v):
            return k, v
    return default, ctx.get(default)


def plan_and_render(spec: CampaignSpec, cohort: pd.DataFrame, *, workspace_path, ledger: Ledger,
                    cohort_source: str, now: datetime, resolve_ambiguous: str | None) -> _Plan:
    """Phases 1 and 2: decisions for every row and the rendered messages (see module docstring)."""
    window_start = now - timedelta(days=spec.frequency_cap.days) if spec.frequency_cap else None
    renderer = Renderer(spec)
    used = set().union(*renderer.variables().values())
    fields = {v for v in used if v in WORKSPACE_FIELDS and v not in cohort.columns}
    ids = [str(c).strip() for c in cohort["contact_id"]]
    mids = [make_message_id(spec.campaign_id, c, spec.domain) for c in ids]
    facts = _load_workspace_facts(workspace_path, spec, window_start, fields, mids)
    contacts = facts.contacts
    ws_vars = {v for v in fields if v in contacts.columns}
    _check_variables(renderer, list(cohort.columns), ws_vars, cohort_source)
    led_emails, led_ids = ledger.suppressed()
    led_emails = {email_key(e) for e in led_emails}
    existing = ledger.rows(spec.campaign_id)
    cap_counts: dict[str, int] = {}
    if spec.frequency_cap:
        cap_counts = dict(ledger.sent_counts_since(now_iso(window_start), exclude_campaign=spec.campaign_id))
        in_ledger = ledger.sent_message_ids()
        own = {r["message_id"] for r in existing.values()}
        extra = facts.recent_sent[~facts.recent_sent["message_id"].isin(in_ledger | own)]
        for c, n in extra["contact_id"].value_counts().items():
            cap_counts[c] = cap_counts.get(c, 0) + int(n)
    done = facts.already_sent
    done_by_contact = dict(zip(done["contact_id"].astype(str), done["ts"]))
    done_by_mid = dict(zip(done["message_id"].astype(str), done["ts"]))
    ws_email = contacts["email"].to_dict()
    company_of = contacts["company_id"].to_dict()
    suppressed_ids = set(contacts.index[contacts["suppressed"].to_numpy()])
    sup_emails = {email_key(e) for e in facts.suppressions["email"].dropna()}
    extra_ctx = contacts[sorted(ws_vars)].to_dict("index") if ws_vars else {}
    builder = MessageBuilder(spec)
    has_email, has_name = "email" in cohort.columns, "name" in cohort.columns
    plan = _Plan()
    seen_ids, seen_emails = set(), set()
    for i, (row, cid, mid) in enumerate(zip(cohort.to_dict("records"), ids, mids), start=1):
        known = cid in company_of
        address = ws_email.get(cid)
        claimed = row.get("email") if has_email else None
        if known and isinstance(claimed, str) and claimed.strip() and email_key(claimed) != email_key(address):
            raise MofInputError("this address is not the contact's address in the workspace (the workspace decides "
                                "where mail goes: drop the email column or export the cohort again); nothing was "
                                "sent", source=cohort_source, column="email", row=i, value=claimed)
        if cid in seen_ids:
            plan.skip("duplicate_contact")
            continue
        seen_ids.add(cid)
        for col, val in (("email", address), ("name", row.get("name") if has_name else None)):
            if isinstance(val, str) and header_problem(val):
                raise MofInputError(f"{header_problem(val)}; nothing was sent", source=cohort_source,
                                    column=col, row=i, value=val)
        prev = existing.get(cid)
        state = prev["state"] if prev is not None else None
        if state in ("sent", "failed_permanent"):
            plan.already += 1
            continue
        sent_ts = done_by_contact.get(cid, done_by_mid.get(mid))
        if sent_ts is not None:  # the workspace records it as sent: never again, whatever the ledger says
            plan.adopt.append({"contact_id": cid, "company_id": company_of.get(cid), "email": address or "",
                               "message_id": mid, "sent_at": now_iso(pd.Timestamp(sent_ts).to_pydatetime())})
            plan.already += 1
            continue
        if state == "skipped" and prev["reason"] == "ambiguous_skipped":
            if resolve_ambiguous != "resend":  # a decision recorded in the ledger is final
                plan.skip("ambiguous_skipped")
                continue
            plan.reopen.append(cid)
            state = "sending"
        company = company_of.get(cid)
        to_addr = sendable_email(address) if known else None
        if not known:
            reason = "unknown_contact"
        elif to_addr is None:
            reason = "invalid_address"
        elif cid in suppressed_ids or cid in led_ids or email_key(address) in led_emails \
                or email_key(address) in sup_emails:
            reason = "suppressed"
        elif company in facts.excluded.index:
            reason = facts.excluded[company]
        elif facts.assigned is not None and company not in facts.assigned:
            reason = "not_assigned"
        elif email_key(address) in seen_emails:
            reason = "duplicate_email"
        elif spec.frequency_cap and cap_counts.get(cid, 0) >= spec.frequency_cap.max_emails:
            reason = "frequency_cap"
        else:
            reason = None
        if reason is None:
            seen_emails.add(email_key(address))
        if state == "sending":
            plan.ambiguous.append(cid)
            if resolve_ambiguous != "resend" or reason is not None:
                continue
        plan.decisions.append({"contact_id": cid, "company_id": company, "email": address or str(claimed or ""),
                               "message_id": mid, "state": "queued" if reason is None else "skipped",
                               "reason": reason})
        if reason is not None:
            plan.skip(reason)
            continue
        # the cohort's columns, then workspace fields it lacks; identity always from the workspace
        ctx = {**extra_ctx.get(cid, {}), **row, "contact_id": cid, "email": address, "company_id": company}
        rendered = render_one(renderer, ctx, mid, source=cohort_source, rownum=i)
        for part, value in (("subject", rendered.subject), ("unsubscribe_url", rendered.unsubscribe_url)):
            prob = header_problem(value)
            if prob:
                col, val = _blame(ctx, renderer.variables()[part], part)
                raise MofInputError(f"rendered {part}: {prob}; nothing was sent", source=cohort_source,
                                    column=col, row=i, value=val)
        to_name = str(row["name"]).strip() if has_name and isinstance(row.get("name"), str) else None
        try:
            msg = builder.build(rendered, to_email=to_addr, to_name=to_name, message_id=mid,
                                contact_id=cid, when=now)
        except (ValueError, TypeError) as exc:
            raise MofInputError(f"cannot build the message: {' '.join(str(exc).split())}; nothing was sent",
                                source=cohort_source, row=i, value=cid) from None
        plan.to_send.append((cid, to_addr, address, msg))
    return plan


def send_campaign(spec: CampaignSpec | str | Path, cohort: pd.DataFrame | str | Path, *, backend: str,
                  workspace: str | Path, ledger: str | Path = DEFAULT_LEDGER,
                  resolve_ambiguous: str | None = None, backoff_seconds: float | None = None,
                  max_attempts: int | None = None, now: datetime | None = None, progress: bool = False,
                  record: bool = True) -> SendResult:
    """Send ``spec`` to ``cohort`` through ``backend`` (see the module docstring for the phases).

    Parameters
    ----------
    spec : a :class:`CampaignSpec` or the path of its YAML.
    cohort : a DataFrame or the path of a cohort file (.csv/.parquet): ``contact_id`` selects
        the contacts; ``email``, if present, must agree with the workspace (which supplies every
        address); other columns are template variables; ``name`` is the recipient's display name.
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
        if "contact_id" not in cohort.columns:
            raise MofInputError("cohort needs a column 'contact_id'", source=source, column="contact_id")
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
        plan = plan_and_render(spec, cohort, workspace_path=workspace, ledger=led, cohort_source=source, now=now,
                               resolve_ambiguous=resolve_ambiguous)
        decided = {d["contact_id"] for d in plan.decisions}
        if be.dry_run:
            all_amb = [r["contact_id"] for r in led.ambiguous(spec.campaign_id)]
            preview = plan.to_send[0][3].as_string() if plan.to_send else None
            return SendResult(spec.campaign_id, be.describe(), True, len(decided) + plan.already + len(
                [a for a in plan.ambiguous if a not in decided]), len(plan.to_send), plan.already,
                plan.skipped, 0, 0, 0, tuple(all_amb) if resolve_ambiguous is None else (), 0,
                led.counts(spec.campaign_id), time.perf_counter() - t0, None, 0.0, preview,
                from_workspace=len(plan.adopt))
        if plan.adopt:
            led.adopt_sent(spec.campaign_id, plan.adopt)
        if plan.reopen:
            led.reopen_skipped_ambiguous(spec.campaign_id, plan.reopen)
        led.plan(spec.campaign_id, plan.decisions)
        all_amb = [r["contact_id"] for r in led.ambiguous(spec.campaign_id)]
        sending_ids = {item[0] for item in plan.to_send}
        if resolve_ambiguous == "skip":
            to_skip, unresolved = all_amb, []
        elif resolve_ambiguous == "resend":
            # in this cohort but no longer eligible (e.g. suppressed since): skipped, not resent;
            # not in this cohort file: cannot be rendered, so still reported
            to_skip = [a for a in plan.ambiguous if a not in sending_ids]
            unresolved = [a for a in all_amb if a not in set(plan.ambiguous)]
        else:
            to_skip, unresolved = [], all_amb
        if to_skip:
            led.resolve_ambiguous(spec.campaign_id, to_skip, "skip")
            plan.skipped["ambiguous_skipped"] = plan.skipped.get("ambiguous_skipped", 0) + len(to_skip)
        resend = set(plan.ambiguous) & sending_ids if resolve_ambiguous == "resend" else set()
        stats = _send_loop(spec, be, led, plan.to_send, max_attempts, backoff, progress, resend)
        recorded, rec_error = (_record(spec, led, workspace) if record else (0, None))
        planned = len(decided | set(plan.ambiguous)) + plan.already
        return SendResult(spec.campaign_id, be.describe(), False, planned, stats["sent"], plan.already, plan.skipped,
                          stats["failed_temporary"], stats["failed_permanent"], stats["retried"],
                          tuple(unresolved + stats["ambiguous"]), recorded, led.counts(spec.campaign_id),
                          time.perf_counter() - t0, stats["error"], stats["seconds"], record_error=rec_error,
                          from_workspace=len(plan.adopt), resent_ambiguous=len(resend))
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
            cid, to_addr, email, msg = item
            if interval:
                wait = last + interval - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                last = time.monotonic()
            led.mark_sending(spec.campaign_id, cid, resend=cid in resend)
            try:
                out = be.send(msg, from_addr, to_addr)
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
        return 0, exc.one_line()[:300]
    except Exception as exc:  # duckdb lock held by another process, ...
        return 0, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    led.mark_recorded([(r["campaign_id"], r["contact_id"]) for r in sends],
                      [(s["email"], s["reason"], s["source"]) for s in sups])
    return len(new), None


__all__ = ["send_campaign", "SendResult", "plan_and_render"]
