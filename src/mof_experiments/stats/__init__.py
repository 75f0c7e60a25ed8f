"""Statistical primitives shared by the analyses (attribution, engagement, experiments, uplift).

- :mod:`~mof_experiments.stats.proportions`: the Wilson interval, two-proportion comparison;
- :mod:`~mof_experiments.stats.means`: two-mean comparison (Welch), CUPED;
- :mod:`~mof_experiments.stats.srm`: the sample-ratio-mismatch test;
- :mod:`~mof_experiments.stats.power`: minimum detectable effect and sample size;
- :mod:`~mof_experiments.stats.comparison`: what every comparison result carries.

Everything here is computed by statsmodels / scipy; this package fixes the methods, the
defaults and the names of the results (``n``, ``events``, ``rate``, ``ci_low``, ``ci_high``,
``lift``, ...), so the same concept has the same name everywhere.
"""

from mof_experiments.stats.comparison import (COMPARISON_FIELDS, LOW_DATA_EVENTS, LOW_DATA_N, ComparisonResult,
                                              json_number)
from mof_experiments.stats.means import MeanComparison, compare_means, cuped
from mof_experiments.stats.power import SampleSize, mde_mean, mde_proportion, sample_size
from mof_experiments.stats.proportions import ProportionComparison, compare_proportions, wilson_interval
from mof_experiments.stats.srm import SRM_BLOCKING, SRM_WARNING, SRMResult, srm_test

__all__ = ["wilson_interval", "compare_proportions", "ProportionComparison", "compare_means", "MeanComparison",
           "cuped", "srm_test", "SRMResult", "SRM_WARNING", "SRM_BLOCKING", "mde_proportion", "mde_mean",
           "sample_size", "SampleSize", "COMPARISON_FIELDS", "LOW_DATA_N", "LOW_DATA_EVENTS", "ComparisonResult",
           "json_number"]
