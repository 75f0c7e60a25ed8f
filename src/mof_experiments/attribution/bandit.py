"""Best content and the next-send allocation: Beta-Binomial posteriors of the assisted rate.

- **Best content** per persona: among the persona's rows with at least 30 delivered messages,
  the row with the highest posterior probability of having the highest assisted-conversion rate
  per delivered message, under independent ``Beta(a + assisted, b + delivered - assisted)``
  posteriors whose prior is centred on the table's pooled assisted rate with the weight of 20
  messages (:func:`resolve_prior`), estimated from Monte-Carlo draws with a seed.
- **Next-send allocation** by Thompson sampling: each of the next ``n`` sends to a persona goes
  to the content whose posterior draw is highest.

Input: the content table of :func:`mof_experiments.attribution.content_table`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.errors import MofInputError


def resolve_prior(table: pd.DataFrame, prior="pooled", prior_strength: float = 20.0, *,
                  events: str = "assisted") -> tuple[float, float]:
    """The Beta prior ``(a, b)`` of the assisted rate.

    ``prior="pooled"`` (default) centres the prior on the pooled assisted rate of the whole table
    ``m = sum(assisted) / sum(delivered)`` with the weight of ``prior_strength`` messages:
    ``a = m * s``, ``b = (1 - m) * s``. Rows with few deliveries are then shrunk towards the
    pool instead of winning on luck (a uniform Beta(1, 1) prior lets 1 assisted of 3 look like
    a 40% rate). A tuple ``(a, b)`` is used as given.
    """
    if isinstance(prior, str):
        if prior != "pooled":
            raise MofInputError(f"prior must be 'pooled' or a tuple (a, b), got {prior!r}")
        n, k = float(table["delivered"].sum()), float(table[events].sum())
        m = min(max(k / n if n > 0 else 0.5, 1e-3), 1 - 1e-3)
        return (m * prior_strength, (1 - m) * prior_strength)
    a, b = (float(x) for x in prior)
    if not (a > 0 and b > 0):
        raise MofInputError(f"Beta prior parameters must be positive, got {prior!r}")
    return (a, b)


def _beta_draws(table: pd.DataFrame, draws: int, rng: np.random.Generator, prior, events: str = "assisted"):
    a = prior[0] + table[events].to_numpy(float)
    b = prior[1] + (table["delivered"] - table[events]).to_numpy(float)
    return rng.beta(a[:, None], b[:, None], size=(len(table), draws))


def prob_best(table: pd.DataFrame, *, draws: int = 20_000, seed: int = 0, prior="pooled",
              prior_strength: float = 20.0, min_delivered: int = 0, events: str = "assisted") -> pd.DataFrame:
    """Posterior probability that each row has the highest assisted rate within its persona.

    ``events`` names the counted column (default ``assisted``; ``clicked`` for engagement).

    Beta-Binomial model: ``rate ~ Beta(a + assisted, b + delivered - assisted)`` independently per
    row, with the prior ``(a, b)`` from :func:`resolve_prior` (default: centred on the pooled rate,
    weight 20 messages); ``prob_best`` is the share of ``draws`` Monte-Carlo draws in which the
    row's rate is the largest among its persona's rows with at least ``min_delivered`` delivered
    messages (other rows get NaN). Monte-Carlo error <= 0.5/sqrt(draws).

    Returns ``table`` with columns ``posterior_mean`` and ``prob_best`` added.
    """
    require_columns(table, ["persona", "delivered", events], "content table")
    a, b = resolve_prior(table, prior, prior_strength, events=events)
    rng = np.random.default_rng(seed)
    out = table.copy()
    out["posterior_mean"] = (a + out[events]) / (a + b + out["delivered"])
    out["prob_best"] = np.nan
    eligible = out[out["delivered"] >= min_delivered]
    for persona, idx in eligible.groupby("persona", sort=True).groups.items():
        sub = out.loc[idx]
        x = _beta_draws(sub, draws, rng, (a, b), events)
        win = np.bincount(x.argmax(axis=0), minlength=len(sub)) / draws
        out.loc[idx, "prob_best"] = win
    return out


def best_content(table: pd.DataFrame, *, draws: int = 20_000, seed: int = 0, prior="pooled",
                 prior_strength: float = 20.0, min_delivered: int = 30) -> pd.DataFrame:
    """The best content per persona: highest posterior probability of the highest assisted rate.

    Candidates are the persona's rows with at least ``min_delivered`` delivered messages (default
    30); see :func:`prob_best` for the model. Personas without a candidate are left out.

    Returns one row per persona: persona, zone, topic, delivered, assisted, assisted_rate,
    posterior_mean, prob_best, candidates (rows compared), too_little_data.
    """
    pb = prob_best(table, draws=draws, seed=seed, prior=prior, prior_strength=prior_strength,
                   min_delivered=min_delivered)
    pb = pb[pb["prob_best"].notna()].copy()
    pb["candidates"] = pb.groupby("persona")["zone"].transform("size")
    best = pb.sort_values(["persona", "prob_best", "posterior_mean"], ascending=[True, False, False],
                          kind="stable").drop_duplicates("persona")
    cols = ["persona", "zone", "topic", "delivered", "assisted", "assisted_rate", "posterior_mean", "prob_best",
            "candidates", "too_little_data"]
    return best[cols].reset_index(drop=True)


def thompson_allocation(table: pd.DataFrame, n_sends: int, *, persona: str | None = None, seed: int = 0,
                        prior="pooled", prior_strength: float = 20.0) -> pd.DataFrame:
    """Allocate the next ``n_sends`` sends per persona by Thompson sampling.

    For each send, draw every candidate's assisted rate from its Beta posterior and send the
    content with the highest draw. In expectation each content gets ``n_sends * prob_best``; the
    draw keeps exploring uncertain (too-little-data) rows instead of starving them.

    Returns columns persona, zone, topic, sends_next, share_next (per persona).
    """
    if n_sends < 0:
        raise MofInputError(f"n_sends must be >= 0, got {n_sends}")
    prior = resolve_prior(table, prior, prior_strength)
    rng = np.random.default_rng(seed)
    t = table if persona is None else table[table["persona"] == persona]
    if persona is not None and t.empty:
        raise MofInputError(f"no content for persona {persona!r}", source="content table")
    rows = []
    for p, sub in t.groupby("persona", sort=True):
        x = _beta_draws(sub, n_sends, rng, prior)
        cnt = np.bincount(x.argmax(axis=0), minlength=len(sub)) if n_sends else np.zeros(len(sub), int)
        for (_, r), c in zip(sub.iterrows(), cnt):
            rows.append(dict(persona=p, zone=r["zone"], topic=r["topic"], sends_next=int(c),
                             share_next=c / n_sends if n_sends else np.nan))
    return pd.DataFrame(rows, columns=["persona", "zone", "topic", "sends_next", "share_next"])


__all__ = ["resolve_prior", "prob_best", "best_content", "thompson_allocation"]
