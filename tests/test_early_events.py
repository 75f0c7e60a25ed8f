"""Issue 18: a report run scans ``api_events`` once (the early events) and every result is the same.

The reference for each analysis is the same function on the whole workspace (what the notebooks
did before); the early events must change nothing but the time. The faster pandas routes that
came with it (isin, the persona shares, the contact groups, the Qini band) are checked against the
pandas calls they replace.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mof_experiments.checks import isin
from mof_experiments.engagement import sandbox_activity_before
from mof_experiments.experiments.outcomes import pre_assignment_features
from mof_experiments.reports import load_report_data
from mof_experiments.reports.early_events import (EarlyEventsSource, events_source, first_sends, reach_times,
                                                  write_early_events)
from mof_experiments.reports.snapshot import SNAPSHOT_ENV
from mof_experiments.segments.behavior import behavior_at
from mof_experiments.workspace import Workspace

AS_OF = "2026-05-01"
EXP = "mof_email_2026"


@pytest.fixture(scope="module")
def loaded(sim2000_path, tmp_path_factory):
    d = load_report_data(str(sim2000_path), AS_OF)
    with Workspace(sim2000_path, read_only=True) as ws:
        sends = first_sends(ws, d.as_of).rename_axis("company_id").reset_index()
        reach = reach_times(d.funnel, d.assignments, sends)
        early = write_early_events(ws, reach, tmp_path_factory.mktemp("early") / "early.parquet")
        total = ws.count("api_events")
    return d, early, total


def _cutoffs(d):
    first_email = d.messages.groupby("company_id", as_index=False)["sent_at"].min() \
        .rename(columns={"sent_at": "cutoff_at"})
    lm = d.funnel.dropna(subset=["first_sandbox_at"])[["company_id", "first_sandbox_at"]]
    lm = lm.assign(cutoff_at=lm["first_sandbox_at"] + pd.Timedelta(days=7))
    lm = lm[lm["cutoff_at"] <= d.as_of][["company_id", "cutoff_at"]]
    a = d.assignments.sort_values("assigned_at").drop_duplicates("company_id")
    enrolled = a.assign(cutoff_at=a["assigned_at"] + pd.Timedelta(days=7))[["company_id", "cutoff_at"]]
    return {"first email": first_email, "funnel landmark": lm, "engagement landmark": enrolled}


@pytest.mark.slow
def test_the_file_holds_each_companys_events_before_its_reach_and_far_fewer(loaded, sim2000_path):
    d, early, total = loaded
    ev = pd.read_parquet(early.path)
    assert 0 < early.rows == len(ev) < 0.5 * total          # the point: most events are later
    r = ev["company_id"].map(early.reach)
    assert r.notna().all() and (pd.to_datetime(ev["ts"], utc=True) < r).all()
    # and nothing before the reach is missing: the same count straight from the workspace
    with Workspace(sim2000_path, read_only=True) as ws:
        a = ws.read("api_events", ["company_id", "ts"])
    want = int((a["ts"] < a["company_id"].map(early.reach)).sum())
    assert early.rows == want


@pytest.mark.slow
@pytest.mark.parametrize("which", ["first email", "funnel landmark", "engagement landmark"])
def test_sandbox_activity_and_behavior_from_the_early_events_equal_the_workspace(loaded, sim2000_path, which):
    d, early, _ = loaded
    cut = _cutoffs(d)[which]
    assert early.covers(cut)
    with Workspace(sim2000_path, read_only=True) as ws:
        want_act, want_beh = sandbox_activity_before(ws, cut), behavior_at(ws, cut)
        with events_source(ws, early, cut) as src:
            assert isinstance(src, EarlyEventsSource)
            got_act, got_beh = sandbox_activity_before(src, cut), behavior_at(src, cut)
    assert want_act["sandbox_calls_before"].sum() > 0 and want_beh["endpoint_share"].max() > 0
    pd.testing.assert_frame_equal(got_act, want_act, check_exact=True)
    pd.testing.assert_frame_equal(got_beh, want_beh, check_exact=True)


@pytest.mark.slow
def test_pre_assignment_features_from_the_early_events_equal_the_workspace(loaded, sim2000_path):
    d, early, _ = loaded
    asg = d.assignments[d.assignments["experiment_id"] == EXP]
    with Workspace(sim2000_path, read_only=True) as ws:
        want = pre_assignment_features(ws, EXP, as_of=d.as_of)
        with events_source(ws, early, asg, "assigned_at") as src:
            assert isinstance(src, EarlyEventsSource)
            got = pre_assignment_features(src, EXP, as_of=d.as_of)
    assert want["calls"].sum() > 0 and want["active_days"].max() > 1 and want["n_contacts"].sum() > 0
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@pytest.mark.slow
def test_a_cutoff_past_the_reach_reads_the_workspace_and_gets_the_same(loaded, sim2000_path):
    d, early, _ = loaded
    cut = _cutoffs(d)["funnel landmark"].copy()
    cut.loc[cut.index[0], "cutoff_at"] = early.reach[cut["company_id"].iloc[0]] + pd.Timedelta(seconds=1)
    unknown = pd.DataFrame({"company_id": ["no-such-company"], "cutoff_at": [pd.Timestamp(AS_OF, tz="UTC")]})
    assert not early.covers(cut) and not early.covers(unknown)
    assert early.covers(cut.iloc[1:]) and early.covers(cut.assign(cutoff_at=pd.NaT))
    with Workspace(sim2000_path, read_only=True) as ws:
        with events_source(ws, early, cut) as src:
            assert src is ws                                     # not covered: the whole table
            got = behavior_at(src, cut)
        with events_source(ws, None, cut) as src:
            assert src is ws
    with Workspace(sim2000_path, read_only=True) as ws:
        pd.testing.assert_frame_equal(got, behavior_at(ws, cut), check_exact=True)


@pytest.mark.slow
def test_the_loader_in_a_run_hands_out_the_early_events_once(sim2000_path, tmp_path, monkeypatch):
    tmp_path = tmp_path / "run folder's snapshot"                 # a quote in the path, as --out may have
    tmp_path.mkdir()
    monkeypatch.setenv(SNAPSHOT_ENV, str(tmp_path))
    d = load_report_data(str(sim2000_path), AS_OF, experiment_id=EXP)
    cut = _cutoffs(d)["engagement landmark"]
    with d.events_before(cut) as src:
        assert isinstance(src, EarlyEventsSource)
        got = sandbox_activity_before(src, cut)
    assert len(list(tmp_path.glob("early_events-*.parquet"))) == 1
    d2 = load_report_data(str(sim2000_path), AS_OF, experiment_id=EXP)   # another notebook: reads the part
    with d2.events_before(cut) as src:
        assert isinstance(src, EarlyEventsSource)
    assert len(list(tmp_path.glob("early_events-*.parquet"))) == 1
    monkeypatch.delenv(SNAPSHOT_ENV)
    alone = load_report_data(str(sim2000_path), AS_OF, experiment_id=EXP)
    with alone.events_before(cut) as src:
        assert isinstance(src, Workspace)                       # outside a run: the workspace
        pd.testing.assert_frame_equal(got, sandbox_activity_before(src, cut), check_exact=True)
    pd.testing.assert_frame_equal(d.experiment.features, alone.experiment.features, check_exact=True)


def test_isin_equals_pandas_isin_on_str_with_missing_values():
    s = pd.Series(["a", None, "c", "b", "a"], dtype="str")
    for other in (["a", "x"], {"c", None}, pd.Series(["b", "a"], dtype="str"), [], ("c",)):
        want = s.isin(list(other) if isinstance(other, set) else other)
        got = isin(s, other)
        assert got.tolist() == want.tolist(), other
    assert isin(s, ["a"]).tolist() == [True, False, False, False, True]


def test_persona_shares_equal_crosstab_normalized_by_company():
    from mof_experiments.engagement import company_features

    rng = np.random.default_rng(3)
    n = 400
    msgs = pd.DataFrame({"message_id": [f"m{i}" for i in range(n)],
                         "company_id": [f"c{i % 37}" for i in range(n)],
                         "contact_id": [f"k{rng.integers(0, 90)}" for _ in range(n)],
                         "sent_at": pd.Timestamp("2026-01-01", tz="UTC"), "delivered": True,
                         "opened": rng.random(n) < 0.4, "clicked": rng.random(n) < 0.1})
    personas = pd.DataFrame({"contact_id": [f"k{i}" for i in range(80)],
                             "persona": rng.choice(["PM", "DEV", "CFO"], 80)})
    funnel = pd.DataFrame({"company_id": [f"c{i}" for i in range(37)], "stage": "sandbox",
                           "first_production_at": pd.NaT})
    got = company_features(msgs, funnel, personas)
    m = msgs[["company_id", "contact_id"]].drop_duplicates().merge(personas, on="contact_id", how="left")
    m["persona"] = m["persona"].fillna("OTHER")
    want = pd.crosstab(m["company_id"], m["persona"], normalize="index")
    for p in want.columns:
        col = f"share_{p.lower()}"
        assert got.set_index("company_id")[col].reindex(want.index).tolist() == want[p].tolist(), p
    assert set(want.columns) == {"PM", "DEV", "CFO", "OTHER"}


@pytest.mark.slow
def test_contact_groups_equal_the_crosstab_they_replace(sim2000_path):
    from mof_experiments.experiments.outcomes import TITLE_GROUPS, _contact_features

    with Workspace(sim2000_path, read_only=True) as ws:
        c = ws.read("contacts")
        asg = ws.read("assignments")
    asg = asg[asg["experiment_id"] == EXP][["company_id", "assigned_at"]]
    with Workspace(sim2000_path, read_only=True) as ws:
        got = _contact_features(ws, asg).set_index("company_id")
    c = c.merge(asg, on="company_id")
    title = c["job_title"].fillna("").astype("str").str.lower()
    group = pd.Series("other", index=c.index, dtype="str")
    for g, rx in reversed(list(TITLE_GROUPS.items())):          # the former per-contact rule
        group = group.mask(title.str.contains(rx, regex=True) & ~title.str.contains("marketing"), g)
    want = pd.crosstab(c["company_id"], group).reindex(columns=list(TITLE_GROUPS), fill_value=0)
    for g in TITLE_GROUPS:
        assert got[f"n_{g}"].reindex(want.index).tolist() == want[g].tolist(), g
    assert want.to_numpy().sum() > 0 and (want > 0).sum().gt(0).sum() >= 3


def test_qini_band_and_bootstrap_without_sorting_equal_the_metric_per_resample():
    from mof_experiments.uplift import qini_auc_score, uplift_score

    rng = np.random.default_rng(5)
    n = 3000
    y, t = (rng.random(n) < 0.2).astype(int), (rng.random(n) < 0.5).astype(int)
    u = rng.normal(size=n).round(2) + 0.3 * y * t
    s = uplift_score(y, u, t, n_permutations=50, n_bootstrap=20, random_state=9)
    r = np.random.default_rng(9)
    want = np.array([qini_auc_score(y, r.permutation(u), t) for _ in range(50)])
    assert np.array_equal(s.random_scores, want)
    i1, i0 = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    boot = []
    for _ in range(20):                                   # the bootstrap, one sort per resample
        idx = np.r_[r.choice(i1, len(i1)), r.choice(i0, len(i0))]
        boot.append(qini_auc_score(y[idx], u[idx], t[idx]))
    assert (s.ci_low, s.ci_high) == tuple(np.quantile(boot, [0.025, 0.975]))
    assert s.score == qini_auc_score(y, u, t) and s.score > s.random_high


def test_notebooks_start_longest_first_from_the_last_run(tmp_path):
    from mof_experiments.reports.runner import _longest_first

    tasks = [{"name": n} for n in ("a", "b", "c", "d")]
    old, new = tmp_path / "20260101T000000Z", tmp_path / "20260102T000000Z"
    older = tmp_path / "20251231T000000Z"
    for d in (older, old, new):
        d.mkdir()
    (older / "manifest.json").write_text(json.dumps({"notebooks": [{"name": "a", "duration_s": 99.0}]}))
    (old / "manifest.json").write_text(json.dumps({"notebooks": [{"name": "a", "duration_s": 3.0},
                                                                 {"name": "b", "duration_s": 9.5},
                                                                 {"name": "c", "duration_s": 5.0}]}))
    assert [t["name"] for t in _longest_first(tasks, tmp_path, new)] == ["d", "b", "c", "a"]   # d: not timed
    (old / "manifest.json").write_text("{broken")
    assert [t["name"] for t in _longest_first(tasks, tmp_path, new)] == ["b", "c", "d", "a"]   # the older run


@pytest.mark.slow
def test_papermill_without_the_iri_checker_still_validates_notebooks():
    import subprocess
    import sys

    code = """
import sys
from mof_experiments.reports.catalog import import_papermill
import_papermill()
import nbformat
nb = nbformat.read('notebooks/funnel_overview.ipynb', as_version=4)
nbformat.validate(nb)
nb.cells[0]['cell_type'] = 'not-a-cell-type'
try:
    nbformat.validate(nb)
    print('invalid notebook accepted')
except nbformat.ValidationError:
    print('rejected', sys.modules.get('rfc3987_syntax', 'absent'))
"""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "rejected None", out.stdout + out.stderr


@pytest.mark.slow
def test_prewarm_stores_what_the_notebooks_then_only_read(sim2000_path, tmp_path, monkeypatch):
    import importlib

    from mof_experiments.reports.prewarm import prewarm

    funnel_mod = importlib.import_module("mof_experiments.funnel")
    monkeypatch.setenv(SNAPSHOT_ENV, str(tmp_path))
    prewarm(str(sim2000_path), AS_OF)
    stored = sorted(p.name.split("-")[0] for p in tmp_path.glob("*.pkl"))
    assert stored == ["early_events", "email", "funnel", "personas", "tables"]
    parquet = list(tmp_path.glob("early_events-*.parquet"))
    calls = []
    real = funnel_mod.funnel_expr
    monkeypatch.setattr(funnel_mod, "funnel_expr", lambda *a, **k: calls.append(1) or real(*a, **k))
    d = load_report_data(str(sim2000_path), AS_OF)               # a notebook of the run: reads only
    with d.events_before(_cutoffs(d)["first email"]) as src:
        assert isinstance(src, EarlyEventsSource)
    assert calls == [] and list(tmp_path.glob("early_events-*.parquet")) == parquet
    assert sorted(p.name.split("-")[0] for p in tmp_path.glob("*.pkl")) == stored
