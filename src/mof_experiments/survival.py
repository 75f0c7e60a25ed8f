"""Time to production by engagement tier: landmark construction, Kaplan-Meier, Cox.

Why a landmark (and not "ever opened")
--------------------------------------
Grouping companies by engagement measured over their whole follow-up ("opened at least one
email, ever") creates **immortal-time bias**: to be counted as engaged a company had to stay
in the funnel long enough to receive and open emails, so the engaged group is credited with
time in which, by construction, its outcome could not have happened yet (and emails stop when
a company converts, so fast converters have fewer chances to open). The comparison then says
more about follow-up length than about engagement.

:func:`landmark_table` fixes this with a **landmark analysis**: time zero is the landmark
``landmark_days`` after enrollment (``assignments.assigned_at``, when the email sequence
starts). Engagement is measured only in ``[assigned_at, landmark)``; only companies still in
sandbox and still observed at the landmark are kept; follow-up (``duration``) starts at the
landmark. Every company's tier is therefore known at time zero and depends on nothing that
happens afterwards, so no group gets immortal time. The price: conversions before the
landmark are not analysed, and engagement after the landmark is ignored (the analysis
answers "given what we saw in the first week, who converts faster?"). It remains a
correlation: intent drives both opening and converting (the randomized holdout in
:func:`mof_experiments.attribution.holdout_effect` is the causal answer).

Tiers: ``not emailed`` (no message delivered before the landmark, e.g. the holdout),
``no opens``, ``1 open``, ``2+ opens`` (distinct messages with a human open or click before the
landmark).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.dates import SECONDS_PER_DAY
from mof_experiments.errors import MofInputError

TIERS = ("not emailed", "no opens", "1 open", "2+ opens")
LANDMARK_COLUMNS = ("company_id", "arm", "assigned_at", "landmark_at", "tier", "opens_before_landmark",
                    "delivered_before_landmark", "duration", "event")


def landmark_table(assignments: pd.DataFrame, messages: pd.DataFrame, engagements: pd.DataFrame,
                   funnel: pd.DataFrame, *, as_of, landmark_days: float = 7.0,
                   experiment_id: str | None = None) -> pd.DataFrame:
    """Build the landmark data set (see the module docstring for why).

    Parameters
    ----------
    assignments : canonical ``assignments`` (time zero of enrollment: ``assigned_at``).
    messages : :func:`~mof_experiments.engagement.message_engagement` output (for delivery times).
    engagements : :func:`~mof_experiments.engagement.human_engagements` output.
    funnel : :func:`mof_experiments.funnel.label` output as of ``as_of``.
    as_of : the censoring time: the cut-off the funnel was labeled at.
    landmark_days : days from enrollment to the landmark (default 7).
    experiment_id : keep only this experiment's assignments (default: all; one row per company,
        the earliest assignment).

    Returns
    -------
    One row per company at risk at the landmark, columns ``LANDMARK_COLUMNS``: ``tier`` (one of
    ``TIERS``), ``opens_before_landmark`` (distinct messages engaged with in
    ``[assigned_at, landmark_at)``), ``delivered_before_landmark``, ``duration`` (days from the
    landmark to first production, or to ``as_of`` if censored), ``event`` (1 = reached production).
    Excluded: companies that converted before the landmark, and those whose landmark is after
    ``as_of``.
    """
    for df, cols, src in ((assignments, ["company_id", "assigned_at"], "assignments"),
                          (messages, ["message_id", "company_id", "delivered_at"], "messages"),
                          (engagements, ["message_id", "ts"], "engagements"),
                          (funnel, ["company_id", "first_production_at"], "funnel")):
        require_columns(df, cols, src)
    if not landmark_days >= 0:
        raise MofInputError(f"landmark_days must be >= 0, got {landmark_days!r}")
    a = assignments if experiment_id is None else assignments[assignments["experiment_id"] == experiment_id]
    if a.empty:
        raise MofInputError(f"no assignments for experiment {experiment_id!r}", source="assignments",
                            column="experiment_id")
    a = a.sort_values("assigned_at", kind="stable").drop_duplicates("company_id")
    cols = ["company_id", "assigned_at"] + (["arm"] if "arm" in a else [])
    lm = a[cols].copy()
    if "arm" not in lm:
        lm["arm"] = pd.NA
    lm["landmark_at"] = lm["assigned_at"] + pd.Timedelta(days=landmark_days)
    end = pd.Timestamp(as_of)
    if end.tzinfo is None:
        end = end.tz_localize("UTC")
    fp = funnel.drop_duplicates("company_id").set_index("company_id")["first_production_at"]
    lm["first_production_at"] = lm["company_id"].map(fp)
    at_risk = (lm["landmark_at"] <= end) & ~(lm["first_production_at"] < lm["landmark_at"]).fillna(False)
    lm = lm[at_risk.to_numpy()].copy()

    win = lm.set_index("company_id")[["assigned_at", "landmark_at"]]
    msg = messages[["message_id", "company_id", "delivered_at"]].join(win, on="company_id", how="inner")
    dl = msg[(msg["delivered_at"] >= msg["assigned_at"]) & (msg["delivered_at"] < msg["landmark_at"])]
    eng = engagements[["message_id", "ts"]].merge(msg[["message_id", "company_id", "assigned_at", "landmark_at"]],
                                                  on="message_id")
    eng = eng[(eng["ts"] >= eng["assigned_at"]) & (eng["ts"] < eng["landmark_at"])]
    lm["delivered_before_landmark"] = lm["company_id"].map(dl.groupby("company_id").size()).fillna(0).astype("int64")
    lm["opens_before_landmark"] = lm["company_id"].map(eng.groupby("company_id")["message_id"].nunique()) \
        .fillna(0).astype("int64")
    o = lm["opens_before_landmark"]
    lm["tier"] = np.select([lm["delivered_before_landmark"] == 0, o == 0, o == 1], list(TIERS[:3]), TIERS[3])
    lm["tier"] = pd.Categorical(lm["tier"], categories=list(TIERS))
    conv = lm["first_production_at"].notna() & (lm["first_production_at"] < end)
    stop = lm["first_production_at"].where(conv, end)
    lm["duration"] = (stop - lm["landmark_at"]).dt.total_seconds() / SECONDS_PER_DAY
    lm["event"] = conv.astype("int64")
    return lm[list(LANDMARK_COLUMNS)].reset_index(drop=True)


def time_to_production_table(funnel: pd.DataFrame, *, by: pd.Series | None = None, name: str = "group") -> pd.DataFrame:
    """Time from sign-up to first production call (days), censored at ``as_of``, for survival fits.

    Only companies that made a first API call are at risk. Returns company_id, ``name`` (from
    ``by``, a Series indexed by company_id; ``all`` when None), duration (``days_to_production``,
    else ``days_observed``), event (1 = reached production).
    """
    f = funnel[funnel["first_call_at"].notna()]
    ev = f["days_to_production"].notna()
    out = pd.DataFrame({"company_id": f["company_id"].to_numpy(),
                        "duration": f["days_to_production"].where(ev, f["days_observed"]).to_numpy(float),
                        "event": ev.astype("int64").to_numpy()})
    out[name] = "all" if by is None else out["company_id"].map(by).fillna("unknown").astype(str).to_numpy()
    return out


@dataclass(frozen=True)
class KaplanMeier:
    """Kaplan-Meier curves per tier (statsmodels ``SurvfuncRight``).

    ``curves``: tier, time (days since landmark), surv (probability still in sandbox), ci_low,
    ci_high (pointwise 95%, log(-log S) transform of Greenwood's SE from statsmodels). ``summary``: tier, companies, events, median_days (NaN if not reached),
    converted_by (``1 - S(horizon_days)``), converted_by_ci_low / _ci_high (pointwise 95%,
    log-log transform of Greenwood's SE), horizon_days.
    """

    curves: pd.DataFrame
    summary: pd.DataFrame
    horizon_days: float

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False, float_format=lambda v: f"{v:.3f}")


def _surv_at(sf, t: float) -> tuple[float, float]:
    times = np.asarray(sf.surv_times)
    i = np.searchsorted(times, t, side="right") - 1
    if i < 0:
        return 1.0, 0.0
    return float(sf.surv_prob[i]), float(sf.surv_prob_se[i])


def _loglog_ci(s: np.ndarray, se: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI for S(t) on the log(-log S) scale (Kalbfleisch-Prentice), from Greenwood's SE."""
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = se / (s * np.abs(np.log(s)))
        lo, hi = s ** np.exp(z * sd), s ** np.exp(-z * sd)
    ok = (s > 0) & (s < 1) & (se > 0)
    return np.where(ok, lo, s), np.where(ok, hi, s)


def kaplan_meier(landmark: pd.DataFrame, *, group: str = "tier", horizon_days: float = 30.0) -> KaplanMeier:
    """Kaplan-Meier estimate of time to production per group (statsmodels ``SurvfuncRight``).

    ``converted_by`` is the share converted within ``horizon_days`` of the landmark,
    ``1 - S(horizon_days)``, with a pointwise 95% CI from the log(-log S) transform.
    """
    from scipy.stats import norm
    from statsmodels.duration.survfunc import SurvfuncRight

    z = norm.ppf(0.975)
    curves, rows = [], []
    groups = landmark[group].cat.categories if hasattr(landmark[group], "cat") else sorted(landmark[group].unique())
    for g in groups:
        d = landmark[landmark[group] == g]
        if d.empty:
            continue
        sf = SurvfuncRight(d["duration"].to_numpy(float), d["event"].to_numpy(int))
        t = np.asarray(sf.surv_times, float)
        s = np.asarray(sf.surv_prob, float)
        lo, hi = _loglog_ci(s, np.asarray(sf.surv_prob_se, float), z)
        curves.append(pd.DataFrame({group: g, "time": np.r_[0.0, t], "surv": np.r_[1.0, s],
                                    "ci_low": np.r_[1.0, lo], "ci_high": np.r_[1.0, hi], "n": len(d)}))
        sp, se = _surv_at(sf, horizon_days)
        s_lo, s_hi = (float(v[0]) for v in _loglog_ci(np.array([sp]), np.array([se]), z))
        try:
            med = float(sf.quantile(0.5))
        except Exception:
            med = np.nan
        rows.append(dict(tier=g, companies=len(d), events=int(d["event"].sum()), median_days=med,
                         converted_by=1 - sp, converted_by_ci_low=1 - s_hi, converted_by_ci_high=1 - s_lo,
                         horizon_days=horizon_days))
    summ = pd.DataFrame(rows).rename(columns={"tier": group})
    return KaplanMeier(curves=pd.concat(curves, ignore_index=True), summary=summ, horizon_days=horizon_days)


@dataclass(frozen=True)
class CoxResult:
    """Cox proportional-hazards fit (statsmodels ``PHReg``).

    ``summary`` columns: term, hazard_ratio, ci_low, ci_high, coef, std_err, p_value. A hazard
    ratio above 1 means faster conversion than the reference tier.
    """

    summary: pd.DataFrame
    n: int
    events: int
    formula: str
    reference: str

    def hazard_ratio(self, term: str) -> float:
        return float(self.summary.set_index("term").loc[term, "hazard_ratio"])

    def _repr_html_(self) -> str:
        return (f"<p>Cox PH: <code>{self.formula}</code> (reference tier: {self.reference}), n = {self.n}, "
                f"events = {self.events}</p>" + self.summary.to_html(index=False, float_format=lambda v: f"{v:.3g}"))


def cox_by_tier(landmark: pd.DataFrame, *, controls: tuple[str, ...] = (), reference: str | None = None) -> CoxResult:
    """Cox model of time to production on engagement tier (+ numeric controls), Breslow ties.

    ``reference`` is the baseline tier (default: ``not emailed`` when present, else ``no opens``).
    Terms are named ``tier[<name>]`` and the control column names.
    """
    from statsmodels.duration.hazard_regression import PHReg

    d = landmark.dropna(subset=["duration", "event", *controls]).copy()
    d["tier"] = d["tier"].astype(str)
    present = [t for t in TIERS if (d["tier"] == t).any()]
    if reference is None:
        reference = "not emailed" if "not emailed" in present else "no opens"
    if reference not in present:
        raise MofInputError(f"reference tier {reference!r} has no companies (tiers: {', '.join(present)})")
    others = [t for t in present if t != reference]
    X = pd.DataFrame({f"tier[{t}]": (d["tier"] == t).astype(float) for t in others}, index=d.index)
    for c in controls:
        X[c] = d[c].astype(float)
    fit = PHReg(d["duration"].to_numpy(float), X.to_numpy(float), status=d["event"].to_numpy(int),
                ties="breslow").fit()
    ci = np.asarray(fit.conf_int())
    params, bse, pv = np.asarray(fit.params), np.asarray(fit.bse), np.asarray(fit.pvalues)
    summ = pd.DataFrame({"term": list(X.columns), "hazard_ratio": np.exp(params), "ci_low": np.exp(ci[:, 0]),
                         "ci_high": np.exp(ci[:, 1]), "coef": params, "std_err": bse, "p_value": pv})
    formula = "duration ~ tier" + "".join(f" + {c}" for c in controls)
    return CoxResult(summary=summ, n=len(d), events=int(d["event"].sum()), formula=formula, reference=reference)


__all__ = ["TIERS", "LANDMARK_COLUMNS", "landmark_table", "kaplan_meier", "KaplanMeier", "cox_by_tier", "CoxResult",
           "time_to_production_table"]
