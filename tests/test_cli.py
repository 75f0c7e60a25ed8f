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


@pytest.mark.parametrize("args, code", [(["--help"], 0), (["label", "--workspace", "missing.duckdb"], 2)])
def test_mof_leaves_its_objects_out_of_the_last_collection_and_still_runs_atexit(args, code, tmp_path):
    """``mof`` freezes its objects (``gc.freeze``) as the process ends, so the interpreter's last
    garbage collection skips them (0.5 s after `mof segment` at 100M events); exit status and
    atexit hooks are as before. In-process calls of ``main`` (tests, notebooks) freeze nothing."""
    script = ("import atexit, gc, sys\n"
              "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 1000))\n"
              "sys.argv = ['mof']\n"
              "from mof_experiments.cli import main\n"
              f"main({args!r})\n")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == code and res.stdout.strip().endswith("frozen True"), res.stdout + res.stderr
    from mof_experiments.cli import main

    assert main(["--help"]) == 0 and __import__("gc").get_freeze_count() == 0
