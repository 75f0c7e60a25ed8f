"""What the workspace says about a cohort, read once before a send (phase 1's facts).

The workspace decides who may be emailed and at which address: per contact its address and
company, whether it is suppressed (:func:`mof_experiments.cohorts.suppressed_contacts`), the
companies excluded (:func:`mof_experiments.cohorts.excluded_companies`: holdout, control,
other arm), the companies assigned in the campaign's experiment (for a contact-level experiment:
the contacts assigned and the contacts excluded, :func:`mof_experiments.experiments.contact_exclusions`:
control arm of any contact-level experiment, other arm), the ``sent`` events in the
frequency-cap window, and this campaign's messages already recorded as sent (by campaign and
contact, or by Message-ID: the guard against a new or lost ledger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from mof_experiments.send.spec import CampaignSpec

#: Template variables the workspace can supply when the cohort file has no such column:
#: variable -> (table, column), read per contact (companies and funnel through the contact's company).
WORKSPACE_FIELDS = {"job_title": ("contacts", "job_title"), "company_name": ("companies", "name"),
                    "plan": ("companies", "plan"), "persona": ("personas", "persona"), "stage": ("funnel", "stage")}


@dataclass(frozen=True)
class WorkspaceFacts:
    """What the plan reads from the workspace (see the module docstring)."""

    contacts: pd.DataFrame      # indexed by contact_id: company_id, email, suppressed, + WORKSPACE_FIELDS used
    suppressions: pd.DataFrame
    excluded: pd.Series         # company_id -> reason
    assigned: set | None
    recent_sent: pd.DataFrame   # contact_id, message_id of 'sent' events in the cap window
    already_sent: pd.DataFrame  # contact_id, message_id, ts of this campaign's 'sent' events
    excluded_contacts: pd.Series  # contact_id -> reason (control, other_arm)
    assigned_contacts: set | None = None  # contacts assigned in a contact-level experiment


def load_workspace_facts(workspace_path, spec: CampaignSpec, window_start: datetime | None,
                         fields: set[str], message_ids: list[str]) -> WorkspaceFacts:
    """Read the facts of the module docstring from the workspace at ``workspace_path`` (read
    only): ``fields`` are the :data:`WORKSPACE_FIELDS` the templates use and the cohort lacks;
    ``window_start`` begins the frequency-cap window (None: no cap); ``message_ids`` are the
    cohort's deterministic Message-IDs (matched against recorded ``sent`` events)."""
    from mof_experiments.cohorts import (excluded_companies, read_suppressions, require_table,
                                         suppressed_contacts)
    from mof_experiments.experiments import contact_assignments_of, contact_exclusions, experiment_unit
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
        excl_contacts = contact_exclusions(ws, spec.experiment_id, spec.arms)
        assigned = assigned_contacts = None
        if spec.experiment_id is not None and experiment_unit(ws, spec.experiment_id) == "contact":
            assigned_contacts = set(contact_assignments_of(ws, spec.experiment_id)["contact_id"].astype(str))
        elif spec.experiment_id is not None:
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
    return WorkspaceFacts(contacts.set_index("contact_id"), sup, excl, assigned, recent, done, excl_contacts,
                          assigned_contacts)


__all__ = ["WORKSPACE_FIELDS", "WorkspaceFacts", "load_workspace_facts"]
