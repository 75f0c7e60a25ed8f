"""The run's index: each report's headline figures formatted for a reader, and a one-line takeaway.

``manifest.json`` keeps the raw, machine-readable headlines (``production_rate = 0.3343``); the
index shows them with plain names and units (``Companies in production: 33% (95% CI 31% to
35%)``) through :func:`format_headlines`, and one sentence per report through
:func:`index_takeaway`.

Rules
-----
- A headline's kind (share, pp, ratio, count, days, probability) comes from its name:
  :data:`HEADLINE_KINDS` for the known names, then suffix rules (``*_rate``, ``*_share`` ->
  share; ``lift_*``, ``*_effect``, ``*_difference`` -> pp; ``*_ratio`` -> ratio; ``*_prob`` ->
  probability; ``*_days`` -> days; ``*companies``/``n_*`` -> count); anything else is a number
  with three significant digits.
- An interval (``X_ci`` = ``[low, high]``, or ``X_ci_low`` / ``X_ci_high``) is written next to
  ``X`` in ``X``'s unit, not as a row of its own.
- ``takeaways`` (the list of sentences a report recorded with
  :func:`~mof_experiments.reports.takeaways.show_takeaways`) is not a figure: the first sentence is
  the fallback one-line takeaway of a report this module does not know.
"""

from __future__ import annotations

import re

from mof_experiments.reports.formatting import fmt, fmt_ci, fmt_estimate, fmt_number, fmt_pct

#: name -> (plain label, kind) for the headlines of the reports shipped with the toolkit.
HEADLINE_KINDS = {
    # funnel_overview
    "companies": ("Companies", "count"),
    "production_rate": ("Companies in production", "pct"),
    "sandbox_companies": ("Companies still in sandbox", "count"),
    "median_days_to_production_km": ("Median days to first working app (Kaplan-Meier)", "days"),
    "converted_within_30_days": ("First working app within 30 days of sign-up", "pct"),
    "first_app_30d": ("First working app within 30 days of sign-up", "pct"),
    "first_app_median_converted_days": ("Median days to first working app, converted companies only", "days"),
    "first_app_km_median_days": ("Median days to first working app (Kaplan-Meier)", "days"),
    "first_app_km_median": ("Median days to first working app (Kaplan-Meier)", "text"),
    "first_app_companies": ("Companies that made a first API call", "count"),
    # engagement_conversion
    "open_rate_production": ("Open rate, companies in production", "pct"),
    "open_rate_sandbox": ("Open rate, companies still in sandbox", "pct"),
    "open_ratio": ("Open rate ratio, production vs sandbox (observational)", "ratio"),
    "smoothed_odds_ratio": ("Odds ratio, opened x in production (observational)", "ratio"),
    "phi": ("Phi, opened x in production (observational)", "number"),
    "logit_odds_ratio_opened": ("Odds ratio of opening, adjusted (observational)", "ratio"),
    "cox_hr_2plus_opens": ("Hazard ratio, 2+ opens before the landmark (observational)", "ratio"),
    "holdout_effect": ("Effect of the emails on conversion (randomized)", "pp"),
    "delivered": ("Messages delivered", "count"),
    "true_effect": ("Simulator's true effect", "pp"),
    "opener_difference": ("Openers vs non-openers, conversion (observational)", "pp"),
    # experiment_readout
    "enrolled_companies": ("Companies enrolled", "count"),
    "complete_companies": ("Companies with their whole window observed", "count"),
    "srm_p_value": ("Sample-ratio check p-value", "number"),
    "seq_ci_low": ("Confidence sequence, low", "pp"),
    "seq_ci_high": ("Confidence sequence, high", "pp"),
    "prob_beat_control": ("Chance to beat control", "prob"),
    "expected_loss": ("Expected loss if chosen", "pp"),
    "qini": ("Qini coefficient of the uplift model", "number"),
    "predicted_vs_true_uplift_corr": ("Predicted vs true uplift, Spearman", "number"),
    "incremental_per_1000": ("Extra conversions per 1,000 companies emailed", "number"),
    "targeted_companies": ("Companies to email first", "count"),
    "guardrail_status": ("Guardrails", "text"),
    "guardrail_comparison": ("Guardrails compared against", "text"),
    # content_optimization
    "engagement_multiple": ("Targeted vs generic engagement (multiple)", "ratio"),
}

#: Names with a parameter: (pattern, label template ({0}: as written, {1}: upper case), kind).
_NAMED = ((r"^best_zone_(\w+)$", "Best zone for {1}", "text"),
          (r"^true_lift_(\w+)$", "Simulator's true lift, {0}", "pp"),
          (r"^lift_(\w+)$", "Lift of {0} vs control (randomized)", "pp"),
          (r"^best_(\w+?)_prob$", "Chance the best content for {1} is best", "prob"),
          (r"^best_(\w+)$", "Best content for {1}", "text"))
_SUFFIX_KINDS = ((r"(^|_)(rate|share)$", "pct"), (r"^lift_|_effect$|_difference$|_pp$", "pp"),
                 (r"_ratio$|_multiple$", "ratio"), (r"_prob$|^prob_", "prob"), (r"_days$", "days"),
                 (r"companies$|^n_|_count$", "count"))
#: Kept in manifest.json, not shown in the index: the sentences (shown as the takeaway) and
#: figures the index shows under another name (e.g. the Kaplan-Meier median as text).
_SKIP = {"takeaways", "first_app_window_days", "first_app_km_median_days", "median_days_to_production_km", "converted_within_30_days"}
#: An estimate whose interval has another name than ``<name>_ci``.
_CI_OF = {"holdout_effect": "holdout_ci"}


def headline_kind(name: str) -> tuple[str, str]:
    """``(plain label, kind)`` of a headline name (see the module's rules)."""
    if name in HEADLINE_KINDS:
        return HEADLINE_KINDS[name]
    label = name.replace("_", " ")
    label = label[:1].upper() + label[1:]
    for pattern, template, kind in _NAMED:
        m = re.match(pattern, name)
        if m:
            return template.format(m.group(1), m.group(1).upper()), kind
    for pattern, kind in _SUFFIX_KINDS:
        if re.search(pattern, name):
            return label, kind
    return label, "number"


def _value(v, kind: str) -> str:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return "n/a" if v is None else str(v)
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_value(x, kind)}" for k, x in v.items())
    if isinstance(v, list):
        if len(v) == 2 and all(isinstance(x, (int, float)) or x is None for x in v):
            return f"{fmt(v[0], kind) if kind != 'text' else v[0]} to {fmt(v[1], kind) if kind != 'text' else v[1]}"
        return ", ".join(_value(x, kind) for x in v)
    if isinstance(v, (int, float)):
        return fmt(v, kind) if kind != "text" else fmt_number(v)
    return str(v)


def format_headlines(headlines: dict) -> list[tuple[str, str]]:
    """The headlines of one report as ``[(plain label, formatted value), ...]``, in recorded
    order, each interval merged into its estimate (see the module's rules)."""
    rows, used = [], set(_SKIP)
    for name, v in headlines.items():
        if name in used:
            continue
        label, kind = headline_kind(name)
        if name == "seq_ci_low" and isinstance(v, dict) and isinstance(headlines.get("seq_ci_high"), dict):
            hi_ = headlines["seq_ci_high"]
            rows.append(("Always-valid 95% interval of the lift (confidence sequence)",
                         "; ".join(f"{k}: {fmt(x, 'pp')} to {fmt(hi_.get(k), 'pp')}" for k, x in v.items())))
            used.update({"seq_ci_low", "seq_ci_high"})
            continue
        ci_name = _CI_OF.get(name, f"{name}_ci")
        ci = headlines.get(ci_name)
        lo, hi = headlines.get(f"{name}_ci_low"), headlines.get(f"{name}_ci_high")
        if isinstance(ci, list) and len(ci) == 2:
            lo, hi = ci
            used.add(ci_name)
        elif lo is not None or hi is not None:
            used.update({f"{name}_ci_low", f"{name}_ci_high"})
        if name.endswith(("_ci", "_ci_low", "_ci_high")) and name not in HEADLINE_KINDS:
            base = re.sub(r"_ci(_low|_high)?$", "", name)
            label, kind = headline_kind(base)
            label += " (95% interval)"
        if isinstance(v, (int, float)) and not isinstance(v, bool) and kind != "text" and (lo is not None or hi is not None):
            text = fmt_estimate(v, lo, hi, kind)
        else:
            text = _value(v, kind)
        rows.append((label, text))
        used.add(name)
    return rows


def _one(h: dict, name: str, kind: str) -> str:
    ci = h.get(_CI_OF.get(name, f"{name}_ci")) or [h.get(f"{name}_ci_low"), h.get(f"{name}_ci_high")]
    c = fmt_ci(ci[0], ci[1], kind) if isinstance(ci, list) and len(ci) == 2 else ""
    return fmt(h.get(name), kind) + (f" {c}" if c else "")


def _funnel(h):
    if "first_app_30d" in h:
        med = h.get("first_app_km_median_days")
        days = h.get("first_app_window_days") or 30
        tail = (f"median {fmt(med, 'days')}" if med is not None
                else f"median not reached: {fmt_pct(h.get('first_app_30d'))} by day {days:.0f}")
        return (f"{_one(h, 'first_app_30d', 'pct')} of the {fmt(h.get('first_app_companies'), 'count')} companies "
                f"that called the API had a first working app within {days:.0f} days of sign-up ({tail}).")
    if "production_rate" in h:
        return f"{fmt_pct(h['production_rate'])} of {fmt(h.get('companies'), 'count')} companies are in production."
    return None


def _engagement(h):
    if "holdout_effect" not in h:
        return None
    s = f"Sending the emails changed 30-day conversion by {_one(h, 'holdout_effect', 'pp')} (randomized)"
    if "opener_difference" in h:
        s += f"; openers vs non-openers differ by {fmt(h['opener_difference'], 'pp')}, mostly selection"
    return s + "."


def _readout(h):
    lifts = [k for k in h if re.match(r"^lift_\w+$", k) and not k.endswith("_ci")]
    if not lifts:
        return None
    parts = [f"{k[5:]} vs control: {_one(h, k, 'pp')}" for k in lifts]
    g = h.get("guardrail_status")
    return "Conversion lift " + "; ".join(parts) + (f". Guardrails: {g}." if g else ".")


def _content(h):
    if "engagement_multiple" not in h:
        return None
    s = (f"Targeted emails drew {_one(h, 'engagement_multiple', 'ratio')} the engagement of generic ones")
    zones = [f"{k[len('best_zone_'):].upper()}: {v}" for k, v in h.items() if k.startswith("best_zone_")]
    return s + (f"; best zone by persona: {', '.join(zones)}." if zones else ".")


_INDEX_LINES = {"funnel_overview": _funnel, "engagement_conversion": _engagement, "experiment_readout": _readout,
                "content_optimization": _content}


def index_takeaway(name: str, headlines: dict) -> str:
    """One sentence for the index about report ``name``, computed from its headlines: a rule for
    each shipped report; else the first sentence the report recorded as ``takeaways``; else a
    count of its headline figures."""
    line = None
    rule = _INDEX_LINES.get(name)
    if rule is not None:
        try:
            line = rule(headlines)
        except (TypeError, ValueError, KeyError):  # a headline of an unexpected shape: fall back
            line = None
    if line is None and headlines.get("takeaways"):
        t = headlines["takeaways"]
        line = t[0] if isinstance(t, list) else str(t)
    if line is None:
        n = len([k for k in headlines if k not in _SKIP])
        line = f"{n} headline figure{'s' if n != 1 else ''} recorded (see the report)." if n else "No headline figures."
    return line


__all__ = ["HEADLINE_KINDS", "headline_kind", "format_headlines", "index_takeaway"]
