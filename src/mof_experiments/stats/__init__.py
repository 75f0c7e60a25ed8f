"""Statistical primitives shared by the analyses (attribution, engagement, experiments, uplift).

- :mod:`~mof_experiments.stats.proportions`: the Wilson interval, two-proportion comparison;
- :mod:`~mof_experiments.stats.means`: two-mean comparison (Welch), CUPED;
- :mod:`~mof_experiments.stats.srm`: the sample-ratio-mismatch test;
- :mod:`~mof_experiments.stats.power`: minimum detectable effect and sample size;
- :mod:`~mof_experiments.stats.comparison`: what every comparison result carries, the low-data rule;
- :mod:`~mof_experiments.stats.sequential`: confidence sequences (always-valid intervals);
- :mod:`~mof_experiments.stats.bayesian`: posteriors, chance to beat control, expected loss;
- :mod:`~mof_experiments.stats.guardrails`: unsubscribe / complaint / bounce rates per arm;
- :mod:`~mof_experiments.stats.heterogeneity`: breakdowns by a column and the interaction test;
- :mod:`~mof_experiments.stats.tails`: winsorizing and the one-unit dominance warning;
- :mod:`~mof_experiments.stats.studies`: simulation studies of the above (how often are they wrong).

Everything here is computed by statsmodels / scipy; this package fixes the methods, the
defaults and the names of the results (``n``, ``events``, ``rate``, ``ci_low``, ``ci_high``,
``lift``, ...), so the same concept has the same name everywhere. (The function
:func:`guardrails` is exported under its module's name: import module-level constants with
``from mof_experiments.stats.guardrails import THRESHOLDS``.)
"""

from mof_experiments.stats.bayesian import (DEFAULT_BETA_PRIOR, BayesianResult, bayesian_means, bayesian_rates,
                                            bayesian_readout)
from mof_experiments.stats.comparison import (COMPARISON_FIELDS, LOW_DATA_EVENTS, LOW_DATA_N, ComparisonResult,
                                              json_number, low_data)
from mof_experiments.stats.guardrails import (GUARDRAILS, THRESHOLDS, GuardrailResult, guardrail_sample_size,
                                              guardrail_test, guardrails, threshold_sample_size, threshold_test)
from mof_experiments.stats.heterogeneity import CORRECTIONS, MISSING_CELL, Breakdown, breakdown, interaction_test
from mof_experiments.stats.means import MeanComparison, compare_means, cuped
from mof_experiments.stats.power import SampleSize, mde_mean, mde_proportion, sample_size
from mof_experiments.stats.proportions import ProportionComparison, compare_proportions, wilson_interval
from mof_experiments.stats.sequential import (SequentialPath, SequentialResult, compare_sequential, mixture_boundary,
                                              mixture_rho, sequential_interval, sequential_path)
from mof_experiments.stats.srm import SRM_BLOCKING, SRM_WARNING, SRMResult, srm_test
from mof_experiments.stats.tails import (DEFAULT_WINSORIZE_Q, DOMINANCE_THRESHOLD, Dominance, Winsorized,
                                         WinsorizedFrame, dominance, winsorize, winsorize_columns)

__all__ = ["wilson_interval", "compare_proportions", "ProportionComparison", "compare_means", "MeanComparison",
           "cuped", "srm_test", "SRMResult", "SRM_WARNING", "SRM_BLOCKING", "mde_proportion", "mde_mean",
           "sample_size", "SampleSize", "COMPARISON_FIELDS", "LOW_DATA_N", "LOW_DATA_EVENTS", "low_data",
           "ComparisonResult", "json_number",
           "mixture_rho", "mixture_boundary", "sequential_interval", "compare_sequential", "SequentialResult",
           "sequential_path", "SequentialPath",
           "bayesian_rates", "bayesian_means", "bayesian_readout", "BayesianResult", "DEFAULT_BETA_PRIOR",
           "guardrails", "guardrail_test", "threshold_test", "threshold_sample_size", "GuardrailResult", "guardrail_sample_size", "GUARDRAILS",
           "THRESHOLDS",
           "breakdown", "Breakdown", "interaction_test", "CORRECTIONS", "MISSING_CELL",
           "winsorize", "Winsorized", "winsorize_columns", "WinsorizedFrame", "dominance", "Dominance",
           "DEFAULT_WINSORIZE_Q", "DOMINANCE_THRESHOLD"]
