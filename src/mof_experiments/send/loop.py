"""Phase 3 of a send: the send loop.

Per message: commit ``sending`` in the ledger, do the SMTP transaction, commit the outcome.
4xx (``temporary``): retried after ``backoff * 2**(attempt-1)`` s up to ``max_attempts``; 5xx
(``permanent``): ``failed_permanent`` and suppressed in the same commit; an ambiguous delivery
(connection lost inside DATA) stays ``sending`` for a human to decide; an unreachable back-end
stops the loop. The rate limit spaces the sends.
"""

from __future__ import annotations

import sys
import time

from mof_experiments.send.backends import AmbiguousDelivery, BackendUnavailable
from mof_experiments.send.ledger import Ledger


def send_loop(spec, be, led: Ledger, to_send, max_attempts: int, backoff: float, progress: bool,
               resend: set = frozenset()) -> dict:
    from tqdm import tqdm

    stats = {"sent": 0, "failed_temporary": 0, "failed_permanent": 0, "retried": 0, "ambiguous": [],
             "error": None, "seconds": 0.0}
    if not to_send:
        return stats
    t0 = time.perf_counter()
    from_addr = spec.from_address.addr_spec
    interval = 1.0 / spec.rate_limit_per_second if spec.rate_limit_per_second else 0.0
    queue = [(0.0, 1, item) for item in to_send]  # (due time, attempt, item)
    queue.reverse()
    retries: list = []
    last = 0.0
    # disable=None: tqdm shows the bar only on a terminal (not in cron logs)
    bar = tqdm(total=len(to_send), disable=None if progress else True, file=sys.stderr, unit="msg",
               desc=spec.campaign_id)
    try:
        be.open()
    except BackendUnavailable as exc:
        stats["error"] = str(exc)
        bar.close()
        return stats
    try:
        while queue or retries:
            if not queue:
                retries.sort(key=lambda r: r[0])
                due, attempt, item = retries.pop(0)
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            else:
                due, attempt, item = queue.pop()
            cid, to_addr, email, msg = item
            if interval:
                wait = last + interval - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                last = time.monotonic()
            led.mark_sending(spec.campaign_id, cid, resend=cid in resend)
            try:
                out = be.send(msg, from_addr, to_addr)
            except AmbiguousDelivery:
                # left in 'sending' on purpose: reported, resolved by a human
                stats["ambiguous"].append(cid)
                bar.update(1)
                continue
            except BackendUnavailable as exc:
                led.mark(spec.campaign_id, cid, "failed_temporary", error=str(exc)[:200])
                stats["failed_temporary"] += 1
                stats["error"] = str(exc)
                break
            if out.status == "ok":
                led.mark(spec.campaign_id, cid, "sent", code=out.code)
                stats["sent"] += 1
                bar.update(1)
            elif out.status == "permanent":
                led.mark(spec.campaign_id, cid, "failed_permanent", code=out.code, error=out.message,
                         suppress=(email, f"smtp_{out.code}", f"send:{spec.campaign_id}"))
                stats["failed_permanent"] += 1
                bar.update(1)
            else:
                led.mark(spec.campaign_id, cid, "failed_temporary", code=out.code, error=out.message)
                if attempt < max_attempts:
                    stats["retried"] += 1
                    retries.append((time.monotonic() + backoff * 2 ** (attempt - 1), attempt + 1, item))
                else:
                    stats["failed_temporary"] += 1
                    bar.update(1)
    finally:
        be.close()
        bar.close()
        stats["seconds"] = time.perf_counter() - t0
    return stats


__all__ = ["send_loop"]
