"""The content test: planted truth, the grid, the cross-fitted 3x check, best zones, allocation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mof_experiments.content import (GENERIC, best_zones, content_grid, engagement_multiple,
                                     engagement_multiple_truth, zone_allocation)
from mof_experiments.errors import MofInputError
from mof_experiments.reports import load_report_data
from mof_experiments.simulate import SimConfig
from mof_experiments.simulate.content_test import GRID, content_truth, mean_open_rate, true_engagement_multiple
from mof_experiments.workspace import Workspace

SIX = ["PM", "GC", "CSO", "CFO", "CEO", "DEV"]
OWN = {"PM": "feature_highlight", "DEV": "assistance", "CEO": "case_study", "CFO": "roi_calculation",
       "CSO": "security", "GC": "compliance"}


def _grid(path):
    data = load_report_data(path, "")
    g = content_grid(data.messages, data.personas, data.assignments, data.funnel, experiment_id="mof_email_2026",
                     as_of=data.as_of, engagements=data.engagements)
    return data, g


@pytest.fixture(scope="module")
def small(simulated):
    """A 4,000-company content test (seed 5)."""
    return _grid(simulated(design="content_test", companies=4000, seed=5))


def test_planted_grid_makes_each_personas_own_zone_best_and_about_3x():
    truth = content_truth(SimConfig())
    best = truth[truth["zone"] != GENERIC].sort_values("engagement").drop_duplicates("persona", keep="last")
    assert dict(zip(best["persona"], best["zone"])) == OWN
    assert 2.7 < true_engagement_multiple(truth) < 3.3
    assert len(GRID) == 6 * 7 and set(GRID["zone"]) == set(OWN.values()) | {GENERIC}
    assert GRID["unsubscribe_prob"].between(0.001, 0.005).all() and GRID["complaint_prob"].between(1e-4, 6e-4).all()


def test_mean_open_rate_matches_monte_carlo():
    rng = np.random.default_rng(3)
    x = 1.8 * rng.standard_normal(400_000) + rng.normal(0, 0.5, 400_000)
    mc = (1 / (1 + np.exp(-(np.log(0.3 / 0.7) + x)))).mean()
    assert mean_open_rate(0.3, beta=1.8) == pytest.approx(mc, abs=0.002)


@pytest.mark.slow
def test_sim_content_is_written_and_cells_cover_the_planted_engagement(small):
    data, g = small
    sc = data.truth["sim_content"]
    assert len(sc) == 42 and {"open_prob", "click_prob", "effect", "engagement"} <= set(sc.columns)
    t = g.table[g.table["persona"].isin(SIX)].merge(sc[["persona", "zone", "engagement"]], on=["persona", "zone"])
    covered = ((t["click_ci_low"] <= t["engagement"]) & (t["engagement"] <= t["click_ci_high"])).mean()
    assert covered >= 0.85, t[["persona", "zone", "click_rate", "engagement"]]
    # at 4,000 companies the four small personas have ~40 messages per cell: flagged, not estimable
    assert {"PM", "DEV"} <= set(g.estimable) and g.reason is None


@pytest.mark.slow
def test_grid_guardrails_are_realistic_and_lifts_have_newcomb_intervals(small):
    _, g = small
    t = g.table[g.table["persona"].isin(SIX)]
    pooled_unsub = (t["unsubscribe_rate"] * 1).mean()
    assert 0.001 < pooled_unsub < 0.006
    rows = t[t["zone"] != GENERIC]
    assert (rows["lift_vs_generic_ci_low"] <= rows["lift_vs_generic"]).all()
    assert (rows["lift_vs_generic"] <= rows["lift_vs_generic_ci_high"]).all()
    assert t.loc[t["zone"] == GENERIC, "lift_vs_generic"].isna().all()
    # too-little-data rows carry no rating; the others are rated within persona
    assert t.loc[t["too_little_data"], "rating"].isna().all()
    assert set(t.loc[~t["too_little_data"], "rating"]) <= {"low", "mid", "high"}


@pytest.mark.slow
def test_cross_fitting_is_not_the_naive_same_data_estimate(small):
    data, g = small
    em = engagement_multiple(g.messages, seed=0)
    assert em.ci_low < em.estimate < em.ci_high
    truth = engagement_multiple_truth(em, data.truth["sim_content"])
    assert 2.0 < truth < 3.3
    # a persona counts when both halves chose a zone (>= 30 delivered there): two rows each
    assert set(em.choices["half"]) == {0, 1} and len(em.choices) == 2 * len(em.weights)
    assert {"PM", "DEV"} <= set(em.weights) and sum(em.weights.values()) == pytest.approx(1.0)


@pytest.mark.slow
def test_default_holdout_design_says_the_grid_cannot_be_estimated(sim_default_path):
    data = load_report_data(sim_default_path, "")
    g = content_grid(data.messages, data.personas, data.assignments, data.funnel, experiment_id="mof_email_2026",
                     as_of=data.as_of)
    assert g.estimable == ()
    assert "cannot be estimated" in g.reason
    with pytest.raises(MofInputError, match="needs a content test"):
        engagement_multiple(g.messages)


@pytest.mark.slow
def test_default_design_unsubscribes_and_complaints_are_realistic(sim_default_path):
    with Workspace(sim_default_path, read_only=True) as ws:
        ev = ws.read("email_events")
    sent = (ev["event"] == "sent").sum()
    unsub = (ev["event"] == "unsubscribe").sum() / sent
    compl = (ev["event"] == "complaint").sum() / sent
    assert 0.001 <= unsub <= 0.005, unsub
    assert compl <= 0.001


def test_engagement_multiple_hand_computed():
    # two halves chosen by hash; build a case where every persona's zones are identical in both
    # halves so the choice is known: PM zone a 20/100 per half, zone b 10/100, generic 10/100
    rows = []
    for i in range(400):
        zone = ("a", "b", GENERIC, "a")[i % 4]
        rows.append(dict(contact_id=f"c{i}", persona="PM", zone=zone, delivered=True,
                         clicked=(i // 4) % 5 == 0 if zone != "a" else (i // 4) % 5 < 2))
    em = engagement_multiple(pd.DataFrame(rows), seed=1, personas=("PM",))
    assert set(em.choices["zone"]) == {"a"}
    assert em.allocation_rate == pytest.approx(0.4, abs=0.02)
    assert em.generic_rate == pytest.approx(0.2, abs=0.02)
    assert em.estimate == pytest.approx(em.allocation_rate / em.generic_rate)
    se = np.sqrt(0.4 * 0.6 / 200 / 0.4 ** 2 + 0.2 * 0.8 / 100 / 0.2 ** 2)
    assert np.log(em.ci_high / em.estimate) == pytest.approx(1.959964 * se, rel=0.05)


def test_thompson_guard_keeps_a_two_send_row_from_taking_the_traffic():
    t = pd.DataFrame({"persona": ["CEO"] * 3, "zone": ["compliance", "case_study", "roi_calculation"],
                      "delivered": [2, 400, 380], "clicked": [2, 40, 20]})
    alloc = zone_allocation(t, 1000, seed=0).set_index("zone")
    assert alloc.loc["compliance", "sends_next"] == 28  # brought to the minimum of 30, no more
    assert alloc.loc["compliance", "guarded"]
    assert alloc["sends_next"].sum() == 1000
    assert alloc.loc["case_study", "sends_next"] > 900  # 10% vs 5.3%: case study wins nearly every draw


def test_best_zone_needs_two_comparable_zones():
    t = pd.DataFrame({"persona": ["GC", "GC", "PM"], "zone": ["compliance", "security", "case_study"],
                      "delivered": [200, 10, 300], "clicked": [20, 5, 30]})
    b = best_zones(t).set_index("persona")
    assert not b.loc["GC", "comparable"] and pd.isna(b.loc["GC", "zone"])
    assert not b.loc["PM", "comparable"]


@pytest.mark.slow
def test_20k_content_test_recovers_best_zones_and_covers_the_3x():
    """Acceptance: 20,000 companies, seed 2027 (not used to tune the planted grid). The events are
    the ones `mof simulate --design content_test --companies 20000 --seed 2027` writes, drawn in
    memory (no api_events: the 3x check and the best zones need only the email events); the
    personas are the true ones (the title classifier is tested apart)."""
    from mof_experiments.engagement import message_engagement
    from mof_experiments.simulate.content_test import content_test_events

    cfg = SimConfig(design="content_test", companies=20000, seed=2027)
    ev, ct = content_test_events(cfg)
    m = message_engagement(ev).merge(ct[["contact_id", "persona"]], on="contact_id")
    cells = m[m["delivered"]].groupby(["persona", "zone"])["clicked"].agg(clicked="sum", delivered="size")
    b = best_zones(cells.reset_index(), personas=SIX).set_index("persona")
    assert sum(b.loc[p, "zone"] == z for p, z in OWN.items()) >= 5, b
    em = engagement_multiple(m, seed=0)
    truth = engagement_multiple_truth(em, content_truth(cfg))
    assert em.ci_low <= truth <= em.ci_high, (em, truth)
    assert 2.4 < em.estimate < 3.6 and len(em.weights) == 6


@pytest.mark.slow
def test_report_records_the_named_headlines_on_a_content_test(simulated, tmp_path):
    import json
    from pathlib import Path

    from mof_experiments.cli import main

    ws = simulated(design="content_test", companies=4000, seed=5)
    nb = Path(__file__).resolve().parents[1] / "notebooks"
    assert main(["report", "run", "content_optimization", "--notebooks", str(nb), "--workspace", str(ws),
                 "--out", str(tmp_path)]) == 0
    (run_dir,) = list(tmp_path.iterdir())
    (entry,) = json.loads((run_dir / "manifest.json").read_text())["notebooks"]
    h = entry["headlines"]
    assert h["engagement_multiple_ci_low"] < h["engagement_multiple"] < h["engagement_multiple_ci_high"]
    assert h["engagement_multiple_ci_low"] <= h["engagement_multiple_true"] <= h["engagement_multiple_ci_high"]
    assert {f"best_zone_{p.lower()}" for p in SIX} <= set(h)
    assert (h["best_zone_pm"], h["best_zone_dev"]) == ("feature_highlight", "assistance")
