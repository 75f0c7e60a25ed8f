"""The result of :func:`~mof_experiments.experiments.readout`: :class:`Readout` (its summary
frame, JSON shape and text), with the column names and settings it reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mof_experiments.stats import COMPARISON_FIELDS, Breakdown, GuardrailResult, SRMResult, json_number

#: ``Readout.summary`` columns (public API); ``test`` names the p-value's test (``score``,
#: ``fisher``, ``welch``; None for control rows).
READOUT_COLUMNS = ("outcome", "metric", "arm", "is_control", "n", "events", "rate", "estimate", "ci_low", "ci_high",
                   *COMPARISON_FIELDS, "p_value_adj", "significant", "mde", "low_data", "covariate", "test")
#: Columns added with ``sequential=True``.
SEQUENTIAL_COLUMNS = ("seq_ci_low", "seq_ci_high", "seq_p_value")
#: Columns added with ``bayesian=True``.
BAYESIAN_COLUMNS = ("prob_beat_control", "expected_loss", "credible_low", "credible_high")


@dataclass(frozen=True)
class SequentialSettings:
    """How the confidence sequences were tuned: ``n_expected`` (units of one comparison,
    treatment + control; None when each comparison used its current n), ``source`` (a
    sentence: where ``n_expected`` came from) and ``alpha``."""

    n_expected: float | None
    source: str
    alpha: float


@dataclass(frozen=True)
class CupedAdjustment:
    """A CUPED adjustment: ``outcome`` adjusted by ``covariate`` with ``theta``; the variance of
    the outcome fell by ``variance_reduction`` (a share, ``corr(y, x)^2``)."""

    outcome: str
    covariate: str
    theta: float
    variance_reduction: float


@dataclass(frozen=True)
class Readout:
    """An A/B(/n) readout.

    ``summary``: one row per (outcome, arm), columns :data:`READOUT_COLUMNS`: outcome, metric
    (``rate`` or ``mean``), arm, is_control, n, events (successes, rates only), rate (the rate;
    NaN for a mean), estimate (rate or mean; CUPED-adjusted if a covariate was given,
    winsorized if asked), ci_low, ci_high, lift (absolute, vs control), lift_ci_low,
    lift_ci_high, rel_lift (lift / control estimate), rel_lift_ci_low, rel_lift_ci_high,
    p_value, p_value_adj (``correction`` across all arm x outcome comparisons), significant
    (p_value_adj < alpha and not low_data), mde (absolute lift detectable with 80% power at
    these n), low_data (either arm: n < 30 or, for a rate, fewer than 5 events or
    non-events), covariate (CUPED covariate or None), test (``score``, ``fisher`` or
    ``welch``). With ``sequential``: :data:`SEQUENTIAL_COLUMNS` (the confidence sequence of
    the lift and its always-valid p-value). With ``bayesian``: :data:`BAYESIAN_COLUMNS`
    (``P(arm > control)``, the expected loss of shipping the arm in the metric's units, the
    arm's equal-tailed credible interval). Control rows have no lift.

    Also: ``srm``; ``cuped`` (:class:`CupedAdjustment` per adjusted outcome); ``winsorized``
    (one row per capped outcome: column, q, upper, n_capped, mean_before, mean_after; None
    when nothing was capped); ``dominance`` (:class:`~mof_experiments.stats.Dominance` per
    mean outcome); ``sequential`` (:class:`SequentialSettings`); ``bayesian_prior``
    ``{outcome: prior}``; ``breakdowns``; ``guardrails``
    (:class:`~mof_experiments.stats.GuardrailResult`); ``warnings`` (sentences).
    """

    arm_column: str
    control: str
    outcomes: tuple[str, ...]
    alpha: float
    correction: str
    srm: SRMResult
    summary: pd.DataFrame = field(repr=False)
    source: str | None = None
    cuped: tuple = ()
    winsorized: pd.DataFrame | None = field(default=None, repr=False)
    dominance: tuple = ()
    sequential: SequentialSettings | None = None
    bayesian_prior: dict = field(default_factory=dict)
    breakdowns: tuple = ()
    guardrails: GuardrailResult | None = None
    warnings: tuple = ()

    @property
    def guardrail_status(self) -> str | None:
        """``breached`` / ``low data`` / ``ok``, or None without guardrails."""
        return None if self.guardrails is None else self.guardrails.status

    def to_dict(self) -> dict:
        """The ``--json`` shape: ``{"source", "arm_column", "control", "alpha", "correction",
        "arms": [{"arm", "n", "is_control", "outcomes": {name: {"rate" | "mean", "n", "ci_low",
        "ci_high", "lift", "lift_ci_low", "lift_ci_high", "rel_lift", ..., "p_value",
        "p_value_adj", "significant", "test", "mde", "low_data", ["events"], ["covariate"],
        ["seq_ci_low", "seq_ci_high", "seq_p_value"], ["prob_beat_control", "expected_loss",
        "credible_low", "credible_high"]}}}], "srm": {...}, "warnings": [...], and when used
        "cuped", "winsorized", "sequential", "bayesian", "breakdowns", "guardrails"}``."""
        extra = [c for c in (*SEQUENTIAL_COLUMNS, *BAYESIAN_COLUMNS) if c in self.summary.columns]
        arms = []
        for arm, g in self.summary.groupby("arm", sort=False):
            entry = {"arm": str(arm), "n": int(g["n"].iloc[0]), "is_control": bool(g["is_control"].iloc[0]),
                     "outcomes": {}}
            for r in g.itertuples():
                entry["outcomes"][r.outcome] = {
                    r.metric: json_number(r.estimate), "n": int(r.n), "ci_low": json_number(r.ci_low),
                    "ci_high": json_number(r.ci_high), "lift": json_number(r.lift),
                    "lift_ci_low": json_number(r.lift_ci_low), "lift_ci_high": json_number(r.lift_ci_high),
                    "rel_lift": json_number(r.rel_lift), "rel_lift_ci_low": json_number(r.rel_lift_ci_low),
                    "rel_lift_ci_high": json_number(r.rel_lift_ci_high), "p_value": json_number(r.p_value),
                    "p_value_adj": json_number(r.p_value_adj), "significant": bool(r.significant),
                    "test": r.test if isinstance(r.test, str) else None, "mde": json_number(r.mde),
                    "low_data": bool(r.low_data),
                    **({"events": int(r.events)} if r.metric == "rate" else {}),
                    **({"covariate": r.covariate} if isinstance(r.covariate, str) else {}),
                    **{c: json_number(getattr(r, c)) for c in extra},
                }
            arms.append(entry)
        out = {"source": self.source, "arm_column": self.arm_column, "control": self.control,
               "alpha": self.alpha, "correction": self.correction, "arms": arms, "srm": self.srm.to_dict(),
               "warnings": list(self.warnings)}
        if self.cuped:
            out["cuped"] = [{"outcome": c.outcome, "covariate": c.covariate, "theta": json_number(c.theta),
                             "variance_reduction": json_number(c.variance_reduction)} for c in self.cuped]
        if self.winsorized is not None:
            out["winsorized"] = [{k: (json_number(v) if isinstance(v, (float, np.floating)) else
                                      v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                                 for row in self.winsorized.to_dict("records")]
        if self.sequential is not None:
            out["sequential"] = {"n_expected": json_number(self.sequential.n_expected),
                                 "n_expected_source": self.sequential.source, "alpha": self.sequential.alpha}
        if self.bayesian_prior:
            out["bayesian"] = {"prior": dict(self.bayesian_prior)}
        if self.breakdowns:
            out["breakdowns"] = [_breakdown_dict(b) for b in self.breakdowns]
        if self.guardrails is not None:
            out["guardrails"] = self.guardrails.to_dict()
        return out

    def __str__(self) -> str:
        lines = [f"readout of {self.source or 'data'}: arm column {self.arm_column!r}, control {self.control!r}, "
                 f"{self.correction} correction"]
        seq = "seq_ci_low" in self.summary.columns
        bay = "prob_beat_control" in self.summary.columns
        for r in self.summary.itertuples():
            s = f"  {r.outcome:<14} {str(r.arm):<16} n={r.n:<8,} {r.metric} {r.estimate:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}]"
            if not r.is_control:
                s += (f"  lift {r.lift:+.4f} [{r.lift_ci_low:+.4f}, {r.lift_ci_high:+.4f}]"
                      f" ({r.rel_lift:+.1%})  p={r.p_value:.3g} adj={r.p_value_adj:.3g}")
                if r.test == "fisher":
                    s += " (Fisher exact)"
            if r.low_data:
                s += "  LOW DATA"
            lines.append(s)
            more = []
            if seq and not r.is_control and np.isfinite(r.seq_ci_low):
                more.append(f"always-valid [{r.seq_ci_low:+.4f}, {r.seq_ci_high:+.4f}] p={r.seq_p_value:.3g}")
            if bay and np.isfinite(r.expected_loss):
                if not r.is_control:
                    more.append(f"P(beats control)={r.prob_beat_control:.3f}")
                more.append(f"expected loss {r.expected_loss:.4g}")
            if more:
                lines.append(" " * 44 + "  ".join(more))
        lines.append(f"  SRM: chi-square p={self.srm.p_value:.3g} -> {self.srm.status}"
                     + (" (equal weights assumed)" if self.srm.weights_assumed else ""))
        for c in self.cuped:
            lines.append(f"  CUPED applied: {c.outcome} adjusted by {c.covariate} (theta {c.theta:.4g}; variance "
                         f"-{c.variance_reduction:.0%})")
        if self.winsorized is not None:
            for w in self.winsorized.itertuples():
                lines.append(f"  winsorized: {w.column} capped at {w.upper:,.6g} (the {w.q:g} quantile of its non-zero "
                             f"values, all arms), {w.n_capped:,} values changed, mean {w.mean_before:,.6g} -> "
                             f"{w.mean_after:,.6g}")
        if self.sequential is not None:
            lines.append(f"  sequential: {1 - self.sequential.alpha:.0%} confidence sequences, tuned for "
                         f"{self.sequential.source}")
        for o, prior in self.bayesian_prior.items():
            lines.append(f"  Bayesian ({o}): prior {prior}; expected loss = risk of shipping the arm, in the "
                         "metric's units")
        for w in self.warnings:
            lines.append(f"  WARNING: {w}")
        for b in self.breakdowns:
            lines.append("  " + str(b).replace("\n", "\n  "))
        if self.guardrails is not None:
            g = str(self.guardrails)
            if self.guardrails.status == "breached":
                g = g.replace("guardrails: BREACHED", "GUARDRAIL BREACHED", 1)
            lines.append("  " + g.replace("\n", "\n  "))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (f"<p><b>Readout</b> {self.source or ''}: control <code>{self.control}</code>, "
                f"{self.correction} correction, SRM p = {self.srm.p_value:.3g} ({self.srm.status})"
                + (f", guardrails: <b>{self.guardrails.status}</b>" if self.guardrails is not None else "") + "</p>")
        notes = "".join(f"<p>{w}</p>" for w in self.warnings)
        return head + notes + self.summary.to_html(index=False, float_format=lambda v: f"{v:.4g}")


def _breakdown_dict(b: Breakdown) -> dict:
    cells = []
    for row in b.summary.to_dict("records"):
        cells.append({k: (None if v is pd.NA else json_number(v) if isinstance(v, (float, np.floating)) else
                          v.item() if hasattr(v, "item") else v) for k, v in row.items()})
    return {"outcome": b.outcome, "by": b.by, "metric": b.metric, "control": b.control, "arm": b.treatment,
            "correction": b.correction, "interaction": {"statistic": json_number(b.interaction_statistic),
                                                        "df": int(b.interaction_df),
                                                        "p_value": json_number(b.interaction_p_value),
                                                        "note": b.note},
            "cells": cells}


__all__ = ["READOUT_COLUMNS", "SEQUENTIAL_COLUMNS", "BAYESIAN_COLUMNS", "SequentialSettings", "CupedAdjustment",
           "Readout"]
