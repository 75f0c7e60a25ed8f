"""Property test (hypothesis): whatever the cohort file and the send history, no message goes to
a suppressed contact, a global-holdout or control company, or past the frequency cap; and every
contact that breaks no rule is sent exactly once."""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mof_experiments.send import load_spec, send_campaign
from mof_experiments.send.backends import Backend, Outcome, register_backend
from mof_experiments.send.ledger import Ledger, now_iso
from mof_experiments.send.spec import FrequencyCap
from mof_experiments.simulate import SimConfig, simulate
from mof_experiments.cohorts import ensure_suppressions_table
from mof_experiments.workspace import Workspace
from send_helpers import prepare_workspace, write_campaign

NOW = datetime(2026, 6, 20, tzinfo=timezone.utc)  # inside the simulated period: its sends count


@register_backend("memory")
class MemoryBackend(Backend):
    """Records (recipient, contact) pairs; the registry is the plugin hook for back-ends."""

    outbox: list = []

    def send(self, msg, from_addr, to_addr):
        MemoryBackend.outbox.append((to_addr, msg["X-MOF-Contact"]))
        return Outcome("ok", 250, "kept")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("prop_ws")
    path = d / "mof.duckdb"
    simulate(SimConfig(companies=150, seed=17), path, progress=False)
    prepare_workspace(path)
    with Workspace(path) as ws:
        asg = ws.read("assignments")
        contacts = ws.read("contacts")
        email_cos = asg.loc[asg.arm == "email", "company_id"].tolist()
        ws.write("assignments", pd.DataFrame({"experiment_id": "global_holdout", "company_id": email_cos[:4],
                                              "arm": "holdout", "assigned_at": pd.Timestamp("2026-01-01", tz="UTC")}),
                 mode="append")
        in_email = contacts[contacts.company_id.isin(email_cos[4:]) & contacts.unsubscribed_at.isna()]
        ensure_suppressions_table(ws)
        ws.write("suppressions", pd.DataFrame({"email": in_email.email.iloc[:5].str.upper(), "contact_id": None,
                                               "reason": "bounce", "source": "test",
                                               "ts": pd.Timestamp("2026-02-01", tz="UTC")}), mode="append")
        ev = ws.read("email_events")
        asg = ws.read("assignments")
        sup = ws.read("suppressions")
    spec = load_spec(write_campaign(d / "c"))
    return {"path": path, "contacts": contacts, "asg": asg, "sup": sup, "spec": spec,
            "ws_sent": ev[ev.event == "sent"][["contact_id", "ts"]], "email_cos": email_cos}


def allowed(world, cid, history, cap) -> bool:
    """The rules, restated from the tables (independently of the dispatcher)."""
    c = world["contacts"].set_index("contact_id").loc[cid]
    asg, sup = world["asg"], world["sup"]
    if pd.notna(c.unsubscribed_at) or c.email.lower() in set(sup.email.str.lower()):
        return False
    gh = set(asg.loc[(asg.experiment_id == "global_holdout") & (asg.arm == "holdout"), "company_id"])
    arm = asg.loc[(asg.experiment_id == "mof_email_2026") & (asg.company_id == c.company_id), "arm"]
    if c.company_id in gh or arm.tolist() != ["email"]:
        return False
    start = NOW - timedelta(days=cap.days)
    n = sum(1 for h_cid, ago, _ in history if h_cid == cid and NOW - timedelta(days=ago) >= start)
    ws = world["ws_sent"]
    n += int(((ws.contact_id == cid) & (ws.ts >= start)).sum())
    return n < cap.max_emails


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_send_to_suppressed_holdout_control_or_past_the_cap(world, data):
    contacts = world["contacts"]
    n = len(contacts)
    # bias towards contacts of emailed companies so that sends do happen
    pool = contacts.index[contacts.company_id.isin(world["email_cos"])].tolist()
    idx = data.draw(st.lists(st.one_of(st.sampled_from(pool), st.integers(0, n - 1)), min_size=1, max_size=25))
    cohort = contacts.iloc[idx][["contact_id", "email", "company_id"]].reset_index(drop=True)
    lie = data.draw(st.booleans())
    if lie:  # the cohort file claims every contact belongs to an emailed company
        cohort["company_id"] = world["email_cos"][-1]
    cohort = cohort.assign(company_name="Acme", persona="PM")
    history = data.draw(st.lists(st.tuples(st.sampled_from(cohort.contact_id.tolist()),
                                           st.floats(0.0, 12.0), st.sampled_from(["old_a", "old_b"])),
                                 max_size=10, unique_by=lambda h: (h[0], h[2])))
    cap = FrequencyCap(data.draw(st.integers(1, 3)), data.draw(st.sampled_from([1.0, 3.0, 7.0, 10.0])))
    spec = dataclasses.replace(world["spec"], frequency_cap=cap)
    MemoryBackend.outbox = []
    with tempfile.TemporaryDirectory() as d:
        ledger = Path(d) / "ledger.sqlite"
        with Ledger(ledger) as led:
            for cid, ago, camp in history:
                t = now_iso(NOW - timedelta(days=ago))
                led.con.execute("INSERT INTO sends (campaign_id, contact_id, email, message_id, state, created_at, "
                                "updated_at, sent_at) VALUES (?, ?, 'x@example.com', ?, 'sent', ?, ?, ?)",
                                [camp, cid, f"{camp}.{cid}@test", t, t, t])
        # record=False: the shared workspace stays as it is (the ledger alone carries this run's sends)
        r = send_campaign(spec, cohort, backend="memory:", workspace=world["path"], ledger=ledger, now=NOW,
                          record=False)
    sent = [c for _, c in MemoryBackend.outbox]
    assert len(sent) == len(set(sent)) == r.sent
    expected = {cid for cid in dict.fromkeys(cohort.contact_id) if allowed(world, cid, history, cap)}
    assert set(sent) == expected
    event(f"sent: {'some' if sent else 'none'}")
    for reason in r.skipped:
        event(f"skipped: {reason}")
