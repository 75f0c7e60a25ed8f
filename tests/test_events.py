"""ESP events back in: SendGrid and Mailgun payloads written from their public documentation.

SendGrid Event Webhook (docs.sendgrid.com, "Event Webhook Reference"): a JSON array; every
event has email, timestamp (unix s), event, sg_event_id, sg_message_id, smtp-id, plus the
custom args given at send time; opens carry sg_machine_open (Apple Mail Privacy Protection);
bounces carry type bounce|blocked, status and reason.
Mailgun Events API (documentation.mailgun.com, "Events"): {"items": [...], "paging": {...}};
items have id, event, timestamp (float), recipient, message.headers.message-id,
user-variables, delivery-status, severity for failures, client-info for opens.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from mof_experiments.cli import main
from mof_experiments.engagement import message_engagement
from mof_experiments.errors import MofInputError
from mof_experiments.send import send_campaign
from mof_experiments.send.events import import_events
from mof_experiments.simulate import SimConfig, simulate
from mof_experiments.workspace import Workspace
from send_helpers import CAMPAIGN, eligible_contacts, prepare_workspace, write_campaign

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="module")
def sent_base(tmp_path_factory):
    """A workspace where the test campaign was sent (mbox) to 6 contacts."""
    d = tmp_path_factory.mktemp("events_ws")
    path = d / "mof.duckdb"
    simulate(SimConfig(companies=150, seed=4), path, progress=False)
    prepare_workspace(path)
    cohort = eligible_contacts(path).head(6)
    r = send_campaign(write_campaign(d / "c"), cohort, backend=f"mbox:{d / 'out.mbox'}", workspace=path,
                      ledger=d / "l.sqlite")
    assert r.sent == 6
    return path


@pytest.fixture()
def ws_path(sent_base, tmp_path):
    dst = tmp_path / "mof.duckdb"
    shutil.copy(sent_base, dst)
    return dst


def sent_rows(path) -> pd.DataFrame:
    with Workspace(path, read_only=True) as ws:
        ev = ws.read("email_events")
    return ev[(ev.campaign_id == CAMPAIGN) & (ev.event == "sent")].sort_values("contact_id").reset_index(drop=True)


def count_events(path) -> int:
    with Workspace(path, read_only=True) as ws:
        return ws.count("email_events")


def sendgrid_payload(s: pd.DataFrame) -> list[dict]:
    def ev(i, event, dt, eid, **kw):
        base = {"email": s.email.iloc[i] if "email" in s else None, "timestamp": T0 + dt,
                "smtp-id": f"<{s.message_id.iloc[i]}>", "event": event, "category": ["case_study"],
                "sg_event_id": eid, "sg_message_id": f"14c5d75ce93.dfd.64b469.filter0001.16648.{i}.0",
                "campaign_id": CAMPAIGN, "contact_id": s.contact_id.iloc[i]}
        base.update(kw)
        return base
    return [
        ev(0, "processed", 0, "sg-proc-0"),
        ev(0, "delivered", 2, "sg-del-0", response="250 OK", ip="168.1.1.1", tls=1),
        ev(0, "open", 3600, "sg-open-0", useragent="Mozilla/5.0", ip="255.255.255.255", sg_machine_open=False),
        ev(0, "open", 3600, "sg-open-0", useragent="Mozilla/5.0", ip="255.255.255.255", sg_machine_open=False),
        ev(0, "click", 3700, "sg-click-0", url="https://acme-api.example.com/case-studies/northwind",
           url_offset={"index": 0, "type": "html"}, useragent="Mozilla/5.0"),
        ev(1, "delivered", 2, "sg-del-1", response="250 OK"),
        ev(1, "open", 5, "sg-open-1", useragent="Mozilla/5.0", sg_machine_open=True),   # Apple MPP
        ev(2, "deferred", 1, "sg-def-2", response="400 try again later", attempt="1"),
        ev(2, "bounce", 60, "sg-bounce-2", reason="500 unknown recipient", status="5.0.0", type="bounce"),
        ev(3, "delivered", 2, "sg-del-3"),
        ev(3, "spamreport", 9000, "sg-spam-3"),
        ev(4, "delivered", 2, "sg-del-4"),
        ev(4, "group_unsubscribe", 9500, "sg-gunsub-4", asm_group_id=10, url="https://sendgrid.com/unsub"),
        ev(5, "dropped", 0, "sg-drop-5", reason="Bounced Address", status="5.0.0"),
    ]


def test_sendgrid_events_map_dedupe_flag_machine_opens_and_feed_suppressions(ws_path, tmp_path):
    s = sent_rows(ws_path)
    with Workspace(ws_path, read_only=True) as ws:
        c = ws.read("contacts").set_index("contact_id")
    s["email"] = c.loc[s.contact_id, "email"].to_numpy()
    f = tmp_path / "sendgrid.json"
    f.write_text(json.dumps(sendgrid_payload(s)), encoding="utf-8")
    with Workspace(ws_path) as ws:
        rep = import_events(ws, f, "sendgrid")
    assert rep.rows_in == 14 and rep.duplicates == 1
    assert rep.by_event == {"delivered": 4, "open": 2, "click": 1, "bounce": 1, "complaint": 1, "unsubscribe": 1}
    assert rep.ignored == {"processed": 1, "deferred": 1, "dropped": 1}
    assert rep.machine_opens == 1 and rep.unmatched == 0 and rep.suppressions_added == 3
    with Workspace(ws_path, read_only=True) as ws:
        ev = ws.read("email_events")
        sup = ws.read("suppressions")
    new = ev[ev.event_id.str.startswith("sg-", na=False)]
    opens = new[new.event == "open"].set_index("contact_id")
    assert bool(opens.loc[s.contact_id[1], "machine_open"]) and not bool(opens.loc[s.contact_id[0], "machine_open"])
    assert (new.company_id.to_numpy() == s.set_index("message_id").loc[new.message_id, "company_id"].to_numpy()).all()
    assert set(new.zone) == {"case_study"}
    assert new.loc[new.event == "click", "ts"].iloc[0] == pd.Timestamp(T0 + 3700, unit="s", tz="UTC")
    assert sorted(zip(sup.contact_id, sup.reason)) == sorted(
        [(s.contact_id[2], "bounce"), (s.contact_id[3], "complaint"), (s.contact_id[4], "unsubscribe")])
    # SendGrid repeats events: importing the same file again adds nothing
    n = count_events(ws_path)
    with Workspace(ws_path) as ws:
        again = import_events(ws, f, "sendgrid")
    assert again.imported == 0 and again.duplicates == 11 and count_events(ws_path) == n
    # the content report's per-message view sees them: 1 human open (machine open excluded), 1 click
    m = message_engagement(ev[ev.campaign_id == CAMPAIGN])
    assert (m.opened.sum(), m.clicked.sum(), m.bounced.sum(), m.unsubscribed.sum()) == (1, 1, 1, 1)
    # and the suppressed contacts are never emailed again
    other = write_campaign(tmp_path / "c2", campaign_id="follow_up")
    cohort = s[["contact_id", "email"]].assign(company_name="X", persona="PM")
    r = send_campaign(other, cohort, backend=f"mbox:{tmp_path / 'x.mbox'}", workspace=ws_path,
                      ledger=tmp_path / "l2.sqlite")
    assert r.skipped == {"suppressed": 3} and r.sent == 3


def mailgun_payload(s: pd.DataFrame) -> dict:
    def item(i, event, dt, eid, **kw):
        base = {"id": eid, "event": event, "timestamp": T0 + dt + 0.123456, "log-level": "info",
                "recipient": s.email.iloc[i], "recipient-domain": s.email.iloc[i].split("@")[1],
                "message": {"headers": {"message-id": s.message_id.iloc[i], "from": "growth@acme-api.example.com",
                                        "to": s.email.iloc[i], "subject": "A case study"}, "size": 2048},
                "user-variables": {"campaign_id": CAMPAIGN, "contact_id": s.contact_id.iloc[i]},
                "tags": ["case_study"], "flags": {"is-routed": False, "is-authenticated": True}}
        base.update(kw)
        return base
    return {"items": [
        item(0, "accepted", 0, "mg-acc-0", method="smtp"),
        item(0, "delivered", 3, "mg-del-0", **{"delivery-status": {"code": 250, "message": "OK", "tls": True}}),
        item(0, "opened", 4000, "mg-open-0", ip="50.56.129.169",
             **{"client-info": {"client-type": "browser", "client-os": "Linux", "device-type": "desktop",
                                "client-name": "Chrome"}}),
        item(1, "delivered", 3, "mg-del-1"),
        item(1, "opened", 6, "mg-open-1", **{"client-info": {"client-type": "mobile browser", "bot": "apple"}}),
        item(1, "clicked", 5000, "mg-click-1", url="https://acme-api.example.com/case-studies/northwind"),
        item(2, "failed", 30, "mg-fail-2-temp", severity="temporary", reason="generic",
             **{"delivery-status": {"code": 452, "message": "mailbox full"}}),
        item(2, "failed", 3600, "mg-fail-2", severity="permanent", reason="bounce",
             **{"delivery-status": {"code": 550, "message": "No such user"}}),
        item(3, "complained", 9000, "mg-compl-3"),
        item(4, "unsubscribed", 9100, "mg-unsub-4"),
        item(4, "unsubscribed", 9100, "mg-unsub-4"),
        {**item(5, "delivered", 3, "mg-del-unknown"), "message": {"headers": {"message-id": "nope@elsewhere"}},
         "user-variables": {}},
    ], "paging": {"next": "https://api.mailgun.net/v3/acme-api.example.com/events/W3siYSI6IGZhbHNlLC",
                  "previous": "https://api.mailgun.net/v3/acme-api.example.com/events/Lkawm93=="}}


def test_mailgun_events_map_with_severity_bots_duplicates_and_unmatched(ws_path, tmp_path, capsys):
    s = sent_rows(ws_path)
    with Workspace(ws_path, read_only=True) as ws:
        c = ws.read("contacts").set_index("contact_id")
    s["email"] = c.loc[s.contact_id, "email"].to_numpy()
    f = tmp_path / "mailgun.json"
    f.write_text(json.dumps(mailgun_payload(s)), encoding="utf-8")
    assert main(["events", "import", str(f), "--format", "mailgun", "-w", str(ws_path)]) == 0
    out = capsys.readouterr().out
    assert "12 events, imported 8" in out and "1 machine opens flagged" in out and "1 unmatched" in out
    assert "dropped 1 duplicates" in out and "3 new suppressions" in out
    with Workspace(ws_path, read_only=True) as ws:
        ev = ws.read("email_events")
    new = ev[ev.event_id.str.startswith("mg-", na=False)]
    assert new.event.value_counts().to_dict() == {"delivered": 2, "open": 2, "click": 1, "bounce": 1,
                                                  "complaint": 1, "unsubscribe": 1}
    assert new.loc[new.event_id == "mg-open-1", "machine_open"].tolist() == [True]
    assert "mg-fail-2-temp" not in set(new.event_id)


def test_malformed_json_is_one_line_error_and_imports_nothing(ws_path, tmp_path):
    s = sent_rows(ws_path)
    s["email"] = "x@example.com"
    text = json.dumps(sendgrid_payload(s))
    f = tmp_path / "broken.json"
    f.write_text(text[:-40], encoding="utf-8")
    n = count_events(ws_path)
    with Workspace(ws_path) as ws:
        with pytest.raises(MofInputError, match=r"broken.json: malformed JSON at line 1 column \d+.*nothing imported"):
            import_events(ws, f, "sendgrid")
    assert count_events(ws_path) == n
    assert main(["events", "import", str(f), "--format", "sendgrid", "-w", str(ws_path)]) == 2


def test_an_event_missing_a_field_rejects_the_whole_file(ws_path, tmp_path):
    s = sent_rows(ws_path)
    s["email"] = "x@example.com"
    payload = sendgrid_payload(s)
    del payload[5]["sg_event_id"]
    f = tmp_path / "sg.json"
    f.write_text(json.dumps(payload), encoding="utf-8")
    n = count_events(ws_path)
    with Workspace(ws_path) as ws:
        with pytest.raises(MofInputError, match=r"column 'sg_event_id': missing field in event \(e.g. row 6"):
            import_events(ws, f, "sendgrid")
    assert count_events(ws_path) == n


def test_generic_csv_import_joins_on_campaign_and_contact(ws_path, tmp_path):
    s = sent_rows(ws_path)
    f = tmp_path / "events.csv"
    pd.DataFrame({"campaign_id": CAMPAIGN, "contact_id": s.contact_id[:3],
                  "event": ["delivered", "open", "unsubscribe"],
                  "ts": ["2026-01-02T10:00:00Z", "2026-01-02T11:00:00+01:00", "2026-01-03T09:00:00Z"],
                  "email": ["a@x.com", "b@x.com", "c@x.com"]}).to_csv(f, index=False)
    with Workspace(ws_path) as ws:
        rep = import_events(ws, f, "csv")
        again = import_events(ws, f, "csv")
    assert rep.by_event == {"delivered": 1, "open": 1, "unsubscribe": 1} and rep.suppressions_added == 1
    assert again.imported == 0 and again.duplicates == 3
    with Workspace(ws_path, read_only=True) as ws:
        ev = ws.read("email_events")
    row = ev[(ev.contact_id == s.contact_id[1]) & (ev.event == "open")].iloc[0]
    assert row.ts == pd.Timestamp("2026-01-02T10:00:00Z") and row.message_id == s.message_id[1]
