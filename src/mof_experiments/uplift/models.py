"""Uplift (conditional treatment effect) models as scikit-learn estimators.

Every model is fitted with ``fit(X, y, treatment)`` and ``predict(X)`` returns the estimated
uplift ``tau(x) = E[y | x, treated] - E[y | x, control]`` (for a 0/1 outcome: the change in
the probability of converting). ``__init__`` only stores parameters; everything learned ends
with ``_``; the models work with ``clone``, ``get_params``/``set_params`` and as the last step
of a ``Pipeline`` (``pipe.fit(X, y, model__treatment=t)``).

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
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y, has_fit_parameter

from mof_experiments.errors import MofInputError


def _default_regressor():
    return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.05, min_samples_leaf=40, random_state=0)


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
    """``score(X, y, treatment)`` = Qini coefficient of the predicted uplift (higher is better)."""

    def score(self, X, y, treatment):
        from mof_experiments.uplift.metrics import qini_auc_score

        return qini_auc_score(y, self.predict(X), treatment)


def _validate(est, X, y, treatment):
    X, y = check_X_y(X, y, y_numeric=True, ensure_all_finite=True)
    t = _check_binary_treatment(treatment, X.shape[0])
    est.n_features_in_ = X.shape[1]
    return X, np.asarray(y, dtype=float), t


class SLearner(UpliftMixin, BaseEstimator):
    """One model of ``y`` on ``[X, treatment]``; uplift = ``f(x, 1) - f(x, 0)``.

    Parameters
    ----------
    estimator : scikit-learn classifier or regressor (default: HistGradientBoostingRegressor).

    Attributes
    ----------
    estimator_ : the fitted model. n_features_in_ : number of features of X.
    """

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y, treatment):
        X, y, t = _validate(self, X, y, treatment)
        self.estimator_ = clone(self.estimator if self.estimator is not None else _default_regressor())
        self.estimator_.fit(np.column_stack([X, t]), y)
        return self

    def predict(self, X):
        check_is_fitted(self, "estimator_")
        X = check_array(X)
        one, zero = np.ones((len(X), 1)), np.zeros((len(X), 1))
        return _outcome(self.estimator_, np.hstack([X, one])) - _outcome(self.estimator_, np.hstack([X, zero]))


class TLearner(UpliftMixin, BaseEstimator):
    """Two models, one per arm; uplift = ``mu1(x) - mu0(x)``.

    Parameters
    ----------
    estimator : model of the treated outcome (default: HistGradientBoostingRegressor).
    control_estimator : model of the control outcome (default: a clone of ``estimator``).

    Attributes
    ----------
    estimator_treatment_, estimator_control_ : fitted models. n_features_in_.
    """

    def __init__(self, estimator=None, control_estimator=None):
        self.estimator = estimator
        self.control_estimator = control_estimator

    def fit(self, X, y, treatment):
        X, y, t = _validate(self, X, y, treatment)
        base = self.estimator if self.estimator is not None else _default_regressor()
        self.estimator_treatment_ = clone(base).fit(X[t == 1], y[t == 1])
        self.estimator_control_ = clone(self.control_estimator if self.control_estimator is not None else base) \
            .fit(X[t == 0], y[t == 0])
        return self

    def predict(self, X):
        check_is_fitted(self, "estimator_treatment_")
        X = check_array(X)
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

    Attributes
    ----------
    outcome_treatment_, outcome_control_, effect_treatment_, effect_control_ : fitted models.
    propensity_ : the treated share (float) or the fitted propensity classifier. n_features_in_.
    """

    def __init__(self, estimator=None, effect_estimator=None, propensity_estimator=None):
        self.estimator = estimator
        self.effect_estimator = effect_estimator
        self.propensity_estimator = propensity_estimator

    def fit(self, X, y, treatment):
        X, y, t = _validate(self, X, y, treatment)
        base = self.estimator if self.estimator is not None else _default_regressor()
        eff = self.effect_estimator if self.effect_estimator is not None else _default_regressor()
        X1, y1, X0, y0 = X[t == 1], y[t == 1], X[t == 0], y[t == 0]
        self.outcome_treatment_ = clone(base).fit(X1, y1)
        self.outcome_control_ = clone(base).fit(X0, y0)
        self.effect_treatment_ = clone(eff).fit(X1, y1 - _outcome(self.outcome_control_, X1))
        self.effect_control_ = clone(eff).fit(X0, _outcome(self.outcome_treatment_, X0) - y0)
        if self.propensity_estimator is None:
            self.propensity_ = float(t.mean())
        else:
            self.propensity_ = clone(self.propensity_estimator).fit(X, t)
        return self

    def predict(self, X):
        check_is_fitted(self, "effect_treatment_")
        X = check_array(X)
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

    Attributes
    ----------
    estimator_ : fitted classifier of z. treatment_share_ : p. n_features_in_.
    """

    def __init__(self, estimator=None, propensity_correction=True):
        self.estimator = estimator
        self.propensity_correction = propensity_correction

    def fit(self, X, y, treatment):
        from sklearn.ensemble import HistGradientBoostingClassifier

        X, y, t = _validate(self, X, y, treatment)
        if not set(np.unique(y).tolist()) <= {0.0, 1.0}:
            raise MofInputError("ClassTransformation needs a 0/1 outcome y", column="y")
        est = clone(self.estimator if self.estimator is not None else
                    HistGradientBoostingClassifier(max_iter=100, learning_rate=0.05, min_samples_leaf=40,
                                                   random_state=0))
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
        X = check_array(X)
        return 2 * _outcome(self.estimator_, X) - 1


class MultiArmUplift(BaseEstimator):
    """Several treatment arms against one control: one binary uplift model per arm.

    For each arm ``a`` a clone of ``learner`` is fitted on the rows of ``a`` and of the control.
    ``predict(X)`` returns an array ``(n_samples, n_arms)`` of uplift vs control, columns in
    ``arms_`` order; :meth:`best_arm` returns, per row, the arm with the largest uplift, or the
    control when no arm's uplift exceeds ``min_uplift``.

    Parameters
    ----------
    learner : a binary uplift model (default: ``TLearner()``).
    control : the control label in ``treatment`` (default ``"control"``).

    Attributes
    ----------
    arms_ : array of arm labels (sorted). models_ : dict arm -> fitted learner. n_features_in_.
    """

    def __init__(self, learner=None, control="control"):
        self.learner = learner
        self.control = control

    def fit(self, X, y, treatment):
        X, y = check_X_y(X, y, y_numeric=True)
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
        base = self.learner if self.learner is not None else TLearner()
        self.models_ = {}
        for a in arms:
            m = (t == a) | (t == ctrl)
            self.models_[a] = clone(base).fit(X[m], y[m], (t[m] == a).astype(int))
        self.arms_ = arms
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        check_is_fitted(self, "models_")
        X = check_array(X)
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
