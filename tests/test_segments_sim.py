"""Segmentation against the simulator's truth (`mof simulate --companies 5000 --seed 3`)."""

from __future__ import annotations

import pytest

from mof_experiments.segments import FEATURES, overlap_table
from helpers import copy_workspace
from mof_experiments.workspace import Workspace

pytestmark = pytest.mark.slow  # a statistical study on 5,000 simulated companies


@pytest.fixture(scope="module")
def sim5000(simulated, tmp_path_factory):
    """The acceptance simulation, segmented once through the CLI (default as_of = end of the simulation)."""
    from mof_experiments.cli import main

    path = copy_workspace(simulated(companies=5000, seed=3), tmp_path_factory.mktemp("seg5000"))
    assert main(["segment", "--workspace", str(path)]) == 0
    with Workspace(path, read_only=True) as ws:
        tables = {t: ws.read(t) for t in ("personas", "behavior", "segments", "clusters", "cluster_profiles",
                                          "sim_truth", "sim_contact_truth", "contacts", "companies")}
        tables["meta"] = ws.meta()
    return tables


def test_cli_writes_every_table_with_one_row_per_unit(sim5000):
    t = sim5000
    assert len(t["personas"]) == len(t["contacts"]) and t["personas"]["contact_id"].is_unique
    assert len(t["behavior"]) == len(t["companies"]) == 5000 and t["behavior"]["company_id"].is_unique
    assert len(t["clusters"]) == 5000 and set(t["clusters"]["company_id"]) == set(t["behavior"]["company_id"])
    assert not t["segments"].duplicated().any()
    assert set(t["segments"]["company_id"]) <= set(t["behavior"]["company_id"])
    assert t["cluster_profiles"]["companies"].sum() == 5000
    assert t["meta"]["segments_as_of"].startswith(t["meta"]["simulated_end"][:19])


def test_persona_accuracy_against_simulated_truth(sim5000):
    m = sim5000["personas"].merge(sim5000["sim_contact_truth"], on="contact_id", suffixes=("", "_true"))
    assert len(m) == len(sim5000["contacts"])
    hit = m["persona"] == m["persona_true"]
    per_persona = hit.groupby(m["persona_true"]).mean()
    assert hit.mean() >= 0.99
    assert (per_persona >= 0.97).all(), per_persona
    assert set(per_persona.index) == {"PM", "GC", "CSO", "CFO", "CEO", "DEV", "OTHER"}
    missing = sim5000["contacts"]["job_title"].isna()
    assert missing.any()
    p = sim5000["personas"].set_index("contact_id").loc[sim5000["contacts"].loc[missing, "contact_id"]]
    assert (p["persona"] == "OTHER").all() and (p["confidence"] == 0).all() and (p["rule"] == "missing").all()
    assert not p["needs_review"].any()
    # flagged contacts are the low-confidence ones, and they are where the errors are
    flagged = sim5000["personas"]["needs_review"]
    assert flagged.equals(sim5000["personas"]["confidence"].lt(0.8) & sim5000["personas"]["rule"].ne("missing"))


def _overlap(sim5000):
    labels = sim5000["sim_truth"].set_index("company_id")["archetype"]
    return overlap_table(sim5000["segments"], labels).set_index(["segment", "label"])


def test_stuck_on_errors_segment_recovers_the_archetype(sim5000):
    row = _overlap(sim5000).loc[("stuck_on_errors", "stuck_on_errors")]
    assert row["precision"] >= 0.8 and row["recall"] >= 0.8, row


@pytest.mark.parametrize("segment, archetype, min_precision, min_recall", [
    ("never_called", "no_show", 0.99, 0.99),        # no_show companies never call
    ("tire_kicker", "tire_kicker", 0.9, 0.8),
    ("gone_quiet", "gone_quiet", 0.9, 0.7),         # the latest sign-ups have not gone quiet yet
])
def test_other_segments_match_their_archetypes(sim5000, segment, archetype, min_precision, min_recall):
    row = _overlap(sim5000).loc[(segment, archetype)]
    assert row["precision"] >= min_precision and row["recall"] >= min_recall, row


def test_clusters_agree_with_archetypes(sim5000):
    from sklearn.metrics import adjusted_rand_score

    m = sim5000["clusters"].merge(sim5000["sim_truth"], on="company_id")
    assert adjusted_rand_score(m["archetype"], m["cluster"]) >= 0.5
    prof = sim5000["cluster_profiles"]
    assert {"companies", "share", "converted", "conversion_rate", "conversion_ci_low", "conversion_ci_high",
            "low_data"} <= set(prof.columns)
    assert {f"median_{f}" for f in FEATURES if f != "in_production"} <= set(prof.columns)
    # conversion so far per cluster equals the behavior table's in_production share
    b = sim5000["behavior"].merge(sim5000["clusters"], on="company_id")
    rate = b.groupby("cluster")["in_production"].mean()
    assert prof.set_index("cluster")["conversion_rate"].to_numpy() == pytest.approx(rate.to_numpy())


def test_behavior_in_production_agrees_with_truth(sim5000):
    b = sim5000["behavior"].merge(sim5000["sim_truth"], on="company_id")
    truth_conv = b["first_production_at"].notna()
    assert (b["in_production"].astype(bool) == truth_conv).mean() >= 0.999
    assert (b.loc[b["archetype"] == "no_show", "calls"] == 0).all()
