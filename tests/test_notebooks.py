"""The four report notebooks: stored clean, and run end to end through `mof report run` on a small
simulation whose truth is known; the manifest's headline figures are checked against that truth."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mof_experiments.cli import main
from mof_experiments.reports import export_html
from mof_experiments.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("funnel_overview", "content_optimization", "engagement_conversion", "experiment_readout", "program_readout")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs_and_keeps_its_parameters_tag(name):
    nb = nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    # every parameter typed and commented, as `mof report list` / papermill --help-notebook read them
    for line in params[0].source.splitlines():
        assert re.match(r"^\w+: \w+ = .+  # \S", line), line
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.slow
def test_nbstripout_verify_passes():
    exe = Path(sys.executable).with_name("nbstripout")
    res = subprocess.run([str(exe), "--verify", *[str(NOTEBOOKS / f"{n}.ipynb") for n in NAMES]],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.fixture(scope="module")
def report_workspace(sim2000_path, tmp_path_factory):
    """A copy of the 2000-company simulation with a `personas` table (the simulator's truth stands in
    for `mof segment`)."""
    path = tmp_path_factory.mktemp("reportws") / "mof.duckdb"
    shutil.copy(sim2000_path, path)
    with Workspace(path) as ws:
        ws.write("personas", ws.read("sim_contact_truth")[["contact_id", "persona"]]
                 .merge(ws.read("contacts")[["contact_id", "company_id"]], on="contact_id")
                 .assign(confidence=1.0, rule="sim_truth"))
    return path


@pytest.fixture(scope="module")
def full_run(report_workspace, tmp_path_factory):
    """`mof report run` of the four notebooks (a slow test's fixture: every test using it is slow)."""
    out = tmp_path_factory.mktemp("reports")
    code = main(["report", "run", "--notebooks", str(NOTEBOOKS), "--workspace", str(report_workspace),
                 "--out", str(out)])
    (run_dir,) = list(out.iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return code, run_dir, manifest


@pytest.fixture(scope="module")
def truth(report_workspace):
    with Workspace(report_workspace, read_only=True) as ws:
        return {"content": ws.read("sim_content"), "effects": ws.read("sim_effects")}


def _heads(manifest, name):
    (nb,) = [n for n in manifest["notebooks"] if n["name"] == name]
    assert nb["status"] == "ok", nb.get("error")
    return nb["headlines"]


@pytest.mark.slow
def test_every_notebook_runs(full_run):
    code, run_dir, manifest = full_run
    assert code == 0 and manifest["status"] == "ok"
    assert [n["name"] for n in manifest["notebooks"]] == list(NAMES)
    for n in manifest["notebooks"]:
        assert (run_dir / n["outputs"]["ipynb"]).exists() and (run_dir / n["outputs"]["html"]).exists()
        assert n["parameters"]["workspace"] == str(Path(manifest["workspace"]))


@pytest.mark.slow
def test_content_report_says_the_grid_cannot_be_estimated_on_the_holdout_design(full_run):
    # the default design sends each persona its fixed emails: no zone was randomized within
    # persona, so there is no best zone (not a degenerate probability of best of 1.0)
    h = _heads(full_run[2], "content_optimization")
    assert h["grid_estimable"] is False
    assert not any(k.startswith(("best_zone_", "engagement_multiple")) for k in h)
    assert "grid cannot be estimated" in (full_run[1] / "content_optimization.html").read_text()


@pytest.mark.slow
def test_engagement_ratio_is_in_the_calibrated_range(full_run):
    h = _heads(full_run[2], "engagement_conversion")
    assert 0.52 <= h["open_rate_production"] <= 0.66  # the article: 59%
    assert 1.6 <= h["open_ratio"] <= 2.6  # the article: about 2x
    assert h["open_ratio_ci"][0] < h["open_ratio"] < h["open_ratio_ci"][1]
    assert h["smoothed_odds_ratio"] > 1 and h["phi"] > 0


@pytest.mark.slow
def test_holdout_estimate_covers_the_true_average_effect(full_run, truth):
    e = truth["effects"]
    w = e[e["experiment_id"] == "mof_email_2026"].pivot_table(index="company_id", columns="arm", values="p_convert")
    true_effect = float((w["email"] - w["holdout"]).mean())
    h = _heads(full_run[2], "engagement_conversion")
    assert h["true_effect"] == pytest.approx(true_effect)
    assert h["holdout_ci"][0] <= true_effect <= h["holdout_ci"][1]
    # the correlation overstates the effect: openers vs non-openers is far above the causal estimate
    assert h["opener_difference"] > h["holdout_ci"][1]
    r = _heads(full_run[2], "experiment_readout")
    assert r["lift_email_ci"][0] <= true_effect <= r["lift_email_ci"][1]
    assert r["lift_email"] == pytest.approx(h["holdout_effect"])  # two implementations agree
    # and the targeting table's "email everyone" row is that same lift, per 1,000 companies
    assert r["incremental_per_1000"]["everyone"] == pytest.approx(1000 * r["lift_email"], abs=0.01)


@pytest.mark.slow
def test_uplift_model_in_the_readout_ranks_the_true_uplift(full_run):
    r = _heads(full_run[2], "experiment_readout")
    # measured 0.26 (Qini 0.015, band -0.056 to 0.059): out of fold on ~1,500 enrolled companies the
    # ranking is weak but real; the Qini is inside its band at this size
    assert r["predicted_vs_true_uplift_corr"] > 0.15


@pytest.mark.slow
def test_readout_report_shows_the_sequence_the_chance_to_win_and_the_guardrails(full_run, report_workspace):
    from mof_experiments.experiments import experiment_data
    from mof_experiments.sources import resolve_as_of
    from mof_experiments.stats import guardrails

    r = _heads(full_run[2], "experiment_readout")
    true = r["true_lift_email"]  # the simulator's average effect on the enrolled companies
    assert r["seq_ci_low"]["email"] <= true <= r["seq_ci_high"]["email"]
    # valid at every look, the sequence is wider than the fixed-horizon interval around the same lift
    assert r["seq_ci_low"]["email"] < r["lift_email_ci"][0] < r["lift_email"] < r["lift_email_ci"][1] \
        < r["seq_ci_high"]["email"]
    assert (r["prob_beat_control"]["email"] > 0.5) == (r["lift_email"] > 0) and r["expected_loss"]["email"] >= 0
    # the simulator never emails the holdout: guardrails against the thresholds, recomputed here from the events
    with Workspace(report_workspace, read_only=True) as ws:
        x = experiment_data(ws, "mof_email_2026", as_of=resolve_as_of(ws, None))
    assert set(x.email_events["arm"]) == {"email"}
    g = guardrails(x.email_events[x.email_events["company_id"].isin(x.complete["company_id"])], control="holdout")
    assert r["guardrail_comparison"] == "thresholds" == g.comparison and r["guardrail_status"] == g.status
    html = (full_run[1] / "experiment_readout.html").read_text()
    assert "Reading it every day: the confidence sequence" in html and "Guardrails: <b>" in html
    assert "vs absolute thresholds" in html


@pytest.mark.slow
def test_html_report_shows_the_content_table_and_figures(full_run):
    _, run_dir, _ = full_run
    html = (run_dir / "content_optimization.html").read_text()
    assert "Content table" in html and "assisted_rate" in html and "dashboards" in html
    assert html.count("<img") >= 1
    index = (run_dir / "index.html").read_text()
    for name in NAMES:  # the index links every report's HTML
        assert f'<a href="{name}.html">{name}</a>' in index


@pytest.mark.slow
def test_no_code_export_hides_the_code(full_run, tmp_path):
    _, run_dir, _ = full_run
    with_code = (run_dir / "content_optimization.html").read_text()
    out = export_html(run_dir / "content_optimization.ipynb", tmp_path / "x.html", no_code=True).read_text()
    assert "zone_allocation" in with_code and "zone_allocation" not in out
    assert "Content table" in out and "<img" in out


def test_report_list_shows_workspace_and_as_of_for_every_notebook():
    from mof_experiments.reports import list_reports

    reports = {r.name: r for r in list_reports(NOTEBOOKS)}
    assert set(NAMES) <= set(reports)
    for name in NAMES:
        assert {"workspace", "as_of"} <= set(reports[name].parameters), name
        assert reports[name].parameters["as_of"]["default"] == '""'


@pytest.mark.parametrize("name", NAMES)
def test_every_notebook_starts_from_one_loader_call(name):
    nb = nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert code.count("load_report_data(workspace, as_of") == 1
    # nothing else opens the workspace or rebuilds the cut-off
    for other in ("Workspace(", "parse_as_of", "default_as_of", "conversion_outcomes(", "pivot_table("):
        assert other not in code, other


def _run_readout(report_workspace, out, *extra):
    code = main(["report", "run", "experiment_readout", "--notebooks", str(NOTEBOOKS), "--workspace",
                 str(report_workspace), "--out", str(out), *extra])
    (run_dir,) = list(out.iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert code == 0, manifest["notebooks"][0].get("error")
    return manifest


@pytest.mark.slow
def test_an_early_as_of_reads_out_fewer_companies_and_the_same_as_of_the_same_headlines(report_workspace, full_run,
                                                                                        tmp_path):
    early = [_run_readout(report_workspace, tmp_path / f"run{i}", "-p", "as_of=2026-04-15") for i in range(2)]
    assert early[0]["as_of"] == "2026-04-15T00:00:00+00:00"
    h1, h2 = (_heads(m, "experiment_readout") for m in early)
    assert h1 == h2  # the same cut-off gives the same report, whenever it runs
    default = _heads(full_run[2], "experiment_readout")
    with Workspace(report_workspace, read_only=True) as ws:
        a = ws.read("assignments")
    a = a[a["experiment_id"] == "mof_email_2026"]
    assert h1["enrolled_companies"] == int((a["assigned_at"] < "2026-04-15T00:00:00+00:00").sum())
    assert default["enrolled_companies"] == len(a)
    assert h1["enrolled_companies"] < default["enrolled_companies"]
    assert h1["complete_companies"] < h1["enrolled_companies"]


@pytest.mark.slow
def test_report_run_honours_mof_workspace(report_workspace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/mof.duckdb here or above
    monkeypatch.setenv("MOF_WORKSPACE", str(report_workspace))
    code = main(["report", "run", "funnel_overview", "--notebooks", str(NOTEBOOKS), "--out", str(tmp_path / "out")])
    (run_dir,) = list((tmp_path / "out").iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert code == 0 and manifest["workspace"] == str(report_workspace.resolve())
    assert _heads(manifest, "funnel_overview")["companies"] == 2000


@pytest.mark.slow
def test_a_notebook_opened_in_the_notebooks_folder_finds_the_projects_workspace(simulated, tmp_path, monkeypatch):
    """What `make lab` does: the kernel runs in notebooks/, no parameter is injected."""
    import papermill as pm

    from helpers import copy_workspace
    from mof_experiments.reports import HEADLINES_ENV, read_headlines

    copy_workspace(simulated(companies=300, seed=5), tmp_path / "data")
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOKS / "funnel_overview.ipynb", tmp_path / "notebooks")
    monkeypatch.delenv("MOF_WORKSPACE", raising=False)
    monkeypatch.setenv(HEADLINES_ENV, str(tmp_path / "h.json"))
    pm.execute_notebook(str(tmp_path / "notebooks" / "funnel_overview.ipynb"), str(tmp_path / "out.ipynb"),
                        cwd=str(tmp_path / "notebooks"), kernel_name="python3", progress_bar=False)
    assert read_headlines(tmp_path / "h.json")["companies"] == 300


# --- what a reader sees: no stray outputs, and the pages in a real browser -------------------------

#: Reports that open with a takeaways block (show_takeaways). content_optimization and
#: program_readout join when they call it (their owners' issues).
TAKEAWAY_REPORTS = ("funnel_overview", "engagement_conversion", "experiment_readout", "content_optimization",
                    "program_readout")
BROWSER_REQUIRED_ENV = "MOF_REQUIRE_BROWSER"


def test_stray_output_rule_flags_prints_and_bare_values_but_not_displays():
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from mof_experiments.reports import stray_outputs

    nb = new_notebook(cells=[
        new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="1656\n")]),
        new_code_cell("x", outputs=[new_output("execute_result", data={"text/plain": "0.349"}, execution_count=1)]),
        new_code_cell("df", outputs=[new_output("execute_result", data={"text/plain": "t", "text/html": "<table/>"},
                                                execution_count=2)]),
        new_code_cell("plot", outputs=[new_output("display_data", data={"text/plain": "<Figure>", "image/png": "iVBO"})]),
        new_code_cell("md", outputs=[new_output("display_data", data={"text/plain": "m", "text/markdown": "**a**"})]),
    ])
    found = stray_outputs(nb)
    assert [(s["cell_index"], s["output_type"], s["text"]) for s in found] == [
        (0, "stream", "1656\n"), (1, "execute_result", "0.349")]


@pytest.mark.slow
def test_no_report_shows_a_stray_output(full_run):
    """Every executed report shows only figures, tables, Markdown and deliberate displays (on main
    before issue 16 this found 18: record_headline's return values, print() lines, bare lists)."""
    from mof_experiments.reports import stray_outputs

    _, run_dir, manifest = full_run
    assert manifest["notebooks"]
    for nb in manifest["notebooks"]:
        found = stray_outputs(run_dir / nb["outputs"]["ipynb"])
        assert not found, (nb["name"], found)


@pytest.mark.slow
def test_reports_open_with_takeaways_computed_from_their_results(full_run):
    _, run_dir, manifest = full_run
    for name in TAKEAWAY_REPORTS:
        h = _heads(manifest, name)
        assert 3 <= len(h["takeaways"]) <= 7, name
        nb = nbformat.read(str(run_dir / f"{name}.ipynb"), as_version=4)
        first = next(i for i, c in enumerate(nb.cells) if any("mof-takeaways" in o.get("data", {}).get("text/html", "")
                                                            for o in c.get("outputs", [])))
        assert first <= 3, (name, first)  # right after the parameters (and papermill's injected cell)
    f, e = _heads(manifest, "funnel_overview"), _heads(manifest, "engagement_conversion")
    assert f"{f['first_app_30d']:.0%} of the {f['first_app_companies']:,} companies" in f["takeaways"][0]
    assert f"{100 * e['holdout_effect']:+.1f} pp" in e["takeaways"][0] and "%" not in e["takeaways"][0].split("(")[0]


@pytest.mark.slow
def test_index_shows_formatted_headlines_and_keeps_the_raw_ones_in_the_manifest(full_run):
    _, run_dir, manifest = full_run
    index = (run_dir / "index.html").read_text()
    f = _heads(manifest, "funnel_overview")
    assert isinstance(f["production_rate"], float)  # raw in the manifest
    assert "production_rate" not in index and str(f["production_rate"]) not in index
    lo, hi = f["production_rate_ci"]
    assert f"Companies in production</th><td>{f['production_rate']:.0%} (95% CI {lo:.0%} to {hi:.0%})" in index
    e = _heads(manifest, "engagement_conversion")
    assert f"{100 * e['holdout_effect']:+.1f} pp" in index
    assert index.count("class='mof-takeaway'") == len(manifest["notebooks"])
    # a program readout before any program ran records its status and reason, not eleven n/a rows
    assert set(_heads(manifest, "program_readout")) == {"status", "reason", "takeaways"}


def _chromium():
    """Debian's chromium (``apt-get install -y chromium``), driven by Playwright; skip (or fail when
    $MOF_REQUIRE_BROWSER is set, as in .ci/run) when it or Playwright is missing."""
    import os

    exe = os.environ.get("MOF_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright for Python is not installed (make venv installs it)"
    if exe is None:
        reason = "Chromium not found: install it with `apt-get install -y chromium` (as root), or set MOF_CHROMIUM"
    if reason:
        if os.environ.get(BROWSER_REQUIRED_ENV):
            pytest.fail(f"{reason} (and ${BROWSER_REQUIRED_ENV} is set)")
        pytest.skip(reason)
    return exe


@pytest.mark.slow
def test_index_and_every_report_render_in_a_real_browser(full_run):
    """Headless Chromium: no console error, every image decoded (natural width > 0), the
    takeaways and headline figures visible; a screenshot of the index is saved in the run."""
    from playwright.sync_api import sync_playwright

    exe = _chromium()
    _, run_dir, manifest = full_run
    pages = ["index.html"] + [nb["outputs"]["html"] for nb in manifest["notebooks"]]
    # a program readout on a workspace where no program ran says so and draws nothing
    figureless = {nb["outputs"]["html"] for nb in manifest["notebooks"] if nb["headlines"].get("status") == "no_readout"}
    assert figureless <= {"program_readout.html"}, figureless
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            for name in pages:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                problems = []
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda exc: problems.append(str(exc)))
                page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
                page.goto((run_dir / name).as_uri(), wait_until="load")
                widths = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
                assert not problems, (name, problems)
                assert all(w > 0 for w in widths), (name, widths)
                if name == "index.html":
                    assert page.locator(".mof-takeaway").first.is_visible()
                    assert page.locator("table.mof-headlines").first.is_visible()
                    page.screenshot(path=str(run_dir / "index.png"), full_page=True)
                else:
                    assert widths or name in figureless, f"{name}: no figure"
                    if name.removesuffix(".html") in TAKEAWAY_REPORTS:
                        assert page.locator(".mof-takeaways").is_visible(), name
                        assert page.locator(".mof-takeaways table.mof-headlines").is_visible(), name
                page.close()
        finally:
            browser.close()
    assert (run_dir / "index.png").stat().st_size > 10_000


def test_without_chromium_the_browser_test_skips_with_the_install_command_unless_ci_requires_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("MOF_CHROMIUM", raising=False)
    monkeypatch.delenv(BROWSER_REQUIRED_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install -y chromium"):
        _chromium()
    monkeypatch.setenv(BROWSER_REQUIRED_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"Chromium not found.*MOF_REQUIRE_BROWSER is set"):
        _chromium()
