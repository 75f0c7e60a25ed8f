"""Uplift modelling: who does the email move, and who should get which email.

- :mod:`~mof_experiments.uplift.models`: scikit-learn estimators ``fit(X, y, treatment)`` /
  ``predict(X)`` -> uplift (S-, T-, X-learner, class transformation, multi-arm).
- :mod:`~mof_experiments.uplift.metrics`: curves and scores in the ``(y_true, uplift,
  treatment)`` order, with permutation bands and bootstrap CIs.
- :mod:`~mof_experiments.uplift.targeting`: budgeted targeting and policy comparison.
- :mod:`~mof_experiments.uplift.plots`: matplotlib/seaborn plots returning the Axes.
"""

from mof_experiments.uplift.metrics import (UpliftScore, perfect_qini_curve, perfect_uplift_curve, qini_auc_score,
                                            qini_curve, uplift_at_k, uplift_auc_score, uplift_by_percentile,
                                            uplift_curve, uplift_score)
from mof_experiments.uplift.models import (ClassTransformation, MultiArmUplift, SLearner, TLearner, XLearner,
                                           cross_fit_predict)
from mof_experiments.uplift.plots import (plot_qini_curve, plot_score_band, plot_uplift_by_percentile,
                                          plot_uplift_curve)
from mof_experiments.uplift.targeting import choose_targets, compare_policies

__all__ = ["SLearner", "TLearner", "XLearner", "ClassTransformation", "MultiArmUplift", "cross_fit_predict",
           "qini_auc_score",
           "uplift_auc_score", "uplift_at_k", "uplift_by_percentile", "uplift_curve", "qini_curve",
           "perfect_uplift_curve", "perfect_qini_curve", "uplift_score", "UpliftScore", "choose_targets",
           "compare_policies", "plot_qini_curve", "plot_uplift_curve", "plot_uplift_by_percentile",
           "plot_score_band"]
