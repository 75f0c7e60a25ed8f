"""Helpers shared by test modules (test modules never import each other; fixtures are in conftest.py)."""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pandas as pd
import yaml

from mof_experiments.funnel import label_workspace
from mof_experiments.workspace import Workspace

# ------------------------------------------------------------------------------------ workspaces


def copy_workspace(src: Path, folder: Path) -> Path:
    """A writable copy of a (session-cached, read-only) workspace in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / "mof.duckdb"
    shutil.copy(src, dst)
    return dst


def add_truth_personas(path: Path) -> None:
    """A ``personas`` table from the simulator's truth (what ``mof segment`` would write)."""
    with Workspace(path) as ws:
        t = ws.read("sim_contact_truth")
        ws.write("personas", t[["contact_id", "persona"]].assign(confidence=1.0, rule="sim_truth"))


def prepare_workspace(path: Path) -> None:
    """Personas from the simulator's truth and the funnel (what `mof segment` and `mof label` write)."""
    add_truth_personas(path)
    with Workspace(path) as ws:
        label_workspace(ws)


# ------------------------------------------------------------------------------------ email events


def email_events(rows) -> pd.DataFrame:
    """Canonical-looking email events from rows (message_id, company_id, contact_id, zone, topic, event, ts)."""
    df = pd.DataFrame(rows, columns=["message_id", "company_id", "contact_id", "zone", "topic", "event", "ts"])
    df["campaign_id"] = "c_" + df["zone"] + "_" + df["topic"]
    df["variant"] = "A"
    df["machine_open"] = pd.array([False] * len(df), dtype="boolean")
    return df


def message_rows(mid, co, ct, sent, opens=(), zone="case_study", topic="adoption") -> list:
    """Event rows of one message: sent, delivered 30 s later, and a human open at each of ``opens``."""
    rows = [(mid, co, ct, zone, topic, "sent", sent), (mid, co, ct, zone, topic, "delivered", sent + pd.Timedelta(seconds=30))]
    rows += [(mid, co, ct, zone, topic, "open", t) for t in opens]
    return rows


# ------------------------------------------------------------------------------------ sending

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


def tables(path):
    """contacts, assignments, companies, personas of a workspace."""
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


# ------------------------------------------------------------------------------------ command line


def run_mof(*args: str) -> subprocess.CompletedProcess:
    """``mof ARGS`` in this process: the exit status :func:`mof_experiments.cli.main` returns and
    what it printed (the same as the console script's, without starting an interpreter)."""
    from mof_experiments.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(["mof", *args], code, out.getvalue(), err.getvalue())


# ------------------------------------------------------------------------------------ ledgers and locks


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
