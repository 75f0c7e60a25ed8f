"""The content test on real customers: `mof assign --unit contact` (a zone randomized within persona,
inside the emailed arm of a company-level experiment), sending each zone its campaign, the grid.

The workspace is a simulation whose truth tables are dropped: only what a real workspace has
(companies, contacts, API events, earlier email events and experiments) is read.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from helpers import copy_workspace, run_mof
from mof_experiments.cohorts import ensure_suppressions_table, write_cohort
from mof_experiments.content import content_grid
from mof_experiments.experiments import assign_contacts_workspace
from mof_experiments.reports import load_report_data
from mof_experiments.send import import_events
from mof_experiments.send.testing import LocalSMTPServer
from mof_experiments.workspace import Workspace

ZONES = ("feature_highlight", "assistance", "case_study", "roi_calculation", "security", "compliance", "generic")
ARMS = ",".join(f"{z}=1" for z in ZONES)


def mof(*args):
    r = run_mof(*args)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def real(simulated, tmp_path_factory):
    """A 'real' workspace (no simulator truth) with the parent test and the zone test assigned."""
    path = copy_workspace(simulated(companies=400, seed=11), tmp_path_factory.mktemp("zone"))
    with Workspace(path) as ws:
        for t in ("sim_truth", "sim_contact_truth", "sim_effects", "sim_content"):
            ws.raw.execute(f'DROP TABLE IF EXISTS "{t}"')
    mof("assign", "mof_content", "--arms", "holdout=0.2,email=0.8", "--control", "holdout", "-w", str(path))
    mof("segment", "-w", str(path))
    out = mof("assign", "mof_zone", "--unit", "contact", "--within", "mof_content:email", "--strata", "persona",
              "--arms", ARMS, "-w", str(path))
    return path, out


def frames(path):
    with Workspace(path, read_only=True) as ws:
        return {t: ws.read(t) for t in ("contacts", "assignments", "experiment_arms", "personas",
                                        "contact_assignments")}


@pytest.mark.slow
def test_zones_are_balanced_within_persona_among_the_eligible_contacts(real):
    path, out = real
    f = frames(path)
    ca = f["contact_assignments"]
    z = ca[ca.experiment_id == "mof_zone"]
    # who may be assigned, computed here from the tables: contacts of mof_content's email companies, not in a
    # control arm of any experiment (the simulator's mof_email_2026 holdout), not unsubscribed
    a, ea = f["assignments"], f["experiment_arms"]
    controls = set(zip(ea.loc[ea.is_control.astype(bool), "experiment_id"], ea.loc[ea.is_control.astype(bool), "arm"]))
    out_co = {c for e, c, arm in zip(a.experiment_id, a.company_id, a.arm) if (e, arm) in controls}
    email = set(a.loc[(a.experiment_id == "mof_content") & (a.arm == "email"), "company_id"])
    c = f["contacts"]
    eligible = c[c.company_id.isin(email - out_co) & c.unsubscribed_at.isna()]
    assert len(out_co & email) > 0 and c.unsubscribed_at.notna().any()  # the rules have something to remove
    assert set(z.contact_id) == set(eligible.contact_id)
    assert z.contact_id.is_unique and (z.parent_experiment_id == "mof_content").all()
    # each persona's zones within one contact of each other, every zone present
    per = z.merge(f["personas"][["contact_id", "persona"]], on="contact_id")
    assert (per.persona == per.stratum).all()
    counts = per.groupby(["persona", "arm"]).size().unstack(fill_value=0).reindex(columns=list(ZONES), fill_value=0)
    assert (counts.max(axis=1) - counts.min(axis=1)).max() <= 1, counts
    assert counts.loc["DEV"].min() >= 30
    assert "largest spread within a persona: 1" in out or "largest spread within a persona: 0" in out
    arms = ea[ea.experiment_id == "mof_zone"]
    assert sorted(arms.arm) == sorted(ZONES) and not arms.is_control.astype(bool).any()


@pytest.mark.slow
def test_rerun_appends_only_new_contacts_and_never_changes_an_arm(real, tmp_path):
    path = copy_workspace(real[0], tmp_path)
    before = frames(path)["contact_assignments"]
    company = before.company_id.iloc[0]
    with Workspace(path) as ws:
        ws.write("contacts", pd.DataFrame({"contact_id": ["new_1", "new_2"], "company_id": company,
                                           "email": ["n1@acme-new.example.com", "n2@acme-new.example.com"],
                                           "job_title": "CFO"}), mode="append")
        ws.write("personas", pd.DataFrame({"contact_id": ["new_1", "new_2"], "company_id": company,
                                           "persona": "CFO"}), mode="append")
    out = mof("assign", "mof_zone", "--unit", "contact", "--within", "mof_content:email", "--arms", ARMS,
              "-w", str(path))
    assert "2 new" in out
    after = frames(path)["contact_assignments"]
    assert len(after) == len(before) + 2
    kept = before.merge(after, on=["experiment_id", "contact_id"], suffixes=("", "_now"))
    assert (kept.arm == kept.arm_now).all() and len(kept) == len(before)
    assert set(after.loc[after.contact_id.str.startswith("new_"), "arm"]) <= set(ZONES)
    assert "0 new" in mof("assign", "mof_zone", "--unit", "contact", "--within", "mof_content:email", "--arms", ARMS,
                          "-w", str(path))


@pytest.mark.parametrize("args, message", [
    (("mof_z2", "--unit", "contact", "--within", "nope:email"), "unknown experiment 'nope'"),
    (("mof_z2", "--unit", "contact", "--within", "mof_content:treat"), "has no arm 'treat' (arms: holdout, email)"),
    (("mof_z2", "--unit", "contact", "--within", "mof_content:holdout"), "control arm of 'mof_content'"),
    (("mof_z2", "--within", "mof_content:email"), "--within needs --unit contact"),
    (("mof_z2", "--unit", "contact"), "--unit contact needs --within"),
    (("mof_email_2026", "--unit", "contact", "--within", "mof_content:email"), "is a company-level experiment"),
    (("mof_z2", "--unit", "contact", "--within", "mof_zone:security"), "is itself contact-level"),
    (("mof_zone", "--unit", "contact", "--within", "mof_email_2026:email"), "is assigned within mof_content:email"),
])
@pytest.mark.slow
def test_contact_assignment_errors_are_one_line(real, args, message):
    r = run_mof("assign", *args, "--arms", ARMS, "-w", str(real[0]))
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.slow
def test_company_level_assign_refuses_a_contact_level_id(real):
    r = run_mof("assign", "mof_zone", "--arms", "holdout=1,email=1", "-w", str(real[0]))
    assert r.returncode == 2 and "is a contact-level experiment" in r.stderr


@pytest.mark.slow
def test_no_personas_table_says_run_segment(simulated, tmp_path):
    path = copy_workspace(simulated(companies=400, seed=11), tmp_path)
    mof("assign", "mof_content", "--arms", "holdout=0.2,email=0.8", "-w", str(path))
    r = run_mof("assign", "mof_zone", "--unit", "contact", "--within", "mof_content:email", "--arms", ARMS,
                "-w", str(path))
    assert r.returncode == 2 and "run `mof segment` first" in r.stderr


def _suppress(path, contact_id):
    with Workspace(path) as ws:
        ensure_suppressions_table(ws)
        email = ws.read("contacts").set_index("contact_id").loc[contact_id, "email"]
        ws.write("suppressions", pd.DataFrame({"email": [email], "contact_id": [contact_id], "reason": ["complaint"],
                                               "source": ["test"], "ts": [pd.Timestamp("2026-11-01", tz="UTC")]}),
                 mode="append")


@pytest.mark.slow
def test_a_zone_campaign_reaches_exactly_its_zone_whatever_the_file_lists(real, tmp_path):
    path = copy_workspace(real[0], tmp_path)
    f = frames(path)
    z = f["contact_assignments"]
    sec = z.loc[z.arm == "security"].sort_values("contact_id")
    suppressed = sec.contact_id.iloc[0]
    _suppress(path, suppressed)  # suppressed after assignment: keeps its arm, never sent
    with Workspace(path) as ws:  # a contact added after the assignment: not assigned until `mof assign` runs
        ws.write("contacts", pd.DataFrame({"contact_id": ["late_1"], "company_id": [sec.company_id.iloc[1]],
                                           "email": ["late@acme-late.example.com"], "job_title": ["CISO"]}),
                 mode="append")
    f = frames(path)
    everybody = tmp_path / "everybody.csv"  # a hostile file: every contact of the workspace
    write_cohort(f["contacts"][["contact_id"]], everybody)
    with LocalSMTPServer() as server:
        r = run_mof("send", "campaigns/security.yaml", "--cohort", str(everybody), "--experiment", "mof_zone",
                    "--arm", "security", "--backend", server.url, "-w", str(path),
                    "--ledger", str(tmp_path / "ledger.sqlite"), "-q")
        got = sorted(server.recipients())
    assert r.returncode == 0, r.stderr
    assert "instead of the spec's mof_email_2026" in r.stderr
    emails = f["contacts"].set_index("contact_id")["email"].str.lower()
    want = sorted(emails[sec.contact_id[sec.contact_id != suppressed]])
    assert got == want and len(got) == len(sec) - 1
    a = f["assignments"]
    holdout = set(a.loc[(a.experiment_id == "mof_content") & (a.arm == "holdout"), "company_id"])
    sent_companies = set(f["contacts"].set_index("contact_id").loc[sec.contact_id, "company_id"])
    assert not sent_companies & holdout
    from helpers import ledger_states

    states = ledger_states(tmp_path / "ledger.sqlite")
    assert states[suppressed] == "skipped:suppressed"
    assert states[z.loc[z.arm == "generic", "contact_id"].iloc[0]] == "skipped:other_arm"
    unassigned = sorted(set(f["contacts"].contact_id) - set(z.contact_id) - set(
        f["contacts"].loc[f["contacts"].company_id.isin(holdout) | f["contacts"].unsubscribed_at.notna(),
                          "contact_id"]))
    assert {states[c] for c in unassigned} == {"skipped:not_assigned", "skipped:control"}
    assert states["late_1"] == "skipped:not_assigned"
    assert {states[c] for c in z.contact_id[z.arm != "security"]} <= {"skipped:other_arm", "skipped:suppressed"}


@pytest.mark.slow
def test_contacts_in_a_contact_level_control_arm_are_never_emailed(real, tmp_path):
    path = copy_workspace(real[0], tmp_path)
    with Workspace(path) as ws:
        assign_contacts_workspace(ws, "mof_nudge", "holdout=1,nudge=1", within="mof_content:email")
        ctl = ws.read("contact_assignments")
    ctl = set(ctl.loc[(ctl.experiment_id == "mof_nudge") & (ctl.arm == "holdout"), "contact_id"])
    # a company-level campaign (the spec's own experiment: mof_email_2026, arm email) to every contact
    everybody = tmp_path / "everybody.csv"
    write_cohort(frames(path)["contacts"][["contact_id"]], everybody)
    r = run_mof("send", "campaigns/case_study.yaml", "--cohort", str(everybody), "--backend", "dry-run",
                "-w", str(path), "--ledger", str(tmp_path / "l.sqlite"))
    assert r.returncode == 0, r.stderr
    n_ctl = int(r.stdout.split("skipped:control")[1].split()[0].replace(",", ""))
    r2 = run_mof("cohort", "export", "--experiment", "mof_email_2026", "--out", str(tmp_path / "c.csv"),
                 "-w", str(path))
    exported = set(pd.read_csv(tmp_path / "c.csv", dtype=str).contact_id)
    assert r2.returncode == 0 and len(ctl) > 20 and not exported & ctl
    # the same send without the contact-level holdout: the control count falls by the contacts it held
    with Workspace(path) as ws:
        ws.raw.execute("DELETE FROM experiment_arms WHERE experiment_id = 'mof_nudge' AND arm = 'holdout'")
    r3 = run_mof("send", "campaigns/case_study.yaml", "--cohort", str(everybody), "--backend", "dry-run",
                 "-w", str(path), "--ledger", str(tmp_path / "l2.sqlite"))
    n_ctl3 = int(r3.stdout.split("skipped:control")[1].split()[0].replace(",", "")) \
        if "skipped:control" in r3.stdout else 0
    a = frames(path)["assignments"]
    e = set(a.loc[(a.experiment_id == "mof_email_2026") & (a.arm == "email"), "company_id"])
    c = frames(path)["contacts"]
    held_in_email = c[c.contact_id.isin(ctl) & c.company_id.isin(e) & c.unsubscribed_at.isna()]
    assert n_ctl - n_ctl3 == len(held_in_email) > 0
    # and the export then takes exactly the contacts the contact-level holdout had kept out
    r4 = run_mof("cohort", "export", "--experiment", "mof_email_2026", "--out", str(tmp_path / "c2.csv"),
                 "-w", str(path))
    exported2 = set(pd.read_csv(tmp_path / "c2.csv", dtype=str).contact_id)
    assert r4.returncode == 0 and exported2 - exported == exported2 & ctl and exported2 & ctl


@pytest.mark.slow
def test_real_customer_route_end_to_end(real, tmp_path):
    """assign -> export and send each zone's campaign -> ESP events -> the grid, without simulator truth."""
    path = copy_workspace(real[0], tmp_path)
    ledger = tmp_path / "ledger.sqlite"
    sent = {}
    with LocalSMTPServer() as server:
        for zone in ZONES:
            cohort = tmp_path / f"zone_{zone}.csv"
            out = mof("cohort", "export", "--experiment", "mof_zone", "--arm", zone, "--out", str(cohort),
                      "-w", str(path))
            assert out.startswith("selected ")
            mof("send", f"campaigns/{zone}.yaml", "--cohort", str(cohort), "--experiment", "mof_zone", "--arm", zone,
                "--backend", server.url, "-w", str(path), "--ledger", str(ledger), "-q")
            sent[zone] = set(pd.read_csv(cohort, dtype=str).contact_id)
        delivered_to = server.recipients()
    f = frames(path)
    z = f["contact_assignments"].set_index("contact_id")["arm"]
    for zone, ids in sent.items():  # each file is exactly its zone's (sendable) contacts
        assert set(z[z == zone].index) >= ids and len(ids) >= len(z[z == zone]) - 5
    assert len(delivered_to) == sum(map(len, sent.values()))
    # the ESP's events for the sent messages: every message delivered, every other contact clicks
    import sqlite3

    rows = sqlite3.connect(ledger).execute(
        "SELECT campaign_id, contact_id, email, message_id, sent_at FROM sends WHERE state = 'sent' "
        "ORDER BY contact_id").fetchall()
    events = []
    for i, (camp, cid, email, mid, sent_at) in enumerate(rows):
        t = int(datetime.fromisoformat(sent_at).timestamp())
        base = {"email": email, "smtp-id": f"<{mid}>", "sg_message_id": f"sg{i}", "campaign_id": camp,
                "contact_id": cid}
        events.append({**base, "event": "delivered", "timestamp": t + 1, "sg_event_id": f"d{i}"})
        if i % 2:
            events += [{**base, "event": "open", "timestamp": t + 60, "sg_event_id": f"o{i}"},
                       {**base, "event": "click", "timestamp": t + 61, "sg_event_id": f"c{i}"}]
    (tmp_path / "events.json").write_text(json.dumps(events))
    with Workspace(path) as ws:
        import_events(ws, tmp_path / "events.json", "sendgrid", now=datetime.now(timezone.utc) + timedelta(minutes=5))
    as_of = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    data = load_report_data(str(path), as_of)
    assert data.contact_assignments is not None and not data.truth
    grids = [content_grid(data.messages, data.personas, data.assignments, data.funnel, experiment_id=e,
                          as_of=data.as_of, engagements=data.engagements, max_ci_width=1.0,
                          contact_assignments=data.contact_assignments) for e in ("mof_zone", "mof_content")]
    for g in grids:
        assert g.ok and g.zone_experiment_id == "mof_zone" and "DEV" in g.estimable
        # each row's delivered = the contacts of that persona sent that zone (the simulator's earlier
        # emails to the same contacts, in the same zones, do not count)
        per = f["personas"].set_index("contact_id")["persona"]
        want = pd.Series({(p, zone): n for zone, ids in sent.items()
                          for p, n in per.reindex(sorted(ids)).fillna("OTHER").value_counts().items()})
        got = g.table.set_index(["persona", "zone"])["delivered"]
        assert got.sort_index().to_dict() == want.sort_index().to_dict()
        clicked = g.table["clicked"].sum()
        assert clicked == sum(1 for i in range(len(rows)) if i % 2)
    assert grids[0].table.equals(grids[1].table)


def _small_zone_test():
    """Hand-made: PM contacts, one per company. Zone test within mof_content:email: e1-e3 security
    (e3 never sent), e4-e6 generic; h1-h4 the parent's holdout. Converted: e1, e3, e4, h1.
    Returns the grid of mof_zone and what it was computed from."""
    from helpers import email_events, message_rows
    from mof_experiments.engagement import message_engagement

    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    emailed, held = [f"e{i}" for i in range(1, 7)], [f"h{i}" for i in range(1, 5)]
    assignments = pd.DataFrame({"experiment_id": "mof_content", "company_id": emailed + held,
                                "arm": ["email"] * 6 + ["holdout"] * 4, "assigned_at": t0})
    personas = pd.DataFrame({"contact_id": [f"p_{c}" for c in emailed + held], "company_id": emailed + held,
                             "persona": "PM"})
    conv = {"e1": 5, "e3": 10, "e4": 3, "h1": 7}
    funnel = pd.DataFrame({"company_id": emailed + held, "first_production_at": [
        t0 + pd.Timedelta(days=conv[c]) if c in conv else pd.NaT for c in emailed + held]})
    zones = pd.DataFrame({"experiment_id": "mof_zone", "contact_id": [f"p_{c}" for c in emailed],
                          "company_id": emailed, "arm": ["security"] * 3 + ["generic"] * 3,
                          "assigned_at": t0 + pd.Timedelta(days=1), "stratum": "PM",
                          "parent_experiment_id": "mof_content", "parent_arm": "email"})
    sent = t0 + pd.Timedelta(days=2)
    rows = []
    for i, c in enumerate(["e1", "e2"]):
        rows += message_rows(f"s{i}", c, f"p_{c}", sent, zone="security", topic="t")
    for i, c in enumerate(["e4", "e5", "e6"]):
        rows += message_rows(f"g{i}", c, f"p_{c}", sent, zone="generic", topic="t")
    rows += message_rows("old", "e4", "p_e4", t0 - pd.Timedelta(days=9), zone="security", topic="t")  # before the test
    rows += message_rows("other", "e1", "p_e1", sent, zone="case_study", topic="t")  # not its zone
    ev = email_events(rows)
    ev["ts"] = ev["ts"].astype("datetime64[us, UTC]")
    messages = message_engagement(ev)
    g = content_grid(messages, personas, assignments, funnel, experiment_id="mof_zone",
                     as_of=t0 + pd.Timedelta(days=90), contact_assignments=zones)
    return g, messages, personas, assignments, funnel, t0


def test_grid_lifts_are_intention_to_treat_by_assigned_zone():
    """The hand-made zone test of :func:`_small_zone_test`, its rates and lifts computed by hand."""
    g, messages, personas, assignments, funnel, t0 = _small_zone_test()
    assert not g.ok and "cannot be estimated yet" in g.reason and "'mof_zone' randomized the zone" in g.reason
    t = g.table.set_index(["persona", "zone"])
    assert list(t.index) == [("PM", "security"), ("PM", "generic")]
    assert t.loc[("PM", "security"), "delivered"] == 2 and t.loc[("PM", "generic"), "delivered"] == 3
    assert t.loc[("PM", "security"), "converted"] == 2  # e1 and e3: e3 was never sent, it counts (ITT)
    assert t.loc[("PM", "security"), "conversion_rate"] == pytest.approx(2 / 3)
    assert t.loc[("PM", "security"), "lift_vs_generic"] == pytest.approx(2 / 3 - 1 / 3)
    assert t.loc[("PM", "security"), "lift_vs_holdout"] == pytest.approx(2 / 3 - 1 / 4)
    assert t.loc[("PM", "generic"), "lift_vs_holdout"] == pytest.approx(1 / 3 - 1 / 4)
    # without the zone test the same messages are read by the company-level route: the sent zone, 1 of 2
    plain = content_grid(messages, personas, assignments, funnel, experiment_id="mof_content",
                         as_of=t0 + pd.Timedelta(days=90)).table.set_index(["persona", "zone"])
    assert plain.loc[("PM", "security"), "delivered"] == 3  # the old message counts there


#: a hand-written plan under the zone test (docs: src/mof_experiments/content/plan.py): each persona its own zone
ZONE_PLAN = {"PM": "feature_highlight", "DEV": "assistance", "CSO": "security", "GC": "compliance",
             "CFO": "roi_calculation", "CEO": "case_study", "OTHER": "generic"}


@pytest.mark.slow
def test_a_plan_under_the_zone_test_sends_each_contact_only_its_assigned_zone(real, tmp_path):
    """`mof cohort export --plan` + `mof send --plan` with a plan whose experiment is the zone test:
    a contact gets its persona's planned campaign only if it was assigned that zone (plan_send rule 3)."""
    import yaml

    from helpers import ledger_states

    path = copy_workspace(real[0], tmp_path)
    z = frames(path)["contact_assignments"]
    mine = z.merge(frames(path)["personas"][["contact_id", "persona"]], on="contact_id")
    mine = mine[mine.arm == mine.persona.map(ZONE_PLAN)].sort_values("contact_id")
    suppressed = mine.contact_id.iloc[0]
    _suppress(path, suppressed)  # suppressed after assignment: in its planned zone, never sent
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"plan_id": "zone_rollout", "experiment_id": "mof_zone", "arms": list(ZONES),
                                    "entries": [{"persona": p, "zone": zn, "campaign": f"campaigns/{zn}.yaml"}
                                                for p, zn in ZONE_PLAN.items()]}))
    cohort = tmp_path / "cohort.csv"
    mof("cohort", "export", "--plan", str(plan), "--out", str(cohort), "-w", str(path))
    exported = pd.read_csv(cohort, dtype=str)
    assert set(exported.contact_id) == set(z.contact_id) - {suppressed}  # every zone's contacts: the send decides
    # hostile additions: contacts of the parent's holdout (same personas) and the suppressed contact
    f = frames(path)
    a = f["assignments"]
    holdout = set(a.loc[(a.experiment_id == "mof_content") & (a.arm == "holdout"), "company_id"])
    intruders = f["contacts"].loc[f["contacts"].company_id.isin(holdout), ["contact_id", "email"]].head(30)
    assert len(intruders) == 30
    sup_row = f["contacts"].loc[f["contacts"].contact_id == suppressed, ["contact_id", "email"]]
    pd.concat([exported, intruders, sup_row]).to_csv(cohort, index=False)
    with LocalSMTPServer() as server:
        r = run_mof("send", "--plan", str(plan), "--cohort", str(cohort), "--backend", server.url, "-w", str(path),
                    "--ledger", str(tmp_path / "ledger.sqlite"), "--retry-backoff", "0", "-q")
        msgs = list(server.messages)
    assert r.returncode == 0, r.stdout + r.stderr
    got = {m["X-MOF-Contact"]: m["X-MOF-Campaign"] for m in msgs}
    assert len(got) == len(msgs)  # nobody twice
    want = mine[mine.contact_id != suppressed].set_index("contact_id")["arm"]
    assert got == want.to_dict() and len(got) > 100  # exactly the assigned zone's campaign, to exactly those
    states = ledger_states(tmp_path / "ledger.sqlite")
    assert states[suppressed] == "skipped:suppressed"
    other = z[~z.contact_id.isin(mine.contact_id)].contact_id
    assert {states[c] for c in other} == {"skipped:other_arm"}
    assert {states[c] for c in intruders.contact_id} <= {"skipped:control", "skipped:not_assigned"}
    assert not set(got) & set(intruders.contact_id)


def test_a_zone_test_too_small_to_read_says_so_in_the_takeaways_not_that_it_was_not_randomized():
    from mof_experiments.reports import content_takeaways

    g = _small_zone_test()[0]
    assert not g.ok and g.zone_experiment_id == "mof_zone"
    s, figures = content_takeaways(g)
    assert len(s) == 3 and s[0] == f"No content recommendation from this data yet: {g.reason}"
    assert "'mof_zone' randomized the zone within persona" in s[0]
    assert "not randomized" not in " ".join(s)
    assert "zone test 'mof_zone' (randomized within persona)" in s[1] and "too few yet to rank zones" in s[1]
    assert s[2].startswith("To act: keep 'mof_zone' running") and "run a randomized content test" not in s[2]
    assert figures == [("Persona x zone grid", "too little data yet")]
