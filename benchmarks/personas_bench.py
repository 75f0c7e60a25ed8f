"""Persona classification: cold fit on one core, cache load, classify per distinct title vs per row.

    .venv/bin/python benchmarks/personas_bench.py [--contacts 100000 244000] [--seed 7] [--heldout]

Titles are drawn with the simulator's own generator (``mof_experiments.simulate``: persona
shares, title lists, prefixes, suffixes, case and spacing noise), so they repeat as CRM titles
do. The process is pinned to one core (``os.sched_setaffinity``) so that the fit time is a
one-core time. Prints one table; results go in benchmarks/README.md and docs/personas.md. Each
timing is one run on whatever the machine is doing: note ``uptime`` beside it.

``--heldout`` also prints the held-out scores per source and per persona
(:func:`~mof_experiments.segments.personas.scores_by_source`). The held-out split was scored and
read in round 3 (it is "looked at"); ``--fresh`` prints the same table for the fresh held-out
titles (``titles_fresh.csv``, NOC 2016), classified by the shipped classifier, which never saw
them. Both are for the final figures only: do not run them while choosing anything.

``--cv RECIPE ...`` instead compares recipes (sets of :class:`PersonaClassifier` parameters, in
:data:`RECIPES`) by grouped cross-validation on the ``dev`` split only: folds grouped by title
stem (:func:`~mof_experiments.segments.personas.build_data.stem`, as the held-out split is);
printed per recipe: macro-F1, accuracy and ECE on the real titles of the validation folds,
macro-F1 on the hand-written ones, and the mean fit time per fold. Every recipe choice in
docs/personas.md was made from this table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd


RECIPES = {
    # the v2 model settings (issue 17, first pass): logistic regression, isotonic calibration with
    # the 5 fold models averaged, character 1-6-grams
    "v2": dict(base="logistic", C=10.0, calibration="isotonic", cv=5, ensemble=True, char_ngrams=(1, 6)),
    # v3 default (PersonaClassifier's defaults): linear SVM C=2, Platt calibration on 2 folds, one final fit
    "v3": dict(),
    "v3_cv3": dict(cv=3),
    "v3_C1": dict(C=1.0),
    "v3_C0.5": dict(C=0.5),
    "v3_spell0": dict(spelling_max_count=0),
    "v3_ensemble": dict(ensemble=True),
    "v3_isotonic": dict(calibration="isotonic"),
    "v3_char24": dict(char_ngrams=(2, 4)),
    "v3_t0.35": dict(threshold=0.35),
    "v3_t0.55": dict(threshold=0.55),
    "v3_logistic": dict(base="logistic", C=10.0),
    # round 4 candidates
    "v3_balanced": dict(class_weight="balanced"),
    "v3_C4": dict(C=4.0),
    "v3_word13": dict(word_ngrams=(1, 3)),
    "v3_balanced_C4": dict(class_weight="balanced", C=4.0),
    "v3_balanced_C8": dict(class_weight="balanced", C=8.0),
    "v3_balanced_C4_t0.55": dict(class_weight="balanced", C=4.0, threshold=0.55),
    # v4 defaults: balanced class weights, C=4 (LinearSVC max_iter 5000: C=4 did not converge in 1000)
    "v4": dict(),
    "v4_t0.55": dict(threshold=0.55),
    "v4_t0.65": dict(threshold=0.65),
}

def cross_validate(params: dict, folds: int = 5) -> dict:
    """Scores of one recipe by grouped ``folds``-fold cross-validation on the ``dev`` split."""
    from sklearn.model_selection import GroupKFold

    from mof_experiments.segments.personas import (PersonaClassifier, expected_calibration_error, labeled_titles,
                                                   macro_f1)
    from mof_experiments.segments.personas.build_data import REAL_SOURCES, stem

    df = labeled_titles()
    dev = df[df["split"] == "dev"].reset_index(drop=True)
    groups = dev["job_title"].map(stem)
    pred = np.empty(len(dev), dtype=object)
    conf = np.zeros(len(dev))
    rule = np.empty(len(dev), dtype=object)
    seconds = []
    for tr, va in GroupKFold(n_splits=folds).split(dev, groups=groups):
        t = time.perf_counter()
        clf = PersonaClassifier(**params).fit(dev["job_title"].iloc[tr], dev["persona"].iloc[tr])
        seconds.append(time.perf_counter() - t)
        out = clf.classify(dev["job_title"].iloc[va].tolist())
        pred[va], conf[va], rule[va] = out["persona"], out["confidence"], out["rule"]
    real = dev["source"].isin(REAL_SOURCES).to_numpy()
    decided = ~np.isin(rule, ["missing", "unrecognized_script"])
    right = dev["persona"].to_numpy() == pred
    return {"macro_f1_real": macro_f1(dev["persona"][real], pred[real]),
            "accuracy_real": right[real].mean(),
            "ece_real": expected_calibration_error(right[real & decided], conf[real & decided]),
            "macro_f1_hand": macro_f1(dev["persona"][~real], pred[~real]),
            "ece_all": expected_calibration_error(right[decided], conf[decided]),
            "fit_s": float(np.mean(seconds))}


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
    ap.add_argument("--fresh", action="store_true", help="also score the fresh held-out titles (final figure only)")
    ap.add_argument("--cv", nargs="+", choices=list(RECIPES), metavar="RECIPE",
                    help=f"cross-validate recipes on the dev split instead ({', '.join(RECIPES)})")
    ap.add_argument("--folds", type=int, default=5, help="folds of --cv")
    args = ap.parse_args(argv)
    if args.cv:
        rows = []
        for name in args.cv:
            rows.append({"recipe": name, **cross_validate(RECIPES[name], args.folds)})
            print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=lambda x: f"{x:.4f}"), flush=True)
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        return 0
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
    if args.fresh:
        print(fresh_scores().to_string(index=False, float_format=lambda x: f"{x:.4f}"))
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


def fresh_scores() -> pd.DataFrame:
    """:func:`scores_by_source` of the fresh held-out titles, classified by the shipped classifier."""
    from mof_experiments.segments.personas import default_classifier, fresh_titles, keyword_baseline, scores_by_source

    test = fresh_titles()
    out = default_classifier().classify(test["job_title"].tolist())
    scored = test.assign(pred=out["persona"], confidence=out["confidence"], rule=out["rule"],
                         baseline=keyword_baseline(test["job_title"]))
    return scores_by_source(scored, sorted(set(test["source"])))


if __name__ == "__main__":
    raise SystemExit(main())
