"""The nightly pipeline, stage by stage: `mof label`, `mof segment`, `mof report run`.

    .venv/bin/python benchmarks/pipeline_bench.py                      # 10M and 100M events
    .venv/bin/python benchmarks/pipeline_bench.py --sizes 100 --repeat 3 --jobs 2

Each stage runs as its own process (the `mof` console script) on a copy of label_bench.py's
simulated workspace (``benchmarks/_work/label_<N>M.duckdb``, simulated by label_bench.py's
generator when missing; the copy is ``pipeline_<N>M.duckdb``). Per stage: wall time, CPU time
(user + system of the stage and every process it started, from ``wait4``), the peak RSS of its
largest process (``ru_maxrss``) and the peak of the whole process tree's RSS (psutil, sampled
every 0.05 s: a report run's kernels run at the same time), and the load average (1 min)
before it started.

`mof segment` runs three times: **cold** (an empty ``$MOF_CACHE_DIR``: the persona classifier
is fitted, about 30 s, and every title classified), **first** (the fitted classifier on disk,
no ``persona_cache`` table: the first run on a new workspace) and **warm** (both caches: the
nightly run). The total is label + warm segment + report run. Targets (issue 18, 100M events on
2 cores): total < 45 s, segment < 12 s, report run < 25 s, each stage < 2 GB.

The report runs write to ``benchmarks/_work/reports_<N>M`` (kept between runs, as a nightly job's
``reports/`` folder is), so from the second run on `mof report run --jobs 2` starts the notebooks
longest first by the previous run's durations; the first run ever uses the catalog order.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import label_bench  # noqa: E402  (the workspace generator: one, shared with the labeling benchmark)

WORK = label_bench.WORK
TARGETS = {"segment": 12.0, "report run": 25.0, "total": 45.0}
MEMORY_TARGET_MIB = 2048


def workspace(millions: int) -> Path:
    """``pipeline_<N>M.duckdb``: a copy of label_bench's workspace (simulated when missing)."""
    WORK.mkdir(exist_ok=True)
    src = WORK / f"label_{millions}M.duckdb"
    if not src.exists():
        companies = int(millions * 1_000_000 / label_bench.EVENTS_PER_COMPANY)
        r = label_bench.measure("simulate", src, str(companies))
        print(f"simulated {millions}M events ({companies:,} companies): {r}", flush=True)
    dst = WORK / f"pipeline_{millions}M.duckdb"
    if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime:
        shutil.copy(src, dst)
        stamp_inputs(dst)
    return dst


def stamp_inputs(path: Path) -> None:
    """Give ``companies`` and ``api_events`` the write ids a workspace written by this version has
    (label_bench's cached file may predate them): without them `mof report run` cannot tell that the
    stored funnel is current and labels again (`mof_experiments.funnel.stored_labels`)."""
    import duckdb

    from mof_experiments.workspace import stamp_written

    con = duckdb.connect(str(path))
    try:
        for name in ("companies", "api_events"):
            stamp_written(con, name)
    finally:
        con.close()


def drop_table(path: Path, name: str) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute(f'DROP TABLE IF EXISTS "{name}"')
    con.close()


def run_stage(cmd: list[str], env: dict) -> dict:
    """Run ``cmd``; wall time, CPU of the process tree, peak RSS (largest process, whole tree)."""
    import psutil

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_tree = 0
    done = threading.Event()
    out: dict = {}

    def drain(name, stream):                   # read the pipes so a chatty stage never blocks
        out[name] = stream.read()

    def sample():
        nonlocal peak_tree
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not done.is_set():
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
            except psutil.NoSuchProcess:
                break
            peak_tree = max(peak_tree, total)
            time.sleep(0.05)

    threads = [threading.Thread(target=sample, daemon=True),
               threading.Thread(target=drain, args=("stdout", proc.stdout), daemon=True),
               threading.Thread(target=drain, args=("stderr", proc.stderr), daemon=True)]
    for t in threads:
        t.start()
    # wait4 gives the rusage of the stage and of every descendant it waited for (kernels too)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    for t in threads:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out.get("stdout", ""), out.get("stderr", "")
    return dict(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime, rss_mib=usage.ru_maxrss / 1024,
                tree_mib=peak_tree / 2**20, load=load, ok=proc.returncode == 0,
                tail=(stdout + stderr).strip()[-600:])


def bench_size(millions: int, jobs: int, repeat: int, mof: str) -> list[tuple]:
    ws = workspace(millions)
    rows = []
    cache = Path(tempfile.mkdtemp(prefix="mof_bench_cache_"))
    env = {**os.environ, "MOF_CACHE_DIR": str(cache)}
    out = WORK / f"reports_{millions}M"
    try:
        for i in range(repeat):
            drop_table(ws, "persona_cache")
            if i == 0:
                shutil.rmtree(cache, ignore_errors=True)
                cache.mkdir()
            steps = [("label", "", [mof, "label", "--workspace", str(ws)]),
                     ("segment", "cold" if i == 0 else "first",
                      [mof, "segment", "--workspace", str(ws), "--quiet"]),
                     ("segment", "warm", [mof, "segment", "--workspace", str(ws), "--quiet"]),
                     ("report run", f"--jobs {jobs}", [mof, "report", "run", "--workspace", str(ws), "--out",
                                                       str(out), "--notebooks", str(ROOT / "notebooks"),
                                                       "--jobs", str(jobs)])]
            for stage, variant, cmd in steps:
                r = run_stage(cmd, env)
                rows.append((millions, stage, variant, r))
                print(f"{millions}M {stage} {variant}: wall {r['wall_s']:.1f} s, cpu {r['cpu_s']:.1f} s, "
                      f"rss {r['rss_mib']:.0f} MiB (tree {r['tree_mib']:.0f}), load {r['load']:.1f}"
                      + ("" if r["ok"] else f"  FAILED: {r['tail']}"), flush=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return rows


def events_of(millions: int) -> int:
    import duckdb

    con = duckdb.connect(str(WORK / f"pipeline_{millions}M.duckdb"), read_only=True)
    n = con.execute("SELECT count(*) FROM api_events").fetchone()[0]
    con.close()
    return n


def print_table(rows: list[tuple]) -> None:
    print()
    print(f"{'events':>8} {'stage':<11} {'variant':<9} {'wall s':>7} {'CPU s':>7} {'RSS MiB':>8} "
          f"{'tree MiB':>9} {'load':>5}")
    for millions, stage, variant, r in rows:
        print(f"{events_of(millions) / 1e6:>7.1f}M {stage:<11} {variant:<9} {r['wall_s']:>7.1f} {r['cpu_s']:>7.1f} "
              f"{r['rss_mib']:>8.0f} {r['tree_mib']:>9.0f} {r['load']:>5.1f}" + ("" if r["ok"] else "  FAILED"))
    print()
    for millions in sorted({r[0] for r in rows}):
        best = {}
        for m, stage, variant, r in rows:
            if m == millions and variant != "cold" and variant != "first":
                best[stage] = min(best.get(stage, float("inf")), r["wall_s"])
        total = sum(best.get(s, float("nan")) for s in ("label", "segment", "report run"))
        worst_rss = max(r["tree_mib"] for m, _, _, r in rows if m == millions)
        verdict = ", ".join(f"{s} {best.get(s, float('nan')) if s != 'total' else total:.1f} s "
                            f"({'met' if (best.get(s, 1e9) if s != 'total' else total) < t else 'NOT met'}: < {t:g})"
                            for s, t in TARGETS.items())
        print(f"{millions}M events, best of the runs, label + warm segment + report run = {total:.1f} s; {verdict}; "
              f"largest process tree {worst_rss:,.0f} MiB ({'met' if worst_rss < MEMORY_TARGET_MIB else 'NOT met'}: "
              f"< {MEMORY_TARGET_MIB})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100], help="millions of events")
    ap.add_argument("--jobs", type=int, default=2, help="--jobs of `mof report run` (default 2: the cores)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of the pipeline per size (the table keeps each)")
    a = ap.parse_args()
    mof = str(Path(sys.executable).with_name("mof"))
    print(f"cores: {os.cpu_count()}; load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rows = []
    for m in a.sizes:
        rows += bench_size(m, a.jobs, a.repeat, mof)
    print_table(rows)
    print(f"load average at end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if all(r["ok"] for *_, r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
