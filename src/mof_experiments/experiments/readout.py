"""A/B(/n) readouts from one row per unit, safe to read every day.

:func:`readout` compares every arm with the control arm on binary outcomes (rates: Wilson
intervals, Newcomb score interval of the difference, score test, log-adjusted interval of the
ratio) and continuous outcomes (means: t intervals, Welch t-test, delta-method relative lift
with the Welch t quantile, optional CUPED adjustment with a pre-period covariate), corrects
the p-values across arms and metrics (Holm or Benjamini-Hochberg), reports the minimum
detectable effect at 80% power and tests the sample ratio (chi-square against the design
weights). On request it adds, from :mod:`mof_experiments.stats`:

- ``sequential``: a confidence sequence of every lift (``seq_ci_low``, ``seq_ci_high``,
  ``seq_p_value``), valid however often the readout is read;
- ``bayesian``: the chance to beat control and the expected loss of shipping each arm
  (``prob_beat_control``, ``expected_loss``, with credible intervals; priors stated);
- ``winsorize``: caps on mean outcomes (per metric); a warning whenever one unit holds more
  than 10% of an arm's total of a mean outcome;
- ``by``: breakdowns by a column (persona, plan, segment) with the interaction test;
- ``email_events``: guardrails (unsubscribe, complaint, bounce) with a status.

Rules the readout enforces
--------------------------
- **Low data** (the package rule, :func:`mof_experiments.stats.low_data`): an arm with fewer
  than 30 units or, for a rate, fewer than 5 events or non-events. A low-data comparison is
  shown but **never significant**, and for a rate its p-value is **Fisher's exact test**
  (scipy ``fisher_exact``, two-sided; ``test`` column ``fisher``) instead of the score test:
  arms of a few units get asymptotic p-values many times too small.
- An outcome with one value for every unit (a constant) has nothing to compare: its rows keep
  NaN intervals and the readout says so in ``warnings``. So does a mean comparison without
  variation within the arms.
- Each outcome counts once in the multiple-testing family (``--outcome y --outcome y`` is one
  test).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mof_experiments.checks import check_alpha, check_positive, isin, labels, numeric, pick_metric, require_columns
from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.experiments.readout_result import (BAYESIAN_COLUMNS, READOUT_COLUMNS, SEQUENTIAL_COLUMNS,
                                                        CupedAdjustment, Readout, SequentialSettings)
from mof_experiments.stats import (COMPARISON_FIELDS, DEFAULT_WINSORIZE_Q, bayesian_means, bayesian_rates, breakdown,
                                   compare_means, compare_proportions, compare_sequential, cuped, dominance,
                                   guardrails, low_data, mde_mean, mde_proportion, sequential_path, srm_test)
from mof_experiments.stats import SequentialPath
from mof_experiments.stats import winsorize as winsorize_values

#: The readout refuses an ``alpha`` at or above this (a 50% interval is not a readout).
MAX_ALPHA = 0.5
#: A breakdown column with more values than this is refused (bin it first).
MAX_CELLS = 50


def _parse_outcome(spec: str) -> tuple[str, str | None]:
    for suffix in (":rate", ":mean"):
        if spec.endswith(suffix):
            return spec[: -len(suffix)], suffix[1:]
    return spec, None


def _outcome_metrics(outcomes, metrics) -> dict[str, str | None]:
    """``{name: metric or None}`` in the order given, each outcome once (a repeated outcome is
    one test); two different metrics for one outcome are an error."""
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    out: dict[str, str | None] = {}
    given = dict(metrics or {})
    for spec in outcomes:
        name, m = _parse_outcome(str(spec))
        m = m or given.get(name)
        if name in out and m is not None and out[name] is not None and out[name] != m:
            raise MofConfigError(f"outcome {name!r} given as both {out[name]} and {m}")
        out[name] = m or out.get(name)
    for name, m in given.items():
        if name in out and out[name] is None:
            out[name] = m
    if not out:
        raise MofConfigError("give at least one --outcome")
    return out


def _winsorize_spec(winsorize, outcomes) -> dict[str, float]:
    """``{outcome: q}`` from a number (every mean outcome), a mapping ``{outcome: q or None}``
    (None: :data:`~mof_experiments.stats.DEFAULT_WINSORIZE_Q`), or None."""
    if winsorize is None or winsorize is False:
        return {}
    if winsorize is True:
        winsorize = DEFAULT_WINSORIZE_Q
    if isinstance(winsorize, Mapping):
        out = {}
        for k, v in winsorize.items():
            if k != "*" and k not in outcomes:
                raise MofConfigError(f"--winsorize: {k!r} is not one of the outcomes ({', '.join(outcomes)})")
            out[str(k)] = check_alpha(DEFAULT_WINSORIZE_Q if v is None else v,
                                      "--winsorize" if k == "*" else f"--winsorize {k}")
        return out
    return {"*": check_alpha(winsorize, "--winsorize")}


def _fisher_p(x: float, n: float, x0: float, n0: float) -> float:
    """Two-sided Fisher's exact test of the 2x2 table (scipy ``fisher_exact``)."""
    from scipy.stats import fisher_exact

    return float(fisher_exact([[x, n - x], [x0, n0 - x0]], alternative="two-sided").pvalue)


def readout(data: pd.DataFrame, arm: str, outcomes: str | Sequence[str], control: str, *,
            metrics: Mapping[str, str] | None = None, weights: Mapping[str, float] | None = None,
            covariates: Mapping[str, str] | None = None, alpha: float = 0.05, correction: str = "holm",
            power: float = 0.8, sequential: bool = False, n_expected: float | None = None, bayesian: bool = False,
            prior: tuple[float, float] = (1.0, 1.0), winsorize: float | Mapping[str, float | None] | None = None,
            by: str | Sequence[str] | None = None, email_events: pd.DataFrame | None = None,
            unit: str = "company_id", source: str | None = None) -> Readout:
    """Read out an experiment from one row per unit.

    Parameters
    ----------
    data : one row per company (or customer), never modified.
    arm : column holding the arm.
    outcomes : outcome column(s); ``"col:rate"`` / ``"col:mean"`` force the metric. A
        repeated outcome counts once.
    control : the control arm's value in ``arm``.
    metrics : ``{outcome: "rate" | "mean"}``; default: ``rate`` if the column only holds 0/1
        (booleans, also as text ``TRUE``/``false``), else ``mean``. A ``rate`` outcome with
        other values is an error.
    weights : design weights per arm for the SRM test (default: equal split, flagged).
    covariates : ``{outcome: pre_period_column}`` for CUPED (``mean`` outcomes only).
    alpha : level of the intervals and of ``significant``, in (0, 0.5).
    correction : ``holm``, ``fdr_bh``, ``bonferroni`` or ``none`` (statsmodels ``multipletests``).
    sequential : add the confidence sequence of every lift (:data:`SEQUENTIAL_COLUMNS`).
    n_expected : the sequences' tuning: the planned units of one comparison (treatment +
        control). Default: each comparison's current n (the band is then the narrowest
        possible today; fix the planned n before the experiment for daily reading, see
        docs/experiments.md).
    bayesian : add the posterior comparison (:data:`BAYESIAN_COLUMNS`): Beta(``prior``)
        for rates, a flat-prior normal approximation for means.
    winsorize : cap mean outcomes before comparing them: a quantile for every mean outcome,
        or ``{outcome: q}`` (``None``: 0.99), at the ``q``-quantile of the non-zero values of
        all arms pooled (:func:`mof_experiments.stats.winsorize`).
    by : column(s) to break every outcome down by (one breakdown per outcome x treatment arm,
        :func:`mof_experiments.stats.breakdown`; Holm across cells by default, ``correction``).
    email_events : ``email_events`` rows of the experiment: adds the guardrails
        (:func:`mof_experiments.stats.guardrails`), each event taking its company's arm via
        ``unit`` (the column of ``data`` matching ``email_events.company_id``; events of other
        companies are left out and, when ``data`` has ``assigned_at`` and the events ``ts``,
        events before the company's assignment too).
    source : name of the data used in error messages.

    Returns
    -------
    Readout
    """
    from statsmodels.stats.multitest import multipletests

    src = source or "data"
    alpha = check_alpha(alpha, "--alpha", high=MAX_ALPHA)
    power = check_alpha(power, "power")
    if correction not in ("holm", "fdr_bh", "none", "bonferroni"):
        raise MofConfigError(f"--correction must be holm, fdr_bh, bonferroni or none, got {correction!r}")
    specs = _outcome_metrics(outcomes, metrics)
    names = list(specs)
    covariates = dict(covariates or {})
    for o in covariates:
        if o not in specs:
            raise MofConfigError(f"--cuped: {o!r} is not one of the outcomes ({', '.join(names)})")
    wins = _winsorize_spec(winsorize, names)
    bys = [by] if isinstance(by, str) else list(by or [])
    if n_expected is not None:
        n_expected = check_positive(n_expected, "--expected-n")
    require_columns(data, [arm, *names, *covariates.values(), *bys], src, nonempty=True)
    a = labels(data, arm, src)
    levels = list(dict.fromkeys(a))
    if str(control) not in levels:
        raise MofInputError(f"control value {control!r} not found (values: {', '.join(levels[:10])})",
                            source=src, column=arm)
    if len(levels) < 2:
        raise MofInputError(f"only one arm ({levels[0]!r}): nothing to compare", source=src, column=arm)
    control = str(control)
    levels = [control] + sorted(x for x in levels if x != control)
    av = a.to_numpy()
    srm = srm_test(a.value_counts().reindex(levels), weights)

    rows, warns, cup, wrows, doms, priors, analysed = [], [], [], [], [], {}, {}
    for name, forced in specs.items():
        num = numeric(data, name, src)
        metric = pick_metric(num, forced, name, src)
        q = wins.get(name, wins.get("*") if metric == "mean" else None)
        if q is not None:
            if metric != "mean":
                raise MofConfigError(f"--winsorize {name}: {name!r} is a rate; winsorizing applies to means")
            w = winsorize_values(num, q, name=name)
            num = w.values
            wrows.append({"column": name, "q": w.q, "upper": w.upper, "n_capped": w.n_capped,
                          "mean_before": w.mean_before, "mean_after": w.mean_after})
        if metric == "mean":
            has_unit = unit in data.columns  # the warning names the unit by its id
            frame = pd.DataFrame({"arm": av, name: num, **({unit: data[unit].to_numpy()} if has_unit else {})})
            d = dominance(frame, arm="arm", outcome=name, unit=unit if has_unit else None, source=src)
            doms.append(d)
            warns.extend(d.warnings)
        if np.all(num == num[0]):
            warns.append(f"{name}: every unit has the value {num[0]:g}: nothing to compare (no interval, no test)")
        cov = covariates.get(name)
        if cov is not None:
            if metric != "mean":
                raise MofConfigError(f"CUPED covariate given for {name!r}, which is a rate: CUPED applies to means")
            xc = numeric(data, cov, src)
            adjusted, theta = cuped(num, xc)
            vr = 1.0 - float(np.var(adjusted, ddof=1) / np.var(num, ddof=1)) if np.var(num) > 0 else 0.0
            cup.append(CupedAdjustment(name, cov, float(theta), vr))
            num = adjusted
        analysed[name] = (metric, num)
        rows.extend(_outcome_rows(name, metric, num, av, levels, control, cov, alpha, power, warns))
        if sequential:
            _add_sequential(rows[-len(levels):], metric, num, av, levels, control, n_expected, alpha)
        if bayesian:
            stated = _add_bayesian(rows[-len(levels):], name, metric, num, av, levels, control, prior, alpha, warns)
            if stated is not None:  # not computed: the warning says why, no "prior None" line
                priors[name] = stated

    if "*" in wins and not any(m == "mean" for m, _ in analysed.values()):
        warns.append(f"--winsorize: nothing capped: every outcome is a rate ({', '.join(names)}); "
                     "winsorizing applies to means")
    summ = pd.DataFrame(rows)
    summ["events"] = summ["events"].astype("Int64")
    tested = ~summ["is_control"] & summ["p_value"].notna()
    summ["p_value_adj"] = np.nan
    if tested.any():
        pv = summ.loc[tested, "p_value"].to_numpy()
        summ.loc[tested, "p_value_adj"] = pv if correction == "none" else multipletests(pv, alpha=alpha,
                                                                                        method=correction)[1]
    summ["significant"] = (summ["p_value_adj"] < alpha) & ~summ["low_data"].astype(bool)
    cols = list(READOUT_COLUMNS) + [c for c in (*SEQUENTIAL_COLUMNS, *BAYESIAN_COLUMNS) if c in summ.columns]
    seq_settings = None
    if sequential:
        seq_settings = SequentialSettings(
            n_expected, (f"{n_expected:,.0f} units per comparison (given)" if n_expected is not None else
                         "each comparison's current n (treatment + control): valid for today's read; give "
                         "--expected-n, the planned n, before reading daily"), alpha)
    breakdowns = tuple(_breakdowns(data, arm, av, analysed, bys, levels, control, alpha, correction, src))
    guard = None
    if email_events is not None and len(email_events) == 0:
        warns.append("no email events: no guardrails")
    elif email_events is not None:
        if unit not in data.columns:
            raise MofInputError(f"guardrails join email_events to the units by {unit!r}, which is not a column "
                                f"(found: {', '.join(map(str, data.columns[:12]))}); name it with --unit",
                                source=src)
        ids = labels(data, unit, src)
        dup = ids.duplicated().to_numpy()
        if dup.any():
            i = int(np.flatnonzero(dup)[0])
            raise MofInputError("unit appears twice: guardrails need one row per unit", source=src, column=unit,
                                row=i + 1, value=ids.iloc[i])
        asg = pd.DataFrame({"company_id": ids.to_numpy(), "arm": av})
        events = email_events
        if "assigned_at" in data.columns and "ts" in events.columns:  # only email sent after assignment counts
            when = pd.Series(pd.to_datetime(data["assigned_at"], utc=True).to_numpy(), index=ids.to_numpy())
            at = events["company_id"].astype("str").map(when)
            events = events[at.isna().to_numpy() | (pd.to_datetime(events["ts"], utc=True) >= at).to_numpy()]
        if "company_id" in events.columns and not isin(events["company_id"].astype("str"), asg["company_id"]).any():
            warns.append(f"no email events of the read-out units ({len(events):,} events, none of them of a "
                         f"{unit} in the data): no guardrails")
        else:
            guard = guardrails(events, control=control, assignments=asg, alpha=alpha, source="email_events")
    return Readout(arm, control, tuple(names), alpha, correction, srm,
                   summ[cols].reset_index(drop=True), source, cuped=tuple(cup),
                   winsorized=pd.DataFrame(wrows) if wrows else None, dominance=tuple(doms),
                   sequential=seq_settings, bayesian_prior=priors, breakdowns=breakdowns, guardrails=guard,
                   warnings=tuple(dict.fromkeys(warns)))


def _outcome_rows(name, metric, num, av, levels, control, cov, alpha, power, warns) -> list[dict]:
    """One row per arm of one outcome: estimate, interval, lift vs control, test."""
    groups = {lv: num[av == lv] for lv in levels}
    y0 = groups[control]
    rows = []
    for lv in levels:
        g = groups[lv]
        row = {"outcome": name, "metric": metric, "arm": lv, "is_control": lv == control, "n": len(g),
               "covariate": cov, "test": None}
        if metric == "rate":
            x, x0 = float(g.sum()), float(y0.sum())
            r = compare_proportions(x, len(g), x0, len(y0), alpha=alpha).row()
            low = bool(low_data(len(g), x) or low_data(len(y0), x0))
            row.update(events=int(x), rate=r["rate"], estimate=r["rate"], low_data=low,
                       mde=mde_proportion(float(y0.mean()), len(g), len(y0), alpha=alpha, power=power))
            if lv != control:
                row["test"] = "score"
                if low:
                    r["p_value"] = _fisher_p(x, len(g), x0, len(y0))
                    row["test"] = "fisher"
        else:
            r = compare_means(g, y0, alpha=alpha).row()
            sd = float(np.sqrt((np.var(g, ddof=1) + np.var(y0, ddof=1)) / 2)) if min(len(g), len(y0)) > 1 else np.nan
            row.update(events=pd.NA, rate=np.nan, estimate=r["mean"],
                       low_data=bool(low_data(len(g)) or low_data(len(y0))),
                       mde=mde_mean(sd, len(g), len(y0), alpha=alpha, power=power))
            if lv != control:
                row["test"] = "welch"
                if not np.isfinite(r["p_value"]) and not np.all(num == num[0]):
                    why = ("an arm has fewer than 2 units" if min(len(g), len(y0)) < 2 else
                           "no variation within either arm")
                    warns.append(f"{name}: {lv} vs {control}: no test ({why})")
        row.update(ci_low=r["ci_low"], ci_high=r["ci_high"], **{k: r[k] for k in COMPARISON_FIELDS})
        if lv == control:
            for k in (*COMPARISON_FIELDS, "mde"):
                row[k] = np.nan
        rows.append(row)
    return rows


def _add_sequential(rows, metric, num, av, levels, control, n_expected, alpha) -> None:
    """Fill the confidence sequence of each arm's lift into its row (control rows: NaN)."""
    y0 = num[av == control]
    for row in rows:
        row.update(seq_ci_low=np.nan, seq_ci_high=np.nan, seq_p_value=np.nan)
        if row["is_control"]:
            continue
        g = num[av == row["arm"]]
        if len(g) == 0 or len(y0) == 0:
            continue
        r = compare_sequential(g, y0, n_expected=n_expected or len(g) + len(y0), metric=metric, alpha=alpha)
        row.update(seq_ci_low=r.seq_ci_low, seq_ci_high=r.seq_ci_high, seq_p_value=r.seq_p_value)


def _add_bayesian(rows, name, metric, num, av, levels, control, prior, alpha, warns) -> str | None:
    """Fill the posterior comparison into the rows; returns the prior (None if not computed)."""
    for row in rows:
        row.update(prob_beat_control=np.nan, expected_loss=np.nan, credible_low=np.nan, credible_high=np.nan)
    groups = [num[av == lv] for lv in levels]
    try:
        if metric == "rate":
            res = bayesian_rates([g.sum() for g in groups], [len(g) for g in groups], arms=levels, control=control,
                                 prior=prior, alpha=alpha)
        else:
            bad = [lv for lv, g in zip(levels, groups) if len(g) < 2 or np.var(g) == 0]
            if bad:
                warns.append(f"{name}: no Bayesian readout (arm {bad[0]!r} has "
                             f"{'fewer than 2 units' if len(groups[levels.index(bad[0])]) < 2 else 'no variation'})")
                return None
            res = bayesian_means([g.mean() for g in groups], [g.var(ddof=1) for g in groups],
                                 [len(g) for g in groups], arms=levels, control=control, alpha=alpha)
    except MofInputError as exc:
        warns.append(f"{name}: no Bayesian readout ({exc.one_line()})")
        return None
    s = res.summary.set_index("arm")
    for row in rows:
        r = s.loc[row["arm"]]
        row.update(prob_beat_control=float(r["prob_beat_control"]), expected_loss=float(r["expected_loss"]),
                   credible_low=float(r["credible_low"]), credible_high=float(r["credible_high"]))
    return res.prior


def _breakdowns(data, arm, av, analysed, bys, levels, control, alpha, correction, src):
    """One :class:`~mof_experiments.stats.Breakdown` per (by, outcome, treatment arm)."""
    for by in bys:
        cells = data[by].nunique(dropna=False)
        if cells > MAX_CELLS:
            raise MofConfigError(f"--by {by}: {cells:,} distinct values; bin it into at most {MAX_CELLS} groups first")
        for name, (metric, num) in analysed.items():
            frame = pd.DataFrame({"__arm": av, name: num, by: data[by].to_numpy()})
            for lv in levels[1:]:
                yield breakdown(frame, arm="__arm", outcome=name, by=by, control=control, treatment=lv, metric=metric,
                                alpha=alpha, correction=correction, source=src)


def experiment_path(experiment, control: str, *, outcome: str = "converted", n_expected: float | None = None,
                    alpha: float = 0.05) -> SequentialPath:
    """The experiment's confidence sequence day by day, as a daily reader would have seen it.

    ``experiment`` is an :class:`~mof_experiments.experiments.ExperimentData`. A company's
    outcome is known when its conversion window closes (``assigned_at + window_days``), so
    the look at the end of UTC day ``d`` includes the companies whose window closed by then
    (:func:`mof_experiments.stats.sequential_path` with that time, one look per day).
    ``n_expected`` (the planned companies of one comparison, treatment + control) defaults to
    the number at the last look. Returns a :class:`~mof_experiments.stats.SequentialPath`.
    """
    x = experiment.complete
    require_columns(x, ["arm", "assigned_at", outcome], "experiment outcomes", nonempty=True)
    known = x.assign(known_at=x["assigned_at"] + pd.Timedelta(days=experiment.window_days))
    if n_expected is None:
        counts = known["arm"].astype("str").value_counts()
        if control not in counts.index:
            raise MofInputError(f"control arm {control!r} not found (arms: {', '.join(map(str, counts.index))})",
                                source="experiment outcomes", column="arm")
        n_expected = float(counts.drop(control).max() + counts[control]) if len(counts) > 1 else float(counts.sum())
    return sequential_path(known, arm="arm", outcome=outcome, time="known_at", control=control,
                           n_expected=n_expected, alpha=alpha, source=f"{experiment.experiment_id} outcomes")


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


__all__ = ["Readout", "readout", "READOUT_COLUMNS", "SEQUENTIAL_COLUMNS", "BAYESIAN_COLUMNS", "SequentialSettings",
           "CupedAdjustment", "experiment_path", "load_readout_input", "MAX_ALPHA"]
