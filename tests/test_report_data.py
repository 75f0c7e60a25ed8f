"""The report notebooks' loader: one workspace, one as_of, every table cut at it."""

from __future__ import annotations

import pandas as pd
import pytest

from mof_experiments.errors import MofInputError
from mof_experiments.reports import load_personas, load_report_data
from mof_experiments.workspace import Workspace

AS_OF = pd.Timestamp("2026-04-15", tz="UTC")


class _FakeWorkspace:
    path = "ws.duckdb"

    def __init__(self, tables):
        self._t = tables

    def has(self, name):
        return name in self._t

    def read(self, name, columns=None):
        df = self._t[name]
        return df[list(columns)] if columns is not None else df


def test_load_personas_prefers_the_workspace_table():
    per = pd.DataFrame({"contact_id": ["a"], "persona": ["PM"], "confidence": [1.0], "rule": ["r"]})
    assert load_personas(_FakeWorkspace({"personas": per})) is per


def test_load_personas_without_the_table_classifies_the_job_titles():
    contacts = pd.DataFrame({"contact_id": ["a", "b"], "company_id": ["x", "x"],
                             "job_title": ["Senior Product Manager", "General Counsel"]})
    got = load_personas(_FakeWorkspace({"contacts": contacts})).set_index("contact_id")["persona"]
    assert got.to_dict() == {"a": "PM", "b": "GC"}


def test_every_table_is_cut_at_the_one_as_of(sim2000_path):
    data = load_report_data(sim2000_path, "2026-04-15", experiment_id="mof_email_2026", personas=False)
    with Workspace(sim2000_path, read_only=True) as ws:
        companies, asg, ev = ws.read("companies"), ws.read("assignments"), ws.read("email_events")
    assert data.as_of == AS_OF.to_pydatetime()
    assert len(data.funnel) == (companies["signup_at"] < AS_OF).sum() < len(companies)
    assert data.funnel["first_production_at"].max() < AS_OF
    assert len(data.messages) == ev.loc[ev["ts"] < AS_OF, "message_id"].nunique()
    before = asg[(asg["experiment_id"] == "mof_email_2026") & (asg["assigned_at"] < AS_OF)]
    assert data.experiment.enrolled == len(before) == len(data.assignments) < (asg["experiment_id"] == "mof_email_2026").sum()
    assert set(data.experiment.outcomes["company_id"]) == set(before["company_id"])
    assert data.experiment.weights == {"holdout": 0.2, "email": 0.8}
    assert "sim_effects" in data.truth


def test_default_as_of_is_the_end_of_the_simulation(sim2000_path):
    data = load_report_data(sim2000_path, "", email=False)
    assert data.as_of == pd.Timestamp("2026-07-04", tz="UTC").to_pydatetime()
    assert data.messages is None and data.experiment is None


def test_workspace_comes_from_the_environment_when_not_given(sim2000_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOF_WORKSPACE", str(sim2000_path))
    assert load_report_data("", email=False).workspace_path == str(sim2000_path.resolve())
    monkeypatch.delenv("MOF_WORKSPACE")
    with pytest.raises(MofInputError, match="workspace not found"):
        load_report_data("", email=False)


def test_no_email_before_as_of_is_a_one_line_error(sim2000_path):
    with pytest.raises(MofInputError, match="no email events before as_of 2026-01-06"):
        load_report_data(sim2000_path, "2026-01-06")
