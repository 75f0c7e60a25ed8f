"""What the workspace records about an experiment: its arms, their weights, its assignments.

``experiment_arms`` (experiment_id, arm, weight, is_control) is the design, registered by
``mof assign`` (or the simulator); ``assignments`` holds one row per assigned company, and
``contact_assignments`` one row per assigned contact of a contact-level experiment (``mof
assign --unit contact``). Every reader of the design weights goes through :func:`arm_weights`.
"""

from __future__ import annotations

import pandas as pd

ARMS_COLUMNS = ("experiment_id", "arm", "weight", "is_control")
ASSIGNMENT_COLUMNS = ("experiment_id", "company_id", "arm", "assigned_at", "stratum")
CONTACT_ASSIGNMENT_COLUMNS = ("experiment_id", "contact_id", "company_id", "arm", "assigned_at", "stratum",
                              "parent_experiment_id", "parent_arm")


def registered_arms(source, experiment_id: str) -> pd.DataFrame:
    """Rows of ``experiment_arms`` for ``experiment_id`` (empty with the table's columns when
    the table or the experiment is absent)."""
    from mof_experiments.workspace import to_pandas

    if not source.has("experiment_arms"):
        return pd.DataFrame(columns=list(ARMS_COLUMNS))
    t = source.table("experiment_arms")
    return to_pandas(t.filter(t.experiment_id == experiment_id)).reset_index(drop=True)


def arm_weights(source, experiment_id: str) -> dict[str, float] | None:
    """The registered design weights ``{arm: weight}`` of ``experiment_id``, or None when the
    experiment has no registered arms (a readout then assumes an equal split, and says so)."""
    arms = registered_arms(source, experiment_id)
    return dict(zip(arms["arm"].astype(str), arms["weight"].astype(float))) or None


def assignments_of(source, experiment_id: str) -> pd.DataFrame:
    """Rows of ``assignments`` for ``experiment_id`` (empty with the contract's columns when
    the table is absent)."""
    from mof_experiments.workspace import to_pandas

    if not source.has("assignments"):
        return pd.DataFrame(columns=list(ASSIGNMENT_COLUMNS))
    t = source.table("assignments")
    return to_pandas(t.filter(t.experiment_id == experiment_id))


def contact_assignments_of(source, experiment_id: str | None = None) -> pd.DataFrame:
    """Rows of ``contact_assignments`` for ``experiment_id`` (every experiment when None; empty
    with the contract's columns when the table is absent)."""
    from mof_experiments.workspace import to_pandas

    if not source.has("contact_assignments"):
        return pd.DataFrame({c: pd.Series(dtype="str") for c in CONTACT_ASSIGNMENT_COLUMNS})
    t = source.table("contact_assignments")
    return to_pandas(t if experiment_id is None else t.filter(t.experiment_id == experiment_id))


def experiment_unit(source, experiment_id: str) -> str | None:
    """``"contact"`` when ``experiment_id`` has rows in ``contact_assignments``, ``"company"``
    when it has rows in ``assignments`` or registered arms (a company-level experiment may
    register before its first company), else None (unknown)."""
    if source.has("contact_assignments"):
        t = source.table("contact_assignments")
        if int(t.filter(t.experiment_id == experiment_id).count().execute()):
            return "contact"
    if not assignments_of(source, experiment_id).empty or not registered_arms(source, experiment_id).empty:
        return "company"
    return None


__all__ = ["registered_arms", "arm_weights", "assignments_of", "contact_assignments_of", "experiment_unit",
           "CONTACT_ASSIGNMENT_COLUMNS"]
