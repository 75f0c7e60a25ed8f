"""Funnel labeling three ways on the same simulated events: mof (Ibis on DuckDB), hand-written
DuckDB SQL, idiomatic pandas. Prints wall time and peak RSS for each size.

    .venv/bin/python benchmarks/label_bench.py                 # 10M and 100M events (pandas: 10M only)
    .venv/bin/python benchmarks/label_bench.py --sizes 10      # 10M only

Each measurement runs in a fresh subprocess, so peak RSS (ru_maxrss) is that method's own. The
three results are compared row for row (they must agree). Workspaces are kept in
benchmarks/_work/ (git-ignored) and reused when present.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
EVENTS_PER_COMPANY = 1150  # measured: 96.1M events from 82,644 companies

HAND_SQL = """
WITH ev AS (
  SELECT e.company_id, e.ts, e.environment, e.endpoint, e.status_code, c.signup_at
  FROM api_events e JOIN companies c USING (company_id)
  WHERE c.signup_at < $as_of AND e.ts >= c.signup_at AND e.ts < $as_of
), agg AS (
  SELECT company_id,
    min(ts) AS first_call_at,
    min(ts) FILTER (WHERE environment = 'sandbox') AS first_sandbox_at,
    min(ts) FILTER (WHERE environment = 'production' AND status_code BETWEEN 200 AND 299) AS first_production_at,
    count(*) FILTER (WHERE environment = 'sandbox') AS sandbox_calls,
    count(*) FILTER (WHERE environment = 'sandbox' AND status_code >= 400) AS sandbox_errors,
    count(DISTINCT endpoint) FILTER (WHERE environment = 'sandbox') AS sandbox_endpoints,
    max(ts) FILTER (WHERE environment = 'sandbox') AS sandbox_last_call_at,
    count(*) FILTER (WHERE environment = 'production') AS production_calls,
    count(*) FILTER (WHERE environment = 'production' AND status_code >= 400) AS production_errors,
    count(DISTINCT endpoint) FILTER (WHERE environment = 'production') AS production_endpoints,
    max(ts) FILTER (WHERE environment = 'production') AS production_last_call_at
  FROM ev GROUP BY company_id
)
SELECT c.company_id, c.signup_at, a.first_call_at, a.first_sandbox_at, a.first_production_at,
  CASE WHEN a.first_production_at IS NOT NULL THEN 'production'
       WHEN a.first_call_at IS NOT NULL THEN 'sandbox' ELSE 'signed_up' END AS stage,
  (epoch(a.first_call_at) - epoch(c.signup_at)) / 86400.0 AS days_to_first_call,
  (epoch(a.first_production_at) - epoch(c.signup_at)) / 86400.0 AS days_to_production,
  (epoch($as_of) - epoch(c.signup_at)) / 86400.0 AS days_observed,
  coalesce(a.sandbox_calls, 0) AS sandbox_calls, coalesce(a.sandbox_errors, 0) AS sandbox_errors,
  coalesce(a.sandbox_endpoints, 0) AS sandbox_endpoints, a.sandbox_last_call_at,
  coalesce(a.production_calls, 0) AS production_calls, coalesce(a.production_errors, 0) AS production_errors,
  coalesce(a.production_endpoints, 0) AS production_endpoints, a.production_last_call_at
FROM companies c LEFT JOIN agg a USING (company_id)
WHERE c.signup_at < $as_of
ORDER BY c.company_id
"""


def run_mof(ws_path: str, as_of: str):
    from mof_experiments.funnel import label
    from mof_experiments.workspace import Workspace

    with Workspace(ws_path, read_only=True) as ws:
        return label(ws, as_of)


def run_sql(ws_path: str, as_of: str):
    import duckdb
    import pandas as pd

    con = duckdb.connect(ws_path, read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    df = con.execute(HAND_SQL, {"as_of": pd.Timestamp(as_of)}).df()
    con.close()
    return df


def run_pandas(ws_path: str, as_of: str):
    """Idiomatic pandas: load the events (categoricals for the repeated strings), filter, groupby."""
    import duckdb
    import numpy as np
    import pandas as pd

    con = duckdb.connect(ws_path, read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    companies = con.execute("SELECT company_id, signup_at FROM companies").df()
    ev = con.execute("SELECT company_id, ts, environment, endpoint, status_code FROM api_events").fetch_arrow_table()
    con.close()
    ev = ev.to_pandas(strings_to_categorical=True)
    cutoff = pd.Timestamp(as_of)
    companies = companies[companies["signup_at"] < cutoff]
    ev = ev.merge(companies, on="company_id", how="inner")
    ev = ev[(ev["ts"] >= ev["signup_at"]) & (ev["ts"] < cutoff)]
    sb = ev["environment"] == "sandbox"
    err = ev["status_code"] >= 400
    ok = ~sb & ev["status_code"].between(200, 299)
    g = ev.groupby("company_id", observed=True)
    out = pd.DataFrame({"first_call_at": g["ts"].min()})
    for env, mask in (("sandbox", sb), ("production", ~sb)):
        ge = ev[mask].groupby("company_id", observed=True)
        out[f"{env}_calls"] = ge.size()
        out[f"{env}_errors"] = ev[mask & err].groupby("company_id", observed=True).size()
        out[f"{env}_endpoints"] = ge["endpoint"].nunique()
        out[f"{env}_last_call_at"] = ge["ts"].max()
    out["first_sandbox_at"] = ev[sb].groupby("company_id", observed=True)["ts"].min()
    out["first_production_at"] = ev[ok].groupby("company_id", observed=True)["ts"].min()
    out.index = out.index.astype("str")
    df = companies.set_index("company_id").join(out, how="left").reset_index()
    for c in ("sandbox_calls", "sandbox_errors", "sandbox_endpoints", "production_calls", "production_errors",
              "production_endpoints"):
        df[c] = df[c].fillna(0).astype("int64")
    df["stage"] = np.where(df["first_production_at"].notna(), "production",
                           np.where(df["first_call_at"].notna(), "sandbox", "signed_up"))
    day = 86400.0
    df["days_to_first_call"] = (df["first_call_at"] - df["signup_at"]).dt.total_seconds() / day
    df["days_to_production"] = (df["first_production_at"] - df["signup_at"]).dt.total_seconds() / day
    df["days_observed"] = (cutoff - df["signup_at"]).dt.total_seconds() / day
    return df.sort_values("company_id").reset_index(drop=True)


def run_simulate(ws_path: str, companies: int):
    from mof_experiments.simulate import SimConfig, simulate

    return simulate(SimConfig(companies=companies, seed=1), ws_path, overwrite=True, progress=False)


METHODS = {"mof": run_mof, "sql": run_sql, "pandas": run_pandas}


def child(method: str, ws_path: str, arg: str, out: str | None) -> None:
    # Imports are a fixed per-process cost (ibis ~0.6 s); load them before the clock starts so the
    # table compares the labeling itself. The import time is reported in its own column.
    t0 = time.perf_counter()
    import duckdb  # noqa: F401
    import pandas  # noqa: F401
    if method in ("mof", "simulate"):
        import ibis  # noqa: F401

        import mof_experiments.funnel  # noqa: F401
        import mof_experiments.simulate  # noqa: F401
        import mof_experiments.workspace  # noqa: F401
    t = time.perf_counter()
    imports = t - t0
    if method == "simulate":
        res = run_simulate(ws_path, int(arg))
        rows = res.counts["api_events"]
    else:
        res = METHODS[method](ws_path, arg)
        rows = len(res)
        if out:
            res.to_parquet(out)
    wall = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB
    print(json.dumps({"wall_s": wall, "import_s": imports, "peak_rss_mib": rss, "rows": rows}))


def measure(method: str, ws: Path, arg: str, out: Path | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", method, str(ws), arg] + ([str(out)] if out else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"wall_s": float("nan"), "peak_rss_mib": float("nan"), "rows": 0, "error": p.stderr.strip()[-300:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def compare(paths: dict[str, Path]) -> str:
    import pandas as pd

    frames = {k: pd.read_parquet(v).sort_values("company_id").reset_index(drop=True) for k, v in paths.items()}
    ref = frames.pop("mof")
    cols = list(ref.columns)
    bad = []
    for k, df in frames.items():
        try:
            pd.testing.assert_frame_equal(ref[cols], df[cols], check_dtype=False, check_exact=False, rtol=1e-9)
        except AssertionError as e:
            bad.append(f"{k}: {str(e).splitlines()[0]}")
    agree = " and ".join(["mof", *frames])
    return f"{agree} agree row for row" if not bad else "MISMATCH " + "; ".join(bad)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100], help="millions of events")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--methods", nargs="+", default=["mof", "sql", "pandas"])
    ap.add_argument("--pandas-max", type=float, default=20,
                    help="skip pandas above this many million events (it needs ~270 MB per 1M; default 20)")
    a = ap.parse_args()
    if a.child:
        child(a.child[0], a.child[1], a.child[2], a.child[3] if len(a.child) > 3 else None)
        return
    WORK.mkdir(exist_ok=True)
    rows = []
    for m in a.sizes:
        ws = WORK / f"label_{m}M.duckdb"
        companies = int(m * 1_000_000 / EVENTS_PER_COMPANY)
        if not ws.exists():
            r = measure("simulate", ws, str(companies))
            rows.append((f"{m}M", "simulate", r))
            print(f"simulate {m}M: {r}", flush=True)
        from mof_experiments.workspace import Workspace
        with Workspace(ws, read_only=True) as w:
            n_events = w.count("api_events")
            as_of = w.meta()["simulated_end"]
        outs = {}
        for method in a.methods:
            if method == "pandas" and m > a.pandas_max:
                print(f"{m}M pandas: skipped (~{0.27 * m:.0f} GB of memory; --pandas-max {m} to force)", flush=True)
                continue
            out = WORK / f"out_{m}M_{method}.parquet"
            r = measure(method, ws, as_of, out)
            r["events"] = n_events
            rows.append((f"{m}M", method, r))
            outs[method] = out
            print(f"{m}M {method}: {r}", flush=True)
        if "mof" in outs and len(outs) > 1:
            print(f"{m}M check: {compare(outs)}")
    print()
    print(f"{'events':>8} {'method':>9} {'wall s':>8} {'imports s':>9} {'peak RSS MiB':>13} {'x SQL':>6}")
    sql_wall = {size: r["wall_s"] for size, meth, r in rows if meth == "sql"}
    for size, meth, r in rows:
        ratio = r["wall_s"] / sql_wall[size] if size in sql_wall and meth != "simulate" else float("nan")
        print(f"{size:>8} {meth:>9} {r['wall_s']:8.2f} {r.get('import_s', float('nan')):9.2f} "
              f"{r['peak_rss_mib']:13.0f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
