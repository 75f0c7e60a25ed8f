"""Engagement events back in: ESP event exports mapped onto ``email_events``.

``import_events(workspace, "events.json", "sendgrid")`` reads the file, maps each event,
joins it to the ``sent`` row of its message, drops duplicates and writes the new rows (and
new suppressions) in one transaction: a malformed file imports nothing.

Formats and mapping
-------------------
**sendgrid**: the Event Webhook body, a JSON array of objects with ``email``, ``timestamp``
(unix seconds), ``event``, ``sg_event_id``, ``sg_message_id``, ``smtp-id`` (our Message-ID,
with angle brackets) and custom args (``campaign_id``, ``contact_id``). Events:
``delivered``→delivered, ``open``→open (``sg_machine_open: true`` → ``machine_open``, Apple
Mail Privacy Protection), ``click``→click, ``bounce``→bounce (type ``bounce``: suppressed;
type ``blocked``: not), ``spamreport``→complaint (suppressed), ``unsubscribe`` and
``group_unsubscribe``→unsubscribe (suppressed); ``processed``, ``deferred``, ``dropped``,
``group_resubscribe`` are counted as ignored.

**mailgun**: the Events API response ``{"items": [...], "paging": {...}}`` (also a bare list
of items, or one webhook body ``{"signature": ..., "event-data": {...}}``). Each item has
``id``, ``event``, ``timestamp`` (unix seconds, float), ``recipient``,
``message.headers.message-id`` (our Message-ID without brackets), ``user-variables``.
Events: ``delivered``→delivered, ``opened``→open (``client-info.bot`` set → machine open),
``clicked``→click, ``failed`` with ``severity: permanent``→bounce (suppressed; temporary
failures are ignored), ``unsubscribed``→unsubscribe, ``complained``→complaint (both
suppressed); ``accepted``, ``stored``, ``rejected`` are ignored.

**csv**: columns ``event`` (one of the canonical events), ``ts`` (ISO-8601 with zone), and
either ``message_id`` or ``campaign_id`` + ``contact_id``; optional ``event_id``,
``machine_open``, ``email``.

Joining and deduplication
-------------------------
Each event is joined to a workspace ``email_events`` row with event ``sent``: by message_id
(angle brackets stripped), else by (campaign_id, contact_id) from custom args / user
variables. That row supplies campaign_id, contact_id, company_id, zone, topic and variant.
Events that match no sent message are counted as ``unmatched`` and not imported. Duplicates
are dropped on ``event_id`` (the ESP's id: SendGrid retries deliveries and repeats events),
within the file and against rows already in the workspace; a CSV without ``event_id`` gets
``sha1(message_id|event|ts)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from mof_experiments.checks import require_columns
from mof_experiments.errors import MofInputError
from mof_experiments.schema import EMAIL_EVENTS, validate

FORMATS = ("sendgrid", "mailgun", "csv")
SENDGRID_MAP = {"delivered": "delivered", "open": "open", "click": "click", "bounce": "bounce",
                "spamreport": "complaint", "unsubscribe": "unsubscribe", "group_unsubscribe": "unsubscribe"}
SENDGRID_IGNORED = ("processed", "deferred", "dropped", "group_resubscribe")
MAILGUN_MAP = {"delivered": "delivered", "opened": "open", "clicked": "click", "failed": "bounce",
               "unsubscribed": "unsubscribe", "complained": "complaint"}
MAILGUN_IGNORED = ("accepted", "stored", "rejected")
_NORM_COLS = ["event_id", "message_id", "campaign_id", "contact_id", "email", "event", "raw_event", "ts",
              "machine_open", "suppress"]


@dataclass(frozen=True)
class EventImport:
    """What an import did.

    Attributes
    ----------
    source, format
    rows_in : events in the file.
    imported : rows appended to ``email_events``; ``by_event`` splits them by event.
    duplicates : events dropped because their event_id was already seen (file or workspace).
    ignored : ESP event -> count of events with no canonical meaning (e.g. ``processed``).
    unmatched : events whose message matches no ``sent`` row in the workspace.
    suppressions_added : new rows in the workspace ``suppressions`` table.
    machine_opens : imported opens flagged ``machine_open``.
    warnings : events timestamped in the future (see
        :func:`mof_experiments.schema.future_timestamps`), imported anyway unless ``strict``.
    """

    source: str
    format: str
    rows_in: int
    imported: int
    duplicates: int
    ignored: dict
    unmatched: int
    suppressions_added: int
    machine_opens: int
    by_event: dict = field(default_factory=dict)
    unmatched_example: str | None = None
    warnings: tuple = ()

    @property
    def summary(self) -> pd.DataFrame:
        """Columns ``outcome`` and ``events``."""
        rows = [(f"imported:{k}", v) for k, v in sorted(self.by_event.items())]
        rows += [("duplicates", self.duplicates), ("unmatched", self.unmatched)]
        rows += [(f"ignored:{k}", v) for k, v in sorted(self.ignored.items())]
        rows += [("suppressions_added", self.suppressions_added)]
        return pd.DataFrame(rows, columns=["outcome", "events"])

    def __str__(self) -> str:
        s = (f"{self.source} ({self.format}): {self.rows_in:,} events, imported {self.imported:,} "
             f"({', '.join(f'{k} {v:,}' for k, v in sorted(self.by_event.items())) or 'none'}; "
             f"{self.machine_opens:,} machine opens flagged), dropped {self.duplicates:,} duplicates, "
             f"{self.unmatched:,} unmatched, ignored {sum(self.ignored.values()):,}"
             f"{' (' + ', '.join(f'{k} {v}' for k, v in sorted(self.ignored.items())) + ')' if self.ignored else ''}"
             f"; {self.suppressions_added:,} new suppressions")
        if self.unmatched_example:
            s += f"; e.g. unmatched message {self.unmatched_example!r}"
        return s

    def _repr_html_(self) -> str:
        return f"<p>{self}</p>" + self.summary.to_html(index=False)


def _load_json(path: Path):
    src = str(path)
    if not path.exists():
        raise MofInputError("file not found", source=src)
    if path.is_dir():
        raise MofInputError("is a directory; give the event file", source=src)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise MofInputError("not UTF-8 text", source=src) from None
    except json.JSONDecodeError as exc:
        raise MofInputError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}; "
                            "nothing imported", source=src) from None


def _strip_id(v) -> str | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    v = str(v).strip()
    if v.startswith("<") and v.endswith(">"):
        v = v[1:-1]
    return v or None


def _ts(v, src, column, i) -> datetime:
    try:
        return datetime.fromtimestamp(float(v), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        raise MofInputError("expected unix seconds", source=src, column=column, row=i, value=v) from None


def _need(obj, key, src, i):
    if not isinstance(obj, dict):
        raise MofInputError("expected a JSON object per event", source=src, row=i, value=str(obj)[:60])
    if key not in obj or obj[key] in (None, ""):
        raise MofInputError("missing field in event", source=src, column=key, row=i,
                            value=json.dumps(obj)[:80])
    return obj[key]


def _event_head(e, src: str, i: int, id_key: str, recipient_key: str, esp: str, mapping: dict,
                ignored: tuple) -> tuple[str, str, datetime, str]:
    """The fields every ESP event has, checked in this order: the event name, the ESP's event
    id, the timestamp (unix seconds) and the recipient; an event name neither in ``mapping``
    nor in ``ignored`` is an error naming the row. Returns (event name, id, ts, recipient)."""
    raw = str(_need(e, "event", src, i))
    eid = str(_need(e, id_key, src, i))
    ts = _ts(_need(e, "timestamp", src, i), src, "timestamp", i)
    email = str(_need(e, recipient_key, src, i))
    if raw not in mapping and raw not in ignored:
        raise MofInputError(f"unknown {esp} event", source=src, column="event", row=i, value=raw)
    return raw, eid, ts, email


def parse_sendgrid(data, src: str) -> pd.DataFrame:
    """Normalize a SendGrid Event Webhook body (list of event objects); see the module docstring."""
    if not isinstance(data, list):
        raise MofInputError("expected a JSON array of SendGrid events", source=src)
    rows = []
    for i, e in enumerate(data, start=1):
        raw, eid, ts, email = _event_head(e, src, i, "sg_event_id", "email", "SendGrid", SENDGRID_MAP,
                                          SENDGRID_IGNORED)
        ev = SENDGRID_MAP.get(raw)
        suppress = None
        if ev in ("unsubscribe", "complaint"):
            suppress = ev
        elif ev == "bounce" and str(e.get("type", "bounce")) != "blocked":
            suppress = "bounce"
        rows.append((eid, _strip_id(e.get("smtp-id")), _strip_id(e.get("campaign_id")),
                     _strip_id(e.get("contact_id")), email, ev, raw, ts,
                     bool(e.get("sg_machine_open", False)) if ev == "open" else None, suppress))
    return pd.DataFrame(rows, columns=_NORM_COLS)


def parse_mailgun(data, src: str) -> pd.DataFrame:
    """Normalize a Mailgun Events API page (``{"items": [...]}``), item list or webhook body."""
    if isinstance(data, dict) and "items" in data:
        items = data["items"]
    elif isinstance(data, dict) and "event-data" in data:
        items = [data["event-data"]]
    elif isinstance(data, list):
        items = data
    else:
        raise MofInputError("expected a Mailgun events page {\"items\": [...]} or a webhook body", source=src)
    if not isinstance(items, list):
        raise MofInputError("'items' is not a list", source=src, column="items")
    rows = []
    for i, e in enumerate(items, start=1):
        raw, eid, ts, email = _event_head(e, src, i, "id", "recipient", "Mailgun", MAILGUN_MAP, MAILGUN_IGNORED)
        ev = MAILGUN_MAP.get(raw)
        if raw == "failed" and str(e.get("severity", "permanent")) != "permanent":
            ev, raw = None, "failed_temporary"
        headers = (e.get("message") or {}).get("headers") or {}
        uv = e.get("user-variables") or {}
        bot = ((e.get("client-info") or {}).get("bot") or "") if ev == "open" else ""
        suppress = ev if ev in ("unsubscribe", "complaint", "bounce") else None
        rows.append((eid, _strip_id(headers.get("message-id")), _strip_id(uv.get("campaign_id")),
                     _strip_id(uv.get("contact_id")), email, ev, raw, ts,
                     bool(bot) if ev == "open" else None, suppress))
    return pd.DataFrame(rows, columns=_NORM_COLS)


def parse_csv(path: Path) -> pd.DataFrame:
    """Normalize a generic CSV (see the module docstring)."""
    from mof_experiments.schema import parse_timestamps
    from mof_experiments.workspace import read_input_file

    src = str(path)
    df = read_input_file(path)
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, ["event", "ts"], src)
    if "message_id" not in df.columns and not {"campaign_id", "contact_id"} <= set(df.columns):
        raise MofInputError("need message_id, or campaign_id and contact_id", source=src, column="message_id")
    bad = ~df["event"].isin(EMAIL_EVENTS)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise MofInputError(f"unknown event (allowed: {', '.join(EMAIL_EVENTS)})", source=src, column="event",
                            row=i + 1, value=df["event"].iloc[i])
    ts = parse_timestamps(df["ts"], column="ts", source=src)
    if ts.isna().any():
        i = int(ts.isna().to_numpy().nonzero()[0][0])
        raise MofInputError("missing timestamp", source=src, column="ts", row=i + 1, value=df["ts"].iloc[i])
    mo = None
    if "machine_open" in df.columns:
        mo = validate(df.assign(message_id="x", campaign_id="x", contact_id="x", company_id="x", zone="x",
                                topic="x", variant=None, ts=ts), "email_events", source=src)["machine_open"]
    n = len(df)
    get = lambda c: df[c].map(_strip_id) if c in df.columns else pd.Series([None] * n)  # noqa: E731
    out = pd.DataFrame({"message_id": get("message_id"), "campaign_id": get("campaign_id"),
                        "contact_id": get("contact_id"), "email": get("email"), "event": df["event"],
                        "raw_event": df["event"], "ts": ts,
                        "machine_open": (mo.astype(object).where(mo.notna(), None) if mo is not None else None),
                        "suppress": df["event"].map({"unsubscribe": "unsubscribe", "complaint": "complaint",
                                                     "bounce": "bounce"})})
    eid = get("event_id")
    synth = [hashlib.sha1(f"{m}|{ca}|{co}|{e}|{t.isoformat()}".encode()).hexdigest()
             for m, ca, co, e, t in zip(out["message_id"], out["campaign_id"], out["contact_id"], out["event"],
                                        out["ts"])]
    out["event_id"] = [e if e else s for e, s in zip(eid, synth)]
    return out[_NORM_COLS]


def import_events(workspace, path, format: str, *, strict: bool = False, now: datetime | None = None) -> EventImport:
    """Map an ESP event file onto ``email_events`` and the suppression list (see module docstring).

    Writes both tables in one transaction; returns an :class:`EventImport`. Events later than
    ``now`` (default: the time of the call) are counted and warned about; ``strict=True``
    refuses the file instead.
    """
    from mof_experiments.cohorts import SUPPRESSIONS_TABLE, ensure_suppressions_table
    from mof_experiments.schema import future_timestamps

    path = Path(path)
    src = str(path)
    if format not in FORMATS:
        raise MofInputError(f"unknown --format {format!r} (use {', '.join(FORMATS)})", source=src)
    if format == "csv":
        norm = parse_csv(path)
    else:
        data = _load_json(path)
        norm = (parse_sendgrid if format == "sendgrid" else parse_mailgun)(data, src)
    rows_in = len(norm)
    if rows_in == 0:
        raise MofInputError("no events in file", source=src)
    stamps = pd.DataFrame({"ts": pd.to_datetime(norm["ts"], utc=True)}).reset_index(drop=True)
    warnings = future_timestamps(stamps, "email_events", now=now or datetime.now(timezone.utc), source=src,
                                 strict=strict)
    ignored = norm.loc[norm["event"].isna(), "raw_event"].value_counts().to_dict()
    norm = norm[norm["event"].notna()]
    if not workspace.has("email_events"):
        raise MofInputError("workspace has no email_events: send a campaign (`mof send`) first",
                            source=str(workspace.path))
    t = workspace.table("email_events")
    sent = t.filter(t.event == "sent").select("message_id", "campaign_id", "contact_id", "company_id", "zone",
                                              "topic", "variant").to_pandas()
    sent = sent.drop_duplicates("message_id")
    by_mid = sent.set_index("message_id", drop=False)
    by_key = sent.drop_duplicates(["campaign_id", "contact_id"]).set_index(["campaign_id", "contact_id"], drop=False)
    # dedupe within the file, then against the workspace
    before = len(norm)
    norm = norm.drop_duplicates("event_id", keep="first")
    dups = before - len(norm)
    if len(norm):
        ids = norm["event_id"].tolist()
        have = set(t.filter(t.event_id.isin(ids)).event_id.to_pandas())
        keep = ~norm["event_id"].isin(have)
        dups += int((~keep).sum())
        norm = norm[keep]
    recs, unmatched, example = [], 0, None
    for r in norm.itertuples(index=False):
        hit = None
        if r.message_id and r.message_id in by_mid.index:
            hit = by_mid.loc[r.message_id]
            mid = r.message_id
        elif r.campaign_id and r.contact_id and (r.campaign_id, r.contact_id) in by_key.index:
            hit = by_key.loc[(r.campaign_id, r.contact_id)]
            mid = hit["message_id"]
        if hit is None:
            unmatched += 1
            example = example or (r.message_id or f"{r.campaign_id}/{r.contact_id}")
            continue
        recs.append({"message_id": mid, "campaign_id": hit["campaign_id"], "contact_id": hit["contact_id"],
                     "company_id": hit["company_id"], "zone": hit["zone"], "topic": hit["topic"],
                     "variant": hit["variant"], "event": r.event, "ts": r.ts, "event_id": r.event_id,
                     "machine_open": r.machine_open if r.event == "open" else None,
                     "_email": r.email, "_suppress": r.suppress})
    tables, by_event, n_sup, machine = {}, {}, 0, 0
    if recs:
        df = pd.DataFrame(recs)
        ev = validate(df.drop(columns=["_email", "_suppress"]), "email_events", source=src)
        tables["email_events"] = ev
        by_event = ev["event"].value_counts().to_dict()
        machine = int(ev["machine_open"].fillna(False).astype(bool).sum())
        sup = df[df["_suppress"].notna()]
        if len(sup):
            new = pd.DataFrame({"email": sup["_email"].astype("str"), "contact_id": sup["contact_id"].astype("str"),
                                "reason": sup["_suppress"].astype("str"), "source": f"{format}:{path.name}",
                                "ts": pd.to_datetime(sup["ts"], utc=True)})
            new = new.sort_values("ts").drop_duplicates(["email", "reason"], keep="first")
            if workspace.has(SUPPRESSIONS_TABLE):
                old = workspace.read(SUPPRESSIONS_TABLE)
                key = set(zip(old["email"].str.lower(), old["reason"]))
                new = new[[k not in key for k in zip(new["email"].str.lower(), new["reason"])]]
            if len(new):
                ensure_suppressions_table(workspace)
                tables[SUPPRESSIONS_TABLE] = new.reset_index(drop=True)
                n_sup = len(new)
    if tables:
        workspace.write_many(tables, mode="append")
    return EventImport(src, format, rows_in, len(recs), dups, {str(k): int(v) for k, v in ignored.items()},
                       unmatched, n_sup, machine, {str(k): int(v) for k, v in by_event.items()}, example,
                       tuple(warnings))


__all__ = ["import_events", "EventImport", "parse_sendgrid", "parse_mailgun", "parse_csv", "FORMATS",
           "SENDGRID_MAP", "MAILGUN_MAP"]
