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

Two comparisons (``comparison``; ``"auto"`` picks the first when the control arm has email
events, else the second, and the result says which was made):

- **against control**: each treatment arm is compared with the control arm by a
  **one-sided** test that the treatment is worse by more than the margin: ``H0: rate_T -
  rate_C <= margin`` against ``H1: rate_T - rate_C > margin`` (:func:`guardrail_test`:
  statsmodels ``test_proportions_2indep``, Agresti-Caffo method, ``alternative="larger"``).
  ``lift_lower`` / ``lift_upper`` are the one-sided ``1 - alpha`` bounds of the difference
  from the same statistic (breached exactly when ``lift_lower > margin``). ``margin`` is an
  absolute rate difference, default 0: any increase shown at level ``alpha`` is a breach.
  Units: recipients (``contact_id``).
- **against thresholds**, when the control arm was never emailed (a no-email holdout, the
  simulator's design: there is no control rate): each emailed arm's rate **per message
  sent** (``unit="message_id"``, as the providers below define their rates) is tested
  against an absolute limit, ``H0: rate <= threshold`` vs ``H1: rate > threshold``, by the
  exact binomial test (:func:`threshold_test`). Default limits (:data:`THRESHOLDS`):

  ============== ======= ===================================================================
  guardrail       limit  source
  ============== ======= ===================================================================
  complaint_rate  0.3%   Google, "Email sender guidelines" (support.google.com/mail/answer/81126,
                         from February 2024): keep the spam rate below 0.1% and never reach
                         0.3%; Yahoo's sender requirements (2024) name the same 0.3%
  bounce_rate     5%     Amazon SES Developer Guide (enforcement FAQs, reputation metrics):
                         an account is placed under review at a 5% bounce rate and may be
                         paused at 10%
  unsubscribe_rate 1%    no mailbox provider publishes a limit; email benchmark reports
                         (Campaign Monitor, Mailchimp) put the average per send at 0.1-0.5%
                         (B2B up to about 1%): 1% flags an arm clearly above usual
  ============== ======= ===================================================================

  A breach says the arm's rate is shown to exceed the limit at level ``alpha``; it is not a
  causal effect of the email (there is no comparison group).

``status`` per row: ``low data`` when an arm has fewer than ``min_units`` units (the
package's low-data rule, ``stats.comparison.LOW_DATA_N`` = 30) or, against control, the two
arms together fewer than ``min_events`` events (``LOW_DATA_EVENTS`` = 5); else ``breached``
when ``p_value < alpha``; else ``ok``. The overall status is ``breached`` if any row is, else
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

from mof_experiments.checks import check_alpha, check_positive, labels, require_columns
from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.stats.comparison import LOW_DATA_EVENTS, LOW_DATA_N

#: guardrail name -> email event counted.
GUARDRAILS = {"unsubscribe_rate": "unsubscribe", "complaint_rate": "complaint", "bounce_rate": "bounce"}
#: Absolute limits per message sent, used when the control arm was never emailed (module
#: docstring: sources). complaint: Gmail's and Yahoo's bulk-sender line (0.3%); bounce: Amazon
#: SES's review threshold (5%); unsubscribe: no provider publishes one, 1% (about twice the
#: per-send averages of email benchmark reports).
THRESHOLDS = {"unsubscribe_rate": 0.01, "complaint_rate": 0.003, "bounce_rate": 0.05}
COMPARISON_CONTROL, COMPARISON_THRESHOLDS = "control", "thresholds"
STATUS_OK, STATUS_BREACHED, STATUS_LOW_DATA = "ok", "breached", "low data"
_UNIT_WORDS = {"message_id": "message sent", "contact_id": "recipient", "company_id": "company"}


@dataclass(frozen=True)
class GuardrailResult:
    """Guardrails per arm, and which comparison was made.

    ``comparison``: ``"control"`` (each arm vs the emailed control arm) or ``"thresholds"``
    (each emailed arm vs the absolute ``thresholds``, when the control arm was never emailed).

    ``summary``: one row per (guardrail, arm), control rows first. Columns in both
    comparisons: comparison, guardrail (``unsubscribe_rate``, ``complaint_rate``,
    ``bounce_rate``), event, arm, is_control, n (units: recipients, or messages against
    thresholds), events (units with the event), rate, ci_low, ci_high (Wilson, two-sided
    ``1 - alpha``), p_value (one-sided), status (``ok`` / ``breached`` / ``low data``; the
    control row against control: ``control``). Against control also: lift (rate - control
    rate), lift_lower, lift_upper (one-sided ``1 - alpha`` bounds of the lift, Agresti-Caffo),
    margin (H1: lift > margin). Against thresholds also: threshold (H1: rate > threshold),
    rate_lower, rate_upper (one-sided ``1 - alpha`` Clopper-Pearson bounds of the rate).
    """

    control: str
    alpha: float
    unit: str
    status: str
    breached: tuple
    summary: pd.DataFrame = field(repr=False)
    comparison: str = COMPARISON_CONTROL
    thresholds: dict = field(default_factory=dict)

    def describe(self) -> str:
        """One sentence: which comparison was made, per what unit, by which test."""
        per = _UNIT_WORDS.get(self.unit, self.unit)
        if self.comparison == COMPARISON_THRESHOLDS:
            limits = ", ".join(f"{g} {v:.2%}" for g, v in self.thresholds.items())
            return (f"each emailed arm vs absolute thresholds ({limits}) per {per}, one-sided exact binomial "
                    f"test at alpha {self.alpha:g}; control {self.control!r} has no email events, so no two-arm "
                    "comparison")
        return f"each arm vs control {self.control!r} per {per}, one-sided Agresti-Caffo test at alpha {self.alpha:g}"

    def to_dict(self) -> dict:
        """``{"status", "comparison", "breached": [[guardrail, arm], ...], "unit", "alpha",
        "thresholds", "rows": [...]}`` (JSON-ready; NaN as null)."""
        rows = []
        for r in self.summary.itertuples():
            rows.append({k: (None if isinstance(v, float) and not np.isfinite(v) else
                             v.item() if hasattr(v, "item") else v)
                         for k, v in r._asdict().items() if k != "Index"})
        return {"status": self.status, "comparison": self.comparison, "description": self.describe(),
                "breached": [list(b) for b in self.breached], "unit": self.unit, "alpha": self.alpha,
                "thresholds": dict(self.thresholds), "rows": rows}

    def __str__(self) -> str:
        lines = [f"guardrails: {self.status.upper()} ({self.describe()})"]
        for r in self.summary.itertuples():
            s = f"  {r.guardrail:<17} {r.arm:<14} {r.events:>6,}/{r.n:<8,} {r.rate:.4%}"
            if r.comparison == COMPARISON_THRESHOLDS:
                s += (f"  vs threshold {r.threshold:.2%} (one-sided bounds {r.rate_lower:.4%}, {r.rate_upper:.4%}) "
                      f"p={r.p_value:.3g}  {r.status}")
            elif not r.is_control:
                s += (f"  lift {r.lift:+.4%} (one-sided bounds {r.lift_lower:+.4%}, {r.lift_upper:+.4%}; margin "
                      f"{r.margin:+.4%}) p={r.p_value:.3g}  {r.status}")
            lines.append(s)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return (f"<p>Guardrails: <b>{self.status}</b> ({self.describe()})</p>"
                + self.summary.to_html(index=False, float_format=lambda v: f"{v:.4g}"))


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


def _arm_of_events(events: pd.DataFrame, arm: str, assignments, source) -> tuple[pd.DataFrame, str]:
    """The events with their arm column (from ``assignments`` when given: company -> arm)."""
    if assignments is None:
        return events, arm
    require_columns(assignments, ["company_id", "arm"], "assignments", nonempty=True)
    asg = assignments[["company_id", "arm"]].astype({"company_id": "str", "arm": "str"})
    dup = asg["company_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise MofInputError("company assigned twice", source="assignments", column="company_id", row=i + 1,
                            value=asg["company_id"].iloc[i])
    ev = events.assign(company_id=labels(events, "company_id", source)).merge(
        asg.rename(columns={"arm": "__arm"}), on="company_id", how="inner")
    return ev, "__arm"


def guardrails(events: pd.DataFrame, *, control: str, arm: str = "arm", assignments: pd.DataFrame | None = None,
               unit: str | None = None, denominator: str = "sent", guardrails: Mapping[str, str] | None = None,
               margins: float | Mapping[str, float] | None = None, thresholds: Mapping[str, float] | None = None,
               comparison: str = "auto", alpha: float = 0.05, min_units: int = LOW_DATA_N,
               min_events: int = LOW_DATA_EVENTS, source: str | None = None) -> GuardrailResult:
    """Unsubscribe, complaint and bounce rate per arm, tested against control or against limits.

    Parameters
    ----------
    events : ``email_events`` rows (at least ``unit`` and ``event``; ``company_id`` with
        ``assignments``; ``message_id`` for the comparison with thresholds), already limited
        to the experiment's campaign(s).
    control : the control arm.
    arm : the column holding the arm in ``events``; ignored with ``assignments``.
    assignments : optional ``assignments`` rows (company_id, arm): each event takes its
        company's arm; events of unassigned companies are left out.
    unit : what is counted. Default ``contact_id`` (recipients) against control, ``message_id``
        (messages sent, as mailbox providers define their rates) against thresholds;
        ``company_id`` counts the unit of randomization.
    denominator : the event that makes a unit a recipient (``sent``; ``delivered`` if the
        sender reports it).
    guardrails : ``{name: event}``; default :data:`GUARDRAILS`.
    margins : against control: the absolute rate difference allowed before a breach, one
        number or ``{name: margin}``; default 0.
    thresholds : against thresholds: ``{name: rate}``; default :data:`THRESHOLDS` (a name
        missing from the mapping keeps its default).
    comparison : ``"control"`` (every other arm vs the control arm), ``"thresholds"`` (every
        emailed arm vs :data:`THRESHOLDS`), or ``"auto"`` (default): against control when the
        control arm was emailed, else against thresholds (a no-email holdout has no rates).
    alpha : one-sided level of each test.
    min_units, min_events : low-data thresholds (module docstring).

    Returns
    -------
    :class:`GuardrailResult`; ``comparison`` says which comparison was made.
    """
    alpha = check_alpha(alpha)
    if comparison not in ("auto", COMPARISON_CONTROL, COMPARISON_THRESHOLDS):
        raise MofConfigError(f"comparison must be auto, control or thresholds, got {comparison!r}")
    kinds = dict(guardrails or GUARDRAILS)
    marg = _margins(margins, list(kinds))
    limits = _thresholds(thresholds, kinds)
    min_units, min_events = int(check_positive(min_units, "min_units")), int(check_positive(min_events, "min_events"))
    require_columns(events, ["event"] + (["company_id"] if assignments is not None else [arm]), source,
                    nonempty=True)
    ev, arm_col = _arm_of_events(events, arm, assignments, source)
    if ev.empty:  # every event is of a company the assignments do not have
        raise MofInputError(f"no event belongs to a company of the assignments ({len(events):,} events)",
                            source=source, column="company_id", row=1, value=str(events["company_id"].iloc[0]))
    control = str(control)
    arms_with_events = sorted({str(x) for x in labels(ev, arm_col, source if arm_col == arm else "assignments")})
    if comparison == "auto":
        comparison = COMPARISON_CONTROL if control in arms_with_events else COMPARISON_THRESHOLDS
    if unit is None:
        unit = "contact_id" if comparison == COMPARISON_CONTROL else "message_id"
    require_columns(ev, [unit], source)
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
    arms = [str(x) for x in arm_values]
    if comparison == COMPARISON_CONTROL:
        if control not in arms:
            raise MofInputError(f"control arm {control!r} has no email events (arms with events: "
                                f"{', '.join(arms[:10]) or 'none'}); a no-email holdout has no guardrail rates: "
                                "compare with thresholds", source=source, column=arm_col if arm_col == arm else "arm")
        if len(arms) < 2:
            raise MofInputError(f"only one arm ({control!r}) has email events: nothing to compare", source=source)
        order = [control] + sorted(x for x in arms if x != control)
    else:
        order = sorted(arms, key=lambda x: (x != control, x))
    unit_arm = np.empty(n_units, dtype="int64")
    unit_arm[uc] = ac

    def per_arm(mask) -> pd.Series:
        """Distinct units among the rows in ``mask``, counted by arm."""
        units = np.unique(uc[mask])
        return pd.Series(np.bincount(unit_arm[units], minlength=n_arms), index=arms).reindex(order)

    n_arm = per_arm(np.isin(kind, [denominator, *kinds.values()]))
    counts = {g: per_arm(kind == e) for g, e in kinds.items()}
    if comparison == COMPARISON_CONTROL:
        summ = _versus_control(kinds, counts, n_arm, order, control, marg, alpha, min_units, min_events)
    else:
        summ = _versus_thresholds(kinds, counts, n_arm, order, control, limits, alpha, min_units)
    tested = summ[summ["status"] != "control"]
    breached = tuple((r.guardrail, r.arm) for r in tested.itertuples() if r.status == STATUS_BREACHED)
    status = STATUS_BREACHED if breached else STATUS_LOW_DATA if (tested["status"] == STATUS_LOW_DATA).any() \
        else STATUS_OK
    used = limits if comparison == COMPARISON_THRESHOLDS else {}
    return GuardrailResult(control, alpha, unit, status, breached, summ, comparison, used)


def _versus_control(kinds, counts, n_arm, order, control, marg, alpha, min_units, min_events) -> pd.DataFrame:
    from statsmodels.stats.proportion import proportion_confint

    rows = []
    for g, e in kinds.items():
        cnt = counts[g]
        x0, n0 = int(cnt[control]), int(n_arm[control])
        for lv in order:
            x, n = int(cnt[lv]), int(n_arm[lv])
            lo, hi = proportion_confint(x, n, alpha=alpha, method="wilson") if n else (np.nan, np.nan)
            row = {"comparison": COMPARISON_CONTROL, "guardrail": g, "event": e, "arm": lv,
                   "is_control": lv == control, "n": n, "events": x, "rate": x / n if n else np.nan,
                   "ci_low": float(lo), "ci_high": float(hi), "lift": np.nan, "lift_lower": np.nan,
                   "lift_upper": np.nan, "margin": marg[g], "p_value": np.nan, "status": "control"}
            if lv != control:
                row["lift"] = (x / n if n else np.nan) - (x0 / n0 if n0 else np.nan)
                low = min(n, n0) < min_units or x + x0 < min_events
                if n and n0:
                    p, lo_d, up_d = guardrail_test(x, n, x0, n0, margin=marg[g], alpha=alpha)
                    row["p_value"], row["lift_lower"], row["lift_upper"] = float(p[0]), float(lo_d[0]), float(up_d[0])
                row["status"] = STATUS_LOW_DATA if low else STATUS_BREACHED if row["p_value"] < alpha else STATUS_OK
            rows.append(row)
    return pd.DataFrame(rows)


def threshold_test(x, n, threshold: float, *, alpha: float = 0.05):
    """One-sided exact test that a rate exceeds an absolute ``threshold``, vectorized.

    ``H0: rate <= threshold`` vs ``H1: rate > threshold``: statsmodels ``binom_test(x, n,
    threshold, alternative="larger")`` (exact binomial). Returns ``(p_value, rate_lower,
    rate_upper)`` arrays: the one-sided ``1 - alpha`` Clopper-Pearson bounds of the rate
    (``proportion_confint(method="beta", alpha=2 * alpha)``), so ``p_value < alpha`` exactly
    when ``rate_lower > threshold`` (the exact test and the Clopper-Pearson bound invert each
    other).
    """
    from statsmodels.stats.proportion import binom_test, proportion_confint

    x, n = (np.atleast_1d(np.asarray(v, dtype="float64")) for v in (x, n))
    p = np.array([binom_test(int(k), int(m), threshold, alternative="larger") if m > 0 else np.nan
                  for k, m in zip(x, n)], dtype="float64")
    with np.errstate(all="ignore"):
        lo, up = proportion_confint(x, np.where(n > 0, n, 1), alpha=2 * alpha, method="beta")
    lo, up = (np.where(n > 0, np.asarray(v, dtype="float64"), np.nan) for v in (lo, up))
    return p, lo, up


def _versus_thresholds(kinds, counts, n_arm, order, control, limits, alpha, min_units) -> pd.DataFrame:
    from statsmodels.stats.proportion import proportion_confint

    rows = []
    for g, e in kinds.items():
        for lv in order:
            x, n = int(counts[g][lv]), int(n_arm[lv])
            lo, hi = proportion_confint(x, n, alpha=alpha, method="wilson") if n else (np.nan, np.nan)
            p, r_lo, r_up = (float(v[0]) for v in threshold_test(x, n, limits[g], alpha=alpha))
            low = n < min_units
            rows.append({"comparison": COMPARISON_THRESHOLDS, "guardrail": g, "event": e, "arm": lv,
                         "is_control": lv == control, "n": n, "events": x, "rate": x / n if n else np.nan,
                         "ci_low": float(lo), "ci_high": float(hi), "threshold": limits[g], "rate_lower": r_lo,
                         "rate_upper": r_up, "p_value": p,
                         "status": STATUS_LOW_DATA if low else STATUS_BREACHED if p < alpha else STATUS_OK})
    return pd.DataFrame(rows)


def _thresholds(thresholds, kinds) -> dict[str, float]:
    out = {g: THRESHOLDS.get(g, np.nan) for g in kinds}
    if thresholds is not None:
        if not isinstance(thresholds, Mapping):
            raise MofConfigError(f"thresholds: give {{guardrail: rate}}, got {thresholds!r}")
        for k, v in thresholds.items():
            if k not in kinds:
                raise MofConfigError(f"thresholds: unknown guardrail {k!r} (guardrails: {', '.join(kinds)})")
            out[k] = check_alpha(v, f"thresholds: {k}")
    return out


def _power_inputs(alpha, power, rate, ratio, name: str) -> tuple[float, float, float, float]:
    """Checked ``alpha``, ``power`` and a rise from ``rate`` to ``ratio * rate`` within (0, 1)."""
    alpha, power = check_alpha(alpha), check_alpha(power, "power")
    rate, ratio = float(rate), float(ratio)
    if not (0 < rate < ratio * rate < 1):
        raise MofConfigError(f"need 0 < {name} < ratio * {name} < 1, got {name}={rate!r}, ratio={ratio!r}")
    return alpha, power, rate, ratio


def guardrail_sample_size(base_rate: float, *, ratio: float = 2.0, alpha: float = 0.05,
                          power: float = 0.9) -> int:
    """Recipients per arm (equal arms) for a rise from ``base_rate`` to ``ratio * base_rate``
    to be flagged with probability ``power`` by the one-sided test of :func:`guardrails` at
    margin 0.

    statsmodels ``samplesize_proportions_2indep_onetail`` (normal approximation: pooled
    variance under H0, unpooled under H1; ``alternative="larger"``), rounded up.
    """
    from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

    alpha, power, base_rate, ratio = _power_inputs(alpha, power, base_rate, ratio, "base_rate")
    n = samplesize_proportions_2indep_onetail((ratio - 1) * base_rate, base_rate, power, ratio=1, alpha=alpha,
                                              alternative="larger")
    return int(np.ceil(n))


def threshold_sample_size(threshold: float, *, ratio: float = 2.0, alpha: float = 0.05, power: float = 0.9) -> int:
    """Messages per arm at which a rate of ``ratio * threshold`` is flagged against
    ``threshold`` with probability ``power`` by the one-sided test of :func:`threshold_test`.

    statsmodels ``NormalIndPower().solve_power`` with ``ratio=0`` (one sample), Cohen's ``h``
    (``proportion_effectsize``), ``alternative="larger"``, rounded up; the exact test's power
    at that size is in ``benchmarks/README.md``.
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    alpha, power, threshold, ratio = _power_inputs(alpha, power, threshold, ratio, "threshold")
    h = proportion_effectsize(ratio * threshold, threshold)
    n = NormalIndPower().solve_power(effect_size=h, nobs1=None, alpha=alpha, power=power, ratio=0,
                                     alternative="larger")
    return int(np.ceil(n))


__all__ = ["guardrails", "guardrail_test", "threshold_test", "threshold_sample_size", "GuardrailResult", "guardrail_sample_size", "GUARDRAILS",
           "THRESHOLDS", "COMPARISON_CONTROL", "COMPARISON_THRESHOLDS", "STATUS_OK", "STATUS_BREACHED",
           "STATUS_LOW_DATA"]
