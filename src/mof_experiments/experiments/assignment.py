"""Deterministic assignment of companies to arms, and the global holdout.

The unit of randomization and of outcome is the **company**.

Each company's arm is a pure function of ``(salt, experiment_id, company_id)``:
``u = int(sha256(f"{salt}:{experiment_id}:{company_id}")[:16 hex], 16) / 2**64`` is uniform in
[0, 1), and the arm is the first whose cumulative weight exceeds ``u`` (arms in the order given).
Re-running an assignment therefore gives every company the same arm; the workspace version
(:func:`assign_workspace`) also keeps the rows already recorded and appends only new companies.

With ``strata`` the hash only *orders* the companies: inside each stratum the companies of one
batch are sorted by ``u`` and the ``r``-th of ``n`` gets position ``p = (r + v) / n`` (``v`` a
hashed offset per stratum), and ``p`` picks the arm by cumulative weights. Each arm then gets its
share of every stratum to within one company (complete randomization within strata).

The **global holdout** is recorded under ``experiment_id = "global_holdout"`` with its own fixed
salt (:data:`GLOBAL_HOLDOUT_SALT`), so it does not depend on any experiment: arm ``holdout``
(``u < share``) or ``eligible``. Both are recorded, so a company's decision never changes once
made; held-out companies are never assigned to an experiment and never emailed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.experiments.registry import assignments_of, experiment_unit, registered_arms
from mof_experiments.schema import GLOBAL_HOLDOUT_EXPERIMENT, STAGES, validate

#: Salt of experiment assignments (change it only to re-randomize deliberately).
DEFAULT_SALT = "mof-v1"
#: Salt of the global holdout: fixed and independent of every experiment.
GLOBAL_HOLDOUT_SALT = "mof-global-holdout-v1"
HOLDOUT_ARM = "holdout"
ELIGIBLE_ARM = "eligible"


def hash_unit(company_ids: Iterable[str], experiment_id: str, salt: str = DEFAULT_SALT) -> np.ndarray:
    """Map each id to a uniform number in [0, 1): ``sha256(f"{salt}:{experiment_id}:{id}")``.

    The first 64 bits of the digest, divided by ``2**64``.
    """
    out = [int(hashlib.sha256(f"{salt}:{experiment_id}:{c}".encode()).hexdigest()[:16], 16)
           for c in company_ids]
    return np.asarray(out, dtype=np.float64) / 2.0**64


def parse_arms(spec: str | Mapping[str, float], *, option: str = "--arms") -> dict[str, float]:
    """Parse ``"control=0.2,treatment=0.8"`` (or a mapping) into normalized weights.

    Weights must be positive; they are divided by their sum (``a=1,b=3`` is 25/75). Errors
    name ``option``, the command-line option the spec came from (``--arms``, ``--weights``).
    """
    if isinstance(spec, Mapping):
        items = [(str(k), v) for k, v in spec.items()]
    else:
        items = []
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise MofConfigError(f"{option}: expected NAME=WEIGHT, got {part!r} (e.g. control=0.2,treatment=0.8)")
            k, v = part.split("=", 1)
            items.append((k.strip(), v.strip()))
    if len(items) < 2:
        raise MofConfigError(f"{option}: need at least two arms, got {spec!r}")
    weights: dict[str, float] = {}
    for k, v in items:
        try:
            w = float(v)
        except (TypeError, ValueError):
            raise MofConfigError(f"{option}: weight of {k!r} is not a number: {v!r}") from None
        if not k or not math.isfinite(w) or w <= 0:
            raise MofConfigError(f"{option}: arm {k!r} needs a positive weight, got {v!r}")
        if k in weights:
            raise MofConfigError(f"{option}: arm {k!r} given twice")
        weights[k] = w
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def _pick(u: np.ndarray, weights: Mapping[str, float]) -> np.ndarray:
    names = np.array(list(weights), dtype=object)
    cum = np.cumsum(list(weights.values()))
    cum[-1] = 1.0  # guard against rounding: every u < 1 gets an arm
    return names[np.searchsorted(cum, u, side="right")]


def assign(company_ids: Sequence[str], experiment_id: str, arms: Mapping[str, float] | str, *,
           salt: str = DEFAULT_SALT, strata: Sequence | None = None,
           assigned_at: datetime | None = None) -> pd.DataFrame:
    """Assign companies to arms (pure function, nothing is written).

    Parameters
    ----------
    company_ids : the companies (strings; duplicates are an error).
    experiment_id : experiment name, part of the hash.
    arms : ``{"control": 0.2, "treatment": 0.8}`` or ``"control=0.2,treatment=0.8"``.
    salt : hash salt (:data:`DEFAULT_SALT`).
    strata : optional stratum per company (same length); balanced within stratum, see module doc.
    assigned_at : timestamp written to ``assigned_at`` (default: now, UTC).

    Returns
    -------
    DataFrame with the ``assignments`` contract: experiment_id, company_id, arm, assigned_at,
    stratum (None without strata).
    """
    weights = parse_arms(arms)
    ids = pd.Series(list(company_ids), dtype="str")
    dup = ids.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise MofInputError("duplicate company_id", column="company_id", row=i + 1, value=ids.iloc[i])
    u = hash_unit(ids, experiment_id, salt)
    if strata is None:
        arm = _pick(u, weights)
        stratum = pd.Series(None, index=ids.index, dtype="str")
    else:
        stratum = pd.Series(list(strata), dtype="str").fillna("(missing)")
        if len(stratum) != len(ids):
            raise MofInputError(f"strata has {len(stratum)} values for {len(ids)} companies")
        pos = np.empty(len(ids))
        frame = pd.DataFrame({"u": u, "s": stratum.to_numpy()})
        for s, g in frame.groupby("s", sort=False):
            v = hash_unit([s], experiment_id, salt + ":stratum")[0]
            order = np.argsort(g["u"].to_numpy(), kind="stable")
            r = np.empty(len(g))
            r[order] = np.arange(len(g))
            pos[g.index.to_numpy()] = (r + v) / len(g)
        arm = _pick(pos, weights)
    at = pd.Timestamp(assigned_at or datetime.now(timezone.utc).replace(microsecond=0))
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    return pd.DataFrame({
        "experiment_id": pd.Series(experiment_id, index=ids.index, dtype="str"),
        "company_id": ids,
        "arm": pd.Series(arm, index=ids.index, dtype="str"),
        "assigned_at": pd.Series(at, index=ids.index).astype("datetime64[us, UTC]"),
        "stratum": stratum,
    })


def assign_global_holdout(company_ids: Sequence[str], share: float, *,
                          assigned_at: datetime | None = None) -> pd.DataFrame:
    """Global holdout rows: arm ``holdout`` when ``u < share`` (salt :data:`GLOBAL_HOLDOUT_SALT`), else ``eligible``."""
    if not (0 < share < 1):
        raise MofConfigError(f"--global-holdout must be between 0 and 1 (exclusive), got {share}")
    return assign(company_ids, GLOBAL_HOLDOUT_EXPERIMENT, {HOLDOUT_ARM: share, ELIGIBLE_ARM: 1 - share},
                  salt=GLOBAL_HOLDOUT_SALT, assigned_at=assigned_at)


@dataclass(frozen=True)
class AssignmentResult:
    """What :func:`assign_workspace` did.

    ``summary`` columns: experiment_id, arm, is_control, weight, n (companies now in the arm),
    new (added by this run), share (n / total).
    """

    experiment_id: str
    new: int
    total: int
    global_holdout_new: int
    global_holdout_excluded: int
    summary: pd.DataFrame = field(repr=False)
    #: companies this run put in the global holdout that were already in another experiment:
    #: ``{experiment_id: {arm: n}}`` (they get no campaign email from now on)
    global_holdout_taken: dict = field(default_factory=dict)

    def warnings(self) -> list[str]:
        if not self.global_holdout_taken:
            return []
        n = sum(sum(a.values()) for a in self.global_holdout_taken.values())
        per = "; ".join(f"{e}: " + ", ".join(f"{k} {v:,}" for k, v in arms.items())
                        for e, arms in self.global_holdout_taken.items())
        return [f"the new global holdout takes {n:,} companies out of experiments already running ({per}): "
                "no campaign emails them from now on, although their experiments keep them in their arms"]

    def __str__(self) -> str:
        arms = ", ".join(f"{r.arm} {r.n:,} ({r.share:.1%})" for r in self.summary.itertuples())
        gh = (f"; global holdout: {self.global_holdout_excluded:,} companies excluded"
              f" ({self.global_holdout_new:,} new decisions)" if self.global_holdout_excluded or
              self.global_holdout_new else "")
        return f"{self.experiment_id}: {self.new:,} new, {self.total:,} assigned ({arms}){gh}"

    def _repr_html_(self) -> str:
        return f"<p>{self}</p>" + self.summary.to_html(index=False)


def _arms_frame(experiment_id: str, weights: Mapping[str, float], control: Iterable[str]) -> pd.DataFrame:
    control = set(control)
    return pd.DataFrame({"experiment_id": experiment_id, "arm": list(weights),
                         "weight": [float(w) for w in weights.values()],
                         "is_control": [a in control for a in weights]})


def control_arms(weights: Mapping[str, float], control: str | Sequence[str] | None, *,
                 required: bool = True) -> list[str]:
    """The control arm(s): ``control`` (names, comma-separated), else the arms named ``control``
    or ``holdout``; with ``required`` (company-level experiments) there must be one. Never
    every arm."""
    if control is None:
        ctrl = [a for a in weights if a.lower() in ("control", "holdout")]
        if not ctrl and required:
            raise MofConfigError(f"no control arm among {', '.join(weights)}: name one with --control ARM")
    else:
        ctrl = [control] if isinstance(control, str) else list(control)
        ctrl = [c.strip() for part in ctrl for c in part.split(",") if c.strip()]
        unknown = [c for c in ctrl if c not in weights]
        if unknown:
            raise MofConfigError(f"--control {unknown[0]!r} is not one of the arms ({', '.join(weights)})")
    if len(ctrl) == len(weights):
        raise MofConfigError("every arm is a control arm: at least one arm must be treated")
    return ctrl


def _check_registration(reg: pd.DataFrame, new: pd.DataFrame, experiment_id: str) -> None:
    if reg.empty:
        return
    a = reg.set_index("arm")[["weight", "is_control"]].sort_index()
    b = new.set_index("arm")[["weight", "is_control"]].sort_index()
    same = list(a.index) == list(b.index) and np.allclose(a["weight"].astype(float), b["weight"].astype(float)) \
        and list(a["is_control"].astype(bool)) == list(b["is_control"].astype(bool))
    if not same:
        was = ",".join(f"{r.arm}={r.weight:g}{'(control)' if r.is_control else ''}" for r in reg.itertuples())
        now = ",".join(f"{r.arm}={r.weight:g}{'(control)' if r.is_control else ''}" for r in new.itertuples())
        raise MofConfigError(f"experiment {experiment_id!r} is already registered with arms {was}; "
                             f"got {now} (use a new experiment id to change the design)")


def assign_workspace(workspace, experiment_id: str, arms: Mapping[str, float] | str, *,
                     control: str | Sequence[str] | None = None, global_holdout: float | None = None,
                     company_ids: Sequence[str] | None = None, stages: Sequence[str] | None = None,
                     stratify: str | None = None, salt: str = DEFAULT_SALT,
                     assigned_at: datetime | None = None) -> AssignmentResult:
    """Assign the workspace's companies to an experiment and record it (one transaction).

    Rules
    -----
    - Companies: ``company_ids`` if given (a cohort), else every row of ``companies``; with
      ``stages`` only those whose current ``funnel.stage`` is one of them (run ``mof label``).
    - Global holdout: with ``global_holdout=share`` every company without a decision gets one
      (``holdout``/``eligible`` rows under ``global_holdout``); the share is fixed once set
      (a different share is an error). Companies in the holdout, whenever it was set, are not
      assigned to the experiment.
    - Companies already assigned to the experiment keep their row; only new ones are appended.
      The arms and weights are registered in ``experiment_arms``; re-running with different
      arms is an error.
    - ``control``: the control arm(s), never emailed; default the arm named ``control`` or
      ``holdout``.
    - ``stratify``: a column of ``companies`` (e.g. ``plan``) or of the ``funnel`` table (e.g.
      ``stage``) whose values are the strata (see the module doc for how they combine with the hash).
    """
    weights = parse_arms(arms)
    if experiment_id == GLOBAL_HOLDOUT_EXPERIMENT:
        raise MofConfigError(f"{GLOBAL_HOLDOUT_EXPERIMENT!r} is reserved for the global holdout (use --global-holdout)")
    ctrl = control_arms(weights, control)
    if experiment_unit(workspace, experiment_id) == "contact":
        raise MofConfigError(f"experiment {experiment_id!r} is a contact-level experiment (contact_assignments); "
                             "use a new experiment id for a company-level one")

    companies = workspace.read("companies")
    if company_ids is None:
        ids = companies["company_id"].astype("str")
    else:
        ids = pd.Series(list(dict.fromkeys(map(str, company_ids))), dtype="str")
        unknown = ~ids.isin(companies["company_id"])
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise MofInputError(f"{int(unknown.sum())} cohort companies are not in the workspace's companies",
                                source="cohort", column="company_id", row=i + 1, value=ids.iloc[i])
    if stages:
        bad = [x for x in stages if x not in STAGES]
        if bad:
            raise MofConfigError(f"--stage {bad[0]!r} is not a stage ({', '.join(STAGES)})")
        if not workspace.has("funnel"):
            raise MofConfigError("--stage needs the funnel table: run `mof label` first")
        f = workspace.read("funnel", ["company_id", "stage"])
        ids = ids[ids.isin(f.loc[f["stage"].isin(list(stages)), "company_id"])]
    at = assigned_at or datetime.now(timezone.utc).replace(microsecond=0)
    writes: dict[str, pd.DataFrame] = {}
    arms_rows = []

    # global holdout
    gh_reg = registered_arms(workspace, GLOBAL_HOLDOUT_EXPERIMENT)
    gh_old = assignments_of(workspace, GLOBAL_HOLDOUT_EXPERIMENT)
    gh_new = pd.DataFrame()
    if global_holdout is not None:
        new_reg = _arms_frame(GLOBAL_HOLDOUT_EXPERIMENT, {HOLDOUT_ARM: global_holdout, ELIGIBLE_ARM: 1 - global_holdout},
                              [HOLDOUT_ARM])
        if not gh_reg.empty and not np.isclose(float(gh_reg.loc[gh_reg.arm == HOLDOUT_ARM, "weight"].iloc[0]),
                                               global_holdout):
            share = float(gh_reg.loc[gh_reg.arm == HOLDOUT_ARM, "weight"].iloc[0])
            raise MofConfigError(f"the global holdout is already set at {share:g}; got --global-holdout "
                                 f"{global_holdout:g} (the share is fixed once set)")
        all_ids = companies["company_id"].astype("str")
        todo = all_ids[~all_ids.isin(gh_old["company_id"])]
        if len(todo):
            gh_new = assign_global_holdout(todo.tolist(), global_holdout, assigned_at=at)
        if gh_reg.empty:
            arms_rows.append(new_reg)
    held = set(gh_old.loc[gh_old["arm"] == HOLDOUT_ARM, "company_id"])
    if len(gh_new):
        held |= set(gh_new.loc[gh_new["arm"] == HOLDOUT_ARM, "company_id"])

    # the experiment
    reg = registered_arms(workspace, experiment_id)
    new_reg = _arms_frame(experiment_id, weights, ctrl)
    _check_registration(reg, new_reg, experiment_id)
    if reg.empty:
        arms_rows.append(new_reg)
    old = assignments_of(workspace, experiment_id)
    todo = ids[~ids.isin(old["company_id"]) & ~ids.isin(held)]
    strata = None
    if stratify:
        strata = _strata(workspace, companies, stratify).reindex(todo.to_numpy()).to_numpy()
    new = assign(todo.tolist(), experiment_id, weights, salt=salt, strata=strata, assigned_at=at) \
        if len(todo) else pd.DataFrame()
    if len(gh_new) or len(new):
        writes["assignments"] = pd.concat([d for d in (gh_new, new) if len(d)], ignore_index=True)
    if arms_rows:
        writes["experiment_arms"] = pd.concat(arms_rows, ignore_index=True)
    if writes:
        writes = {k: validate(v, k, source=f"assign:{k}") for k, v in writes.items()}
        workspace.write_many(writes, mode="append")

    allrows = pd.concat([d for d in (old, new) if len(d)], ignore_index=True) if len(old) or len(new) \
        else pd.DataFrame(columns=["arm"])
    counts = allrows["arm"].value_counts()
    newc = new["arm"].value_counts() if len(new) else pd.Series(dtype="int64")
    summ = new_reg.assign(n=[int(counts.get(a, 0)) for a in weights], new=[int(newc.get(a, 0)) for a in weights])
    total = int(summ["n"].sum())
    summ["share"] = summ["n"] / total if total else np.nan
    taken = {}
    if len(gh_new) and workspace.has("assignments"):
        newly_held = gh_new.loc[gh_new["arm"] == HOLDOUT_ARM, "company_id"]
        a = workspace.read("assignments", ["experiment_id", "company_id", "arm"])
        a = a[a["company_id"].isin(newly_held) & ~a["experiment_id"].isin([GLOBAL_HOLDOUT_EXPERIMENT, experiment_id])]
        for (e, arm), n in a.groupby(["experiment_id", "arm"]).size().items():
            taken.setdefault(str(e), {})[str(arm)] = int(n)
    return AssignmentResult(experiment_id, int(len(new)), total, int(len(gh_new)),
                            int(len(held & set(ids))), summ.reset_index(drop=True), taken)


def _strata(workspace, companies: pd.DataFrame, column: str) -> pd.Series:
    if column in companies.columns and column != "company_id":
        return companies.set_index("company_id")[column].astype("str")
    if workspace.has("funnel"):
        f = workspace.read("funnel")
        if column in f.columns:
            return f.set_index("company_id")[column].astype("str")
    raise MofConfigError(f"--stratify {column!r}: not a column of companies (or of funnel; run `mof label` first)")


def excluded_companies(workspace, experiment_id: str) -> set[str]:
    """Companies that must not be emailed for ``experiment_id``: the global holdout (arm
    ``holdout`` under ``global_holdout``) united with the companies assigned to the
    experiment's control arm(s) (``experiment_arms.is_control``).

    The set form of :func:`mof_experiments.cohorts.excluded_companies` (which also gives the
    reason per company, and is what ``mof cohort export`` and ``mof send`` apply).
    """
    from mof_experiments.cohorts import excluded_companies as exclusion_reasons

    reasons = exclusion_reasons(workspace, experiment_id)
    return set(reasons.index[reasons.isin(["holdout", "control"])])


__all__ = ["DEFAULT_SALT", "GLOBAL_HOLDOUT_SALT", "HOLDOUT_ARM", "ELIGIBLE_ARM", "hash_unit", "parse_arms",
           "assign", "assign_global_holdout", "assign_workspace", "AssignmentResult", "excluded_companies",
           "control_arms"]
