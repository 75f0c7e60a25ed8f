"""Cross-validated comparison of persona recipes on the development split (never the held-out one).

    .venv/bin/python benchmarks/personas_cv.py [--folds 5] [--recipes v2 v3 ...]

Each recipe is a set of :class:`PersonaClassifier` parameters. Folds are grouped by title stem
(:func:`~mof_experiments.segments.personas.build_data.stem`, as the held-out split is), over the
``dev`` split only. Printed per recipe: macro-F1, accuracy and ECE on the real titles of the
validation folds, macro-F1 on the hand-written ones, and the mean fit time per fold (one core;
note ``uptime`` beside it). Every recipe choice in docs/personas.md was made from this table.
"""

from __future__ import annotations

import argparse
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    args = ap.parse_args(argv)
    rows = []
    for name in args.recipes:
        rows.append({"recipe": name, **cross_validate(RECIPES[name], args.folds)})
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=lambda x: f"{x:.4f}"), flush=True)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
