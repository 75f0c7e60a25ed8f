"""Helpers shared by the send, cohort and events tests (a module, not a test module: test
modules never import each other)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import yaml

from mof_experiments.funnel import label_workspace
from mof_experiments.workspace import Workspace

CAMPAIGN = "test_case_study_pm"
POSTAL = "Acme API Inc., 548 Market St #1234, San Francisco, CA 94104, USA"


def write_campaign(folder: Path, **over) -> Path:
    """A campaign spec + templates in ``folder``; keyword arguments override spec keys."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t.txt.j2").write_text("Hello {{ company_name }} team ({{ persona }}),\nread the case study.\n"
                                     "Unsubscribe: {{ unsubscribe_url }}\n", encoding="utf-8")
    (folder / "t.html.j2").write_text("<p>Hello <b>{{ company_name }}</b> team</p>"
                                      "<p><a href=\"{{ unsubscribe_url }}\">unsubscribe</a></p>", encoding="utf-8")
    spec = {"campaign_id": CAMPAIGN, "experiment_id": "mof_email_2026", "arms": ["email"], "zone": "case_study",
            "topic": "driving_adoption", "variant": "A", "subject": "A case study for {{ company_name }}",
            "from": "Acme API <growth@acme-api.example.com>", "reply_to": "success@acme-api.example.com",
            "templates": {"html": "t.html.j2", "text": "t.txt.j2"},
            "unsubscribe": {"url": "https://acme-api.example.com/u?c={{ campaign_id }}&u={{ contact_id }}"
                                   "&t={{ token }}", "mailto": "unsubscribe@acme-api.example.com"},
            "postal_address": POSTAL, "retry": {"max_attempts": 3, "backoff_seconds": 0.01}}
    spec.update(over)
    spec = {k: v for k, v in spec.items() if v is not None}
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def prepare_workspace(path: Path) -> None:
    """Personas from the simulator's truth (what `mof segment` would write) and the funnel."""
    with Workspace(path) as ws:
        t = ws.read("sim_contact_truth")
        ws.write("personas", t[["contact_id", "persona"]].assign(confidence=1.0, rule="sim_truth"))
        label_workspace(ws)


def tables(path):
    with Workspace(path, read_only=True) as ws:
        return (ws.read("contacts"), ws.read("assignments"), ws.read("companies"),
                ws.read("personas"))


def eligible_contacts(path) -> pd.DataFrame:
    """Contacts in the email arm, not unsubscribed: computed here from the tables, independently."""
    contacts, asg, companies, personas = tables(path)
    email_arm = set(asg.loc[(asg.experiment_id == "mof_email_2026") & (asg.arm == "email"), "company_id"])
    c = contacts[contacts.company_id.isin(email_arm) & contacts.unsubscribed_at.isna()]
    c = c.merge(companies[["company_id", "name"]].rename(columns={"name": "company_name"}), on="company_id")
    c = c.merge(personas[["contact_id", "persona"]], on="contact_id")
    return c.sort_values("contact_id").reset_index(drop=True)


def ledger_states(path) -> dict:
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT contact_id, state || coalesce(':' || reason, '') FROM sends").fetchall())
    finally:
        con.close()
