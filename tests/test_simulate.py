"""The simulator: determinism, internal consistency of its truth, calibration to the article."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from mof_experiments.engagement import message_engagement, open_rates_by_outcome
from mof_experiments.errors import MofInputError
from mof_experiments.funnel import label
from mof_experiments.simulate import CONTENT, SimConfig, simulate
from mof_experiments.workspace import Workspace

TABLES = ("companies", "contacts", "api_events", "email_events", "assignments", "experiment_arms", "sim_truth",
          "sim_contact_truth", "sim_effects", "sim_content")


def digests(path) -> dict:
    with Workspace(path, read_only=True) as ws:
        return {t: hashlib.sha256(pd.util.hash_pandas_object(ws.raw.sql(f"SELECT * FROM {t} ORDER BY ALL").df(),
                                                             index=False).to_numpy().tobytes()).hexdigest()
                for t in TABLES}


@pytest.mark.slow
def test_same_seed_gives_identical_workspace_and_other_seed_differs(tmp_path):
    a, b, c = (tmp_path / f"{x}.duckdb" for x in "abc")
    # three chunks of API events each: the chunking is part of what must be reproducible
    simulate(SimConfig(companies=150, seed=5, chunk_companies=50), a, progress=False)
    simulate(SimConfig(companies=150, seed=5, chunk_companies=50), b, progress=False)
    simulate(SimConfig(companies=150, seed=6, chunk_companies=50), c, progress=False)
    da, db, dc = digests(a), digests(b), digests(c)
    assert da == db
    assert da["api_events"] != dc["api_events"] and da["contacts"] != dc["contacts"]


def test_existing_workspace_is_not_overwritten_without_flag(tmp_path):
    p = tmp_path / "w.duckdb"
    simulate(SimConfig(companies=50), p, progress=False)
    with pytest.raises(MofInputError, match="--overwrite"):
        simulate(SimConfig(companies=50), p, progress=False)


def test_contacts_have_messy_job_titles_and_valid_emails(sim2000):
    ct = sim2000.read("contacts")
    titles = set(ct["job_title"].dropna().str.strip())
    for t in ("Sr. PM, Payments", "VP Eng", "Associate General Counsel", "CISO", "Head of FP&A", "Founder & CEO",
              "Backend Engineer II"):
        assert t in titles, t
    assert ct["job_title"].isna().sum() > 0  # some contacts have no title
    t = ct["job_title"].dropna()
    assert (t == t.str.lower()).sum() > 50 and (t == t.str.upper()).sum() > 50  # case noise
    truth = sim2000.read("sim_contact_truth")
    assert set(truth["persona"]) == {"PM", "GC", "CSO", "CFO", "CEO", "DEV", "OTHER"}


def test_api_events_have_sandbox_then_production_and_auth_errors(sim2000):
    q = sim2000.raw.sql("""
        SELECT t.archetype,
               avg(CASE WHEN e.status_code IN (401, 403) THEN 1 ELSE 0 END) AS auth_share,
               count(*) AS n
        FROM api_events e JOIN sim_truth t USING (company_id)
        WHERE e.environment = 'sandbox' GROUP BY 1""").df().set_index("archetype")
    assert q.loc["stuck_on_errors", "auth_share"] > 0.25
    assert q.drop("stuck_on_errors")["auth_share"].max() < 0.02
    f = label(sim2000)
    prod = f[f["stage"] == "production"]
    # production comes after the first sandbox call for every company that had one
    had_sb = prod["first_sandbox_at"].notna()
    assert (prod.loc[had_sb, "first_production_at"] > prod.loc[had_sb, "first_sandbox_at"]).all()


def test_sim_content_is_the_articles_nine_emails():
    assert len(CONTENT) == 9
    assert set(CONTENT["persona"]) == {"PM", "DEV", "CFO", "CEO", "CSO", "GC"}
    pm = CONTENT[CONTENT["persona"] == "PM"].set_index("topic")
    # case study: low open rate but the highest effect per open, as in the article
    assert pm["open_prob"].idxmin() == "driving_adoption" and pm["effect"].idxmax() == "driving_adoption"


@pytest.mark.slow
def test_realized_conversion_by_arm_agrees_with_true_p_convert(sim_default_path):
    """A second method for the truth: the realized 30-day conversion rate of each arm must fall
    inside the binomial 99.9% interval around the mean of the exact p_convert of that arm."""
    with Workspace(sim_default_path, read_only=True) as ws:
        a = ws.read("assignments")
        fx = ws.read("sim_effects")
        truth = ws.read("sim_truth")
        window = ws.meta()["sim_config"]["window_days"]
    j = a.merge(truth, on="company_id")
    days = (j["first_production_at"] - j["assigned_at"]).dt.total_seconds() / 86400
    j["converted"] = days.notna() & (days >= 0) & (days < window)
    for arm, g in j.groupby("arm"):
        p = fx[(fx["arm"] == arm) & fx["company_id"].isin(g["company_id"])]["p_convert"]
        assert len(p) == len(g)
        expected = p.mean()
        # Var of a sum of independent Bernoullis with different p: sum p(1-p)
        sd = np.sqrt((p * (1 - p)).sum()) / len(p)
        assert abs(g["converted"].mean() - expected) < 3.3 * sd, (arm, g["converted"].mean(), expected)
    piv = fx.pivot(index="company_id", columns="arm", values="p_convert")
    assert (piv["email"] >= piv["holdout"] - 1e-12).all()
    assert (piv["email"] - piv["holdout"]).mean() > 0.03  # email has a real, known effect


def test_no_heterogeneity_option_gives_one_effect_multiplier(simulated):
    p = simulated(companies=300, heterogeneous=False)
    with Workspace(p, read_only=True) as ws:
        t = ws.read("sim_truth")
    assert set(t.loc[t["enrolled"], "effect_multiplier"]) == {1.0}


@pytest.mark.slow
def test_calibration_matches_the_article_on_default_simulation(sim_default_path):
    """Article: converters opened 59% of emails, about twice the rate of those still in sandbox."""
    with Workspace(sim_default_path, read_only=True) as ws:
        f = label(ws)
        m = message_engagement(ws.read("email_events"))
    r = open_rates_by_outcome(m, f).set_index("group")
    conv, stay = r.loc["production", "open_rate"], r.loc["sandbox", "open_rate"]
    assert 0.54 <= conv <= 0.64, conv
    assert 1.7 <= conv / stay <= 2.3, conv / stay
    # each rate carries its n and a Wilson interval
    lo, hi = proportion_confint(r.loc["production", "opened"], r.loc["production", "delivered"], method="wilson")
    assert r.loc["production", "open_ci_low"] == pytest.approx(lo) and r.loc["production", "open_ci_high"] == pytest.approx(hi)


def test_machine_opens_are_excluded_by_default(sim2000):
    ev = sim2000.read("email_events")
    with_machine = message_engagement(ev, exclude_machine_opens=False)
    human = message_engagement(ev)
    assert human["opened"].mean() < with_machine["opened"].mean()
    machine_openers = set(sim2000.read("sim_contact_truth").query("machine_opener")["contact_id"])
    mo = with_machine[with_machine["contact_id"].isin(machine_openers) & with_machine["delivered"]]
    assert mo["opened"].all()  # a privacy proxy "opens" every delivered message
    assert (human["machine_opens"] > 0).sum() == (mo["machine_opens"] > 0).sum()
