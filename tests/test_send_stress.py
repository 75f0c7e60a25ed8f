"""Stress (issue 13): 30 random SIGKILLs during a 1,000-message `mof send` to a server that answers
451 and 550 and cuts one connection inside DATA; then the run is resumed as docs/send.md says
(the same command again), the ambiguous messages are skipped with `--resolve-ambiguous skip`,
and the command is run twice more.

Proved: 0 messages received twice, 0 lost (every contact is sent exactly once, refused with
550, or ambiguous and skipped by the decision), 0 sent to the global holdout, a control arm or
a suppressed contact, and every ambiguous message is reported by every run until the decision.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pandas as pd
import pytest

from mof_experiments.send.testing import LocalSMTPServer
from mof_experiments.simulate import SimConfig, simulate
from mof_experiments.workspace import Workspace
from helpers import CAMPAIGN, eligible_contacts, ledger_states, prepare_workspace, write_campaign

N = 1000
KILLS = 30
_CONTACT_RE = re.compile(rb"^X-MOF-Contact: (\S+)\r?$", re.MULTILINE)
_AMBIGUOUS_RE = re.compile(r"AMBIGUOUS \((\d+) left in 'sending'.*?\): (.*?); decide with")


def received(server) -> Counter:
    with server.lock:
        raw = [c for _, _, c in server.raw]
    return Counter(_CONTACT_RE.search(c).group(1).decode() for c in raw)


def reported_ambiguous(stdout: str) -> set[str]:
    m = _AMBIGUOUS_RE.search(stdout)
    if not m:
        return set()
    ids = {x.strip() for x in m.group(2).split(",")}
    assert len(ids) == int(m.group(1)), "every ambiguous contact is listed"
    return ids


@pytest.mark.slow
def test_thirty_kills_then_resume_skip_and_rerun_lose_duplicate_and_misdirect_nothing(tmp_path):
    rng = random.Random(13)
    ws = tmp_path / "mof.duckdb"
    simulate(SimConfig(companies=720, seed=41), ws, progress=False)
    prepare_workspace(ws)
    with Workspace(ws) as w:
        asg, contacts = w.read("assignments"), w.read("contacts")
        names = w.read("companies").set_index("company_id")["name"]
        persona = w.read("personas").set_index("contact_id")["persona"]
        gh = sorted(asg.loc[asg.arm == "email", "company_id"])[:6]
        w.write("assignments", pd.DataFrame({"experiment_id": "global_holdout", "company_id": gh, "arm": "holdout",
                                             "assigned_at": pd.Timestamp("2026-01-01", tz="UTC")}), mode="append")
    el = eligible_contacts(ws)
    sendable = el[~el.company_id.isin(gh)].head(N)
    assert len(sendable) == N
    control = set(asg.loc[(asg.experiment_id == "mof_email_2026") & (asg.arm == "holdout"), "company_id"])
    live = contacts[contacts.unsubscribed_at.isna()]
    forbidden = pd.concat([contacts[contacts.unsubscribed_at.notna()].head(10),
                           live[live.company_id.isin(control)].head(10),
                           live[live.company_id.isin(gh)].head(10)])
    assert len(forbidden) == 30
    forbidden = forbidden.assign(company_name=forbidden.company_id.map(names).to_numpy(),
                                 persona=forbidden.contact_id.map(persona).to_numpy())
    cols = ["contact_id", "email", "company_name", "persona"]   # what `mof cohort export --columns` writes
    cohort = pd.concat([sendable[cols], forbidden[cols]])
    cohort = cohort.sample(frac=1, random_state=13).reset_index(drop=True)
    cohort_path = tmp_path / "cohort.csv"
    cohort.to_csv(cohort_path, index=False)
    spec = write_campaign(tmp_path / "campaign", retry={"max_attempts": 4, "backoff_seconds": 0.01})
    ledger = tmp_path / "ledger.sqlite"

    emails = sendable.email.tolist()
    picked = rng.sample(emails, 36)
    soft, hard, cut = picked[:25], picked[25:35], picked[35]
    state = {"proc": None, "count": 0, "kill_at": None, "mode": None, "killed": False}
    lock = threading.Lock()

    def kill():
        with lock:
            p = state["proc"]
            if not state["killed"] and p is not None and p.poll() is None:
                state["killed"] = True
                os.kill(p.pid, signal.SIGKILL)

    def on_data(server, envelope):
        with lock:
            state["count"] += 1
            hit = state["kill_at"] is not None and state["count"] == state["kill_at"]
        if hit and state["mode"] == "in_data":   # the server has the message; the client never gets the reply
            kill()
        elif hit:
            threading.Timer(rng.uniform(0.0, 0.01), kill).start()

    cmd = [sys.executable, "-m", "mof_experiments.send", str(spec), "--cohort", str(cohort_path), "-w", str(ws),
           "--ledger", str(ledger), "-q"]
    t0 = time.monotonic()
    with LocalSMTPServer(on_data=on_data) as server:
        for addr in soft:
            server.script[addr] = ["451 4.3.0 Mailbox busy, try later"] * 2
        for addr in hard:
            server.script[addr] = ["550 5.1.1 No such user"] * 99
        server.cut_in_data.add(cut)
        cmd += ["--backend", server.url]

        def run(*extra, kill_at=None, mode=None):
            with lock:
                state.update(count=0, kill_at=kill_at, mode=mode, killed=False)
                state["proc"] = subprocess.Popen(cmd + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                 text=True)
            out, err = state["proc"].communicate(timeout=120)
            return state["proc"].returncode, out, err

        kills = 0
        while kills < KILLS:
            rc, out, err = run(kill_at=rng.randint(1, 25), mode=rng.choice(["in_data", "after", "after"]))
            assert rc == -signal.SIGKILL, f"run {kills} was not killed: {rc} {out} {err}"
            kills += 1
            got = received(server)
            assert max(got.values(), default=0) <= 1, "a message arrived twice"
        killed_seconds = time.monotonic() - t0

        # resume as the docs say: the same command again. Everything else completes; the
        # ambiguous messages are reported (all of them) and the run exits 1
        pending = {c for c, s in ledger_states(ledger).items() if s == "sending"}
        rc, out, err = run()
        assert rc == 1 and "ambiguous" in err
        amb = {c for c, s in ledger_states(ledger).items() if s == "sending"}
        assert pending <= amb and len(amb) >= 2   # the DATA cut and at least one kill left ambiguity
        assert reported_ambiguous(out) == amb
        # still undecided: the next plain run sends nothing and reports them again
        before = len(server.raw)
        rc, out, err = run()
        assert rc == 1 and reported_ambiguous(out) == amb and len(server.raw) == before
        # the decision, then two more plain runs: nothing sent, nothing ambiguous, the skip stands
        rc, out, err = run("--resolve-ambiguous", "skip")
        assert rc == 0, err
        assert re.search(rf"skipped:ambiguous_skipped +{len(amb)}\n", out)
        for _ in range(2):
            rc, out, err = run()
            assert rc == 0 and reported_ambiguous(out) == set() and len(server.raw) == before, err
            assert re.search(rf"skipped:ambiguous_skipped +{len(amb)}\n", out)
        got = received(server)
        rcpts = list(server.rcpt_log)
    print(f"{KILLS} kills in {killed_seconds:.0f} s; {len(amb)} ambiguous; total {time.monotonic() - t0:.0f} s")

    # 0 duplicates
    assert max(got.values()) == 1
    # 0 to the holdout, control or suppressed: not even an RCPT
    assert not set(forbidden.contact_id) & set(got)
    assert not {e.lower() for e in forbidden.email} & {r.lower() for r in rcpts}
    # 0 lost: each of the 1,000 is sent once, refused with 550, or ambiguous and skipped by the decision
    st = ledger_states(ledger)
    by_id = dict(zip(sendable.email, sendable.contact_id))
    hard_ids = {by_id[e] for e in hard}
    for cid in sendable.contact_id:
        if cid in amb:   # a kill between the write-ahead and the reply: even a 550 address can be one
            assert st[cid] == "skipped:ambiguous_skipped" and got[cid] <= 1
            assert cid not in hard_ids or got[cid] == 0          # its server never accepts a message
        elif cid in hard_ids:
            assert st[cid] == "failed_permanent" and got[cid] == 0
        else:
            assert st[cid] == "sent" and got[cid] == 1, (cid, st[cid], got[cid])
    assert set(got) <= set(sendable.contact_id)
    assert by_id[cut] in amb
    for e in soft:
        assert rcpts.count(e) >= 2 or by_id[e] in amb   # 451 was retried
    # the workspace records exactly the ledger's sent rows, once each; 550s are suppressed
    with Workspace(ws, read_only=True) as w:
        ev = w.read("email_events")
        sup = w.read("suppressions")
    sent_ev = ev[(ev.campaign_id == CAMPAIGN) & (ev.event == "sent")]
    assert sorted(sent_ev.contact_id) == sorted(c for c, s in st.items() if s == "sent")
    assert {e.lower() for e in hard if by_id[e] not in amb} <= set(sup.email.str.lower())
