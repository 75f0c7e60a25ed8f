"""Best zone per persona and the allocation of the next sends.

- **Objective**: engagement (clicks per delivered message) of :mod:`~.grid`. It is what a
  content test of a few thousand contacts can rank; conversion lifts per cell are shown in the
  grid with their intervals but are too noisy to rank zones (the grid's ``lift_vs_generic``
  intervals span zero for most cells at 20,000 companies).
- **Probability of best**: independent Beta-Binomial posteriors of each zone's click rate
  (:func:`mof_experiments.attribution.prob_best` with ``events="clicked"``: prior centred on the
  grid's pooled click rate with the weight of 20 messages), among the persona's non-generic
  zones with at least ``min_delivered`` delivered messages; a persona with fewer than two such
  zones has no probability of best (it is not a comparison).
- **Thompson allocation with a minimum-n guard**: each of the next ``n_sends`` sends to a persona
  goes to the zone with the highest posterior draw, among zones with at least ``min_delivered``
  delivered messages. A zone under the guard (too little data) cannot win the draw; it gets only
  the sends that bring it to ``min_delivered`` (at most ``explore_share`` of the sends, split
  among such zones), so a row with two sends cannot take most of the traffic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mof_experiments.attribution.bandit import _beta_draws, prob_best, resolve_prior
from mof_experiments.checks import require_columns
from mof_experiments.errors import MofInputError

GENERIC = "generic"


def _candidates(table: pd.DataFrame) -> pd.DataFrame:
    require_columns(table, ["persona", "zone", "delivered", "clicked"], "content grid")
    return table[table["zone"] != GENERIC].reset_index(drop=True)


def best_zones(table: pd.DataFrame, *, min_delivered: int = 30, draws: int = 20_000, seed: int = 0,
               personas=None) -> pd.DataFrame:
    """The best zone per persona by engagement, with its posterior probability of being best.

    Returns one row per persona (of ``personas``, default all in the table): persona, zone,
    delivered, clicked, click_rate, click_ci_low, click_ci_high (when in the table),
    posterior_mean, prob_best, candidates (zones compared), comparable (False when fewer than
    two zones have enough data: zone/prob_best are then empty).
    """
    c = _candidates(table)
    pb = prob_best(c, draws=draws, seed=seed, min_delivered=min_delivered, events="clicked")
    rows = []
    for p in (personas or sorted(c["persona"].unique())):
        sub = pb[(pb["persona"] == p) & pb["prob_best"].notna()]
        if len(sub) < 2:
            rows.append(dict(persona=p, zone=None, candidates=len(sub), comparable=False))
            continue
        r = sub.sort_values(["prob_best", "posterior_mean"], ascending=False, kind="stable").iloc[0]
        rows.append(dict(persona=p, zone=r["zone"], delivered=int(r["delivered"]), clicked=int(r["clicked"]),
                         click_rate=r["clicked"] / r["delivered"], click_ci_low=r.get("click_ci_low", np.nan),
                         click_ci_high=r.get("click_ci_high", np.nan), posterior_mean=r["posterior_mean"],
                         prob_best=r["prob_best"], candidates=len(sub), comparable=True))
    cols = ["persona", "zone", "delivered", "clicked", "click_rate", "click_ci_low", "click_ci_high",
            "posterior_mean", "prob_best", "candidates", "comparable"]
    return pd.DataFrame(rows).reindex(columns=cols)


def zone_allocation(table: pd.DataFrame, n_sends: int, *, min_delivered: int = 30, explore_share: float = 0.1,
                    seed: int = 0) -> pd.DataFrame:
    """Thompson allocation of the next ``n_sends`` sends per persona with a minimum-n guard
    (module docstring: the rule).

    Returns columns persona, zone, delivered, guarded (under ``min_delivered``), sends_next,
    share_next.
    """
    if n_sends < 0:
        raise MofInputError(f"n_sends must be >= 0, got {n_sends}")
    if not 0 <= explore_share <= 1:
        raise MofInputError(f"explore_share must be within [0, 1], got {explore_share}")
    c = _candidates(table)
    prior = resolve_prior(c, events="clicked")
    rng = np.random.default_rng(seed)
    rows = []
    for p, sub in c.groupby("persona", sort=True):
        sub = sub.reset_index(drop=True)
        guarded = (sub["delivered"] < min_delivered).to_numpy()
        sends = np.zeros(len(sub), dtype=int)
        if guarded.any():
            cap = int(np.floor(n_sends * explore_share / guarded.sum()))
            sends[guarded] = np.minimum(min_delivered - sub.loc[guarded, "delivered"].to_numpy(), cap)
        rest = n_sends - int(sends.sum())
        ok = np.flatnonzero(~guarded)
        if len(ok) and rest > 0:
            x = _beta_draws(sub.iloc[ok], rest, rng, prior, "clicked")
            sends[ok] += np.bincount(x.argmax(axis=0), minlength=len(ok))
        elif rest > 0 and guarded.any():  # nothing has enough data yet: explore evenly
            sends[guarded] += np.bincount(np.arange(rest) % guarded.sum(), minlength=guarded.sum())
        for r, g, s in zip(sub.itertuples(), guarded, sends):
            rows.append(dict(persona=p, zone=r.zone, delivered=int(r.delivered), guarded=bool(g), sends_next=int(s),
                             share_next=s / n_sends if n_sends else np.nan))
    return pd.DataFrame(rows, columns=["persona", "zone", "delivered", "guarded", "sends_next", "share_next"])


__all__ = ["best_zones", "zone_allocation"]
