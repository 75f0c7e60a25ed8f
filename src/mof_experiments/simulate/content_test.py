"""The randomized content test (``mof simulate --design content_test``) and its planted truth.

Design
------
- **Company level**: each enrolled company (the MOF trigger of :mod:`~.draws`) is assigned to
  ``holdout`` (20%, no email) or ``email`` (80%) of the experiment (``assignments``).
- **Contact level**: in an ``email`` company every contact of the six personas (``PM``, ``GC``,
  ``CSO``, ``CFO``, ``CEO``, ``DEV``; the true persona of ``sim_contact_truth``) is randomized,
  independently and with equal probability, to one of the six content zones or the **generic**
  email (the untargeted baseline), and gets one email of that zone about an hour after the
  trigger. ``OTHER`` contacts are not emailed. The zone is recorded in ``email_events.zone``.
- **Engagement**: a human open with probability ``sigmoid(logit(open_prob) + open_shift +
  beta * z + u)`` (``z`` the company's intent, ``u`` the contact's propensity, as in the default
  design); a click after an open with ``click_prob``. Both are per persona x zone (``GRID``).
- **Conversion**: an opened email converts the company with probability ``h * effect``
  (``h`` the archetype multiplier) within 14 days of the open.
- **Guardrails**: a delivered email makes its recipient unsubscribe with ``unsubscribe_prob``
  and complain with ``complaint_prob`` (realistic: 0.2-0.4% and 0.02-0.05% per message).

Truth (``sim_content``, one row per persona x zone, ``generic`` included): the planted
``open_prob``, ``click_prob``, ``effect``, ``unsubscribe_prob``, ``complaint_prob`` and the
population values a perfect estimate converges to: ``open_rate`` (the mean human-open
probability over the intent distribution, ``z ~ N(0, 1)``, ``u ~ N(0, 0.5)``, by Gauss-Hermite
quadrature) and ``engagement`` (expected clicks per delivered message = ``open_rate *
click_prob``). Calibration: each persona's own zone is best for it, and the best-zone
allocation has about 3x the engagement of the generic email (:func:`true_engagement_multiple`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mof_experiments.dates import SECONDS_PER_DAY
from mof_experiments.simulate.config import SimConfig
from mof_experiments.simulate.draws import CONTACT_U_SD, logit, sigmoid
from mof_experiments.simulate.emails import email_event_table
from mof_experiments.simulate.world import PERSONA_SHARES

#: The six content zones of the brief and the untargeted baseline.
CONTENT_ZONES = ("feature_highlight", "assistance", "case_study", "roi_calculation", "security", "compliance")
GENERIC = "generic"
TEST_ZONES = CONTENT_ZONES + (GENERIC,)
TEST_PERSONAS = ("PM", "GC", "CSO", "CFO", "CEO", "DEV")
TOPICS = {"feature_highlight": "dashboards", "assistance": "design_review", "case_study": "driving_adoption",
          "roi_calculation": "build_vs_buy", "security": "data_integrity", "compliance": "developer_adoption",
          "generic": "product_update"}

#: (open_prob, click_prob, effect) of a zone that is not aimed at the persona, and of the generic email.
_OFF = (0.20, 0.10, 0.010)
_GENERIC = (0.20, 0.13, 0.010)
#: Zones aimed at a persona: (open_prob, click_prob, effect). The first is the persona's best.
_AIMED = {
    "PM": {"feature_highlight": (0.40, 0.26, 0.08), "case_study": (0.28, 0.22, 0.10)},
    "DEV": {"assistance": (0.42, 0.26, 0.08), "feature_highlight": (0.28, 0.16, 0.03)},
    "CEO": {"case_study": (0.36, 0.24, 0.04), "roi_calculation": (0.26, 0.14, 0.02)},
    "CFO": {"roi_calculation": (0.40, 0.26, 0.04), "case_study": (0.24, 0.14, 0.02)},
    "CSO": {"security": (0.44, 0.26, 0.03), "compliance": (0.26, 0.14, 0.01)},
    "GC": {"compliance": (0.42, 0.26, 0.03), "security": (0.26, 0.14, 0.01)},
}


def _grid() -> pd.DataFrame:
    rows = []
    for p in TEST_PERSONAS:
        for zn in TEST_ZONES:
            o, c, e = _GENERIC if zn == GENERIC else _AIMED[p].get(zn, _OFF)
            aimed = zn in _AIMED[p]
            # unsubscribes and complaints: lowest for the persona's own content, highest for generic
            unsub = 0.002 if aimed else (0.004 if zn == GENERIC else 0.003)
            compl = 0.0002 if aimed else (0.0005 if zn == GENERIC else 0.0003)
            rows.append((p, zn, TOPICS[zn], o, c, e, unsub, compl))
    return pd.DataFrame(rows, columns=["persona", "zone", "topic", "open_prob", "click_prob", "effect",
                                       "unsubscribe_prob", "complaint_prob"])


#: The planted persona x zone grid (without the population columns: see :func:`content_truth`).
GRID = _grid()


def mean_open_rate(open_prob, *, beta: float, shift: float = 0.0, u_sd: float = CONTACT_U_SD,
                   nodes: int = 64) -> np.ndarray:
    """Population mean of ``sigmoid(logit(open_prob) + shift + beta * z + u)`` over
    ``z ~ N(0, 1)``, ``u ~ N(0, u_sd)`` (Gauss-Hermite quadrature; ``beta*z + u ~ N(0, s)``)."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    s = np.sqrt(beta ** 2 + u_sd ** 2)
    lo = logit(np.asarray(open_prob, dtype=float))[..., None] + shift
    return (sigmoid(lo + s * x) * w).sum(axis=-1) / w.sum()


def content_truth(cfg: SimConfig) -> pd.DataFrame:
    """``sim_content`` of a content test: :data:`GRID` (effects scaled by ``effect_scale``) plus the
    population ``open_rate`` and ``engagement`` (clicks per delivered message)."""
    t = GRID.copy()
    t["effect"] = t["effect"] * cfg.effect_scale
    t["open_rate"] = mean_open_rate(t["open_prob"].to_numpy(), beta=cfg.intent_open_beta, shift=cfg.open_shift)
    t["engagement"] = t["open_rate"] * t["click_prob"]
    return t


def true_engagement_multiple(truth: pd.DataFrame, allocation: dict | None = None,
                             weights: dict | None = None) -> float:
    """Engagement of an allocation (persona -> zone; default: each persona's truly best zone)
    over the generic email's, with personas weighted by ``weights`` (default: their population
    shares among the six personas, :data:`~mof_experiments.simulate.world.PERSONA_SHARES`).

    ``sum_p w_p * engagement(p, allocation[p]) / sum_p w_p * engagement(p, generic)``.
    """
    t = truth.set_index(["persona", "zone"])["engagement"]
    if allocation is None:
        best = truth[truth["zone"] != GENERIC].sort_values("engagement").drop_duplicates("persona", keep="last")
        allocation = dict(zip(best["persona"], best["zone"]))
    w = weights or {p: PERSONA_SHARES[p] for p in allocation}
    num = sum(w[p] * t[(p, z)] for p, z in allocation.items())
    den = sum(w[p] * t[(p, GENERIC)] for p in allocation)
    return float(num / den)


def draw_content_test(cfg: SimConfig, co: pd.DataFrame, act: pd.DataFrame, ct: pd.DataFrame,
                      rng: np.random.Generator):
    """The content test's emails: returns ``(conv, sim_effects, email_events, unsub_at)`` like
    :func:`~mof_experiments.simulate.emails.draw_emails`."""
    grid = content_truth(cfg)
    enrolled_ci = np.flatnonzero(act["enrolled"].to_numpy())
    cte = ct[ct["ci"].isin(enrolled_ci) & ct["persona"].isin(TEST_PERSONAS)].reset_index(drop=True)
    n = len(cte)
    zone = np.array(TEST_ZONES)[rng.integers(0, len(TEST_ZONES), n)]
    s = cte.assign(zone=zone).merge(grid, on=["persona", "zone"], how="left")
    ci = s["ci"].to_numpy()
    z = co["z"].to_numpy()[ci]
    eligible = ~s["invalid"].to_numpy() & ~s["prior_unsub"].to_numpy()
    q = sigmoid(logit(s["open_prob"].to_numpy()) + cfg.open_shift + cfg.intent_open_beta * z + s["u"].to_numpy())
    q = q * eligible
    h = act["h"].to_numpy()[ci]

    # truth: P(convert within window | arm); in `email` the zone is random, so each contact's
    # miss probability is the mean over the seven zones (independent across contacts)
    g = grid.set_index(["persona", "zone"])
    miss = np.zeros(n)
    for zn in TEST_ZONES:
        gz = g.xs(zn, level="zone").reindex(s["persona"])
        qz = sigmoid(logit(gz["open_prob"].to_numpy()) + cfg.open_shift + cfg.intent_open_beta * z
                     + s["u"].to_numpy()) * eligible
        miss += (1 - np.clip(h * gz["effect"].to_numpy() * qz, 0, 1)) / len(TEST_ZONES)
    log_miss = pd.Series(np.log(np.maximum(miss, 1e-12))).groupby(ci).sum()
    lm = pd.Series(0.0, index=enrolled_ci)
    lm.loc[log_miss.index] = log_miss.to_numpy()
    p0 = act["p0"].to_numpy()[enrolled_ci]
    ids = co["company_id"].to_numpy()[enrolled_ci]
    sim_effects = pd.concat([
        pd.DataFrame({"experiment_id": cfg.experiment_id, "company_id": ids, "arm": "holdout", "p_convert": p0}),
        pd.DataFrame({"experiment_id": cfg.experiment_id, "company_id": ids, "arm": "email",
                      "p_convert": 1 - (1 - p0) * np.exp(lm.to_numpy())})], ignore_index=True)

    # realized: only contacts of `email` companies
    mine = act["arm"].to_numpy()[ci] == "email"
    s, q, h, ci = s.loc[mine].reset_index(drop=True), q[mine], h[mine], ci[mine]
    m = len(s)
    trig = act["trigger"].to_numpy()[ci]
    send = trig + 3600 + (rng.random(m) * 0.5 * SECONDS_PER_DAY).astype(np.int64)
    opened = rng.random(m) < q
    open_t = send + 120 + np.minimum(rng.exponential(8 * 3600, m), 3 * SECONDS_PER_DAY).astype(np.int64)
    caused = opened & (rng.random(m) < np.clip(h * s["effect"].to_numpy(), 0, 1))
    cause_t = open_t + np.minimum(rng.exponential(4 * SECONDS_PER_DAY, m), 14 * SECONDS_PER_DAY - 1).astype(np.int64) + 60
    conv = act["conv"].to_numpy().copy()
    if caused.any():
        cmin = pd.Series(cause_t[caused]).groupby(ci[caused]).min()
        conv[cmin.index.to_numpy()] = np.minimum(conv[cmin.index.to_numpy()], cmin.to_numpy())
    sent = (send < conv[ci]) & ~s["prior_unsub"].to_numpy() & (send < cfg.end_ts)
    s, send, opened, open_t = s.loc[sent].reset_index(drop=True), send[sent], opened[sent], open_t[sent]
    m = len(s)
    unsub = rng.random(m) < s["unsubscribe_prob"].to_numpy()
    complaint = ~unsub & (rng.random(m) < s["complaint_prob"].to_numpy())
    email_events, unsub_at = email_event_table(cfg, s, send, opened, open_t, unsub, complaint, rng)
    return conv, sim_effects, email_events, unsub_at


def content_test_events(cfg: SimConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The content test's ``email_events`` and contacts (contact_id, company_id, persona: the truth)
    drawn in memory exactly as :func:`~mof_experiments.simulate.simulate` draws them for
    ``cfg`` (same seed, same events), without writing a workspace or api_events: for studies of
    the estimators that need only the email events."""
    from mof_experiments.simulate.draws import draw_activity, draw_companies, draw_contacts

    cfg = cfg.validate()
    rng = np.random.default_rng([cfg.seed, 0])
    co = draw_companies(cfg, rng)
    act = draw_activity(cfg, co, rng)
    ct = draw_contacts(cfg, co, rng)
    _, _, ev, _ = draw_content_test(cfg, co, act, ct, np.random.default_rng([cfg.seed, 1]))
    return ev, ct[["contact_id", "company_id", "persona"]]


__all__ = ["content_test_events", "GRID", "TEST_ZONES", "CONTENT_ZONES", "GENERIC", "TEST_PERSONAS", "TOPICS", "content_truth",
           "mean_open_rate", "true_engagement_multiple", "draw_content_test"]
