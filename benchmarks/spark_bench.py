"""The same funnel labeling on DuckDB and on Spark local mode (local[2]), side by side.

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python benchmarks/spark_bench.py              # 2.5M, 5M, 10M, 20M events
    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python benchmarks/spark_bench.py --sizes 10

Both engines read the same Parquet files (exported from a simulated workspace). Spark's session
start-up is reported separately; the wall time is the labeling (scan, aggregate, collect to
pandas). The last column is seconds per million events: flat means linear cost.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
EVENTS_PER_COMPANY = 1150


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=float, nargs="+", default=[2.5, 5, 10, 20], help="millions of events")
    a = ap.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from mof_experiments.engines import export_parquet, open_source, spark_session
    from mof_experiments.funnel import label
    from mof_experiments.simulate import SimConfig, simulate
    from mof_experiments.workspace import Workspace

    WORK.mkdir(exist_ok=True)
    t = time.perf_counter()
    spark = spark_session("local[2]")
    spark_start = time.perf_counter() - t
    rows = []
    for m in a.sizes:
        ws_path = WORK / f"spark_{m:g}M.duckdb"
        pq = WORK / f"spark_{m:g}M_parquet"
        if not ws_path.exists():
            simulate(SimConfig(companies=int(m * 1e6 / EVENTS_PER_COMPANY), seed=2), ws_path, progress=False)
        with Workspace(ws_path, read_only=True) as ws:
            if not pq.exists():
                export_parquet(ws, pq)
            n = ws.count("api_events")
            results = {}
            for engine in ("duckdb", "pyspark"):
                src = open_source(engine, pq, workspace=ws, spark=spark)
                label(ws, source=src)  # warm-up: caches, JIT, file listing
                t = time.perf_counter()
                results[engine] = label(ws, source=src)
                wall = time.perf_counter() - t
                rows.append((n, engine, wall))
                print(f"{n / 1e6:6.1f}M {engine:8} {wall:7.2f} s", flush=True)
            a_, b_ = (results[e].sort_values("company_id").reset_index(drop=True) for e in ("duckdb", "pyspark"))
            import pandas as pd
            pd.testing.assert_frame_equal(a_, b_, check_dtype=False)
    spark.stop()
    print(f"\nSpark session start-up: {spark_start:.1f} s (once per process)\n")
    print(f"{'events':>10} {'engine':>8} {'wall s':>8} {'s per 1M events':>16}")
    for n, engine, wall in rows:
        print(f"{n:>10,} {engine:>8} {wall:8.2f} {wall / (n / 1e6):16.3f}")
    import numpy as np

    print("\nleast-squares line wall = fixed + marginal x events:")
    for engine in ("duckdb", "pyspark"):
        x = np.array([n / 1e6 for n, e, _ in rows if e == engine])
        y = np.array([w for _, e, w in rows if e == engine])
        if len(x) >= 3:
            (b, a), res = np.polyfit(x, y, 1, full=True)[:2]
            r2 = 1 - float(res[0]) / float(((y - y.mean()) ** 2).sum()) if len(res) else 1.0
            print(f"  {engine:8} fixed {a:5.2f} s, marginal {b:.3f} s per 1M events, R^2 {r2:.3f}")
    print("\nresults equal row for row on every size")


if __name__ == "__main__":
    main()
