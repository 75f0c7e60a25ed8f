"""Scores of a persona classifier: per-persona precision/recall/F1 and calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mof_experiments.schema import PERSONAS


def evaluate_titles(y_true, y_pred) -> pd.DataFrame:
    """Per-persona precision, recall, F1 and support, plus ``macro`` and ``accuracy`` rows.

    ``macro`` averages the personas present in ``y_true`` or ``y_pred`` (scikit-learn's
    ``precision_recall_fscore_support(average="macro")`` over those labels).
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    y_true, y_pred = list(y_true), list(y_pred)
    labels = [p for p in PERSONAS if p in set(y_true) | set(y_pred)]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    df = pd.DataFrame({"persona": labels, "precision": p, "recall": r, "f1": f, "n": s})
    mp, mr, mf, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro",
                                                    zero_division=0)
    acc = accuracy_score(y_true, y_pred)
    extra = pd.DataFrame({"persona": ["macro", "accuracy"], "precision": [mp, np.nan], "recall": [mr, np.nan],
                          "f1": [mf, acc], "n": [len(y_true), len(y_true)]})
    return pd.concat([df, extra], ignore_index=True)


def macro_f1(y_true, y_pred) -> float:
    """The ``macro`` F1 of :func:`evaluate_titles`."""
    rep = evaluate_titles(y_true, y_pred)
    return float(rep.loc[rep["persona"] == "macro", "f1"].iloc[0])


def reliability_table(correct, confidence, *, bins: int = 10) -> pd.DataFrame:
    """Decisions grouped by confidence in ``bins`` equal-width bins over [0, 1].

    Columns: ``bin_low``, ``bin_high``, ``n``, ``mean_confidence``, ``accuracy`` (share of
    correct decisions); empty bins are left out. A calibrated classifier has accuracy close to
    mean confidence in every bin.
    """
    correct = np.asarray(correct, dtype=float)
    conf = np.asarray(confidence, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for b in range(bins):
        m = which == b
        if m.any():
            rows.append((edges[b], edges[b + 1], int(m.sum()), float(conf[m].mean()), float(correct[m].mean())))
    return pd.DataFrame(rows, columns=["bin_low", "bin_high", "n", "mean_confidence", "accuracy"])


def expected_calibration_error(correct, confidence, *, bins: int = 10) -> float:
    """ECE = sum over bins of (n_bin / n) * |accuracy_bin - mean_confidence_bin|.

    The standard equal-width binned estimator (Guo et al. 2017, "On Calibration of Modern
    Neural Networks", eq. 3) over the decisions' top-class confidence.
    """
    t = reliability_table(correct, confidence, bins=bins)
    if t.empty:
        return float("nan")
    return float((t["n"] * (t["accuracy"] - t["mean_confidence"]).abs()).sum() / t["n"].sum())


def scores_by_source(scored: pd.DataFrame, real_sources) -> pd.DataFrame:
    """Macro-F1, accuracy and ECE per source, for all real sources pooled, and for each persona.

    ``scored`` has ``persona`` (truth), ``pred``, ``baseline`` (the keyword baseline's persona),
    ``confidence``, ``rule`` and ``source``. Returns one row per group: ``group`` (``real
    (pooled)``, a source name, or ``persona=<P>`` over the real titles), ``titles``,
    ``macro_f1``, ``baseline_macro_f1``, ``accuracy`` and ``ece`` (over decisions that are not
    ``missing``/``unrecognized_script``). For a persona row, ``macro_f1`` is that persona's F1 over
    the pooled real titles (``titles`` its support) and ``accuracy`` its recall.
    """
    real = scored[scored["source"].isin(list(real_sources))]
    groups = [("real (pooled)", real)] + [(s, g) for s, g in scored.groupby("source", sort=True)]
    rows = []
    for name, g in groups:
        decided = g[~g["rule"].isin(["missing", "unrecognized_script"])]
        rows.append((name, len(g), macro_f1(g["persona"], g["pred"]), macro_f1(g["persona"], g["baseline"]),
                     float((g["persona"] == g["pred"]).mean()),
                     expected_calibration_error(decided["persona"] == decided["pred"], decided["confidence"])))
    rep, base = evaluate_titles(real["persona"], real["pred"]), evaluate_titles(real["persona"], real["baseline"])
    for p in PERSONAS:
        if p in set(rep["persona"]):
            mine = rep[rep["persona"] == p].iloc[0]
            theirs = base[base["persona"] == p]
            rows.append((f"persona={p}", int(mine["n"]), float(mine["f1"]),
                         float(theirs["f1"].iloc[0]) if len(theirs) else float("nan"), float(mine["recall"]),
                         float("nan")))
    return pd.DataFrame(rows, columns=["group", "titles", "macro_f1", "baseline_macro_f1", "accuracy", "ece"])
