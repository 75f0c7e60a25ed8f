"""Funnel labeling: exact answers on hand-made events, and agreement with the simulator's truth."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from mof_experiments.funnel import FUNNEL_COLUMNS, label, label_workspace, parse_as_of, summarize
from mof_experiments.errors import MofInputError
from mof_experiments.workspace import Workspace, ingest

UTC = timezone.utc


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s).tz_convert("UTC") if pd.Timestamp(s).tzinfo else pd.Timestamp(s, tz="UTC")


COMPANIES_CSV = """company_id,signup_at
a_no_calls,2026-03-01T00:00:00Z
b_prod_no_sandbox,2026-03-01T00:00:00Z
c_only_failed_prod,2026-03-01T00:00:00Z
d_before_signup,2026-03-10T00:00:00Z
e_after_as_of,2026-03-01T00:00:00Z
f_duplicates,2026-03-01T00:00:00Z
g_mixed_tz,2026-03-01T00:00:00Z
h_signed_up_after_as_of,2026-05-01T00:00:00Z
"""

# as_of for these tests: 2026-04-01T00:00Z
EVENTS_CSV = """company_id,ts,environment,endpoint,status_code
b_prod_no_sandbox,2026-03-05T10:00:00Z,production,/v1/payments,200
b_prod_no_sandbox,2026-03-06T10:00:00Z,production,/v1/refunds,500
c_only_failed_prod,2026-03-02T09:00:00Z,production,/v1/payments,401
c_only_failed_prod,2026-03-03T09:00:00Z,production,/v1/payments,403
d_before_signup,2026-03-09T23:00:00Z,sandbox,/v1/payments,200
d_before_signup,2026-03-11T08:00:00Z,sandbox,/v1/customers,200
e_after_as_of,2026-03-20T12:00:00Z,sandbox,/v1/payments,200
e_after_as_of,2026-04-01T00:00:00Z,production,/v1/payments,200
e_after_as_of,2026-04-02T00:00:00Z,production,/v1/payments,200
f_duplicates,2026-03-02T00:00:00Z,sandbox,/v1/payments,200
f_duplicates,2026-03-02T00:00:00Z,sandbox,/v1/payments,200
f_duplicates,2026-03-04T06:00:00Z,production,/v1/payments,201
f_duplicates,2026-03-04T06:00:00Z,production,/v1/payments,201
g_mixed_tz,2026-03-02T10:00:00+02:00,sandbox,/v1/payments,200
g_mixed_tz,2026-03-02T07:30:00Z,sandbox,/v1/customers,404
g_mixed_tz,2026-03-02T03:00:00-05:00,production,/v1/payments,204
unknown_co,2026-03-02T03:00:00Z,sandbox,/v1/payments,200
"""


@pytest.fixture()
def hand_ws(tmp_path) -> Workspace:
    (tmp_path / "companies.csv").write_text(COMPANIES_CSV)
    (tmp_path / "events.csv").write_text(EVENTS_CSV)
    ws = Workspace(tmp_path / "ws.duckdb")
    ingest(ws, "companies", [tmp_path / "companies.csv"])
    report = ingest(ws, "api_events", [tmp_path / "events.csv"])
    assert report.dropped_duplicates == 2  # the two exact repeats of f_duplicates
    yield ws
    ws.close()


AS_OF = "2026-04-01"


@pytest.fixture()
def hand_funnel(hand_ws):
    df, report = label(hand_ws, AS_OF, with_report=True)
    return df.set_index("company_id"), report


def test_columns_are_the_documented_contract(hand_funnel):
    df, _ = hand_funnel
    assert tuple(df.reset_index().columns) == FUNNEL_COLUMNS


def test_company_signed_up_after_as_of_is_not_labeled(hand_funnel):
    df, _ = hand_funnel
    assert "h_signed_up_after_as_of" not in df.index
    assert len(df) == 7


def test_company_with_no_calls_is_signed_up(hand_funnel):
    r = hand_funnel[0].loc["a_no_calls"]
    assert r.stage == "signed_up"
    assert pd.isna(r.first_call_at) and pd.isna(r.days_to_first_call) and pd.isna(r.days_to_production)
    assert r.sandbox_calls == 0 and r.production_calls == 0
    assert r.days_observed == pytest.approx(31.0)


def test_production_without_sandbox_call(hand_funnel):
    r = hand_funnel[0].loc["b_prod_no_sandbox"]
    assert r.stage == "production"
    assert pd.isna(r.first_sandbox_at)
    assert r.first_call_at == ts("2026-03-05T10:00:00Z") == r.first_production_at
    assert r.days_to_production == pytest.approx(4 + 10 / 24)
    assert (r.production_calls, r.production_errors, r.production_endpoints) == (2, 1, 2)


def test_only_failed_production_calls_is_not_production(hand_funnel):
    r = hand_funnel[0].loc["c_only_failed_prod"]
    assert r.stage == "sandbox"  # called the API, not yet a working app
    assert pd.isna(r.first_production_at) and pd.isna(r.days_to_production)
    assert (r.production_calls, r.production_errors) == (2, 2)
    assert r.first_call_at == ts("2026-03-02T09:00:00Z")


def test_events_before_signup_are_not_used_but_reported(hand_funnel):
    df, report = hand_funnel
    r = df.loc["d_before_signup"]
    assert r.first_call_at == ts("2026-03-11T08:00:00Z")
    assert r.sandbox_calls == 1
    assert report.events_before_signup == 1
    assert any("before the company's signup_at" in w for w in report.warnings())


def test_events_after_as_of_are_ignored(hand_funnel):
    df, report = hand_funnel
    r = df.loc["e_after_as_of"]
    assert r.stage == "sandbox"  # its first production call is exactly at as_of: excluded
    assert r.production_calls == 0
    assert report.events_after_as_of == 2


def test_duplicate_events_do_not_change_times_and_are_dropped_on_ingest(hand_funnel):
    r = hand_funnel[0].loc["f_duplicates"]
    assert r.first_production_at == ts("2026-03-04T06:00:00Z")
    assert (r.sandbox_calls, r.production_calls) == (1, 1)


def test_mixed_timezones_are_compared_in_utc(hand_funnel):
    r = hand_funnel[0].loc["g_mixed_tz"]
    # 10:00+02:00 = 08:00Z; 07:30Z is the earliest call; 03:00-05:00 = 08:00Z
    assert r.first_call_at == ts("2026-03-02T07:30:00Z")
    assert r.first_sandbox_at == ts("2026-03-02T07:30:00Z")
    assert r.first_production_at == ts("2026-03-02T08:00:00Z")
    assert r.sandbox_errors == 1 and r.sandbox_endpoints == 2


def test_unknown_company_events_are_reported(hand_funnel):
    _, report = hand_funnel
    assert report.events_unknown_company == 1 and report.unknown_companies == 1
    assert report.events_total == 15


def test_min_success_counts_the_nth_successful_production_call(hand_ws):
    df = label(hand_ws, "2026-04-03", min_success=2).set_index("company_id")
    assert df.loc["e_after_as_of", "first_production_at"] == ts("2026-04-02T00:00:00Z")
    assert df.loc["b_prod_no_sandbox", "stage"] == "sandbox"  # one 2xx, one 500
    assert df.loc["f_duplicates", "stage"] == "sandbox"


def test_label_workspace_writes_the_funnel_table(hand_ws):
    df, _ = label_workspace(hand_ws, AS_OF)
    stored = hand_ws.read("funnel")
    pd.testing.assert_frame_equal(stored.sort_values("company_id").reset_index(drop=True),
                                  df.sort_values("company_id").reset_index(drop=True), check_dtype=False)
    assert hand_ws.meta()["funnel_as_of"].startswith("2026-04-01")


def _no_labeling(*a, **k):
    raise AssertionError("labeled again although the stored funnel is current")


def test_stored_labels_are_reused_only_while_current(hand_ws, tmp_path, monkeypatch):
    import mof_experiments.funnel as funnel_mod
    from mof_experiments.funnel import stored_labels
    from mof_experiments.reports import load_report_data

    df, _ = label_workspace(hand_ws, AS_OF)
    fresh = label(hand_ws, AS_OF)
    pd.testing.assert_frame_equal(stored_labels(hand_ws, AS_OF), fresh)
    # the report loader reads the stored table: labeling again would fail here
    path = hand_ws.path
    hand_ws.close()
    with monkeypatch.context() as m:
        m.setattr(funnel_mod, "label", _no_labeling)
        data = load_report_data(path, AS_OF, email=False, personas=False)
    pd.testing.assert_frame_equal(data.funnel, fresh)
    ws = Workspace(path)
    # another as_of or min_success: not reused
    assert stored_labels(ws, "2026-04-02") is None
    assert stored_labels(ws, AS_OF, min_success=2) is None
    # an ingest that adds an event (b gets a second 2xx production call): not reused, and the
    # loader's answer follows the new events
    (tmp_path / "more.csv").write_text("company_id,ts,environment,endpoint,status_code\n"
                                       "a_no_calls,2026-03-03T00:00:00Z,sandbox,/v1/payments,200\n")
    ingest(ws, "api_events", [tmp_path / "more.csv"])
    assert stored_labels(ws, AS_OF) is None
    ws.close()
    data = load_report_data(path, AS_OF, email=False, personas=False)
    assert data.funnel.set_index("company_id").loc["a_no_calls", "stage"] == "sandbox"
    # labeled again, then an insert by another tool (same write id, one more row): not reused
    ws = Workspace(path)
    label_workspace(ws, AS_OF)
    assert stored_labels(ws, AS_OF) is not None
    ws.raw.execute("INSERT INTO api_events SELECT * FROM api_events LIMIT 1")
    assert stored_labels(ws, AS_OF) is None
    # a replace of companies through the package (same rows): a new write id, not reused
    label_workspace(ws, AS_OF)
    ws.write("companies", ws.read("companies"))
    assert stored_labels(ws, AS_OF) is None
    ws.close()


def test_parse_as_of_treats_naive_as_utc_and_converts_offsets():
    assert parse_as_of("2026-04-01") == datetime(2026, 4, 1, tzinfo=UTC)
    assert parse_as_of("2026-04-01T02:00:00+02:00") == datetime(2026, 4, 1, tzinfo=UTC)
    before = datetime.now(UTC)
    assert before <= parse_as_of(" NOW ") <= datetime.now(UTC)
    with pytest.raises(MofInputError, match="2026-13-45"):
        parse_as_of("2026-13-45")


# -- against the simulator's truth ---------------------------------------------------------
def _check_against_truth(ws: Workspace, as_of) -> int:
    f = label(ws, as_of).set_index("company_id")
    truth = ws.read("sim_truth").set_index("company_id")
    companies = ws.read("companies").set_index("company_id")
    cutoff = pd.Timestamp(parse_as_of(as_of))
    expected_ids = companies.index[companies["signup_at"] < cutoff]
    assert set(f.index) == set(expected_ids)
    t = truth.loc[f.index, "first_production_at"]
    t = t.where(t < cutoff)  # production after as_of counts as not yet
    same = (f["first_production_at"] == t) | (f["first_production_at"].isna() & t.isna())
    assert same.all(), f.loc[~same, ["first_production_at"]].join(t.rename("truth")).head()
    expected_stage = np.where(t.notna(), "production", np.where(f["first_call_at"].notna(), "sandbox", "signed_up"))
    assert (f["stage"].to_numpy() == expected_stage).all()
    # no_show companies never call
    no_show = truth.index[truth["archetype"] == "no_show"].intersection(f.index)
    assert (f.loc[no_show, "stage"] == "signed_up").all()
    return int(t.notna().sum())


def test_labeling_recovers_true_first_production_at_end_of_simulation(sim2000):
    end = sim2000.meta()["simulated_end"]
    n_prod = _check_against_truth(sim2000, end)
    assert n_prod > 300  # the check is not vacuous


def test_labeling_with_earlier_as_of_counts_later_production_as_not_yet(sim2000):
    n_prod = _check_against_truth(sim2000, "2026-04-15")
    assert n_prod > 100


def test_summarize_reports_counts_and_wilson_interval(hand_funnel):
    df, _ = hand_funnel
    s = summarize(df.reset_index(), AS_OF)
    assert s.stage_counts == {"signed_up": 1, "sandbox": 3, "production": 3}
    assert s.production_rate == pytest.approx(3 / 7)
    # Wilson 95% interval for 3/7 (R: prop.test(3, 7, correct=FALSE)$conf.int -> 0.158, 0.750)
    assert s.production_ci[0] == pytest.approx(0.1582, abs=1e-3)
    assert s.production_ci[1] == pytest.approx(0.7495, abs=1e-3)
    assert s.median_days_converted == pytest.approx(np.median([4 + 10 / 24, 1 + 8 / 24, 3 + 6 / 24]))


def test_a_label_run_that_dies_after_writing_the_table_leaves_nothing_reusable(hand_ws, monkeypatch):
    """`mof label --as-of B` killed between writing `funnel` and its meta data must not leave
    B's labels looking like the stored labels of the previous run's as_of A."""
    from mof_experiments.funnel import stored_labels

    label_workspace(hand_ws, AS_OF)
    assert stored_labels(hand_ws, AS_OF) is not None
    real = type(hand_ws).set_meta

    def dies_when_recording_the_run(self, **values):
        if "funnel_as_of" in values:
            raise KeyboardInterrupt("killed")
        return real(self, **values)

    monkeypatch.setattr(type(hand_ws), "set_meta", dies_when_recording_the_run)
    with pytest.raises(KeyboardInterrupt, match="killed"):
        label_workspace(hand_ws, "2026-03-02")
    monkeypatch.undo()
    assert stored_labels(hand_ws, AS_OF) is None   # the table now holds 2026-03-02's labels
