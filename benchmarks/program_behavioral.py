"""Behavioral design acceptance: `mof simulate --design behavioral`, both example programs run every
day from the start (mbox back-end), then `program_readout`: does each lift CI cover the planted lift?

    .venv/bin/python benchmarks/program_behavioral.py COMPANIES SEED DAYS OUT_DIR
    .venv/bin/python benchmarks/program_behavioral.py 20000 2027 70 benchmarks/_work/behavioral
"""
import sys, time, shutil, json
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import pandas as pd, yaml
from helpers import add_truth_personas, write_campaign
from mof_experiments.simulate import SimConfig, simulate
from mof_experiments.programs import run_program, load_program
from mof_experiments.programs.readout import program_readout
from mof_experiments.workspace import Workspace
n, seed, days, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
ws = out / "mof.duckdb"
t = time.time(); r = simulate(SimConfig(companies=n, seed=seed, days=days, design="behavioral"), ws, progress=False)
add_truth_personas(ws); print(r, f"{time.time()-t:.0f}s", flush=True)
specs = {}
for f, zones in (("stuck_on_errors", ("assistance", "case_study")), ("quiet_in_sandbox", ("feature_highlight", "roi_calculation"))):
    spec = yaml.safe_load(open(Path(__file__).resolve().parents[1] / "programs" / f"{f}.yaml"))
    for s, z in zip(spec["steps"], zones):
        s["campaign"] = str(write_campaign(out / "campaigns" / z, campaign_id=z, experiment_id=None, arms=None, zone=z))
    (out / f"{f}.yaml").write_text(yaml.safe_dump(spec)); specs[f] = load_program(out / f"{f}.yaml")
start = pd.Timestamp("2026-01-06", tz="UTC")
t = time.time()
for day in pd.date_range(start, periods=days, tz="UTC"):
    for s in specs.values():
        run_program(s, workspace=ws, as_of=day.to_pydatetime(), backend=f"mbox:{out}/mbox", ledger=out / "l.sqlite")
    if day.day == 1: print(day.date(), f"{time.time()-t:.0f}s", flush=True)
end = start + pd.Timedelta(days=days - 1)
with Workspace(ws, read_only=True) as w:
    for s in specs.values():
        ro = program_readout(w, s, as_of=end.to_pydatetime())
        print(ro, "\nCOVERS", ro.ci[0] <= ro.truth <= ro.ci[1], flush=True)
