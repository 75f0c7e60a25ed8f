"""Persona classification: cold fit on one core, cache load, classify per distinct title vs per row.

    .venv/bin/python benchmarks/personas_bench.py [--contacts 100000 244000] [--seed 7] [--heldout]

Titles are drawn with the simulator's own generator (``mof_experiments.simulate``: persona
shares, title lists, prefixes, suffixes, case and spacing noise), so they repeat as CRM titles
do. The process is pinned to one core (``os.sched_setaffinity``) so that the fit time is a
one-core time. Prints one table; results go in benchmarks/README.md and docs/personas.md. Each
timing is one run on whatever the machine is doing: note ``uptime`` beside it.

``--heldout`` also prints the held-out scores per source and per persona
(:func:`~mof_experiments.segments.personas.scores_by_source`). The held-out split is for the
final figure only: do not run it while choosing anything.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd


def simulated_titles(n: int, seed: int) -> list[str]:
    from mof_experiments.simulate import PERSONA_SHARES
    from mof_experiments.simulate.draws import draw_title

    rng = np.random.default_rng(seed)
    names = np.array(list(PERSONA_SHARES))
    p = np.array(list(PERSONA_SHARES.values()))
    return [draw_title(x, rng) for x in names[rng.choice(len(names), size=n, p=p / p.sum())]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, nargs="+", default=[10_000, 100_000, 244_000])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--heldout", action="store_true", help="also score the held-out split (final figure only)")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})

    with tempfile.TemporaryDirectory() as cache:
        os.environ["MOF_CACHE_DIR"] = cache
        from mof_experiments.segments.personas import _fitted, default_classifier
        from mof_experiments.segments.personas.text import normalize_title

        t = time.perf_counter()
        clf = default_classifier()
        fit_s = time.perf_counter() - t
        _fitted.cache_clear()
        t = time.perf_counter()
        default_classifier()
        load_s = time.perf_counter() - t
    rows = [("fit (no cache)", "", fit_s), ("load from disk cache", "", load_s)]
    for n in args.contacts:
        titles = simulated_titles(n, args.seed)
        t = time.perf_counter()
        fast = clf.classify(titles)
        dedup_s = time.perf_counter() - t
        t = time.perf_counter()
        slow = clf._decide([normalize_title(x) for x in titles], measure=True)   # every row, no de-duplication
        row_s = time.perf_counter() - t
        pd.testing.assert_frame_equal(fast.reset_index(drop=True), slow.astype({"persona": "str", "rule": "str"}))
        distinct = len(set(titles))
        rows.append((f"classify {n:,} contacts, once per distinct title", f"{distinct:,} distinct", dedup_s))
        rows.append((f"classify {n:,} contacts, row by row (equal result)", "", row_s))
    print(pd.DataFrame(rows, columns=["step", "note", "seconds"]).to_string(index=False,
                                                                              float_format=lambda x: f"{x:.2f}"))
    if args.heldout:
        print(heldout_scores().to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return 0


def heldout_scores() -> pd.DataFrame:
    """:func:`scores_by_source` of the held-out split, classified by :func:`heldout_classifier`."""
    from mof_experiments.segments.personas import (REAL_SOURCES, heldout_classifier, keyword_baseline,
                                                   labeled_titles, scores_by_source)

    df = labeled_titles()
    test = df[df["split"] == "heldout"].reset_index(drop=True)
    out = heldout_classifier().classify(test["job_title"].tolist())
    scored = test.assign(pred=out["persona"], confidence=out["confidence"], rule=out["rule"],
                         baseline=keyword_baseline(test["job_title"]))
    return scores_by_source(scored, REAL_SOURCES)


if __name__ == "__main__":
    raise SystemExit(main())
