"""Targeting: who gets which email under a send budget, and what it is expected to bring.

Two questions, kept apart on purpose:

1. :func:`choose_targets` turns model scores into a decision: rank units by their best
   predicted uplift and give the top ``budget`` units (a count, or a share of the units) their
   best arm; units whose best uplift is not above ``min_uplift`` are never sent, even within
   budget (an email that does not help still costs attention and unsubscribes).
2. :func:`compare_policies` estimates, on **experiment data the model was not trained on**,
   the incremental conversions of candidate policies with a confidence interval: ``everyone``
   (send to all), ``random_k`` (k units at random: k x the overall lift), ``top_k`` (the k
   best by the model) and ``positive_uplift`` (all units the model scores above
   ``min_uplift``). A policy's incremental conversions are ``n_targeted x (treated rate -
   control rate among the targeted units)``, the Newcomb interval of the difference scaled
   the same way; per 1,000 units of the evaluated population in ``per_1000``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mof_experiments.errors import MofInputError
from mof_experiments.stats import LOW_DATA_N, compare_proportions


def _budget_count(budget, n: int) -> int:
    if isinstance(budget, (bool, np.bool_)):
        raise MofInputError(f"budget must be a count or a share, got {budget!r}")
    if isinstance(budget, (int, np.integer)):
        if budget < 0:
            raise MofInputError(f"budget must be >= 0, got {budget}")
        return int(min(budget, n))
    b = float(budget)
    if not (0 <= b <= 1):
        raise MofInputError(f"a budget given as a share must be in [0, 1], got {budget!r} (give an int for a count)")
    return int(round(b * n))


def choose_targets(uplift, budget, *, arms=None, control: str = "control", min_uplift: float = 0.0,
                   index=None) -> pd.DataFrame:
    """Assign each unit an arm under a send budget.

    Parameters
    ----------
    uplift : shape (n,) (one treatment) or (n, n_arms) (uplift of each arm vs control).
    budget : number of units to send to (int) or share of units (float in [0, 1]).
    arms : arm names of the columns (default ``["treatment"]`` / ``arm_0..``).
    control : label of "not sent".
    min_uplift : a unit is sent only if its best uplift is above this.
    index : identifiers of the units (e.g. company_id), default 0..n-1.

    Returns
    -------
    DataFrame (one row per unit, in input order): unit, arm (best arm or ``control``),
    best_arm, expected_uplift (predicted uplift of the chosen arm, 0 for control), rank
    (1 = first by best uplift), selected (bool).
    """
    u = np.asarray(uplift, dtype=float)
    if u.ndim == 1:
        u = u[:, None]
    if u.ndim != 2 or len(u) == 0:
        raise MofInputError(f"uplift must be (n,) or (n, n_arms) with n > 0, got shape {np.shape(uplift)}")
    if not np.isfinite(u).all():
        raise MofInputError("uplift has missing or infinite values")
    n, k = u.shape
    arms = list(arms) if arms is not None else (["treatment"] if k == 1 else [f"arm_{i}" for i in range(k)])
    if len(arms) != k:
        raise MofInputError(f"{len(arms)} arm names for {k} uplift columns")
    m = _budget_count(budget, n)
    best_i = np.argmax(u, axis=1)
    best = u[np.arange(n), best_i]
    order = np.argsort(-best, kind="mergesort")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(1, n + 1)
    selected = (rank <= m) & (best > min_uplift)
    best_arm = np.asarray(arms, dtype=object)[best_i]
    return pd.DataFrame({"unit": index if index is not None else np.arange(n),
                         "arm": np.where(selected, best_arm, control).astype(object), "best_arm": best_arm,
                         "expected_uplift": np.where(selected, best, 0.0), "rank": rank, "selected": selected})


def _policy_row(name: str, y, t, mask, alpha: float, n_total: int) -> dict:
    n_s = int(mask.sum())
    yt, yc = y[mask & (t == 1)], y[mask & (t == 0)]
    row = {"policy": name, "n_targeted": n_s, "share_targeted": n_s / n_total, "n_treatment": len(yt),
           "n_control": len(yc)}
    if len(yt) == 0 or len(yc) == 0:
        row.update(uplift=np.nan, uplift_ci_low=np.nan, uplift_ci_high=np.nan, incremental=0.0 if n_s == 0 else np.nan,
                   incremental_ci_low=np.nan, incremental_ci_high=np.nan, low_data=True)
    else:
        r = compare_proportions(yt.sum(), len(yt), yc.sum(), len(yc), alpha=alpha).row()
        d, lo, hi = r["lift"], r["lift_ci_low"], r["lift_ci_high"]
        row.update(uplift=d, uplift_ci_low=lo, uplift_ci_high=hi, incremental=d * n_s, incremental_ci_low=lo * n_s,
                   incremental_ci_high=hi * n_s, low_data=min(len(yt), len(yc)) < LOW_DATA_N)
    row["per_1000"] = 1000 * row["incremental"] / n_total if np.isfinite(row["incremental"]) else np.nan
    return row


def compare_policies(y_true, uplift, treatment, budget, *, min_uplift: float = 0.0, alpha: float = 0.05,
                     baseline_score=None, baseline_name: str = "top_k_by_baseline") -> pd.DataFrame:
    """Incremental conversions of targeting policies, estimated on held-out experiment data.

    Parameters
    ----------
    y_true : 0/1 outcome of each unit of the experiment (not used to train the model).
    uplift : the model's predicted uplift for those units (one treatment).
    treatment : 0/1 arm actually received.
    budget : count or share of units that may be sent to.
    baseline_score : optional other ranking (e.g. "most active first") compared as ``top_k``.

    Returns
    -------
    DataFrame, one row per policy (everyone, random_k, top_k, positive_uplift[, baseline]):
    policy, n_targeted, share_targeted, n_treatment, n_control (units of each arm among the
    targeted), uplift (treated - control rate among targeted), uplift_ci_low, uplift_ci_high,
    incremental (= uplift x n_targeted), incremental_ci_low, incremental_ci_high, low_data,
    per_1000 (incremental per 1,000 units of this population).
    """
    from mof_experiments.uplift.metrics import _check

    y, u, t = _check(y_true, uplift, treatment)
    n = len(y)
    m = _budget_count(budget, n)
    order = np.argsort(-u, kind="mergesort")
    top = np.zeros(n, dtype=bool)
    top[order[:m]] = True
    rows = [_policy_row("everyone", y, t, np.ones(n, dtype=bool), alpha, n)]
    every = rows[0]
    frac = m / n
    rows.append({**every, "policy": "random_k", "n_targeted": m, "share_targeted": frac,
                 "n_treatment": int(round(every["n_treatment"] * frac)), "n_control": int(round(every["n_control"] * frac)),
                 **{k: every[k] * frac for k in ("incremental", "incremental_ci_low", "incremental_ci_high", "per_1000")}})
    rows.append(_policy_row("top_k", y, t, top, alpha, n))
    rows.append(_policy_row("positive_uplift", y, t, u > min_uplift, alpha, n))
    if baseline_score is not None:
        b = np.asarray(baseline_score, dtype=float)
        if len(b) != n:
            raise MofInputError(f"baseline_score has {len(b)} values for {n} units")
        bt = np.zeros(n, dtype=bool)
        bt[np.argsort(-b, kind="mergesort")[:m]] = True
        rows.append(_policy_row(baseline_name, y, t, bt, alpha, n))
    return pd.DataFrame(rows)


__all__ = ["choose_targets", "compare_policies"]
