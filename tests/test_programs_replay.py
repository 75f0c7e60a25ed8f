"""Acceptance: 30 consecutive daily runs of a program against a local SMTP server (aiosmtpd),
checked against an independent SQL computation over the workspace."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import yaml
from helpers import simulate_with_global_holdout, write_campaign

from mof_experiments.programs import load_program, run_program
from mof_experiments.programs.status import program_status
from mof_experiments.send.message import make_message_id
from mof_experiments.send.testing import LocalSMTPServer
from mof_experiments.workspace import Workspace

DAYS = pd.date_range("2026-03-01", periods=30, tz="UTC")
PROGRAM = "stuck_on_errors_assist"


def program_file(folder, shipped="programs/stuck_on_errors.yaml", zones=("assistance", "case_study")):
    """The shipped example program with its campaigns written into ``folder`` (see CONTRACT: the
    campaigns themselves belong to the content issue)."""
    from pathlib import Path

    spec = yaml.safe_load((Path(__file__).resolve().parents[1] / shipped).read_text())
    for s, z in zip(spec["steps"], zones):
        s["campaign"] = str(write_campaign(folder / "campaigns" / z, campaign_id=z, experiment_id=None, arms=None,
                                           zone=z, subject=f"{z} for {{{{ company_name }}}}"))
    path = folder / "program.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _arm(company_id: str, share: float = 0.2) -> str:
    """The documented hash rule, written again here (second method)."""
    u = int(hashlib.sha256(f"mof-v1:program.{PROGRAM}:{company_id}".encode()).hexdigest()[:16], 16) / 2.0**64
    return "holdout" if u < share else "program"


def expected_sends(path) -> pd.DataFrame:
    """Who must get which step on which day, from SQL over the workspace (independent of the engine)."""
    days = ", ".join(f"TIMESTAMPTZ '{d.isoformat()}'" for d in DAYS)
    with Workspace(path, read_only=True) as ws:
        state = ws.raw.execute(f"""
            WITH d AS (SELECT unnest([{days}]) AS day)
            SELECT d.day, c.company_id,
                   count(*) FILTER (WHERE e.environment = 'sandbox') AS sb,
                   count(*) FILTER (WHERE e.environment = 'sandbox' AND e.status_code >= 400) AS sb_err,
                   count(e.ts) AS calls,
                   count(*) FILTER (WHERE e.environment = 'production' AND e.status_code BETWEEN 200 AND 299) AS ok
            FROM d JOIN companies c ON c.signup_at < d.day
            LEFT JOIN api_events e ON e.company_id = c.company_id AND e.ts < d.day AND e.ts >= c.signup_at
            GROUP BY ALL""").df()
        excluded = set(ws.raw.execute("""
            SELECT a.company_id FROM assignments a LEFT JOIN experiment_arms x USING (experiment_id, arm)
            WHERE (a.experiment_id = 'global_holdout' AND a.arm = 'holdout') OR coalesce(x.is_control, false)
            """).df()["company_id"])
        contacts = ws.raw.execute("""SELECT c.contact_id, c.company_id, p.persona, c.unsubscribed_at IS NOT NULL AS unsub
                                     FROM contacts c JOIN personas p USING (contact_id)""").df()
    state["day"] = pd.to_datetime(state["day"], utc=True)
    state["trig"] = (state.sb >= 10) & (state.sb_err >= 0.25 * state.sb) & (state.ok == 0)
    state["sandbox"] = (state.calls > 0) & (state.ok == 0)
    first = state[state.trig].groupby("company_id")["day"].min()
    first = first[~first.index.isin(excluded)]
    eligible = set(contacts.loc[contacts.persona.isin(["DEV", "PM"]), "company_id"])
    first = first[first.index.isin(eligible)]
    first = first[[_arm(c) == "program" for c in first.index]]
    sb = state.set_index(["company_id", "day"])["sandbox"]
    rows = []
    ok = contacts[~contacts.unsub]
    for co, d0 in first.items():
        for c in ok.loc[(ok.company_id == co) & (ok.persona == "DEV"), "contact_id"]:
            rows.append((c, co, "assistance", d0))
        d4 = d0 + pd.Timedelta(days=4)
        if d4 <= DAYS[-1] and bool(sb.get((co, d4), False)):
            for c in ok.loc[(ok.company_id == co) & (ok.persona == "PM"), "contact_id"]:
                rows.append((c, co, "case_study", d4))
    return pd.DataFrame(rows, columns=["contact_id", "company_id", "step", "day"])


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    d = tmp_path_factory.mktemp("replay")
    ws = simulate_with_global_holdout(d / "mof.duckdb", companies=1200, seed=23, holdout_companies=120)
    prog = program_file(d)
    spec = load_program(prog)
    with LocalSMTPServer() as srv:
        per_day, rerun = [], []
        for day in DAYS:
            r = run_program(spec, workspace=ws, as_of=day.to_pydatetime(), backend=srv.url, ledger=d / "l.sqlite",
                            backoff_seconds=0)
            per_day.append(r)
            n = len(srv.messages)
            again = run_program(spec, workspace=ws, as_of=day.to_pydatetime(), backend=srv.url,
                                ledger=d / "l.sqlite", backoff_seconds=0)
            rerun.append((len(srv.messages) - n, int(again.days["sent"].sum())))
        msgs = list(srv.messages)
    return dict(ws=ws, spec=spec, runs=per_day, rerun=rerun, msgs=msgs, expected=expected_sends(ws), folder=d)


def _sent(replay) -> pd.DataFrame:
    with Workspace(replay["ws"], read_only=True) as ws:
        st = ws.raw.execute("SELECT * FROM program_steps").df()
    st["decided_on"] = pd.to_datetime(st["decided_on"], utc=True)
    return st


@pytest.mark.slow
def test_replay_sends_each_step_once_to_exactly_the_sql_recipients(replay):
    exp = replay["expected"]
    assert len(exp) > 40 and (exp.step == "case_study").sum() > 5   # the replay exercises both steps
    ids = [m["Message-ID"].strip("<>") for m in replay["msgs"]]
    assert len(ids) == len(set(ids)), "a message was delivered twice"
    domain = "acme-api.example.com"
    want = {make_message_id(f"{PROGRAM}.{r.step}", r.contact_id, domain) for r in exp.itertuples()}
    assert set(ids) == want
    st = _sent(replay)
    sent = st[st.state == "sent"]
    got = sent.set_index(["contact_id", "step"])["decided_on"].sort_index()
    exp_days = exp.set_index(["contact_id", "step"])["day"].sort_index()
    pd.testing.assert_series_equal(got, exp_days, check_names=False)   # on the right day, too


@pytest.mark.slow
def test_replay_order_and_nothing_after_production(replay):
    st = _sent(replay)
    sent = st[st.state == "sent"]
    first = sent[sent.step == "assistance"].groupby("company_id")["decided_on"].min()
    second = sent[sent.step == "case_study"].groupby("company_id")["decided_on"].min()
    both = second.index.intersection(first.index)
    assert len(both) > 0 and (second[both] > first[both]).all()
    with Workspace(replay["ws"], read_only=True) as ws:
        fp = ws.raw.execute("""SELECT company_id, min(ts) AS fp FROM api_events WHERE environment = 'production'
                               AND status_code BETWEEN 200 AND 299 GROUP BY 1""").df().set_index("company_id")["fp"]
    fp = pd.to_datetime(fp, utc=True)
    prod_at = sent["company_id"].map(fp)
    assert not (prod_at < sent["decided_on"]).any()    # nothing to a company already in production that day
    order = [m["Message-ID"].strip("<>") for m in replay["msgs"]]
    pos = {mid: i for i, mid in enumerate(order)}
    for co in both:
        a = sent[(sent.company_id == co) & (sent.step == "assistance")]["message_id"]
        b = sent[(sent.company_id == co) & (sent.step == "case_study")]["message_id"]
        assert max(pos[m] for m in a) < min(pos[m] for m in b)


@pytest.mark.slow
def test_replay_never_emails_holdouts_controls_or_suppressed(replay):
    with Workspace(replay["ws"], read_only=True) as ws:
        asg = ws.read("assignments")
        arms = ws.read("experiment_arms")
        contacts = ws.read("contacts")
    ctrl = asg.merge(arms, on=["experiment_id", "arm"], how="left")
    blocked = set(ctrl.loc[ctrl.is_control.fillna(False).astype(bool), "company_id"]) | \
        set(asg.loc[(asg.experiment_id == "global_holdout") & (asg.arm == "holdout"), "company_id"])
    prog_holdout = set(asg.loc[(asg.experiment_id == f"program.{PROGRAM}") & (asg.arm == "holdout"), "company_id"])
    assert prog_holdout and prog_holdout <= blocked
    to = {m["To"].split("<")[-1].rstrip(">").lower() for m in replay["msgs"]}
    c = contacts.assign(email=contacts.email.str.lower())
    hit = c[c.email.isin(to)]
    assert hit["company_id"].isin(blocked).sum() == 0
    assert hit["unsubscribed_at"].isna().all()
    with Workspace(replay["ws"], read_only=True) as ws:
        enr = ws.read("program_enrollments")
    # the global holdout and other experiments' controls are not even enrolled
    assert not enr["company_id"].isin(blocked - prog_holdout).any()


@pytest.mark.slow
def test_rerunning_any_day_sends_nothing(replay):
    assert replay["rerun"] == [(0, 0)] * len(DAYS)
    assert sum(int(r.days["sent"].sum()) for r in replay["runs"]) == len(replay["msgs"])


@pytest.mark.slow
def test_status_counts_match_the_tables(replay):
    with Workspace(replay["ws"], read_only=True) as ws:
        st = program_status(ws, replay["spec"])
        enr = ws.read("program_enrollments")
    steps = st.steps.set_index("step")
    assert steps.loc["assistance", "sent"] + steps.loc["case_study", "sent"] == len(replay["msgs"])
    arms = st.arms.set_index("arm")
    n = enr.drop_duplicates("company_id")["arm"].value_counts()
    assert arms.loc["program", "companies"] == n["program"] and arms.loc["holdout", "companies"] == n["holdout"]
    assert st.last_day == DAYS[-1]
