"""Emails of the simulation: the schedule, engagement, email-caused conversion, the email
events and the truth ``p_convert`` of every enrolled company under every arm."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mof_experiments.dates import SECONDS_PER_DAY
from mof_experiments.simulate.config import SimConfig
from mof_experiments.simulate.draws import logit, seconds_to_timestamps, sigmoid
from mof_experiments.simulate.world import CONTENT


def draw_emails(cfg: SimConfig, co: pd.DataFrame, act: pd.DataFrame, ct: pd.DataFrame,
            rng: np.random.Generator):
    """Schedule, engagement, email-caused conversion, the events and the truth p_convert."""
    arms = cfg.arms()
    content = CONTENT.copy()
    content["effect"] = content["effect"] * cfg.effect_scale
    content["k"] = content.groupby("persona").cumcount()
    # every enrolled company's contacts x every email for their persona (all arms, for the truth)
    enrolled_ci = np.flatnonzero(act["enrolled"].to_numpy())
    cte = ct[ct["ci"].isin(enrolled_ci)]
    sched = cte.merge(content, on="persona", how="inner")
    sched = sched.sort_values(["ci", "contact_id", "k"], kind="stable").reset_index(drop=True)
    z = co["z"].to_numpy()[sched["ci"].to_numpy()]
    p_open = sigmoid(logit(sched["open_prob"].to_numpy()) + cfg.open_shift + cfg.intent_open_beta * z + sched["u"].to_numpy())
    # unsubscribers and complainers get the first email only (they leave the list after it)
    stops = sched["unsubscriber"].to_numpy() | sched["complainer"].to_numpy()
    eligible = ~sched["invalid"].to_numpy() & ~sched["prior_unsub"].to_numpy() & ~(stops & (sched["k"].to_numpy() > 0))
    q = p_open * eligible
    h = act["h"].to_numpy()[sched["ci"].to_numpy()]
    hit = np.clip(h * sched["effect"].to_numpy() * q, 0, 1)
    log_miss = np.log1p(-np.minimum(hit, 1 - 1e-12))

    # truth: P(convert within window | arm) per enrolled company
    p0 = act["p0"].to_numpy()
    truth_rows = []
    for arm, (_, zones) in arms.items():
        in_arm = sched["zone"].isin(zones).to_numpy()
        s = pd.Series(np.where(in_arm, log_miss, 0.0)).groupby(sched["ci"].to_numpy()).sum()
        lm = pd.Series(0.0, index=enrolled_ci)
        lm.loc[s.index] = s.to_numpy()
        pc = 1 - (1 - p0[enrolled_ci]) * np.exp(lm.to_numpy())
        truth_rows.append(pd.DataFrame({"experiment_id": cfg.experiment_id,
                                        "company_id": co["company_id"].to_numpy()[enrolled_ci],
                                        "arm": arm, "p_convert": pc}))
    sim_effects = pd.concat(truth_rows, ignore_index=True)

    # realized: only the assigned arm's emails
    arm_of = act["arm"].to_numpy()[sched["ci"].to_numpy()]
    zones_of_arm = {a: set(zs) for a, (_, zs) in arms.items()}
    mine = np.array([zn in zones_of_arm.get(a, ()) for zn, a in zip(sched["zone"], arm_of)], dtype=bool)
    s = sched.loc[mine].reset_index(drop=True)
    q_s, h_s = q[mine], h[mine]
    e_s = s["effect"].to_numpy()
    trig = act["trigger"].to_numpy()[s["ci"].to_numpy()]
    m = len(s)
    send = trig + s["k"].to_numpy() * 4 * SECONDS_PER_DAY + (rng.random(m) * 0.5 * SECONDS_PER_DAY).astype(np.int64) + 3600
    opened = rng.random(m) < q_s
    open_t = send + 120 + np.minimum(rng.exponential(8 * 3600, m), 3 * SECONDS_PER_DAY).astype(np.int64)
    caused = opened & (rng.random(m) < np.clip(h_s * e_s, 0, 1))
    cause_t = open_t + np.minimum(rng.exponential(4 * SECONDS_PER_DAY, m), 14 * SECONDS_PER_DAY - 1).astype(np.int64) + 60
    conv = act["conv"].to_numpy().copy()
    if caused.any():
        cmin = pd.Series(cause_t[caused]).groupby(s["ci"].to_numpy()[caused]).min()
        conv[cmin.index.to_numpy()] = np.minimum(conv[cmin.index.to_numpy()], cmin.to_numpy())

    # which emails were actually sent: before the company converted, not after a bounce/unsubscribe
    sent = (send < conv[s["ci"].to_numpy()]) & ~s["prior_unsub"].to_numpy() & (send < cfg.end_ts)
    first_k = s["k"].to_numpy() == 0
    sent &= ~(s["invalid"].to_numpy() & ~first_k) & ~((s["unsubscriber"] | s["complainer"]).to_numpy() & ~first_k)
    s = s.loc[sent].reset_index(drop=True)
    send, opened, open_t = send[sent], opened[sent], open_t[sent]
    email_events, unsub_at = email_event_table(cfg, s, send, opened, open_t, s["unsubscriber"].to_numpy(),
                                               s["complainer"].to_numpy() & ~s["unsubscriber"].to_numpy(), rng)
    return conv, sim_effects, email_events, unsub_at


def email_event_table(cfg: SimConfig, s: pd.DataFrame, send: np.ndarray, opened: np.ndarray, open_t: np.ndarray,
                      unsub: np.ndarray, complaint: np.ndarray, rng: np.random.Generator):
    """The ``email_events`` of sent messages ``s`` (one row per message: contact_id, company_id,
    zone, topic, persona, invalid, mpp, click_prob) and the contacts' unsubscribe times.

    ``opened`` marks a human open at ``open_t``; a click follows an open with ``click_prob``;
    ``unsub`` / ``complaint`` mark messages (delivered ones only) whose recipient unsubscribes /
    complains about a day after delivery (both suppress the contact: ``unsubscribed_at``).
    """
    m = len(s)
    campaign = ("mof_" + s["zone"] + "_" + s["topic"] + "_" + s["persona"].str.lower()).to_numpy()
    msg = np.array([f"{c}.{i}@sim.mof-experiments" for c, i in zip(campaign, s["contact_id"])])
    invalid = s["invalid"].to_numpy()
    deliv_t = send + 5 + rng.integers(0, 115, m)
    ev = [("sent", np.ones(m, bool), send, None)]
    ev.append(("bounce", invalid, send + 30 + rng.integers(0, 270, m), None))
    ev.append(("delivered", ~invalid, deliv_t, None))
    mpp = s["mpp"].to_numpy() & ~invalid
    ev.append(("open", mpp, deliv_t + 1 + rng.integers(0, 3, m), np.where(rng.random(m) < 0.6, True, None)))
    human = opened & ~invalid
    ev.append(("open", human, open_t, False))
    reopen = human & (rng.random(m) < 0.3)
    ev.append(("open", reopen, open_t + rng.integers(600, 2 * SECONDS_PER_DAY, m), False))
    clicked = human & (rng.random(m) < s["click_prob"].to_numpy())
    ev.append(("click", clicked, open_t + 5 + rng.exponential(120, m).astype(np.int64), None))
    unsub = unsub & ~invalid
    unsub_t = deliv_t + rng.exponential(SECONDS_PER_DAY, m).astype(np.int64) + 60
    ev.append(("unsubscribe", unsub, unsub_t, None))
    complaint = complaint & ~invalid
    ev.append(("complaint", complaint, unsub_t, None))
    frames = []
    for name, mask, t, mo in ev:
        idx = np.flatnonzero(mask & (t < cfg.end_ts))
        if not len(idx):
            continue
        mo_arr = None if mo is None else (np.broadcast_to(np.asarray(mo, dtype=object), (m,))[idx])
        frames.append(pd.DataFrame({
            "message_id": msg[idx], "campaign_id": campaign[idx], "contact_id": s["contact_id"].to_numpy()[idx],
            "company_id": s["company_id"].to_numpy()[idx], "zone": s["zone"].to_numpy()[idx],
            "topic": s["topic"].to_numpy()[idx], "variant": "A", "event": name, "ts": t[idx],
            "machine_open": mo_arr if mo_arr is not None else None,
        }))
    email_events = pd.concat(frames, ignore_index=True).sort_values(["ts", "message_id"], kind="stable")
    email_events = email_events.reset_index(drop=True)  # _ts_pd returns a fresh 0..n-1 index
    email_events["ts"] = seconds_to_timestamps(email_events["ts"].to_numpy()).to_numpy()
    email_events["machine_open"] = email_events["machine_open"].astype("boolean")
    email_events["event_id"] = [f"sim-{i:09d}" for i in range(len(email_events))]
    gone = (unsub | complaint) & (unsub_t < cfg.end_ts)
    unsub_at = pd.Series(unsub_t[gone], index=s["contact_id"].to_numpy()[gone])
    return email_events, unsub_at


__all__ = ["draw_emails", "email_event_table"]
