"""Uplift (conditional treatment effect) models as scikit-learn estimators.

Every model is fitted with ``fit(X, y, treatment)`` and ``predict(X)`` returns the estimated
uplift ``tau(x) = E[y | x, treated] - E[y | x, control]`` (for a 0/1 outcome: the change in
the probability of converting). ``__init__`` only stores parameters; everything learned ends
with ``_``; ``fit`` validates ``X`` and records ``n_features_in_`` (and ``feature_names_in_``
for a DataFrame), ``predict`` checks that ``X`` has the same features; the models work with
``clone``, ``get_params``/``set_params`` and as the last step of a ``Pipeline``
(``pipe.fit(X, y, model__treatment=t)``). ``random_state`` (default 0) seeds the default
estimators, and any given estimator whose own ``random_state`` is None, so a fit is
reproducible. scikit-learn's ``parametrize_with_checks`` runs on every model (with a treatment
supplied; see tests/test_uplift.py for the checks that cannot apply to uplift).

Base learners are any scikit-learn estimators: a classifier's ``predict_proba[:, 1]`` or a
regressor's ``predict`` is used as the outcome model.

References: Kunzel et al. (2019), "Metalearners for estimating heterogeneous treatment effects"
(S/T/X); Jaskowski & Jaroszewicz (2012), "Uplift modeling for clinical trial data" (class
transformation).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

from mof_experiments.errors import MofInputError


def _default_regressor():
    return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.05, min_samples_leaf=40)


def _seed(random_state) -> int | None:
    """An int seed from ``random_state``: an int or None as is, one draw from a RandomState."""
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return random_state
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _seeded(estimator, default, random_state):
    """A clone of ``estimator`` (``default()`` if None) whose unset ``random_state`` parameters
    (at any depth, e.g. a pipeline's step) take ``random_state``."""
    est = clone(estimator) if estimator is not None else default()
    seed = _seed(random_state)
    unset = {k: seed for k, v in est.get_params(deep=True).items()
             if (k == "random_state" or k.endswith("__random_state")) and v is None}
    return est.set_params(**unset) if unset and seed is not None else est


def _outcome(est, X) -> np.ndarray:
    """Predicted outcome: P(y=1) for a classifier, the prediction for a regressor."""
    if is_classifier(est):
        proba = est.predict_proba(X)
        classes = list(est.classes_)
        return proba[:, classes.index(1)] if 1 in classes else np.zeros(len(X))
    return np.asarray(est.predict(X), dtype=float)


def _check_binary_treatment(treatment, n: int) -> np.ndarray:
    t = np.asarray(treatment)
    if t.ndim != 1 or len(t) != n:
        raise MofInputError(f"treatment must be 1-D with one value per row of X ({n}), got shape {t.shape}")
    if t.dtype == bool:
        t = t.astype(int)
    vals = set(np.unique(t).tolist())
    if not vals <= {0, 1}:
        bad = sorted(vals - {0, 1}, key=str)[0]
        raise MofInputError(f"treatment must be 0 (control) / 1 (treated), found {bad!r}", column="treatment")
    if len(vals) < 2:
        which = "treated" if vals == {1} else "control"
        raise MofInputError(f"all rows are {which}: uplift needs both treated and control rows", column="treatment")
    return t.astype(int)


class UpliftMixin:
    """``score(X, y, treatment)`` = Qini coefficient of the predicted uplift (higher is better).

    Tags: ``y`` is required; ``predict`` returns a real number per row (an uplift, not a
    prediction of ``y``, so scikit-learn's score-quality checks do not apply: ``poor_score``).
    """

    def score(self, X, y, treatment):
        from mof_experiments.uplift.metrics import qini_auc_score

        return qini_auc_score(y, self.predict(X), treatment)

    def __sklearn_tags__(self):
        from sklearn.utils import RegressorTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags(poor_score=True)
        tags.target_tags.required = True
        return tags


def _validate(est, X, y, treatment):
    """Validate and record ``X`` (``n_features_in_``), ``y`` and a 0/1 ``treatment``."""
    X, y = validate_data(est, X, y, y_numeric=True, ensure_all_finite=True)
    t = _check_binary_treatment(treatment, X.shape[0])
    return X, np.asarray(y, dtype=float), t


class SLearner(UpliftMixin, BaseEstimator):
    """One model of ``y`` on ``[X, treatment]``; uplift = ``f(x, 1) - f(x, 0)``.

    Parameters
    ----------
    estimator : scikit-learn classifier or regressor (default: HistGradientBoostingRegressor).
    random_state : int, RandomState or None (default 0): seeds the default estimator and any
        unset ``random_state`` of ``estimator``.

    Attributes
    ----------
    estimator_ : the fitted model. n_features_in_ : number of features of X.
    """

    def __init__(self, estimator=None, random_state=0):
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X, y, treatment):
        X, y, t = _validate(self, X, y, treatment)
        self.estimator_ = _seeded(self.estimator, _default_regressor, self.random_state)
        self.estimator_.fit(np.column_stack([X, t]), y)
        return self

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, reset=False)
        one, zero = np.ones((len(X), 1)), np.zeros((len(X), 1))
        return _outcome(self.estimator_, np.hstack([X, one])) - _outcome(self.estimator_, np.hstack([X, zero]))


class TLearner(UpliftMixin, BaseEstimator):
    """Two models, one per arm; uplift = ``mu1(x) - mu0(x)``.

    Parameters
    ----------
    estimator : model of the treated outcome (default: HistGradientBoostingRegressor).
    control_estimator : model of the control outcome (default: a clone of ``estimator``).
    random_state : int, RandomState or None (default 0): seeds the default estimators and any
        unset ``random_state`` of the given ones.

    Attributes
    ----------
    estimator_treatment_, estimator_control_ : fitted models. n_features_in_.
    """

    def __init__(self, estimator=None, control_estimator=None, random_state=0):
        self.estimator = estimator
        self.control_estimator = control_estimator
        self.random_state = random_state

    def fit(self, X, y, treatment):
        X, y, t = _validate(self, X, y, treatment)
        control = self.control_estimator if self.control_estimator is not None else self.estimator
        self.estimator_treatment_ = _seeded(self.estimator, _default_regressor, self.random_state) \
            .fit(X[t == 1], y[t == 1])
        self.estimator_control_ = _seeded(control, _default_regressor, self.random_state).fit(X[t == 0], y[t == 0])
        return self

    def predict(self, X):
        check_is_fitted(self, "estimator_treatment_")
        X = validate_data(self, X, reset=False)
        return _outcome(self.estimator_treatment_, X) - _outcome(self.estimator_control_, X)


class XLearner(UpliftMixin, BaseEstimator):
    """X-learner (Kunzel et al. 2019).

    1. Outcome models ``mu0``, ``mu1`` per arm (as the T-learner).
    2. Imputed effects: treated ``D1 = y - mu0(x)``, control ``D0 = mu1(x) - y``; effect models
       ``tau1`` on (X1, D1) and ``tau0`` on (X0, D0) (regressors).
    3. ``tau(x) = g(x) tau0(x) + (1 - g(x)) tau1(x)`` with ``g`` the propensity of treatment:
       ``propensity_estimator``'s ``predict_proba`` if given, else the treated share (randomized
       experiments have a constant propensity).

    Parameters
    ----------
    estimator : outcome model (default: HistGradientBoostingRegressor).
    effect_estimator : regressor for the imputed effects (default: HistGradientBoostingRegressor).
    propensity_estimator : optional classifier of treatment.
    random_state : int, RandomState or None (default 0): seeds the default estimators and any
        unset ``random_state`` of the given ones.

    Attributes
    ----------
    outcome_treatment_, outcome_control_, effect_treatment_, effect_control_ : fitted models.
    propensity_ : the treated share (float) or the fitted propensity classifier. n_features_in_.
    """

    def __init__(self, estimator=None, effect_estimator=None, propensity_estimator=None, random_state=0):
        self.estimator = estimator
        self.effect_estimator = effect_estimator
        self.propensity_estimator = propensity_estimator
        self.random_state = random_state

    def fit(self, X, y, treatment):
        X, y, t = _validate(self, X, y, treatment)
        X1, y1, X0, y0 = X[t == 1], y[t == 1], X[t == 0], y[t == 0]
        rs = self.random_state
        self.outcome_treatment_ = _seeded(self.estimator, _default_regressor, rs).fit(X1, y1)
        self.outcome_control_ = _seeded(self.estimator, _default_regressor, rs).fit(X0, y0)
        self.effect_treatment_ = _seeded(self.effect_estimator, _default_regressor, rs) \
            .fit(X1, y1 - _outcome(self.outcome_control_, X1))
        self.effect_control_ = _seeded(self.effect_estimator, _default_regressor, rs) \
            .fit(X0, _outcome(self.outcome_treatment_, X0) - y0)
        if self.propensity_estimator is None:
            self.propensity_ = float(t.mean())
        else:
            self.propensity_ = _seeded(self.propensity_estimator, None, rs).fit(X, t)
        return self

    def predict(self, X):
        check_is_fitted(self, "effect_treatment_")
        X = validate_data(self, X, reset=False)
        g = self.propensity_ if isinstance(self.propensity_, float) else self.propensity_.predict_proba(X)[:, 1]
        return g * _outcome(self.effect_control_, X) + (1 - g) * _outcome(self.effect_treatment_, X)


class ClassTransformation(UpliftMixin, BaseEstimator):
    """Class transformation for a 0/1 outcome (Jaskowski & Jaroszewicz 2012).

    ``z = 1`` when ``y == treatment`` (treated converter or control non-converter); with equal
    arms ``uplift = 2 P(z = 1 | x) - 1``. When the arms are unbalanced the rows are reweighted
    (treated ``0.5 / p``, control ``0.5 / (1 - p)``, ``p`` = treated share) so that the
    weighted data has equal arms and the identity holds again; ``propensity_correction=False``
    turns that off (biased unless p = 0.5).

    Parameters
    ----------
    estimator : classifier supporting ``sample_weight`` (default: HistGradientBoostingClassifier).
    propensity_correction : reweight unbalanced arms (default True).
    random_state : int, RandomState or None (default 0): seeds the default classifier and any
        unset ``random_state`` of ``estimator``.

    Tags: a binary (0/1) outcome ``y`` is required (``target_tags``: required, one output),
    as for a binary classifier; ``predict`` returns an uplift in [-1, 1], not a class.

    Attributes
    ----------
    estimator_ : fitted classifier of z. treatment_share_ : p. n_features_in_.
    """

    def __init__(self, estimator=None, propensity_correction=True, random_state=0):
        self.estimator = estimator
        self.propensity_correction = propensity_correction
        self.random_state = random_state

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        # a binary outcome only: the tag scikit-learn reads as "two classes, not more"
        tags.classifier_tags = ClassifierTags(poor_score=True, multi_class=False, multi_label=False)
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = False
        return tags

    def fit(self, X, y, treatment):
        from sklearn.ensemble import HistGradientBoostingClassifier

        X, y, t = _validate(self, X, y, treatment)
        if not set(np.unique(y).tolist()) <= {0.0, 1.0}:
            raise MofInputError("ClassTransformation needs a 0/1 outcome y", column="y")
        est = _seeded(self.estimator, lambda: HistGradientBoostingClassifier(max_iter=100, learning_rate=0.05,
                                                                             min_samples_leaf=40), self.random_state)
        if not is_classifier(est):
            raise MofInputError(f"ClassTransformation needs a classifier, got {type(est).__name__}")
        z = (y == t).astype(int)
        p = float(t.mean())
        self.treatment_share_ = p
        if self.propensity_correction:
            from sklearn.pipeline import Pipeline

            w = np.where(t == 1, 0.5 / p, 0.5 / (1 - p))
            if isinstance(est, Pipeline):  # route the weights to the final step
                est.fit(X, z, **{f"{est.steps[-1][0]}__sample_weight": w})
            elif has_fit_parameter(est, "sample_weight"):
                est.fit(X, z, sample_weight=w)
            else:
                raise MofInputError(f"{type(est).__name__} does not accept sample_weight, needed for the propensity "
                                    "correction (or set propensity_correction=False)")
        else:
            est.fit(X, z)
        self.estimator_ = est
        return self

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, reset=False)
        return 2 * _outcome(self.estimator_, X) - 1


class MultiArmUplift(UpliftMixin, BaseEstimator):
    """Several treatment arms against one control: one binary uplift model per arm.

    For each arm ``a`` a clone of ``learner`` is fitted on the rows of ``a`` and of the control.
    ``predict(X)`` returns an array ``(n_samples, n_arms)`` of uplift vs control, columns in
    ``arms_`` order; :meth:`best_arm` returns, per row, the arm with the largest uplift, or the
    control when no arm's uplift exceeds ``min_uplift``.

    Parameters
    ----------
    learner : a binary uplift model (default: ``TLearner()``).
    control : the control label in ``treatment`` (default ``"control"``).
    random_state : int, RandomState or None (default 0): given to each arm's learner whose own
        ``random_state`` is None.

    ``score(X, y, treatment)`` is the Qini coefficient of each row's largest predicted uplift
    against "treated by any arm".

    Attributes
    ----------
    arms_ : array of arm labels (sorted). models_ : dict arm -> fitted learner. n_features_in_.
    """

    def __init__(self, learner=None, control="control", random_state=0):
        self.learner = learner
        self.control = control
        self.random_state = random_state

    def fit(self, X, y, treatment):
        X, y = validate_data(self, X, y, y_numeric=True)
        t = np.asarray(treatment).astype(str)
        if len(t) != len(X):
            raise MofInputError(f"treatment has {len(t)} values for {len(X)} rows of X")
        ctrl = str(self.control)
        if not (t == ctrl).any():
            raise MofInputError(f"control label {ctrl!r} not found in treatment (labels: "
                                f"{', '.join(sorted(set(t))[:10])})", column="treatment")
        arms = np.array(sorted(set(t) - {ctrl}), dtype=object)
        if len(arms) == 0:
            raise MofInputError("all rows are control: uplift needs treated rows", column="treatment")
        self.models_ = {}
        for a in arms:
            m = (t == a) | (t == ctrl)
            self.models_[a] = _seeded(self.learner, TLearner, self.random_state).fit(X[m], y[m], (t[m] == a).astype(int))
        self.arms_ = arms
        return self

    def score(self, X, y, treatment):
        from mof_experiments.uplift.metrics import qini_auc_score

        return qini_auc_score(y, self.predict(X).max(axis=1), np.asarray(treatment).astype(str) != str(self.control))

    def predict(self, X):
        check_is_fitted(self, "models_")
        X = validate_data(self, X, reset=False)
        return np.column_stack([self.models_[a].predict(X) for a in self.arms_])

    def best_arm(self, X, min_uplift: float = 0.0) -> np.ndarray:
        """Per row, the arm with the largest predicted uplift, or the control label if none > ``min_uplift``."""
        u = self.predict(X)
        best = self.arms_[np.argmax(u, axis=1)]
        return np.where(u.max(axis=1) > min_uplift, best, str(self.control)).astype(object)


__all__ = ["SLearner", "TLearner", "XLearner", "ClassTransformation", "MultiArmUplift", "UpliftMixin"]


def cross_fit_predict(model, X, y, treatment, *, folds: int = 2, random_state=0) -> np.ndarray:
    """Out-of-fold uplift: each fold is scored by a clone of ``model`` fitted on the other folds.

    Use it to evaluate a model (Qini, uplift by decile, policy comparison) on the same
    experiment it learns from: no unit is scored by a model that saw its outcome. The folds
    are ``KFold(folds, shuffle=True, random_state=random_state)``.
    """
    from sklearn.model_selection import KFold

    X = np.asarray(X)
    y = np.asarray(y)
    t = _check_binary_treatment(treatment, len(X))
    if folds < 2:
        raise MofInputError(f"folds must be >= 2, got {folds}")
    pred = np.zeros(len(X), dtype=float)
    for train, test in KFold(folds, shuffle=True, random_state=random_state).split(X):
        pred[test] = clone(model).fit(X[train], y[train], t[train]).predict(X[test])
    return pred
