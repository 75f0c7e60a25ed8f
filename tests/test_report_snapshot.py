"""Issue 18: a report run computes what the notebooks load once, and the reports say the same.

The reference is the loader without a snapshot (what every notebook did before) and a report run
with ``--no-snapshot``; the snapshot must change nothing but the time.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from helpers import add_truth_personas, copy_workspace, run_mof
from mof_experiments.reports import load_report_data
from mof_experiments.reports.snapshot import SNAPSHOT_ENV, Snapshot, part_key, workspace_identity
from mof_experiments.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
FUNNEL = sys.modules["mof_experiments.funnel"]


@pytest.fixture(scope="module")
def ws_path(sim2000_path, tmp_path_factory):
    path = copy_workspace(sim2000_path, tmp_path_factory.mktemp("snapws"))
    add_truth_personas(path)
    return path


def _frames(d):
    x = d.experiment
    return {"funnel": d.funnel, "companies": d.companies, "assignments": d.assignments, "messages": d.messages,
            "engagements": d.engagements, "personas": d.personas,
            **({"outcomes": x.outcomes, "features": x.features} if x is not None else {}),
            **{f"truth_{k}": v for k, v in d.truth.items()}}


def _count_labelings(monkeypatch):
    calls = []
    real = FUNNEL.funnel_expr

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(FUNNEL, "funnel_expr", counting)
    return calls


@pytest.mark.parametrize("kwargs", [dict(), dict(email=False, experiment_id="mof_email_2026", window_days=20.0),
                                    dict(email=False, min_success=3)])
@pytest.mark.slow
def test_loader_through_a_snapshot_equals_the_loader_alone(ws_path, tmp_path, monkeypatch, kwargs):
    monkeypatch.delenv(SNAPSHOT_ENV, raising=False)
    alone = load_report_data(str(ws_path), "2026-05-01", **kwargs)
    monkeypatch.setenv(SNAPSHOT_ENV, str(tmp_path))
    first = load_report_data(str(ws_path), "2026-05-01", **kwargs)     # computes and stores the parts
    calls = _count_labelings(monkeypatch)
    second = load_report_data(str(ws_path), "2026-05-01", **kwargs)    # reads them
    assert calls == []
    for got in (first, second):
        assert got.as_of == alone.as_of and got.workspace_path == alone.workspace_path
        a, g = _frames(alone), _frames(got)
        assert a.keys() == g.keys()
        for k in a:
            if a[k] is None:
                assert g[k] is None, k
            else:
                pd.testing.assert_frame_equal(g[k], a[k], check_exact=True, obj=k)
    if "experiment_id" in kwargs:
        assert second.experiment.weights == alone.experiment.weights
        assert second.experiment.window_days == 20.0


def test_the_experiment_notebooks_loader_labels_the_funnel_once(ws_path, monkeypatch):
    monkeypatch.delenv(SNAPSHOT_ENV, raising=False)
    calls = _count_labelings(monkeypatch)
    load_report_data(str(ws_path), "2026-05-01", email=False, experiment_id="mof_email_2026")
    assert len(calls) == 1                     # it was 2: the funnel, then again for the outcomes


@pytest.mark.slow
def test_reuse_labels_only_reuses_the_same_source_date_and_rule(ws_path):
    with Workspace(ws_path, read_only=True) as ws, Workspace(ws_path, read_only=True) as other:
        plain = FUNNEL.label(ws, "2026-05-01")
        with FUNNEL.reuse_labels(ws, {("2026-05-01", 1): plain.head(3)}) as memo:
            assert len(FUNNEL.label(ws, "2026-05-01")) == 3                 # the seeded frame
            assert len(FUNNEL.label(other, "2026-05-01")) == len(plain)     # another source: labeled
            two = FUNNEL.label(ws, "2026-05-01", min_success=2)             # another rule: labeled, kept
            assert len(memo) == 2 and (two["first_production_at"] > plain["first_production_at"]).sum() > 100
        assert len(FUNNEL.label(ws, "2026-05-01")) == len(plain)             # outside the block: as usual


def test_parts_are_keyed_by_arguments_and_the_workspace_file(ws_path, tmp_path):
    copy = copy_workspace(ws_path, tmp_path / "copy")
    k = part_key("funnel", ws_path, as_of="2026-05-01", min_success=1)
    assert k == part_key("funnel", ws_path, as_of="2026-05-01", min_success=1)
    assert k != part_key("funnel", ws_path, as_of="2026-05-01", min_success=2)
    assert k != part_key("funnel", ws_path, as_of="2026-05-02", min_success=1)
    assert k != part_key("funnel", copy, as_of="2026-05-01", min_success=1)           # another file
    before = part_key("funnel", copy, as_of="2026-05-01", min_success=1)
    time.sleep(0.01)
    with Workspace(copy) as ws:                                                        # the workspace changes
        ws.write("companies", ws.read("companies").head(10))
    assert workspace_identity(copy) != workspace_identity(ws_path)
    assert part_key("funnel", copy, as_of="2026-05-01", min_success=1) != before


def test_concurrent_loaders_compute_a_part_once(tmp_path):
    snap_calls = []

    def slow():
        snap_calls.append(1)
        time.sleep(0.3)
        return pd.DataFrame({"x": [1, 2, 3]})

    results = []
    ws = tmp_path / "ws.duckdb"
    ws.write_bytes(b"a workspace")
    folder = tmp_path / "snap"
    folder.mkdir()
    threads = [threading.Thread(target=lambda: results.append(Snapshot(folder).get("p", slow, ws, a=1)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(snap_calls) == 1 and len(results) == 4
    assert all(r.equals(results[0]) for r in results)


def test_an_unreadable_part_is_computed_again_not_trusted(tmp_path):
    ws = tmp_path / "ws.duckdb"
    ws.write_bytes(b"a workspace")
    snap = Snapshot(tmp_path / "snap")
    snap.folder.mkdir()
    assert snap.get("p", lambda: 1, ws) == 1 and snap.get("p", lambda: 3, ws) == 1
    (pkl,) = snap.folder.glob("p-*.pkl")
    pkl.write_bytes(b"not a pickle")
    assert snap.get("p", lambda: 2, ws) == 2 and pickle.loads(pkl.read_bytes()) == 2


def test_without_a_run_nothing_is_stored(ws_path, tmp_path, monkeypatch):
    monkeypatch.delenv(SNAPSHOT_ENV, raising=False)
    assert Snapshot.from_env() is None
    monkeypatch.setenv(SNAPSHOT_ENV, str(tmp_path / "absent"))          # a folder that is gone: no snapshot
    assert Snapshot.from_env() is None
    load_report_data(str(ws_path), "2026-05-01", email=False)
    assert not (tmp_path / "absent").exists()


@pytest.mark.slow
def test_report_run_headlines_equal_the_run_without_snapshot(ws_path, tmp_path):
    runs = {}
    for flag in ([], ["--no-snapshot"]):
        out = tmp_path / ("snap" if not flag else "nosnap")
        res = run_mof("report", "run", "--notebooks", str(ROOT / "notebooks"), "--workspace", str(ws_path),
                      "--out", str(out), "--jobs", "2", *flag)
        assert res.returncode == 0, res.stdout + res.stderr
        (run_dir,) = list(out.iterdir())
        assert not (run_dir / ".snapshot").exists()                         # removed when the run ends
        runs[bool(flag)] = (json.loads((run_dir / "manifest.json").read_text()), res)
    (snap, res), (plain, _) = runs[False], runs[True]
    assert [n["name"] for n in snap["notebooks"]] == [n["name"] for n in plain["notebooks"]]
    for a, b in zip(snap["notebooks"], plain["notebooks"]):
        assert a["status"] == b["status"] == "ok"
        # on this (holdout) design without a program run, the content report records only that its grid
        # cannot be estimated and the program readout its status and reason (with the takeaways each)
        least = {"content_optimization": 2, "program_readout": 3}.get(a["name"], 5)
        assert len(a["headlines"]) >= least and a["headlines"] == b["headlines"], a["name"]
    # each notebook's line is printed once (stderr, as it ends); stdout has the outcome
    for nb in snap["notebooks"]:
        assert (res.stdout + res.stderr).count(nb["name"]) == 1
    assert "5 notebooks: 5 ok, 0 failed" in res.stdout


def test_snapshot_env_is_not_left_behind_by_a_run(tmp_path):
    """The runner sets the variable for each kernel only; the caller's environment is as before."""
    from mof_experiments.reports.runner import _execute_task

    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps({"cells": [], "metadata": {"kernelspec": {"name": "python3", "display_name": "p",
                                                                       "language": "python"}},
                              "nbformat": 4, "nbformat_minor": 5}))
    before = os.environ.get(SNAPSHOT_ENV)
    res = _execute_task(dict(input=str(nb), output=str(tmp_path / "o.ipynb"), headlines=str(tmp_path / "h.json"),
                             parameters={}, kernel_name="python3", timeout=None, cwd=str(tmp_path),
                             snapshot=str(tmp_path)))
    assert res["status"] == "ok" and os.environ.get(SNAPSHOT_ENV) == before


@pytest.mark.slow
def test_a_kernel_is_killed_after_its_last_cell_not_left_to_tear_down(tmp_path):
    """The runner does not wait for a kernel's exit (atexit hooks, the teardown of everything it
    imported: 0.7-1.0 s per report at 100M events); the cells' outputs are all in the notebook."""
    from mof_experiments.reports.runner import _execute_task

    flag = tmp_path / "atexit-ran"
    code = (f"import atexit, pathlib\natexit.register(lambda: pathlib.Path({str(flag)!r}).write_text('ran'))\n"
            "print('last cell')")
    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "id": "only", "metadata": {}, "source": code, "outputs": [],
                                         "execution_count": None}],
                              "metadata": {"kernelspec": {"name": "python3", "display_name": "p", "language": "python"}},
                              "nbformat": 4, "nbformat_minor": 5}))
    res = _execute_task(dict(input=str(nb), output=str(tmp_path / "o.ipynb"), headlines=str(tmp_path / "h.json"),
                             parameters={}, kernel_name="python3", timeout=None, cwd=str(tmp_path), snapshot=None))
    assert res["status"] == "ok"
    out = json.loads((tmp_path / "o.ipynb").read_text())
    assert "".join(out["cells"][-1]["outputs"][0]["text"]) == "last cell\n"
    time.sleep(0.5)
    assert not flag.exists()          # a graceful shutdown runs the kernel's atexit hooks
