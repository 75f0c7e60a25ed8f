"""The persona classifier: a few documented rules, then a calibrated text model.

Order of decision for one normalized title (the first that applies decides; ``rule`` in the
output names it):

1. ``missing``: no title (empty, no letter, or a placeholder such as ``n/a``): ``OTHER``,
   confidence 0 (nothing to be confident about), not flagged for review.
2. ``unrecognized_script``: most letters are in a script the training titles do not cover
   (Cyrillic, Arabic, Hangul, Greek, Hebrew, Thai, ...): ``OTHER``, confidence 0, **flagged for
   review** (a person who reads the script can classify it).
3. ``chief_executive``: the title names the CEO (``CEO``, ``Chief Executive``, ``PDG``,
   ``代表取締役``, ``首席执行官``, ...) and is not an assistant, office or chief of staff *to* the
   CEO: ``CEO``, whatever else it says (``CEO & CTO`` is CEO).
4. ``head_with_function`` / ``head_of_company``: the title has a company-head word (founder,
   co-founder, owner, managing/executive director, general manager, president, chair, and their
   German, French, Spanish, Portuguese, Japanese and Chinese forms). The head words are removed
   and the rest is split into parts (``&``, ``/``, ``,``, ``and``, ``-``, ...). If the model is
   confident about a part (probability >= 0.5 when the part names a role such as ``CTO`` or
   ``Head of Product``, >= 0.9 for a bare function such as ``Finance``; an ``OTHER`` part must
   name a role and reach 0.9, so that a team, company or place name is not taken for a job),
   that part's persona decides (``head_with_function``:
   ``Co-founder & CTO`` -> DEV, ``Executive Director, Finance`` -> CFO, ``COO & Co-founder`` ->
   OTHER); else the title is the company head (``head_of_company``: ``Founder``,
   ``Managing Director, EMEA`` -> CEO).
5. look-alike rules (:mod:`.lookalikes`: ``engineering_outside_software``, ``security_outside_it``,
   ``counselor_not_counsel``, ``compliance_outside_legal``, ``controller_outside_finance``): the
   words name a persona's function but the work is another (``Mechanical Engineer``, ``Security
   Guard``, ``Guidance Counselor``): ``OTHER``.
6. ``unrecognized_words``: no content word (seniority and connector words do not count) and
   no pair of CJK characters of the title occurs in the training titles, and fewer than
   :data:`KNOWN_GRAM_SHARE` of its character 4-grams do: ``OTHER`` (``Ninja``, ``asdf qwerty``).
7. ``model``: word (1-2) and character (2-5, ``char_wb``) n-gram TF-IDF over the title plus its
   English glosses (:func:`~.text.model_text`) and spelling corrections, a linear SVM
   (``LinearSVC(C=4, class_weight="balanced")``: each persona weighted by the inverse of its
   share of the training titles) calibrated by scikit-learn's ``CalibratedClassifierCV`` (Platt's sigmoid
   fitted on 2 cross-validation folds, then one SVM fitted on every title: ``ensemble=False``).
   The TF-IDF vocabulary is learned once from all training titles. The most probable persona
   other than OTHER is returned when its probability is at least ``threshold``; otherwise
   ``OTHER`` with the model's probability of OTHER as confidence (``model_abstained`` when a
   persona was the top class).

Every decision carries a **confidence**, the estimated probability that its persona is right:
for the model its calibrated probability; for the rules 3-6 their precision measured on the
training titles when the classifier is fitted (``(hits + 1) / (fires + 2)``), stored in
``rule_precision_``. ``needs_review`` is true when the confidence is below
``review_threshold`` (default 0.8) and for ``unrecognized_script``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from mof_experiments.errors import MofInputError
from mof_experiments.schema import PERSONAS
from mof_experiments.segments.personas.heads import _ROLE_WORD, _SPLIT
from mof_experiments.segments.personas.lookalikes import lookalike_rule
from mof_experiments.segments.personas.rules import _HEAD_RX, RULES, Rule, _base_rule, match_rule  # noqa: F401 (re-exported)
from mof_experiments.segments.personas.text import (_strip_noise, char_grams, content_tokens, model_text,
                                                    normalize_title)

#: Model probability below which the answer is OTHER (``model_abstained``).
DEFAULT_THRESHOLD = 0.55
#: Confidence below which ``needs_review`` is set.
DEFAULT_REVIEW_THRESHOLD = 0.8

#: A part of a combined title must reach this model probability to decide: the first when it
#: names a role (``CTO``, ``Head of Product``), the second otherwise (``Finance``); an OTHER part
#: must name a role and reach the second.
PART_MIN_PROBA = (0.5, 0.9)
#: ``unrecognized_words`` needs fewer than this share of a title's character 4-grams in the
#: training titles (besides no known word): with titles in five languages, most 4-grams of any
#: made-up word occur somewhere ("Ninja": " nin", "inja", "nja "), so half was too low a bar.
KNOWN_GRAM_SHARE = 0.9


class PersonaClassifier(ClassifierMixin, BaseEstimator):
    """Job title -> persona with a calibrated confidence (see the module docstring).

    Parameters
    ----------
    threshold : model probability below which the answer is ``OTHER`` (``model_abstained``).
    review_threshold : confidence below which ``needs_review`` is true.
    use_rules : apply the rules 3-6 (``False``: the model alone, for evaluation; ``missing`` and
        ``unrecognized_script`` always apply).
    base : ``"svm"`` (``LinearSVC``) or ``"logistic"`` (``LogisticRegression``).
    C : inverse regularization strength of the linear model.
    class_weight : passed to the linear model.
    calibration : ``"isotonic"`` or ``"sigmoid"`` (``CalibratedClassifierCV(method=...)``).
    cv : folds of the calibration.
    ensemble : average the ``cv`` calibrated fits (``CalibratedClassifierCV(ensemble=...)``);
        ``False`` fits one model on every title and calibrates it on the folds' predictions.
    char_ngrams, word_ngrams : n-gram lengths of the ``char_wb`` and word TF-IDF features.
    spelling_max_count : a word of a new title seen at most this often in the training titles is
        replaced by its spelling correction (see :meth:`_text`; 0: only words never seen; -1: none).

    Attributes
    ----------
    features_ : the fitted TF-IDF ``FeatureUnion`` (word and character n-grams).
    model_ : the fitted ``CalibratedClassifierCV`` over the linear model, on ``features_``.
    classes_ : personas seen in ``fit``.
    vocabulary_ : the content tokens of the training titles (for ``unrecognized_words``).
    rule_precision_ : dict rule name -> measured precision on the training titles.
    rule_counts_ : dict rule name -> (hits, fires) on the training titles.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
                 use_rules: bool = True, base: str = "svm", C: float = 4.0, class_weight="balanced",
                 calibration: str = "sigmoid", cv: int = 2, ensemble: bool = False, char_ngrams: tuple = (2, 5),
                 word_ngrams: tuple = (1, 2), spelling_max_count: int = 2):
        self.threshold = threshold
        self.review_threshold = review_threshold
        self.use_rules = use_rules
        self.base = base
        self.C = C
        self.class_weight = class_weight
        self.calibration = calibration
        self.cv = cv
        self.ensemble = ensemble
        self.char_ngrams = char_ngrams
        self.word_ngrams = word_ngrams
        self.spelling_max_count = spelling_max_count

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X, y):
        """Fit the calibrated text model on titles ``X`` and personas ``y``; measure the rules."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion
        from sklearn.svm import LinearSVC
        from threadpoolctl import threadpool_limits

        for name in ("threshold", "review_threshold"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise MofInputError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.calibration not in ("isotonic", "sigmoid"):
            raise MofInputError(f"calibration must be 'isotonic' or 'sigmoid', got {self.calibration!r}")
        if self.base not in ("svm", "logistic"):
            raise MofInputError(f"base must be 'svm' or 'logistic', got {self.base!r}")
        norm = [normalize_title(t) for t in _as_list(X)]
        y = np.asarray(_as_list(y), dtype=object)
        if len(norm) != len(y) or not len(y):
            raise MofInputError(f"X and y must be non-empty and of the same length ({len(norm)} vs {len(y)})")
        bad = ~np.isin(y, PERSONAS)
        if bad.any():
            raise MofInputError(f"unknown persona (allowed: {', '.join(PERSONAS)})", column="persona",
                                row=int(np.flatnonzero(bad)[0]) + 1, value=y[bad][0])
        keep = np.array([_base_rule(t) not in ("missing", "unrecognized_script") for t in norm])
        texts = [t for t, k in zip(norm, keep) if k]
        counts: dict = {}
        for t in texts:
            for w in _strip_noise(t).split():
                counts[w] = counts.get(w, 0) + 1
        self.word_counts_ = counts
        # the vocabulary and IDF are learned once from every training title (no label is used);
        # only the classifier is refitted per calibration fold
        self.features_ = FeatureUnion([
            ("word", TfidfVectorizer(analyzer="word", token_pattern=r"(?u)\b\w+\b",
                                     ngram_range=tuple(self.word_ngrams), sublinear_tf=True, dtype=np.float32)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngrams), sublinear_tf=True,
                                     min_df=2, dtype=np.float32)),
        ])
        if self.base == "svm":
            clf = LinearSVC(C=self.C, class_weight=self.class_weight, max_iter=5000, random_state=0)
        else:
            clf = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=3000)
        # BLAS threads only add contention on these small sparse problems
        with threadpool_limits(limits=1):
            # the training titles are read as written: spelling correction is for new titles only
            Xt = self.features_.fit_transform([self._text(t, correct=False) for t in texts])
            self.model_ = CalibratedClassifierCV(clf, method=self.calibration, cv=self.cv,
                                                 ensemble=self.ensemble).fit(Xt, y[keep])
        self.classes_ = self.model_.classes_
        toks = [content_tokens(model_text(t)) for t in texts]
        grams = [char_grams(t) for t in texts]
        self.vocabulary_ = frozenset(tok for tk in toks for tok in tk)
        self.char_vocabulary_ = frozenset(g for gr in grams for g in gr)
        self.rule_precision_, self.rule_counts_ = {}, {}
        out = self._decide(norm, measure=False, rules_only=True)
        for r in RULES[2:]:
            fired = (out["rule"] == r.name).to_numpy()
            hits = int((out["persona"].to_numpy()[fired] == y[fired]).sum())
            n = int(fired.sum())
            self.rule_counts_[r.name] = (hits, n)
            self.rule_precision_[r.name] = (hits + 1) / (n + 2)
        self.rule_precision_["unrecognized_words"] = self._oov_precision(toks, grams, y[keep])
        return self

    def _proba(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities (columns in ``classes_``) of normalized titles."""
        with _one_thread():
            return self.model_.predict_proba(self.features_.transform([self._text(t) for t in texts]))

    def _oov_precision(self, toks, grams, y) -> float:
        """Precision of ``unrecognized_words``: over ``cv`` folds (title ``i`` in fold ``i % cv``),
        titles none of whose content tokens occur in the other folds and fewer than ``KNOWN_GRAM_SHARE`` of whose
        character 4-grams do, share labeled OTHER (Laplace-smoothed)."""
        from collections import Counter

        folds = np.arange(len(toks)) % self.cv
        toks = [set(t) for t in toks]
        grams = [set(g) for g in grams]
        # a token occurs in the other folds iff its count over all folds exceeds its count in this one
        tok_all, gram_all = Counter(), Counter()
        tok_fold = [Counter() for _ in range(self.cv)]
        gram_fold = [Counter() for _ in range(self.cv)]
        for f, tk, gr in zip(folds, toks, grams):
            tok_all.update(tk), tok_fold[f].update(tk), gram_all.update(gr), gram_fold[f].update(gr)
        hits = n = 0
        for i, (f, tk, gr) in enumerate(zip(folds, toks, grams)):
            if any(tok_all[t] > tok_fold[f][t] for t in tk):
                continue
            if not gr or np.mean([gram_all[g] > gram_fold[f][g] for g in gr]) < KNOWN_GRAM_SHARE:
                n += 1
                hits += y[i] == "OTHER"
        self.rule_counts_["unrecognized_words"] = (int(hits), int(n))
        return (hits + 1) / (n + 2)

    # -- prediction --------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """The calibrated model's probabilities (columns in ``classes_``), rules not applied."""
        check_is_fitted(self, "model_")
        return self._proba([normalize_title(t) for t in _as_list(X)])

    def classify(self, X) -> pd.DataFrame:
        """One row per title: ``persona``, ``confidence``, ``rule``, ``needs_review``.

        Each distinct normalized title is classified once and the result joined back, so the
        cost grows with the number of distinct titles, not of rows; the result equals
        classifying row by row.
        """
        check_is_fitted(self, "model_")
        titles = _as_list(X)
        raw_codes, raw_uniques = pd.factorize(pd.Series(titles, dtype=object), use_na_sentinel=True)
        norm_of_raw = [normalize_title(t) for t in raw_uniques]
        norm_codes, norm_uniques = pd.factorize(pd.Series(norm_of_raw + [""], dtype=object))
        per_norm = self._decide(list(norm_uniques), measure=True)
        # rows with a missing value (code -1) map to the appended empty title
        row_norm = np.where(raw_codes >= 0, norm_codes[np.maximum(raw_codes, 0)], norm_codes[-1])
        out = per_norm.iloc[row_norm].reset_index(drop=True)
        return out.astype({"persona": "str", "rule": "str"})

    def predict(self, X) -> np.ndarray:
        """Persona per title (see :meth:`classify`)."""
        return self.classify(X)["persona"].to_numpy(dtype=object)

    def _decide(self, norm: list[str], *, measure: bool, rules_only: bool = False) -> pd.DataFrame:
        n = len(norm)
        persona = np.full(n, "OTHER", dtype=object)
        conf = np.zeros(n)
        rule = np.full(n, "", dtype=object)
        todo, heads = [], []
        for i, t in enumerate(norm):
            r = _base_rule(t)
            if r in ("missing", "unrecognized_script"):
                rule[i] = r
            elif self.use_rules and r == "chief_executive":
                persona[i], rule[i] = "CEO", r
            elif self.use_rules and r == "head":
                heads.append(i)
            elif self.use_rules and (look := lookalike_rule(self._text(t, correct=not rules_only))):
                rule[i] = look
            elif self.use_rules and self._unrecognized(t, correct=not rules_only):
                rule[i] = "unrecognized_words"
            else:
                todo.append(i)
        if heads:
            self._decide_heads(norm, heads, persona, rule)
        if todo and not rules_only:
            proba = self._proba([norm[i] for i in todo])
            lab, p, abstained = self._choose(proba)
            idx = np.array(todo)
            persona[idx], conf[idx] = lab, p
            rule[idx] = np.where(abstained, "model_abstained", "model")
        if measure:
            for name, p in self.rule_precision_.items():
                conf[rule == name] = p
        review = (conf < self.review_threshold) & (rule != "missing") | (rule == "unrecognized_script")
        return pd.DataFrame({"persona": persona, "confidence": conf, "rule": rule, "needs_review": review})

    def _choose(self, proba):
        """Persona, confidence and 'abstained' per row of calibrated probabilities.

        The most probable persona other than OTHER is chosen when its probability reaches
        ``threshold`` (even if OTHER is more probable: a persona email to a likely persona is
        the analyst's call, flagged by ``needs_review``); otherwise OTHER, with the probability
        of OTHER as confidence. 'abstained': the model's top class was a persona below the
        threshold.
        """
        classes = list(self.classes_)
        k_other = classes.index("OTHER") if "OTHER" in classes else None
        masked = proba.copy()
        if k_other is not None:
            masked[:, k_other] = -1.0
        best = masked.argmax(axis=1)
        p_best = proba[np.arange(len(proba)), best]
        p_other = proba[:, k_other] if k_other is not None else np.zeros(len(proba))
        take = p_best >= self.threshold
        lab = np.where(take, self.classes_[best], "OTHER")
        conf = np.where(take, p_best, p_other)
        abstained = ~take & (p_best > p_other)
        return lab, conf, abstained

    def _text(self, norm: str, correct: bool = True) -> str:
        """What the model reads: the title without region words and a leading acting/interim
        (:func:`_strip_noise`), then (for a new title, ``correct``; the training titles are read as
        written) every Latin word of at least 4 letters seen at most ``spelling_max_count`` times in
        the training titles replaced by its spelling correction (a training word of the same first
        letter seen at least 10 times as often, with difflib similarity at least 0.8; the most
        similar, ties to the more frequent: ``prodcut`` -> ``product``, ``councel`` ->
        ``counsel``), then :func:`model_text`."""
        if not correct:
            return model_text(_strip_noise(norm))
        cache = self.__dict__.setdefault("_texts", {})
        if norm not in cache:
            words = [self._correct(w) if len(w) >= 4 and w.isascii() and w.isalpha()
                     and self.word_counts_.get(w, 0) <= self.spelling_max_count else w
                     for w in _strip_noise(norm).split()]
            cache[norm] = model_text(" ".join(w for w in words if w))
        return cache[norm]

    def _correct(self, word: str) -> str | None:
        cache = self.__dict__.setdefault("_corrections", {})
        if word not in cache:
            index = self.__dict__.get("_by_initial")
            if index is None:
                index = {}
                for w, n in self.word_counts_.items():   # only words common enough to be a correction
                    if n >= 10 and w.isascii() and w.isalpha() and len(w) >= 3:
                        index.setdefault(w[0], []).append(w)
                self.__dict__["_by_initial"] = index
            import difflib

            floor = 10 * max(self.word_counts_.get(word, 0), 1)   # a rare word next to a common one is a typo
            cands = [w for w in index.get(word[0], []) if abs(len(w) - len(word)) <= 2 and w != word
                     and self.word_counts_[w] >= floor]
            close = difflib.get_close_matches(word, cands, n=5, cutoff=0.8)
            best = max(close, key=lambda w: (round(difflib.SequenceMatcher(None, word, w).ratio(), 3),
                                             self.word_counts_[w]), default=None)
            cache[word] = best or word
        return cache[word]

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_corrections", None)
        state.pop("_by_initial", None)
        state.pop("_texts", None)
        return state

    def _unrecognized(self, norm: str, correct: bool = True) -> bool:
        """No content token known, and fewer than ``KNOWN_GRAM_SHARE`` of the character 4-grams known."""
        if set(content_tokens(self._text(norm, correct))) & self.vocabulary_:
            return False
        grams = char_grams(norm)
        return not grams or np.mean([g in self.char_vocabulary_ for g in grams]) < KNOWN_GRAM_SHARE

    def _decide_heads(self, norm, heads, persona, rule) -> None:
        parts, owner = [], []
        for i in heads:
            rest = _HEAD_RX.sub(" & ", norm[i])
            for p in _SPLIT.split(rest):
                p = " ".join(w for w in p.split() if w not in ("of", "de", "du", "des", "del", "da", "do", "der"))
                if content_tokens(p) and not self._unrecognized(p):
                    parts.append(p)
                    owner.append(i)
        best = {}
        if parts:
            proba = self._proba(parts)
            for i, part, row in zip(owner, parts, proba):
                k = int(row.argmax())
                lab, p = self.classes_[k], float(row[k])
                role = bool(_ROLE_WORD.search(part))
                if lab == "OTHER" and not role:
                    continue
                need = PART_MIN_PROBA[0] if lab != "OTHER" and role else PART_MIN_PROBA[1]
                if p >= need and p > best.get(i, ("", 0.0))[1]:
                    best[i] = (lab, p)
        for i in heads:
            if i in best:
                persona[i], rule[i] = best[i][0], "head_with_function"
            else:
                persona[i], rule[i] = "CEO", "head_of_company"


class _one_thread:
    def __enter__(self):
        from threadpoolctl import threadpool_limits

        self._ctx = threadpool_limits(limits=1)
        return self._ctx.__enter__()

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def _as_list(X) -> list:
    if isinstance(X, (str, bytes)):
        raise MofInputError("expected a list of job titles, got a single string")
    if isinstance(X, pd.DataFrame):
        X = X.iloc[:, 0]
    return list(X)
