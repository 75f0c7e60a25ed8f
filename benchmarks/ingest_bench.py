"""`mof ingest` of a large api_events file: the cost of idempotent ingest.

    .venv/bin/python benchmarks/ingest_bench.py                       # 10M events, Parquet
    .venv/bin/python benchmarks/ingest_bench.py --sizes 10 100 --formats parquet csv
    .venv/bin/python benchmarks/ingest_bench.py --src /path/to/other/checkout/src   # compare a version

For each size the script simulates a workspace once (kept in benchmarks/_work/, git-ignored),
exports its api_events to a file, and times three `mof ingest api_events FILE` runs, each a fresh
subprocess on a copy of the workspace state it needs:

- ``first``: into a new, empty workspace (the common case: nothing to compare against);
- ``again``: the same file into the workspace that already holds it (idempotent: nothing is
  written; before idempotency this doubled the table);
- ``next batch``: a second, different file of the same size (the same events one year later)
  into the workspace holding the first: every row is compared with the stored rows of its time
  range and all are new.

``--src DIR`` runs the commands against another checkout's ``src`` (PYTHONPATH), to compare
before and after a change on the same machine and data. Prints wall time, peak RSS, rows in
the table after the run, the CPU time of the process (user + system, all threads: less
sensitive than wall time to other work on a shared machine) and the load average.

``--stored 100`` measures instead the cost of the check against a large table: a workspace
holding 100M api_events (generated in DuckDB, ts spread over 2026) receives a 1M-event batch
that is either new (``disjoint``: 2027, no stored row in its time range) or already stored
(``overlap``: 1M of the stored rows) or new but spread over the whole stored year (``spread``:
every stored row is in its time range). `mof ingest` of the batch is timed (a copy of the
workspace each time). A pandas-based ingest of 100M events in one file needs about 30 GB
(3.1 GB per 10M measured), more than the 24 GB machine, before and after idempotency.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
COMPANIES_PER_M = 850  # about 1.18M events per 1,000 companies (measured: 8,700 -> 10.2M)

RUN = """
import resource, sys, time
t = time.perf_counter()
from mof_experiments.cli import main
rc = main(sys.argv[1:])
u = resource.getrusage(resource.RUSAGE_SELF)
print("WALL", time.perf_counter() - t, "RSS", u.ru_maxrss, "RC", rc, "CPU", u.ru_utime + u.ru_stime)
"""


def make_inputs(size_m: float, fmt: str) -> tuple[Path, Path]:
    """(file, next-batch file) of about ``size_m`` million api_events each."""
    from mof_experiments.simulate import SimConfig, simulate
    from mof_experiments.workspace import Workspace

    WORK.mkdir(exist_ok=True)
    src = WORK / f"ingest_src_{size_m:g}m.duckdb"
    if not src.exists():
        t = time.perf_counter()
        simulate(SimConfig(companies=int(size_m * COMPANIES_PER_M), seed=5), src, progress=True)
        print(f"simulated {src.name} in {time.perf_counter() - t:.1f} s", flush=True)
    out = WORK / f"api_events_{size_m:g}m.{fmt}", WORK / f"api_events_{size_m:g}m_next.{fmt}"
    cols = "company_id, {ts} AS ts, environment, endpoint, status_code, contact_id"
    with Workspace(src, read_only=True) as ws:
        for path, shift in zip(out, ("0 days", "365 days")):
            if path.exists():
                continue
            ts = f"ts + INTERVAL '{shift}'"
            if fmt == "csv":
                ts = f"strftime(({ts}) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')"
            opts = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
            ws.raw.execute(f"COPY (SELECT {cols.format(ts=ts)} FROM api_events) TO '{path}' ({opts})")
    return out


def mof(args: list[str], src: str | None) -> dict:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    p = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, env=env)
    line = [x for x in p.stdout.splitlines() if x.startswith("WALL")]
    if p.returncode or not line:
        raise SystemExit(f"mof {' '.join(args)} failed: {p.stderr[-500:]}")
    w = line[0].split()
    return {"wall": float(w[1]), "rss": int(w[3]) / 1024, "cpu": float(w[7]), "out": p.stdout.splitlines()[0]}


def count(ws: Path) -> int:
    import duckdb

    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM api_events").fetchone()[0]
    finally:
        con.close()


def bench(size_m: float, fmt: str, src: str | None) -> list[tuple]:
    first_file, next_file = make_inputs(size_m, fmt)
    rows = []
    ws = WORK / f"ingest_target_{size_m:g}m_{fmt}.duckdb"
    ws.unlink(missing_ok=True)
    for name, f in (("first", first_file), ("again", first_file), ("next batch", next_file)):
        if name == "next batch":  # into the workspace holding only the first file
            ws.unlink(missing_ok=True)
            mof(["ingest", "api_events", str(first_file), "-w", str(ws)], src)
        r = mof(["ingest", "api_events", str(f), "-w", str(ws)], src)
        rows.append((size_m, fmt, name, r["wall"], r["cpu"], r["rss"], count(ws), r["out"][:90]))
        print(f"  {size_m:g}M {fmt:<8} {name:<11} {r['wall']:7.1f} s {r['cpu']:7.1f} cpu-s {r['rss']:7,.0f} MiB  "
              f"{rows[-1][6]:>12,} rows  {r['out'][:90]}", flush=True)
    ws.unlink(missing_ok=True)
    return rows


def stored(size_m: float, src: str | None) -> list[tuple]:
    """Ingest a 1M batch into a workspace already holding ``size_m`` million events."""
    import duckdb

    WORK.mkdir(exist_ok=True)
    base = WORK / f"stored_{size_m:g}m.duckdb"
    gen = ("SELECT 'co_' || lpad(CAST(i % 80000 AS VARCHAR), 7, '0') AS company_id, "
           "TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(CAST(i AS BIGINT) * 315000) AS ts, "
           "CASE WHEN i % 5 = 0 THEN 'production' ELSE 'sandbox' END AS environment, "
           "'/v1/e' || CAST(i % 37 AS VARCHAR) AS endpoint, CAST(CASE WHEN i % 11 = 0 THEN 500 ELSE 200 END AS BIGINT) "
           "AS status_code, CAST(NULL AS VARCHAR) AS contact_id FROM range({lo}, {hi}) t(i)")
    if not base.exists():
        t = time.perf_counter()
        con = duckdb.connect(str(base))
        con.execute("SET TimeZone = 'UTC'")
        from mof_experiments.schema import create_table_sql

        con.execute(create_table_sql("api_events"))
        con.execute("INSERT INTO api_events " + gen.format(lo=0, hi=int(size_m * 1e6)))
        con.close()
        print(f"generated {size_m:g}M stored events in {time.perf_counter() - t:.1f} s", flush=True)
    batches = {"disjoint": WORK / "batch_1m_2027.parquet", "overlap": WORK / "batch_1m_stored.parquet",
               "spread": WORK / "batch_1m_spread.parquet"}
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if not batches["overlap"].exists():
        con.execute(f"COPY ({gen.format(lo=5_000_000, hi=6_000_000)}) TO '{batches['overlap']}' (FORMAT parquet)")
    if not batches["spread"].exists():  # 1M new rows whose time range spans the whole stored year
        con.execute(f"COPY (SELECT company_id, ts + INTERVAL '1 microsecond' AS ts, environment, endpoint, "
                    f"status_code, contact_id FROM ({gen.format(lo=0, hi=int(size_m * 1e6))}) "
                    f"USING SAMPLE 1000000 ROWS (reservoir, 7)) TO '{batches['spread']}' (FORMAT parquet)")
    if not batches["disjoint"].exists():
        con.execute(f"COPY (SELECT company_id, ts + INTERVAL '365 days' AS ts, environment, endpoint, status_code, "
                    f"contact_id FROM ({gen.format(lo=5_000_000, hi=6_000_000)})) TO '{batches['disjoint']}' "
                    "(FORMAT parquet)")
    con.close()
    rows = []
    for name, f in batches.items():
        ws = WORK / "stored_target.duckdb"
        shutil.copy(base, ws)
        r = mof(["ingest", "api_events", str(f), "-w", str(ws)], src)
        rows.append((size_m, "parquet 1M", name, r["wall"], r["cpu"], r["rss"], count(ws), r["out"][:90]))
        print(f"  {size_m:g}M stored, 1M {name:<9} {r['wall']:7.1f} s {r['cpu']:7.1f} cpu-s {r['rss']:7,.0f} MiB  "
              f"{rows[-1][6]:>12,} rows  {r['out'][:90]}", flush=True)
        ws.unlink()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[10])
    ap.add_argument("--formats", nargs="+", default=["parquet"], choices=["parquet", "csv"])
    ap.add_argument("--src", default=None, help="another checkout's src/ to run instead of this one")
    ap.add_argument("--stored", type=float, default=None, metavar="M",
                    help="instead: ingest a 1M batch into a workspace holding M million events")
    a = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; "
          f"src: {a.src or 'this checkout'}", flush=True)
    print("| events | file | run | wall s | CPU s | peak RSS MiB | rows after |")
    out = []
    if a.stored:
        out += stored(a.stored, a.src)
    else:
        for s in a.sizes:
            for fmt in a.formats:
                out += bench(s, fmt, a.src)
    for s, fmt, name, wall, cpu, rss, n, _ in out:
        print(f"| {s:g}M | {fmt} | {name} | {wall:.1f} | {cpu:.1f} | {rss:,.0f} | {n:,} |")
    print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
