"""Table sources, the one as_of, and the workspace every command and notebook finds."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from mof_experiments.engines import EngineSource, open_source
from mof_experiments.errors import MofInputError
from mof_experiments.sources import TableSource, default_as_of, resolve_as_of
from mof_experiments.workspace import DEFAULT_WORKSPACE, Workspace, default_workspace_path


def test_workspace_and_engine_source_are_table_sources(sim2000):
    assert isinstance(sim2000, TableSource)
    assert open_source("duckdb", None, workspace=sim2000) is sim2000  # always a source, never None
    src = EngineSource(None, {"companies": sim2000.table("companies")}, meta=sim2000.meta(), engine="test")
    assert isinstance(src, TableSource) and src.has("companies") and not src.has("api_events")
    with pytest.raises(MofInputError, match="table 'api_events' is not available on engine test"):
        src.table("api_events")


def test_resolve_as_of_value_then_simulation_end_then_now(sim2000):
    assert resolve_as_of(sim2000, "2026-04-01") == datetime(2026, 4, 1, tzinfo=timezone.utc)
    assert resolve_as_of(sim2000, None) == resolve_as_of(sim2000, " ") == datetime(2026, 7, 4, tzinfo=timezone.utc)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    now = default_as_of(EngineSource(None, {}, meta={}))
    assert before <= now <= datetime.now(timezone.utc) and now.microsecond == 0
    with pytest.raises(MofInputError, match="--as-of must be a date"):
        resolve_as_of(sim2000, "someday")


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project folder with data/mof.duckdb and notebooks/; no $MOF_WORKSPACE."""
    monkeypatch.delenv("MOF_WORKSPACE", raising=False)
    (tmp_path / "data").mkdir()
    Workspace(tmp_path / "data" / "mof.duckdb").write("t", __import__("pandas").DataFrame({"x": [1]}))
    (tmp_path / "notebooks" / "drafts").mkdir(parents=True)
    return tmp_path


def test_a_notebook_folder_finds_the_projects_workspace(project, monkeypatch):
    for where in (project, project / "notebooks", project / "notebooks" / "drafts"):
        monkeypatch.chdir(where)
        assert default_workspace_path() == project / "data" / "mof.duckdb"


def test_mof_workspace_wins_and_a_new_folder_gets_the_relative_default(project, tmp_path_factory, monkeypatch):
    monkeypatch.chdir(project / "notebooks")
    monkeypatch.setenv("MOF_WORKSPACE", "/somewhere/else.duckdb")
    assert default_workspace_path() == Path("/somewhere/else.duckdb")
    monkeypatch.delenv("MOF_WORKSPACE")
    monkeypatch.chdir(tmp_path_factory.mktemp("empty"))
    assert default_workspace_path() == DEFAULT_WORKSPACE
