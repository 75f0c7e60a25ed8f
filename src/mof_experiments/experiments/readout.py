"""A/B(/n) readouts from one row per unit.

:func:`readout` compares every arm with the control arm on binary outcomes (rates: Wilson
intervals, Newcomb score interval of the difference, score test, log-adjusted interval of the
ratio) and continuous outcomes (means: t intervals, Welch t-test, delta-method relative lift,
optional CUPED adjustment with a pre-period covariate), corrects the p-values across arms and
metrics (Holm or Benjamini-Hochberg), reports the minimum detectable effect at 80% power and
tests the sample ratio (chi-square against the design weights). The statistics are
:mod:`mof_experiments.stats`'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.stats import (COMPARISON_FIELDS, LOW_DATA_EVENTS, LOW_DATA_N, SRMResult, compare_means,
                                   compare_proportions, cuped, json_number, mde_mean, mde_proportion, srm_test)

#: ``Readout.summary`` columns (public API).
READOUT_COLUMNS = ("outcome", "metric", "arm", "is_control", "n", "events", "rate", "estimate", "ci_low", "ci_high",
                   *COMPARISON_FIELDS, "p_value_adj", "significant", "mde", "low_data", "covariate")


@dataclass(frozen=True)
class Readout:
    """An A/B(/n) readout.

    ``summary``: one row per (outcome, arm), columns :data:`READOUT_COLUMNS`: outcome, metric
    (``rate`` or ``mean``), arm, is_control, n, events (successes, rates only), rate (the rate;
    NaN for a mean), estimate (rate or mean; CUPED-adjusted if a covariate was given), ci_low,
    ci_high, lift (absolute, vs control), lift_ci_low,
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
                    r.metric: json_number(r.estimate), "n": int(r.n), "ci_low": json_number(r.ci_low), "ci_high": json_number(r.ci_high),
                    "lift": json_number(r.lift), "lift_ci_low": json_number(r.lift_ci_low), "lift_ci_high": json_number(r.lift_ci_high),
                    "rel_lift": json_number(r.rel_lift), "rel_lift_ci_low": json_number(r.rel_lift_ci_low),
                    "rel_lift_ci_high": json_number(r.rel_lift_ci_high), "p_value": json_number(r.p_value),
                    "p_value_adj": json_number(r.p_value_adj), "mde": json_number(r.mde), "low_data": bool(r.low_data),
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
    require_columns(data, dict.fromkeys([arm, *names, *covariates.values()]), src)
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
            num = cuped(num, xc.to_numpy())[0]
        groups = {lv: num[(a == lv).to_numpy()] for lv in levels}
        y0 = groups[control]
        for lv in levels:
            g = groups[lv]
            row = {"outcome": name, "metric": metric, "arm": lv, "is_control": lv == control, "n": len(g),
                   "covariate": cov}
            if metric == "rate":
                r = compare_proportions(g.sum(), len(g), y0.sum(), len(y0), alpha=alpha).row()
                ev = int(g.sum())
                row.update(events=ev, rate=r["rate"], estimate=r["rate"],
                           low_data=len(g) < LOW_DATA_N or min(ev, len(g) - ev) < LOW_DATA_EVENTS,
                           mde=mde_proportion(float(y0.mean()), len(g), len(y0), alpha=alpha, power=power))
            else:
                r = compare_means(g, y0, alpha=alpha).row()
                sd = float(np.sqrt((np.var(g, ddof=1) + np.var(y0, ddof=1)) / 2)) if min(len(g), len(y0)) > 1 else np.nan
                row.update(events=pd.NA, rate=np.nan, estimate=r["mean"], low_data=len(g) < LOW_DATA_N,
                           mde=mde_mean(sd, len(g), len(y0), alpha=alpha, power=power))
            row.update(ci_low=r["ci_low"], ci_high=r["ci_high"], **{k: r[k] for k in COMPARISON_FIELDS})
            if lv == control:
                for k in (*COMPARISON_FIELDS, "mde"):
                    row[k] = np.nan
            rows.append(row)
    summ = pd.DataFrame(rows)
    summ["events"] = summ["events"].astype("Int64")
    tested = ~summ["is_control"] & summ["p_value"].notna()
    summ["p_value_adj"] = np.nan
    if tested.any():
        pv = summ.loc[tested, "p_value"].to_numpy()
        summ.loc[tested, "p_value_adj"] = pv if correction == "none" else multipletests(pv, alpha=alpha,
                                                                                        method=correction)[1]
    summ["significant"] = summ["p_value_adj"] < alpha
    return Readout(arm, control, tuple(names), alpha, correction, srm,
                   summ[list(READOUT_COLUMNS)].reset_index(drop=True), source)


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


__all__ = ["Readout", "readout", "READOUT_COLUMNS", "load_readout_input"]
