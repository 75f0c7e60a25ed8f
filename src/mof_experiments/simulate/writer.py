"""Write a simulation into a new workspace file (atomically: a temporary file, then a rename)."""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from mof_experiments.atomic import atomic_path
from mof_experiments.errors import MofInputError
from mof_experiments.schema import validate
from mof_experiments.simulate.api_events import api_events_chunk
from mof_experiments.simulate.config import SimConfig, SimResult
from mof_experiments.simulate.content_test import content_truth, draw_content_test
from mof_experiments.simulate.draws import draw_activity, draw_companies, draw_contacts, seconds_to_timestamps
from mof_experiments.simulate.emails import draw_emails
from mof_experiments.simulate.world import ARCHETYPES, CONTENT
from mof_experiments.workspace import Workspace


def simulate(config: SimConfig, workspace_path: str | os.PathLike, *, overwrite: bool = False,
             progress: bool = True) -> SimResult:
    """Simulate a platform into a new workspace file (written to a temporary file, then moved).

    Raises :class:`MofInputError` if the file exists and ``overwrite`` is false.
    """
    from tqdm.auto import tqdm

    cfg = config.validate()
    path = Path(workspace_path)
    if path.exists() and not overwrite:
        raise MofInputError("workspace exists; pass --overwrite to replace it with a new simulation",
                            source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if cfg.design == "behavioral":
        from mof_experiments.simulate.behavioral import simulate_behavioral

        return simulate_behavioral(cfg, path, progress=progress)
    rng = np.random.default_rng([cfg.seed, 0])
    co = draw_companies(cfg, rng)
    act = draw_activity(cfg, co, rng)
    ct = draw_contacts(cfg, co, rng)
    draw = draw_content_test if cfg.design == "content_test" else draw_emails
    conv, sim_effects, email_events, unsub_at = draw(cfg, co, act, ct, np.random.default_rng([cfg.seed, 1]))
    act["conv"] = conv
    end = cfg.end_ts

    companies = pd.DataFrame({"company_id": co["company_id"], "signup_at": seconds_to_timestamps(co["signup"]),
                              "name": co["name"], "plan": co["plan"], "size": co["size"].astype("Int64")})
    unsub = pd.Series(np.nan, index=ct["contact_id"].to_numpy())
    prior = ct["prior_unsub"].to_numpy()
    unsub.iloc[np.flatnonzero(prior)] = cfg.start_ts + 3600
    unsub.loc[unsub_at.index] = unsub_at.to_numpy()
    contacts = pd.DataFrame({"contact_id": ct["contact_id"], "company_id": ct["company_id"], "email": ct["email"],
                             "job_title": ct["job_title"].replace("", None),
                             "unsubscribed_at": seconds_to_timestamps(unsub.to_numpy())})
    enr = act["enrolled"].to_numpy()
    assignments = pd.DataFrame({"experiment_id": cfg.experiment_id, "company_id": co["company_id"][enr].to_numpy(),
                                "arm": act["arm"][enr].astype("str").to_numpy(),
                                "assigned_at": seconds_to_timestamps(act["trigger"][enr].to_numpy()), "stratum": None})
    arms = cfg.arms()
    experiment_arms = pd.DataFrame({"experiment_id": cfg.experiment_id, "arm": list(arms),
                                    "weight": [w for w, _ in arms.values()],
                                    "is_control": [len(z) == 0 for _, z in arms.values()]})
    fp = np.where(act["has_calls"].to_numpy() & (conv < end), conv, np.nan)
    sim_truth = pd.DataFrame({
        "company_id": co["company_id"], "archetype": ARCHETYPES["archetype"].to_numpy()[co["arch"].to_numpy()],
        "intent": co["z"], "first_production_at": seconds_to_timestamps(fp), "enrolled": enr,
        "converted_before_enrollment": act["pre"].to_numpy(),
        "effect_multiplier": act["h"].to_numpy(),
    })
    sim_contact_truth = pd.DataFrame({"contact_id": ct["contact_id"], "persona": ct["persona"],
                                      "invalid_address": ct["invalid"], "machine_opener": ct["mpp"]})
    sim_content = (content_truth(cfg) if cfg.design == "content_test"
                   else CONTENT.assign(effect=CONTENT["effect"] * cfg.effect_scale))

    canonical = {"companies": companies, "contacts": contacts, "assignments": assignments,
                 "experiment_arms": experiment_arms, "email_events": email_events}
    canonical = {name: validate(df, name, source=f"simulate:{name}") for name, df in canonical.items()}
    counts = {name: len(df) for name, df in canonical.items()}
    with atomic_path(path) as tmp, Workspace(tmp) as ws:
        ws.write_many({**canonical, "sim_truth": sim_truth, "sim_contact_truth": sim_contact_truth,
                       "sim_effects": sim_effects, "sim_content": sim_content})
        ids = co["company_id"].to_numpy()
        n_events = 0
        chunks = range(0, cfg.companies, cfg.chunk_companies)
        bar = tqdm(chunks, desc="api_events", unit="chunk", disable=not progress, leave=False)
        for j, i0 in enumerate(bar):
            sl = slice(i0, min(i0 + cfg.chunk_companies, cfg.companies))
            tbl = api_events_chunk(cfg, ids[sl], act.iloc[sl], np.random.default_rng([cfg.seed, 2, j]))
            ws.write("api_events", tbl, mode="append")
            n_events += tbl.num_rows
            bar.set_postfix(events=f"{n_events:,}")
        counts["api_events"] = n_events
        ws.set_meta(simulated_start=datetime.fromtimestamp(cfg.start_ts, tz=timezone.utc).isoformat(),
                    simulated_end=cfg.end.isoformat(), sim_config=asdict(cfg))
        ws.raw.execute("CHECKPOINT")
    Path(f"{path}.wal").unlink(missing_ok=True)  # a stale WAL of the replaced file
    return SimResult(path, cfg, counts)


__all__ = ["simulate"]
