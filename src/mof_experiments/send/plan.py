"""Phases 1 and 2 of a send: a decision for every cohort row, then every message rendered.

The rules, in the order they are checked, are in :mod:`mof_experiments.send.dispatch`'s
docstring; :func:`plan_and_render` applies them and raises (with nothing sent) on a cohort
address that is not the workspace's, a template variable nobody provides, a template error or
a header injection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from mof_experiments.errors import MofInputError
from mof_experiments.schema import email_key, sendable_email
from mof_experiments.send.facts import WORKSPACE_FIELDS, load_workspace_facts
from mof_experiments.send.ledger import Ledger, now_iso
from mof_experiments.send.message import MessageBuilder, header_problem, make_message_id
from mof_experiments.send.render import BUILTIN_VARIABLES, Renderer, render_one
from mof_experiments.send.spec import CampaignSpec


@dataclass
class Plan:
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


def check_variables(renderer: Renderer, cohort_columns: list[str], workspace_vars: set[str], source: str) -> None:
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
                    cohort_source: str, now: datetime, resolve_ambiguous: str | None) -> Plan:
    """Phases 1 and 2: decisions for every row and the rendered messages (see module docstring)."""
    window_start = now - timedelta(days=spec.frequency_cap.days) if spec.frequency_cap else None
    renderer = Renderer(spec)
    used = set().union(*renderer.variables().values())
    fields = {v for v in used if v in WORKSPACE_FIELDS and v not in cohort.columns}
    ids = [str(c).strip() for c in cohort["contact_id"]]
    mids = [make_message_id(spec.campaign_id, c, spec.domain) for c in ids]
    facts = load_workspace_facts(workspace_path, spec, window_start, fields, mids)
    contacts = facts.contacts
    ws_vars = {v for v in fields if v in contacts.columns}
    check_variables(renderer, list(cohort.columns), ws_vars, cohort_source)
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
    plan = Plan()
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
        elif cid in facts.excluded_contacts.index:  # a contact-level experiment's control or other arm
            reason = facts.excluded_contacts[cid]
        elif facts.assigned_contacts is not None and cid not in facts.assigned_contacts:
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


__all__ = ["Plan", "plan_and_render", "check_variables"]
