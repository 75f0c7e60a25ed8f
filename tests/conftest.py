"""Shared fixtures: simulated workspaces built once per test run, the Hillstrom data.

Simulated workspaces are built once per configuration and shared by every test process
(pytest-xdist workers wait on a file lock for the one that builds it); they are read-only: a
test that writes copies one first (``helpers.copy_workspace``). Test lanes: ``make test`` runs everything; ``make test-fast``
leaves out the tests marked ``slow`` (statistical studies, notebook runs, crash tests) and
``spark``.
"""

from __future__ import annotations

import fcntl
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


@pytest.fixture(scope="session")
def simulated(tmp_path_factory):
    """Factory ``simulated(**SimConfig fields) -> Path``: the workspace ``mof simulate`` writes for
    that configuration, built once per test run (shared by the xdist workers). Read-only: copy
    it before writing."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "simulations"
    folder.mkdir(parents=True, exist_ok=True)

    def make(**config) -> Path:
        name = "_".join(f"{k}-{v}" for k, v in sorted(config.items())) or "defaults"
        path = folder / f"{name}.duckdb"
        with open(folder / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process simulates, the others wait for the file
            if not path.exists():
                simulate(SimConfig(**config), path, progress=False)  # atomic: complete or absent
        return path

    return make


@pytest.fixture(scope="session")
def sim2000_path(simulated) -> Path:
    """`mof simulate --companies 2000 --seed 11` (the labeling acceptance workspace)."""
    return simulated(companies=2000, seed=11)


@pytest.fixture()
def sim2000(sim2000_path) -> Workspace:
    """Read-only handle on the 2000-company simulation."""
    with Workspace(sim2000_path, read_only=True) as ws:
        yield ws


@pytest.fixture(scope="session")
def sim_default_path(simulated) -> Path:
    """The default simulation (SimConfig() defaults: 3000 companies, seed 42)."""
    return simulated()


@pytest.fixture(scope="session")
def hillstrom_csv() -> Path:
    if not HILLSTROM_CSV.exists():
        pytest.skip(f"Hillstrom data not found at {HILLSTROM_DIR}")
    return HILLSTROM_CSV
