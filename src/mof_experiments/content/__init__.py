"""Content optimization from a randomized content test: the grid, the 3x check, best zones, the plan.

- :mod:`~mof_experiments.content.grid`: the persona x zone grid (engagement, observational
  assisted conversion, causal lifts vs generic and vs holdout, guardrails, ratings, flags);
- :mod:`~mof_experiments.content.multiple`: ``engagement_multiple``, the article's "3x", estimated
  by cross-fitting (the zone is chosen on one half of the contacts and measured on the other);
- :mod:`~mof_experiments.content.best`: posterior probability of best zone per persona and the
  Thompson allocation of the next sends with a minimum-n guard;
- :mod:`~mof_experiments.content.plan`: the send plan (persona -> campaign, with the evidence);
- :mod:`~mof_experiments.content.plots`: the grid heatmap and the content-rate figure.
"""

from mof_experiments.content.best import best_zones, zone_allocation
from mof_experiments.content.grid import GENERIC, GRID_COLUMNS, PERSONAS, ContentGrid, content_grid, content_messages
from mof_experiments.content.multiple import EngagementMultiple, engagement_multiple, engagement_multiple_truth
from mof_experiments.content.plan import ContentPlan, build_plan, load_plan, write_plan

__all__ = ["content_grid", "content_messages", "ContentGrid", "GRID_COLUMNS", "GENERIC", "PERSONAS",
           "engagement_multiple", "engagement_multiple_truth", "EngagementMultiple", "best_zones", "zone_allocation",
           "ContentPlan", "build_plan", "load_plan", "write_plan"]
