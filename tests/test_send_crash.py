"""Crash safety: `mof send` is SIGKILLed at random points, then resumed.

After the resume every expected message was received exactly once, or its ledger row is
reported ambiguous (received at most once); nothing is received twice unless it was reported
ambiguous and resent on purpose; nothing is lost.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from mof_experiments.send import send_campaign
from mof_experiments.send.testing import LocalSMTPServer
from mof_experiments.simulate import SimConfig, simulate
from mof_experiments.workspace import Workspace
from send_helpers import eligible_contacts, prepare_workspace, write_campaign

RUNS = 20
N = 16
_CONTACT_RE = re.compile(rb"^X-MOF-Contact: (\S+)\r?$", re.MULTILINE)


@pytest.fixture(scope="module")
def crash_base(tmp_path_factory):
    path = tmp_path_factory.mktemp("crash_ws") / "mof.duckdb"
    simulate(SimConfig(companies=150, seed=8), path, progress=False)
    prepare_workspace(path)
    return path


def received(server) -> Counter:
    with server.lock:
        raw = [c for _, _, c in server.raw]
    return Counter(_CONTACT_RE.search(c).group(1).decode() for c in raw)


def states(ledger) -> dict:
    con = sqlite3.connect(ledger)
    try:
        return dict(con.execute("SELECT contact_id, state FROM sends").fetchall())
    finally:
        con.close()


def test_sigkill_at_random_points_then_resume_never_duplicates_or_loses(crash_base, tmp_path):
    rng = random.Random(20261128)
    spec = write_campaign(tmp_path / "campaign")
    cohort = eligible_contacts(crash_base).head(N)
    assert len(cohort) == N
    expected = set(cohort.contact_id)
    modes = Counter()
    outcomes = Counter()
    for run in range(RUNS):
        d = tmp_path / f"run{run}"
        d.mkdir()
        ws = d / "mof.duckdb"
        shutil.copy(crash_base, ws)
        cohort_path = d / "cohort.csv"
        cohort.to_csv(cohort_path, index=False)
        ledger = d / "ledger.sqlite"
        mode = rng.choice(["in_data", "after_message", "after_message", "wall_clock"])
        kill_at = rng.randint(1, N)
        delay = rng.uniform(0.0, 0.02)
        modes[mode] += 1
        state = {"proc": None, "killed": False}

        def kill():
            if not state["killed"] and state["proc"] is not None and state["proc"].poll() is None:
                state["killed"] = True
                os.kill(state["proc"].pid, signal.SIGKILL)

        def on_data(server, envelope, mode=mode, kill_at=kill_at, delay=delay):
            if len(server.raw) != kill_at:
                return
            if mode == "in_data":      # the server has the message, the client never gets the reply
                kill()
            elif mode == "after_message":
                threading.Timer(delay, kill).start()

        with LocalSMTPServer(delay=0.002, on_data=on_data) as server:
            cmd = [sys.executable, "-m", "mof_experiments.send", str(spec), "--cohort", str(cohort_path),
                   "--backend", server.url, "-w", str(ws), "--ledger", str(ledger), "-q"]
            state["proc"] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if mode == "wall_clock":
                threading.Timer(rng.uniform(0.3, 3.0), kill).start()
            state["proc"].wait(timeout=120)
            time.sleep(0.05)
            got = received(server)
            assert sum(got.values()) == len(server.raw) and set(got) <= expected
            assert max(got.values(), default=0) <= 1, f"run {run}: a message arrived twice before any resume"

            # resume (no decision on ambiguous rows): everything else completes, ambiguity is reported
            r = send_campaign(spec, cohort_path, backend=server.url, workspace=ws, ledger=ledger)
            got = received(server)
            st = states(ledger)
            amb = set(r.ambiguous)
            assert set(st) == expected, f"run {run}: ledger lost rows"
            for c in expected:
                if st[c] == "sent":
                    assert got[c] == 1, f"run {run}: {c} sent but received {got[c]} times"
                else:
                    assert st[c] == "sending" and c in amb and got[c] <= 1, (run, c, st[c], got[c])
            assert r.ok == (not amb)
            outcomes["killed" if state["killed"] else "finished"] += 1
            outcomes["ambiguous_runs"] += bool(amb)
            outcomes["ambiguous_received"] += sum(got[c] for c in amb)

            # the decision: resend the ambiguous ones; nothing is lost, duplicates only where reported
            r2 = send_campaign(spec, cohort_path, backend=server.url, workspace=ws, ledger=ledger,
                               resolve_ambiguous="resend")
            got = received(server)
            assert r2.ok and r2.sent == len(amb)
            assert set(states(ledger).values()) == {"sent"}
            for c in expected:
                assert got[c] == 1 or (c in amb and got[c] == 2), (run, c, got[c])
        with Workspace(ws, read_only=True) as w:
            ev = w.read("email_events")
        sent = ev[(ev.event == "sent") & (ev.campaign_id == "test_case_study_pm")]
        assert sorted(sent.contact_id) == sorted(expected), f"run {run}: email_events not exactly once"
    # the seeded schedule covers the interesting cases
    assert outcomes["killed"] >= 15 and outcomes["ambiguous_runs"] >= 3
    assert outcomes["ambiguous_received"] >= 3
    print(dict(modes), dict(outcomes))
