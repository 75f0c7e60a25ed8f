"""Attribution: which content is engaged with before conversions, and what to send next.

- :mod:`~mof_experiments.attribution.content`: assisted conversion and the content table
  (zone x topic x recipient persona, rates with Wilson intervals, ratings, low-data flags);
- :mod:`~mof_experiments.attribution.bandit`: best content per persona and Thompson-sampling
  allocation of the next sends, from Beta-Binomial posteriors.

Everything here is observational (engagement before conversion). The causal effect of email,
from the randomized holdout, is :mod:`mof_experiments.experiments.holdout`.
"""

from mof_experiments.attribution.bandit import best_content, prob_best, resolve_prior, thompson_allocation
from mof_experiments.attribution.content import (CONTENT_COLUMNS, CONTENT_KEYS, RATINGS, assisted_messages,
                                                 content_table, tercile_rating)

__all__ = ["assisted_messages", "content_table", "tercile_rating", "prob_best", "best_content", "thompson_allocation",
           "resolve_prior", "CONTENT_COLUMNS", "CONTENT_KEYS", "RATINGS"]
