"""Uplift models, metrics, targeting: hand-computed cases, scikit-learn conformance, simulator truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from mof_experiments.errors import MofInputError
from mof_experiments.uplift import (ClassTransformation, MultiArmUplift, SLearner, TLearner, XLearner, choose_targets,
                                    cross_fit_predict,
                                    compare_policies, perfect_qini_curve, plot_qini_curve, plot_score_band,
                                    plot_uplift_by_percentile, plot_uplift_curve, qini_auc_score, qini_curve,
                                    uplift_at_k, uplift_auc_score, uplift_by_percentile, uplift_curve, uplift_score)

@pytest.fixture(autouse=True)
def _one_thread():
    """HistGradientBoosting's OpenMP threads oversubscribe a shared 2-core machine badly."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


# --------------------------------------------------------------------------- metrics, by hand
Y = np.array([1, 0, 1, 0])
T = np.array([1, 1, 0, 0])
S = np.array([4.0, 3.0, 2.0, 1.0])


def test_curves_on_a_hand_computed_case():
    # ranked: (y=1,t=1) (y=0,t=1) (y=1,t=0) (y=0,t=0)
    # k=1: n_t=1 y_t=1 n_c=0        -> qini 1,  uplift (1/1 - 0) * 1 = 1
    # k=2: n_t=2 y_t=1 n_c=0        -> qini 1,  uplift 0.5 * 2 = 1
    # k=3: n_t=2 y_t=1 n_c=1 y_c=1  -> qini 1 - 1 * 2/1 = -1, uplift (0.5 - 1) * 3 = -1.5
    # k=4: n_t=2 y_t=1 n_c=2 y_c=1  -> qini 0,  uplift 0
    x, q = qini_curve(Y, S, T)
    assert x.tolist() == [0, 1, 2, 3, 4] and q.tolist() == [0, 1, 1, -1, 0]
    _, u = uplift_curve(Y, S, T)
    assert u.tolist() == [0, 1, 1, -1.5, 0]


def test_tied_scores_enter_the_curve_together():
    x, q = qini_curve(Y, np.array([1.0, 1.0, 0.0, 0.0]), T)
    assert x.tolist() == [0, 2, 4] and q.tolist() == [0, 1, 0]
    # all tied: the curve is the random line, so the normalized score is 0
    assert qini_auc_score(Y, np.zeros(4), T) == pytest.approx(0.0)


def test_normalized_scores_hand_value_and_perfect_ranking():
    # perfect Qini: score y*t - y*(1-t) = [1, 0, -1, 0]: ranked (1,1) then ties (0,1),(0,0) then (1,0)
    xp, qp = perfect_qini_curve(Y, T)
    assert xp.tolist() == [0, 1, 3, 4] and qp.tolist() == [0, 1, 1, 0]
    # AUCs (trapezoids): model [0,1,1,-1,0] -> 0.5+1+0-0.5 = 1; perfect -> 0.5+2+0.5 = 3; random line -> 0
    assert qini_auc_score(Y, S, T) == pytest.approx(1 / 3)
    assert qini_auc_score(Y, np.array([1, 0, -1, 0]), T) == pytest.approx(1.0)
    # perfect uplift ranking (scikit-uplift's construction): (1,1) (0,0) (0,1) (1,0) -> curve
    # [0, 1, 2, 1.5, 0], AUC 4.5; the model's uplift curve [0, 1, 1, -1.5, 0] has AUC 0.5
    assert uplift_auc_score(Y, np.array([3, 1, 0, 2]), T) == pytest.approx(1.0)
    assert uplift_auc_score(Y, S, T) == pytest.approx(0.5 / 4.5)


def test_random_scores_average_zero():
    rng = np.random.default_rng(0)
    y, t = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    scores = [qini_auc_score(y, rng.random(400), t) for _ in range(300)]
    assert abs(np.mean(scores)) < 3 * np.std(scores) / np.sqrt(300)


def test_all_treated_or_all_control_is_a_clear_error():
    with pytest.raises(MofInputError, match="all rows are treated"):
        qini_auc_score(Y, S, np.ones(4))
    with pytest.raises(MofInputError, match="all rows are control"):
        uplift_auc_score(Y, S, np.zeros(4))


def test_metric_input_errors():
    with pytest.raises(MofInputError, match="same length"):
        qini_auc_score(Y, S[:3], T)
    with pytest.raises(MofInputError, match="uplift.*missing or infinite"):
        qini_auc_score(Y, np.array([1, np.nan, 0, 0]), T)
    with pytest.raises(MofInputError, match="treatment must be 0/1"):
        qini_auc_score(Y, S, np.array([0, 1, 2, 0]))


def test_uplift_at_k_by_hand():
    # by_group, k=1: best treated has y=1, best control has y=1 -> 0
    assert uplift_at_k(Y, S, T, k=1, strategy="by_group") == 0.0
    # overall top 3: treated y=[1,0], control y=[1] -> 0.5 - 1
    assert uplift_at_k(Y, S, T, k=3) == pytest.approx(-0.5)
    with pytest.raises(MofInputError, match="all treated"):
        uplift_at_k(Y, S, T, k=0.5)


def test_uplift_at_k_share_counts_floor_without_float_error():
    # 5,000 ranked units alternating treated/control; the top 700 are treated converters and
    # control non-converters (uplift exactly 1), unit 701 is a treated non-converter.
    n = 5000
    u = np.arange(n, 0, -1).astype(float)
    t = (np.arange(n) % 2 == 0).astype(int)
    y = np.where(np.arange(n) < 700, t, 0)
    assert 0.14 * n != 700  # 700.0000000000001: ceil counted 701 units, floor of the float 700
    assert uplift_at_k(y, u, t, k=0.14) == 1.0  # 700 units (was 350/351 - 0/350 = 0.99715)
    assert uplift_at_k(y, u, t, k=700) == 1.0
    # k=0.29 of 100: the float product is 28.999999999999996, a naive int() counts 28; the rule counts 29
    # top 28: 14 treated and 14 control converters (uplift 0); 29th: a treated non-converter
    # (14/15 - 14/14); 30th: a control non-converter (14/15 - 14/15 = 0)
    y2 = np.r_[np.ones(28), 0, 0, np.zeros(70)]
    t2 = np.r_[np.arange(28) % 2, 1, 0, np.arange(70) % 2].astype(int)
    u2 = np.arange(100, 0, -1).astype(float)
    assert uplift_at_k(y2, u2, t2, k=0.29) == pytest.approx(14 / 15 - 1.0)
    # by hand, 7 units and k=0.5: floor(3.5) = 3 units (scikit-uplift int(7 * 0.5)), ceil would take 4
    y3, t3 = np.array([1, 0, 0, 1, 1, 0, 0]), np.array([1, 0, 1, 0, 1, 0, 1])
    u3 = np.arange(7, 0, -1).astype(float)
    assert uplift_at_k(y3, u3, t3, k=0.5) == pytest.approx(0.5 - 0.0)  # top 3: t=[1,0,1], y=[1,0,0]
    assert uplift_at_k(y3, u3, t3, k=0.5, strategy="by_group") == pytest.approx(1 / 2 - 0.0)  # top 2 of 4 treated, top 1 of 3 control
    with pytest.raises(MofInputError, match="selects no unit"):
        uplift_at_k(y3, u3, t3, k=0.1)


def test_uplift_by_percentile_counts_and_rates():
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    t = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    s = np.arange(8.0)[::-1]
    tab = uplift_by_percentile(y, s, t, bins=2)
    assert tab["n_treatment"].tolist() == [2, 2] and tab["n_control"].tolist() == [2, 2]
    assert tab["rate_treatment"].tolist() == [0.5, 0.5] and tab["rate_control"].tolist() == [0.5, 0.0]
    assert tab["uplift"].tolist() == [0.0, 0.5] and tab["percentile"].tolist() == ["0-50", "50-100"]


def test_uplift_score_band_and_bootstrap():
    rng = np.random.default_rng(1)
    n = 3000
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.2 + 0.2 * t * (x > 0)).astype(int)
    good = uplift_score(y, x, t, n_permutations=100, n_bootstrap=100, random_state=0)
    assert good.above_random and good.ci_low > good.random_high and good.p_value < 0.02
    noise = uplift_score(y, rng.random(n), t, n_permutations=100, n_bootstrap=50, random_state=0)
    assert noise.random_low < noise.score < noise.random_high
    assert "random band" in str(good) and "<table" in good._repr_html_()
    # the randomization test (permuted arms) agrees
    arms = uplift_score(y, x, t, n_permutations=100, n_bootstrap=10, band="treatment", random_state=0)
    assert arms.above_random and arms.score == good.score
    # no effect at all: outcome independent of the arm; the ranking by x is then worthless
    y0 = (rng.random(n) < 0.2 + 0.1 * (x > 0)).astype(int)
    null = uplift_score(y0, x, t, n_permutations=100, n_bootstrap=10, band="treatment", random_state=0)
    assert null.random_low < null.score < null.random_high


# --------------------------------------------------------------------------- models
def _synthetic(n=3000, seed=0, p_treat=0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = (rng.random(n) < p_treat).astype(int)
    tau = 0.25 * (X[:, 0] > 0)  # only half the units respond
    p = 1 / (1 + np.exp(-(-1 + 0.5 * X[:, 1]))) + tau * t
    y = (rng.random(n) < np.clip(p, 0, 1)).astype(int)
    return X, y, t, tau


@pytest.mark.parametrize("model", [SLearner(), TLearner(), XLearner(), ClassTransformation()],
                         ids=["S", "T", "X", "CT"])
def test_learners_recover_who_responds(model):
    X, y, t, tau = _synthetic()
    Xte, _, _, tau_te = _synthetic(seed=1)
    pred = clone(model).fit(X, y, t).predict(Xte)
    assert pred[tau_te > 0].mean() - pred[tau_te == 0].mean() > 0.12  # truth: 0.25
    assert spearmanr(pred, tau_te).statistic > 0.5


def test_class_transformation_propensity_correction_removes_bias():
    X, y, t, tau = _synthetic(n=20000, p_treat=0.8)
    est = LogisticRegression()
    fair = ClassTransformation(est).fit(X, y, t).predict(X).mean()
    naive = ClassTransformation(est, propensity_correction=False).fit(X, y, t).predict(X).mean()
    true_ate = y[t == 1].mean() - y[t == 0].mean()  # randomized: the difference in means
    assert abs(fair - true_ate) < 0.03
    assert abs(naive - true_ate) > 0.1  # 2 P(y == t) - 1 is distorted by the 80/20 split


def test_models_follow_the_sklearn_estimator_contract():
    X, y, t, _ = _synthetic(n=1000)
    m = TLearner(estimator=Ridge(alpha=1.0))
    assert m.get_params()["estimator__alpha"] == 1.0
    m.set_params(estimator__alpha=5.0)
    c = clone(m)
    assert c.estimator.alpha == 5.0 and not hasattr(c, "estimator_treatment_")
    with pytest.raises(NotFittedError):
        c.predict(X)
    assert c.fit(X, y, t) is c and c.n_features_in_ == 3
    before = c.estimator_treatment_.coef_.copy()
    c.predict(X)
    assert np.array_equal(before, c.estimator_treatment_.coef_)  # predict writes no state
    pipe = make_pipeline(StandardScaler(), XLearner(Ridge(), Ridge()))
    pipe.fit(X, y, xlearner__treatment=t)
    assert pipe.predict(X).shape == (1000,)
    assert c.score(X, y, t) == pytest.approx(qini_auc_score(y, c.predict(X), t))


@pytest.mark.parametrize("cls", [SLearner, TLearner, XLearner, ClassTransformation, MultiArmUplift],
                         ids=lambda c: c.__name__)
def test_sklearn_estimator_checks_that_need_no_fit(cls):
    # the constructor/parameter checks on the models themselves (the full suite below runs on
    # WithTreatment, a wrapper)
    from sklearn.utils import estimator_checks as ec

    ec.check_no_attributes_set_in_init(cls.__name__, cls())
    ec.check_parameters_default_constructible(cls.__name__, cls())
    ec.check_get_params_invariance(cls.__name__, cls())
    ec.check_set_params(cls.__name__, cls())


class WithTreatment(BaseEstimator):
    """scikit-learn's checks call ``fit(X, y)``: this wrapper supplies the treatment (alternating
    0/1, or control/a/b for a multi-arm model, so every fit of two or more rows has both arms)
    and passes everything else through, including ``score(X, y)`` without a treatment and the
    model's own tags."""

    def __init__(self, model=None):
        self.model = model

    def fit(self, X, y):
        n = X.shape[0] if hasattr(X, "shape") else len(np.asarray(X))
        arms = np.array(["control", "a", "b"]) if isinstance(self.model, MultiArmUplift) else np.array([0, 1])
        self.model_ = clone(self.model).fit(X, y, arms[np.arange(n) % len(arms)])
        return self

    def predict(self, X):
        check_is_fitted(self, "model_")
        return self.model_.predict(X)

    def score(self, X, y):
        return self.model_.score(X, y)

    @property
    def n_features_in_(self):
        return self.model_.n_features_in_

    def __sklearn_tags__(self):
        return self.model.__sklearn_tags__()


_NO_TREATMENT = "score(X, y) without the treatment: an uplift score (Qini) needs to know who was treated"
_ONE_SAMPLE = "a one-sample fit cannot hold a treated and a control unit, so uplift is undefined"
_NOT_01 = ("the check's outcome has two values other than 0 and 1; ClassTransformation models a 0/1 "
           "conversion and rejects it (MofInputError)")


def _inapplicable_checks(wrapper) -> dict:
    """The checks that cannot apply to uplift, with the reason (xfail, strict)."""
    out = {"check_fit2d_1sample": _ONE_SAMPLE, "check_fit_score_takes_y": _NO_TREATMENT,
           "check_n_features_in_after_fitting": _NO_TREATMENT, "check_pipeline_consistency": _NO_TREATMENT}
    if isinstance(wrapper.model, ClassTransformation):
        out.update({c: _NOT_01 for c in (
            "check_estimators_dtypes", "check_regressors_train", "check_regressor_data_not_an_array",
            "check_regressors_no_decision_function", "check_fit2d_1feature", "check_fit_idempotent",
            "check_fit_check_is_fitted", "check_n_features_in", "check_n_features_in_after_fitting")})
    if isinstance(wrapper.model, MultiArmUplift):
        out["check_regressors_train"] = "predict returns one uplift per arm, shape (n_samples, n_arms)"
    return out


@parametrize_with_checks([WithTreatment(m) for m in (SLearner(LinearRegression()), TLearner(LinearRegression()),
                                                     XLearner(LinearRegression(), LinearRegression()),
                                                     ClassTransformation(LogisticRegression()),
                                                     MultiArmUplift(TLearner(LinearRegression())))],
                         expected_failed_checks=_inapplicable_checks, xfail_strict=True)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_predict_checks_the_number_of_features_and_random_state_makes_fits_reproducible():
    X, y, t, _ = _synthetic(n=600)
    for model in (SLearner(), TLearner(), XLearner(), ClassTransformation(),
                  MultiArmUplift(TLearner(), control="0")):
        fitted = clone(model).fit(X, y, t.astype(str) if isinstance(model, MultiArmUplift) else t)
        with pytest.raises(ValueError, match="X has 2 features, but .* is expecting 3 features"):
            fitted.predict(X[:, :2])
    a = TLearner(random_state=3).fit(X, y, t).estimator_treatment_
    assert a.random_state == 3 and TLearner().fit(X, y, t).estimator_treatment_.random_state == 0
    pipe = make_pipeline(StandardScaler(), LogisticRegression())  # a given pipeline: its unset seeds are filled
    mine = TLearner(pipe, random_state=7).fit(X, y, t).estimator_control_
    assert mine.get_params()["logisticregression__random_state"] == 7 and pipe.get_params()["logisticregression__random_state"] is None
    kept = TLearner(LogisticRegression(random_state=1), random_state=7).fit(X, y, t).estimator_control_
    assert kept.random_state == 1  # a seed the user set is kept
    p1 = XLearner(random_state=np.random.RandomState(5)).fit(X, y, t).predict(X)
    p2 = XLearner(random_state=np.random.RandomState(5)).fit(X, y, t).predict(X)
    np.testing.assert_array_equal(p1, p2)


def test_class_transformation_declares_a_binary_outcome():
    from sklearn.utils import get_tags

    tags = get_tags(ClassTransformation())
    assert tags.target_tags.required and not tags.classifier_tags.multi_class
    assert get_tags(TLearner()).classifier_tags is None and get_tags(TLearner()).regressor_tags.poor_score


def test_model_input_errors():
    X, y, t, _ = _synthetic(n=200)
    with pytest.raises(MofInputError, match="all rows are treated"):
        TLearner().fit(X, y, np.ones(200))
    with pytest.raises(MofInputError, match="one value per row"):
        TLearner().fit(X, y, t[:10])
    with pytest.raises(MofInputError, match="needs a 0/1 outcome"):
        ClassTransformation().fit(X, y * 2.5, t)


def test_multi_arm_picks_the_best_arm_per_unit():
    rng = np.random.default_rng(4)
    n = 9000
    X = rng.normal(size=(n, 2))
    arm = rng.choice(["control", "a", "b"], n)
    p = 0.2 + 0.25 * ((arm == "a") & (X[:, 0] > 0)) + 0.25 * ((arm == "b") & (X[:, 0] <= 0))
    y = (rng.random(n) < p).astype(int)
    m = MultiArmUplift(TLearner(LogisticRegression()), control="control").fit(np.c_[X, X[:, :1] > 0], y, arm)
    Xt = rng.normal(size=(1000, 2))
    Xt = np.c_[Xt, Xt[:, :1] > 0]
    assert list(m.arms_) == ["a", "b"] and m.predict(Xt).shape == (1000, 2)
    truth = np.where(Xt[:, 0] > 0, "a", "b")
    assert (m.best_arm(Xt) == truth).mean() > 0.9


# --------------------------------------------------------------------------- targeting
def test_choose_targets_respects_budget_and_positive_uplift():
    u = np.array([0.05, -0.01, 0.20, 0.10, 0.0])
    out = choose_targets(u, 2, index=list("abcde"))
    assert out.loc[out.selected, "unit"].tolist() == ["c", "d"]
    assert choose_targets(u, 1.0)["selected"].sum() == 3  # budget for all, but only 3 positive
    multi = choose_targets(np.c_[u, u[::-1]], 0.4, arms=["x", "y"])
    # best per unit: 0.05 (x), 0.10 (y), 0.20 (x; a tie goes to the first arm), 0.10 (x), 0.05 (y);
    # a budget of 2 goes to unit 2, then unit 1 (ties in rank keep input order)
    assert multi.loc[multi.selected, ["unit", "arm"]].values.tolist() == [[1, "y"], [2, "x"]]
    assert (multi.loc[~multi.selected, "arm"] == "control").all()


def test_compare_policies_everyone_equals_difference_in_rates():
    rng = np.random.default_rng(5)
    n = 4000
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.2 + 0.2 * t * (x > 0)).astype(int)
    tab = compare_policies(y, x, t, 0.5, baseline_score=rng.random(n), alpha=0.01).set_index("policy")
    every = tab.loc["everyone"]
    assert every["incremental"] == pytest.approx((y[t == 1].mean() - y[t == 0].mean()) * n)
    assert tab.loc["random_k", "incremental"] == pytest.approx(every["incremental"] / 2)
    # the model's top half holds all the incremental conversions (expected: 0.2 * n/2 = 400; 99% CI)
    top = tab.loc["top_k"]
    assert top["incremental_ci_low"] < 400 < top["incremental_ci_high"]
    assert top["incremental"] > tab.loc["top_k_by_baseline", "incremental"]


def test_plots_return_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y, t, tau = _synthetic(n=800)
    for f in (plot_qini_curve, plot_uplift_curve):
        ax = f(y, tau + 1e-3 * X[:, 1], t, n_permutations=20)
        assert len(ax.lines) >= 3
    ax = plot_uplift_by_percentile(y, tau + 1e-3 * X[:, 1], t, bins=5)
    assert len(ax.patches) == 5
    ax = plot_score_band(uplift_score(y, X[:, 0], t, n_permutations=20, n_bootstrap=20, random_state=0))
    assert ax.get_xlabel() == "qini"
    plt.close("all")


# --------------------------------------------------------------------------- simulator truth
def _base():
    return make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), LogisticRegression(C=0.3, max_iter=500))


def _effect():
    return make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), Ridge(alpha=10.0))


def _sim_data(simulated, **kw):
    """X, y, t and the true uplift of a simulated experiment, through the package's own functions."""
    from mof_experiments.experiments import experiment_data, true_uplift, uplift_design
    from mof_experiments.sources import resolve_as_of
    from mof_experiments.workspace import Workspace

    with Workspace(simulated(**kw), read_only=True) as ws:
        x = experiment_data(ws, "mof_email_2026", as_of=resolve_as_of(ws), window_days=30)
        true = true_uplift(ws.read("sim_effects"), control="holdout")["email"]
    assert x.outcomes["complete"].all()
    d = uplift_design(x.complete, x.features, "holdout")
    return d.X, d.y, d.treatment, true.reindex(d.company_id).to_numpy()


def _cross_fitted(model, X, y, t, seed=0):
    return cross_fit_predict(model, X, y, t, folds=2, random_state=seed)


def test_cross_fit_predict_scores_each_fold_with_a_model_that_did_not_see_it():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    t = rng.integers(0, 2, 200)
    y = (rng.random(200) < 0.3 + 0.2 * t * (X[:, 0] > 0)).astype(int)
    model = TLearner(LogisticRegression())
    pred = cross_fit_predict(model, X, y, t, folds=2, random_state=1)
    tr, te = next(KFold(2, shuffle=True, random_state=1).split(X))
    by_hand = clone(model).fit(X[tr], y[tr], t[tr]).predict(X[te])
    np.testing.assert_allclose(pred[te], by_hand)
    full = clone(model).fit(X, y, t).predict(X)
    assert not np.allclose(pred, full)  # not the in-sample predictions
    with pytest.raises(MofInputError, match="folds"):
        cross_fit_predict(model, X, y, t, folds=1)


@pytest.fixture(scope="module")
def sim_uplift(simulated):
    # the simulator's default effect sizes; 20,000 companies (~15,200 enrolled, ~3,000 in the 20%
    # holdout). At 6,000 companies the same learners rank as well (Spearman 0.32-0.40) but the
    # Qini stays inside the random band: the holdout is too small (benchmarks/README.md)
    return _sim_data(simulated, companies=20000, seed=5)


@pytest.mark.slow
@pytest.mark.parametrize("name,model", [("T", TLearner(_base())), ("X", XLearner(_base(), _effect()))])
def test_learners_rank_the_simulators_true_uplift(sim_uplift, name, model):
    X, y, t, true = sim_uplift
    pred = _cross_fitted(model, X, y, t)
    s = uplift_score(y, pred, t, n_permutations=200, n_bootstrap=100, random_state=0)
    rho = spearmanr(pred, true).statistic
    print(f"{name}-learner: {s}; Spearman with true uplift {rho:.3f}")
    # measured (seed 5): T qini 0.055 (band upper 0.023), rho 0.514; X qini 0.054 (band upper 0.019), rho 0.506
    assert s.above_random
    assert rho >= 0.4


@pytest.mark.slow
def test_without_any_effect_the_qini_stays_in_the_random_band(simulated):
    # effect_scale=0 and heterogeneous=False: every company's true uplift is exactly 0. (With
    # heterogeneous=False alone the true uplift still varies with who works at the company:
    # the emails a company receives depend on its contacts' personas.)
    X, y, t, true = _sim_data(simulated, companies=4000, seed=6, heterogeneous=False, effect_scale=0.0)
    assert np.abs(true).max() < 1e-12
    pred = _cross_fitted(TLearner(_base()), X, y, t)
    s = uplift_score(y, pred, t, n_permutations=200, n_bootstrap=50, random_state=0)
    print(f"null simulation, T-learner: {s}")
    assert s.random_low < s.score < s.random_high


@pytest.mark.slow
def test_multi_arm_on_the_zones_design_picks_better_than_random_arms(simulated):
    from mof_experiments.experiments import experiment_outcomes
    from mof_experiments.sources import resolve_as_of
    from mof_experiments.workspace import Workspace

    with Workspace(simulated(companies=6000, seed=8, design="zones", effect_scale=2.0), read_only=True) as ws:
        d = experiment_outcomes(ws, "mof_email_2026", as_of=resolve_as_of(ws))
        truth = ws.read("sim_effects").pivot(index="company_id", columns="arm", values="p_convert")
    truth = truth.reindex(d["company_id"])
    X, y, arm = d.loc[:, "calls":].fillna(0).to_numpy(float), d["converted"].to_numpy(), d["arm"].to_numpy()
    best = np.empty(len(y), dtype=object)
    for tr, te in KFold(2, shuffle=True, random_state=0).split(X):
        m = MultiArmUplift(TLearner(_base()), control="control").fit(X[tr], y[tr], arm[tr])
        best[te] = m.best_arm(X[te], min_uplift=-1.0)  # always pick an email arm
    zones = list(m.arms_)
    assert sorted(zones) == sorted(set(truth.columns) - {"control"})
    true_up = truth[zones].sub(truth["control"], axis=0)
    chosen = true_up.to_numpy()[np.arange(len(y)), [zones.index(b) for b in best]].mean()
    random_arm = true_up.to_numpy().mean()
    print(f"true uplift of the model's arm {chosen:.4f}, of a random arm {random_arm:.4f}, "
          f"of the best single arm {true_up.mean().max():.4f}, of the per-unit oracle {true_up.max(axis=1).mean():.4f}")
    # measured: 0.038 vs 0.017 (best single arm 0.042: at ~650 companies per arm the per-unit
    # choice does not beat sending the best zone to everyone)
    assert chosen > 1.5 * random_arm
