"""Program specs, one day's decisions, dry runs, missed days, status and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import add_truth_personas, copy_workspace, run_mof, write_campaign

from mof_experiments.errors import MofConfigError
from mof_experiments.programs import load_program, run_program
from mof_experiments.programs.evaluate import decide_day
from mof_experiments.programs.store import ENROLLMENT_COLUMNS, STEP_COLUMNS
from mof_experiments.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


def _spec(folder: Path, **over) -> dict:
    camp = write_campaign(folder / "c", campaign_id="x", experiment_id=None, arms=None)
    spec = {"program_id": "p1", "trigger": {"segment": "stuck_on_errors"}, "holdout": 0.2,
            "steps": [{"name": "a", "campaign": str(camp), "personas": ["DEV"], "delay_days": 0},
                      {"name": "b", "campaign": str(camp), "personas": ["PM"], "delay_days": 4,
                       "condition": "in_sandbox"}],
            "exits": {"max_days": 14}}
    spec.update(over)
    return spec


def _write(folder: Path, spec: dict) -> Path:
    p = folder / "p.yaml"
    p.write_text(yaml.safe_dump(spec, sort_keys=False))
    return p


@pytest.mark.parametrize("shipped,zones", [("stuck_on_errors.yaml", ("assistance", "case_study")),
                                           ("quiet_in_sandbox.yaml", ("feature_highlight", "roi_calculation"))])
def test_shipped_programs_load_with_their_campaigns(tmp_path, shipped, zones):
    # campaigns/<zone>.yaml belong to the content issue: written here at the paths the programs name
    (tmp_path / "programs").mkdir()
    (tmp_path / "programs" / shipped).write_text((ROOT / "programs" / shipped).read_text())
    for z in zones:
        write_campaign(tmp_path / "campaigns" / "t", campaign_id=z, experiment_id=None, arms=None)
        (tmp_path / "campaigns" / "t" / "campaign.yaml").rename(tmp_path / "campaigns" / f"{z}.yaml")
        for f in ("t.txt.j2", "t.html.j2"):
            (tmp_path / "campaigns" / f).write_text((tmp_path / "campaigns" / "t" / f).read_text())
    spec = load_program(tmp_path / "programs" / shipped)
    assert [s.campaign_path.name for s in spec.steps] == [f"{z}.yaml" for z in zones]
    assert spec.experiment_id == f"program.{spec.program_id}" and spec.holdout == 0.2


@pytest.mark.parametrize("change,match", [
    (lambda s: s.update(color="red"), r"p\.yaml: key 'color': unknown key"),
    (lambda s: s["steps"][0].update(delay=3), r"key 'steps\[0\]\.delay': unknown key"),
    (lambda s: s["exits"].update(when="never"), r"key 'exits\.when': unknown key"),
    (lambda s: s["steps"][1].update(delay_days=-1), r"steps\[1\]\.delay_days': expected an integer >= 0"),
    (lambda s: s["steps"][0].update(delay_days=6), r"steps\[1\]\.delay_days': 4 is before the previous step's 6"),
    (lambda s: s["steps"][1].update(delay_days=20), r"20 days is not before exits\.max_days \(14\)"),
    (lambda s: s.update(holdout=1.0), r"key 'holdout': expected a share strictly between 0 and 1"),
    (lambda s: s.update(trigger={"segment": "stuck"}), r"trigger\.segment': unknown segment 'stuck'"),
    (lambda s: s.update(trigger={"rule": "calls >> 3"}), r"key 'trigger\.rule'"),
    (lambda s: s.update(trigger={"rule": "nonsense > 3"}), r"key 'trigger\.rule'.*nonsense"),
    (lambda s: s["steps"][0].update(personas=["CTO"]), r"steps\[0\]\.personas': expected a list of PM"),
    (lambda s: s["steps"][1].update(name="a"), r"duplicate step name 'a'"),
    (lambda s: s["steps"][0].update(campaign="nope.yaml"), r"campaign spec not found: nope\.yaml"),
    (lambda s: s["steps"][0].update(condition="maybe"), r"condition': expected one of in_trigger"),
    (lambda s: s.pop("holdout"), r"key 'holdout': required key missing"),
    (lambda s: s.update(exits={"production": False}), r"reaching production always exits"),
])
def test_bad_specs_are_one_line_errors(tmp_path, change, match):
    spec = _spec(tmp_path)
    change(spec)
    path = _write(tmp_path, spec)
    with pytest.raises(MofConfigError, match=match) as info:
        load_program(path)
    assert "\n" not in str(info.value)


def _behavior(rows):
    cols = ["company_id", "sandbox_calls", "sandbox_error_rate", "calls", "in_production"]
    return pd.DataFrame(rows, columns=cols)


def test_one_day_decisions_hand_computed(tmp_path):
    spec = load_program(_write(tmp_path, _spec(tmp_path)))
    day = pd.Timestamp("2026-03-10", tz="UTC")
    beh = _behavior([("c1", 20, 0.5, 20, 0),    # stuck, enters
                     ("c2", 20, 0.1, 20, 0),    # not stuck
                     ("c3", 20, 0.5, 25, 1),    # stuck but in production: never enters
                     ("c4", 20, 0.5, 20, 0),    # stuck, global holdout
                     ("c5", 20, 0.5, 20, 0)])   # stuck, only a CFO: no contact of the program's personas
    contacts = pd.DataFrame({"contact_id": ["d1", "p1", "d3", "d4", "f5"], "company_id": ["c1", "c1", "c3", "c4", "c5"],
                             "persona": ["DEV", "PM", "DEV", "DEV", "CFO"]})
    empty_e = pd.DataFrame({c: pd.Series(dtype="object") for c in ENROLLMENT_COLUMNS})
    empty_s = pd.DataFrame({c: pd.Series(dtype="object") for c in STEP_COLUMNS})
    asg = pd.DataFrame({"company_id": ["c1"], "arm": ["program"]})
    dec = decide_day(spec, day.to_pydatetime(), day.to_pydatetime(), beh, contacts, empty_e, empty_s, {"c4"}, asg)
    assert sorted(dec.entries["contact_id"]) == ["d1", "p1"] and set(dec.entries["arm"]) == {"program"}
    assert list(dec.due) == ["a"] and list(dec.due["a"]["contact_id"]) == ["d1"]     # the PM's step is 4 days out
    # four days later c1 reached production: it exits, and the PM gets nothing
    enr = dec.entries
    beh2 = _behavior([("c1", 20, 0.5, 30, 1)])
    dec2 = decide_day(spec, (day + pd.Timedelta(days=4)).to_pydatetime(), (day + pd.Timedelta(days=4)).to_pydatetime(),
                      beh2, contacts, enr, empty_s, set(), asg)
    assert list(dec2.exits["exit_reason"]) == ["production"] and dec2.due == {}
    # ... or, still in sandbox but the run is 3 days late (catch-up): too late for the PM's step
    beh3 = _behavior([("c1", 20, 0.5, 30, 0)])
    late = decide_day(spec, (day + pd.Timedelta(days=4)).to_pydatetime(), (day + pd.Timedelta(days=7)).to_pydatetime(),
                      beh3, contacts, enr, empty_s, set(), asg)
    # (step a, never sent, was due 7 days before as_of: too late as well; late_days is 2)
    assert sorted(zip(late.skipped["contact_id"], late.skipped["step"], late.skipped["reason"])) == \
        [("d1", "a", "too_late"), ("p1", "b", "too_late")]
    assert late.due == {}


@pytest.fixture(scope="module")
def small(tmp_path_factory, simulated):
    d = tmp_path_factory.mktemp("prog")
    ws = copy_workspace(simulated(companies=600, seed=3), d)
    add_truth_personas(ws)
    return d, ws


@pytest.mark.slow
def test_dry_run_writes_nothing_and_missed_days_are_caught_up(small, tmp_path):
    d, src = small
    ws = copy_workspace(src, tmp_path)
    prog = _write(tmp_path, _spec(tmp_path))
    led = tmp_path / "l.sqlite"
    dry = run_program(prog, workspace=ws, as_of=pd.Timestamp("2026-03-01", tz="UTC"), dry_run=True)
    with Workspace(ws, read_only=True) as w:
        assert not w.has("program_enrollments")
    assert not led.exists()
    first = run_program(prog, workspace=ws, as_of=pd.Timestamp("2026-03-01", tz="UTC"), backend=f"mbox:{tmp_path}/m",
                        ledger=led)
    assert first.days["entered"].tolist() == dry.days["entered"].tolist() and first.days["sent"].sum() > 0
    # eight days missed: the run of 03-10 evaluates the last catch_up.max_days (7) days, 03-04 .. 03-10, in order
    caught = run_program(prog, workspace=ws, as_of=pd.Timestamp("2026-03-10", tz="UTC"), backend=f"mbox:{tmp_path}/m",
                         ledger=led)
    assert [str(x.date()) for x in caught.days["day"]] == [f"2026-03-{d:02d}" for d in range(4, 11)]
    with Workspace(ws, read_only=True) as w:
        st = w.read("program_steps")
        runs = w.read("program_runs")
    assert len(runs) == 8 and runs["finished_at"].notna().all()
    # the catch-up's rule: a step decided by the run of 03-10 more than late_days (2) after it was due is
    # skipped as too_late, never sent; the others are sent (or skipped by the send's own rules)
    caught_up = st[st["decided_on"] > pd.Timestamp("2026-03-01", tz="UTC")]
    lateness = pd.Timestamp("2026-03-10", tz="UTC") - caught_up["due_at"]
    too_late = lateness > pd.Timedelta(days=2)
    assert too_late.sum() > 0 and (~too_late).sum() > 0
    assert (caught_up.loc[too_late, "reason"] == "too_late").all()
    assert (caught_up.loc[~too_late, "reason"].fillna("") != "too_late").all()
    assert st.duplicated(["contact_id", "entry", "step"]).sum() == 0


@pytest.mark.slow
def test_cli_run_status_readout_and_errors(small, tmp_path):
    d, src = small
    ws = copy_workspace(src, tmp_path)
    prog = _write(tmp_path, _spec(tmp_path))
    r = run_mof("program", "run", str(prog), "--as-of", "2026-03-01", "-w", str(ws), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "dry run" in r.stdout and "would send" in r.stdout
    r = run_mof("program", "run", str(prog), "--as-of", "2026-03-01", "-w", str(ws), "--backend",
                f"mbox:{tmp_path}/m", "--ledger", str(tmp_path / "l.sqlite"), "-q")
    assert r.returncode == 0, r.stderr
    r = run_mof("program", "status", str(prog), "-w", str(ws), "--json")
    st = json.loads(r.stdout)
    sent = {s["step"]: s["sent"] for s in st["steps"]}
    mbox = (tmp_path / "m").read_text().count("\nFrom ") + 1
    assert sent["a"] == mbox and st["last_day"].startswith("2026-03-01")
    bad = _spec(tmp_path, extra=1)
    r = run_mof("program", "run", str(_write(tmp_path, bad)), "-w", str(ws), "--as-of", "2026-03-01")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "key 'extra': unknown key" in r.stderr
    # changing the holdout of a running program is refused: a new design is a new program_id
    r = run_mof("program", "run", str(_write(tmp_path, _spec(tmp_path, holdout=0.5))), "-w", str(ws), "--as-of",
                "2026-03-02", "--backend", f"mbox:{tmp_path}/m", "--ledger", str(tmp_path / "l.sqlite"))
    assert r.returncode == 2 and "already running with holdout 0.2" in r.stderr


@pytest.mark.slow
def test_a_second_run_of_the_same_program_is_refused_while_one_runs(small, tmp_path):
    from mof_experiments.errors import MofConfigError
    from mof_experiments.programs.run import _program_lock

    d, src = small
    ws = copy_workspace(src, tmp_path)
    prog = _write(tmp_path, _spec(tmp_path))
    with _program_lock(ws, "p1"):
        with pytest.raises(MofConfigError, match="another `mof program run` of this program is running"):
            run_program(prog, workspace=ws, as_of=pd.Timestamp("2026-03-01", tz="UTC"), backend=f"mbox:{tmp_path}/m",
                        ledger=tmp_path / "l.sqlite")
    with Workspace(ws, read_only=True) as w:
        assert not w.has("program_enrollments")


@pytest.mark.spark
def test_a_run_evaluated_on_spark_decides_what_the_duckdb_run_decides(small, tmp_path):
    """`--engine pyspark --source DIR`: the trigger's behavior aggregation runs on Spark (local[2]) over the
    exported Parquet files; the days decided (entries, arms, due steps and their contacts) are DuckDB's."""
    import os

    pytest.importorskip("pyspark", reason="the spark extra is installed by `make test`")
    from mof_experiments.engines import export_parquet

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    d, src = small
    ws = copy_workspace(src, tmp_path)
    with Workspace(ws, read_only=True) as w:
        export_parquet(w, tmp_path / "parquet")
    prog = _write(tmp_path, _spec(tmp_path))
    day = pd.Timestamp("2026-03-01", tz="UTC")
    duck = run_program(prog, workspace=ws, as_of=day, dry_run=True)
    spark = run_program(prog, workspace=ws, as_of=day, dry_run=True, engine="pyspark", source=tmp_path / "parquet")
    cols = ["entered", "entered_program", "entered_holdout", "exited", "due"]
    assert duck.days[cols].to_dict("records") == spark.days[cols].to_dict("records")
    assert duck.days["entered"].sum() > 0 and duck.days["due"].sum() > 0
    assert duck.plan.keys() == spark.plan.keys()
    for key, dec in duck.plan.items():
        other = spark.plan[key]
        assert dec.due.keys() == other.due.keys()
        for step, frame in dec.due.items():
            assert sorted(map(str, frame["contact_id"])) == sorted(map(str, other.due[step]["contact_id"]))
        cols = ["company_id", "contact_id", "arm"]
        pd.testing.assert_frame_equal(dec.entries[cols].sort_values(cols).reset_index(drop=True),
                                      other.entries[cols].sort_values(cols).reset_index(drop=True))


def test_a_report_finds_the_program_spec_from_wherever_it_runs(tmp_path, monkeypatch):
    """The program readout's default `programs/stuck_on_errors.yaml` ("relative to the project")
    is found from the project, from notebooks/ (papermill's folder) and from a folder outside
    the project (a run started elsewhere with $MOF_WORKSPACE); an absolute path is kept."""
    from mof_experiments.programs import find_program

    root = Path(__file__).resolve().parents[1]
    want = (root / "programs" / "stuck_on_errors.yaml").resolve()
    for where in (root, root / "notebooks", tmp_path):
        monkeypatch.chdir(where)
        got = find_program("programs/stuck_on_errors.yaml")
        assert got.resolve() == want and load_program(got, check_campaigns=False).program_id
    assert find_program(str(want)) == want
    (tmp_path / "programs").mkdir()
    (tmp_path / "programs" / "stuck_on_errors.yaml").write_text("program_id: mine\n")
    assert find_program("programs/stuck_on_errors.yaml") == Path("programs/stuck_on_errors.yaml")  # the cwd's own first
    with pytest.raises(MofConfigError, match="nope.yaml: program spec not found"):
        load_program(find_program("programs/nope.yaml"))
