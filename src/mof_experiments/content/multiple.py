"""The 3x check: engagement under the chosen zone allocation over engagement under the generic email.

Rule (cross-fitting)
--------------------
Choosing the best zone and measuring it on the same data inflates the multiple (the winner of
seven noisy rates is, on average, lucky). So the contacts are split in two halves at random
(``seed``; all messages of a contact stay in one half). For each half ``k`` and persona ``p``,
the zone is **chosen on the other half** (the non-generic zone with the highest click rate
among zones with at least ``min_delivered`` delivered messages there) and its click rate is
**measured on half k**. With ``c_k(p)`` clicks of ``n_k(p)`` delivered messages measured that
way, the allocation's engagement is

``A = sum_p w_p * (c_1(p) + c_2(p)) / (n_1(p) + n_2(p))``

and the generic email's ``G = sum_p w_p * clicks(p, generic) / delivered(p, generic)`` (all
data: generic is never chosen, so it is not selected). ``w_p`` = persona ``p``'s share of the
test's delivered messages (the six personas). ``engagement_multiple = A / G``.

95% interval: delta method on ``log(A / G)``; A and G come from disjoint messages, so
``var(log A/G) = var(A)/A^2 + var(G)/G^2`` with binomial variances per cell. Messages of
one contact are treated as independent (a content test sends one per contact).

Truth (simulated workspaces): :func:`engagement_multiple_truth` evaluates the same estimand with
the planted engagement of ``sim_content``: each half's choice weighted by its delivered messages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.errors import MofInputError

GENERIC = "generic"
PERSONAS = ("PM", "GC", "CSO", "CFO", "CEO", "DEV")


@dataclass(frozen=True)
class EngagementMultiple:
    """``estimate`` (A / G) with ``ci_low`` / ``ci_high`` (95%), ``allocation_rate`` (A),
    ``generic_rate`` (G), ``naive`` (chosen and measured on all data: inflated, for comparison),
    ``choices`` (persona, half, zone chosen on the other half, delivered and clicked measured on
    this half) and ``weights`` (persona -> w_p)."""

    estimate: float
    ci_low: float
    ci_high: float
    allocation_rate: float
    generic_rate: float
    naive: float
    choices: pd.DataFrame
    weights: dict
    seed: int

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([dict(engagement_multiple=self.estimate, ci_low=self.ci_low, ci_high=self.ci_high,
                                  allocation_click_rate=self.allocation_rate, generic_click_rate=self.generic_rate,
                                  naive_same_data=self.naive)])

    def __str__(self) -> str:
        return (f"engagement multiple {self.estimate:.2f} (95% CI {self.ci_low:.2f} to {self.ci_high:.2f}; cross-fitted: "
                f"zones chosen on one half of the contacts, measured on the other); naive same-data {self.naive:.2f}")

    def _repr_html_(self) -> str:
        return f"<p>{self}</p>" + self.summary.to_html(index=False, float_format=lambda v: f"{v:.3f}")


def _half(contact_ids: pd.Series, seed: int) -> np.ndarray:
    """0/1 per contact from a seeded hash of its id (stable, independent of row order)."""
    return np.array([hashlib.blake2b(f"{seed}:{c}".encode(), digest_size=2).digest()[0] & 1
                     for c in contact_ids.astype(str)], dtype=np.int8)


def _choose(cells: pd.DataFrame, min_delivered: int) -> dict:
    c = cells[(cells["zone"] != GENERIC) & (cells["delivered"] >= min_delivered)]
    c = c.assign(rate=c["clicked"] / c["delivered"]).sort_values(["persona", "rate"], ascending=[True, False],
                                                                 kind="stable")
    return dict(zip(*c.drop_duplicates("persona")[["persona", "zone"]].to_numpy().T)) if len(c) else {}


def engagement_multiple(messages: pd.DataFrame, *, seed: int = 0, min_delivered: int = 30,
                        personas=PERSONAS, alpha: float = 0.05) -> EngagementMultiple:
    """Cross-fitted engagement multiple with a delta-method interval (module docstring: the rule).

    Parameters
    ----------
    messages : one row per message with ``contact_id``, ``persona``, ``zone``, ``delivered``,
        ``clicked`` (:attr:`mof_experiments.content.ContentGrid.messages`).
    seed : the split of contacts into halves.
    min_delivered : a zone is a candidate in a half only with this many delivered messages there.
    personas : the personas of the allocation (those with a generic row and a choice in both halves).
    """
    from scipy.stats import norm

    require_columns(messages, ["contact_id", "persona", "zone", "delivered", "clicked"], "messages")
    d = messages[messages["delivered"].astype(bool) & messages["persona"].isin(personas)]
    d = d.assign(half=_half(d["contact_id"], seed), clicked=d["clicked"].astype(int))
    cells = d.groupby(["half", "persona", "zone"])["clicked"].agg(clicked="sum", delivered="size").reset_index()
    rows = []
    for k in (0, 1):
        choice = _choose(cells[cells["half"] == 1 - k], min_delivered)
        here = cells[cells["half"] == k].set_index(["persona", "zone"])
        for p, zn in choice.items():
            if (p, zn) in here.index:
                rows.append(dict(persona=p, half=k, zone=zn, delivered=int(here.loc[(p, zn), "delivered"]),
                                 clicked=int(here.loc[(p, zn), "clicked"])))
    ch = pd.DataFrame(rows, columns=["persona", "half", "zone", "delivered", "clicked"])
    gen = d[d["zone"] == GENERIC].groupby("persona")["clicked"].agg(clicked="sum", delivered="size")
    use = [p for p in personas if p in gen.index and (ch["persona"] == p).sum() == 2]
    if not use:
        raise MofInputError("no persona has a generic arm and a zone with enough data in both halves of the "
                            "contacts: the engagement multiple needs a content test (docs/reports.md)",
                            source="messages", column="zone")
    share = d.groupby("persona").size().reindex(use)
    w = (share / share.sum()).to_dict()
    pa = ch[ch["persona"].isin(use)].groupby("persona")[["clicked", "delivered"]].sum()
    a_p, na = pa["clicked"] / pa["delivered"], pa["delivered"]
    g_p, ng = gen.loc[use, "clicked"] / gen.loc[use, "delivered"], gen.loc[use, "delivered"]
    wa = pd.Series(w)
    A, G = float((wa * a_p).sum()), float((wa * g_p).sum())
    var_a = float((wa ** 2 * a_p * (1 - a_p) / na).sum())
    var_g = float((wa ** 2 * g_p * (1 - g_p) / ng).sum())
    if not (A > 0 and G > 0):
        raise MofInputError("no clicks on the chosen zones or on the generic email: the multiple is undefined",
                            source="messages", column="clicked")
    est = A / G
    se = np.sqrt(var_a / A ** 2 + var_g / G ** 2)
    zq = norm.ppf(1 - alpha / 2)
    full = d.groupby(["persona", "zone"])["clicked"].agg(clicked="sum", delivered="size").reset_index()
    best = _choose(full, min_delivered)
    fr = full.set_index(["persona", "zone"])
    naive = sum(w[p] * fr.loc[(p, best[p]), "clicked"] / fr.loc[(p, best[p]), "delivered"] for p in use) / G
    return EngagementMultiple(est, float(est * np.exp(-zq * se)), float(est * np.exp(zq * se)), A, G, float(naive),
                              ch[ch["persona"].isin(use)].reset_index(drop=True), w, seed)


def engagement_multiple_truth(result: EngagementMultiple, sim_content: pd.DataFrame) -> float:
    """The estimand of ``result`` under the planted truth: ``sum_p w_p * e(p)`` over
    ``sum_p w_p * engagement(p, generic)``, where ``e(p)`` is the delivered-weighted mean of the
    planted ``engagement`` of the zones chosen for persona ``p`` in the two halves."""
    require_columns(sim_content, ["persona", "zone", "engagement"], "sim_content")
    e = sim_content.set_index(["persona", "zone"])["engagement"]
    ch = result.choices.assign(true=[e[(p, z)] for p, z in zip(result.choices["persona"], result.choices["zone"])])
    e_p = (ch["true"] * ch["delivered"]).groupby(ch["persona"]).sum() / ch.groupby("persona")["delivered"].sum()
    num = sum(wp * e_p[p] for p, wp in result.weights.items())
    den = sum(wp * e[(p, GENERIC)] for p, wp in result.weights.items())
    return float(num / den)


__all__ = ["EngagementMultiple", "engagement_multiple", "engagement_multiple_truth"]
