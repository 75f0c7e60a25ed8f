"""Acceptance studies of issue 15's statistics; prints tables (no asserts).

    .venv/bin/python benchmarks/sequential_study.py            # all studies (about 15 min on a loaded 2-core machine)
    .venv/bin/python benchmarks/sequential_study.py --runs 200 --only peeking

1. Daily peeking: simulated A/A and A/B experiments read every day for 30 days. Share of runs
   in which the fixed-horizon test (the readout's score test / Welch t-test) rejected at some
   look, at the last look only, in which the confidence sequence excluded 0 at some look, and
   in which it covered the true lift at all 30 looks; also with ``n_expected`` misjudged 4x,
   and re-tuned every morning for that morning's n (the readout's default, ``n_expected`` nan).
2. Guardrails: a doubled unsubscribe rate and a null arm, at the sizes docs/experiments.md
   states (statsmodels sample size for 90% and 95% power): exact flag probability (every
   binomial outcome) and share flagged in simulated email_events through ``guardrails()``;
   against the absolute thresholds (a never-emailed control): the exact chance that an arm at
   the threshold, and at twice the threshold, is flagged, at the messages needed for 90% power.
3. Breakdowns: rejection rate of the interaction test when every cell has the same effect
   (4 x --runs simulations: at 1,000 the standard error alone is 0.7 points).
4. Bayesian: chance to beat control vs a 200,000-draw Monte Carlo on 20 random cases.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import pandas as pd

from mof_experiments.stats.guardrails import THRESHOLDS, guardrail_sample_size, threshold_sample_size
from mof_experiments.stats.studies import (bayesian_monte_carlo_check, breakdown_null_study,
                                           guardrail_flag_probability, guardrail_study, peeking_study,
                                           threshold_flag_probability)


def peeking(runs: int) -> pd.DataFrame:
    configs = [
        dict(n_units=1000, base=0.10, lift=0.0), dict(n_units=3000, base=0.10, lift=0.0),
        dict(n_units=20_000, base=0.02, lift=0.0), dict(n_units=3000, base=10.0, lift=0.0, metric="mean"),
        dict(n_units=3000, base=0.10, lift=0.0, n_expected=750), dict(n_units=3000, base=0.10, lift=0.0, n_expected=12_000),
        dict(n_units=1000, base=0.10, lift=0.04), dict(n_units=3000, base=0.10, lift=0.03),
        dict(n_units=20_000, base=0.02, lift=0.005), dict(n_units=3000, base=10.0, lift=1.0, metric="mean"),
        dict(n_units=3000, base=0.10, lift=0.03, n_expected=750), dict(n_units=3000, base=0.10, lift=0.03, n_expected=12_000),
        # the readout's default: no planned n, the band re-tuned each morning for that morning's n
        dict(n_units=1000, base=0.10, lift=0.0, n_expected="current"),
        dict(n_units=3000, base=0.10, lift=0.0, n_expected="current"),
        dict(n_units=20_000, base=0.02, lift=0.0, n_expected="current"),
        dict(n_units=3000, base=10.0, lift=0.0, metric="mean", n_expected="current"),
        dict(n_units=3000, base=0.10, lift=0.03, n_expected="current"),
    ]
    rows = []
    for i, kw in enumerate(configs):
        t = time.perf_counter()
        s = peeking_study(runs=runs, days=30, seed=100 + i, **kw).summary
        s["seconds"] = time.perf_counter() - t
        rows.append(s)
    return pd.concat(rows, ignore_index=True)


def guardrail_table(runs: int) -> pd.DataFrame:
    rows = []
    for base in (0.03, 0.005):
        for power in (0.90, 0.95):
            n = guardrail_sample_size(base, power=power)
            t = time.perf_counter()
            sim_double = guardrail_study(runs=runs, n_per_arm=n, base=base, ratio=2.0, seed=1)
            sim_null = guardrail_study(runs=runs, n_per_arm=n, base=base, ratio=1.0, seed=2)
            rows.append({"base_rate": base, "planned_power": power, "n_per_arm": n,
                         "exact_flag_doubled": guardrail_flag_probability(n, 2 * base, base),
                         "sim_flag_doubled": sim_double,
                         "exact_flag_null": guardrail_flag_probability(n, base, base), "sim_flag_null": sim_null,
                         "runs": runs, "sim_se": math.sqrt(0.05 * 0.95 / runs),
                         "seconds": time.perf_counter() - t})
    return pd.DataFrame(rows)


def threshold_table() -> pd.DataFrame:
    rows = []
    for g, limit in THRESHOLDS.items():
        n = threshold_sample_size(limit)
        rows.append({"guardrail": g, "threshold": limit, "messages_for_90pct_power": n,
                     "flag_at_threshold": threshold_flag_probability(n, limit, limit),
                     "flag_at_2x_threshold": threshold_flag_probability(n, 2 * limit, limit),
                     "flag_at_1.5x_threshold": threshold_flag_probability(n, 1.5 * limit, limit)})
    return pd.DataFrame(rows)


def breakdown_table(runs: int) -> pd.DataFrame:
    rows = []
    for metric, n, lift in (("rate", 3000, 0.02), ("rate", 1500, 0.02), ("mean", 3000, 0.3), ("mean", 1000, 0.3)):
        t = time.perf_counter()
        r = breakdown_null_study(runs=runs, n_units=n, lift=lift, metric=metric, seed=7)
        rows.append({"metric": metric, "n_units": n, "cells": 5, "runs": runs, "null_rejection_rate": r,
                     "se": math.sqrt(0.05 * 0.95 / runs), "seconds": time.perf_counter() - t})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1000, help="simulated experiments per configuration")
    ap.add_argument("--only", choices=["peeking", "guardrails", "breakdown", "bayes"], action="append")
    a = ap.parse_args()
    only = set(a.only or ["peeking", "guardrails", "breakdown", "bayes"])
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {a.runs} runs per configuration")
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    if "peeking" in only:
        print("\n1. Daily peeking, 30 looks (fixed = the readout's test read daily; seq = confidence sequence)")
        print(peeking(a.runs).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if "guardrails" in only:
        print("\n2. Guardrails: doubled unsubscribe rate vs null, one-sided alpha 0.05")
        print(guardrail_table(a.runs).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print("\n2b. Guardrails against absolute thresholds (control never emailed), exact binomial test, alpha 0.05")
        print(threshold_table().to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if "breakdown" in only:
        print("\n3. Breakdown interaction test under no heterogeneity (alpha 0.05)")
        print(breakdown_table(4 * a.runs).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if "bayes" in only:
        print("\n4. Bayesian chance to beat control vs 200,000-draw Monte Carlo")
        t = time.perf_counter()
        b = bayesian_monte_carlo_check(cases=20, draws=200_000)
        print(b.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
        print(f"max |difference| = {b['abs_diff'].max():.4f} ({time.perf_counter() - t:.1f} s with the draws)")


if __name__ == "__main__":
    main()
