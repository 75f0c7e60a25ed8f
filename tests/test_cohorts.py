"""Cohort export: filters, exclusions counted, exact columns, atomic files."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from mof_experiments.cli import main
from mof_experiments.cohorts import export_cohort, read_cohort, write_cohort
from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.cohorts import ensure_suppressions_table
from mof_experiments.workspace import Workspace
from helpers import copy_workspace, prepare_workspace


@pytest.fixture(scope="module")
def cohort_base(simulated, tmp_path_factory):
    path = copy_workspace(simulated(companies=400, seed=13), tmp_path_factory.mktemp("cohort_ws"))
    prepare_workspace(path)
    return path


@pytest.fixture()
def ws_path(cohort_base, tmp_path):
    dst = tmp_path / "mof.duckdb"
    shutil.copy(cohort_base, dst)
    return dst


def test_a_defined_segment_without_members_selects_nobody_but_a_typo_is_an_error(ws_path):
    from mof_experiments.segments import segment_workspace
    from mof_experiments.segments.rules import parse_rules

    rules = parse_rules("segments:\n- name: nobody\n  description: never true\n  rule: calls < 0\n"
                        "- name: everybody\n  description: always true\n  rule: calls >= 0\n")
    with Workspace(ws_path) as ws:
        segment_workspace(ws, rules=rules, k_range=range(2, 4))
        assert set(ws.read("segments")["segment"]) == {"everybody"}
        assert len(export_cohort(ws, segments=["nobody"]).frame) == 0
        assert len(export_cohort(ws, segments=["everybody"]).frame) > 0
        with pytest.raises(MofConfigError, match=r"unknown segment 'nobdy'.*everybody, nobody"):
            export_cohort(ws, segments=["nobdy"])


def independent_selection(path, stage, persona, arm):
    """The same selection written directly in pandas, step by step."""
    with Workspace(path, read_only=True) as ws:
        c, f, p, a = (ws.read(t) for t in ("contacts", "funnel", "personas", "assignments"))
        sup = ws.read("suppressions") if ws.has("suppressions") else pd.DataFrame(columns=["email", "contact_id"])
    counts = {}
    n0 = len(c)
    c = c[c.company_id.isin(f.loc[f.stage == stage, "company_id"])]
    counts["stage"] = n0 - len(c)
    n0 = len(c)
    c = c[c.contact_id.isin(p.loc[p.persona == persona, "contact_id"])]
    counts["persona"] = n0 - len(c)
    n0 = len(c)
    c = c[c.company_id.isin(a.loc[(a.experiment_id == "mof_email_2026") & (a.arm == arm), "company_id"])]
    counts["experiment_arm"] = n0 - len(c)
    n0 = len(c)
    gh = a.loc[(a.experiment_id == "global_holdout") & (a.arm == "holdout"), "company_id"]
    c = c[~c.company_id.isin(gh)]
    counts["global_holdout"] = n0 - len(c)
    n0 = len(c)
    c = c[c.unsubscribed_at.isna() & ~c.contact_id.isin(sup.contact_id) & ~c.email.str.lower().isin(
        sup.email.str.lower())]
    counts["suppressed"] = n0 - len(c)
    return c.sort_values("contact_id"), counts


def test_export_matches_an_independent_selection_and_counts_every_exclusion(ws_path):
    with Workspace(ws_path, read_only=True) as ws:
        before = export_cohort(ws, stage="sandbox", personas=["PM"], experiment_id="mof_email_2026").frame
    gh = before.company_id.drop_duplicates().head(2)
    n_gh = int(before.company_id.isin(gh).sum())
    victim = before[~before.company_id.isin(gh)].iloc[0]
    with Workspace(ws_path) as ws:
        # two companies of the cohort go into the global holdout; one contact is suppressed by email
        ws.write("assignments", pd.DataFrame({"experiment_id": "global_holdout", "company_id": gh, "arm": "holdout",
                                              "assigned_at": pd.Timestamp("2026-01-01", tz="UTC")}), mode="append")
        ensure_suppressions_table(ws)
        ws.write("suppressions", pd.DataFrame({"email": [victim.email.upper()], "contact_id": [None],
                                               "reason": ["unsubscribe"], "source": ["test"],
                                               "ts": [pd.Timestamp("2026-02-01", tz="UTC")]}), mode="append")
    with Workspace(ws_path, read_only=True) as ws:
        cohort = export_cohort(ws, stage="sandbox", personas=["PM"], experiment_id="mof_email_2026")
    assert cohort.n == len(before) - n_gh - 1 and victim.contact_id not in set(cohort.frame.contact_id)
    want, counts = independent_selection(ws_path, "sandbox", "PM", "email")
    assert cohort.frame.contact_id.tolist() == want.contact_id.tolist()
    assert list(cohort.frame.columns) == ["contact_id", "email", "company_id", "persona", "company_name"]
    assert set(cohort.frame.persona) == {"PM"}
    got = dict(zip(cohort.summary.step, cohort.summary.removed))
    for k, v in counts.items():
        assert got[k] == v, k
    assert got["global_holdout"] == n_gh > 0 and got["duplicate_email"] == 0
    assert got["suppressed"] == counts["suppressed"] >= 1
    s = cohort.summary
    assert (s.remaining.iloc[:-1].to_numpy() - s.removed.iloc[1:].to_numpy() == s.remaining.iloc[1:].to_numpy()).all()
    assert s.remaining.iloc[-1] == cohort.n


def test_duplicate_emails_are_kept_once(ws_path):
    with Workspace(ws_path) as ws:
        c = ws.read("contacts")
        c.loc[1, "email"] = c.loc[0, "email"].upper()
        ws.write("contacts", c)
    with Workspace(ws_path, read_only=True) as ws:
        cohort = export_cohort(ws, columns=["contact_id", "email"])
    assert cohort.excluded.get("duplicate_email") == 1
    assert cohort.frame.email.str.lower().is_unique


def test_missing_personas_table_names_the_command_to_run(ws_path):
    with Workspace(ws_path) as ws:
        ws.raw.execute("DROP TABLE personas")
    with Workspace(ws_path, read_only=True) as ws:
        with pytest.raises(MofInputError, match=r"needs table 'personas'.*run `mof segment` first"):
            export_cohort(ws, personas="PM")


def test_missing_funnel_table_names_mof_label(ws_path):
    with Workspace(ws_path) as ws:
        ws.raw.execute("DROP TABLE funnel")
    with Workspace(ws_path, read_only=True) as ws:
        with pytest.raises(MofInputError, match=r"run `mof label` first"):
            export_cohort(ws, stage="sandbox", columns=["contact_id", "email"])


def test_control_arm_and_unknown_column_are_refused(ws_path):
    with Workspace(ws_path, read_only=True) as ws:
        with pytest.raises(MofConfigError, match="control arm"):
            export_cohort(ws, experiment_id="mof_email_2026", arms=["holdout"])
        with pytest.raises(MofConfigError, match="unknown cohort column 'shoe_size'"):
            export_cohort(ws, columns=["contact_id", "shoe_size"])


def test_cli_export_writes_exact_columns_atomically_and_reports_counts(ws_path, tmp_path, capsys):
    out = tmp_path / "cohort.parquet"
    rc = main(["cohort", "export", "-w", str(ws_path), "--stage", "sandbox", "--persona", "PM,DEV",
               "--experiment", "mof_email_2026", "--arm", "email",
               "--columns", "contact_id,email,company_name,stage,arm", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    df = pd.read_parquet(out)
    assert list(df.columns) == ["contact_id", "email", "company_name", "stage", "arm"]
    assert set(df.stage) == {"sandbox"} and set(df.arm) == {"email"}
    assert f"selected {len(df):,} contacts" in text and "persona" in text
    bad = tmp_path / "bad.csv"
    assert main(["cohort", "export", "-w", str(ws_path), "--columns", "nope", "--out", str(bad)]) == 2
    assert not bad.exists()
    assert list(tmp_path.glob(".*tmp")) == []


def test_write_and_read_cohort_round_trip(tmp_path):
    frame = pd.DataFrame({"contact_id": ["c1", "c2"], "email": ["a@x.com", "b@x.com"]})
    path = write_cohort(frame, tmp_path / "c.csv")
    assert read_cohort(path).to_dict("list") == frame.to_dict("list")
    (tmp_path / "bad.csv").write_text("contact_id,email\nc1,\n", encoding="utf-8")
    with pytest.raises(MofInputError, match=r"bad.csv: column 'email': missing value \(e.g. row 1"):
        read_cohort(tmp_path / "bad.csv")


def test_exclude_needs_review_drops_exactly_the_flagged_contacts_and_counts_them(ws_path, tmp_path, capsys):
    with Workspace(ws_path) as ws:
        p = ws.read("personas")
        pm = p.index[p["persona"] == "PM"]
        flagged = set(p.loc[pm[::3], "contact_id"])            # every third PM is flagged
        ws.write("personas", p.assign(needs_review=p["contact_id"].isin(flagged)))
    with Workspace(ws_path, read_only=True) as ws:
        everyone = export_cohort(ws, personas="PM")
        kept = export_cohort(ws, personas="PM", exclude_needs_review=True)
    want = everyone.frame[~everyone.frame["contact_id"].isin(flagged)]
    assert kept.frame["contact_id"].tolist() == want["contact_id"].tolist()
    removed = dict(zip(kept.summary.step, kept.summary.removed))["needs_review"]
    assert removed == len(flagged) > 0                  # counted right after the persona step
    assert 0 < everyone.n - kept.n <= removed           # later steps (holdout, suppressed) took some anyway
    out = tmp_path / "c.csv"
    assert main(["cohort", "export", "-w", str(ws_path), "--persona", "PM", "--exclude-needs-review",
                 "--out", str(out)]) == 0
    assert "needs_review" in capsys.readouterr().out
    assert pd.read_csv(out)["contact_id"].tolist() == want["contact_id"].tolist()


def test_exclude_needs_review_on_an_old_personas_table_says_to_run_mof_segment(ws_path):
    with Workspace(ws_path, read_only=True) as ws:        # the fixture's personas table has no needs_review
        with pytest.raises(MofConfigError, match="needs_review.*run `mof segment` again"):
            export_cohort(ws, personas="PM", exclude_needs_review=True)


def test_one_address_spelled_with_a_unicode_and_a_punycode_domain_is_exported_once(ws_path):
    # mof send treats them as one address (schema.email_key); a CSV for another email tool must too
    with Workspace(ws_path) as ws:
        c = ws.read("contacts")
        c.loc[0, "email"], c.loc[1, "email"] = "ana@bücher.example", "Ana@XN--BCHER-KVA.example"
        ws.write("contacts", c)
    with Workspace(ws_path, read_only=True) as ws:
        cohort = export_cohort(ws, columns=["contact_id", "email"])
    assert cohort.excluded.get("duplicate_email") == 1
    assert cohort.frame.email.isin(["ana@bücher.example", "Ana@XN--BCHER-KVA.example"]).sum() == 1
