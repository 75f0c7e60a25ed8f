"""``mof simulate --design behavioral``: emails triggered by the companies' own behavior, with
planted causal effects per example program (``programs/*.yaml``).

The world (companies, contacts, sandbox activity) is drawn as in the default design; there is
no email experiment (no ``assignments``, no ``email_events``). Then, from the sandbox calls
themselves, each company's **entry day** into each example program is computed with the
program's own trigger rule, at the daily cut-offs a daily ``mof program run`` uses (midnight
UTC, events strictly before count):

- ``stuck_on_errors_assist``: 10+ sandbox calls and 25%+ of them failing (``stuck_on_errors``);
- ``quiet_in_sandbox``: 3+ active days, no call for 10 days.

A company's conversion is then drawn per entry, in time order, until it converts: within the
program's window (21 days, converting 0.5 to 20.5 days after entry) with probability
``p0 + lift * [arm == program]``, where ``p0`` is its baseline (archetype and intent) and the arm
is the program's deterministic hash (``sha256("mof-v1:program.<id>:<company_id>") / 2**64 <
holdout`` = holdout, the rule of :func:`mof_experiments.experiments.assign`); a company that
does not convert in any window converts later (after the last window) with probability
``0.3 * p0``. Companies that converted before their first entry keep the default design's
conversion and never enter. Failed production calls before conversion are left out (they would
break the quiet trigger's timing). The planted lifts are in ``sim_program_effects``
(program_id, lift, window_days, holdout).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa

from mof_experiments.dates import SECONDS_PER_DAY

#: program_id -> (planted lift on conversion within the window, holdout share)
PROGRAM_EFFECTS = {"stuck_on_errors_assist": (0.10, 0.2), "quiet_in_sandbox": (0.06, 0.2)}
WINDOW_DAYS = 21
_NEVER = np.iinfo(np.int64).max


def program_arm(company_ids, program_id: str, holdout: float) -> np.ndarray:
    """True where the company is in the program arm (the engine's hash rule, module docstring)."""
    u = np.array([int(hashlib.sha256(f"mof-v1:program.{program_id}:{c}".encode()).hexdigest()[:16], 16)
                  for c in company_ids], dtype=np.float64) / 2.0**64
    return u >= holdout


def sandbox_frame(chunk: pa.Table, offset: int) -> pd.DataFrame:
    """Sandbox calls of one chunk: company index, ts (epoch s), error flag."""
    sb = chunk.filter(pa.array(chunk["environment"].combine_chunks().indices.to_numpy() == 0))
    return pd.DataFrame({"ci": sb["company_id"].combine_chunks().indices.to_numpy() + offset,
                         "ts": sb["ts"].cast(pa.int64()).to_numpy() // 1_000_000,
                         "err": sb["status_code"].to_numpy() >= 400})


def entry_days(sb: pd.DataFrame, n: int, start: int, end: int) -> dict[str, np.ndarray]:
    """Per company, the first daily cut-off (epoch s) at which each program's trigger holds
    (ignoring production, which the caller checks); ``_NEVER`` when it never does by ``end``."""
    out = {}
    sb = sb.sort_values(["ci", "ts"], kind="stable")
    # stuck: cumulative sandbox calls/errors at each cut-off that follows a call
    cut = start + ((sb["ts"].to_numpy() - start) // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY
    g = pd.DataFrame({"ci": sb["ci"].to_numpy(), "cut": cut, "err": sb["err"].to_numpy()})
    agg = g.groupby(["ci", "cut"], sort=True).agg(calls=("err", "size"), errs=("err", "sum")).reset_index()
    agg["c_calls"] = agg.groupby("ci")["calls"].cumsum()
    agg["c_errs"] = agg.groupby("ci")["errs"].cumsum()
    ok = (agg["c_calls"] >= 10) & (agg["c_errs"] >= 0.25 * agg["c_calls"]) & (agg["cut"] <= end)
    e = np.full(n, _NEVER, dtype=np.int64)
    first = agg[ok].groupby("ci")["cut"].min()
    e[first.index.to_numpy()] = first.to_numpy()
    out["stuck_on_errors_assist"] = e
    # quiet: after a call at t, the cut-off ceil(t + 10 d) if no call before it and 3+ active days so far
    ts = sb["ts"].to_numpy()
    ci = sb["ci"].to_numpy()
    nxt = np.r_[ts[1:], _NEVER]
    nxt[np.r_[ci[1:] != ci[:-1], True]] = _NEVER
    day = (ts - start) // SECONDS_PER_DAY
    newday = np.r_[True, (day[1:] != day[:-1]) | (ci[1:] != ci[:-1])]
    active = pd.Series(newday.astype(int)).groupby(ci).cumsum().to_numpy()
    t10 = ts + 10 * SECONDS_PER_DAY
    d = start + -(-(t10 - start) // SECONDS_PER_DAY) * SECONDS_PER_DAY
    ok = (active >= 3) & (d <= nxt) & (d <= end)
    e = np.full(n, _NEVER, dtype=np.int64)
    q = pd.Series(d[ok]).groupby(ci[ok]).min()
    e[q.index.to_numpy()] = q.to_numpy()
    out["quiet_in_sandbox"] = e
    return out


def behavioral_conversions(company_ids, entries: dict, conv0: np.ndarray, p0: np.ndarray,
                           rng: np.random.Generator) -> tuple[np.ndarray, pd.DataFrame]:
    """Conversion times under the programs (module docstring) and the per-company truth
    (company_id, program_id, entered_at (s), arm, p_convert)."""
    n = len(conv0)
    conv = conv0.copy()
    progs = list(entries)
    E = np.stack([entries[p] for p in progs], axis=1)
    arms = np.stack([program_arm(company_ids, p, PROGRAM_EFFECTS[p][1]) for p in progs], axis=1)
    first_e = E.min(axis=1)
    redraw = (first_e < _NEVER) & (conv0 > first_e)
    conv[redraw] = _NEVER
    order = np.argsort(E, axis=1)
    u = rng.random((n, len(progs)))
    when = rng.random((n, len(progs)))
    truth = []
    for k in range(len(progs)):
        j = order[:, k]
        e = E[np.arange(n), j]
        live = redraw & (e < _NEVER) & (conv > e)
        lift = np.array([PROGRAM_EFFECTS[p][0] for p in progs])[j]
        arm = arms[np.arange(n), j]
        p = np.clip(p0 + lift * arm, 0, 1)
        hit = live & (u[:, k] < p)
        conv = np.where(hit, e + ((0.5 + when[:, k] * (WINDOW_DAYS - 1.0)) * SECONDS_PER_DAY).astype(np.int64), conv)
        for i in np.flatnonzero(live):
            truth.append((company_ids[i], progs[j[i]], e[i], "program" if arm[i] else "holdout", p[i]))
    last = np.where(E < _NEVER, E, -1).max(axis=1)
    late = redraw & (conv == _NEVER) & (rng.random(n) < 0.3 * p0)
    later = last + ((WINDOW_DAYS + rng.exponential(40.0, n)) * SECONDS_PER_DAY).astype(np.int64)
    conv = np.where(late, later, conv)
    return conv, pd.DataFrame(truth, columns=["company_id", "program_id", "entered_at", "arm", "p_convert"])


def effects_table() -> pd.DataFrame:
    """``sim_program_effects``: the planted lift per example program."""
    return pd.DataFrame({"program_id": list(PROGRAM_EFFECTS), "lift": [v[0] for v in PROGRAM_EFFECTS.values()],
                         "window_days": WINDOW_DAYS, "holdout": [v[1] for v in PROGRAM_EFFECTS.values()]})


__all__ = ["PROGRAM_EFFECTS", "WINDOW_DAYS", "program_arm", "entry_days", "behavioral_conversions",
           "effects_table", "sandbox_frame"]


def simulate_behavioral(cfg, path, *, progress: bool = True):
    """Write the behavioral design (module docstring) into ``path`` (a new file, atomically)."""
    from dataclasses import asdict
    from datetime import datetime, timezone
    from pathlib import Path

    from tqdm.auto import tqdm

    from mof_experiments.atomic import atomic_path
    from mof_experiments.schema import validate
    from mof_experiments.simulate.api_events import api_events_chunk
    from mof_experiments.simulate.config import SimResult
    from mof_experiments.simulate.draws import (draw_activity, draw_companies, draw_contacts,
                                                seconds_to_timestamps)
    from mof_experiments.simulate.world import ARCHETYPES
    from mof_experiments.workspace import Workspace

    rng = np.random.default_rng([cfg.seed, 0])
    co = draw_companies(cfg, rng)
    act = draw_activity(cfg, co, rng)
    ct = draw_contacts(cfg, co, rng)
    ids = co["company_id"].to_numpy()
    n, step = cfg.companies, cfg.chunk_companies
    chunks = list(range(0, n, step))
    sb = pd.concat([sandbox_frame(api_events_chunk(cfg, ids[i0:i0 + step], act.iloc[i0:i0 + step],
                                                   np.random.default_rng([cfg.seed, 2, j])), i0)
                    for j, i0 in enumerate(chunks)], ignore_index=True)
    entries = entry_days(sb, n, cfg.start_ts, cfg.end_ts)
    conv, truth = behavioral_conversions(ids, entries, act["conv"].to_numpy(), act["p0"].to_numpy(),
                                         np.random.default_rng([cfg.seed, 3]))
    act0 = act.copy()
    act["conv"] = conv
    end = cfg.end_ts
    companies = pd.DataFrame({"company_id": co["company_id"], "signup_at": seconds_to_timestamps(co["signup"]),
                              "name": co["name"], "plan": co["plan"], "size": co["size"].astype("Int64")})
    unsub = np.where(ct["prior_unsub"].to_numpy(), cfg.start_ts + 3600, np.nan)
    contacts = pd.DataFrame({"contact_id": ct["contact_id"], "company_id": ct["company_id"], "email": ct["email"],
                             "job_title": ct["job_title"].replace("", None),
                             "unsubscribed_at": seconds_to_timestamps(unsub)})
    fp = np.where(act["has_calls"].to_numpy() & (conv < end), conv, np.nan)
    sim_truth = pd.DataFrame({"company_id": co["company_id"],
                              "archetype": ARCHETYPES["archetype"].to_numpy()[co["arch"].to_numpy()],
                              "intent": co["z"], "first_production_at": seconds_to_timestamps(fp)})
    truth["entered_at"] = seconds_to_timestamps(truth["entered_at"].to_numpy()).to_numpy()
    with atomic_path(Path(path)) as tmp, Workspace(tmp) as ws:
        ws.write_many({"companies": validate(companies, "companies", source="simulate:companies"),
                       "contacts": validate(contacts, "contacts", source="simulate:contacts"),
                       "sim_truth": sim_truth,
                       "sim_contact_truth": pd.DataFrame({"contact_id": ct["contact_id"], "persona": ct["persona"],
                                                          "invalid_address": ct["invalid"],
                                                          "machine_opener": ct["mpp"]}),
                       "sim_program_effects": effects_table(), "sim_program_truth": truth})
        n_events = 0
        for j, i0 in enumerate(tqdm(chunks, desc="api_events", unit="chunk", disable=not progress, leave=False)):
            sl = slice(i0, i0 + step)
            # the sandbox calls of the first pass (the entries were computed from them: numpy's Poisson
            # draws a variable number of uniforms, so a second pass with other conversions would differ),
            # the production calls of the conversions drawn under the programs (none before conversion)
            first = api_events_chunk(cfg, ids[sl], act0.iloc[sl], np.random.default_rng([cfg.seed, 2, j]))
            final = api_events_chunk(cfg, ids[sl], act.iloc[sl], np.random.default_rng([cfg.seed, 2, j]))
            c = conv[sl][final["company_id"].combine_chunks().indices.to_numpy()]
            ts = final["ts"].cast(pa.int64()).to_numpy() // 1_000_000
            prod = final["environment"].combine_chunks().indices.to_numpy() == 1
            sb = first.filter(pa.array(first["environment"].combine_chunks().indices.to_numpy() == 0))
            tbl = pa.concat_tables([sb, final.filter(pa.array(prod & (ts >= c)))]).combine_chunks()
            ws.write("api_events", tbl, mode="append")
            n_events += tbl.num_rows
        ws.set_meta(simulated_start=datetime.fromtimestamp(cfg.start_ts, tz=timezone.utc).isoformat(),
                    simulated_end=cfg.end.isoformat(), sim_config=asdict(cfg))
        ws.raw.execute("CHECKPOINT")
    Path(f"{path}.wal").unlink(missing_ok=True)
    return SimResult(Path(path), cfg, {"companies": n, "contacts": len(contacts), "api_events": n_events,
                                       "program_entries": len(truth)})
