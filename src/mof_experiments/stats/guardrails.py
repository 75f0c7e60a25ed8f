"""Guardrail metrics: is an arm's email hurting the list (unsubscribes, complaints, bounces)?

Rule
----
From an ``email_events``-shaped frame (DESIGN.md: ``contact_id``, ``company_id``, ``event``,
...) with each row's arm, for every guardrail and arm:

- **recipients** ``n``: distinct units (``unit``, default ``contact_id``) with a ``sent`` event
  (``denominator``), or with any guardrail event (a unit cannot bounce unsent);
- **events**: recipients with at least one event of the kind (``unsubscribe``, ``complaint``,
  ``bounce``), so a unit counts once however many messages it got;
- **rate** = events / n, with its Wilson interval.

Each treatment arm is compared with the control arm by a **one-sided** test that the treatment
is worse by more than the margin: ``H0: rate_T - rate_C <= margin`` against ``H1: rate_T -
rate_C > margin`` (:func:`guardrail_test`: statsmodels ``test_proportions_2indep``,
Agresti-Caffo method, ``alternative="larger"``). ``lift_lower`` / ``lift_upper`` are the
one-sided ``1 - alpha`` bounds of the difference from the same statistic (breached exactly
when ``lift_lower > margin``). ``margin`` is an absolute rate difference, default 0: any
increase shown at level ``alpha`` is a breach.

``status`` per row: ``low data`` when an arm has fewer than ``min_units`` recipients (30) or
the two arms together fewer than ``min_events`` events (5); else ``breached`` when
``p_value < alpha``; else ``ok``. The overall status is ``breached`` if any row is, else
``low data`` if any row is, else ``ok``. No multiple-testing correction: a guardrail errs on
the side of raising the flag.

Power
-----
:func:`guardrail_sample_size` gives the recipients per arm at which a rise is flagged with the
requested power (statsmodels ``samplesize_proportions_2indep_onetail``). A doubling of a 3%
unsubscribe rate (the simulator's) needs 816 recipients per arm for 90% power, 1,031 for 95%;
of a 0.5% rate, 5,098 and 6,442. Summing over every outcome of the two binomial arms, the
exact chance that :func:`guardrail_test` flags the doubling at those sizes is 0.904 / 0.952 (3%)
and 0.903 / 0.953 (0.5%), and a null arm is flagged with probability 0.047 and 0.046.

Caveat: recipients at one company share one arm (the company is the unit of randomization),
so with many contacts per company the test is somewhat optimistic; ``unit="company_id"``
counts companies instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.stats._checks import check_alpha, check_columns, check_positive, labels

#: guardrail name -> email event counted.
GUARDRAILS = {"unsubscribe_rate": "unsubscribe", "complaint_rate": "complaint", "bounce_rate": "bounce"}
MIN_UNITS = 30
MIN_EVENTS = 5
STATUS_OK, STATUS_BREACHED, STATUS_LOW_DATA = "ok", "breached", "low data"


@dataclass(frozen=True)
class GuardrailResult:
    """Guardrails per arm.

    ``summary``: one row per (guardrail, arm), control rows first. Columns: guardrail
    (``unsubscribe_rate``, ``complaint_rate``, ``bounce_rate``), event, arm, is_control, n
    (recipients), events (recipients with the event), rate, ci_low, ci_high (Wilson, two-sided
    ``1 - alpha``), lift (rate - control rate), lift_lower, lift_upper (one-sided ``1 - alpha``
    bounds of the lift, Agresti-Caffo), margin, p_value (one-sided, H1: lift > margin), status (``ok`` / ``breached``
    / ``low data``; control rows: ``control``).
    """

    control: str
    alpha: float
    unit: str
    status: str
    breached: tuple
    summary: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict:
        """``{"status", "breached": [[guardrail, arm], ...], "rows": [...]}`` (JSON-ready)."""
        rows = []
        for r in self.summary.itertuples():
            rows.append({k: (None if isinstance(v, float) and not np.isfinite(v) else
                             v.item() if hasattr(v, "item") else v)
                         for k, v in r._asdict().items() if k != "Index"})
        return {"status": self.status, "breached": [list(b) for b in self.breached], "unit": self.unit,
                "alpha": self.alpha, "rows": rows}

    def __str__(self) -> str:
        lines = [f"guardrails (per {self.unit}, one-sided alpha {self.alpha:g}): {self.status.upper()}"]
        for r in self.summary.itertuples():
            s = f"  {r.guardrail:<17} {r.arm:<14} {r.events:>6,}/{r.n:<8,} {r.rate:.4%}"
            if not r.is_control:
                s += (f"  lift {r.lift:+.4%} (one-sided bounds {r.lift_lower:+.4%}, {r.lift_upper:+.4%}; margin "
                      f"{r.margin:+.4%}) p={r.p_value:.3g}  {r.status}")
            lines.append(s)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<p>Guardrails: <b>{self.status}</b></p>" + self.summary.to_html(index=False)


def _margins(margins, names) -> dict[str, float]:
    if margins is None:
        margins = 0.0
    if isinstance(margins, (int, float)) and not isinstance(margins, bool):
        margins = {g: margins for g in names}
    if not isinstance(margins, Mapping):
        raise MofConfigError(f"margins: give a number or {{guardrail: margin}}, got {margins!r}")
    out = {g: 0.0 for g in names}
    for k, v in margins.items():
        if k not in names:
            raise MofConfigError(f"margins: unknown guardrail {k!r} (guardrails: {', '.join(names)})")
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            raise MofConfigError(f"margins: {k} must be a number, got {v!r}") from None
    for k, v in out.items():
        if not (np.isfinite(v) and -1 < v < 1):
            raise MofConfigError(f"margins: {k} must be a rate difference between -1 and 1, got {v!r}")
    return out


def guardrail_test(x, n, x0, n0, *, margin: float = 0.0, alpha: float = 0.05):
    """One-sided test that treatment's rate exceeds control's by more than ``margin``, vectorized.

    ``H0: x/n - x0/n0 <= margin`` vs ``H1: > margin``: statsmodels ``test_proportions_2indep``
    with ``method="agresti-caffo"`` (one event and one non-event added to each arm, Wald
    statistic), ``alternative="larger"``. Returns ``(p_value, lift_lower, lift_upper)`` arrays:
    the one-sided ``1 - alpha`` lower and upper bounds of the difference from the same
    statistic, so ``p_value < alpha`` exactly when ``lift_lower > margin``; ``lift_upper``
    says how much worse the arm may be (``lift_upper <= margin``: shown not worse).

    Why Agresti-Caffo and not the score test: enumerating every outcome of two binomial arms,
    its level stays at or below 0.05 at the guardrail rates (0.1%-10%, 100 to 30,000 per arm:
    0.007-0.048), where the score test reaches 0.051-0.062; the cost is under half a point of
    power (docs/experiments.md).
    """
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    x, n, x0, n0 = (np.atleast_1d(np.asarray(a, dtype="float64")) for a in (x, n, x0, n0))
    with np.errstate(all="ignore"):
        p = test_proportions_2indep(x, n, x0, n0, value=margin, method="agresti-caffo", compare="diff",
                                    alternative="larger").pvalue
        lo, up = confint_proportions_2indep(x, n, x0, n0, method="agresti-caffo", compare="diff", alpha=2 * alpha)
    return tuple(np.atleast_1d(np.asarray(v, dtype="float64")) for v in (p, lo, up))


def guardrails(events: pd.DataFrame, *, control: str, arm: str = "arm", assignments: pd.DataFrame | None = None,
               unit: str = "contact_id", denominator: str = "sent", guardrails: Mapping[str, str] | None = None,
               margins: float | Mapping[str, float] | None = None, alpha: float = 0.05,
               min_units: int = MIN_UNITS, min_events: int = MIN_EVENTS,
               source: str | None = None) -> GuardrailResult:
    """Unsubscribe, complaint and bounce rate per arm, each treatment tested against control.

    Parameters
    ----------
    events : ``email_events`` rows (at least ``unit`` and ``event``; ``company_id`` with
        ``assignments``), already limited to the experiment's campaign(s).
    control : the control arm (it must have been emailed: a no-email holdout has no rates).
    arm : the column holding the arm in ``events``; ignored with ``assignments``.
    assignments : optional ``assignments`` rows (company_id, arm): each event takes its
        company's arm; events of unassigned companies are left out.
    unit : what is counted (``contact_id``, or ``company_id`` for the unit of randomization).
    denominator : the event that makes a unit a recipient (``sent``; ``delivered`` if the
        sender reports it).
    guardrails : ``{name: event}``; default :data:`GUARDRAILS`.
    margins : absolute rate difference allowed before a breach: one number or ``{name:
        margin}``; default 0.
    alpha : one-sided level of each test.

    Returns
    -------
    :class:`GuardrailResult`.
    """
    alpha = check_alpha(alpha)
    kinds = dict(guardrails or GUARDRAILS)
    marg = _margins(margins, list(kinds))
    min_units, min_events = int(check_positive(min_units, "min_units")), int(check_positive(min_events, "min_events"))
    check_columns(events, [unit, "event"] + (["company_id"] if assignments is not None else [arm]), source)
    ev = events
    if assignments is not None:
        check_columns(assignments, ["company_id", "arm"], "assignments")
        asg = assignments[["company_id", "arm"]].astype({"company_id": "str", "arm": "str"})
        dup = asg["company_id"].duplicated()
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise MofInputError("company assigned twice", source="assignments", column="company_id", row=i + 1,
                                value=asg["company_id"].iloc[i])
        ev = ev.assign(company_id=labels(ev, "company_id", source)).merge(
            asg.rename(columns={"arm": "__arm"}), on="company_id", how="inner")
        arm_col = "__arm"
    else:
        arm_col = arm
    u = labels(ev, unit, source).to_numpy()
    a = labels(ev, arm_col, source if arm_col == arm else "assignments").to_numpy()
    kind = labels(ev, "event", source).to_numpy()
    uc, _ = pd.factorize(u)
    ac, arm_values = pd.factorize(a)
    n_units, n_arms = int(uc.max()) + 1 if len(uc) else 0, len(arm_values)
    pairs = np.unique(uc.astype("int64") * n_arms + ac)  # distinct (unit, arm)
    if len(np.unique(pairs // n_arms)) < len(pairs):
        uid_code = pairs[np.flatnonzero(np.diff(pairs // n_arms) == 0)[0]] // n_arms
        i = int(np.flatnonzero(uc == uid_code)[0])
        j = int(np.flatnonzero((uc == uid_code) & (ac != ac[i]))[0])
        raise MofInputError(f"{unit} {u[i]!r} appears in two arms ({a[i]!r} and {a[j]!r})", source=source,
                            column=arm_col if arm_col == arm else "company_id", row=j + 1, value=a[j])
    control = str(control)
    arms = [str(x) for x in arm_values]
    if control not in arms:
        raise MofInputError(f"control arm {control!r} has no email events (arms with events: "
                            f"{', '.join(arms[:10]) or 'none'}); a no-email holdout has no guardrail rates",
                            source=source, column=arm_col if arm_col == arm else "arm")
    if len(arms) < 2:
        raise MofInputError(f"only one arm ({control!r}) has email events: nothing to compare", source=source)
    order = [control] + sorted(x for x in arms if x != control)
    unit_arm = np.empty(n_units, dtype="int64")
    unit_arm[uc] = ac

    def per_arm(mask) -> pd.Series:
        """Distinct units among the rows in ``mask``, counted by arm."""
        units = np.unique(uc[mask])
        return pd.Series(np.bincount(unit_arm[units], minlength=n_arms), index=arms).reindex(order)

    n_arm = per_arm(np.isin(kind, [denominator, *kinds.values()]))

    from statsmodels.stats.proportion import proportion_confint

    rows = []
    for g, e in kinds.items():
        cnt = per_arm(kind == e)
        x0, n0 = int(cnt[control]), int(n_arm[control])
        for lv in order:
            x, n = int(cnt[lv]), int(n_arm[lv])
            lo, hi = proportion_confint(x, n, alpha=alpha, method="wilson") if n else (np.nan, np.nan)
            row = {"guardrail": g, "event": e, "arm": lv, "is_control": lv == control, "n": n, "events": x,
                   "rate": x / n if n else np.nan, "ci_low": float(lo), "ci_high": float(hi),
                   "lift": np.nan, "lift_lower": np.nan, "lift_upper": np.nan, "margin": marg[g], "p_value": np.nan, "status": "control"}
            if lv != control:
                row["lift"] = (x / n if n else np.nan) - (x0 / n0 if n0 else np.nan)
                low = min(n, n0) < min_units or x + x0 < min_events
                if n and n0:
                    p, lo_d, up_d = guardrail_test(x, n, x0, n0, margin=marg[g], alpha=alpha)
                    row["p_value"], row["lift_lower"], row["lift_upper"] = float(p[0]), float(lo_d[0]), float(up_d[0])
                row["status"] = STATUS_LOW_DATA if low else STATUS_BREACHED if row["p_value"] < alpha else STATUS_OK
            rows.append(row)
    summ = pd.DataFrame(rows)
    tested = summ[~summ["is_control"]]
    breached = tuple((r.guardrail, r.arm) for r in tested.itertuples() if r.status == STATUS_BREACHED)
    status = STATUS_BREACHED if breached else STATUS_LOW_DATA if (tested["status"] == STATUS_LOW_DATA).any() \
        else STATUS_OK
    return GuardrailResult(control, alpha, unit, status, breached, summ)


def guardrail_sample_size(base_rate: float, *, ratio: float = 2.0, alpha: float = 0.05,
                          power: float = 0.9) -> int:
    """Recipients per arm (equal arms) for a rise from ``base_rate`` to ``ratio * base_rate``
    to be flagged with probability ``power`` by the one-sided test of :func:`guardrails` at
    margin 0.

    statsmodels ``samplesize_proportions_2indep_onetail`` (normal approximation: pooled
    variance under H0, unpooled under H1; ``alternative="larger"``), rounded up.
    """
    from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

    alpha = check_alpha(alpha)
    power = check_alpha(power, "power")
    base_rate, ratio = float(base_rate), float(ratio)
    if not (0 < base_rate < ratio * base_rate < 1):
        raise MofConfigError(f"need 0 < base_rate < ratio * base_rate < 1, got base_rate={base_rate!r}, "
                             f"ratio={ratio!r}")
    n = samplesize_proportions_2indep_onetail((ratio - 1) * base_rate, base_rate, power, ratio=1, alpha=alpha,
                                              alternative="larger")
    return int(np.ceil(n))


__all__ = ["guardrails", "guardrail_test", "GuardrailResult", "guardrail_sample_size", "GUARDRAILS", "MIN_UNITS", "MIN_EVENTS",
           "STATUS_OK", "STATUS_BREACHED", "STATUS_LOW_DATA"]
