"""Segmentation: personas from job titles, behavioral features, rule segments and clusters.

Two axes, as in the article: **who** a contact is (persona from the job title:
:func:`personas`) and **what** their company does with the API (behavior features as of a date:
:func:`behavior`, named rule segments from YAML: :func:`assign_segments`, and unsupervised
clusters: :func:`cluster_companies`). :func:`segment_workspace` runs all four and writes the
workspace tables ``personas``, ``behavior``, ``segments``, ``clusters`` and
``cluster_profiles`` in one transaction (``mof segment``), classifying each distinct
normalized job title once per classifier version across runs (the ``persona_cache`` table:
:mod:`~mof_experiments.segments.persona_cache`).

See ``docs/personas.md`` and ``docs/segments.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from mof_experiments.segments.behavior import BEHAVIOR_COLUMNS, FEATURES, behavior, behavior_expr
from mof_experiments.segments.clusters import (CLUSTER_FEATURES, ClusterResult, cluster_companies,
                                               cluster_profile)
from mof_experiments.segments.persona_cache import (CACHE_COLUMNS, PERSONA_CACHE_TABLE, CachedPersonas,
                                                    cached_personas, cached_personas_from_workspace,
                                                    classifier_cache_key)
from mof_experiments.segments.personas import (DEFAULT_REVIEW_THRESHOLD, DEFAULT_THRESHOLD, PERSONA_COLUMNS, RULES,
                                               PersonaClassifier, classify_titles, default_classifier,
                                               evaluate_titles, expected_calibration_error, keyword_baseline,
                                               labeled_titles, match_rule, normalize_title, personas,
                                               personas_from_workspace)
from mof_experiments.segments.rules import (SegmentRule, assign_segments, default_rules_path, evaluate_rule,
                                            load_rules, overlap_table, parse_rules, segment_sizes)

#: Tables written by :func:`segment_workspace`.
SEGMENT_TABLES = ("personas", "behavior", "segments", "clusters", "cluster_profiles")


@dataclass(frozen=True)
class SegmentRun:
    """Everything :func:`segment_workspace` computed (the frames it wrote); ``persona_cache``
    says how many distinct titles came from the cache (None without contacts)."""

    as_of: datetime
    personas: pd.DataFrame
    behavior: pd.DataFrame
    segments: pd.DataFrame
    clusters: ClusterResult
    rules: tuple
    persona_cache: CachedPersonas | None = None

    @property
    def summary(self) -> pd.DataFrame:
        """Headline counts: personas, segment sizes and clusters, one row each."""
        rows = []
        pc = self.personas["persona"].value_counts()
        for p in ("PM", "GC", "CSO", "CFO", "CEO", "DEV", "OTHER"):
            rows.append(("persona", p, int(pc.get(p, 0)), pc.get(p, 0) / max(len(self.personas), 1)))
        review = int(self.personas["needs_review"].sum()) if "needs_review" in self.personas else 0
        rows.append(("persona", "needs_review", review, review / max(len(self.personas), 1)))
        sizes = segment_sizes(self.segments, len(self.behavior), self.rules)
        rows += [("segment", r.segment, r.companies, r.share) for r in sizes.itertuples()]
        rows += [("cluster", str(r.cluster), r.companies, r.share) for r in self.clusters.profile.itertuples()]
        return pd.DataFrame(rows, columns=["kind", "name", "n", "share"])

    def _repr_html_(self) -> str:
        return (f"<p>Segmentation as of {self.as_of:%Y-%m-%d %H:%M} UTC: {len(self.personas):,} contacts, "
                f"{len(self.behavior):,} companies, {self.clusters.k} clusters</p>"
                + self.summary.to_html(index=False, float_format=lambda x: f"{x:.3f}"))


def segment_workspace(workspace, as_of=None, *, rules=None, threshold: float = DEFAULT_THRESHOLD,
                      review_threshold: float = DEFAULT_REVIEW_THRESHOLD, k_range=range(3, 9),
                      random_state: int = 0, write: bool = True, source=None,
                      progress: bool = False) -> SegmentRun:
    """Compute personas, behavior, rule segments and clusters; write them (one transaction).

    Parameters
    ----------
    workspace : a :class:`~mof_experiments.workspace.Workspace` (writable when ``write``).
    as_of : cut-off of the behavior features (default: :func:`mof_experiments.sources.resolve_as_of`).
    rules : rules file path or a sequence of :class:`SegmentRule` (default: shipped rules).
    threshold : persona model probability below which a title is OTHER.
    review_threshold : persona confidence below which ``needs_review`` is set.
    k_range, random_state : see :func:`cluster_companies`.
    write : write the tables ``personas``, ``behavior``, ``segments``, ``clusters`` (company_id,
        cluster) and ``cluster_profiles``, the meta keys ``segments_as_of`` and
        ``segment_names`` (every rule's name, including rules no company met), and the
        ``persona_cache`` table when new titles were classified
        (:mod:`~mof_experiments.segments.persona_cache`: each normalized title is classified
        once per classifier version, across runs).
    source : an :class:`~mof_experiments.engines.EngineSource` (e.g. Spark) on which the
        behavior features are aggregated; contacts and the outputs stay in the workspace.
    progress : show a progress bar of the stages on stderr (``mof segment``).
    """
    from tqdm.auto import tqdm

    from mof_experiments.sources import resolve_as_of

    as_of = resolve_as_of(workspace if source is None else source, as_of)
    rule_set = load_rules(rules) if rules is None or not isinstance(rules, (list, tuple)) else tuple(rules)
    stages = ["personas", "behavior", "segments", "clusters"] + (["writing"] if write else [])
    with tqdm(total=len(stages), disable=not progress, leave=False,
              bar_format="{desc}{bar} {n_fmt}/{total_fmt} stages [{elapsed}]") as bar:
        def stage(name):
            bar.set_description(name)

        stage("personas")
        cache = None
        if workspace.has("contacts"):
            cache = cached_personas_from_workspace(workspace, threshold=threshold, review_threshold=review_threshold)
            pers = cache.personas
        else:  # behavior-only workspaces (companies + api_events) still get segments and clusters
            dtypes = {"confidence": "float64", "needs_review": "bool"}
            pers = pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "str")) for c in PERSONA_COLUMNS})
        bar.update()
        stage("behavior")
        beh = behavior(workspace, as_of, source=source)
        bar.update()
        stage("segments")
        segs = assign_segments(beh, rule_set)
        bar.update()
        stage("clusters")
        clus = cluster_companies(beh, k_range=k_range, random_state=random_state)
        bar.update()
        if write:
            stage("writing")
            tables = {"personas": pers, "behavior": beh, "segments": segs, "clusters": clus.labels,
                      "cluster_profiles": clus.profile}
            if cache is not None and cache.changed:
                tables[PERSONA_CACHE_TABLE] = cache.cache
            workspace.write_many(tables)
            workspace.set_meta(segments_as_of=as_of.isoformat(), segment_names=[r.name for r in rule_set])
            bar.update()
    return SegmentRun(as_of, pers, beh, segs, clus, rule_set, cache)


__all__ = [
    "BEHAVIOR_COLUMNS", "CACHE_COLUMNS", "CachedPersonas", "PERSONA_CACHE_TABLE", "cached_personas",
    "cached_personas_from_workspace", "classifier_cache_key", "CLUSTER_FEATURES", "ClusterResult", "DEFAULT_REVIEW_THRESHOLD", "DEFAULT_THRESHOLD",
    "FEATURES", "PERSONA_COLUMNS", "expected_calibration_error", "keyword_baseline",
    "PersonaClassifier", "RULES", "SEGMENT_TABLES", "SegmentRule", "SegmentRun", "assign_segments", "behavior",
    "behavior_expr", "classify_titles", "cluster_companies", "cluster_profile", "default_classifier",
    "default_rules_path", "evaluate_rule", "evaluate_titles", "labeled_titles", "load_rules", "match_rule",
    "normalize_title", "overlap_table", "parse_rules", "personas", "personas_from_workspace", "segment_sizes",
    "segment_workspace",
]
