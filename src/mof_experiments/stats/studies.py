"""Simulation studies of the readout statistics: how often are they wrong, at a given size?

Each study simulates many experiments with a known truth, runs the package function a reader
would run (:func:`~mof_experiments.stats.sequential.sequential_path`,
:func:`~mof_experiments.stats.guardrails.guardrails`,
:func:`~mof_experiments.stats.heterogeneity.breakdown`) on each, and counts the wrong calls.
``benchmarks/sequential_study.py`` prints them at full size; the slow tests run them smaller.
Useful on its own too: "if we read this experiment every morning, how often would we be fooled?"
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mof_experiments.errors import MofConfigError


def daily_experiment(rng: np.random.Generator, *, n_units: int, days: int = 30, base: float = 0.10,
                     lift: float = 0.0, metric: str = "rate") -> pd.DataFrame:
    """One simulated two-arm experiment: ``n_units`` units arrive uniformly over ``days`` days
    (column ``day``, 1..days), each a fair coin's arm (``control`` / ``treatment``), outcome
    ``y``: a rate is Bernoulli(``base``, + ``lift`` when treated); a mean is lognormal(0, 1)
    scaled to mean ``base`` (+ ``lift`` when treated), a heavy-tailed revenue-like metric."""
    day = rng.integers(1, days + 1, n_units)
    treated = rng.random(n_units) < 0.5
    if metric == "rate":
        y = (rng.random(n_units) < base + lift * treated).astype("int64")
    elif metric == "mean":
        y = rng.lognormal(0.0, 1.0, n_units) * base / np.exp(0.5) + lift * treated
    else:
        raise MofConfigError(f"metric must be 'rate' or 'mean', got {metric!r}")
    return pd.DataFrame({"arm": np.where(treated, "treatment", "control"), "y": y, "day": day})


@dataclass(frozen=True)
class PeekingStudy:
    """Read ``runs`` experiments at every one of ``days`` looks.

    ``fixed_any``: share of runs in which the fixed-horizon test (the readout's) rejected at
    some look (the false-positive rate of daily reading when ``lift == 0``);
    ``fixed_final``: rejected at the last look only (what reading once gives); ``seq_any``:
    the confidence sequence excluded 0 at some look; ``seq_covered_all``: it contained the
    true lift at every look; ``fixed_covered_all``: the fixed-horizon interval did.
    ``summary``: those numbers as a one-row DataFrame.
    """

    runs: int
    n_units: int
    n_expected: float
    days: int
    metric: str
    base: float
    lift: float
    fixed_any: float
    fixed_final: float
    seq_any: float
    seq_covered_all: float
    fixed_covered_all: float
    summary: pd.DataFrame = field(repr=False)


def peeking_study(*, runs: int = 1000, n_units: int = 3000, days: int = 30, base: float = 0.10, lift: float = 0.0,
                  metric: str = "rate", n_expected: float | str | None = None, alpha: float = 0.05,
                  seed: int = 0) -> PeekingStudy:
    """Daily reading of ``runs`` simulated experiments (:func:`daily_experiment`), each read
    with :func:`~mof_experiments.stats.sequential.sequential_path` tuned for ``n_expected``
    (default ``n_units``, the planned size; another value shows a misjudged plan)."""
    from mof_experiments.stats.sequential import sequential_path

    rng = np.random.default_rng(seed)
    fixed_any = fixed_final = seq_any = seq_cov = fixed_cov = 0
    for _ in range(runs):
        df = daily_experiment(rng, n_units=n_units, days=days, base=base, lift=lift, metric=metric)
        s = sequential_path(df, arm="arm", outcome="y", time="day", control="control",
                            n_expected=n_expected or n_units,
                            looks=range(1, days + 1), metric=metric, alpha=alpha).summary
        rej = (s["p_value"] < alpha).to_numpy()
        fixed_any += bool(rej.any())
        fixed_final += bool(rej[-1])
        seq_any += bool(((s["seq_ci_low"] > 0) | (s["seq_ci_high"] < 0)).any())
        seq_cov += bool(((s["seq_ci_low"] <= lift) & (lift <= s["seq_ci_high"])).all())
        fixed_cov += bool(((s["lift_ci_low"] <= lift) & (lift <= s["lift_ci_high"])).all())
    vals = {"runs": runs, "n_units": n_units,
            "n_expected": float("nan") if n_expected == "current" else float(n_expected or n_units), "days": days,
            "metric": metric, "base": base, "lift": lift,
            "fixed_any": fixed_any / runs, "fixed_final": fixed_final / runs, "seq_any": seq_any / runs,
            "seq_covered_all": seq_cov / runs, "fixed_covered_all": fixed_cov / runs}
    return PeekingStudy(**vals, summary=pd.DataFrame([vals]))


def guardrail_events(rng: np.random.Generator, *, n_per_arm: int, base: float, ratio: float = 1.0,
                     event: str = "unsubscribe") -> pd.DataFrame:
    """``email_events`` rows of one simulated guardrail test: every contact gets a ``sent`` row;
    a control contact has ``event`` with probability ``base``, a treated one ``ratio * base``."""
    arm = np.repeat(["control", "treatment"], n_per_arm)
    cid = np.char.add("c", np.arange(2 * n_per_arm).astype("str"))
    hit = rng.random(2 * n_per_arm) < np.where(arm == "control", base, ratio * base)
    return pd.concat([pd.DataFrame({"contact_id": cid, "arm": arm, "event": "sent"}),
                      pd.DataFrame({"contact_id": cid[hit], "arm": arm[hit], "event": event})], ignore_index=True)


def guardrail_flag_probability(n_per_arm: int, p_treatment: float, p_control: float, *, alpha: float = 0.05,
                               margin: float = 0.0) -> float:
    """Exact probability that :func:`~mof_experiments.stats.guardrails.guardrails` reports a
    breach, with ``n_per_arm`` recipients per arm and true rates ``p_treatment``, ``p_control``:
    the sum over every outcome ``(x_t, x_c)`` of the two binomial arms (probability > 1e-13
    each) of its probability times the decision of
    :func:`~mof_experiments.stats.guardrails.guardrail_test` (fewer than ``LOW_DATA_EVENTS`` events
    in all: low data, never a breach). The level when the rates are equal, the power otherwise.
    """
    from scipy.stats import binom

    from mof_experiments.stats.comparison import LOW_DATA_EVENTS
    from mof_experiments.stats.guardrails import guardrail_test

    k = np.arange(int(n_per_arm) + 1)
    wt, wc = binom.pmf(k, n_per_arm, p_treatment), binom.pmf(k, n_per_arm, p_control)
    kt, kc = k[wt > 1e-13], k[wc > 1e-13]
    xt, xc = (a.ravel() for a in np.meshgrid(kt, kc, indexing="ij"))
    p = guardrail_test(xt, n_per_arm, xc, n_per_arm, margin=margin, alpha=alpha)[0]
    w = np.outer(wt[wt > 1e-13], wc[wc > 1e-13]).ravel()
    return float((w * ((p < alpha) & (xt + xc >= LOW_DATA_EVENTS))).sum())


def threshold_flag_probability(n: int, p_true: float, threshold: float, *, alpha: float = 0.05) -> float:
    """Exact probability that :func:`~mof_experiments.stats.guardrails.threshold_test` flags an
    arm of ``n`` messages whose true rate is ``p_true``: ``P(X >= k*)`` for ``X ~ Bin(n,
    p_true)``, ``k*`` the smallest count whose one-sided exact p-value ``P(Bin(n, threshold) >=
    k)`` is below ``alpha``. The level at ``p_true = threshold``, the power above it."""
    from scipy.stats import binom

    k = np.arange(int(n) + 1)
    flagged = binom.sf(k - 1, n, threshold) < alpha
    if not flagged.any():
        return 0.0
    return float(binom.sf(int(k[flagged][0]) - 1, n, p_true))


def guardrail_study(*, runs: int = 1000, n_per_arm: int = 816, base: float = 0.03, ratio: float = 2.0,
                    alpha: float = 0.05, seed: int = 0) -> float:
    """Share of ``runs`` simulated tests in which :func:`~mof_experiments.stats.guardrails.guardrails`
    reports the unsubscribe guardrail ``breached`` for the treatment arm."""
    from mof_experiments.stats.guardrails import guardrails

    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(runs):
        res = guardrails(guardrail_events(rng, n_per_arm=n_per_arm, base=base, ratio=ratio), control="control",
                         alpha=alpha)
        hits += ("unsubscribe_rate", "treatment") in res.breached
    return hits / runs


#: Cells of the null breakdown study: persona shares and base rates (different baselines, one
#: common additive effect, so the effect on the table's scale is the same in every cell).
NULL_CELLS = {"PM": (0.35, 0.10), "DEV": (0.30, 0.20), "CFO": (0.15, 0.05), "CEO": (0.12, 0.08), "GC": (0.08, 0.15)}


def breakdown_null_study(*, runs: int = 1000, n_units: int = 3000, lift: float = 0.02, metric: str = "rate",
                         alpha: float = 0.05, seed: int = 0) -> float:
    """Share of ``runs`` simulated experiments in which the interaction test of
    :func:`~mof_experiments.stats.heterogeneity.breakdown` rejects at ``alpha`` although the
    effect is the same ``lift`` in every cell (:data:`NULL_CELLS`; means: lognormal(0, 1)
    scaled to 10 x the cell's base)."""
    from mof_experiments.stats.heterogeneity import breakdown

    names = list(NULL_CELLS)
    share = np.array([NULL_CELLS[c][0] for c in names])
    basev = np.array([NULL_CELLS[c][1] for c in names])
    rng = np.random.default_rng(seed)
    rejected = 0
    for _ in range(runs):
        k = rng.choice(len(names), n_units, p=share / share.sum())
        t = rng.random(n_units) < 0.5
        if metric == "rate":
            y = (rng.random(n_units) < basev[k] + lift * t).astype("int64")
        else:
            y = rng.lognormal(0.0, 1.0, n_units) * basev[k] * 10 + lift * t
        df = pd.DataFrame({"arm": np.where(t, "treatment", "control"), "y": y, "persona": np.array(names)[k]})
        b = breakdown(df, arm="arm", outcome="y", by="persona", control="control", metric=metric,
                      correction="none", alpha=alpha)
        rejected += bool(b.interaction_p_value < alpha)
    return rejected / runs


def bayesian_monte_carlo_check(*, cases: int = 20, draws: int = 200_000, seed: int = 2026) -> pd.DataFrame:
    """:func:`~mof_experiments.stats.bayesian.bayesian_rates` against Monte Carlo on random cases.

    Each case: arms of 30 to 30,000 units, a control rate uniform in [0.2%, 60%], a treatment
    rate 0.95 to 1.05 times it (close calls, where the chance to win is neither 0 nor 1);
    ``draws`` posterior draws per arm (Beta(1, 1) prior). Columns: n_control, x_control,
    n_treatment, x_treatment, prob_beat_control, monte_carlo, abs_diff, expected_loss,
    mc_loss (``E[max(p_c - p_t, 0)]`` from the draws).
    """
    from mof_experiments.stats.bayesian import bayesian_rates

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(cases):
        n0, n1 = (int(v) for v in rng.integers(30, 30_000, 2))
        p = rng.uniform(0.002, 0.6)
        x0, x1 = int(rng.binomial(n0, p)), int(rng.binomial(n1, p * rng.uniform(0.95, 1.05)))
        r = bayesian_rates([x0, x1], [n0, n1], arms=["control", "treatment"])
        d = rng.beta(1 + x1, 1 + n1 - x1, draws) - rng.beta(1 + x0, 1 + n0 - x0, draws)
        pb, mc = r.prob_beat_control["treatment"], float((d > 0).mean())
        rows.append({"n_control": n0, "x_control": x0, "n_treatment": n1, "x_treatment": x1,
                     "prob_beat_control": pb, "monte_carlo": mc, "abs_diff": abs(pb - mc),
                     "expected_loss": r.expected_loss["treatment"], "mc_loss": float(np.maximum(-d, 0).mean())})
    return pd.DataFrame(rows)


__all__ = ["daily_experiment", "peeking_study", "PeekingStudy", "guardrail_events", "guardrail_study",
           "guardrail_flag_probability", "bayesian_monte_carlo_check",
           "breakdown_null_study", "NULL_CELLS"]
