"""Personas from free-text job titles (v2): public real titles, calibrated confidence, any script.

A contact's persona is the function the person decides for (product, legal/privacy, security,
finance, company strategy, software engineering; ``docs/personas.md`` has the labeling guide).
:class:`PersonaClassifier` applies a few documented rules and then a calibrated text model
(:mod:`.model`), trained on ``mof_experiments/data/personas/titles_dev.csv`` and
``titles_heldout.csv``: O*NET, ESCO (English, German, French, Spanish, Portuguese) and France
Travail's ROME titles labeled through their occupation codes, plus hand-written titles in
German, French, Spanish, Portuguese, Japanese and Chinese (``data/personas/SOURCES.md``).

The fitted default classifier is cached in the process and on disk (:func:`default_classifier`),
so a command pays the training (a few seconds) once per :data:`CLASSIFIER_VERSION`.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from mof_experiments.errors import MofInputError
from mof_experiments.segments.personas.baseline import KEYWORDS, keyword_baseline
from mof_experiments.segments.personas.build_data import REAL_SOURCES
from mof_experiments.segments.personas.evaluate import (evaluate_titles, expected_calibration_error, macro_f1,
                                                         reliability_table, scores_by_source)
from mof_experiments.segments.personas.model import (DEFAULT_REVIEW_THRESHOLD, DEFAULT_THRESHOLD, RULES,
                                                     PersonaClassifier, Rule, match_rule)
from mof_experiments.segments.personas.text import normalize_title, title_script

PERSONA_COLUMNS = ("contact_id", "company_id", "job_title", "persona", "confidence", "rule", "needs_review")

_RECIPE_FILES = ("__init__.py", "model.py", "rules.py", "text.py", "lookalikes.py", "heads.py")
_DATA_FILES = ("titles_dev.csv", "titles_heldout.csv")


def _data_path(name: str):
    return resources.files("mof_experiments") / "data" / "personas" / name


def _classifier_version() -> str:
    """``4.<12 hex>``: SHA-256 of the labeled titles, the recipe's source (rules, glossary, model
    and its defaults) and the scikit-learn version, so that it changes whenever a fitted
    classifier's output may."""
    import sklearn

    h = hashlib.sha256()
    for name in _DATA_FILES:
        h.update(_data_path(name).read_bytes())
    here = resources.files("mof_experiments") / "segments" / "personas"
    for name in _RECIPE_FILES:
        h.update((here / name).read_bytes())
    h.update(sklearn.__version__.encode())
    return "4." + h.hexdigest()[:12]


#: Version of the shipped classifier: a hash of the labeled data, the recipe (rules, glossary,
#: model) and the scikit-learn version. Equal versions give equal ``classify_titles`` output for
#: equal titles and thresholds, so a cache of classified titles can be keyed by it across runs
#: (with the thresholds: see :attr:`PersonaClassifier.version_`).
CLASSIFIER_VERSION = _classifier_version()


def labeled_titles() -> pd.DataFrame:
    """The shipped labeled titles: ``job_title``, ``persona``, ``source``, ``label_rule``, ``split``.

    ``source`` is one of :data:`REAL_SOURCES` (public occupation data) or ``handwritten_v1``,
    ``handwritten_v2``; ``split`` is ``dev`` (``titles_dev.csv``: fitted on, and every choice made
    by cross-validation on it) or ``heldout`` (``titles_heldout.csv``: never fitted on or tuned on;
    scored once for the acceptance figure, on its real titles only).
    """
    frames = []
    for split in ("dev", "heldout"):
        with resources.as_file(_data_path(f"titles_{split}.csv")) as p:
            frames.append(pd.read_csv(p, dtype=str, keep_default_na=False).assign(split=split))
    return pd.concat(frames, ignore_index=True)


def fresh_titles() -> pd.DataFrame:
    """The fresh held-out titles (``titles_fresh.csv``): ``job_title``, ``persona``, ``source``, ``label_rule``.

    Canada's NOC 2016 job titles (``source`` ``noc2016``), a source none of the training titles
    comes from, labeled by :mod:`.build_fresh` and frozen before any classifier was run on them.
    Never fitted on, not even by :func:`default_classifier`: score it with the shipped classifier.
    """
    with resources.as_file(_data_path("titles_fresh.csv")) as p:
        return pd.read_csv(p, dtype=str, keep_default_na=False)


def _cache_dir() -> Path | None:
    env = os.environ.get("MOF_CACHE_DIR")
    if env == "":
        return None                      # MOF_CACHE_DIR= (empty) turns the disk cache off
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mof-experiments"


def _fit_key(threshold: float, review_threshold: float, splits: tuple = ("dev", "heldout")) -> str:
    h = hashlib.sha256(f"{CLASSIFIER_VERSION}|{threshold}|{review_threshold}|{splits}".encode())
    return h.hexdigest()[:24]


def default_classifier(threshold: float = DEFAULT_THRESHOLD,
                       review_threshold: float = DEFAULT_REVIEW_THRESHOLD) -> PersonaClassifier:
    """The shipped classifier: fitted on **all** labeled titles (``dev`` and ``heldout``).

    Its recipe is the one evaluated by :func:`heldout_classifier` (fitted on ``dev`` only and
    scored on ``heldout``); refitting the same recipe on every labeled title for use is standard
    practice and chooses nothing on the held-out split. The fit takes a few seconds on one core;
    it is cached in the process, and on disk under ``$MOF_CACHE_DIR`` (default
    ``~/.cache/mof-experiments``; an empty ``MOF_CACHE_DIR`` turns it off), keyed by
    :data:`CLASSIFIER_VERSION`, the thresholds and the splits. A cache file that cannot be read,
    or holds another version, is refitted and rewritten (atomically). ``version_`` on the
    returned classifier identifies its output (see :attr:`PersonaClassifier.version_`).
    """
    return _fitted(float(threshold), float(review_threshold), ("dev", "heldout"))


def heldout_classifier(threshold: float = DEFAULT_THRESHOLD,
                       review_threshold: float = DEFAULT_REVIEW_THRESHOLD) -> PersonaClassifier:
    """The same recipe fitted on the ``dev`` split only: the one to score on ``heldout``."""
    return _fitted(float(threshold), float(review_threshold), ("dev",))


@lru_cache(maxsize=4)
def _fitted(threshold: float, review_threshold: float, splits: tuple) -> PersonaClassifier:
    key = _fit_key(threshold, review_threshold, splits)
    folder = _cache_dir()
    path = folder / f"personas-{key}.pkl" if folder else None
    if path is not None and path.is_file():
        try:
            with open(path, "rb") as fh:
                clf = pickle.load(fh)
            if isinstance(clf, PersonaClassifier) and getattr(clf, "version_", None) == _version(
                    CLASSIFIER_VERSION, threshold, review_threshold, splits):
                return clf
        except Exception:  # noqa: BLE001 - a damaged cache is refitted, never trusted
            pass
    df = labeled_titles()
    train = df[df["split"].isin(splits)]
    clf = PersonaClassifier(threshold=threshold, review_threshold=review_threshold)
    clf.fit(train["job_title"], train["persona"])
    clf.version_ = _version(CLASSIFIER_VERSION, threshold, review_threshold, splits)
    if path is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                pickle.dump(clf, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError:
            pass                          # a read-only home still classifies, only slower
    return clf


def _version(classifier_version: str, threshold: float, review_threshold: float, splits: tuple) -> str:
    """``<CLASSIFIER_VERSION>-t<threshold>-r<review_threshold>[-dev]``."""
    suffix = "" if tuple(splits) == ("dev", "heldout") else "-" + "+".join(splits)
    return f"{classifier_version}-t{threshold:g}-r{review_threshold:g}{suffix}"


def classify_titles(titles, *, threshold: float = DEFAULT_THRESHOLD,
                    review_threshold: float = DEFAULT_REVIEW_THRESHOLD) -> pd.DataFrame:
    """``persona``, ``confidence``, ``rule`` and ``needs_review`` for each title.

    See :class:`PersonaClassifier` and :meth:`PersonaClassifier.classify`.
    """
    return default_classifier(float(threshold), float(review_threshold)).classify(titles)


def personas(contacts: pd.DataFrame, *, threshold: float = DEFAULT_THRESHOLD,
             review_threshold: float = DEFAULT_REVIEW_THRESHOLD) -> pd.DataFrame:
    """The ``personas`` table from a contacts frame (``contact_id``, [``company_id``], ``job_title``).

    Returns
    -------
    DataFrame with columns ``contact_id``, ``company_id``, ``job_title`` (as given), ``persona``
    (PM, GC, CSO, CFO, CEO, DEV or OTHER), ``confidence`` (estimated probability that the
    persona is right; 0 for ``missing`` and ``unrecognized_script``), ``rule`` (which rule or
    ``model``/``model_abstained`` decided) and ``needs_review`` (confidence below
    ``review_threshold``, or a script the classifier does not read).
    """
    missing = [c for c in ("contact_id", "job_title") if c not in contacts.columns]
    if missing:
        raise MofInputError(f"missing column(s) {', '.join(missing)} for personas", source="contacts",
                            column=missing[0])
    out = classify_titles(contacts["job_title"].tolist(), threshold=threshold, review_threshold=review_threshold)
    out.insert(0, "job_title", contacts["job_title"].reset_index(drop=True))
    out.insert(0, "company_id", contacts["company_id"].reset_index(drop=True) if "company_id" in contacts
               else pd.Series(None, index=out.index, dtype="str"))
    out.insert(0, "contact_id", contacts["contact_id"].reset_index(drop=True).astype("str"))
    return out[list(PERSONA_COLUMNS)]


def personas_from_workspace(workspace, *, threshold: float = DEFAULT_THRESHOLD,
                            review_threshold: float = DEFAULT_REVIEW_THRESHOLD) -> pd.DataFrame:
    """:func:`personas` over the workspace's ``contacts`` table."""
    return personas(workspace.read("contacts", ["contact_id", "company_id", "job_title"]), threshold=threshold,
                    review_threshold=review_threshold)


__all__ = [
    "CLASSIFIER_VERSION", "DEFAULT_REVIEW_THRESHOLD", "REAL_SOURCES", "DEFAULT_THRESHOLD", "KEYWORDS", "PERSONA_COLUMNS",
    "PersonaClassifier", "RULES", "Rule", "classify_titles", "default_classifier", "evaluate_titles",
    "expected_calibration_error", "fresh_titles", "heldout_classifier", "keyword_baseline", "labeled_titles", "macro_f1",
    "match_rule",
    "normalize_title", "personas", "personas_from_workspace", "reliability_table", "scores_by_source",
    "title_script",
]
