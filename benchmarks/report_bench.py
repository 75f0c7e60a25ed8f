"""Benchmark: `mof report run` of the four report notebooks on a simulated workspace.

Usage: .venv/bin/python benchmarks/report_bench.py [--companies 20000] [--seed 42] [--keep DIR]

Simulates a workspace (not timed), adds a ``personas`` table (from ``mof segment``'s module when
installed, else the simulator's truth), then times ``mof report run`` end to end (kernel start,
execution, HTML export) and prints one row per notebook plus the total. Target: < 60 s for all
four notebooks at 20,000 companies on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--companies", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="Run once per value of --jobs.")
    ap.add_argument("--keep", type=Path, default=None, help="Keep the workspace and reports in this folder.")
    args = ap.parse_args()

    from mof_experiments.reports import read_manifest
    from mof_experiments.simulate import SimConfig, simulate
    from mof_experiments.workspace import Workspace

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="mof_report_bench_"))
    tmp.mkdir(parents=True, exist_ok=True)
    ws_path = tmp / "bench.duckdb"
    t0 = time.perf_counter()
    if not ws_path.exists():
        simulate(SimConfig(companies=args.companies, seed=args.seed), ws_path, progress=False)
    with Workspace(ws_path) as ws:
        if not ws.has("personas"):
            ws.write("personas", ws.read("sim_contact_truth")[["contact_id", "persona"]]
                     .merge(ws.read("contacts")[["contact_id", "company_id"]], on="contact_id")
                     .assign(confidence=1.0, rule="sim_truth"))
        n_events = ws.count("api_events")
    t_setup = time.perf_counter() - t0

    mof = Path(sys.executable).with_name("mof")
    print(f"workspace: {args.companies:,} companies, {n_events:,} api_events (setup {t_setup:.1f} s, not timed)")
    worst = 0
    for jobs in args.jobs:
        out = tmp / f"reports_j{jobs}"
        t0 = time.perf_counter()
        res = subprocess.run([str(mof), "report", "run", "--workspace", str(ws_path), "--out", str(out),
                              "--notebooks", str(ROOT / "notebooks"), "--jobs", str(jobs)],
                             capture_output=True, text=True, env={**os.environ})
        total = time.perf_counter() - t0
        manifest = read_manifest(sorted(out.iterdir())[-1])
        print(f"\n--jobs {jobs}; cores: {os.cpu_count()}, load average after: "
              f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"{'notebook':<24} {'status':<8} {'seconds':>8}")
        for nb in manifest["notebooks"]:
            print(f"{nb['name']:<24} {nb['status']:<8} {nb['duration_s'] or 0:>8.1f}")
        print(f"{'total (mof report run)':<24} {'ok' if res.returncode == 0 else 'FAILED':<8} {total:>8.1f}"
              f"   target < 60 s: {'met' if total < 60 else 'NOT met'}")
        if res.returncode != 0:
            print(res.stdout[-2000:], res.stderr[-2000:], sep="\n")
        worst = max(worst, res.returncode)
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
