"""Phase 4 of a send: the ledger's ``sent`` rows and suppressions copied to the workspace.

Rule: a ``sent`` row becomes one ``email_events`` row (event ``sent``, ``event_id``
``mof-sent:<message_id>``) unless the workspace already has a ``sent`` event with that
Message-ID; a suppression is appended to ``suppressions`` unless the same (email, reason,
source) is there. A failure (e.g. the workspace is locked) is returned, not raised: the rows
stay unrecorded in the ledger and the next run records them.
"""

from __future__ import annotations

import pandas as pd

from mof_experiments.errors import MofError
from mof_experiments.send.ledger import Ledger
from mof_experiments.send.spec import CampaignSpec


def record_in_workspace(spec: CampaignSpec, led: Ledger, workspace) -> tuple[int, str | None]:
    """Phase 4: copy unrecorded ``sent`` rows and suppressions to the workspace."""
    from mof_experiments.cohorts import SUPPRESSIONS_TABLE, ensure_suppressions_table
    from mof_experiments.schema import validate
    from mof_experiments.workspace import Workspace

    sends = [r for r in led.unrecorded_sent() if r["campaign_id"] == spec.campaign_id]
    sups = led.unrecorded_suppressions()
    if not sends and not sups:
        return 0, None
    try:
        with Workspace(workspace, must_exist=True) as ws:
            have = set()
            if sends and ws.has("email_events"):
                t = ws.table("email_events")
                ids = [r["message_id"] for r in sends]
                have = set(t.filter((t.event == "sent") & t.message_id.isin(ids)).message_id.to_pandas())
            new = [r for r in sends if r["message_id"] not in have]
            tables = {}
            if new:
                ev = pd.DataFrame({
                    "message_id": [r["message_id"] for r in new], "campaign_id": spec.campaign_id,
                    "contact_id": [r["contact_id"] for r in new], "company_id": [r["company_id"] for r in new],
                    "zone": spec.zone, "topic": spec.topic, "variant": spec.variant, "event": "sent",
                    "ts": [r["sent_at"] for r in new],
                    "event_id": [f"mof-sent:{r['message_id']}" for r in new], "machine_open": None})
                tables["email_events"] = validate(ev, "email_events", source="send ledger")
            if sups:
                ensure_suppressions_table(ws)
                sp = pd.DataFrame(sups)
                sp["ts"] = pd.to_datetime(sp["ts"], utc=True)
                if ws.has(SUPPRESSIONS_TABLE):
                    old = ws.read(SUPPRESSIONS_TABLE)
                    key = set(zip(old["email"], old["reason"], old["source"]))
                    sp = sp[[k not in key for k in zip(sp["email"], sp["reason"], sp["source"])]]
                if len(sp):
                    tables[SUPPRESSIONS_TABLE] = sp.astype({"email": "str", "contact_id": "str", "reason": "str",
                                                            "source": "str"})
            if tables:
                ws.write_many(tables, mode="append")
    except MofError as exc:
        return 0, exc.one_line()[:300]
    except Exception as exc:  # duckdb lock held by another process, ...
        return 0, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    led.mark_recorded([(r["campaign_id"], r["contact_id"]) for r in sends],
                      [(s["email"], s["reason"], s["source"]) for s in sups])
    return len(new), None


__all__ = ["record_in_workspace"]
