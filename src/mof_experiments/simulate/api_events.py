"""API events of the simulation, one chunk of companies at a time (an Arrow table)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from mof_experiments.dates import SECONDS_PER_DAY
from mof_experiments.simulate.config import SimConfig
from mof_experiments.simulate.draws import seconds_to_arrow
from mof_experiments.simulate.world import ENDPOINTS, ERR_AUTH, ERR_NORMAL


def _codes(rng, n, err_p, auth_heavy):
    """Status codes: 2xx with prob 1-err_p, else an error code from the company's profile."""
    out = np.where(rng.random(n) < 0.85, 200, 201)
    err = rng.random(n) < err_p
    if err.any():
        u = rng.random(n)
        normal = ERR_NORMAL[0][np.minimum(np.searchsorted(np.cumsum(ERR_NORMAL[1]), u), 6)]
        auth = ERR_AUTH[0][np.minimum(np.searchsorted(np.cumsum(ERR_AUTH[1]), u), 4)]
        out = np.where(err, np.where(auth_heavy, auth, normal), out)
    return out


def api_events_chunk(cfg: SimConfig, ids: np.ndarray, act: pd.DataFrame, rng: np.random.Generator) -> pa.Table:
    end = cfg.end_ts
    has = act["has_calls"].to_numpy()
    first = act["first"].to_numpy()
    sb_end = act["sb_end"].to_numpy()
    conv = act["conv"].to_numpy()
    k = np.maximum(act["k"].to_numpy(), 1)
    perm = np.stack(act["perm"].to_numpy()) if len(act) else np.zeros((0, len(ENDPOINTS)), np.int16)
    n = len(act)
    converted = has & (conv < end)
    # sandbox calls: the first at `first`, the rest uniform over the active span
    span_days = np.where(has, (sb_end - first) / SECONDS_PER_DAY, 0.0)
    n_sb = np.where(has, 1 + rng.poisson(act["rate"].to_numpy() * np.maximum(span_days, 0)), 0)
    # failed production calls before the first success (live key not activated, ...)
    lim = np.where(converted, conv, end)
    n_pf = np.where(has & (lim - first > 1),
                    rng.poisson(np.where(act["auth_heavy"].to_numpy(), 1.5, 0.4)), 0)
    # production calls from the first success to the end
    n_pr = np.where(converted, 1 + rng.poisson(act["prod_rate"].to_numpy() * np.where(converted, end - conv, 0) / SECONDS_PER_DAY), 0)
    parts = []
    # sandbox
    c = np.repeat(np.arange(n), n_sb)
    starts = np.cumsum(n_sb) - n_sb
    off = (rng.random(c.size) * (sb_end[c] - first[c])).astype(np.int64)
    off[starts[n_sb > 0]] = 0
    parts.append((c, first[c] + off, np.zeros(c.size, np.int8),
                  _codes(rng, c.size, act["err_rate"].to_numpy()[c], act["auth_heavy"].to_numpy()[c])))
    # failed production
    c = np.repeat(np.arange(n), n_pf)
    t = first[c] + (rng.random(c.size) * (lim[c] - first[c])).astype(np.int64)
    parts.append((c, t, np.ones(c.size, np.int8), np.where(rng.random(c.size) < 0.7, 401, 403)))
    # production
    c = np.repeat(np.arange(n), n_pr)
    starts = np.cumsum(n_pr) - n_pr
    off = 1 + (rng.random(c.size) * np.maximum(end - conv[c] - 1, 0)).astype(np.int64)
    off[starts[n_pr > 0]] = 0
    codes = _codes(rng, c.size, 0.02, False)
    codes[starts[n_pr > 0]] = 200
    parts.append((c, conv[c] + off, np.ones(c.size, np.int8), codes))
    ci = np.concatenate([p[0] for p in parts])
    ts = np.concatenate([p[1] for p in parts])
    env = np.concatenate([p[2] for p in parts])
    code = np.concatenate([p[3] for p in parts])
    ep = perm[ci, (rng.random(ci.size) * k[ci]).astype(np.int64)] if ci.size else np.zeros(0, np.int16)
    order = np.lexsort((ts, ci))
    ci, ts, env, code, ep = ci[order], ts[order], env[order], code[order], ep[order]
    return pa.table({
        "company_id": pa.DictionaryArray.from_arrays(pa.array(ci.astype(np.int32)), pa.array(ids)),
        "ts": seconds_to_arrow(ts),
        "environment": pa.DictionaryArray.from_arrays(pa.array(env.astype(np.int32)), pa.array(["sandbox", "production"])),
        "endpoint": pa.DictionaryArray.from_arrays(pa.array(ep.astype(np.int32)), pa.array(list(ENDPOINTS))),
        "status_code": pa.array(code.astype(np.int64)),
    })


__all__ = ["api_events_chunk"]
