"""Segmentation: personas from titles, hand-computed behavior features, rule files, clusters."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from mof_experiments.errors import MofConfigError
from mof_experiments.schema import validate
from mof_experiments.segments import (BEHAVIOR_COLUMNS, FEATURES, assign_segments, behavior, behavior_expr,
                                      cluster_companies, evaluate_rule, load_rules, parse_rules)
from mof_experiments.workspace import Workspace


# -- behavior: hand-computed fixture ---------------------------------------------------------
def _ts(s):
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def tiny_ws(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "tiny.duckdb"
    companies = pd.DataFrame({
        "company_id": ["A", "B", "C", "D"],
        "signup_at": ["2026-03-01T00:00:00Z", "2026-03-10T12:00:00Z", "2026-03-14T00:00:00Z",
                      "2026-03-20T00:00:00Z"],
    })
    ev = [  # company, ts, env, endpoint, status
        ("A", "2026-02-28T23:00:00Z", "sandbox", "/v1/a", 200),       # before A's signup: ignored
        ("A", "2026-03-01T10:00:00Z", "sandbox", "/v1/a", 200),
        ("A", "2026-03-01T11:00:00Z", "sandbox", "/v1/a", 401),
        ("A", "2026-03-02T09:00:00Z", "sandbox", "/v1/b", 500),
        ("A", "2026-03-05T08:00:00Z", "production", "/v1/a", 403),
        ("A", "2026-03-06T12:00:00Z", "production", "/v1/a", 201),    # first production success
        ("A", "2026-03-09T00:00:00Z", "production", "/v1/c", 200),
        ("A", "2026-03-14T23:59:59Z", "sandbox", "/v1/b", 404),
        ("A", "2026-03-15T00:00:00Z", "production", "/v1/late", 200),  # at as_of: excluded
        ("B", "2026-03-11T00:00:00Z", "sandbox", "/v1/a", 200),
        ("B", "2026-03-12T06:00:00Z", "sandbox", "/v1/a", 429),
        ("B", "2026-03-12T18:00:00Z", "production", "/v1/a", 401),
        ("E", "2026-03-03T00:00:00Z", "sandbox", "/v1/z", 200),        # unknown company: platform endpoint only
    ]
    api = pd.DataFrame(ev, columns=["company_id", "ts", "environment", "endpoint", "status_code"])
    with Workspace(path) as ws:
        ws.write_many({"companies": validate(companies, "companies"), "api_events": validate(api, "api_events")})
    return path


def test_behavior_matches_hand_computed_values(tiny_ws):
    with Workspace(tiny_ws, read_only=True) as ws:
        b = behavior(ws, "2026-03-15").set_index("company_id")
    assert list(b.reset_index().columns) == list(BEHAVIOR_COLUMNS)
    assert list(b.index) == ["A", "B", "C"]                     # D signed up after as_of
    a, bb, c = b.loc["A"], b.loc["B"], b.loc["C"]
    expected_a = dict(days_observed=14.0, calls=7, sandbox_calls=4, production_calls=3,
                      sandbox_calls_per_day=4 / 14, production_calls_per_day=3 / 14, error_rate=4 / 7,
                      sandbox_error_rate=3 / 4, auth_error_share=2 / 7, server_error_share=1 / 7,
                      distinct_endpoints=3, endpoint_share=3 / 4, active_days=6,
                      days_since_last_call=1 / 86400, days_in_sandbox=5 + 2 / 24, calls_last_7d=2,
                      calls_prev_7d=5, trend_7d=3 / 6, in_production=1)
    expected_b = dict(days_observed=4.5, calls=3, sandbox_calls=2, production_calls=1,
                      sandbox_calls_per_day=2 / 4.5, production_calls_per_day=1 / 4.5, error_rate=2 / 3,
                      sandbox_error_rate=1 / 2, auth_error_share=1 / 3, server_error_share=0.0,
                      distinct_endpoints=1, endpoint_share=1 / 4, active_days=2, days_since_last_call=2.25,
                      days_in_sandbox=4.0, calls_last_7d=3, calls_prev_7d=0, trend_7d=4.0, in_production=0)
    expected_c = {f: 0 for f in FEATURES} | dict(days_observed=1.0, days_since_last_call=1.0, trend_7d=1.0)
    for row, exp in ((a, expected_a), (bb, expected_b), (c, expected_c)):
        for k, v in exp.items():
            assert row[k] == pytest.approx(v, abs=1e-9), (row.name, k)


def test_behavior_as_of_cutoff_excludes_later_events(tiny_ws):
    with Workspace(tiny_ws, read_only=True) as ws:
        b = behavior(ws, "2026-03-06T12:00:00").set_index("company_id")
    assert list(b.index) == ["A"]
    a = b.loc["A"]
    # events before 12:00 on 6 March: four calls; the 201 at exactly as_of is not counted
    assert (a["calls"], a["sandbox_calls"], a["production_calls"], a["in_production"]) == (4, 3, 1, 0)
    assert a["days_in_sandbox"] == pytest.approx(5 + 2 / 24)       # first sandbox call -> as_of
    assert a["endpoint_share"] == pytest.approx(2 / 3)             # platform: /v1/a, /v1/b, /v1/z
    assert a["days_since_last_call"] == pytest.approx(1 + 4 / 24)  # last call 5 March 08:00
    assert (a["calls_last_7d"], a["calls_prev_7d"]) == (4, 0)


def test_behavior_expr_compiles_for_other_engines(tiny_ws):
    import ibis

    with Workspace(tiny_ws, read_only=True) as ws:
        expr = behavior_expr(ws.table("companies"), ws.table("api_events"), "2026-03-15")
        for dialect in ("bigquery", "snowflake", "postgres"):
            assert "SELECT" in ibis.to_sql(expr, dialect=dialect)


@pytest.mark.slow
def test_behavior_agrees_with_a_pandas_recomputation(simulated):
    """Second method: the same features computed with pandas on a small simulation."""
    path = simulated(companies=150, seed=5)
    as_of = _ts("2026-04-20T00:00:00")
    with Workspace(path, read_only=True) as ws:
        got = behavior(ws, as_of).set_index("company_id")
        co = ws.read("companies")
        ev = ws.read("api_events")
    co = co[co["signup_at"] < as_of].set_index("company_id")
    platform = ev.loc[ev["ts"] < as_of, "endpoint"].nunique()
    ev = ev.join(co["signup_at"], on="company_id", how="inner")
    ev = ev[(ev["ts"] >= ev["signup_at"]) & (ev["ts"] < as_of)]
    assert len(got) == len(co)
    for cid, g in ev.groupby("company_id"):
        r = got.loc[cid]
        sb = g[g["environment"] == "sandbox"]
        ok = g[(g["environment"] == "production") & g["status_code"].between(200, 299)]
        assert r["calls"] == len(g) and r["sandbox_calls"] == len(sb)
        assert r["error_rate"] == pytest.approx((g["status_code"] >= 400).mean())
        assert r["auth_error_share"] == pytest.approx(g["status_code"].isin([401, 403]).mean())
        assert r["endpoint_share"] == pytest.approx(g["endpoint"].nunique() / platform)
        assert r["active_days"] == g["ts"].dt.floor("D").nunique()
        assert r["days_since_last_call"] == pytest.approx((as_of - g["ts"].max()).total_seconds() / 86400)
        last7 = (g["ts"] >= as_of - timedelta(days=7)).sum()
        prev7 = ((g["ts"] >= as_of - timedelta(days=14)) & (g["ts"] < as_of - timedelta(days=7))).sum()
        assert r["trend_7d"] == pytest.approx((last7 + 1) / (prev7 + 1))
        assert r["in_production"] == int(len(ok) > 0)
        if len(sb):
            end = ok["ts"].min() if len(ok) else as_of
            exp = max((end - sb["ts"].min()).total_seconds() / 86400, 0.0)
            assert r["days_in_sandbox"] == pytest.approx(exp)
    silent = got.index.difference(ev["company_id"].unique())
    assert (got.loc[silent, "calls"] == 0).all()


# -- rule files ------------------------------------------------------------------------------
def test_shipped_rules_load_and_read_only_known_features():
    rules = load_rules()
    names = [r.name for r in rules]
    assert {"stuck_on_errors", "high_sandbox_volume", "gone_quiet", "new_in_sandbox", "single_endpoint",
            "ready_for_production"} <= set(names)
    assert all(set(r.features) <= set(FEATURES) and r.description for r in rules)


def test_unknown_feature_is_a_one_line_error_naming_the_segment(tmp_path):
    p = tmp_path / "rules.yaml"
    p.write_text("segments:\n  - name: broken\n    description: x\n    rule: calls > 0 and eror_rate > 0.2\n")
    with pytest.raises(MofConfigError, match=r"rules.yaml: segment 'broken': unknown feature 'eror_rate'") as ei:
        load_rules(p)
    assert "\n" not in str(ei.value)


def test_bad_yaml_is_a_one_line_error_with_the_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("segments:\n  - name: a\n    rule: calls > 0\n   - name: b\n")
    with pytest.raises(MofConfigError, match=r"bad.yaml: not valid YAML at line \d+") as ei:
        load_rules(p)
    assert "\n" not in str(ei.value)


@pytest.mark.parametrize("rule, message", [
    ("__import__('os').system('true')", "unsupported syntax Call"),
    ("calls.real > 0", "unsupported syntax Attribute"),
    ("calls", "is not a condition"),
    ("calls > 0 & error_rate > 0", r"unsupported syntax BitAnd \(use 'and'\)"),
    ("(calls > 0) > 1", "compare numbers, not conditions"),
    ("calls > 'a'", "only numbers are allowed"),
    ("calls >", "invalid rule"),
    ("calls in (1, 2)", "unsupported comparison In"),
])
def test_unsafe_or_malformed_rules_are_rejected(rule, message):
    text = f"segments:\n  - name: seg\n    rule: \"{rule}\"\n"
    with pytest.raises(MofConfigError, match=f"segment 'seg'.*{message}"):
        parse_rules(text)


@pytest.mark.parametrize("text, message", [
    ("rules: []", "expected a mapping with a 'segments' list"),
    ("segments: []", "'segments' is empty"),
    ("segments:\n  - name: a\n    rule: calls > 0\n  - name: a\n    rule: calls > 1", "duplicate segment name"),
    ("segments:\n  - name: Bad Name\n    rule: calls > 0", "snake_case"),
    ("segments:\n  - name: a\n    rul: calls > 0", "unknown key 'rul'"),
    ("segments:\n  - name: a\n    description: x", "missing or empty 'rule'"),
])
def test_rule_file_structure_errors(text, message):
    with pytest.raises(MofConfigError, match=message):
        parse_rules(text)


def test_rule_evaluation_and_long_segments_table():
    b = pd.DataFrame({"company_id": ["x", "y", "z"], "calls": [0, 5, 50], "error_rate": [0.0, 0.5, 0.1],
                      "active_days": [0, 2, 9]})
    rules = parse_rules("segments:\n"
                        "  - {name: errors, rule: 'calls >= 5 and error_rate >= 0.5'}\n"
                        "  - {name: some, rule: '1 <= active_days <= 4 or not calls < 10'}\n"
                        "  - {name: ratio, rule: 'calls * error_rate / 2 > 2'}\n")
    assert evaluate_rule(rules[1], b).tolist() == [False, True, True]
    seg = assign_segments(b, rules)
    assert seg.values.tolist() == [["y", "errors"], ["y", "some"], ["z", "some"], ["z", "ratio"]]


def test_cli_bad_rules_file_exits_2_with_one_line(tmp_path, capsys):
    from mof_experiments.cli import main

    p = tmp_path / "r.yaml"
    p.write_text("segments:\n  - name: broken\n    rule: nonsense > 1\n")
    code = main(["segment", "--workspace", str(tmp_path / "none.duckdb"), "--rules", str(p)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("mof: error: ") and "segment 'broken': unknown feature 'nonsense'" in err
    assert "\n" not in err


def test_clusters_pick_k_by_silhouette_and_profile_has_ci():
    rng = np.random.default_rng(0)
    n = 60
    grp = np.repeat([0, 1, 2], n // 3)
    b = pd.DataFrame({
        "company_id": [f"c{i}" for i in range(n)],
        "calls": np.where(grp == 0, 0, np.where(grp == 1, 20, 2000) + rng.integers(0, 3, n)),
        "sandbox_calls_per_day": np.where(grp == 2, 20.0, 1.0) + rng.random(n),
        "production_calls_per_day": np.where(grp == 2, 10.0, 0.0),
        "sandbox_error_rate": np.where(grp == 1, 0.5, 0.05), "endpoint_share": np.where(grp == 2, 0.8, 0.1),
        "active_days": np.where(grp == 0, 0, 10), "days_observed": 30.0,
        "days_since_last_call": np.where(grp == 0, 30.0, 0.5), "in_production": (grp == 2).astype(int),
    })
    for f in FEATURES:
        if f not in b:
            b[f] = 0.0
    r = cluster_companies(b, k_range=range(2, 6), random_state=0)
    assert r.k == 3
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(grp, r.labels["cluster"]) == 1.0
    prof = r.profile
    assert prof["companies"].tolist() == [20, 20, 20] and prof["low_data"].all()
    assert set(prof["conversion_rate"]) == {0.0, 1.0}
    assert (prof["conversion_ci_low"] <= prof["conversion_rate"]).all()
    assert (prof["conversion_ci_high"] >= prof["conversion_rate"]).all()
    assert math.isclose(prof["share"].sum(), 1.0)
    assert (r.predict(b) == r.labels["cluster"].to_numpy()).all()


def test_segment_workspace_without_contacts_writes_all_tables(tiny_ws, tmp_path):
    import shutil

    from mof_experiments.segments import SEGMENT_TABLES, segment_workspace

    path = tmp_path / "copy.duckdb"
    shutil.copy(tiny_ws, path)
    with Workspace(path) as ws:
        run = segment_workspace(ws, "2026-03-15", k_range=[2])
        tables = {t: ws.read(t) for t in SEGMENT_TABLES}
        assert ws.meta()["segments_as_of"] == "2026-03-15T00:00:00+00:00"
    assert len(tables["personas"]) == 0 and list(tables["personas"].columns)[:2] == ["contact_id", "company_id"]
    assert tables["behavior"]["company_id"].tolist() == ["A", "B", "C"]
    seg = tables["segments"]
    assert seg.loc[seg["segment"] == "never_called", "company_id"].tolist() == ["C"]
    assert seg.loc[seg["segment"] == "in_production", "company_id"].tolist() == ["A"]
    assert seg.loc[seg["segment"] == "new_in_sandbox", "company_id"].tolist() == ["B"]
    assert sorted(tables["clusters"]["cluster"].unique()) == [0, 1]
    assert run.summary.query("kind == 'segment' and name == 'never_called'")["n"].item() == 1
    assert "never_called" in run._repr_html_()
