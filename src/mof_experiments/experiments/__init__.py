"""Experiments: assignment, readouts, experiment data and the causal holdout effect.

The unit of randomization and of outcome is the **company**.

- :mod:`~mof_experiments.experiments.assignment`: deterministic salted-hash assignment, strata,
  the global holdout, ``mof assign``;
- :mod:`~mof_experiments.experiments.contact_assignment`: contact-level experiments (a zone
  test randomized within persona inside a company arm), their send exclusions;
- :mod:`~mof_experiments.experiments.registry`: the recorded design (arms, weights) and
  assignments of an experiment;
- :mod:`~mof_experiments.experiments.readout`: the A/B(/n) readout of one row per unit;
- :mod:`~mof_experiments.experiments.readout_result`: its result (:class:`Readout`) and column names;
- :mod:`~mof_experiments.experiments.outcomes`: conversion within the window and
  pre-assignment features, as of a date; the uplift design matrix;
- :mod:`~mof_experiments.experiments.holdout`: the causal effect of email vs the randomized
  holdout, its correlational counterpart, and the simulator's truth.

The statistics (intervals, tests, SRM, power, CUPED) are :mod:`mof_experiments.stats`'; they
are re-exported here because readouts are where they are used.
"""

from mof_experiments.experiments.assignment import (DEFAULT_SALT, ELIGIBLE_ARM, GLOBAL_HOLDOUT_SALT, HOLDOUT_ARM,
                                                    AssignmentResult, assign, assign_global_holdout,
                                                    assign_workspace, excluded_companies, hash_unit, parse_arms)
from mof_experiments.experiments.contact_assignment import (ContactAssignmentResult, assign_contacts_workspace,
                                                            contact_exclusions, parse_within, unit_arms,
                                                            zone_test_rows)
from mof_experiments.experiments.holdout import (HoldoutEffect, OpenerDifference, correlation_vs_causation,
                                                 holdout_effect, opener_difference, true_holdout_effect, true_uplift)
from mof_experiments.experiments.outcomes import (CONTACT_FEATURES, GUARDRAIL_EVENTS, TITLE_GROUPS, ExperimentData,
                                                  UpliftDesign, company_attribute, conversion_outcomes,
                                                  converted_within, experiment_data, experiment_email_events,
                                                  experiment_outcomes, pre_assignment_features, uplift_design,
                                                  window_complete)
from mof_experiments.experiments.readout import (BAYESIAN_COLUMNS, READOUT_COLUMNS, SEQUENTIAL_COLUMNS,
                                                 CupedAdjustment, Readout, SequentialSettings, experiment_path,
                                                 load_readout_input, readout)
from mof_experiments.experiments.registry import (arm_weights, assignments_of, contact_assignments_of,
                                                  experiment_unit, registered_arms)
from mof_experiments.stats import (SRM_BLOCKING, SRM_WARNING, MeanComparison, ProportionComparison, SampleSize,
                                   SRMResult, compare_means, compare_proportions, cuped, mde_mean, mde_proportion,
                                   sample_size, srm_test)

__all__ = ["DEFAULT_SALT", "GLOBAL_HOLDOUT_SALT", "HOLDOUT_ARM", "ELIGIBLE_ARM", "hash_unit", "parse_arms",
           "assign", "assign_global_holdout", "assign_workspace", "AssignmentResult", "excluded_companies",
           "registered_arms", "arm_weights", "assignments_of", "contact_assignments_of", "experiment_unit",
           "assign_contacts_workspace", "ContactAssignmentResult", "contact_exclusions", "unit_arms", "parse_within",
           "zone_test_rows",
           "compare_proportions", "ProportionComparison", "compare_means", "MeanComparison", "srm_test", "SRMResult",
           "SRM_WARNING", "SRM_BLOCKING", "mde_proportion", "mde_mean", "sample_size", "SampleSize", "cuped",
           "readout", "Readout", "READOUT_COLUMNS", "SEQUENTIAL_COLUMNS", "BAYESIAN_COLUMNS", "SequentialSettings",
           "CupedAdjustment", "experiment_path", "load_readout_input",
           "converted_within", "window_complete", "pre_assignment_features", "conversion_outcomes",
           "experiment_outcomes", "ExperimentData", "experiment_data", "experiment_email_events", "GUARDRAIL_EVENTS",
           "company_attribute", "UpliftDesign", "uplift_design",
           "TITLE_GROUPS", "CONTACT_FEATURES",
           "HoldoutEffect", "holdout_effect", "OpenerDifference", "opener_difference", "correlation_vs_causation",
           "true_uplift", "true_holdout_effect"]
