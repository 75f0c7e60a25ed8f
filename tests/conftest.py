"""Shared fixtures: small simulated workspaces (session-scoped, built once per test process)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mof_experiments.simulate import SimConfig, simulate
from mof_experiments.workspace import Workspace

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
# the Hillstrom data sits in ../shared beside the checkout (as on CI); a clone elsewhere can
# point $MOF_HILLSTROM_DIR at it. The Hillstrom tests skip only when the folder is absent.
HILLSTROM_DIR = Path(os.environ.get("MOF_HILLSTROM_DIR") or SHARED / "data" / "hillstrom")
HILLSTROM_CSV = HILLSTROM_DIR / "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv"


def _sim(tmp_path_factory, name: str, **kw) -> Path:
    path = tmp_path_factory.mktemp(name) / "mof.duckdb"
    simulate(SimConfig(**kw), path, progress=False)
    return path


@pytest.fixture(scope="session")
def sim2000_path(tmp_path_factory) -> Path:
    """`mof simulate --companies 2000 --seed 11` (the labeling acceptance workspace)."""
    return _sim(tmp_path_factory, "sim2000", companies=2000, seed=11)


@pytest.fixture()
def sim2000(sim2000_path) -> Workspace:
    """Read-only handle on the 2000-company simulation."""
    with Workspace(sim2000_path, read_only=True) as ws:
        yield ws


@pytest.fixture(scope="session")
def sim_default_path(tmp_path_factory) -> Path:
    """The default simulation (SimConfig() defaults: 3000 companies, seed 42)."""
    return _sim(tmp_path_factory, "simdefault")


@pytest.fixture(scope="session")
def hillstrom_csv() -> Path:
    if not HILLSTROM_CSV.exists():
        pytest.skip(f"Hillstrom data not found at {HILLSTROM_DIR}")
    return HILLSTROM_CSV
