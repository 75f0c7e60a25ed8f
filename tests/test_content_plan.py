"""From evidence to sends: `mof plan content` -> `mof cohort export --plan` -> `mof send --plan`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import copy_workspace, run_mof, write_campaign
from mof_experiments.content import load_plan
from mof_experiments.errors import MofConfigError
from mof_experiments.send.testing import LocalSMTPServer
from mof_experiments.workspace import Workspace

pytestmark = pytest.mark.slow  # simulations end to end: `make test` runs them, not `make test-fast`

CAMPAIGNS = Path(__file__).resolve().parents[1] / "campaigns"


@pytest.fixture(scope="module")
def planned(simulated, tmp_path_factory):
    """A 4,000-company content test, segmented, with a plan written by `mof plan content`."""
    folder = tmp_path_factory.mktemp("plan")
    ws = copy_workspace(simulated(design="content_test", companies=4000, seed=5), folder)
    assert run_mof("segment", "--workspace", str(ws)).returncode == 0
    plan = folder / "plan.yaml"
    r = run_mof("plan", "content", "--workspace", str(ws), "--out", str(plan), "--campaigns-dir", str(CAMPAIGNS))
    assert r.returncode == 0, r.stderr
    return ws, plan, r.stdout


def test_plan_names_the_best_zone_with_its_evidence(planned):
    _, plan, out = planned
    p = load_plan(plan)
    by = {e.persona: e for e in p.entries}
    assert by["PM"].zone == "feature_highlight" and by["DEV"].zone == "assistance"
    ev = by["DEV"].evidence
    assert ev["ci_low"] < ev["click_rate"] < ev["ci_high"] and ev["delivered"] > 300 and 0.5 < ev["prob_best"] <= 1
    assert p.experiment_id == "mof_email_2026" and p.arms == ("email",)
    assert "P(best)" in out


def test_send_plan_delivers_each_contact_its_personas_campaign_and_never_holdout(planned, tmp_path):
    ws, plan, _ = planned
    ws = copy_workspace(ws, tmp_path / "ws")
    cohort = tmp_path / "cohort.csv"
    r = run_mof("cohort", "export", "--workspace", str(ws), "--plan", str(plan), "--out", str(cohort))
    assert r.returncode == 0, r.stderr
    c = pd.read_csv(cohort)
    assert set(c["persona"]) == {e.persona for e in load_plan(plan).entries} >= {"PM", "DEV"}
    # send a sample (the campaigns throttle to 50 messages/s): 50 contacts per persona, and the DEVs of
    # companies stuck on errors (their copy names the error)
    stuck = c[(c["persona"] == "DEV") & c["top_error_class"].notna()].head(40)
    c = pd.concat([c.groupby("persona").head(50), stuck]).drop_duplicates("contact_id")
    # adversarial: add holdout contacts to the file; the workspace must refuse them
    with Workspace(ws, read_only=True) as w:
        asg, per, contacts = w.read("assignments"), w.read("personas"), w.read("contacts")
    hold = set(asg.loc[asg["arm"] == "holdout", "company_id"])
    intruders = per[per["company_id"].isin(hold) & per["persona"].isin(["PM", "DEV"])].head(20)
    intruders = intruders.merge(contacts[["contact_id", "email"]], on="contact_id")
    # and a forged persona column: the workspace's persona picks both the campaign and its copy
    pd.concat([c.assign(persona="CFO"), intruders[["contact_id", "email", "persona"]]]).to_csv(cohort, index=False)
    planned_campaign = {e.persona: e.zone for e in load_plan(plan).entries}
    with LocalSMTPServer() as server:
        r = run_mof("send", "--plan", str(plan), "--cohort", str(cohort), "--backend", server.url,
                    "--workspace", str(ws), "--ledger", str(tmp_path / "ledger.sqlite"), "--retry-backoff", "0", "-q")
        msgs = list(server.messages)
    assert r.returncode == 0, r.stdout + r.stderr
    assert msgs
    persona = per.set_index("contact_id")["persona"]
    company = contacts.set_index("contact_id")["company_id"]
    seen = set()
    for m in msgs:
        cid = m["X-MOF-Contact"]
        assert m["X-MOF-Campaign"] == planned_campaign[persona[cid]]
        if persona[cid] == "DEV":
            assert "go through your integration with you" in m.get_body(("plain",)).get_content()
        assert company[cid] not in hold
        assert cid not in seen
        seen.add(cid)
    # behavior-aware copy: a DEV at a company stuck on errors is told its error class and endpoint
    ctx = pd.read_csv(cohort).set_index("contact_id")
    told = 0
    for m in msgs:
        cid = m["X-MOF-Contact"]
        if persona[cid] == "DEV" and cid in ctx.index and isinstance(ctx.loc[cid, "top_error_class"], str):
            body = m.get_body(("plain",)).get_content()
            assert ctx.loc[cid, "top_error_class"] in body and ctx.loc[cid, "top_error_endpoint"] in body
            told += 1
    assert told > 0
    unsub = set(contacts.loc[contacts["unsubscribed_at"].notna(), "contact_id"])
    assert not (seen & unsub) and not (seen & set(intruders["contact_id"]))
    assert set(c["persona"].dropna()) <= set(planned_campaign)


def _write_plan(path, **entry):
    e = {"persona": "PM", "zone": "case_study", "campaign": str(CAMPAIGNS / "case_study.yaml")} | entry
    path.write_text(yaml.safe_dump({"experiment_id": "mof_email_2026", "arms": ["email"], "entries": [e]}))
    return path


@pytest.mark.parametrize("entry,message", [
    ({"persona": "CTO"}, "unknown persona 'CTO'"),
    ({"zone": "webinar"}, "unknown zone 'webinar'"),
])
def test_plan_with_unknown_persona_or_zone_is_a_one_line_error(tmp_path, entry, message):
    p = _write_plan(tmp_path / "p.yaml", **entry)
    with pytest.raises(MofConfigError, match=message):
        load_plan(p)


def test_unknown_campaign_or_missing_variable_sends_nothing(planned, tmp_path):
    ws, _, _ = planned
    p = _write_plan(tmp_path / "p.yaml", campaign="campaigns/nope.yaml")
    cohort = tmp_path / "c.csv"
    with Workspace(ws, read_only=True) as w:
        per = w.read("personas")
    per[per["persona"] == "PM"][["contact_id"]].head(5).to_csv(cohort, index=False)
    with LocalSMTPServer() as server:
        r = run_mof("send", "--plan", str(p), "--cohort", str(cohort), "--backend", server.url, "--workspace",
                    str(ws), "--ledger", str(tmp_path / "l.sqlite"))
        assert r.returncode == 2 and "unknown campaign 'campaigns/nope.yaml'" in r.stderr
        # a template variable that neither the cohort nor the workspace provides -> nothing sent
        spec = write_campaign(tmp_path / "camp", zone="case_study")
        (tmp_path / "camp" / "t.txt.j2").write_text("{{ top_error_class }} {{ unsubscribe_url }}\n")
        q = _write_plan(tmp_path / "q.yaml", campaign=str(spec))
        r = run_mof("send", "--plan", str(q), "--cohort", str(cohort), "--backend",
                    server.url, "--workspace", str(ws), "--ledger", str(tmp_path / "l.sqlite"))
        assert r.returncode == 2 and "top_error_class" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert server.messages == []


def test_persona_blocks_pick_the_recipients_copy_and_a_missing_one_is_an_error(tmp_path):
    from mof_experiments.send.render import Renderer
    from mof_experiments.send.spec import load_spec

    r = Renderer(load_spec(CAMPAIGNS / "assistance.yaml"))
    row = {"contact_id": "c1", "company_name": "Blue Cart", "persona": "DEV",
           "top_error_class": "401 Unauthorized (the API key is missing or not valid)",
           "top_error_endpoint": "/v1/payments"}
    dev = r.render(row, "m1")
    assert "Your sandbox calls to /v1/payments often return 401 Unauthorized" in dev.text
    assert "Your sandbox calls" not in r.render({**row, "top_error_class": None}, "m2").text  # not stuck: left out
    ceo = r.render({**row, "persona": "CEO"}, "m3")
    assert "before launch" in ceo.text and "Unauthorized" not in ceo.text
    assert "30-minute review" in r.render({**row, "persona": "OTHER"}, "m4").text  # the default block
    spec = write_campaign(tmp_path / "c", persona_blocks={"PM": "for PMs"})
    (tmp_path / "c" / "t.txt.j2").write_text("{{ persona_block }} {{ unsubscribe_url }}\n")
    with pytest.raises(Exception, match="no persona block for persona 'DEV' and no default"):
        Renderer(load_spec(spec)).render({"contact_id": "c1", "company_name": "X", "persona": "DEV"}, "m")


def test_error_context_names_the_stuck_companies_error_and_nobody_elses(planned):
    from mof_experiments.content.context import error_context

    ws, _, _ = planned
    with Workspace(ws, read_only=True) as w:
        truth = w.read("sim_truth").set_index("company_id")["archetype"]
        ctx = error_context(w, truth.index[:600], pd.Timestamp("2026-07-04", tz="UTC")).set_index("company_id")
    arch = truth.reindex(ctx.index)
    stuck = ctx.loc[arch == "stuck_on_errors"]
    assert stuck["top_error_class"].notna().all() and stuck["top_error_code"].isin([401, 403]).all()
    assert ctx.loc[arch.isin(["fast_adopter", "steady_builder", "no_show"]), "top_error_class"].isna().all()
    assert stuck["top_error_endpoint"].str.startswith("/v1/").all()
