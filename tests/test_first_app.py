"""Time to first working app: the never-null headline, groups measured at a landmark, checked
against the simulator's truth; the weekly cohort trend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import copy_workspace
from mof_experiments.first_app import (first_app_by_group, first_app_headline, landmark_cohort, landmark_groups,
                                       persona_mix, weekly_cohorts)
from mof_experiments.funnel import label
from mof_experiments.segments.behavior import behavior_at
from mof_experiments.sources import resolve_as_of
from mof_experiments.workspace import Workspace

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def _funnel(rows):
    """Hand-made funnel rows: (company_id, signup day, first call day, first production day or None)."""
    f = pd.DataFrame(rows, columns=["company_id", "s", "c", "p"]).astype({"p": object})
    day = pd.to_timedelta
    return pd.DataFrame({
        "company_id": f["company_id"], "signup_at": T0 + day(f["s"], "D"),
        "first_call_at": T0 + day(f["c"], "D"), "first_sandbox_at": T0 + day(f["c"], "D"),
        "first_production_at": [T0 + pd.Timedelta(days=p) if pd.notna(p) else pd.NaT for p in f["p"]],
        "days_to_production": [p - c if pd.notna(p) else np.nan for c, p in zip(f["c"], f["p"])],
        "days_observed": [100 - c for c in f["c"]]})


def test_headline_is_never_null_when_fewer_than_half_convert():
    # 10 companies, first call on day 0, observed 100 days; 3 convert after 2, 4 and 6 days
    f = _funnel([(f"c{i}", 0, 0, p) for i, p in enumerate([2, 4, 6] + [None] * 7)])
    h = first_app_headline(f, horizon_days=30)
    assert h.converted_by == pytest.approx(0.3) and h.companies == 10 and h.converted == 3
    assert np.isnan(h.km_median_days) and h.km_median == "not reached: 30% by day 30"
    assert h.median_converted_days == pytest.approx(4.0)  # converted only: 2, 4, 6
    assert h.ci[0] < 0.3 < h.ci[1]


def test_landmark_cohort_drops_early_converters_and_counts_from_the_landmark():
    f = _funnel([("early", 0, 0, 3), ("late", 0, 0, 17), ("never", 0, 0, None), ("too_new", 0, 96, None)])
    c = landmark_cohort(f, T0 + pd.Timedelta(days=100), landmark_days=7).set_index("company_id")
    assert set(c.index) == {"late", "never"}  # converted before day 7; landmark after as_of
    assert c.loc["late", "duration"] == pytest.approx(10.0) and c.loc["late", "event"] == 1
    assert c.loc["never", "duration"] == pytest.approx(93.0) and c.loc["never", "event"] == 0


def test_weekly_cohorts_rate_only_complete_weeks():
    # signups on Monday 2026-01-05 (two, one converts on day 10) and Monday 2026-03-02 (window not over)
    f = _funnel([("a", 4, 4, 14), ("b", 4, 5, None), ("c", 60, 60, None)])
    w = weekly_cohorts(f, T0 + pd.Timedelta(days=70), horizon_days=30)
    assert list(w["week"].dt.strftime("%Y-%m-%d")) == ["2026-01-05", "2026-03-02"]
    assert w["rate"].iloc[0] == pytest.approx(0.5) and bool(w["complete"].iloc[0])
    assert np.isnan(w["rate"].iloc[1]) and not bool(w["complete"].iloc[1])


@pytest.fixture(scope="module")
def landmark_run(sim2000_path):
    with Workspace(sim2000_path, read_only=True) as ws:
        as_of = resolve_as_of(ws, None)
        funnel = label(ws, as_of)
        cohort = landmark_cohort(funnel, as_of, landmark_days=7)
        beh = behavior_at(ws, cohort.rename(columns={"landmark_at": "cutoff_at"}))
        truth = ws.read("sim_truth")
        personas = ws.read("sim_contact_truth").merge(ws.read("contacts")[["contact_id", "company_id"]])
        groups = landmark_groups(cohort, behavior=beh, companies=ws.read("companies"), mix=persona_mix(personas),
                                 assignments=ws.read("assignments"), truth=truth)
    return as_of, cohort, groups, first_app_by_group(cohort, groups, horizon_days=30), truth


def test_share_converted_by_day_30_per_archetype_covers_the_simulators_truth(landmark_run):
    as_of, cohort, groups, table, truth = landmark_run
    arche = table[table["dimension"] == "archetype"].set_index("group")
    assert len(arche) >= 4
    # truth: the planted first production time, on the companies whose 30 days after the landmark
    # are all observed (the estimate also uses the censored ones)
    t = cohort.merge(truth[["company_id", "archetype", "first_production_at"]].rename(
        columns={"first_production_at": "true_fp"}), on="company_id")
    full = t[t["landmark_at"] + pd.Timedelta(days=30) <= as_of]
    true_share = (full["true_fp"] < full["landmark_at"] + pd.Timedelta(days=30)).groupby(full["archetype"]).mean()
    for a, row in arche.iterrows():
        assert row["ci_low"] <= true_share[a] <= row["ci_high"], (a, true_share[a], row.to_dict())
    # and the archetypes are told apart: fast adopters convert far more than tire kickers
    assert arche.loc["fast_adopter", "ci_low"] > arche.loc["tire_kicker", "ci_high"]


@pytest.mark.slow
def test_every_group_is_the_same_when_events_after_the_landmark_are_deleted(landmark_run, sim2000_path, tmp_path):
    """No group is defined after the landmark: remove every API call at or after each company's
    landmark (and its later production), and the groups do not change."""
    as_of, cohort, groups, _, truth = landmark_run
    path = copy_workspace(sim2000_path, tmp_path)
    with Workspace(path) as ws:
        cut = cohort[["company_id", "landmark_at"]]
        db = ws.con.con  # the DuckDB connection under Ibis
        before = db.execute("SELECT count(*) FROM api_events").fetchone()[0]
        db.register("cut", cut)
        db.execute("DELETE FROM api_events USING cut WHERE api_events.company_id = cut.company_id "
                   "AND api_events.ts >= cut.landmark_at")
        deleted = before - db.execute("SELECT count(*) FROM api_events").fetchone()[0]
        beh = behavior_at(ws, cohort.rename(columns={"landmark_at": "cutoff_at"}))
        personas = ws.read("sim_contact_truth").merge(ws.read("contacts")[["contact_id", "company_id"]])
        again = landmark_groups(cohort, behavior=beh, companies=ws.read("companies"), mix=persona_mix(personas),
                                assignments=ws.read("assignments"), truth=truth)
    key = ["dimension", "group", "company_id"]
    pd.testing.assert_frame_equal(groups.sort_values(key).reset_index(drop=True),
                                  again.sort_values(key).reset_index(drop=True))
    assert deleted > 100_000  # most of the followed companies' calls (and every later conversion) are gone
