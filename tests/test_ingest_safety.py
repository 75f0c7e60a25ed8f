"""Ingest and events import are safe to repeat and say what they found (issue 13): the same file
twice changes nothing, rows repeated across batches are dropped, timestamps in the future are
counted (or refused with --strict), a non-date is named as such, a directory is a one-line
error, and a second process on a workspace waits for it instead of failing at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mof_experiments.errors import MofInputError
from mof_experiments.send import send_campaign
from mof_experiments.simulate import SimConfig, simulate
from mof_experiments.workspace import Workspace, ingest
from helpers import CAMPAIGN, eligible_contacts, hold_workspace, prepare_workspace, write_campaign

EVENTS = ("company_id,ts,environment,endpoint,status_code,contact_id\n"
          "c1,2026-03-03T00:00:00Z,sandbox,/v1/a,200,\n"
          "c1,2026-03-03T00:00:00Z,sandbox,/v1/a,200,\n"        # an exact repeat within the file
          "c2,2026-03-04T10:00:00Z,production,/v1/b,201,k7\n"
          "c2,2026-03-04T10:00:01Z,production,/v1/b,500,k7\n")
NEXT = ("company_id,ts,environment,endpoint,status_code,contact_id\n"
        "c2,2026-03-04T10:00:01Z,production,/v1/b,500,k7\n"     # already loaded by the first batch
        "c1,2026-03-03T00:00:00Z,sandbox,/v1/a,200,\n"          # already loaded (a null contact_id)
        "c3,2026-03-05T00:00:00Z,sandbox,/v1/c,404,\n")


def mof(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", "from mof_experiments.cli import main; raise SystemExit(main())",
                           *args], capture_output=True, text=True, env=e)


def rows(path: Path, table: str) -> pd.DataFrame:
    with Workspace(path, read_only=True) as ws:
        return ws.read(table)


# -- item 7 -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ingesting_the_same_events_file_twice_changes_nothing_and_says_so(tmp_path):
    f = tmp_path / "calls.csv"
    f.write_text(EVENTS)
    ws = tmp_path / "ws.duckdb"
    p1 = mof("ingest", "api_events", str(f), "-w", str(ws))
    assert p1.returncode == 0, p1.stderr
    assert "ingested 3 rows" in p1.stdout and "dropped 1 exact duplicate rows" in p1.stdout
    before = rows(ws, "api_events")
    p2 = mof("ingest", "api_events", str(f), "-w", str(ws))
    assert p2.returncode == 0 and "nothing changed" in p2.stdout and "(3 distinct rows)" in p2.stdout
    pd.testing.assert_frame_equal(rows(ws, "api_events"), before)
    assert len(before) == 3


def test_rows_repeated_across_batches_are_dropped(tmp_path):
    (tmp_path / "a.csv").write_text(EVENTS)
    (tmp_path / "b.csv").write_text(NEXT)
    path = tmp_path / "ws.duckdb"
    with Workspace(path) as ws:
        ingest(ws, "api_events", [tmp_path / "a.csv"])
        r = ingest(ws, "api_events", [tmp_path / "b.csv"])
        got = ws.read("api_events")
    assert (r.rows, r.already_present) == (1, 2)
    assert "ingested 1 rows" in str(r) and "skipped 2 rows already in the workspace" in str(r)
    assert len(got) == 4 and not got.duplicated().any()
    assert sorted(got.company_id) == ["c1", "c2", "c2", "c3"]


def test_email_events_ingest_is_idempotent_too(tmp_path):
    f = tmp_path / "ev.csv"
    f.write_text("message_id,campaign_id,contact_id,company_id,zone,topic,variant,event,ts\n"
                 "m1,camp,k1,c1,case_study,x,A,sent,2026-03-01T00:00:00Z\n"
                 "m1,camp,k1,c1,case_study,x,A,open,2026-03-01T01:00:00Z\n")
    path = tmp_path / "ws.duckdb"
    with Workspace(path) as ws:
        assert ingest(ws, "email_events", [f]).rows == 2
        again = ingest(ws, "email_events", [f])
        assert (again.rows, again.already_present, ws.count("email_events")) == (0, 2, 2)


def test_a_keyed_table_accepts_identical_rows_again_and_names_a_changed_column(tmp_path):
    f = tmp_path / "co.csv"
    f.write_text("company_id,signup_at,plan\nc1,2026-03-01T00:00:00Z,free\nc2,2026-03-02T00:00:00Z,growth\n")
    path = tmp_path / "ws.duckdb"
    with Workspace(path) as ws:
        ingest(ws, "companies", [f])
        again = ingest(ws, "companies", [f])
        assert (again.rows, again.already_present) == (0, 2) and ws.count("companies") == 2
    g = tmp_path / "co2.csv"
    g.write_text("company_id,signup_at,plan\nc3,2026-03-03T00:00:00Z,free\nc2,2026-03-02T00:00:00Z,enterprise\n")
    with Workspace(path) as ws:
        with pytest.raises(MofInputError, match=r"co2\.csv: column 'plan': key company_id='c2' already in workspace "
                                                r"table companies with a different 'plan' \(stored 'growth'\).*row 2"):
            ingest(ws, "companies", [g])
        assert ws.count("companies") == 2


# -- item 10 ------------------------------------------------------------------------------------
FUTURE = ("company_id,ts,environment,endpoint,status_code\n"
          "c1,2026-03-03T00:00:00Z,sandbox,/v1/a,200\n"
          "c1,2099-01-01T00:00:00Z,sandbox,/v1/a,200\n"
          "c1,2099-06-01T00:00:00Z,production,/v1/a,200\n")


@pytest.mark.slow
def test_future_timestamps_are_counted_and_warned_and_strict_refuses_them(tmp_path):
    f = tmp_path / "calls.csv"
    f.write_text(FUTURE)
    ws = tmp_path / "ws.duckdb"
    strict = mof("ingest", "api_events", str(f), "-w", str(ws), "--strict")
    assert strict.returncode == 2 and len(strict.stderr.strip().splitlines()) == 1
    assert "column 'ts': 2 timestamp(s) in the future" in strict.stderr and "row 2" in strict.stderr
    assert "2099-01-01" in strict.stderr
    if ws.exists():
        with Workspace(ws, read_only=True) as w:
            assert not w.has("api_events")
    p = mof("ingest", "api_events", str(f), "-w", str(ws))
    assert p.returncode == 0 and "ingested 3 rows" in p.stdout
    assert "mof: warning:" in p.stderr and "column 'ts': 2 timestamp(s) in the future" in p.stderr


# -- item 12: a non-date is "not a timestamp" ---------------------------------------------------
@pytest.mark.parametrize("value", ["yesterday", "n/a", "2026-02-30 10:00", "12345abc"])
def test_a_non_date_in_a_timestamp_column_is_named_not_a_timestamp(tmp_path, value):
    f = tmp_path / "co.csv"
    f.write_text(f"company_id,signup_at\nc1,2026-03-01T00:00:00Z\nc2,{value}\n")
    p = mof("ingest", "companies", str(f), "-w", str(tmp_path / "ws.duckdb"))
    assert p.returncode == 2
    assert "column 'signup_at': not a timestamp" in p.stderr and "row 2" in p.stderr and repr(value) in p.stderr
    assert "timezone" not in p.stderr


# -- item 13: addresses at ingest ---------------------------------------------------------------
@pytest.mark.parametrize("address", [".dot@example.com", "dot..dot@example.com", "dot.@example.com",
                                     "a@localhost", "a@b.test"])
def test_malformed_addresses_are_refused_at_ingest(tmp_path, address):
    f = tmp_path / "ct.csv"
    f.write_text(f"contact_id,company_id,email,job_title\nk1,c1,ok@acme.example.com,PM\nk2,c1,{address},PM\n")
    p = mof("ingest", "contacts", str(f), "-w", str(tmp_path / "ws.duckdb"))
    assert p.returncode == 2 and "column 'email': malformed email address" in p.stderr and "row 2" in p.stderr


@pytest.mark.slow
def test_an_international_domain_is_a_valid_address(tmp_path):
    f = tmp_path / "ct.csv"
    f.write_text("contact_id,company_id,email,job_title\nk1,c1,ana@bücher.example,PM\n", encoding="utf-8")
    p = mof("ingest", "contacts", str(f), "-w", str(tmp_path / "ws.duckdb"))
    assert p.returncode == 0, p.stderr


# -- items 8, 10, 11: events import -------------------------------------------------------------
@pytest.fixture(scope="module")
def sent_ws(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ingest_safety_sent")
    path = d / "mof.duckdb"
    simulate(SimConfig(companies=120, seed=9), path, progress=False)
    prepare_workspace(path)
    r = send_campaign(write_campaign(d / "c"), eligible_contacts(path).head(4), backend=f"mbox:{d / 'o.mbox'}",
                      workspace=path, ledger=d / "l.sqlite")
    assert r.sent == 4
    return path


@pytest.fixture()
def ws_sent(sent_ws, tmp_path) -> Path:
    dst = tmp_path / "mof.duckdb"
    shutil.copy(sent_ws, dst)
    return dst


def sent_messages(path) -> pd.DataFrame:
    ev = rows(path, "email_events")
    return ev[(ev.campaign_id == CAMPAIGN) & (ev.event == "sent")].sort_values("contact_id").reset_index(drop=True)


@pytest.mark.slow
def test_csv_events_with_machine_open_import_without_a_variant_column(ws_sent, tmp_path):
    s = sent_messages(ws_sent)
    f = tmp_path / "events.csv"
    f.write_text("message_id,event,ts,machine_open\n"
                 f"{s.message_id[0]},open,2026-07-01T10:00:00Z,true\n"
                 f"{s.message_id[1]},open,2026-07-01T11:00:00Z,false\n"
                 f"{s.message_id[2]},click,2026-07-01T12:00:00Z,\n")
    p = mof("events", "import", str(f), "--format", "csv", "-w", str(ws_sent))
    assert p.returncode == 0, p.stderr
    assert "imported 3" in p.stdout and "1 machine opens flagged" in p.stdout
    ev = rows(ws_sent, "email_events")
    opens = ev[(ev.campaign_id == CAMPAIGN) & (ev.event == "open")].set_index("message_id")["machine_open"]
    assert bool(opens[s.message_id[0]]) is True and bool(opens[s.message_id[1]]) is False
    assert set(ev.loc[ev.message_id.isin(s.message_id) & (ev.event != "sent"), "variant"]) == {"A"}  # from the send


@pytest.mark.slow
def test_events_in_the_future_are_warned_about_and_strict_refuses_them(ws_sent, tmp_path):
    s = sent_messages(ws_sent)
    f = tmp_path / "events.csv"
    f.write_text("message_id,event,ts\n"
                 f"{s.message_id[0]},delivered,2026-07-01T10:00:00Z\n"
                 f"{s.message_id[1]},open,2099-07-01T11:00:00Z\n")
    n = len(rows(ws_sent, "email_events"))
    strict = mof("events", "import", str(f), "--format", "csv", "-w", str(ws_sent), "--strict")
    assert strict.returncode == 2 and "1 timestamp(s) in the future" in strict.stderr and "row 2" in strict.stderr
    assert len(rows(ws_sent, "email_events")) == n
    p = mof("events", "import", str(f), "--format", "csv", "-w", str(ws_sent))
    assert p.returncode == 0 and "mof: warning:" in p.stderr and "1 timestamp(s) in the future" in p.stderr
    assert len(rows(ws_sent, "email_events")) == n + 2


@pytest.mark.parametrize("fmt", ["sendgrid", "mailgun", "csv"])
def test_events_import_of_a_directory_is_a_one_line_error(ws_sent, tmp_path, fmt):
    d = tmp_path / "exports"
    d.mkdir()
    p = mof("events", "import", str(d), "--format", fmt, "-w", str(ws_sent))
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert lines[0] == f"mof: error: {d}: is a directory; give " + ("a file" if fmt == "csv" else "the event file")


# -- item 16: a second process on the workspace waits ------------------------------------------
@pytest.mark.slow
def test_a_locked_workspace_is_waited_for_with_a_message(tmp_path):
    import os

    f = tmp_path / "co.csv"
    f.write_text("company_id,signup_at\nc1,2026-03-01T00:00:00Z\n")
    ws = tmp_path / "ws.duckdb"
    with Workspace(ws) as w:
        ingest(w, "companies", [f])
    holder = hold_workspace(ws, 120)
    try:
        p = subprocess.Popen([sys.executable, "-c", "from mof_experiments.cli import main; raise SystemExit(main())",
                              "cohort", "export", "--out", str(tmp_path / "x.csv"), "-w", str(ws)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, MOF_LOCK_TIMEOUT="300"))
        first = p.stderr.readline()          # blocks until it says it waits
        time.sleep(0.5)
        assert p.poll() is None              # still waiting, not failed
    finally:
        holder.kill()                        # the other process finishes
        holder.wait()
    out, rest = p.communicate(timeout=120)
    # it waited for the other process instead of failing with DuckDB's lock message
    assert "is in use by another process (PID" in first and "waiting up to 300 s ($MOF_LOCK_TIMEOUT)" in first
    assert "Could not set lock" not in first + rest
    assert p.returncode == 2 and "needs table 'contacts'" in rest   # it got in, and went on to the real answer


@pytest.mark.slow
def test_a_workspace_locked_longer_than_the_timeout_is_a_one_line_error(tmp_path):
    ws = tmp_path / "ws.duckdb"
    Workspace(ws).set_meta(x=1)
    holder = hold_workspace(ws, 30.0)
    try:
        p = mof("label", "-w", str(ws), env={"MOF_LOCK_TIMEOUT": "0.5"})
    finally:
        holder.kill()
        holder.wait()
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and lines[-1].startswith("mof: error: ") and "Traceback" not in p.stderr
    assert "another process holds the workspace" in lines[-1] and "$MOF_LOCK_TIMEOUT sets how long" in lines[-1]
