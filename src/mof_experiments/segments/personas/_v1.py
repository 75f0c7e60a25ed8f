"""Personas from free-text job titles: transparent rules first, a text model for the rest.

Each title is normalized (:func:`normalize_title`: accents stripped, lower case, ``FP&A`` ->
``fpa``, punctuation to spaces) and matched against :data:`RULES`, an ordered list of named
regular expressions; the **first** matching rule decides, with confidence 1.0. Titles that no
rule matches go to a scikit-learn text model (character n-gram TF-IDF + logistic regression)
trained on the ``train`` split of the shipped labeled titles
(``mof_experiments/data/personas_labeled.csv``); its top class is returned when its
probability is at least ``threshold``, else ``OTHER`` (the model abstains rather than guess).
Empty, missing or placeholder titles (``n/a``, ``-``, ``unknown``) are ``OTHER`` with
confidence 0.

The order of the rules encodes the documented choices (``docs/personas.md``): a functional
C-title beats "founder" (``CTO & Co-founder`` is DEV, ``Founder & CEO`` is CEO); the people who
integrate (CTO, VP Engineering, Head of Platform, engineering managers) are DEV; product
marketing (PMM) is OTHER, product management (incl. CPO) is PM; controllers, treasurers and
FP&A are CFO; security roles are CSO; counsel, legal, compliance and privacy are GC.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from mof_experiments.errors import MofInputError
from mof_experiments.schema import PERSONAS

#: Default probability below which the text model answers OTHER.
DEFAULT_THRESHOLD = 0.45

PERSONA_COLUMNS = ("contact_id", "company_id", "job_title", "persona", "confidence", "rule")


@dataclass(frozen=True)
class Rule:
    """A named pattern over the normalized title; the first matching rule decides."""

    name: str
    persona: str
    pattern: str

    @property
    def regex(self) -> re.Pattern:
        return _compile(self.pattern)


@lru_cache(maxsize=None)
def _compile(pattern: str) -> re.Pattern:
    return re.compile(pattern)


# Order matters: the first match wins. Patterns run on normalize_title() output (lower case,
# ASCII, single spaces, no punctuation).
RULES: tuple[Rule, ...] = (
    Rule("missing", "OTHER",
         r"^(?:n a|na|none|null|nil|unknown|tbd|tba|not specified|not available|x+)(?: |$)"),
    # product marketing is marketing, not product management
    Rule("marketing", "OTHER",
         r"\bpmm\b|marketing|\bcmo\b|marketeer|mercadeo|\bmarketer\b"),
    # the people who integrate: technology leadership is DEV (before "founder": CTO & Co-founder)
    Rule("engineering_leadership", "DEV",
         r"\bcto\b|chief (?:technology|technical) officer|chief architect|"
         r"\b(?:vp|svp|evp|vice president|director|head|chief)(?: of)? (?:eng|engineering|technology|"
         r"development|software|infrastructure)\b|\bhead of platform\b|engineering (?:manager|director|lead)"),
    Rule("legal", "GC",
         r"counsel|\blegal\b|attorney|lawyer|solicitor|paralegal|\bgc\b|\bagc\b|\bclo\b|jurist|juridi|"
         r"abogad|advogad|avocat|anwalt|justiziar|\bletrad"),
    Rule("security", "CSO",
         r"\bciso\b|\bcso\b|\brssi\b|secur|infosec|appsec|secops|\bgrc\b|sicherheit|seguridad|"
         r"seguranca|pen(?:etration)? ?test"),
    Rule("finance", "CFO",
         r"\bcfo\b|financ|\bfinanz|\bfpa\b|controller|comptroller|contralor|treasur|tesorer|"
         r"accountant|accounting|\bdaf\b|kaufmannische"),
    Rule("compliance", "GC", r"complian|privacy|\bdpo\b|data protection|datenschutz|regulatory"),
    Rule("product_management", "PM",
         r"produ[ck]t ?(?:manag|mgr|owner|lead|director|strategy|head)|"
         r"\b(?:head|vp|svp|vice president|director|chief|manager|jefe|gerente|responsable|"
         r"responsabile|chef)(?: of| de| di| de projet)? (?:product|produit|producto|produto|prodotto)\b|"
         r"\b(?:cpo|pm|apm|gpm|po)\b|produktverantwortlich"),
    # functional executives and assistants are not the CEO persona even with "CEO" in the title
    Rule("operations_executive", "OTHER",
         r"\bcoo\b|\bcro\b|chief (?:operating|operations|revenue|commercial|people|customer|growth|"
         r"of staff)|assistant|\bassistente?\b"),
    Rule("executive", "CEO",
         r"\bceo\b|chief exec|founder|founding|fundador|fondat|grunder|^owner\b|\b(?:business|company|co|sole) owner\b|proprietor|"
         r"managing (?:director|partner)|(?<!vice )\bpresident\b|\bpdg\b|chairman|chairwoman|"
         r"\bchair\b|general manager|executive director|geschaftsfuhr|vorstandsvorsitz|"
         r"directeur general|director general|director ejecutivo|\bgerant|\bmd\b"),
    Rule("sales_and_people", "OTHER",
         r"\bsales\b|account (?:executive|manager|director)|business development|\bbdr\b|\bsdr\b|"
         r"partner(?:ship)?s? manager|partnerships|customer|client|recruit|talent|\bhr\b|"
         r"human resources|\bpeople\b|design|\bux\b|\bui\b|vertrieb|commercial|comercial"),
    Rule("developer", "DEV",
         r"engineer|engineering|develop|\bdev\b|devops|\bswe\b|\bsde\b|\bsre\b|site reliability|"
         r"programm|programad|coder|architect|tech(?:nical)? lead|full ?stack|back ?end|front ?end|"
         r"\bios\b|android|entwickl|desarroll|ingenieur|ingeniero|desenvolv|ontwikkel|svilupp|"
         r"\bcio\b|chief information officer|\bit (?:manager|director|lead|admin)|"
         r"(?:head|director|vp) (?:of )?it\b|sysadmin|system(?:s)? admin|\bqa\b|test automation|"
         r"platform (?:engineer|lead|team)"),
    Rule("other_roles", "OTHER",
         r"operations|\bops\b|project|program|scrum|agile|analyst|scientist|research|student|intern\b|"
         r"trainee|freelanc|consultant|advisor|adviser|board|investor|growth|community|communication|"
         r"\bpr\b|\boffice\b|support|teacher|nurse|coordinator|specialist|writer"),
)


def normalize_title(title) -> str:
    """Lower-case ASCII words separated by single spaces (``None``/NaN -> ``""``).

    ``Sr.`` -> ``sr``, ``Geschäftsführer`` -> ``geschaftsfuhrer``, ``FP&A`` -> ``fpa``,
    ``Co-founder`` -> ``co founder``.
    """
    if title is None or (isinstance(title, float) and np.isnan(title)) or title is pd.NA:
        return ""
    text = unicodedata.normalize("NFKD", str(title))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("ß", "ss")
    text = re.sub(r"\bfp\s*(?:&|and)\s*a\b", "fpa", text)
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return text.strip()


def match_rule(title) -> Rule | None:
    """The first rule of :data:`RULES` that matches ``title`` (or ``None``)."""
    norm = normalize_title(title)
    if not norm:
        return RULES[0]
    for rule in RULES:
        if rule.regex.search(norm):
            return rule
    return None


class PersonaClassifier(ClassifierMixin, BaseEstimator):
    """Job title -> persona: :data:`RULES` first, then a char n-gram TF-IDF + logistic model.

    Parameters
    ----------
    threshold : the model's top-class probability below which the answer is ``OTHER``.
    use_rules : apply :data:`RULES` before the model (``False``: the model alone, for
        evaluation).
    C : inverse regularization strength of the logistic regression.
    ngram_range : character n-gram lengths (``char_wb`` analyzer, on normalized titles).

    Attributes
    ----------
    pipeline_ : the fitted scikit-learn ``Pipeline`` (``tfidf`` -> ``logreg``).
    classes_ : persona labels seen in ``fit``.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, use_rules: bool = True, C: float = 20.0,
                 ngram_range: tuple = (2, 4)):
        self.threshold = threshold
        self.use_rules = use_rules
        self.C = C
        self.ngram_range = ngram_range

    def fit(self, X, y):
        """Train the text model on titles ``X`` and personas ``y`` (rules are fixed)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        if not 0.0 <= float(self.threshold) <= 1.0:
            raise MofInputError(f"threshold must be in [0, 1], got {self.threshold!r}")
        titles = [normalize_title(t) for t in _as_list(X)]
        y = np.asarray(_as_list(y), dtype=object)
        if len(titles) != len(y) or not len(y):
            raise MofInputError(f"X and y must be non-empty and of the same length ({len(titles)} vs {len(y)})")
        bad = [p for p in y if p not in PERSONAS]
        if bad:
            raise MofInputError(f"unknown persona (allowed: {', '.join(PERSONAS)})", column="persona",
                                row=int(np.flatnonzero(~np.isin(y, PERSONAS))[0]) + 1, value=bad[0])
        keep = np.array([bool(t) for t in titles])  # empty titles are decided by the 'missing' rule
        pipeline = Pipeline([
            ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.ngram_range),
                                      sublinear_tf=True, min_df=1)),
            ("logreg", LogisticRegression(C=self.C, max_iter=5000)),
        ])
        # a few hundred titles: BLAS threads only add contention (0.2 s single-threaded vs seconds)
        with threadpool_limits(limits=1):
            self.pipeline_ = pipeline.fit([t for t, k in zip(titles, keep) if k], y[keep])
        self.classes_ = self.pipeline_.classes_
        return self

    def classify(self, X) -> pd.DataFrame:
        """One row per title: ``persona``, ``confidence`` (0-1) and ``rule``.

        ``rule`` is the name of the matching rule (confidence 1.0; ``missing`` has confidence
        0), ``model`` (confidence = the model's probability of its top class, at least
        ``threshold``) or ``model_abstained`` (persona ``OTHER``; confidence = the top-class
        probability that was too low).
        """
        check_is_fitted(self, "pipeline_")
        titles = _as_list(X)
        norm = [normalize_title(t) for t in titles]
        n = len(norm)
        persona = np.full(n, "OTHER", dtype=object)
        conf = np.zeros(n, dtype=float)
        rule = np.full(n, "", dtype=object)
        todo = []
        for i, t in enumerate(norm):
            if not t:
                rule[i] = "missing"
                continue
            r = None
            if self.use_rules:
                r = next((r for r in RULES if r.regex.search(t)), None)
            if r is None:
                todo.append(i)
            else:
                persona[i], conf[i], rule[i] = r.persona, 0.0 if r.name == "missing" else 1.0, r.name
        if todo:
            # classify each distinct title once (CRM exports repeat titles a lot)
            uniq, inv = np.unique(np.array([norm[i] for i in todo], dtype=object), return_inverse=True)
            proba = self.pipeline_.predict_proba(list(uniq))
            top = proba.argmax(axis=1)
            p_top = proba[np.arange(len(uniq)), top][inv]
            lab = self.classes_[top][inv]
            ok = p_top >= self.threshold
            idx = np.array(todo)
            persona[idx] = np.where(ok, lab, "OTHER")
            conf[idx] = p_top
            rule[idx] = np.where(ok, "model", "model_abstained")
        return pd.DataFrame({"persona": pd.Series(persona, dtype="str"), "confidence": conf,
                             "rule": pd.Series(rule, dtype="str")})

    def predict(self, X) -> np.ndarray:
        """Persona per title (see :meth:`classify`)."""
        return self.classify(X)["persona"].to_numpy(dtype=object)


def _as_list(X) -> list:
    if isinstance(X, (str, bytes)):
        raise MofInputError("expected a list of job titles, got a single string")
    if isinstance(X, pd.DataFrame):
        X = X.iloc[:, 0]
    return list(X)


def labeled_titles() -> pd.DataFrame:
    """The shipped labeled job titles: ``job_title``, ``persona``, ``split`` (train/test).

    Empty titles are read as empty strings (they are labeled OTHER).
    """
    path = resources.files("mof_experiments") / "data" / "personas_labeled.csv"
    with resources.as_file(path) as p:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    return df


@lru_cache(maxsize=4)
def default_classifier(threshold: float = DEFAULT_THRESHOLD) -> PersonaClassifier:
    """The classifier trained on the ``train`` split of :func:`labeled_titles` (cached in-process)."""
    df = labeled_titles()
    train = df[df["split"] == "train"]
    return PersonaClassifier(threshold=threshold).fit(train["job_title"], train["persona"])


def classify_titles(titles, *, threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Persona, confidence and deciding rule for each title (see :meth:`PersonaClassifier.classify`)."""
    return default_classifier(float(threshold)).classify(titles)


def personas(contacts: pd.DataFrame, *, threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """The ``personas`` table from a contacts frame (``contact_id``, ``company_id``, ``job_title``).

    Returns
    -------
    DataFrame with columns ``contact_id``, ``company_id``, ``job_title`` (as given),
    ``persona`` (one of PM, GC, CSO, CFO, CEO, DEV, OTHER), ``confidence`` (1.0 for a rule,
    the model's probability for ``model``/``model_abstained``, 0 for a missing title) and
    ``rule`` (the deciding rule's name, ``model`` or ``model_abstained``).
    """
    missing = [c for c in ("contact_id", "job_title") if c not in contacts.columns]
    if missing:
        raise MofInputError(f"missing column(s) {', '.join(missing)} for personas", source="contacts",
                            column=missing[0])
    out = classify_titles(contacts["job_title"].tolist(), threshold=threshold)
    out.insert(0, "job_title", contacts["job_title"].reset_index(drop=True))
    out.insert(0, "company_id", contacts["company_id"].reset_index(drop=True) if "company_id" in contacts
               else pd.Series(None, index=out.index, dtype="str"))
    out.insert(0, "contact_id", contacts["contact_id"].reset_index(drop=True).astype("str"))
    return out[list(PERSONA_COLUMNS)]


def personas_from_workspace(workspace, *, threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """:func:`personas` over the workspace's ``contacts`` table."""
    return personas(workspace.read("contacts", ["contact_id", "company_id", "job_title"]), threshold=threshold)


def evaluate_titles(y_true, y_pred) -> pd.DataFrame:
    """Per-persona precision, recall, F1 and support, plus ``macro`` and ``accuracy`` rows."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    labels = [p for p in PERSONAS if p in set(y_true) | set(y_pred)]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    df = pd.DataFrame({"persona": labels, "precision": p, "recall": r, "f1": f, "n": s})
    mp, mr, mf, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro",
                                                    zero_division=0)
    acc = accuracy_score(y_true, y_pred)
    extra = pd.DataFrame({"persona": ["macro", "accuracy"], "precision": [mp, np.nan], "recall": [mr, np.nan],
                          "f1": [mf, acc], "n": [len(y_true), len(y_true)]})
    return pd.concat([df, extra], ignore_index=True)
