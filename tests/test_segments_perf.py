"""Issue 18: the faster segmentation gives the same tables as before, row for row.

- behavior: the active-day count now reads DuckDB's ``epoch_us`` instead of
  ``epoch(CAST(ts AS TIMESTAMP))``; the reference is the old expression
  (``ts.epoch_seconds() // 86400``) run through the same code.
- clusters: KMeans on one thread gives the labels and profile of the default thread count.
- personas: the ``persona_cache`` table (one row per normalized title and classifier key)
  gives the uncached :func:`personas` frame, classifies only new titles, and is rebuilt when
  the classifier's key changes.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import ibis
import pandas as pd
import pytest

from helpers import copy_workspace
from mof_experiments.dates import SECONDS_PER_DAY, utc_day
from mof_experiments.segments import (PERSONA_CACHE_TABLE, SEGMENT_TABLES, behavior, cached_personas,
                                      classifier_cache_key, cluster_companies, personas, segment_workspace)
from mof_experiments.segments.clusters import make_pipeline
from mof_experiments.workspace import Workspace

BEHAVIOR_MODULE = sys.modules["mof_experiments.segments.behavior"]
CACHE_MODULE = sys.modules["mof_experiments.segments.persona_cache"]


def _old_day(ts):
    """The expression of the active-day count before issue 18."""
    return ts.epoch_seconds() // SECONDS_PER_DAY


@pytest.mark.parametrize("stamp", [
    "1969-12-31T23:59:59.999999", "1970-01-01T00:00:00", "2026-03-14T23:59:59.999999", "2026-03-15T00:00:00",
    "2026-03-15T00:00:00.000001", "2026-06-30T12:34:56.789", "2099-12-31T23:59:59.999999",
])
def test_utc_day_equals_the_old_epoch_seconds_expression_at_day_edges(stamp, tmp_path):
    ts = pd.Timestamp(stamp, tz="UTC")
    with Workspace(tmp_path / "t.duckdb") as ws:
        ws.write("t", pd.DataFrame({"ts": pd.Series([ts], dtype="datetime64[us, UTC]")}))
        t = ws.table("t")
        assert "epoch_us" in ibis.to_sql(utc_day(t.ts).name("d")).lower()     # the DuckDB path
        new, old = utc_day(t.ts).name("d").execute().item(), _old_day(t.ts).name("d").execute().item()
    assert new == old == (ts - pd.Timestamp("1970-01-01", tz="UTC")).days       # floor, also before 1970


@pytest.mark.parametrize("as_of", ["2026-03-01", "2026-04-20T13:30:00", "2026-07-04"])
@pytest.mark.slow
def test_behavior_equals_the_old_expression_row_for_row(simulated, monkeypatch, as_of):
    path = simulated(companies=300, seed=5)
    with Workspace(path, read_only=True) as ws:
        new = behavior(ws, as_of)
        monkeypatch.setattr(BEHAVIOR_MODULE, "utc_day", _old_day)
        old = behavior(ws, as_of)
    assert len(new) > 100 and new["active_days"].sum() > 1000
    pd.testing.assert_frame_equal(new, old, check_exact=True)


@pytest.mark.slow
def test_clusters_on_one_thread_equal_the_default_threads(simulated):
    path = simulated(companies=600, seed=3)
    with Workspace(path, read_only=True) as ws:
        b = behavior(ws)
    got = cluster_companies(b, k_range=range(3, 6))
    for k in range(3, 6):                     # the same pipelines fitted outside the thread limit
        labels = make_pipeline(k, 0).fit(b).named_steps["kmeans"].labels_
        if k == got.k:
            raw = got.pipeline.named_steps["kmeans"].labels_
            assert (labels == raw).all()
    again = cluster_companies(b, k_range=range(3, 6))
    pd.testing.assert_frame_equal(got.labels, again.labels)
    pd.testing.assert_frame_equal(got.profile, again.profile)
    # one distance matrix of the silhouette sample for every k: the same silhouettes, bit for bit,
    # as scikit-learn's own sampling per k (at the default sample and at a smaller one; and at a
    # sample too big for one chunk, where the clusters module calls it as before)
    import sklearn
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    from mof_experiments.segments.clusters import _one_chunk

    assert _one_chunk(3000)                                 # the default sample: one matrix for every k
    small = cluster_companies(b, k_range=range(3, 6), silhouette_sample=250, random_state=4)
    with sklearn.config_context(working_memory=1):          # 1 MiB: 600 rows of distances are 3 chunks
        assert not _one_chunk(len(b))                       # so scikit-learn samples per k, as before
        chunked = cluster_companies(b, k_range=range(3, 6))
    for res, size, seed in ((got, 3000, 0), (small, 250, 4), (chunked, 3000, 0)):
        with threadpool_limits(limits=1):
            for k in range(3, 6):
                pipe = make_pipeline(k, seed).fit(b)
                want = silhouette_score(pipe[:-1].transform(b), pipe.named_steps["kmeans"].labels_,
                                        sample_size=min(size, len(b)), random_state=seed)
                assert res.scores.set_index("k").loc[k, "silhouette"] == want
    assert small.scores["silhouette"].tolist() != got.scores["silhouette"].tolist()   # another sample


# -- the persona cache -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def contacts(simulated):
    with Workspace(simulated(companies=400, seed=8), read_only=True) as ws:
        c = ws.read("contacts", ["contact_id", "company_id", "job_title"])
    extra = pd.DataFrame({"contact_id": ["x1", "x2", "x3", "x4"], "company_id": ["co_x"] * 4,
                          "job_title": ["  CO-FOUNDER & cto ", None, "Генеральный директор", "---"]})
    return pd.concat([c, extra], ignore_index=True)


def test_cached_personas_equal_uncached_cold_warm_and_partial(contacts):
    expected = personas(contacts)
    cold = cached_personas(contacts)
    pd.testing.assert_frame_equal(cold.personas, expected, check_exact=True)
    assert cold.hits == 0 and cold.misses == len(cold.cache) == contacts["job_title"].map(
        lambda t: CACHE_MODULE.normalize_title(t)).nunique()
    warm = cached_personas(contacts, cold.cache)
    pd.testing.assert_frame_equal(warm.personas, expected, check_exact=True)
    assert (warm.hits, warm.misses, warm.changed) == (cold.misses, 0, False)
    half = cold.cache.iloc[::2]
    part = cached_personas(contacts, half)
    pd.testing.assert_frame_equal(part.personas, expected, check_exact=True)
    assert (part.hits, part.misses, part.changed) == (len(half), cold.misses - len(half), True)
    assert set(part.cache["normalized_title"]) == set(cold.cache["normalized_title"])


def test_a_warm_cache_never_calls_the_classifier(contacts, monkeypatch):
    cache = cached_personas(contacts).cache

    def refuse(*a, **k):
        raise AssertionError("classified although every title is cached")

    monkeypatch.setattr(CACHE_MODULE, "classify_titles", refuse)
    out = cached_personas(contacts.iloc[::-1], cache)         # another order, same titles
    assert out.misses == 0 and out.personas["contact_id"].tolist() == contacts["contact_id"].iloc[::-1].tolist()


def test_rows_of_another_classifier_key_are_never_used(contacts, monkeypatch):
    cache = cached_personas(contacts).cache
    # a cache whose answers are wrong but whose key is another version's: ignored, rebuilt
    stale = cache.assign(persona="PM", confidence=0.5, cache_key="0" * 32, classifier_version="1.0")
    out = cached_personas(contacts, stale)
    pd.testing.assert_frame_equal(out.personas, personas(contacts), check_exact=True)
    assert out.hits == 0 and out.changed and set(out.cache["cache_key"]) == {classifier_cache_key()}
    # the key follows the version, the thresholds and the classifier's files
    assert classifier_cache_key(0.5) != classifier_cache_key() != classifier_cache_key(review_threshold=0.7)
    monkeypatch.setattr(CACHE_MODULE, "CLASSIFIER_VERSION", "999")
    assert classifier_cache_key() not in set(cache["cache_key"])
    assert cached_personas(contacts, cache).hits == 0


def test_other_thresholds_give_the_uncached_answers(contacts):
    cache = cached_personas(contacts).cache
    out = cached_personas(contacts, cache, threshold=0.7, review_threshold=0.9)
    pd.testing.assert_frame_equal(out.personas, personas(contacts, threshold=0.7, review_threshold=0.9),
                                  check_exact=True)
    assert out.hits == 0


@pytest.mark.slow
def test_segment_workspace_stores_the_cache_and_reuses_it(simulated, tmp_path, monkeypatch):
    path = copy_workspace(simulated(companies=400, seed=8), tmp_path)
    with Workspace(path) as ws:
        first = segment_workspace(ws, k_range=[3, 4])
        stored = {t: ws.read(t) for t in SEGMENT_TABLES}
        cache = ws.read(PERSONA_CACHE_TABLE)
        expected = personas(ws.read("contacts", ["contact_id", "company_id", "job_title"]))
    pd.testing.assert_frame_equal(stored["personas"], expected, check_exact=True)
    assert first.persona_cache.misses == len(cache) > 100 and first.persona_cache.hits == 0
    monkeypatch.setattr(CACHE_MODULE, "classify_titles", lambda *a, **k: pytest.fail("classified again"))
    with Workspace(path) as ws:
        second = segment_workspace(ws, k_range=[3, 4])
        again = {t: ws.read(t) for t in SEGMENT_TABLES}
        cache2 = ws.read(PERSONA_CACHE_TABLE)
    assert second.persona_cache.hits == len(cache) and second.persona_cache.misses == 0
    for t in SEGMENT_TABLES:
        pd.testing.assert_frame_equal(again[t], stored[t], check_exact=True)
    pd.testing.assert_frame_equal(cache2, cache)


def test_segment_cli_shows_stage_progress_on_stderr_and_the_cache_on_stdout(simulated, tmp_path):
    from helpers import run_mof

    path = copy_workspace(simulated(companies=400, seed=8), tmp_path)
    first = run_mof("segment", "--workspace", str(path), "--k-max", "4")
    assert first.returncode == 0, first.stderr
    for stage in ("personas", "behavior", "segments", "clusters", "writing"):
        assert stage in first.stderr
    assert "stages" not in first.stdout and ", 0 from the workspace's persona_cache" in first.stdout
    second = run_mof("segment", "--workspace", str(path), "--k-max", "4", "--quiet")
    assert second.returncode == 0 and second.stderr == ""
    assert " 0 classified now" in second.stdout


def test_as_of_of_behavior_is_a_timestamp_not_a_day(simulated):
    """A cut-off inside a day counts that day's earlier calls as an active day (unchanged rule)."""
    path = simulated(companies=300, seed=5)
    with Workspace(path, read_only=True) as ws:
        noon = behavior(ws, datetime(2026, 4, 20, 12, tzinfo=timezone.utc)).set_index("company_id")
        day = behavior(ws, datetime(2026, 4, 20, tzinfo=timezone.utc)).set_index("company_id")
    grew = noon.loc[day.index, "active_days"] - day["active_days"]
    assert grew.isin([0, 1]).all() and grew.sum() > 0
