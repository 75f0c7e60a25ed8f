"""Draws of the simulation: companies, their API activity and conversion, their contacts.

Times are integer epoch seconds until they are written (``seconds_to_timestamps``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from mof_experiments.dates import SECONDS_PER_DAY
from mof_experiments.simulate.config import SimConfig
from mof_experiments.simulate.world import (ADJ, ARCHETYPES, ENDPOINT_POP, ENDPOINTS, FIRST, LAST, NOUN, PERSONA_SHARES,
                                            PLANS, PREFIXES, SUFFIXES, TITLES)


#: Share of contacts who unsubscribe after their first email / complain about it (see draw_contacts).
UNSUBSCRIBER_SHARE = 0.005
COMPLAINER_SHARE = 0.0004
#: Standard deviation of a contact's engagement propensity ``u`` (logit scale).
CONTACT_U_SD = 0.5


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def logit(p):
    return np.log(p / (1 - p))


def seconds_to_arrow(sec: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(sec, dtype="int64") * 1_000_000, type=pa.timestamp("us", tz="UTC"))


def seconds_to_timestamps(sec) -> pd.Series:
    arr = np.asarray(sec, dtype="float64")
    out = pd.to_datetime(pd.Series(np.where(np.isfinite(arr), arr, np.nan)), unit="s", utc=True)
    return out.astype("datetime64[us, UTC]")


def draw_companies(cfg: SimConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = cfg.companies
    arch = rng.choice(len(ARCHETYPES), size=n, p=ARCHETYPES["share"].to_numpy())
    signup = cfg.start_ts + (rng.random(n) * 0.85 * cfg.days * SECONDS_PER_DAY).astype(np.int64)
    z = rng.standard_normal(n)
    size = np.maximum(1, np.round(np.exp(rng.normal(3.2, 1.2, n)))).astype(np.int64)
    plan = np.array(PLANS)[np.clip(np.digitize(np.log10(size), [1.0, 2.0, 3.0]), 0, 3)]
    names = [f"{ADJ[a]} {NOUN[b]}" for a, b in zip(rng.integers(0, len(ADJ), n), rng.integers(0, len(NOUN), n))]
    ids = np.array([f"co_{i:07d}" for i in range(1, n + 1)])
    return pd.DataFrame({"company_id": ids, "signup": signup, "arch": arch, "z": z, "size": size,
                         "plan": plan, "name": names})


def draw_activity(cfg: SimConfig, co: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """First call, active span, conversion time, enrollment and arm for every company."""
    A = ARCHETYPES.iloc[co["arch"].to_numpy()].reset_index(drop=True)
    n = len(co)
    end = cfg.end_ts
    has = A["first_call_days"].notna().to_numpy().copy()
    fc_mean = A["first_call_days"].fillna(1.0).to_numpy(dtype=float)
    first = co["signup"].to_numpy() + (rng.exponential(fc_mean) * SECONDS_PER_DAY).astype(np.int64) + 60
    has &= first < end - 3600
    first = np.where(has, first, -1)
    span_lo = np.array([s[0] if isinstance(s, tuple) else np.nan for s in A["span"]])
    span_hi = np.array([s[1] if isinstance(s, tuple) else np.nan for s in A["span"]])
    span = span_lo + rng.random(n) * (span_hi - span_lo)
    sb_end = np.where(np.isnan(span), end - 1, first + np.nan_to_num(span) * SECONDS_PER_DAY).astype(np.int64)
    sb_end = np.minimum(sb_end, end - 1)
    trigger = first + int(cfg.trigger_days * SECONDS_PER_DAY)

    # conversion before the MOF trigger (fast adopters)
    pre_t = first + (rng.exponential(1.0, n) * SECONDS_PER_DAY).astype(np.int64) + 600
    pre = has & (rng.random(n) < A["pre_conv"].to_numpy()) & (pre_t < trigger)
    enrolled = has & ~pre & (trigger + cfg.window_days * SECONDS_PER_DAY <= end)

    # baseline conversion relative to the trigger
    p0 = np.where(has, sigmoid(A["base_logit"].to_numpy() + cfg.intent_conv_gamma * co["z"].to_numpy()), 0.0)
    win = cfg.window_days * SECONDS_PER_DAY
    u = rng.random(n)
    in_win = u < p0
    late = ~in_win & (rng.random(n) < 0.3 * p0)
    t_in = trigger + (rng.beta(1.2, 2.0, n) * (win - 1)).astype(np.int64) + 1
    t_late = trigger + win + (rng.exponential(40.0, n) * SECONDS_PER_DAY).astype(np.int64)
    base_conv = np.where(in_win, t_in, np.where(late, t_late, np.iinfo(np.int64).max))
    conv = np.where(pre, pre_t, np.where(has, base_conv, np.iinfo(np.int64).max))

    arms = cfg.arms()
    names = list(arms)
    weights = np.array([arms[a][0] for a in names])
    arm = np.where(enrolled, np.array(names)[rng.choice(len(names), size=n, p=weights / weights.sum())], None)
    k = np.where(has, rng.integers(A["k_lo"].to_numpy(), A["k_hi"].to_numpy() + 1), 0)
    # each company's endpoints: weighted sample without replacement (Gumbel top-k)
    keys = np.log(ENDPOINT_POP)[None, :] - np.log(-np.log(rng.random((n, len(ENDPOINTS)))))
    perm = np.argsort(-keys, axis=1).astype(np.int16)
    out = pd.DataFrame({
        "has_calls": has, "first": first, "sb_end": sb_end, "trigger": trigger, "pre": pre,
        "enrolled": enrolled, "arm": arm, "p0": p0, "conv": conv, "k": k,
        "rate": A["rate"].to_numpy(), "err_rate": A["err_rate"].to_numpy(),
        "auth_heavy": A["auth_heavy"].to_numpy(dtype=bool), "prod_rate": A["prod_rate"].to_numpy(),
        "h": A["h"].to_numpy() if cfg.heterogeneous else np.where(has, 1.0, 0.0),
    })
    out["perm"] = list(perm)
    return out


def draw_title(persona: str, rng: np.random.Generator) -> str:
    t = TITLES[persona][rng.integers(len(TITLES[persona]))]
    if not t:
        return t
    r = rng.random()
    if persona not in ("CEO",) and r < 0.12 and not t.startswith(("Chief", "VP", "Head", "C", "Founder")):
        t = PREFIXES[rng.integers(len(PREFIXES))] + t
    elif r < 0.22:
        t = t + SUFFIXES[rng.integers(len(SUFFIXES))]
    r = rng.random()
    if r < 0.08:
        t = t.lower()
    elif r < 0.12:
        t = t.upper()
    elif r < 0.16:
        t = "  " + t + " "
    return t


def draw_contacts(cfg: SimConfig, co: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    n_per = 1 + np.minimum(rng.poisson(0.8 + 0.35 * np.log1p(co["size"].to_numpy())), 7)
    comp = np.repeat(np.arange(len(co)), n_per)
    m = comp.size
    personas = np.array(list(PERSONA_SHARES))
    probs = np.array(list(PERSONA_SHARES.values()))
    persona = personas[rng.choice(len(personas), size=m, p=probs / probs.sum())]
    titles = [draw_title(p, rng) for p in persona]
    first = np.array(FIRST)[rng.integers(0, len(FIRST), m)]
    last = np.array(LAST)[rng.integers(0, len(LAST), m)]
    slug = co["name"].str.lower().str.replace(" ", "", regex=False).to_numpy()[comp]
    ids = np.array([f"ct_{i:08d}" for i in range(1, m + 1)])
    emails = [f"{f.lower()}.{l.lower()}{i[-4:]}@{s}.example.com" for f, l, i, s in zip(first, last, ids, slug)]
    return pd.DataFrame({
        "contact_id": ids, "ci": comp, "company_id": co["company_id"].to_numpy()[comp], "email": emails,
        "job_title": titles, "persona": persona,
        "u": rng.normal(0.0, CONTACT_U_SD, m),                       # contact-level engagement propensity
        "invalid": rng.random(m) < 0.02,                    # address bounces
        "mpp": rng.random(m) < 0.10,                        # mail privacy proxy: machine opens
        # unsubscribes after the first email: 0.5% of contacts, about 0.3% of messages (most
        # contacts get one or two): the range email benchmarks report per message (0.1-0.5%)
        "unsubscriber": rng.random(m) < UNSUBSCRIBER_SHARE,
        "prior_unsub": rng.random(m) < 0.02,                # unsubscribed before the experiment
        # complains (marks as spam) after the first email: 0.04% of contacts, about 0.02-0.03% of
        # messages, well under Gmail's and Yahoo's 0.3% bulk-sender line
        "complainer": rng.random(m) < COMPLAINER_SHARE,
    })


__all__ = ["UNSUBSCRIBER_SHARE", "COMPLAINER_SHARE", "CONTACT_U_SD", "sigmoid", "logit", "seconds_to_arrow", "seconds_to_timestamps", "draw_companies", "draw_activity",
           "draw_contacts"]
