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


def simulate_with_global_holdout(path: Path, *, companies: int, seed: int, holdout_companies: int) -> Path:
    """`mof simulate` + personas and funnel (:func:`prepare_workspace`), then the first
    ``holdout_companies`` companies of the email arm (by id) also put in the global holdout."""
    from mof_experiments.simulate import SimConfig, simulate

    simulate(SimConfig(companies=companies, seed=seed), path, progress=False)
    prepare_workspace(path)
    with Workspace(path) as ws:
        asg = ws.read("assignments")
        gh = sorted(asg.loc[asg.arm == "email", "company_id"])[:holdout_companies]
        ws.write("assignments", pd.DataFrame({"experiment_id": "global_holdout", "company_id": gh, "arm": "holdout",
                                              "assigned_at": pd.Timestamp("2026-01-01", tz="UTC")}), mode="append")
    return path


_HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def hold_workspace(path: Path, seconds: float):
    """Another process that opens ``path`` for writing (DuckDB's exclusive lock) and holds it
    for ``seconds``; returns once it holds the lock (a ``subprocess.Popen``)."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", _HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    return p
