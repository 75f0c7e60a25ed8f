"""Report machinery: headline figures, parameter typing, and a run where one notebook fails."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mof_experiments.cli import main
from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.reports import (HEADLINES_ENV, coerce_parameter, list_reports, parse_parameter_args,
                                     read_headlines, record_headline, run_reports)


def test_record_headline_merges_into_the_env_file(tmp_path, monkeypatch):
    import numpy as np

    path = tmp_path / "h.json"
    monkeypatch.setenv(HEADLINES_ENV, str(path))
    assert record_headline("open_ratio", np.float64(2.5)) is None  # a cell ending with it shows nothing
    record_headline("best_pm", "feature_highlight/dashboards")
    record_headline("ci", (np.float32(0.25), float("nan")))
    record_headline("open_ratio", 2.0)  # replaces
    assert read_headlines(path) == {"open_ratio": 2.0, "best_pm": "feature_highlight/dashboards", "ci": [0.25, None]}
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write leaves no temporary file


def test_record_headline_without_a_file_keeps_memory_only(tmp_path, monkeypatch):
    from mof_experiments.reports import recorded_headlines

    monkeypatch.delenv(HEADLINES_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    record_headline("n_companies", 12)
    assert recorded_headlines()["n_companies"] == 12
    assert list(tmp_path.iterdir()) == []


def test_record_headline_rejects_bad_names_and_values():
    with pytest.raises(MofInputError, match="snake_case identifier"):
        record_headline("open ratio", 1)
    with pytest.raises(MofInputError, match="not JSON-serializable"):
        record_headline("obj", object())


@pytest.mark.parametrize("text,type_name,expected", [
    ("14", "int", 14), ("0.5", "float", 0.5), ("yes", "bool", True), ("False", "bool", False),
    ("2026-06-01", "str", "2026-06-01"), ("none", "Optional[str]", None), ("[1, 2]", "list", [1, 2]),
])
def test_coerce_parameter_uses_the_declared_type(text, type_name, expected):
    assert coerce_parameter("p", text, type_name) == expected


def test_coerce_parameter_bad_value_is_a_config_error():
    with pytest.raises(MofConfigError, match="-p window_days=two: expected float"):
        coerce_parameter("window_days", "two", "float")


def test_parse_parameter_args():
    assert parse_parameter_args(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(MofConfigError, match="expects key=value"):
        parse_parameter_args(["novalue"])


def _write_nb(path, cells):
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    for kind, src, *tags in cells:
        c = new_markdown_cell(src) if kind == "md" else new_code_cell(src)
        if tags:
            c.metadata["tags"] = list(tags)
        nb.cells.append(c)
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("nbs")
    _write_nb(d / "a_ok.ipynb", [("md", "# fine"), ("code", "x: int = 1  # A number", "parameters"),
                                 ("code", "from mof_experiments.reports import record_headline\n"
                                          "record_headline('x_doubled', x * 2)")])
    _write_nb(d / "b_boom.ipynb", [("code", "y: float = 1.0  # Unused", "parameters"), ("code", "z = 1"),
                                   ("code", "raise ValueError('planted failure')"), ("code", "print('never')")])
    _write_nb(d / "c_after.ipynb", [("code", "from mof_experiments.reports import record_headline\n"
                                             "record_headline('ran', True)")])
    out = tmp_path_factory.mktemp("out")
    code = main(["report", "run", "--notebooks", str(d), "--out", str(out), "-p", "x=21"])
    (run_dir,) = list(out.iterdir())
    return code, run_dir, json.loads((run_dir / "manifest.json").read_text())


@pytest.mark.slow
def test_a_failing_notebook_makes_the_run_exit_nonzero(failing_run):
    code, _, manifest = failing_run
    assert code == 1 and manifest["status"] == "failed"


@pytest.mark.slow
def test_manifest_names_the_failing_cell(failing_run):
    _, _, manifest = failing_run
    nb = {n["name"]: n for n in manifest["notebooks"]}
    err = nb["b_boom"]["error"]
    assert nb["b_boom"]["status"] == "failed"
    assert err["ename"] == "ValueError" and "planted failure" in err["evalue"]
    assert "raise ValueError" in err["source"]
    assert err["execution_count"] == 3  # the parameters cell, `z = 1`, then the raising cell


@pytest.mark.slow
def test_other_notebooks_still_ran_with_their_parameters_and_headlines(failing_run):
    _, run_dir, manifest = failing_run
    nb = {n["name"]: n for n in manifest["notebooks"]}
    assert nb["a_ok"]["status"] == "ok" and nb["c_after"]["status"] == "ok"
    assert nb["a_ok"]["parameters"] == {"x": 21}
    assert nb["a_ok"]["headlines"] == {"x_doubled": 42}
    assert nb["c_after"]["headlines"] == {"ran": True}
    assert "x" not in nb["b_boom"]["parameters"]  # only notebooks that declare a parameter get it
    assert (run_dir / "index.html").exists()


@pytest.mark.slow
def test_the_failed_notebook_is_kept_with_the_error_visible(failing_run):
    _, run_dir, manifest = failing_run
    nb = nbformat.read(str(run_dir / "b_boom.ipynb"), as_version=4)
    failing = [c for c in nb.cells if c.cell_type == "code" and "raise ValueError" in c.source]
    assert failing and any(o.get("output_type") == "error" for o in failing[0].outputs)
    assert "planted failure" in (run_dir / "b_boom.html").read_text()


def test_unknown_report_and_undeclared_parameter_are_config_errors(tmp_path):
    d = tmp_path / "nbs"
    d.mkdir()
    _write_nb(d / "only.ipynb", [("code", "x: int = 1  # A number", "parameters")])
    with pytest.raises(MofConfigError, match="unknown report 'nope'"):
        run_reports(["nope"], nb_dir=d, out_dir=tmp_path / "out")
    with pytest.raises(MofConfigError, match="parameter 'window' is not declared"):
        run_reports(None, {"window": "3"}, nb_dir=d, out_dir=tmp_path / "out")


def test_impossible_as_of_is_a_bad_option_not_a_failed_notebook(tmp_path, capsys):
    d = tmp_path / "nbs"
    d.mkdir()
    _write_nb(d / "only.ipynb", [("code", 'as_of: str = ""  # Cut-off', "parameters")])
    code = main(["report", "run", "--notebooks", str(d), "-p", "as_of=2026-13-45", "--out", str(tmp_path / "out")])
    assert code == 2 and not (tmp_path / "out").exists()
    assert "2026-13-45" in capsys.readouterr().err


def test_missing_workspace_is_reported_before_running(tmp_path):
    code = main(["report", "run", "--workspace", str(tmp_path / "nope.duckdb"), "--out", str(tmp_path / "out")])
    assert code == 2 and not (tmp_path / "out").exists()


def test_list_reports_reads_typed_parameters(tmp_path):
    _write_nb(tmp_path / "r.ipynb", [("code", 'workspace: str = "data/mof.duckdb"  # Workspace file\n'
                                              "window_days: float = 14.0  # Window", "parameters")])
    (r,) = list_reports(tmp_path)
    assert r.parameters["window_days"] == {"type": "float", "default": "14.0", "help": "Window"}


@pytest.mark.slow
def test_parallel_run_keeps_each_notebooks_headlines_apart(tmp_path):
    d = tmp_path / "nbs"
    d.mkdir()
    for name in ("p1", "p2", "p3"):
        _write_nb(d / f"{name}.ipynb", [("code", "x: int = 0  # A number", "parameters"),
                                        ("code", "from mof_experiments.reports import record_headline\n"
                                                 f"record_headline('who', '{name}')\nrecord_headline('x', x)")])
    run = run_reports(None, {"x": "7"}, nb_dir=d, out_dir=tmp_path / "out", jobs=2)
    assert run.ok and [n["name"] for n in run.manifest["notebooks"]] == ["p1", "p2", "p3"]
    for n in run.manifest["notebooks"]:
        assert n["headlines"] == {"who": n["name"], "x": 7}


@pytest.mark.slow
def test_ctrl_c_kills_the_running_kernels_and_marks_the_run_interrupted(tmp_path):
    """A kernel runs in a session of its own, so Ctrl-C reaches only `mof`: the run must kill the
    running kernels itself, not wait for their notebooks (here a 600 s cell) to end."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    for name in ("a_sleeps", "b_never_starts"):
        nb = new_notebook(cells=[new_code_cell("import time\ntime.sleep(600)")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, nb_dir / f"{name}.ipynb")
    out = tmp_path / "out"
    mof = os.path.join(os.path.dirname(sys.executable), "mof")
    proc = subprocess.Popen([mof, "report", "run", "--notebooks", str(nb_dir), "--out", str(out), "--jobs", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    def kernel_processes():
        found = []
        for p in psutil.Process(proc.pid).children(recursive=True):
            try:                                           # a short-lived child may be gone already
                if "ipykernel_launcher" in " ".join(p.cmdline()):
                    found.append(p)
            except psutil.Error:
                pass
        return found

    kernels = []
    for _ in range(600):                                   # wait (at most 60 s) for the first kernel
        kernels = kernel_processes()
        if kernels:
            break
        time.sleep(0.1)
    assert len(kernels) == 1, "no kernel started"
    time.sleep(1.0)                                        # the kernel is in its 600 s cell
    os.killpg(proc.pid, signal.SIGINT)                     # Ctrl-C: the terminal signals mof's process group
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("mof report run waited for the running notebook after Ctrl-C")
    assert proc.returncode == 130 and "mof: aborted" in err, err
    kernels[0].wait(timeout=10)                            # killed, not left running its cell
    (run_dir,) = list(out.iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["interrupted"] is True and manifest["finished_at"]
    assert manifest["notebooks"] == []                     # none had ended; the second never started
    assert not (run_dir / ".snapshot").exists()
