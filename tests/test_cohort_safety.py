"""`mof cohort export` is safe by default (issue 13): holdout and control companies are left out
with or without --experiment, cells cannot run as spreadsheet formulas, and a file the export
writes is read back whole by `mof send`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from mof_experiments.cli import main
from mof_experiments.errors import MofInputError
from mof_experiments.cohorts import read_cohort
from mof_experiments.workspace import Workspace
from helpers import simulate_with_global_holdout, write_campaign


@pytest.fixture(scope="module")
def cohort_safety_base(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cohort_safety_ws") / "mof.duckdb"
    return simulate_with_global_holdout(path, companies=300, seed=32, holdout_companies=4)


@pytest.fixture()
def ws_path(cohort_safety_base, tmp_path) -> Path:
    dst = tmp_path / "mof.duckdb"
    shutil.copy(cohort_safety_base, dst)
    return dst


def expected_ids(path, include_control: bool = False) -> list[str]:
    """Sandbox PMs not suppressed, and (by default) not in the holdout or a control arm: pandas."""
    with Workspace(path, read_only=True) as ws:
        c, f, p, a, ea = (ws.read(t) for t in ("contacts", "funnel", "personas", "assignments", "experiment_arms"))
    c = c[c.company_id.isin(f.loc[f.stage == "sandbox", "company_id"])]
    c = c[c.contact_id.isin(p.loc[p.persona == "PM", "contact_id"]) & c.unsubscribed_at.isna()]
    if not include_control:
        ctl = a.merge(ea[ea.is_control], on=["experiment_id", "arm"]).company_id
        gh = a.loc[(a.experiment_id == "global_holdout") & (a.arm == "holdout"), "company_id"]
        c = c[~c.company_id.isin(set(ctl) | set(gh))]
    return sorted(c.contact_id)


def test_export_without_an_experiment_leaves_out_holdout_and_control_companies(ws_path, tmp_path, capsys):
    out = tmp_path / "cohort.csv"
    assert main(["cohort", "export", "--stage", "sandbox", "--persona", "PM", "--out", str(out),
                 "-w", str(ws_path)]) == 0
    got = pd.read_csv(out, dtype=str)
    want = expected_ids(ws_path)
    everyone = expected_ids(ws_path, include_control=True)
    assert sorted(got.contact_id) == want and len(everyone) - len(want) >= 20
    text = capsys.readouterr().out
    with Workspace(ws_path, read_only=True) as ws:
        a, c, f, p = (ws.read(t) for t in ("assignments", "contacts", "funnel", "personas"))
    control = set(a.loc[(a.experiment_id == "mof_email_2026") & (a.arm == "holdout"), "company_id"])
    gh = set(a.loc[a.experiment_id == "global_holdout", "company_id"])
    pms = c[c.company_id.isin(f.loc[f.stage == "sandbox", "company_id"]) &
            c.contact_id.isin(p.loc[p.persona == "PM", "contact_id"])]   # before the suppressed rule
    n_gh = int(pms.company_id.isin(gh).sum())
    n_control = int((~pms.company_id.isin(gh) & pms.company_id.isin(control)).sum())
    assert f"global_holdout     removed {n_gh:>7,}" in text and n_gh > 0
    assert f"control_arm        removed {n_control:>7,}" in text and n_control > 0


def test_include_control_keeps_them_and_says_how_many(ws_path, tmp_path, capsys):
    out = tmp_path / "cohort.csv"
    assert main(["cohort", "export", "--stage", "sandbox", "--persona", "PM", "--out", str(out), "--include-control",
                 "-w", str(ws_path)]) == 0
    got = sorted(pd.read_csv(out, dtype=str).contact_id)
    kept = len(got) - len(expected_ids(ws_path))
    assert got == expected_ids(ws_path, include_control=True) and kept > 0
    cap = capsys.readouterr()
    assert f"--include-control kept {kept:,} contacts" in cap.err
    assert "KEPT by --include-control" in cap.out


def test_formula_cells_are_neutralized_in_the_csv_and_restored_on_reading(ws_path, tmp_path):
    with Workspace(ws_path) as ws:
        co = ws.read("companies")
        f = ws.read("funnel")
        sandbox = set(f.loc[f.stage == "sandbox", "company_id"])
        targets = co[co.company_id.isin(sandbox)].company_id.head(6).tolist()
        names = ['=HYPERLINK("http://evil.example.com","click")', "+1+2", "-2+3", "@SUM(A1:A9)", "\tTabbed",
                 "'=already quoted"]
        co.loc[co.company_id.isin(targets), "name"] = co.loc[co.company_id.isin(targets), "company_id"].map(
            dict(zip(targets, names)))
        ws.write("companies", co)
    out = tmp_path / "cohort.csv"
    assert main(["cohort", "export", "--stage", "sandbox", "--out", str(out), "--include-control", "--columns",
                 "contact_id,email,company_id,company_name", "-w", str(ws_path)]) == 0
    import csv

    with open(out, newline="", encoding="utf-8") as fh:
        cells = [c for r in csv.reader(fh) for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'=HYPERLINK(\"http://evil.example.com\",\"click\")" in cells and "''=already quoted" in cells
    back = read_cohort(out).set_index("company_id")["company_name"].to_dict()
    for t, n in zip(targets, names):
        assert back[t] == n   # the round trip is exact


def test_a_value_with_a_cr_is_written_quoted_and_read_back_whole(ws_path, tmp_path):
    with Workspace(ws_path) as ws:
        co = ws.read("companies")
        f = ws.read("funnel")
        target = co[co.company_id.isin(f.loc[f.stage == "sandbox", "company_id"])].company_id.iloc[0]
        co.loc[co.company_id == target, "name"] = "North\rFleet"
        ws.write("companies", co)
    out = tmp_path / "cohort.csv"
    assert main(["cohort", "export", "--stage", "sandbox", "--include-control", "--out", str(out),
                 "-w", str(ws_path)]) == 0
    back = read_cohort(out)
    assert back.loc[back.company_id == target, "company_name"].tolist()[0] == "North\rFleet"
    assert back.email.notna().all()
    # mof send reads its own file back (the CR stays in the body; a subject would refuse it)
    spec = write_campaign(tmp_path / "c", subject="A case study", experiment_id=None, arms=None)
    rc = main(["send", str(spec), "--cohort", str(out), "--backend", "dry-run", "-w", str(ws_path),
               "--ledger", str(tmp_path / "l.sqlite")])
    assert rc == 0


def test_a_bare_cr_in_a_cohort_value_is_named_as_such_not_as_a_missing_email(tmp_path):
    bad = tmp_path / "cohort.csv"
    bad.write_bytes(b"contact_id,company_name,email\nk1,Acme,a@acme.example.com\nk2,North\rFleet,b@nf.example.com\n")
    with pytest.raises(MofInputError, match=r"cohort\.csv: column 'company_name': bare carriage return \(CR\).*"
                                            r"row 2: 'k2,North\\rFleet,b@nf\.example\.com'"):
        read_cohort(bad)
