"""Coverage study of the cross-fitted engagement multiple (issue 12); prints a table (no asserts).

    .venv/bin/python benchmarks/content_coverage.py                  # 50 seeds x 8,000 companies
    .venv/bin/python benchmarks/content_coverage.py --seeds 20 --companies 4000

Each run draws a content test (``SimConfig(design="content_test")``) in memory, exactly as
``mof simulate`` does but without writing api_events (the 3x check needs only the email events),
computes the messages (:func:`mof_experiments.engagement.message_engagement`), joins the
contacts' true personas (the study measures the interval, not the title classifier), and
estimates :func:`mof_experiments.content.engagement_multiple`. Its truth is
:func:`mof_experiments.content.engagement_multiple_truth` (the same estimand under the planted
``sim_content``). Reported: the share of runs whose 95% CI covers the truth (with its Wilson
interval), the mean estimate and truth, and the naive same-data multiple's mean bias.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from mof_experiments.content import engagement_multiple, engagement_multiple_truth
from mof_experiments.engagement import message_engagement
from mof_experiments.simulate import SimConfig
from mof_experiments.simulate.content_test import content_test_events, content_truth
from mof_experiments.stats import wilson_interval


def one_run(companies: int, seed: int) -> dict:
    cfg = SimConfig(design="content_test", companies=companies, seed=seed)
    ev, ct = content_test_events(cfg)
    m = message_engagement(ev).merge(ct[["contact_id", "persona"]], on="contact_id")
    em = engagement_multiple(m, seed=0)
    truth = engagement_multiple_truth(em, content_truth(cfg))
    return dict(seed=seed, estimate=em.estimate, ci_low=em.ci_low, ci_high=em.ci_high, truth=truth, naive=em.naive,
                personas=len(em.weights), covered=em.ci_low <= truth <= em.ci_high)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--companies", type=int, default=8000)
    ap.add_argument("--first-seed", type=int, default=1000)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = [one_run(a.companies, s) for s in range(a.first_seed, a.first_seed + a.seeds)]
    r = pd.DataFrame(rows)
    k, n = int(r["covered"].sum()), len(r)
    lo, hi = wilson_interval(k, n)
    print(r.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\n{a.seeds} seeds x {a.companies:,} companies: CI covers the truth in {k}/{n} = {k / n:.0%} "
          f"(Wilson 95% {float(lo):.0%} to {float(hi):.0%}); mean estimate {r['estimate'].mean():.3f}, "
          f"mean truth {r['truth'].mean():.3f}, naive same-data bias {(r['naive'] - r['truth']).mean():+.3f}, "
          f"cross-fitted bias {(r['estimate'] - r['truth']).mean():+.3f}; {time.perf_counter() - t0:.0f} s")
    err = np.log(r["estimate"] / r["truth"])
    se = (np.log(r["ci_high"]) - np.log(r["ci_low"])) / (2 * 1.959964)
    print(f"sd of log(estimate / truth) across seeds {err.std(ddof=1):.3f}; mean delta-method se {se.mean():.3f}")


if __name__ == "__main__":
    main()
