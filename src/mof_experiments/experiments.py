"""Experiments: deterministic assignment, the global holdout, and A/B readouts.

The unit of randomization and of outcome is the **company**.

Assignment
----------
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

Readout
-------
:func:`readout` compares every arm with the control arm on binary outcomes (rates: Wilson
intervals, Newcomb score interval of the difference, score test, log-adjusted interval of the
ratio) and continuous outcomes (means: t intervals, Welch t-test, delta-method relative lift,
optional CUPED adjustment with a pre-period covariate), corrects the p-values across arms and
metrics (Holm or Benjamini-Hochberg), reports the minimum detectable effect at 80% power and
tests the sample ratio (chi-square against the design weights).
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
from mof_experiments.schema import GLOBAL_HOLDOUT_EXPERIMENT

#: Salt of experiment assignments (change it only to re-randomize deliberately).
DEFAULT_SALT = "mof-v1"
#: Salt of the global holdout: fixed and independent of every experiment.
GLOBAL_HOLDOUT_SALT = "mof-global-holdout-v1"
HOLDOUT_ARM = "holdout"
ELIGIBLE_ARM = "eligible"
#: SRM tiers: p below WARNING -> "warning", below BLOCKING -> "blocking".
SRM_WARNING = 0.01
SRM_BLOCKING = 0.001
#: A comparison is flagged ``low_data`` below these counts.
LOW_DATA_N = 30
LOW_DATA_EVENTS = 5
CONTROL_NAMES = ("control", "holdout", "no_email", "No E-Mail")


# ------------------------------------------------------------------------------- assignment
def hash_unit(company_ids: Iterable[str], experiment_id: str, salt: str = DEFAULT_SALT) -> np.ndarray:
    """Map each id to a uniform number in [0, 1): ``sha256(f"{salt}:{experiment_id}:{id}")``.

    The first 64 bits of the digest, divided by ``2**64``.
    """
    out = [int(hashlib.sha256(f"{salt}:{experiment_id}:{c}".encode()).hexdigest()[:16], 16)
           for c in company_ids]
    return np.asarray(out, dtype=np.float64) / 2.0**64


def parse_arms(spec: str | Mapping[str, float]) -> dict[str, float]:
    """Parse ``"control=0.2,treatment=0.8"`` (or a mapping) into normalized weights.

    Weights must be positive; they are divided by their sum (``a=1,b=3`` is 25/75).
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
                raise MofConfigError(f"--arms: expected NAME=WEIGHT, got {part!r} (e.g. control=0.2,treatment=0.8)")
            k, v = part.split("=", 1)
            items.append((k.strip(), v.strip()))
    if len(items) < 2:
        raise MofConfigError(f"--arms: need at least two arms, got {spec!r}")
    weights: dict[str, float] = {}
    for k, v in items:
        try:
            w = float(v)
        except (TypeError, ValueError):
            raise MofConfigError(f"--arms: weight of {k!r} is not a number: {v!r}") from None
        if not k or not math.isfinite(w) or w <= 0:
            raise MofConfigError(f"--arms: arm {k!r} needs a positive weight, got {v!r}")
        if k in weights:
            raise MofConfigError(f"--arms: arm {k!r} given twice")
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

    def __str__(self) -> str:
        arms = ", ".join(f"{r.arm} {r.n:,} ({r.share:.1%})" for r in self.summary.itertuples())
        gh = (f"; global holdout: {self.global_holdout_excluded:,} companies excluded"
              f" ({self.global_holdout_new:,} new decisions)" if self.global_holdout_excluded or
              self.global_holdout_new else "")
        return f"{self.experiment_id}: {self.new:,} new, {self.total:,} assigned ({arms}){gh}"

    def _repr_html_(self) -> str:
        return f"<p>{self}</p>" + self.summary.to_html(index=False)


def _registered_arms(workspace, experiment_id: str) -> pd.DataFrame:
    if not workspace.has("experiment_arms"):
        return pd.DataFrame(columns=["experiment_id", "arm", "weight", "is_control"])
    ea = workspace.read("experiment_arms")
    return ea[ea["experiment_id"] == experiment_id].reset_index(drop=True)


def _existing(workspace, experiment_id: str) -> pd.DataFrame:
    if not workspace.has("assignments"):
        return pd.DataFrame(columns=["experiment_id", "company_id", "arm", "assigned_at", "stratum"])
    t = workspace.table("assignments")
    from mof_experiments.workspace import to_pandas

    return to_pandas(t.filter(t.experiment_id == experiment_id))


def _arms_frame(experiment_id: str, weights: Mapping[str, float], control: Iterable[str]) -> pd.DataFrame:
    control = set(control)
    return pd.DataFrame({"experiment_id": experiment_id, "arm": list(weights),
                         "weight": [float(w) for w in weights.values()],
                         "is_control": [a in control for a in weights]})


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
    if control is None:
        ctrl = [a for a in weights if a.lower() in ("control", "holdout")]
        if not ctrl:
            raise MofConfigError(f"no control arm among {', '.join(weights)}: name one with --control ARM")
    else:
        ctrl = [control] if isinstance(control, str) else list(control)
        ctrl = [c.strip() for part in ctrl for c in part.split(",") if c.strip()]
        unknown = [c for c in ctrl if c not in weights]
        if unknown:
            raise MofConfigError(f"--control {unknown[0]!r} is not one of the arms ({', '.join(weights)})")
    if len(ctrl) == len(weights):
        raise MofConfigError("every arm is a control arm: at least one arm must be treated")

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
        from mof_experiments.schema import STAGES

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
    gh_reg = _registered_arms(workspace, GLOBAL_HOLDOUT_EXPERIMENT)
    gh_old = _existing(workspace, GLOBAL_HOLDOUT_EXPERIMENT)
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
    reg = _registered_arms(workspace, experiment_id)
    new_reg = _arms_frame(experiment_id, weights, ctrl)
    _check_registration(reg, new_reg, experiment_id)
    if reg.empty:
        arms_rows.append(new_reg)
    old = _existing(workspace, experiment_id)
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
        from mof_experiments.schema import validate

        writes = {k: validate(v, k, source=f"assign:{k}") for k, v in writes.items()}
        workspace.write_many(writes, mode="append")

    allrows = pd.concat([d for d in (old, new) if len(d)], ignore_index=True) if len(old) or len(new) \
        else pd.DataFrame(columns=["arm"])
    counts = allrows["arm"].value_counts()
    newc = new["arm"].value_counts() if len(new) else pd.Series(dtype="int64")
    summ = new_reg.assign(n=[int(counts.get(a, 0)) for a in weights], new=[int(newc.get(a, 0)) for a in weights])
    total = int(summ["n"].sum())
    summ["share"] = summ["n"] / total if total else np.nan
    return AssignmentResult(experiment_id, int(len(new)), total, int(len(gh_new)),
                            int(len(held & set(ids))), summ.reset_index(drop=True))


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


# ------------------------------------------------------------------------------- statistics
def compare_proportions(x, n, x0, n0, *, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """Rates of arms vs a control, vectorized over arrays of counts.

    Returns a dict of arrays: ``rate`` (x/n) with Wilson ``ci_low``/``ci_high``; ``lift`` =
    rate - control rate with the Newcomb (hybrid score) interval ``lift_ci_low``/``lift_ci_high``;
    ``p_value`` of the score test of equal rates; ``rel_lift`` = rate / control rate - 1 with the
    log-adjusted interval of the ratio minus one (statsmodels ``confint_proportions_2indep``,
    ``test_proportions_2indep``, ``proportion_confint``).
    """
    from statsmodels.stats.proportion import (confint_proportions_2indep, proportion_confint,
                                              test_proportions_2indep)

    x, n, x0, n0 = (np.asarray(a, dtype=float) for a in (x, n, x0, n0))
    lo, hi = proportion_confint(x, n, alpha=alpha, method="wilson")
    dlo, dhi = confint_proportions_2indep(x, n, x0, n0, method="newcomb", compare="diff", alpha=alpha)
    with np.errstate(all="ignore"):
        p = test_proportions_2indep(x, n, x0, n0, method="score", compare="diff").pvalue
        rlo, rhi = confint_proportions_2indep(x, n, x0, n0, method="log-adjusted", compare="ratio", alpha=alpha)
        rate, rate0 = x / n, x0 / n0
        rel = np.where(rate0 > 0, rate / rate0 - 1, np.nan)
    # both arms with no events (or all events): no evidence of a difference
    p = np.where((x + x0 == 0) | (x + x0 == n + n0), 1.0, p)
    return {"rate": rate, "ci_low": np.asarray(lo), "ci_high": np.asarray(hi), "lift": rate - rate0,
            "lift_ci_low": np.asarray(dlo), "lift_ci_high": np.asarray(dhi), "p_value": np.asarray(p, float),
            "rel_lift": rel, "rel_lift_ci_low": np.asarray(rlo) - 1, "rel_lift_ci_high": np.asarray(rhi) - 1}


def compare_means(y: np.ndarray, y0: np.ndarray, *, alpha: float = 0.05) -> dict[str, float]:
    """Mean of an arm vs the control: t interval of each mean, Welch interval and t-test of the
    difference (statsmodels ``CompareMeans``), relative lift = diff / control mean with a
    delta-method interval (normal quantile)."""
    from scipy import stats
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    d, d0 = DescrStatsW(y), DescrStatsW(y0)
    lo, hi = d.tconfint_mean(alpha=alpha) if len(y) > 1 else (np.nan, np.nan)
    cm = CompareMeans(d, d0)
    if len(y) > 1 and len(y0) > 1 and (d.std > 0 or d0.std > 0):
        dlo, dhi = cm.tconfint_diff(alpha=alpha, usevar="unequal")
        p = cm.ttest_ind(usevar="unequal")[1]
    else:
        dlo = dhi = p = np.nan
    m, m0 = d.mean, d0.mean
    diff = m - m0
    if m0 != 0 and len(y) > 1 and len(y0) > 1:
        v = d.var / len(y) / m0**2 + (m**2) * d0.var / len(y0) / m0**4
        z = stats.norm.ppf(1 - alpha / 2)
        rel, rlo, rhi = diff / m0, diff / m0 - z * math.sqrt(v), diff / m0 + z * math.sqrt(v)
    else:
        rel = rlo = rhi = np.nan
    return {"rate": m, "ci_low": lo, "ci_high": hi, "lift": diff, "lift_ci_low": dlo, "lift_ci_high": dhi,
            "p_value": p, "rel_lift": rel, "rel_lift_ci_low": rlo, "rel_lift_ci_high": rhi}


@dataclass(frozen=True)
class SRMResult:
    """Sample-ratio-mismatch test: chi-square of the arm counts against the design weights.

    ``status`` is ``ok``, ``warning`` (p < 0.01) or ``blocking`` (p < 0.001: do not read the
    experiment until the assignment is explained). ``summary`` columns: arm, n, expected,
    weight, share.
    """

    statistic: float
    p_value: float
    status: str
    weights_assumed: bool
    summary: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict:
        return {"p_value": _num(self.p_value), "statistic": _num(self.statistic), "status": self.status,
                "weights_assumed": self.weights_assumed,
                "observed": {str(r.arm): int(r.n) for r in self.summary.itertuples()},
                "expected": {str(r.arm): _num(r.expected) for r in self.summary.itertuples()}}

    def _repr_html_(self) -> str:
        return f"<p>SRM chi-square p = {self.p_value:.4g}: <b>{self.status}</b></p>" + self.summary.to_html(index=False)


def srm_test(counts: Mapping[str, int] | pd.Series, weights: Mapping[str, float] | None = None) -> SRMResult:
    """Chi-square goodness of fit of arm counts to the design weights (scipy ``chisquare``).

    Without ``weights`` an equal split is assumed (``weights_assumed=True``). Arms with a weight
    but no units count as 0 observed.
    """
    from scipy.stats import chisquare

    counts = pd.Series(counts, dtype="float64")
    assumed = weights is None
    if assumed:
        w = pd.Series(1.0, index=counts.index)
    else:
        w = pd.Series({str(k): float(v) for k, v in weights.items()})
        missing = [a for a in counts.index if a not in w.index]
        if missing:
            raise MofConfigError(f"--weights: no weight for arm {missing[0]!r} (arms: {', '.join(map(str, counts.index))})")
        # a designed arm with no units at all is the strongest mismatch: count it as 0
        counts = pd.concat([counts, pd.Series(0.0, index=[a for a in w.index if a not in counts.index])])
        w = w.reindex(counts.index)
    w = w / w.sum()
    expected = w * counts.sum()
    if len(counts) < 2:
        stat, p = 0.0, 1.0
    else:
        stat, p = chisquare(counts.to_numpy(), expected.to_numpy())
    status = "blocking" if p < SRM_BLOCKING else "warning" if p < SRM_WARNING else "ok"
    summ = pd.DataFrame({"arm": counts.index.astype(str), "n": counts.to_numpy().astype("int64"),
                         "expected": expected.to_numpy(), "weight": w.to_numpy(),
                         "share": (counts / counts.sum()).to_numpy()})
    return SRMResult(float(stat), float(p), status, assumed, summ)


def mde_proportion(baseline: float, n_treatment, n_control, *, alpha: float = 0.05, power: float = 0.8):
    """Minimum detectable absolute lift of a rate (two-sided), from Cohen's h.

    Solves ``NormalIndPower`` for the effect size ``h`` at sample sizes ``n_treatment``,
    ``n_control`` and converts back: ``p1 = sin(h/2 + asin(sqrt(p0)))**2``; returns ``p1 - p0``.
    """
    from statsmodels.stats.power import NormalIndPower

    if n_treatment < 2 or n_control < 2:
        return float("nan")
    h = NormalIndPower().solve_power(effect_size=None, nobs1=n_treatment, alpha=alpha, power=power,
                                     ratio=n_control / n_treatment, alternative="two-sided")
    p1 = math.sin(min(h / 2 + math.asin(math.sqrt(baseline)), math.pi / 2)) ** 2
    return p1 - baseline


def mde_mean(sd: float, n_treatment, n_control, *, alpha: float = 0.05, power: float = 0.8):
    """Minimum detectable difference of means: Cohen's d from ``NormalIndPower`` times ``sd``."""
    from statsmodels.stats.power import NormalIndPower

    if n_treatment < 2 or n_control < 2 or not np.isfinite(sd):
        return float("nan")
    d = NormalIndPower().solve_power(effect_size=None, nobs1=n_treatment, alpha=alpha, power=power,
                                     ratio=n_control / n_treatment, alternative="two-sided")
    return d * sd


@dataclass(frozen=True)
class SampleSize:
    """Companies needed to detect ``mde`` (absolute) on a ``baseline`` rate."""

    baseline: float
    mde: float
    alpha: float
    power: float
    ratio: float
    n_treatment: int
    n_control: int

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


def sample_size(baseline: float, mde: float, *, alpha: float = 0.05, power: float = 0.8,
                ratio: float = 1.0) -> SampleSize:
    """Sample size per arm for a two-sided test of ``baseline`` vs ``baseline + mde``.

    ``zt_ind_solve_power`` with Cohen's h (``proportion_effectsize``); ``ratio`` =
    n_control / n_treatment. Returns rounded-up counts.
    """
    from statsmodels.stats.power import zt_ind_solve_power
    from statsmodels.stats.proportion import proportion_effectsize

    if not (0 < baseline < 1) or not (0 < baseline + mde < 1) or mde == 0:
        raise MofConfigError(f"need 0 < baseline < 1 and 0 < baseline + mde < 1, mde != 0; got {baseline}, {mde}")
    h = abs(proportion_effectsize(baseline + mde, baseline))
    n1 = zt_ind_solve_power(effect_size=h, nobs1=None, alpha=alpha, power=power, ratio=ratio)
    return SampleSize(baseline, mde, alpha, power, ratio, int(math.ceil(n1)), int(math.ceil(n1 * ratio)))


def cuped(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """CUPED: ``y - theta * (x - mean(x))`` with ``theta = cov(y, x) / var(x)`` pooled over all units.

    Returns the adjusted outcome and ``theta``. The adjusted outcome has the same mean per
    arm in expectation (x is measured before assignment) and lower variance by the factor
    ``1 - corr(y, x)**2``.
    """
    y, x = np.asarray(y, float), np.asarray(x, float)
    vx = np.var(x, ddof=1)
    theta = float(np.cov(y, x, ddof=1)[0, 1] / vx) if vx > 0 else 0.0
    return y - theta * (x - x.mean()), theta


@dataclass(frozen=True)
class Readout:
    """An A/B(/n) readout.

    ``summary``: one row per (outcome, arm): outcome, metric (``rate`` or ``mean``), arm,
    is_control, n, events (successes, rates only), estimate (rate or mean; CUPED-adjusted if
    a covariate was given), ci_low, ci_high, lift (absolute, vs control), lift_ci_low,
    lift_ci_high, rel_lift (lift / control estimate), rel_lift_ci_low, rel_lift_ci_high,
    p_value, p_value_adj (``correction`` across all arm x outcome comparisons), significant
    (p_value_adj < alpha), mde (absolute lift detectable with 80% power at these n),
    low_data (n < 30 or fewer than 5 events/non-events), covariate (CUPED covariate or None).
    Control rows have no lift.
    """

    arm_column: str
    control: str
    outcomes: tuple[str, ...]
    alpha: float
    correction: str
    srm: SRMResult
    summary: pd.DataFrame = field(repr=False)
    source: str | None = None

    def to_dict(self) -> dict:
        """The ``--json`` shape: ``{"control", "alpha", "correction", "arms": [{"arm", "n",
        "outcomes": {name: {"rate" | "mean", "ci_low", "ci_high", "lift", "lift_ci_low",
        "lift_ci_high", "rel_lift", ..., "p_value", "p_value_adj", "low_data"}}}], "srm": {...}}``."""
        arms = []
        for arm, g in self.summary.groupby("arm", sort=False):
            entry = {"arm": str(arm), "n": int(g["n"].iloc[0]), "is_control": bool(g["is_control"].iloc[0]),
                     "outcomes": {}}
            for r in g.itertuples():
                entry["outcomes"][r.outcome] = {
                    r.metric: _num(r.estimate), "n": int(r.n), "ci_low": _num(r.ci_low), "ci_high": _num(r.ci_high),
                    "lift": _num(r.lift), "lift_ci_low": _num(r.lift_ci_low), "lift_ci_high": _num(r.lift_ci_high),
                    "rel_lift": _num(r.rel_lift), "rel_lift_ci_low": _num(r.rel_lift_ci_low),
                    "rel_lift_ci_high": _num(r.rel_lift_ci_high), "p_value": _num(r.p_value),
                    "p_value_adj": _num(r.p_value_adj), "mde": _num(r.mde), "low_data": bool(r.low_data),
                    **({"events": int(r.events)} if r.metric == "rate" else {}),
                    **({"covariate": r.covariate} if isinstance(r.covariate, str) else {}),
                }
            arms.append(entry)
        return {"source": self.source, "arm_column": self.arm_column, "control": self.control,
                "alpha": self.alpha, "correction": self.correction, "arms": arms, "srm": self.srm.to_dict()}

    def __str__(self) -> str:
        lines = [f"readout of {self.source or 'data'}: arm column {self.arm_column!r}, control {self.control!r}, "
                 f"{self.correction} correction"]
        for r in self.summary.itertuples():
            s = f"  {r.outcome:<14} {str(r.arm):<16} n={r.n:<8,} {r.metric} {r.estimate:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}]"
            if not r.is_control:
                s += (f"  lift {r.lift:+.4f} [{r.lift_ci_low:+.4f}, {r.lift_ci_high:+.4f}]"
                      f" ({r.rel_lift:+.1%})  p={r.p_value:.3g} adj={r.p_value_adj:.3g}")
            if r.low_data:
                s += "  LOW DATA"
            lines.append(s)
        lines.append(f"  SRM: chi-square p={self.srm.p_value:.3g} -> {self.srm.status}"
                     + (" (equal weights assumed)" if self.srm.weights_assumed else ""))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (f"<p><b>Readout</b> {self.source or ''}: control <code>{self.control}</code>, "
                f"{self.correction} correction, SRM p = {self.srm.p_value:.3g} ({self.srm.status})</p>")
        return head + self.summary.to_html(index=False, float_format=lambda v: f"{v:.4g}")


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _py(v):
    """A numpy scalar as the plain Python value (for readable error messages)."""
    return v.item() if hasattr(v, "item") else v


def _parse_outcome(spec: str) -> tuple[str, str | None]:
    for suffix in (":rate", ":mean"):
        if spec.endswith(suffix):
            return spec[: -len(suffix)], suffix[1:]
    return spec, None


def readout(data: pd.DataFrame, arm: str, outcomes: str | Sequence[str], control: str, *,
            metrics: Mapping[str, str] | None = None, weights: Mapping[str, float] | None = None,
            covariates: Mapping[str, str] | None = None, alpha: float = 0.05, correction: str = "holm",
            power: float = 0.8, source: str | None = None) -> Readout:
    """Read out an experiment from one row per unit.

    Parameters
    ----------
    data : one row per company (or customer), never modified.
    arm : column holding the arm.
    outcomes : outcome column(s); ``"col:rate"`` / ``"col:mean"`` force the metric.
    control : the control arm's value in ``arm``.
    metrics : ``{outcome: "rate" | "mean"}``; default: ``rate`` if the column only holds 0/1
        (or booleans), else ``mean``. A ``rate`` outcome with other values is an error.
    weights : design weights per arm for the SRM test (default: equal split, flagged).
    covariates : ``{outcome: pre_period_column}`` for CUPED (``mean`` outcomes only).
    alpha : level of the intervals and of ``significant``.
    correction : ``holm``, ``fdr_bh`` or ``none`` (statsmodels ``multipletests``).
    source : name of the data used in error messages.

    Returns
    -------
    Readout
    """
    from statsmodels.stats.multitest import multipletests

    src = source or "data"
    if correction not in ("holm", "fdr_bh", "none", "bonferroni"):
        raise MofConfigError(f"--correction must be holm, fdr_bh, bonferroni or none, got {correction!r}")
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    specs = [_parse_outcome(o) for o in outcomes]
    metrics = dict(metrics or {})
    for name, m in specs:
        if m:
            metrics[name] = m
    names = [n for n, _ in specs]
    if not names:
        raise MofConfigError("give at least one --outcome")
    covariates = dict(covariates or {})
    for col in [arm, *names, *covariates.values()]:
        if col not in data.columns:
            raise MofInputError(f"column not found (columns: {', '.join(map(str, data.columns))})",
                                source=src, column=col)
    a = data[arm]
    if a.isna().any():
        i = int(np.flatnonzero(a.isna().to_numpy())[0])
        raise MofInputError("missing arm value", source=src, column=arm, row=i + 1, value=None)
    a = a.astype("str")
    levels = list(dict.fromkeys(a))
    if str(control) not in levels:
        raise MofInputError(f"control value {control!r} not found (values: {', '.join(levels[:10])})",
                            source=src, column=arm)
    if len(levels) < 2:
        raise MofInputError(f"only one arm ({levels[0]!r}): nothing to compare", source=src, column=arm)
    control = str(control)
    levels = [control] + sorted(x for x in levels if x != control)
    counts = a.value_counts().reindex(levels)
    srm = srm_test(counts, weights)

    rows = []
    for name in names:
        y = data[name]
        if pd.api.types.is_bool_dtype(y.dtype):
            y = y.astype("float64")
        num = pd.to_numeric(y, errors="coerce")
        bad = num.isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            what = "missing value (NaN)" if pd.isna(y.iloc[i]) else "not a number"
            raise MofInputError(f"{what} in outcome; drop or fill those rows first", source=src, column=name,
                                row=i + 1, value=_py(y.iloc[i]))
        num = num.astype("float64").to_numpy()
        binary = bool(np.isin(num, (0.0, 1.0)).all())
        metric = metrics.get(name, "rate" if binary else "mean")
        if metric not in ("rate", "mean"):
            raise MofConfigError(f"metric of {name!r} must be rate or mean, got {metric!r}")
        if metric == "rate" and not binary:
            i = int(np.flatnonzero(~np.isin(num, (0.0, 1.0)))[0])
            raise MofInputError("a rate needs a binary (0/1) outcome", source=src, column=name, row=i + 1,
                                value=_py(data[name].iloc[i]))
        cov = covariates.get(name)
        if cov is not None:
            if metric != "mean":
                raise MofConfigError(f"CUPED covariate given for {name!r}, which is a rate: CUPED applies to means")
            xc = pd.to_numeric(data[cov], errors="coerce")
            if xc.isna().any():
                i = int(np.flatnonzero(xc.isna().to_numpy())[0])
                raise MofInputError("missing or non-numeric covariate value", source=src, column=cov, row=i + 1,
                                    value=_py(data[cov].iloc[i]))
            num, _theta = cuped(num, xc.to_numpy())
        groups = {lv: num[(a == lv).to_numpy()] for lv in levels}
        y0 = groups[control]
        for lv in levels:
            g = groups[lv]
            row = {"outcome": name, "metric": metric, "arm": lv, "is_control": lv == control, "n": len(g),
                   "covariate": cov}
            if metric == "rate":
                r = compare_proportions([g.sum()], [len(g)], [y0.sum()], [len(y0)], alpha=alpha)
                r = {k: float(v[0]) for k, v in r.items()}
                ev = int(g.sum())
                row["events"] = ev
                row["low_data"] = len(g) < LOW_DATA_N or min(ev, len(g) - ev) < LOW_DATA_EVENTS
                row["mde"] = mde_proportion(float(y0.mean()), len(g), len(y0), alpha=alpha, power=power)
            else:
                r = compare_means(g, y0, alpha=alpha)
                row["events"] = pd.NA
                row["low_data"] = len(g) < LOW_DATA_N
                sd = float(np.sqrt((np.var(g, ddof=1) + np.var(y0, ddof=1)) / 2)) if min(len(g), len(y0)) > 1 else np.nan
                row["mde"] = mde_mean(sd, len(g), len(y0), alpha=alpha, power=power)
            row["estimate"] = r.pop("rate")
            row.update(r)
            if lv == control:
                for k in ("lift", "lift_ci_low", "lift_ci_high", "rel_lift", "rel_lift_ci_low", "rel_lift_ci_high",
                          "p_value", "mde"):
                    row[k] = np.nan
            rows.append(row)
    cols = ["outcome", "metric", "arm", "is_control", "n", "events", "estimate", "ci_low", "ci_high", "lift",
            "lift_ci_low", "lift_ci_high", "rel_lift", "rel_lift_ci_low", "rel_lift_ci_high", "p_value",
            "p_value_adj", "significant", "mde", "low_data", "covariate"]
    summ = pd.DataFrame(rows)
    summ["events"] = summ["events"].astype("Int64")
    tested = ~summ["is_control"] & summ["p_value"].notna()
    summ["p_value_adj"] = np.nan
    if tested.any():
        pv = summ.loc[tested, "p_value"].to_numpy()
        summ.loc[tested, "p_value_adj"] = pv if correction == "none" else multipletests(pv, alpha=alpha,
                                                                                        method=correction)[1]
    summ["significant"] = summ["p_value_adj"] < alpha
    return Readout(arm, control, tuple(names), alpha, correction, srm, summ[cols].reset_index(drop=True), source)


# ------------------------------------------------------------------------ experiment data
_DAY = 86_400.0


def pre_assignment_features(workspace, experiment_id: str, *, contacts: bool = True) -> pd.DataFrame:
    """Per-company behavior from ``api_events`` strictly before the company's ``assigned_at``.

    Only pre-assignment behavior is used, so the features cannot be affected by the arm (the
    condition for uplift modelling). Computed as one Ibis expression (runs on the workspace's
    engine). Companies with no call before assignment get zeros (and NaN recency).

    Returns
    -------
    DataFrame, one row per assigned company: company_id, arm, calls, errors, error_rate
    (errors / calls), auth_error_share (401/403 among errors), distinct_endpoints, active_days
    (distinct UTC days with a call), days_since_signup, days_since_first_call,
    days_since_last_call (days, at assignment), sandbox_calls, production_calls; with
    ``contacts=True`` (and a ``contacts`` table) also n_contacts, n_unsubscribed (unsubscribed
    before assignment) and n_legal, n_security, n_finance, n_product, n_engineering,
    n_executive: contacts per coarse job-title group (:data:`TITLE_GROUPS`; the email a
    company would get depends on who works there).
    """
    import ibis

    from mof_experiments.workspace import to_pandas

    asg = workspace.table("assignments")
    asg = asg.filter(asg.experiment_id == experiment_id).select("company_id", "arm", "assigned_at")
    co = workspace.table("companies").select("company_id", "signup_at")
    ev = workspace.table("api_events").select("company_id", "ts", "environment", "endpoint", "status_code")
    j = ev.join(asg, "company_id")
    j = j.filter(j.ts < j.assigned_at)
    err = j.status_code >= 400
    auth = j.status_code.isin([401, 403])
    agg = j.group_by("company_id").aggregate(
        calls=j.ts.count(), errors=j.ts.count(where=err), auth_errors=j.ts.count(where=auth),
        distinct_endpoints=j.endpoint.nunique(), active_days=j.ts.date().nunique(),
        first_call=j.ts.min(), last_call=j.ts.max(),
        sandbox_calls=j.ts.count(where=j.environment == "sandbox"),
        production_calls=j.ts.count(where=j.environment == "production"))
    t = asg.join(co, "company_id", how="left").drop("company_id_right")
    t = t.left_join(agg, "company_id").drop("company_id_right")

    def days(a, b):
        return (a.epoch_seconds() - b.epoch_seconds()).cast("float64") / _DAY

    t = t.select("company_id", "arm", "calls", "errors", "auth_errors", "distinct_endpoints", "active_days",
                 "sandbox_calls", "production_calls",
                 days_since_signup=days(t.assigned_at, t.signup_at),
                 days_since_first_call=days(t.assigned_at, t.first_call),
                 days_since_last_call=days(t.assigned_at, t.last_call))
    df = to_pandas(t.order_by("company_id"))
    for c in ("calls", "errors", "auth_errors", "distinct_endpoints", "active_days", "sandbox_calls",
              "production_calls"):
        df[c] = df[c].fillna(0).astype("int64")
    calls = df["calls"].to_numpy()
    df["error_rate"] = np.where(calls > 0, df["errors"] / np.maximum(calls, 1), 0.0)
    df["auth_error_share"] = np.where(df["errors"] > 0, df["auth_errors"] / np.maximum(df["errors"], 1), 0.0)
    for c in ("days_since_signup", "days_since_first_call", "days_since_last_call"):
        df[c] = df[c].astype("float64")
    cols = ["company_id", "arm", "calls", "errors", "error_rate", "auth_error_share", "distinct_endpoints",
            "active_days", "days_since_signup", "days_since_first_call", "days_since_last_call", "sandbox_calls",
            "production_calls"]
    df = df[cols]
    if contacts and workspace.has("contacts"):
        df = df.merge(_contact_features(workspace, experiment_id), on="company_id", how="left")
        for c in CONTACT_FEATURES:
            df[c] = df[c].fillna(0).astype("int64")
    return df.reset_index(drop=True)


#: Coarse title groups for contact features (regular expressions on the lower-cased job title).
#: A simple, documented stand-in for a persona classifier: who at the company would receive
#: which email matters for uplift. The first matching group wins, in this order.
TITLE_GROUPS = {
    "legal": r"counsel|councel|legal|attorney|abogado|juridique|\bgc\b|\bclo\b",
    "security": r"secur|\bciso\b|\bcso\b|infosec|appsec|sécurité",
    "finance": r"financ|finacial|\bcfo\b|fp&a|controller|treasurer|finanz",
    "product": r"product|produkt|produit|producto|prodcut|\bpm\b|\bcpo\b",
    "engineering": r"engineer|develop|desarroll|entwickler|ingénieur|sofware|\bswe\b|\bcto\b|\bdev|"
                   r"platform|tech lead|reliability|\bvp eng",
    "executive": r"\bceo\b|founder|fundador|president|managing director|owner|geschäftsführer|"
                 r"directeur général",
}
CONTACT_FEATURES = ("n_contacts", "n_unsubscribed", *(f"n_{g}" for g in TITLE_GROUPS))


def _contact_features(workspace, experiment_id: str) -> pd.DataFrame:
    asg = _existing(workspace, experiment_id)[["company_id", "assigned_at"]]
    c = workspace.read("contacts", ["contact_id", "company_id", "job_title", "unsubscribed_at"])
    c = c.merge(asg, on="company_id", how="inner")
    title = c["job_title"].fillna("").astype("str").str.lower()
    group = pd.Series("other", index=c.index, dtype="str")
    for g, rx in reversed(list(TITLE_GROUPS.items())):  # earlier groups win
        group = group.mask(title.str.contains(rx, regex=True) & ~title.str.contains("marketing"), g)
    c["unsub"] = (c["unsubscribed_at"] < c["assigned_at"]).fillna(False)
    out = pd.crosstab(c["company_id"], group).reindex(columns=list(TITLE_GROUPS), fill_value=0)
    out.columns = [f"n_{g}" for g in out.columns]
    out["n_contacts"] = c.groupby("company_id").size()
    out["n_unsubscribed"] = c.groupby("company_id")["unsub"].sum()
    return out.reset_index().rename(columns={"index": "company_id"})[["company_id", *CONTACT_FEATURES]]


def conversion_outcomes(workspace, experiment_id: str, *, window_days: float = 30,
                        min_success: int = 1) -> pd.DataFrame:
    """Did each assigned company reach production within ``window_days`` after ``assigned_at``?

    ``first_production_at`` is the observed one from :func:`mof_experiments.funnel.label`
    (first 2xx production call). ``converted`` = ``assigned_at <= first_production_at <
    assigned_at + window_days``; ``complete`` says whether the whole window is observed (before
    the funnel's ``as_of``). Returns company_id, arm, assigned_at, first_production_at,
    converted (0/1 int), complete (bool).
    """
    from mof_experiments.funnel import default_as_of, label

    as_of = default_as_of(workspace)
    f = label(workspace, as_of, min_success=min_success)[["company_id", "first_production_at"]]
    asg = _existing(workspace, experiment_id)
    if asg.empty:
        raise MofInputError(f"no assignments for experiment {experiment_id!r}", source=str(workspace.path),
                            column="experiment_id")
    df = asg[["company_id", "arm", "assigned_at"]].merge(f, on="company_id", how="left")
    w = pd.Timedelta(days=window_days)
    fp = df["first_production_at"]
    df["converted"] = ((fp >= df["assigned_at"]) & (fp < df["assigned_at"] + w)).fillna(False).astype("int64")
    df["complete"] = (df["assigned_at"] + w) <= pd.Timestamp(as_of)
    return df.sort_values("company_id").reset_index(drop=True)


def experiment_outcomes(workspace, experiment_id: str, *, window_days: float = 30) -> pd.DataFrame:
    """:func:`conversion_outcomes` joined with :func:`pre_assignment_features` (one row per
    assigned company), with an ``experiment_id`` column: the table ``mof experiment outcomes``
    writes, ready for :func:`readout` and for uplift models."""
    out = conversion_outcomes(workspace, experiment_id, window_days=window_days)
    feats = pre_assignment_features(workspace, experiment_id).drop(columns=["arm"])
    df = out.merge(feats, on="company_id", how="left")
    df.insert(0, "experiment_id", experiment_id)
    return df


def load_readout_input(spec: str, *, workspace_path=None) -> tuple[pd.DataFrame, str]:
    """Read the readout input: a CSV/Parquet/JSONL file, or ``workspace:TABLE`` (a table of the
    workspace, e.g. ``workspace:experiment_outcomes``). Returns (frame, source name)."""
    if spec.startswith("workspace:"):
        from mof_experiments.workspace import Workspace

        name = spec.split(":", 1)[1]
        with Workspace(workspace_path, read_only=True, must_exist=True) as ws:
            return ws.read(name), f"{ws.path}:{name}"
    from mof_experiments.workspace import read_input_file

    df = read_input_file(spec)
    return df, str(spec)


__all__ = ["DEFAULT_SALT", "GLOBAL_HOLDOUT_SALT", "HOLDOUT_ARM", "ELIGIBLE_ARM", "hash_unit", "parse_arms",
           "assign", "assign_global_holdout", "assign_workspace", "AssignmentResult", "excluded_companies",
           "compare_proportions", "compare_means", "srm_test", "SRMResult", "mde_proportion", "mde_mean",
           "sample_size", "SampleSize", "cuped", "readout", "Readout", "pre_assignment_features",
           "conversion_outcomes", "experiment_outcomes", "load_readout_input", "TITLE_GROUPS",
           "CONTACT_FEATURES"]
