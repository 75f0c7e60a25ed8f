"""One day of `mof program run` on the 100M-event workspace of label_bench, SMTP excluded.

    .venv/bin/python benchmarks/program_bench.py [--workspace benchmarks/_work/label_100M.duckdb] [--day 2026-04-15]

The workspace is label_bench's (`benchmarks/_work/label_100M.duckdb`, 100.6M events, 82,644
companies); it is copied to `benchmarks/_work/program_100M.duckdb` with a `personas` table from
the simulator's truth (what `mof segment` writes). The program is `programs/stuck_on_errors.yaml`
with its campaigns written beside it. The run goes through the whole path (behavior as of the
day from the events, entries, assignments, due steps, the ledger, the workspace's email_events)
to the `mbox:` back-end; the time inside the send loops (`send_seconds`, what SMTP would take)
is reported apart and subtracted. Each run is a fresh subprocess, so its peak RSS
(`ru_maxrss`) is its own. Three runs: the first day (every company already in the trigger
enters at once: the largest day), the next day (the steady state), and a re-run of it (sends
nothing). Run it on a fresh copy (delete `program_100M.duckdb` to start over).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from mof_experiments.programs import run_program
t1 = time.perf_counter()
r = run_program(sys.argv[1], workspace=sys.argv[2], as_of=sys.argv[3], backend="mbox:" + sys.argv[4],
                ledger=sys.argv[5])
print(json.dumps({"imports": t1 - t0, "seconds": r.seconds, "send_seconds": r.send_seconds,
                  "sent": int(r.days["sent"].sum()), "entered": int(r.days["entered"].sum()),
                  "due": int(r.days["due"].sum()),
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def prepare(src: Path) -> tuple[Path, Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    import yaml
    from helpers import add_truth_personas, write_campaign

    ws = WORK / "program_100M.duckdb"
    if not ws.exists():
        shutil.copy(src, ws)
        add_truth_personas(ws)
    spec = yaml.safe_load((ROOT / "programs" / "stuck_on_errors.yaml").read_text())
    for s, z in zip(spec["steps"], ("assistance", "case_study")):
        s["campaign"] = str(write_campaign(WORK / "program_campaigns" / z, campaign_id=z, experiment_id=None,
                                           arms=None, zone=z))
    prog = WORK / "program_bench.yaml"
    prog.write_text(yaml.safe_dump(spec))
    return ws, prog


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", type=Path, default=WORK / "label_100M.duckdb")
    ap.add_argument("--day", default="2026-04-15")
    a = ap.parse_args()
    ws, prog = prepare(a.workspace)
    for f in (WORK / "program_bench.sqlite", WORK / "program_bench.mbox"):
        f.unlink(missing_ok=True)
    print(f"load before: {os.getloadavg()}")
    print("| run | wall s (process) | program run s | send loop s | run s minus send | peak RSS MiB | entered | "
          "due | sent |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    import pandas as pd

    next_day = f"{pd.Timestamp(a.day) + pd.Timedelta(days=1):%Y-%m-%d}"
    for name, day in ((f"{a.day}: first run (every company in the trigger enters)", a.day),
                      (f"{next_day}: the next day (steady state)", next_day), (f"{next_day}: re-run", next_day)):
        t = time.perf_counter()
        out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", CHILD, str(prog), str(ws), day,
                              str(WORK / "program_bench.mbox"), str(WORK / "program_bench.sqlite")],
                             capture_output=True, text=True)
        wall = time.perf_counter() - t
        if out.returncode:
            print(out.stderr[-2000:])
            raise SystemExit(1)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {name} | {wall:.1f} | {r['seconds']:.1f} | {r['send_seconds']:.1f} | "
              f"{r['seconds'] - r['send_seconds']:.1f} | {r['rss_mib']:,.0f} | {r['entered']:,} | {r['due']:,} | "
              f"{r['sent']:,} |")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
