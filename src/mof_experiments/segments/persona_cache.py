"""Personas across runs: each normalized job title is classified once per classifier version.

The persona classifier (:mod:`mof_experiments.segments.personas`) decides on the normalized
title alone (:func:`~mof_experiments.segments.personas.normalize_title`: two titles with the
same normalized form get the same persona, confidence, rule and review flag). ``mof segment``
therefore keeps its answers in the workspace table ``persona_cache``, one row per normalized
title, and the next run classifies only the titles it has not seen.

Rules
-----
- **Key.** Every row carries ``classifier_version``
  (:data:`~mof_experiments.segments.personas.CLASSIFIER_VERSION`) and ``cache_key``, a hash of
  that version, the classifier's code and data files (``segments/personas/*.py``,
  ``data/personas/*``), the scikit-learn version and the two thresholds. Rows whose key differs
  from the current one are never used: a new version, a retrained model or other thresholds
  classify every title again, and the table is replaced.
- **Same answers.** A title found in the cache gets the cached row; the others are classified
  by :func:`~mof_experiments.segments.personas.classify_titles` (one raw title per new
  normalized title). The personas table equals the uncached
  :func:`~mof_experiments.segments.personas.personas` row for row.
- **Cost.** With every title cached, the classifier is neither fitted nor loaded: a run costs
  reading the contacts and normalizing their distinct titles.

Columns of ``persona_cache`` (:data:`CACHE_COLUMNS`): ``normalized_title``, ``persona``,
``confidence``, ``rule``, ``needs_review``, ``classifier_version``, ``cache_key``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.segments.personas import (CLASSIFIER_VERSION, DEFAULT_REVIEW_THRESHOLD, DEFAULT_THRESHOLD,
                                               PERSONA_COLUMNS, classify_titles, normalize_title)

#: The workspace table of cached decisions.
PERSONA_CACHE_TABLE = "persona_cache"
CACHE_COLUMNS = ("normalized_title", "persona", "confidence", "rule", "needs_review", "classifier_version",
                 "cache_key")
_DECISION = ("persona", "confidence", "rule", "needs_review")


def classifier_cache_key(threshold: float = DEFAULT_THRESHOLD,
                         review_threshold: float = DEFAULT_REVIEW_THRESHOLD) -> str:
    """The key a cached decision must carry to be reused (see the module's rules).

    A hash of :data:`CLASSIFIER_VERSION`, the bytes of every file of the classifier's code
    (``mof_experiments/segments/personas/*.py``) and data (``mof_experiments/data/personas/*``),
    the scikit-learn version and both thresholds: a change to any of them changes the key.
    """
    import sklearn

    h = hashlib.sha256(f"{CLASSIFIER_VERSION}|{sklearn.__version__}|{float(threshold)!r}|"
                       f"{float(review_threshold)!r}".encode())
    pkg = resources.files("mof_experiments")
    for folder in (pkg / "segments" / "personas", pkg / "data" / "personas"):
        for f in sorted(folder.iterdir(), key=lambda p: p.name):
            if f.is_file() and not f.name.endswith((".pyc", ".pyo")):
                h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class CachedPersonas:
    """What :func:`cached_personas` computed.

    Attributes
    ----------
    personas : the ``personas`` table (columns ``PERSONA_COLUMNS``), equal to
        :func:`~mof_experiments.segments.personas.personas` of the same contacts.
    cache : the cache to store (``CACHE_COLUMNS``): the usable rows given plus the new ones.
    hits, misses : distinct normalized titles found in the cache / classified now.
    changed : True when ``cache`` differs from the usable rows given (it needs writing).
    """

    personas: pd.DataFrame
    cache: pd.DataFrame
    hits: int
    misses: int
    changed: bool

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([("contacts", len(self.personas)), ("distinct titles from the cache", self.hits),
                             ("distinct titles classified", self.misses)], columns=["item", "n"])


def empty_cache() -> pd.DataFrame:
    """An empty ``persona_cache`` frame with the table's dtypes."""
    dtypes = {"confidence": "float64", "needs_review": "bool"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "str")) for c in CACHE_COLUMNS})


def cached_personas(contacts: pd.DataFrame, cache: pd.DataFrame | None = None, *,
                    threshold: float = DEFAULT_THRESHOLD,
                    review_threshold: float = DEFAULT_REVIEW_THRESHOLD) -> CachedPersonas:
    """The ``personas`` table of ``contacts``, classifying only titles missing from ``cache``.

    Parameters
    ----------
    contacts : ``contact_id``, [``company_id``], ``job_title``.
    cache : a ``persona_cache`` frame (e.g. the workspace table), or None. Rows whose
        ``cache_key`` is not :func:`classifier_cache_key` of these thresholds are ignored.
    threshold, review_threshold : as in :func:`~mof_experiments.segments.personas.personas`.
    """
    require_columns(contacts, ["contact_id", "job_title"], "contacts")
    key = classifier_cache_key(threshold, review_threshold)
    usable = empty_cache()
    if cache is not None and len(cache):
        require_columns(cache, list(CACHE_COLUMNS), PERSONA_CACHE_TABLE)
        usable = (cache[cache["cache_key"] == key].drop_duplicates("normalized_title")
                  .reset_index(drop=True)[list(CACHE_COLUMNS)])
    titles = contacts["job_title"].reset_index(drop=True)
    raw_codes, raw_uniques = pd.factorize(titles.astype(object), use_na_sentinel=True)
    # a missing title normalizes to "" (as classify_titles does); it takes the last slot
    norm_of_raw = [normalize_title(t) for t in raw_uniques] + [""]
    reps = list(raw_uniques) + [None]                   # one raw title that gives each normalized one
    norm_codes, norm_uniques = pd.factorize(pd.Series(norm_of_raw, dtype=object))
    row_norm = norm_codes[np.where(raw_codes >= 0, raw_codes, len(raw_uniques))]
    needed = np.unique(row_norm)
    known = pd.Index(usable["normalized_title"].astype(object))
    pos = known.get_indexer(pd.Index(np.asarray(norm_uniques, dtype=object)[needed]))
    missing = needed[pos < 0]
    new = empty_cache()
    if len(missing):
        first_raw = {}
        for i, code in enumerate(norm_codes):
            first_raw.setdefault(code, reps[i])
        fresh = classify_titles([first_raw[c] for c in missing], threshold=threshold,
                                review_threshold=review_threshold)
        new = fresh[list(_DECISION)].assign(normalized_title=np.asarray(norm_uniques, dtype=object)[missing],
                                             classifier_version=CLASSIFIER_VERSION, cache_key=key)
        new = new[list(CACHE_COLUMNS)].astype({"normalized_title": "str", "persona": "str", "rule": "str",
                                               "classifier_version": "str", "cache_key": "str"})
    table = pd.concat([usable, new], ignore_index=True) if len(new) else usable
    index = pd.Index(table["normalized_title"].astype(object))
    rows = index.get_indexer(pd.Index(np.asarray(norm_uniques, dtype=object)[row_norm]))
    out = table.iloc[rows][list(_DECISION)].reset_index(drop=True)
    out = out.astype({"persona": "str", "confidence": "float64", "rule": "str", "needs_review": "bool"})
    out.insert(0, "job_title", titles)
    out.insert(0, "company_id", contacts["company_id"].reset_index(drop=True) if "company_id" in contacts
               else pd.Series(None, index=out.index, dtype="str"))
    out.insert(0, "contact_id", contacts["contact_id"].reset_index(drop=True).astype("str"))
    changed = bool(len(new)) or (cache is not None and len(cache) != len(usable))
    return CachedPersonas(out[list(PERSONA_COLUMNS)], table, hits=int((pos >= 0).sum()), misses=len(missing),
                          changed=changed)


def cached_personas_from_workspace(workspace, *, threshold: float = DEFAULT_THRESHOLD,
                                   review_threshold: float = DEFAULT_REVIEW_THRESHOLD) -> CachedPersonas:
    """:func:`cached_personas` of the workspace's ``contacts`` with its ``persona_cache`` table
    (absent: an empty cache). Writes nothing: :func:`~mof_experiments.segments.segment_workspace`
    stores ``cache`` with the other tables when ``changed``."""
    cache = workspace.read(PERSONA_CACHE_TABLE) if workspace.has(PERSONA_CACHE_TABLE) else None
    if cache is not None and not set(CACHE_COLUMNS) <= set(cache.columns):
        cache = None                      # a table of another layout is rebuilt, never trusted
    contacts = workspace.read("contacts", ["contact_id", "company_id", "job_title"])
    return cached_personas(contacts, cache, threshold=threshold, review_threshold=review_threshold)


__all__ = ["CACHE_COLUMNS", "CachedPersonas", "PERSONA_CACHE_TABLE", "cached_personas",
           "cached_personas_from_workspace", "classifier_cache_key", "empty_cache"]
