"""Assisted conversion, the content table, best content and the next-send allocation.

Counting rules (public API; every number in the content-optimization report comes from here)
--------------------------------------------------------------------------------------------
- **Engagement** is a human open or click (:func:`mof_experiments.engagement.human_engagements`:
  machine opens excluded by default).
- **Assisted conversion**: a company's conversion (``first_production_at`` from the funnel) is
  *assisted* by a message when a contact of that company engaged with that message at a time
  ``t`` with ``first_production_at - window_days <= t < first_production_at``. Engagement at or
  after the conversion never assists. **One conversion may credit several messages** (every
  message engaged with inside the window gets the credit; credit is not split), so summing
  assisted counts over messages over-counts conversions; ``assisted_companies`` in the content
  table counts each company once per row.
- **Content table** (the article's table): one row per zone x topic x persona, where persona is
  the *recipient's* persona (the ``personas`` table written by ``mof segment``). Rates are per
  delivered message with Wilson 95% intervals and their n: ``open_rate``, ``click_rate``,
  ``assisted_rate``. Ratings ``low`` / ``mid`` / ``high`` are terciles of the rate across the
  table's rows. ``too_little_data`` is true when any of the three intervals is wider than
  ``max_ci_width`` (the article's "estimated" rows).
- **Best content** per persona: among the persona's rows with at least 30 delivered messages,
  the row with the highest posterior probability of having the highest assisted-conversion rate
  per delivered message, under independent ``Beta(a + assisted, b + delivered - assisted)``
  posteriors whose prior is centred on the table's pooled assisted rate with the weight of 20
  messages (:func:`resolve_prior`), estimated from Monte-Carlo draws with a seed.
- **Next-send allocation** by Thompson sampling: each of the next ``n`` sends to a persona goes
  to the content whose posterior draw is highest.
- **Causal effect of email** (:func:`holdout_effect`): conversion within ``window_days`` of
  enrollment in the emailed arm(s) vs the randomized holdout. The content table is
  observational; only this comparison is causal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mof_experiments.errors import MofInputError

CONTENT_KEYS = ("zone", "topic", "persona")
CONTENT_COLUMNS = (
    "zone", "topic", "persona", "sends", "delivered",
    "opened", "open_rate", "open_ci_low", "open_ci_high",
    "clicked", "click_rate", "click_ci_low", "click_ci_high",
    "assisted", "assisted_rate", "assisted_ci_low", "assisted_ci_high", "assisted_companies",
    "open_rating", "assisted_rating", "ci_width_max", "too_little_data",
)
RATINGS = ("low", "mid", "high")
_DAY = pd.Timedelta(days=1)


def _require(df: pd.DataFrame, cols, source: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise MofInputError(f"missing column(s) {', '.join(missing)}", source=source)


def assisted_messages(messages: pd.DataFrame, engagements: pd.DataFrame, funnel: pd.DataFrame, *,
                      window_days: float = 14.0) -> pd.DataFrame:
    """Flag each message that assisted its company's conversion.

    Parameters
    ----------
    messages : :func:`~mof_experiments.engagement.message_engagement` output (one row per message).
    engagements : :func:`~mof_experiments.engagement.human_engagements` output (every human open /
        click; all of them count, not only the first).
    funnel : :func:`mof_experiments.funnel.label` output (``company_id``, ``first_production_at``).
    window_days : the attribution window in days (default 14).

    Returns
    -------
    ``messages`` with added columns ``first_production_at``, ``assisted`` (bool: engaged at a time
    ``t`` with ``first_production_at - window_days <= t < first_production_at``) and
    ``last_engaged_before_conversion_at`` (the latest such ``t``; NaT if none).
    """
    _require(messages, ["message_id", "company_id"], "messages")
    _require(engagements, ["message_id", "ts"], "engagements")
    _require(funnel, ["company_id", "first_production_at"], "funnel")
    if not window_days > 0:
        raise MofInputError(f"window_days must be positive, got {window_days!r}")
    fp = funnel.drop_duplicates("company_id").set_index("company_id")["first_production_at"]
    out = messages.copy()
    out["first_production_at"] = pd.Series(fp.reindex(out["company_id"]).to_numpy(), index=out.index, dtype=fp.dtype)
    e = engagements[["message_id", "ts"]].merge(out[["message_id", "first_production_at"]], on="message_id")
    inside = (e["ts"] < e["first_production_at"]) & (e["ts"] >= e["first_production_at"] - window_days * _DAY)
    last = e[inside.fillna(False).to_numpy()].groupby("message_id")["ts"].max()
    out["last_engaged_before_conversion_at"] = pd.Series(last.reindex(out["message_id"]).to_numpy(), index=out.index,
                                                         dtype=engagements["ts"].dtype)
    out["assisted"] = out["last_engaged_before_conversion_at"].notna()
    return out


def _wilson(k: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    from statsmodels.stats.proportion import proportion_confint

    k, n = np.asarray(k, float), np.asarray(n, float)
    lo, hi = proportion_confint(k, np.where(n > 0, n, 1), alpha=alpha, method="wilson")
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


def tercile_rating(values: pd.Series) -> pd.Series:
    """``low`` / ``mid`` / ``high`` by tercile of rank across rows (ties broken by order).

    With fewer than three non-missing values every row is ``mid``; missing values stay missing.
    """
    v = values.astype(float)
    ok = v.notna()
    out = pd.Series(pd.NA, index=values.index, dtype="object")
    if ok.sum() < 3:
        out[ok] = "mid"
        return out
    r = v[ok].rank(method="first")
    out[ok] = pd.qcut(r, 3, labels=list(RATINGS)).astype(str).to_numpy()
    return out


def content_table(assisted: pd.DataFrame, personas: pd.DataFrame | None = None, *,
                  max_ci_width: float = 0.15, alpha: float = 0.05) -> pd.DataFrame:
    """The article's table: zone x topic x recipient persona, with n, rates, CIs, ratings, flag.

    Parameters
    ----------
    assisted : :func:`assisted_messages` output.
    personas : ``contact_id``, ``persona`` (the workspace ``personas`` table). Messages to
        contacts without a persona count as ``OTHER``. If None, ``assisted`` must already have
        a ``persona`` column.
    max_ci_width : a row is ``too_little_data`` when any rate's CI is wider than this
        (proportion points; default 0.15).
    alpha : 1 - confidence level of the Wilson intervals.

    Returns
    -------
    DataFrame with ``CONTENT_COLUMNS``: ``sends`` (messages sent), ``delivered`` (the n of every
    rate), ``opened`` / ``clicked`` / ``assisted`` (delivered messages opened, clicked, that
    assisted a conversion), ``*_rate`` = count / delivered, ``*_ci_low`` / ``*_ci_high`` (Wilson),
    ``assisted_companies`` (distinct companies whose conversion the row assisted),
    ``open_rating`` / ``assisted_rating`` (terciles across rows), ``ci_width_max``,
    ``too_little_data``. Sorted by persona, then assisted rate (highest first).
    """
    _require(assisted, ["zone", "topic", "delivered", "opened", "clicked", "assisted", "company_id"], "messages")
    m = assisted
    if personas is not None:
        _require(personas, ["contact_id", "persona"], "personas")
        m = m.drop(columns=["persona"], errors="ignore").merge(
            personas[["contact_id", "persona"]].drop_duplicates("contact_id"), on="contact_id", how="left")
    elif "persona" not in m:
        raise MofInputError("no persona column and no personas table (run `mof segment`)", source="messages")
    m = m.assign(persona=m["persona"].fillna("OTHER").astype(str))
    keys = list(CONTENT_KEYS)
    sends = m.groupby(keys).size().rename("sends")
    d = m[m["delivered"].astype(bool)]
    g = d.groupby(keys).agg(delivered=("message_id", "size"), opened=("opened", "sum"),
                            clicked=("clicked", "sum"), assisted=("assisted", "sum"))
    comp = d[d["assisted"]].groupby(keys)["company_id"].nunique().rename("assisted_companies")
    t = pd.concat([sends, g, comp], axis=1).fillna(0).reset_index()
    for c in ("sends", "delivered", "opened", "clicked", "assisted", "assisted_companies"):
        t[c] = t[c].astype("int64")
    n = t["delivered"].to_numpy()
    widths = []
    for name, col in (("open", "opened"), ("click", "clicked"), ("assisted", "assisted")):
        k = t[col].to_numpy()
        t[f"{name}_rate"] = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
        lo, hi = _wilson(k, n, alpha)
        t[f"{name}_ci_low"], t[f"{name}_ci_high"] = lo, hi
        widths.append(hi - lo)
    t["open_rating"] = tercile_rating(t["open_rate"])
    t["assisted_rating"] = tercile_rating(t["assisted_rate"])
    w = np.vstack(widths)
    t["ci_width_max"] = np.where(np.isnan(w).all(axis=0), np.nan, np.nanmax(np.where(np.isnan(w), -1, w), axis=0))
    t["too_little_data"] = ~(t["ci_width_max"] <= max_ci_width)
    t = t.sort_values(["persona", "assisted_rate", "open_rate"], ascending=[True, False, False], kind="stable")
    return t[list(CONTENT_COLUMNS)].reset_index(drop=True)


def resolve_prior(table: pd.DataFrame, prior="pooled", prior_strength: float = 20.0) -> tuple[float, float]:
    """The Beta prior ``(a, b)`` of the assisted rate.

    ``prior="pooled"`` (default) centres the prior on the pooled assisted rate of the whole table
    ``m = sum(assisted) / sum(delivered)`` with the weight of ``prior_strength`` messages:
    ``a = m * s``, ``b = (1 - m) * s``. Rows with few deliveries are then shrunk towards the
    pool instead of winning on luck (a uniform Beta(1, 1) prior lets 1 assisted of 3 look like
    a 40% rate). A tuple ``(a, b)`` is used as given.
    """
    if isinstance(prior, str):
        if prior != "pooled":
            raise MofInputError(f"prior must be 'pooled' or a tuple (a, b), got {prior!r}")
        n, k = float(table["delivered"].sum()), float(table["assisted"].sum())
        m = min(max(k / n if n > 0 else 0.5, 1e-3), 1 - 1e-3)
        return (m * prior_strength, (1 - m) * prior_strength)
    a, b = (float(x) for x in prior)
    if not (a > 0 and b > 0):
        raise MofInputError(f"Beta prior parameters must be positive, got {prior!r}")
    return (a, b)


def _beta_draws(table: pd.DataFrame, draws: int, rng: np.random.Generator, prior) -> np.ndarray:
    a = prior[0] + table["assisted"].to_numpy(float)
    b = prior[1] + (table["delivered"] - table["assisted"]).to_numpy(float)
    return rng.beta(a[:, None], b[:, None], size=(len(table), draws))


def prob_best(table: pd.DataFrame, *, draws: int = 20_000, seed: int = 0, prior="pooled",
              prior_strength: float = 20.0, min_delivered: int = 0) -> pd.DataFrame:
    """Posterior probability that each row has the highest assisted rate within its persona.

    Beta-Binomial model: ``rate ~ Beta(a + assisted, b + delivered - assisted)`` independently per
    row, with the prior ``(a, b)`` from :func:`resolve_prior` (default: centred on the pooled rate,
    weight 20 messages); ``prob_best`` is the share of ``draws`` Monte-Carlo draws in which the
    row's rate is the largest among its persona's rows with at least ``min_delivered`` delivered
    messages (other rows get NaN). Monte-Carlo error <= 0.5/sqrt(draws).

    Returns ``table`` with columns ``posterior_mean`` and ``prob_best`` added.
    """
    _require(table, ["persona", "delivered", "assisted"], "content table")
    a, b = resolve_prior(table, prior, prior_strength)
    rng = np.random.default_rng(seed)
    out = table.copy()
    out["posterior_mean"] = (a + out["assisted"]) / (a + b + out["delivered"])
    out["prob_best"] = np.nan
    eligible = out[out["delivered"] >= min_delivered]
    for persona, idx in eligible.groupby("persona", sort=True).groups.items():
        sub = out.loc[idx]
        x = _beta_draws(sub, draws, rng, (a, b))
        win = np.bincount(x.argmax(axis=0), minlength=len(sub)) / draws
        out.loc[idx, "prob_best"] = win
    return out


def best_content(table: pd.DataFrame, *, draws: int = 20_000, seed: int = 0, prior="pooled",
                 prior_strength: float = 20.0, min_delivered: int = 30) -> pd.DataFrame:
    """The best content per persona: highest posterior probability of the highest assisted rate.

    Candidates are the persona's rows with at least ``min_delivered`` delivered messages (default
    30); see :func:`prob_best` for the model. Personas without a candidate are left out.

    Returns one row per persona: persona, zone, topic, delivered, assisted, assisted_rate,
    posterior_mean, prob_best, candidates (rows compared), too_little_data.
    """
    pb = prob_best(table, draws=draws, seed=seed, prior=prior, prior_strength=prior_strength,
                   min_delivered=min_delivered)
    pb = pb[pb["prob_best"].notna()].copy()
    pb["candidates"] = pb.groupby("persona")["zone"].transform("size")
    best = pb.sort_values(["persona", "prob_best", "posterior_mean"], ascending=[True, False, False],
                          kind="stable").drop_duplicates("persona")
    cols = ["persona", "zone", "topic", "delivered", "assisted", "assisted_rate", "posterior_mean", "prob_best",
            "candidates", "too_little_data"]
    return best[cols].reset_index(drop=True)


def thompson_allocation(table: pd.DataFrame, n_sends: int, *, persona: str | None = None, seed: int = 0,
                        prior="pooled", prior_strength: float = 20.0) -> pd.DataFrame:
    """Allocate the next ``n_sends`` sends per persona by Thompson sampling.

    For each send, draw every candidate's assisted rate from its Beta posterior and send the
    content with the highest draw. In expectation each content gets ``n_sends * prob_best``; the
    draw keeps exploring uncertain (too-little-data) rows instead of starving them.

    Returns columns persona, zone, topic, sends_next, share_next (per persona).
    """
    if n_sends < 0:
        raise MofInputError(f"n_sends must be >= 0, got {n_sends}")
    prior = resolve_prior(table, prior, prior_strength)
    rng = np.random.default_rng(seed)
    t = table if persona is None else table[table["persona"] == persona]
    if persona is not None and t.empty:
        raise MofInputError(f"no content for persona {persona!r}", source="content table")
    rows = []
    for p, sub in t.groupby("persona", sort=True):
        x = _beta_draws(sub, n_sends, rng, prior)
        cnt = np.bincount(x.argmax(axis=0), minlength=len(sub)) if n_sends else np.zeros(len(sub), int)
        for (_, r), c in zip(sub.iterrows(), cnt):
            rows.append(dict(persona=p, zone=r["zone"], topic=r["topic"], sends_next=int(c),
                             share_next=c / n_sends if n_sends else np.nan))
    return pd.DataFrame(rows, columns=["persona", "zone", "topic", "sends_next", "share_next"])


# ----------------------------------------------------------------------------------------------
# The causal answer: randomized holdout
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HoldoutEffect:
    """Conversion within ``window_days`` of enrollment, emailed vs randomized holdout.

    ``effect`` = rate(treated) - rate(control) in proportion points with a 95% CI from
    statsmodels ``confint_proportions_2indep(compare="diff", method=ci_method)``; ``summary``
    has one row per arm group (group, companies, converted, rate, ci_low, ci_high).
    """

    experiment_id: str
    control: str
    treated: tuple
    window_days: float
    summary: pd.DataFrame
    effect: float
    ci: tuple
    p_value: float
    ci_method: str

    @property
    def rate_treated(self) -> float:
        return float(self.summary.loc[self.summary["group"] == "treated", "rate"].iloc[0])

    @property
    def rate_control(self) -> float:
        return float(self.summary.loc[self.summary["group"] == "control", "rate"].iloc[0])

    def _repr_html_(self) -> str:
        head = (f"<p>{self.experiment_id}: conversion within {self.window_days:g} days of enrollment, "
                f"{'+'.join(self.treated)} vs {self.control}: effect <b>{self.effect:+.1%}</b> "
                f"(95% CI {self.ci[0]:+.1%} to {self.ci[1]:+.1%}, p = {self.p_value:.3g})</p>")
        return head + self.summary.to_html(index=False, float_format=lambda v: f"{v:.3f}")

    def __str__(self) -> str:
        return (f"effect {self.effect:+.4f} (95% CI {self.ci[0]:+.4f} to {self.ci[1]:+.4f})\n"
                + self.summary.to_string(index=False))


def holdout_effect(assignments: pd.DataFrame, funnel: pd.DataFrame, *, experiment_id: str = "mof_email_2026",
                   control: str = "holdout", treated=None, window_days: float = 30.0,
                   ci_method: str = "newcomb") -> HoldoutEffect:
    """Causal effect of email: conversion within ``window_days`` of ``assigned_at``, treated vs control.

    A company converts when ``assigned_at <= first_production_at < assigned_at + window_days``.
    Companies whose window is not fully observed (``assigned_at + window_days`` after the funnel's
    ``as_of``) are dropped from both arms (randomization keeps the comparison fair).

    Parameters
    ----------
    assignments : canonical ``assignments`` (experiment_id, company_id, arm, assigned_at).
    funnel : :func:`mof_experiments.funnel.label` output.
    treated : arm names pooled as treated (default: every arm except ``control``).
    ci_method : statsmodels ``confint_proportions_2indep`` method for the difference.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    _require(assignments, ["experiment_id", "company_id", "arm", "assigned_at"], "assignments")
    a = assignments[assignments["experiment_id"] == experiment_id]
    if a.empty:
        raise MofInputError(f"no assignments for experiment {experiment_id!r}", source="assignments",
                            column="experiment_id")
    arms = sorted(a["arm"].astype(str).unique())
    if control not in arms:
        raise MofInputError(f"control arm {control!r} not found (arms: {', '.join(arms)})", source="assignments",
                            column="arm")
    treated = tuple(x for x in arms if x != control) if treated is None else tuple([treated] if isinstance(treated, str) else treated)
    f = funnel.drop_duplicates("company_id").set_index("company_id")
    as_of = (f["signup_at"] + pd.to_timedelta(f["days_observed"], unit="D")).max()
    a = a.assign(first_production_at=a["company_id"].map(f["first_production_at"]))
    end = a["assigned_at"] + window_days * _DAY
    a = a[end <= as_of]
    conv = (a["first_production_at"] >= a["assigned_at"]) & (a["first_production_at"] < a["assigned_at"] + window_days * _DAY)
    a = a.assign(converted=conv.fillna(False).astype(bool))
    rows = []
    for group, arms_g in (("treated", treated), ("control", (control,))):
        x = a[a["arm"].isin(arms_g)]
        n, k = len(x), int(x["converted"].sum())
        if n == 0:
            raise MofInputError(f"no companies with a fully observed window in arm(s) {', '.join(arms_g)}",
                                source="assignments", column="arm")
        lo, hi = _wilson(np.array([k]), np.array([n]), 0.05)
        rows.append(dict(group=group, arms="+".join(arms_g), companies=n, converted=k, rate=k / n,
                         ci_low=float(lo[0]), ci_high=float(hi[0])))
    s = pd.DataFrame(rows)
    (k1, n1), (k0, n0) = s.loc[0, ["converted", "companies"]], s.loc[1, ["converted", "companies"]]
    lo, hi = confint_proportions_2indep(k1, n1, k0, n0, compare="diff", method=ci_method)
    p = test_proportions_2indep(k1, n1, k0, n0, compare="diff").pvalue
    return HoldoutEffect(experiment_id=experiment_id, control=control, treated=treated, window_days=window_days,
                         summary=s, effect=float(k1 / n1 - k0 / n0), ci=(float(lo), float(hi)), p_value=float(p),
                         ci_method=ci_method)


def opener_difference(assignments: pd.DataFrame, messages: pd.DataFrame, engagements: pd.DataFrame,
                      funnel: pd.DataFrame, *, experiment_id: str = "mof_email_2026", arms=("email",),
                      window_days: float = 30.0) -> pd.DataFrame:
    """The correlational counterpart of :func:`holdout_effect`, on the same companies and window.

    Among companies in the emailed ``arms``: conversion within ``window_days`` of ``assigned_at``
    for companies with at least one human open/click in that window ("openers") vs the others.
    The difference mixes the email's effect with selection (high-intent companies open more).

    Returns one row: openers, openers_converted, openers_rate, others, others_converted,
    others_rate, difference, ci_low, ci_high (Newcomb 95%, statsmodels).
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    a = assignments[(assignments["experiment_id"] == experiment_id) & assignments["arm"].isin(list(arms))]
    if a.empty:
        raise MofInputError(f"no companies in arm(s) {', '.join(arms)} of {experiment_id!r}", source="assignments")
    fp = funnel.drop_duplicates("company_id").set_index("company_id")["first_production_at"]
    a = a.assign(first_production_at=a["company_id"].map(fp))
    w = window_days * _DAY
    a = a[a["assigned_at"] + w <= (funnel["signup_at"] + pd.to_timedelta(funnel["days_observed"], unit="D")).max()]
    conv = ((a["first_production_at"] >= a["assigned_at"]) & (a["first_production_at"] < a["assigned_at"] + w)).fillna(False)
    e = engagements[["message_id", "ts"]].merge(messages[["message_id", "company_id"]], on="message_id") \
        .merge(a[["company_id", "assigned_at"]], on="company_id")
    e = e[(e["ts"] >= e["assigned_at"]) & (e["ts"] < e["assigned_at"] + w)]
    opener = a["company_id"].isin(set(e["company_id"]))
    k1, n1 = int((conv & opener).sum()), int(opener.sum())
    k0, n0 = int((conv & ~opener).sum()), int((~opener).sum())
    if n1 == 0 or n0 == 0:
        raise MofInputError("need both openers and non-openers", source="email_events")
    lo, hi = confint_proportions_2indep(k1, n1, k0, n0, compare="diff", method="newcomb")
    return pd.DataFrame([dict(openers=n1, openers_converted=k1, openers_rate=k1 / n1, others=n0,
                              others_converted=k0, others_rate=k0 / n0, difference=k1 / n1 - k0 / n0,
                              ci_low=float(lo), ci_high=float(hi))])


def true_holdout_effect(sim_effects: pd.DataFrame, *, experiment_id: str = "mof_email_2026",
                        control: str = "holdout", treated: str = "email") -> float:
    """The simulator's truth: mean over enrolled companies of ``p_convert(treated) - p_convert(control)``."""
    e = sim_effects[sim_effects["experiment_id"] == experiment_id]
    w = e.pivot_table(index="company_id", columns="arm", values="p_convert")
    return float((w[treated] - w[control]).mean())


def load_personas(workspace) -> pd.DataFrame:
    """The workspace's ``personas`` table (contact_id, persona, ...).

    If the table is absent, the segmentation module computes personas from the contacts' job
    titles when it is installed; otherwise raises a one-line :class:`MofInputError` asking to run
    ``mof segment``.
    """
    if workspace.has("personas"):
        return workspace.read("personas")
    try:
        from mof_experiments.segments.personas import personas_from_workspace
    except ImportError:
        personas_from_workspace = None
    if personas_from_workspace is not None:
        return personas_from_workspace(workspace)
    raise MofInputError("no 'personas' table: run `mof segment` first", source=str(workspace.path))


@dataclass(frozen=True)
class ReportData:
    """The inputs of the report notebooks, read once from a workspace as of a date.

    ``funnel`` (:func:`mof_experiments.funnel.label`), ``messages``
    (:func:`~mof_experiments.engagement.message_engagement` of email events before ``as_of``),
    ``engagements`` (:func:`~mof_experiments.engagement.human_engagements`), ``personas``
    (:func:`load_personas`, or None when not requested), ``assignments``, ``companies``,
    ``as_of`` (UTC), ``workspace_path`` and ``truth`` (the simulator's ``sim_*`` tables by name,
    empty for real data).
    """

    funnel: pd.DataFrame
    messages: pd.DataFrame
    engagements: pd.DataFrame
    personas: pd.DataFrame | None
    assignments: pd.DataFrame
    companies: pd.DataFrame
    as_of: pd.Timestamp
    workspace_path: str
    truth: dict

    @property
    def summary(self) -> pd.DataFrame:
        m = self.messages
        rows = [("as of (UTC)", f"{self.as_of:%Y-%m-%d %H:%M}"), ("companies", f"{len(self.funnel):,}"),
                ("messages sent", f"{len(m):,}"), ("delivered", f"{int(m['delivered'].sum()):,}"),
                ("machine opens excluded", f"{int(m['machine_opens'].sum()):,}"),
                ("human engagements (opens + clicks)", f"{len(self.engagements):,}"),
                ("experiment assignments", f"{len(self.assignments):,}"),
                ("simulated (truth available)", "yes" if self.truth else "no")]
        return pd.DataFrame(rows, columns=["item", "value"])

    def _repr_html_(self) -> str:
        return f"<p>Workspace <code>{self.workspace_path}</code></p>" + self.summary.to_html(index=False)


def load_report_data(workspace_path, as_of=None, *, personas: bool = True, exclude_machine_opens: bool = True,
                     machine_open_seconds: float = 10.0) -> ReportData:
    """Open the workspace read-only and load everything the report notebooks use.

    Email events at or after ``as_of`` are ignored (like the funnel's API events). ``as_of``
    defaults to the end of the simulated period, else now.
    """
    from mof_experiments.engagement import human_engagements, message_engagement
    from mof_experiments.funnel import default_as_of, label, parse_as_of
    from mof_experiments.workspace import Workspace

    with Workspace(workspace_path, read_only=True, must_exist=True) as ws:
        t = default_as_of(ws) if as_of in (None, "") else parse_as_of(as_of)
        funnel = label(ws, t)
        ev = ws.read("email_events")
        ev = ev[ev["ts"] < pd.Timestamp(t)]
        if ev.empty:
            raise MofInputError("no email events before as_of", source=str(ws.path), column="ts")
        msgs = message_engagement(ev, exclude_machine_opens=exclude_machine_opens,
                                  machine_open_seconds=machine_open_seconds)
        eng = human_engagements(ev, exclude_machine_opens=exclude_machine_opens,
                                machine_open_seconds=machine_open_seconds)
        per = load_personas(ws) if personas else None
        asg = ws.read("assignments") if ws.has("assignments") else pd.DataFrame(
            columns=["experiment_id", "company_id", "arm", "assigned_at"])
        companies = ws.read("companies")
        truth = {n: ws.read(n) for n in ("sim_truth", "sim_effects", "sim_content", "sim_contact_truth") if ws.has(n)}
    return ReportData(funnel=funnel, messages=msgs, engagements=eng, personas=per, assignments=asg,
                      companies=companies, as_of=pd.Timestamp(t), workspace_path=str(workspace_path), truth=truth)


__all__ = ["ReportData", "load_report_data", "assisted_messages", "content_table", "tercile_rating", "prob_best", "best_content",
           "thompson_allocation", "resolve_prior", "opener_difference", "HoldoutEffect", "holdout_effect", "true_holdout_effect", "load_personas",
           "CONTENT_COLUMNS"]
