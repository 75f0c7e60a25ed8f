"""The `mof` command line end to end (as a process: --help, simulate, label) and its errors (in process)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import run_mof


def mof(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from mof_experiments.cli import main; raise SystemExit(main())",
                           *args], capture_output=True, text=True, env=env)


def test_help_lists_the_commands():
    p = mof("--help")
    assert p.returncode == 0
    for cmd in ("simulate", "ingest", "label"):
        assert cmd in p.stdout


@pytest.mark.slow
def test_simulate_then_label_prints_stage_counts_and_time_to_production(tmp_path):
    ws = tmp_path / "w.duckdb"
    p = mof("simulate", "--companies", "400", "--seed", "3", "--workspace", str(ws), "--quiet")
    assert p.returncode == 0, p.stderr
    assert "simulated 400 companies" in p.stdout
    p = run_mof("label", "--workspace", str(ws))
    assert p.returncode == 0, p.stderr
    assert "stage: production" in p.stdout and "median days to first working app" in p.stdout
    assert "as of 2026-07-04" in p.stdout  # default as_of: end of the simulated period
    again = run_mof("simulate", "--companies", "400", "--workspace", str(ws), "--quiet")
    assert again.returncode == 2 and "--overwrite" in again.stderr


@pytest.mark.parametrize("args, piece", [
    (("label", "--as-of", "yesterday-ish"), "--as-of must be a date"),
    (("simulate", "--companies", "0"), "--companies must be at least 1"),
    (("simulate", "--design", "weird"), "unknown design"),
    (("ingest", "nosuchtable", "x.csv"), "unknown table"),
    # a value of the wrong type, a missing option or command: one line too, not a traceback
    (("simulate", "--companies", "abc"), "Invalid value for '--companies'"),
    (("experiment", "readout", "x.csv", "--arm", "arm", "--control", "a"), "Missing option '--outcome'"),
    (("experiment", "readout", "x.csv", "--arm", "arm", "--outcome", "y", "--control", "a", "--alpha", "abc"),
     "Invalid value for '--alpha'"),
])
def test_bad_options_give_one_line_errors(args, piece, tmp_path):
    ws = tmp_path / "w.duckdb"
    if args[0] == "label":
        assert run_mof("simulate", "--companies", "50", "--workspace", str(ws), "--quiet").returncode == 0
    p = run_mof(*args, "--workspace", str(ws))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mof: error:") and piece in lines[0], p.stderr


def test_label_missing_workspace(tmp_path):
    p = run_mof("label", "--workspace", str(tmp_path / "none.duckdb"))
    assert p.returncode == 2 and "workspace not found" in p.stderr
