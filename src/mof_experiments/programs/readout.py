"""``mof program readout``: the causal effect of a program, enrolled (program arm) vs its holdout.

Rules
-----
- Unit: the company, at its **first** entry into the program (its arm is fixed per company);
  ``entered_at`` is the start of its window.
- **Conversion within N days** (N = the spec's ``conversion_window_days`` unless given):
  ``entered_at <= first_production_at < entered_at + N days``, with ``first_production_at``
  from the funnel labeled as of ``as_of``; companies whose window ends after ``as_of`` are left
  out of both arms. Rates, lift (absolute, program - holdout) with its 95% CI, relative lift,
  p-value and the SRM test against the spec's holdout share come from
  :func:`mof_experiments.experiments.readout` (the same code as ``mof experiment readout``).
- **Time to production** from entry, by arm: Kaplan-Meier (statsmodels ``SurvfuncRight``) via
  :func:`mof_experiments.survival.kaplan_meier`, every entered company, censored at ``as_of``.
- Intent to treat: a program-arm company counts as treated whether or not a message reached it
  (suppressed contacts, a frequency cap); the lift is the effect of *running the program*.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from mof_experiments.errors import MofInputError
from mof_experiments.programs.spec import HOLDOUT_ARM, PROGRAM_ARM, ProgramSpec
from mof_experiments.programs.store import read_enrollments

#: columns of :attr:`ProgramReadout.data`
DATA_COLUMNS = ("company_id", "arm", "entered_at", "first_production_at", "window_complete", "converted",
                "duration", "event")


@dataclass(frozen=True)
class ProgramReadout:
    """Program vs holdout. ``readout``: the :class:`~mof_experiments.experiments.Readout`
    (outcome ``converted``); ``km``: :class:`~mof_experiments.survival.KaplanMeier` by arm
    (horizon = the window); ``data``: one row per company (:data:`DATA_COLUMNS`);
    ``lift``/``ci``: the program arm's absolute lift and 95% CI; ``truth``: the simulator's
    planted lift when the workspace has ``sim_program_effects``, else None."""

    program_id: str
    as_of: datetime
    window_days: int
    lift: float
    ci: tuple
    p_value: float
    readout: object = field(repr=False)
    km: object = field(repr=False)
    data: pd.DataFrame = field(repr=False)
    truth: float | None = None

    @property
    def summary(self) -> pd.DataFrame:
        return self.readout.summary

    def _headline(self) -> str:
        s = self.readout.summary
        rate = dict(zip(s["arm"], s["rate"]))
        n = dict(zip(s["arm"], s["n"]))
        t = "" if self.truth is None else f"; planted {self.truth:+.2%}"
        return (f"{self.program_id}: conversion within {self.window_days} days of entry, program "
                f"{rate.get(PROGRAM_ARM, np.nan):.1%} (n={n.get(PROGRAM_ARM, 0):,}) vs holdout "
                f"{rate.get(HOLDOUT_ARM, np.nan):.1%} (n={n.get(HOLDOUT_ARM, 0):,}): lift {self.lift:+.2%} "
                f"(95% CI {self.ci[0]:+.2%} to {self.ci[1]:+.2%}, p = {self.p_value:.3g}){t}; "
                f"SRM p = {self.readout.srm.p_value:.3g}")

    def __str__(self) -> str:
        cols = ["arm", "n", "events", "rate", "ci_low", "ci_high", "lift", "lift_ci_low", "lift_ci_high", "p_value",
                "low_data"]
        return self._headline() + "\n" + self.readout.summary[cols].to_string(index=False) + "\n\n" + \
            self.km.summary.to_string(index=False)

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self._headline())}</p>" + self.readout.summary.to_html(index=False) + \
            self.km.summary.to_html(index=False)

    def headlines(self) -> dict:
        """Headline figures for a report manifest."""
        s = self.readout.summary.set_index("arm")
        return {"status": "ok", "lift": self.lift, "lift_ci_low": self.ci[0], "lift_ci_high": self.ci[1], "p_value": self.p_value,
                "rate_program": float(s.loc[PROGRAM_ARM, "rate"]), "rate_holdout": float(s.loc[HOLDOUT_ARM, "rate"]),
                "n_program": int(s.loc[PROGRAM_ARM, "n"]), "n_holdout": int(s.loc[HOLDOUT_ARM, "n"]),
                "srm_p_value": float(self.readout.srm.p_value), "window_days": self.window_days,
                "planted_lift": self.truth}


def program_readout(ws, spec: ProgramSpec, *, as_of: datetime, window_days: int | None = None,
                    source=None, funnel: pd.DataFrame | None = None) -> ProgramReadout:
    """Read out ``spec`` on the workspace ``ws`` as of ``as_of`` (rules in the module docstring).

    ``ws`` is an open workspace or the path of one (opened read-only for the program's tables).
    ``funnel``: the funnel as of ``as_of`` if the caller has it (a report's
    :func:`~mof_experiments.reports.load_report_data`), else labeled here (on ``source`` when given).
    """
    if not hasattr(ws, "raw"):
        from mof_experiments.workspace import Workspace

        with Workspace(ws or None, read_only=True, must_exist=True) as opened:
            return program_readout(opened, spec, as_of=as_of, window_days=window_days, source=source, funnel=funnel)
    from mof_experiments.experiments.readout import readout
    from mof_experiments.experiments.outcomes import converted_within, window_complete
    from mof_experiments.funnel import label
    from mof_experiments.survival import kaplan_meier

    window = int(window_days or spec.conversion_window_days)
    enr = read_enrollments(ws, spec.program_id)
    if enr.empty:
        raise MofInputError(f"program {spec.program_id!r} has no enrollments yet (run `mof program run` first)",
                            source=str(ws.path), column="program_id")
    first = enr.sort_values("entry").drop_duplicates("company_id")[["company_id", "arm", "entered_at"]]
    first = first.reset_index(drop=True)
    f = funnel if funnel is not None else label(ws, as_of, source=source)
    fp = f.drop_duplicates("company_id").set_index("company_id")["first_production_at"]
    first["first_production_at"] = pd.to_datetime(first["company_id"].map(fp), utc=True)
    at = pd.to_datetime(first["entered_at"], utc=True)
    first["window_complete"] = window_complete(at, window, as_of).to_numpy()
    first["converted"] = converted_within(at, first["first_production_at"], window).astype("int64").to_numpy()
    end = pd.Timestamp(as_of)
    conv = first["first_production_at"].notna() & (first["first_production_at"] < end)
    stop = first["first_production_at"].where(conv, end)
    first["duration"] = ((stop - at).dt.total_seconds() / 86400.0).clip(lower=0.0)
    first["event"] = conv.astype("int64")
    data = first[list(DATA_COLUMNS)]
    done = data[data["window_complete"]]
    if done["arm"].nunique() < 2:
        raise MofInputError(f"program {spec.program_id!r}: no company in both arms has a complete {window}-day "
                            f"window as of {end:%Y-%m-%d} (entries: {len(data):,}); read out later or pass a "
                            "shorter --window", source=str(ws.path), column="entered_at")
    ro = readout(done, "arm", "converted", HOLDOUT_ARM, weights=spec.arms, source=f"program {spec.program_id}")
    row = ro.summary[ro.summary["arm"] == PROGRAM_ARM].iloc[0]
    km = kaplan_meier(data.assign(arm=pd.Categorical(data["arm"], [PROGRAM_ARM, HOLDOUT_ARM])), group="arm",
                      horizon_days=window)
    truth = None
    if ws.has("sim_program_effects"):
        t = ws.read("sim_program_effects")
        t = t[t["program_id"] == spec.program_id]
        truth = float(t["lift"].iloc[0]) if len(t) else None
    return ProgramReadout(spec.program_id, as_of, window, float(row["lift"]),
                          (float(row["lift_ci_low"]), float(row["lift_ci_high"])), float(row["p_value"]),
                          ro, km, data, truth)


@dataclass(frozen=True)
class NoReadout:
    """Why a program cannot be read out yet (no enrollments, no complete window in both arms)."""

    program_id: str
    reason: str

    def headlines(self) -> dict:
        """The same names as :meth:`ProgramReadout.headlines` (all None), with ``status`` and ``reason``."""
        keys = ("lift", "lift_ci_low", "lift_ci_high", "p_value", "rate_program", "rate_holdout", "n_program",
                "n_holdout", "srm_p_value", "window_days", "planted_lift")
        return {"status": "no_readout", "reason": self.reason, **dict.fromkeys(keys)}

    def __str__(self) -> str:
        return f"{self.program_id}: no readout yet: {self.reason}"

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(self.program_id)}</b>: no readout yet: {html.escape(self.reason)}</p>"


def read_out_program(workspace, spec: ProgramSpec, *, as_of: datetime, window_days: int | None = None,
                     funnel: pd.DataFrame | None = None) -> ProgramReadout | NoReadout:
    """:func:`program_readout`, or a :class:`NoReadout` saying why there is none yet (for a
    scheduled report that must run before the program has data)."""
    try:
        return program_readout(workspace, spec, as_of=as_of, window_days=window_days, funnel=funnel)
    except MofInputError as exc:
        return NoReadout(spec.program_id, exc.one_line())


def plot_program_readout(ro: ProgramReadout | NoReadout):
    """The readout's two figures side by side: conversion within the window per arm (95% CI)
    and Kaplan-Meier time to production since entry per arm. None for a :class:`NoReadout`."""
    if isinstance(ro, NoReadout):
        return None
    import matplotlib.pyplot as plt

    from mof_experiments import plots

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1, 1.4]})
    plots.arm_rates(ro.summary, ax=a, title=f"Conversion within {ro.window_days} days of entry (95% CI)")
    plots.survival_curves(ro.km.curves, group="arm", ax=b, xmax=float(ro.window_days) * 2,
                          title="Time to first production call since entry (Kaplan-Meier, 95% CI)")
    b.set_xlabel("days since entry")
    fig.suptitle(f"{ro.program_id}: program vs randomized holdout", fontsize=12)
    fig.tight_layout()
    return fig


__all__ = ["ProgramReadout", "NoReadout", "program_readout", "read_out_program", "plot_program_readout",
           "DATA_COLUMNS"]
