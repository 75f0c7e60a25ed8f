"""kill -9 study of `mof program run`: a 30-day replay where 20 runs are killed (SIGKILL) at random
moments and resumed, against a loopback aiosmtpd server; compared with the same replay without kills.

    .venv/bin/python benchmarks/program_crash.py [--kills 20] [--seed 1] [--companies 1200]

Prints: messages the server accepted, duplicates (a Message-ID accepted twice), lost messages
(sent by the reference replay, never accepted here and not reported ambiguous), ambiguous rows
(left in 'sending' by a kill inside an SMTP transaction: reported, never resent automatically).
Half the kills come at a random time after the process starts, half right after the server
accepted the k-th message of that run (so they land inside the send loop).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
WORK = ROOT / "benchmarks" / "_work" / "program_crash"
DAYS = pd.date_range("2026-03-01", periods=30, tz="UTC")


def setup(companies: int) -> tuple[Path, Path]:
    from helpers import simulate_with_global_holdout, write_campaign

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    base = simulate_with_global_holdout(WORK / "base.duckdb", companies=companies, seed=23,
                                        holdout_companies=companies // 10)
    spec = yaml.safe_load((ROOT / "programs" / "stuck_on_errors.yaml").read_text())
    for s, z in zip(spec["steps"], ("assistance", "case_study")):
        s["campaign"] = str(write_campaign(WORK / "campaigns" / z, campaign_id=z, experiment_id=None, arms=None,
                                           zone=z))
    prog = WORK / "program.yaml"
    prog.write_text(yaml.safe_dump(spec))
    return base, prog


def mof(*args) -> list[str]:
    return [str(ROOT / ".venv" / "bin" / "mof"), *args]


def replay(base: Path, prog: Path, name: str, kills: int, seed: int) -> dict:
    from mof_experiments.send.testing import LocalSMTPServer

    ws = WORK / f"{name}.duckdb"
    shutil.copy(base, ws)
    led = WORK / f"{name}.sqlite"
    rng = random.Random(seed)
    kill_days = set(rng.sample(range(len(DAYS)), min(kills, len(DAYS)))) if kills else set()
    extra = kills - len(kill_days)        # more kills than days: some days are killed twice
    state = {"proc": None, "count": 0, "kill_after": None}

    def on_data(server, envelope):
        state["count"] += 1
        if state["kill_after"] is not None and state["count"] >= state["kill_after"] and state["proc"]:
            os.kill(state["proc"].pid, signal.SIGKILL)
            state["kill_after"] = None

    done_kills, runs = 0, 0
    with LocalSMTPServer(delay=0.01, on_data=on_data) as srv:
        for i, day in enumerate(DAYS):
            n_kill = (1 + (1 if extra > 0 and i in kill_days else 0)) if i in kill_days else 0
            extra -= max(n_kill - 1, 0)
            for k in range(n_kill + 1):
                args = mof("program", "run", str(prog), "--as-of", f"{day:%Y-%m-%d}", "-w", str(ws), "--backend",
                           srv.url, "--ledger", str(led), "-q")
                state["count"] = 0
                proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                state["proc"] = proc
                runs += 1
                if k < n_kill:
                    if rng.random() < 0.5:
                        state["kill_after"] = rng.randint(1, 8)
                        timer = threading.Timer(rng.uniform(2.0, 8.0), lambda p=proc: p.poll() is None and
                                                os.kill(p.pid, signal.SIGKILL))
                    else:
                        state["kill_after"] = None
                        timer = threading.Timer(rng.uniform(1.0, 8.0), lambda p=proc: p.poll() is None and
                                                os.kill(p.pid, signal.SIGKILL))
                    timer.start()
                    rc = proc.wait()
                    timer.cancel()
                    state["kill_after"] = None
                    done_kills += rc == -signal.SIGKILL
                else:
                    proc.wait()
        ids = [m["Message-ID"].strip("<>") for m in srv.messages]
    con = sqlite3.connect(led)
    amb = {r[0] for r in con.execute("SELECT message_id FROM sends WHERE state = 'sending'")}
    sent = {r[0] for r in con.execute("SELECT message_id FROM sends WHERE state = 'sent'")}
    con.close()
    return {"ids": ids, "ambiguous": amb, "ledger_sent": sent, "kills": done_kills, "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--companies", type=int, default=1200)
    a = ap.parse_args()
    t0 = time.time()
    base, prog = setup(a.companies)
    ref = replay(base, prog, "reference", 0, a.seed)
    crash = replay(base, prog, "crash", a.kills, a.seed)
    c = Counter(crash["ids"])
    dup = sum(v - 1 for v in c.values() if v > 1)
    want = set(ref["ids"])
    got = set(crash["ids"])
    lost = want - got - crash["ambiguous"]
    extra = got - want
    amb_accepted = len(crash["ambiguous"] & got)
    print("| replay | runs | SIGKILLs landed | accepted by server | duplicates | lost | ambiguous (of them "
          "accepted) | not in reference |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| reference | {ref['runs']} | 0 | {len(ref['ids'])} | {len(ref['ids']) - len(want)} | - | "
          f"{len(ref['ambiguous'])} | - |")
    print(f"| kill -9 x{a.kills} | {crash['runs']} | {crash['kills']} | {len(crash['ids'])} | {dup} | {len(lost)} | "
          f"{len(crash['ambiguous'])} ({amb_accepted}) | {len(extra)} |")
    print(f"\n{time.time() - t0:.0f} s; load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
