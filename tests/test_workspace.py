"""`mof ingest`: validation with one-line errors, all-or-nothing writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from helpers import run_mof
from mof_experiments.errors import MofInputError
from mof_experiments.schema import validate
from mof_experiments.workspace import Workspace, ingest

GOOD_COMPANIES = "company_id,signup_at,plan\nc1,2026-03-01T00:00:00Z,free\nc2,2026-03-02T00:00:00+01:00,growth\n"


@pytest.fixture()
def ws_path(tmp_path) -> Path:
    """A workspace that already holds two companies and two contacts."""
    (tmp_path / "companies.csv").write_text(GOOD_COMPANIES)
    (tmp_path / "contacts.csv").write_text(
        "contact_id,company_id,email,job_title\nk1,c1,ana@c1.example.com,CTO\nk2,c2,ben@c2.example.com,\n")
    path = tmp_path / "ws.duckdb"
    with Workspace(path) as ws:
        ingest(ws, "companies", [tmp_path / "companies.csv"])
        ingest(ws, "contacts", [tmp_path / "contacts.csv"])
    return path


def digest(path: Path) -> dict:
    """Content of every table (to prove a failed ingest changed nothing)."""
    with Workspace(path, read_only=True) as ws:
        return {t: hashlib.sha256(ws.read(t).to_csv(index=False).encode()).hexdigest() for t in ws.tables()}


def test_good_ingest_converts_offsets_to_utc(ws_path):
    with Workspace(ws_path, read_only=True) as ws:
        c = ws.read("companies").set_index("company_id")
    assert c.loc["c2", "signup_at"] == pd.Timestamp("2026-03-01T23:00:00Z")
    assert str(c["signup_at"].dtype) == "datetime64[us, UTC]"
    assert pd.isna(c.loc["c1", "size"])  # optional column absent in the file -> null


BAD_INPUTS = {
    # name: (table, file name, content bytes, expected pieces of the one-line error)
    "missing_column": ("companies", "co.csv", b"company_id\nc9\n", ["co.csv", "signup_at", "missing required column"]),
    "wrong_type": ("api_events", "ev.csv",
                   b"company_id,ts,environment,endpoint,status_code\nc1,2026-03-03T00:00:00Z,sandbox,/v1/a,200\n"
                   b"c1,2026-03-03T01:00:00Z,sandbox,/v1/a,OK\n", ["ev.csv", "status_code", "row 2", "'OK'"]),
    "duplicate_key_in_file": ("companies", "co.csv",
                              b"company_id,signup_at\nc7,2026-03-01T00:00:00Z\nc7,2026-03-02T00:00:00Z\n",
                              ["co.csv", "company_id", "duplicate key", "row 2", "'c7'"]),
    "duplicate_key_with_workspace": ("companies", "co.csv", b"company_id,signup_at\nc1,2026-03-01T00:00:00Z\n",
                                     ["co.csv", "company_id", "already in workspace", "'c1'"]),
    "malformed_email": ("contacts", "ct.csv",
                        b"contact_id,company_id,email,job_title\nk8,c1,ok@c1.example.com,PM\nk9,c1,not-an-email,PM\n",
                        ["ct.csv", "email", "malformed email", "row 2", "'not-an-email'"]),
    "email_with_newline": ("contacts", "ct.csv",
                           b'contact_id,company_id,email,job_title\nk9,c1,"a@b.com\nBcc: x@y.com",PM\n',
                           ["ct.csv", "email", "malformed email"]),
    "empty_file": ("companies", "co.csv", b"", ["co.csv", "file is empty"]),
    "header_only": ("companies", "co.csv", b"company_id,signup_at\n", ["co.csv", "no rows"]),
    "not_utf8": ("companies", "co.csv", "company_id,signup_at\nc\xe9,2026-03-01T00:00:00Z\n".encode("latin-1"),
                 ["co.csv", "not UTF-8"]),
    "unknown_value": ("api_events", "ev.csv",
                      b"company_id,ts,environment,endpoint,status_code\nc1,2026-03-03T00:00:00Z,staging,/v1/a,200\n",
                      ["ev.csv", "environment", "unknown value", "'staging'"]),
    "naive_timestamp": ("companies", "co.csv", b"company_id,signup_at\nc5,2026-03-01 10:00:00\n",
                        ["co.csv", "signup_at", "no timezone", "--assume-tz", "row 1"]),
    "bad_timestamp": ("companies", "co.csv", b"company_id,signup_at\nc5,2026-13-45T10:00:00Z\n",
                      ["co.csv", "signup_at", "not a timestamp"]),
    "status_out_of_range": ("api_events", "ev.csv",
                            b"company_id,ts,environment,endpoint,status_code\nc1,2026-03-03T00:00:00Z,sandbox,/v1/a,999\n",
                            ["ev.csv", "status_code", "above 599"]),
    "bad_jsonl": ("companies", "co.jsonl", b'{"company_id": "c5", "signup_at": "2026-03-01T00:00:00Z"}\n{oops\n',
                  ["co.jsonl", "cannot read jsonl"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_error_exit_2_and_unchanged_workspace(case, ws_path, tmp_path):
    table, name, content, pieces = BAD_INPUTS[case]
    bad = tmp_path / name
    bad.write_bytes(content)
    before = digest(ws_path)
    proc = run_mof("ingest", table, str(bad), "--workspace", str(ws_path))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mof: error: "), proc.stderr
    for piece in pieces:
        assert piece in lines[0], lines[0]
    assert digest(ws_path) == before


def test_failure_in_second_file_writes_nothing_from_the_first(ws_path, tmp_path):
    good = tmp_path / "ev1.csv"
    good.write_text("company_id,ts,environment,endpoint,status_code\nc1,2026-03-03T00:00:00Z,sandbox,/v1/a,200\n")
    bad = tmp_path / "ev2.csv"
    bad.write_text("company_id,ts,environment,endpoint,status_code\nc1,2026-03-03T00:00:00Z,sandbox,/v1/a,2x\n")
    with Workspace(ws_path) as ws:
        with pytest.raises(MofInputError, match=r"ev2\.csv: column 'status_code'"):
            ingest(ws, "api_events", [good, bad])
        assert not ws.has("api_events")


def test_assume_tz_converts_naive_timestamps(ws_path, tmp_path):
    f = tmp_path / "co.csv"
    f.write_text("company_id,signup_at\nc5,2026-03-01 10:00:00\nc6,2026-07-01 10:00:00\n")
    proc = run_mof("ingest", "companies", str(f), "--workspace", str(ws_path), "--assume-tz", "Europe/Paris")
    assert proc.returncode == 0, proc.stderr
    with Workspace(ws_path, read_only=True) as ws:
        c = ws.read("companies").set_index("company_id")
    assert c.loc["c5", "signup_at"] == pd.Timestamp("2026-03-01T09:00:00Z")  # CET, UTC+1
    assert c.loc["c6", "signup_at"] == pd.Timestamp("2026-07-01T08:00:00Z")  # CEST, UTC+2


def test_parquet_and_jsonl_inputs(ws_path, tmp_path):
    ev = pd.DataFrame({"company_id": ["c1", "c2"], "ts": pd.to_datetime(["2026-03-03T00:00:00Z"] * 2),
                       "environment": ["sandbox", "production"], "endpoint": ["/a", "/b"], "status_code": [200, 201],
                       "extra": [1, 2]})
    ev.to_parquet(tmp_path / "ev.parquet")
    (tmp_path / "ev.jsonl").write_text(
        '{"company_id": "c1", "ts": "2026-03-04T00:00:00Z", "environment": "sandbox", "endpoint": "/a", '
        '"status_code": 401}\n')
    with Workspace(ws_path) as ws:
        r = ingest(ws, "api_events", [tmp_path / "ev.parquet", tmp_path / "ev.jsonl"])
        assert r.rows == 3 and r.dropped_columns == ("extra",)
        got = ws.read("api_events").sort_values("ts")
    assert list(got["status_code"]) == [200, 201, 401]


def test_replace_mode_reloads_a_table(ws_path, tmp_path):
    f = tmp_path / "co.csv"
    f.write_text("company_id,signup_at\nc1,2026-01-01T00:00:00Z\n")
    with Workspace(ws_path) as ws:
        ingest(ws, "companies", [f], mode="replace")
        assert list(ws.read("companies")["company_id"]) == ["c1"]


def test_validate_does_not_mutate_the_callers_frame():
    df = pd.DataFrame({"company_id": [" c1 "], "signup_at": ["2026-03-01T00:00:00Z"]})
    before = df.copy()
    out = validate(df, "companies", source="x")
    pd.testing.assert_frame_equal(df, before)
    assert out.loc[0, "company_id"] == "c1"


def test_export_parquet_to_a_folder_with_a_quote_in_its_name(simulated, tmp_path):
    """The COPY's file name is a quoted SQL literal: a folder named like "Ana's exports" works."""
    import pyarrow.parquet as pq

    from mof_experiments.engines import export_parquet

    out = tmp_path / "Ana's exports"
    with Workspace(simulated(companies=300, seed=5), read_only=True) as ws:
        files = export_parquet(ws, out, tables=("companies",))
        n = ws.count("companies")
    assert files == [out / "companies.parquet"] and pq.read_table(files[0]).num_rows == n > 0
