"""Send throughput: messages per second to a loopback aiosmtpd, with the ledger on.

Usage::

    .venv/bin/python benchmarks/send_bench.py [--sizes 200,1000,2000] [--companies 2000]

The SMTP server (``python -m aiosmtpd -n -c aiosmtpd.handlers.Sink``) runs in its own process
so that it does not compete with the sender for the GIL. Every message goes through the full
path: ledger commit of ``sending`` (SQLite WAL, synchronous=NORMAL), MAIL/RCPT/DATA on one
reused connection, ledger commit of the outcome. ``send msg/s`` is sent / time in the send
loop (target >= 300); ``end-to-end msg/s`` also counts planning (workspace reads, exclusions,
rendering and MIME building of every message) and recording ``sent`` rows in the workspace.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,1000,2000", help="cohort sizes (comma-separated)")
    ap.add_argument("--companies", type=int, default=2000, help="companies in the simulated workspace")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]

    from mof_experiments.funnel import label_workspace
    from mof_experiments.send import send_campaign
    from mof_experiments.simulate import SimConfig, simulate
    from mof_experiments.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="send_bench_"))
    try:
        base = tmp / "base.duckdb"
        simulate(SimConfig(companies=args.companies, seed=args.seed), base, progress=False)
        with Workspace(base) as ws:
            label_workspace(ws)
            contacts = ws.read("contacts")
            asg = ws.read("assignments")
            companies = ws.read("companies")
        ok = contacts[contacts.company_id.isin(asg.loc[asg.arm == "email", "company_id"])
                      & contacts.unsubscribed_at.isna()].drop_duplicates("email")
        ok = ok.merge(companies[["company_id", "name"]].rename(columns={"name": "company_name"}), on="company_id")
        repo = Path(__file__).resolve().parents[1]
        spec = yaml.safe_load((repo / "campaigns" / "case_study_pm.yaml").read_text())
        spec.pop("rate_limit_per_second", None)  # measure the pipeline, not the throttle
        spec.pop("frequency_cap", None)
        for part in ("html", "text"):
            spec["templates"][part] = str(repo / "campaigns" / spec["templates"][part])
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                                   "-l", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            rows = []
            for n in sizes:
                if n > len(ok):
                    print(f"skipping size {n}: only {len(ok)} eligible contacts", file=sys.stderr)
                    continue
                ws = tmp / f"ws{n}.duckdb"
                shutil.copy(base, ws)
                spec["campaign_id"] = f"bench_{n}"
                spec_path = tmp / f"bench_{n}.yaml"
                spec_path.write_text(yaml.safe_dump(spec))
                cohort = ok.head(n)[["contact_id", "email", "company_name"]]
                r = send_campaign(spec_path, cohort, backend=f"smtp://127.0.0.1:{port}", workspace=ws,
                                  ledger=tmp / f"ledger{n}.sqlite")
                assert r.sent == n and r.ok, str(r)
                rows.append((n, r.seconds - r.send_seconds, r.send_seconds, n / r.send_seconds, n / r.seconds))
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'messages':>9} {'plan+record s':>14} {'send s':>8} {'send msg/s':>11} {'end-to-end msg/s':>17}")
    for n, other, send_s, rate, e2e in rows:
        print(f"{n:>9,} {other:>14.2f} {send_s:>8.2f} {rate:>11,.0f} {e2e:>17,.0f}")
    if rows:
        best = rows[-1]
        print(f"\nsend loop with ledger: {best[3]:,.0f} messages/s at n={best[0]:,} (target >= 300)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
