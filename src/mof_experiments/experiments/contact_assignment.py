"""Contact-level experiments: a zone test randomized within persona, inside a company arm.

The unit of the content test's **zone** randomization is the contact: its company was
randomized first (e.g. ``holdout`` / ``email``) in a company-level *parent* experiment, and
within the parent's emailed arm each contact is randomized among the zones. ``mof assign EXP
--unit contact --within PARENT:ARM`` records it in ``contact_assignments`` (experiment_id,
contact_id, company_id, arm, assigned_at, stratum, parent_experiment_id, parent_arm) and the
arms in ``experiment_arms``, like any experiment.

Who is assigned (:func:`assign_contacts_workspace`)
---------------------------------------------------
The contacts of the companies assigned to ``ARM`` of ``PARENT`` (``assignments``), minus

- companies excluded from every campaign (the global holdout, a control arm of any
  experiment: :func:`mof_experiments.cohorts.excluded_companies`), so never the parent's
  holdout;
- contacts **suppressed at assignment** (:func:`mof_experiments.cohorts.suppressed_contacts`):
  they can never be emailed, so assigning them would only dilute the intention-to-treat
  contrast. A contact suppressed *later* keeps its arm (an arm never changes) and is never sent;
- contacts without a row in ``personas`` (the stratum; run ``mof segment`` again for new contacts).

How
---
The hashed, stratified assignment of :func:`mof_experiments.experiments.assign` with the
**contact id** as the hashed unit and the contact's persona (``personas.persona``, recorded in
``stratum``) as the stratum: each persona gets each arm's share to within one contact per run.
Re-running appends only contacts not yet assigned (balanced among themselves) and never changes
an arm. Control arms are optional here (the parent's holdout is the control of the email); a
contact in a control arm of a contact-level experiment is never emailed by any campaign.

Send rules (:func:`contact_exclusions`)
---------------------------------------
A campaign whose experiment is contact-level sends a contact only if it is assigned in it to one
of the campaign's arms (else ``other_arm`` / ``not_assigned``, whatever the cohort file says);
the company rules (global holdout, control arms, hence the parent's holdout) keep applying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.experiments.assignment import (DEFAULT_SALT, _arms_frame, _check_registration, assign,
                                                    control_arms, parse_arms)
from mof_experiments.experiments.registry import (assignments_of, contact_assignments_of, experiment_unit,
                                                  registered_arms)
from mof_experiments.schema import GLOBAL_HOLDOUT_EXPERIMENT, validate

TABLE = "contact_assignments"


def parse_within(spec: str) -> tuple[str, str]:
    """``"PARENT_EXP:ARM"`` -> ``(PARENT_EXP, ARM)`` (the last ``:`` splits; both non-empty)."""
    exp, sep, arm = str(spec).strip().rpartition(":")
    if not sep or not exp.strip() or not arm.strip():
        raise MofConfigError(f"--within expects PARENT_EXPERIMENT:ARM (e.g. mof_content:email), got {spec!r}")
    return exp.strip(), arm.strip()


@dataclass(frozen=True)
class ContactAssignmentResult:
    """What :func:`assign_contacts_workspace` did.

    ``summary``: experiment_id, arm, is_control, weight, n (contacts now in the arm), new, share.
    ``balance``: contacts per persona (rows) x arm (columns), every run so far. ``left_out``:
    contacts of the parent arm's companies not assigned by this run, per reason
    (``excluded_company``, ``suppressed``, ``no_persona``).
    """

    experiment_id: str
    within: str
    new: int
    total: int
    summary: pd.DataFrame = field(repr=False)
    balance: pd.DataFrame = field(repr=False)
    left_out: dict = field(default_factory=dict)

    def __str__(self) -> str:
        arms = ", ".join(f"{r.arm} {r.n:,}" for r in self.summary.itertuples())
        left = ", ".join(f"{k} {v:,}" for k, v in self.left_out.items() if v) or "none"
        spread = int((self.balance.max(axis=1) - self.balance.min(axis=1)).max()) if len(self.balance) else 0
        lines = [f"{self.experiment_id} (contacts within {self.within}): {self.new:,} new, {self.total:,} assigned "
                 f"({arms}); not assigned: {left}",
                 f"contacts per persona x arm (largest spread within a persona: {spread}):"]
        return "\n".join(lines + ["  " + ln for ln in self.balance.to_string().splitlines()])

    def _repr_html_(self) -> str:
        return f"<p>{str(self).splitlines()[0]}</p>" + self.balance.to_html()


def assign_contacts_workspace(workspace, experiment_id: str, arms: Mapping[str, float] | str, *, within: str,
                              stratify: str | None = "persona", control: str | Sequence[str] | None = None,
                              salt: str = DEFAULT_SALT, assigned_at: datetime | None = None
                              ) -> ContactAssignmentResult:
    """Assign the contacts of one company arm of a parent experiment to arms (module docstring: rules).

    Parameters
    ----------
    experiment_id : the contact-level experiment (not an id used by a company-level one).
    arms : ``"feature_highlight=1,...,generic=1"`` or a mapping; weights are normalized.
    within : ``"PARENT_EXP:ARM"``: the company-level experiment and its (non-control) arm.
    stratify : ``"persona"`` (the only stratum of contacts) or None.
    control : control arm(s), never emailed; default the arms named control/holdout (none needed).

    Raises
    ------
    MofConfigError
        unknown parent or arm, a control parent arm, an id used at the company level, changed
        arms or parent, no personas table, nobody to assign on the first run.
    """
    weights = parse_arms(arms)
    parent, parent_arm = parse_within(within)
    if experiment_id in (GLOBAL_HOLDOUT_EXPERIMENT, parent):
        raise MofConfigError(f"experiment id {experiment_id!r} cannot be used for a contact-level experiment "
                             f"within {within}")
    if stratify not in (None, "persona"):
        raise MofConfigError(f"--stratify {stratify!r}: contacts are stratified by persona only (or not at all)")
    ctrl = control_arms(weights, control, required=False)
    if experiment_unit(workspace, experiment_id) == "company":
        raise MofConfigError(f"experiment {experiment_id!r} is a company-level experiment (assignments); use a new "
                             "experiment id for the contact-level one")
    unit = experiment_unit(workspace, parent)
    if unit is None:
        raise MofConfigError(f"--within {within}: unknown experiment {parent!r} (assign its companies first: "
                             f"`mof assign {parent} --arms holdout=0.2,email=0.8`)")
    if unit == "contact":
        raise MofConfigError(f"--within {within}: {parent!r} is itself contact-level; the parent must randomize "
                             "companies")
    preg = registered_arms(workspace, parent)
    if parent_arm not in set(preg["arm"].astype(str)):
        raise MofConfigError(f"--within {within}: experiment {parent!r} has no arm {parent_arm!r} "
                             f"(arms: {', '.join(preg['arm'].astype(str))})")
    if bool(preg.loc[preg["arm"] == parent_arm, "is_control"].fillna(False).astype(bool).iloc[0]):
        raise MofConfigError(f"--within {within}: {parent_arm!r} is a control arm of {parent!r}, never emailed")
    if not workspace.has("personas"):
        raise MofConfigError("--unit contact stratifies by persona: the workspace has no personas table "
                             "(run `mof segment` first)")
    reg = registered_arms(workspace, experiment_id)
    new_reg = _arms_frame(experiment_id, weights, ctrl)
    _check_registration(reg, new_reg, experiment_id)
    old = contact_assignments_of(workspace, experiment_id)
    if len(old):
        was = f"{old['parent_experiment_id'].iloc[0]}:{old['parent_arm'].iloc[0]}"
        if was != f"{parent}:{parent_arm}":
            raise MofConfigError(f"experiment {experiment_id!r} is assigned within {was}; got --within {within} "
                                 "(use a new experiment id)")

    from mof_experiments.cohorts import excluded_companies, suppressed_contacts

    pa = assignments_of(workspace, parent).astype({"company_id": "str", "arm": "str"})
    companies = set(pa.loc[pa["arm"] == parent_arm, "company_id"])
    contacts = workspace.read("contacts").astype({"contact_id": "str", "company_id": "str"})
    contacts = contacts[contacts["company_id"].isin(companies)].sort_values("contact_id").reset_index(drop=True)
    left = {}
    excl = set(excluded_companies(workspace).index)

    def drop(name, out):
        nonlocal contacts
        out = np.asarray(out, dtype=bool)
        left[name] = int(out[~contacts["contact_id"].isin(old["contact_id"]).to_numpy()].sum())
        contacts = contacts[~out].reset_index(drop=True)

    drop("excluded_company", contacts["company_id"].isin(excl))
    drop("suppressed", suppressed_contacts(workspace, contacts))
    per = workspace.read("personas", ["contact_id", "persona"]).astype("str").drop_duplicates("contact_id")
    contacts = contacts.merge(per, on="contact_id", how="left")
    drop("no_persona", contacts["persona"].isna())
    todo = contacts[~contacts["contact_id"].isin(old["contact_id"])]
    if todo.empty and old.empty:
        raise MofInputError(f"nobody to assign: no eligible contact in {within} (companies {len(companies):,}; "
                            + ", ".join(f"{k} {v:,}" for k, v in left.items()) + ")", source=str(workspace.path))
    at = assigned_at or datetime.now(timezone.utc).replace(microsecond=0)
    new = pd.DataFrame()
    if len(todo):
        new = assign(todo["contact_id"].tolist(), experiment_id, weights, salt=salt, assigned_at=at,
                     strata=todo["persona"].to_numpy() if stratify else None)
        new = new.rename(columns={"company_id": "contact_id"})  # the hashed unit is the contact
        new.insert(2, "company_id", todo["company_id"].to_numpy())
        new = new.assign(parent_experiment_id=parent, parent_arm=parent_arm)
    writes = {}
    if len(new):
        writes[TABLE] = validate(new, TABLE, source=f"assign:{TABLE}")
    if reg.empty:
        writes["experiment_arms"] = validate(new_reg, "experiment_arms", source="assign:experiment_arms")
    if writes:
        workspace.write_many(writes, mode="append")

    rows = pd.concat([d for d in (old, new) if len(d)], ignore_index=True)
    counts, newc = rows["arm"].value_counts(), new["arm"].value_counts() if len(new) else pd.Series(dtype="int64")
    summ = new_reg.assign(n=[int(counts.get(a, 0)) for a in weights], new=[int(newc.get(a, 0)) for a in weights])
    summ["share"] = summ["n"] / max(int(summ["n"].sum()), 1)
    stratum = rows["stratum"].fillna("(none)") if stratify else pd.Series("(all)", index=rows.index)
    balance = pd.crosstab(stratum.rename("persona"), rows["arm"]).reindex(columns=list(weights), fill_value=0)
    return ContactAssignmentResult(experiment_id, f"{parent}:{parent_arm}", int(len(new)), int(len(rows)),
                                   summ.reset_index(drop=True), balance, left)


def contact_exclusions(workspace, experiment_id: str | None = None,
                       arms: Sequence[str] | None = None) -> pd.Series:
    """Contacts that must not be emailed, as a Series ``contact_id -> reason``.

    ``control``: assigned to a control arm (``experiment_arms.is_control``) of any contact-level
    experiment, whichever campaign asks. ``other_arm``: when ``experiment_id`` is contact-level,
    assigned in it to an arm not in ``arms`` (None: every non-control arm). Contacts not assigned
    in a contact-level ``experiment_id`` are not listed; callers treat them as ``not_assigned``.
    """
    out: dict[str, str] = {}
    if not workspace.has(TABLE):
        return pd.Series(out, dtype="str")
    ca = workspace.read(TABLE, ["experiment_id", "contact_id", "arm"]).astype("str")
    if workspace.has("experiment_arms"):
        ea = workspace.read("experiment_arms", ["experiment_id", "arm", "is_control"])
        ctl = set(zip(ea.loc[ea["is_control"].fillna(False).astype(bool), "experiment_id"].astype(str),
                      ea.loc[ea["is_control"].fillna(False).astype(bool), "arm"].astype(str)))
        hit = [(e, a) in ctl for e, a in zip(ca["experiment_id"], ca["arm"])]
        for c in ca.loc[hit, "contact_id"]:
            out.setdefault(c, "control")
    if experiment_id is not None and (ca["experiment_id"] == experiment_id).any():
        from mof_experiments.cohorts import check_arms

        send_arms = set(check_arms(workspace, experiment_id, arms))
        e = ca[ca["experiment_id"] == experiment_id]
        for c in e.loc[~e["arm"].isin(send_arms), "contact_id"]:
            out.setdefault(c, "other_arm")
    return pd.Series(out, dtype="str")


def unit_arms(workspace, experiment_id: str) -> tuple[str, pd.DataFrame]:
    """``(key, frame)``: the experiment's arm per unit, ``frame`` with columns ``key`` and ``arm``;
    ``key`` is ``contact_id`` for a contact-level experiment, else ``company_id``."""
    if experiment_unit(workspace, experiment_id) == "contact":
        return "contact_id", contact_assignments_of(workspace, experiment_id)[["contact_id", "arm"]].astype("str")
    return "company_id", assignments_of(workspace, experiment_id)[["company_id", "arm"]].astype("str")


def zone_test_rows(contact_assignments: pd.DataFrame | None, experiment_id: str) -> pd.DataFrame | None:
    """The contact-level experiment a report names, or the one inside the company-level one it names.

    ``experiment_id`` contact-level: its rows. ``experiment_id`` the parent of exactly one
    contact-level experiment: that experiment's rows. Neither: None (the company-level route).
    Several contact-level experiments within the parent: a one-line error naming them.
    """
    ca = contact_assignments
    if ca is None or ca.empty:
        return None
    own = ca[ca["experiment_id"] == experiment_id]
    if len(own):
        return own.reset_index(drop=True)
    kids = sorted(set(ca.loc[ca["parent_experiment_id"] == experiment_id, "experiment_id"].astype(str)))
    if len(kids) > 1:
        raise MofConfigError(f"experiment {experiment_id!r} holds several contact-level experiments "
                             f"({', '.join(kids)}): name one (-p experiment_id=...)")
    return ca[ca["experiment_id"] == kids[0]].reset_index(drop=True) if kids else None


__all__ = ["assign_contacts_workspace", "ContactAssignmentResult", "contact_exclusions", "unit_arms",
           "parse_within", "zone_test_rows", "TABLE"]
