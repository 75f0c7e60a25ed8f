"""Dispatch against a real SMTP server (aiosmtpd on 127.0.0.1, started here)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers import CAMPAIGN, POSTAL, copy_workspace, eligible_contacts, ledger_states, prepare_workspace, tables, write_campaign
from mof_experiments.cli import main
from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.send import load_spec, make_message_id, send_campaign
from mof_experiments.send.testing import LocalSMTPServer
from mof_experiments.workspace import Workspace

@pytest.fixture(scope="module")
def base_ws(simulated, tmp_path_factory) -> Path:
    path = copy_workspace(simulated(companies=800, seed=21), tmp_path_factory.mktemp("send_ws"))
    prepare_workspace(path)
    return path


@pytest.fixture()
def ws_path(base_ws, tmp_path) -> Path:
    dst = tmp_path / "mof.duckdb"
    shutil.copy(base_ws, dst)
    return dst


@pytest.fixture()
def server():
    with LocalSMTPServer() as s:
        yield s


@pytest.mark.slow
def test_send_500_contacts_delivers_exactly_the_expected_messages(ws_path, server, tmp_path):
    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path)
    assert len(el) >= 500
    good = el.head(500)
    contacts, asg, *_ = tables(ws_path)
    holdout = set(asg.loc[asg.arm == "holdout", "company_id"])
    bad_holdout = contacts[contacts.company_id.isin(holdout)].head(7)
    bad_unsub = contacts[contacts.unsubscribed_at.notna()].head(5)
    # the cohort file lies about the companies: the workspace decides
    lies = bad_holdout.assign(company_id=good.company_id.iloc[0])
    cohort = pd.concat([good, lies, bad_unsub], ignore_index=True)
    cohort = cohort.assign(company_name=cohort.company_name.fillna("X"), persona=cohort.persona.fillna("PM"))
    cohort_path = tmp_path / "cohort.csv"
    cohort[["contact_id", "email", "company_id", "company_name", "persona"]].to_csv(cohort_path, index=False)
    ledger = tmp_path / "ledger.sqlite"

    r = send_campaign(spec_path, cohort_path, backend=server.url, workspace=ws_path, ledger=ledger)
    assert (r.sent, r.failed_permanent, r.failed_temporary, r.ambiguous) == (500, 0, 0, ())
    assert r.skipped == {"control": 7, "suppressed": 5}
    assert sorted(server.recipients()) == sorted(good.email)
    by_rcpt = {m["To"].addresses[0].addr_spec: m for m in server.messages}
    for row in good.itertuples():
        m = by_rcpt[row.email]
        assert m["Message-ID"] == f"<{make_message_id(CAMPAIGN, row.contact_id, 'acme-api.example.com')}>"
        assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        lu = m["List-Unsubscribe"]
        assert lu.startswith(f"<https://acme-api.example.com/u?c={CAMPAIGN}&u={row.contact_id}&t=")
        assert lu.endswith(", <mailto:unsubscribe@acme-api.example.com?subject=unsubscribe>")
        assert m["Subject"] == f"A case study for {row.company_name}"
        text = m.get_body(("plain",)).get_content()
        html = m.get_body(("html",)).get_content()
        assert text.startswith(f"Hello {row.company_name} team ({row.persona}),")
        assert POSTAL in text and POSTAL in html
        assert f"<b>{row.company_name}</b>" in html
    # re-running the same command sends nothing new
    r2 = send_campaign(spec_path, cohort_path, backend=server.url, workspace=ws_path, ledger=ledger)
    assert (r2.sent, r2.already_done) == (0, 500)
    assert len(server.raw) == 500
    with Workspace(ws_path, read_only=True) as ws:
        ev = ws.read("email_events")
    sent = ev[(ev.campaign_id == CAMPAIGN) & (ev.event == "sent")]
    assert len(sent) == 500 and sent.message_id.is_unique
    assert set(sent.contact_id) == set(good.contact_id)
    assert set(sent.zone) == {"case_study"} and set(sent.topic) == {"driving_adoption"}


def test_html_is_autoescaped_and_text_is_not(ws_path, server, tmp_path):
    spec_path = write_campaign(tmp_path / "c")
    row = eligible_contacts(ws_path).iloc[0]
    cohort = pd.DataFrame([{"contact_id": row.contact_id, "email": row.email, "company_name": "<Tom & Jerry>",
                            "persona": "PM"}])
    send_campaign(spec_path, cohort, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    m = server.messages[0]
    assert "<b>&lt;Tom &amp; Jerry&gt;</b>" in m.get_body(("html",)).get_content()
    assert "Hello <Tom & Jerry> team" in m.get_body(("plain",)).get_content()


def test_451_is_retried_and_delivered_once_550_is_permanent_and_suppressed(ws_path, server, tmp_path):
    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(6)
    soft, hard = el.email.iloc[0], el.email.iloc[1]
    server.script[soft] = ["451 4.3.0 Mailbox temporarily unavailable"] * 2
    server.script[hard] = ["550 5.1.1 No such user"] * 99
    ledger = tmp_path / "l.sqlite"
    r = send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=ledger)
    assert (r.sent, r.failed_permanent, r.retried) == (5, 1, 2)
    assert server.recipients().count(soft) == 1 and hard not in server.recipients()
    assert server.rcpt_log.count(soft) == 3 and server.rcpt_log.count(hard) == 1
    states = ledger_states(ledger)
    assert states[el.contact_id.iloc[1]] == "failed_permanent"
    assert not r.ok
    # never retried, and now suppressed in the workspace for every campaign
    r2 = send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=ledger)
    assert r2.sent == 0 and server.rcpt_log.count(hard) == 1
    with Workspace(ws_path, read_only=True) as ws:
        sup = ws.read("suppressions")
    assert sup.loc[sup.email == hard, "reason"].tolist() == ["smtp_550"]
    other = write_campaign(tmp_path / "c2", campaign_id="another_campaign")
    r3 = send_campaign(other, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "other.sqlite")
    assert r3.skipped == {"suppressed": 1} and r3.sent == 5


def test_451_until_attempts_exhausted_is_failed_temporary_and_a_rerun_retries(ws_path, server, tmp_path):
    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(2)
    server.script[el.email.iloc[0]] = ["451 4.3.0 later"] * 3
    ledger = tmp_path / "l.sqlite"
    r = send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=ledger)
    assert (r.sent, r.failed_temporary) == (1, 1)
    assert ledger_states(ledger)[el.contact_id.iloc[0]] == "failed_temporary"
    r2 = send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=ledger)
    assert (r2.sent, r2.already_done) == (1, 1)
    assert sorted(server.recipients()) == sorted(el.email)


def test_header_injection_in_a_name_is_rejected_before_the_first_send(ws_path, server, tmp_path):
    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(5).assign(name="Ann")
    el.loc[3, "name"] = "Ann\r\nBcc: victim@example.com"
    ledger = tmp_path / "l.sqlite"
    with pytest.raises(MofInputError, match=r"column 'name': line break .*header injection.* row 4"):
        send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=ledger)
    assert server.raw == [] and ledger_states(ledger) == {}


def test_header_injection_in_a_subject_from_the_data_is_rejected_before_the_first_send(ws_path, server, tmp_path):
    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(5)
    el.loc[4, "company_name"] = "Evil\nBcc: victim@example.com"
    with pytest.raises(MofInputError, match=r"rendered subject: line break"):
        send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    assert server.raw == []


def test_template_with_a_missing_variable_is_rejected_before_the_first_send(ws_path, server, tmp_path):
    spec_path = write_campaign(tmp_path / "c", subject="A case study for {{ company_name }}, {{ nickname }}")
    el = eligible_contacts(ws_path).head(5)[["contact_id", "email", "company_name"]]  # no nickname anywhere
    with pytest.raises(MofInputError, match=r"column 'nickname'.*key 'subject' uses the variable 'nickname'.*"
                                            r"nothing was sent"):
        send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    assert server.raw == []


def test_an_empty_cell_used_by_the_template_is_an_error_for_that_row(ws_path, server, tmp_path):
    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(5).copy()
    el["company_name"] = el["company_name"].astype(object)
    el.loc[2, "company_name"] = None
    with pytest.raises(MofInputError, match=r"'company_name' is undefined .* row 3"):
        send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    assert server.raw == []


def test_global_holdout_and_control_arm_are_never_emailed(ws_path, server, tmp_path):
    el = eligible_contacts(ws_path).head(20)
    gh_company = el.company_id.iloc[0]
    with Workspace(ws_path) as ws:
        ws.write("assignments", pd.DataFrame({"experiment_id": ["global_holdout"], "company_id": [gh_company],
                                              "arm": ["holdout"], "assigned_at": ["2026-01-01T00:00:00Z"]}),
                 mode="append")
    spec_path = write_campaign(tmp_path / "c")
    r = send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    n_gh = int((el.company_id == gh_company).sum())
    assert r.skipped == {"holdout": n_gh} and r.sent == 20 - n_gh
    assert not set(server.recipients()) & set(el.loc[el.company_id == gh_company, "email"])
    # a spec that asks for the control arm is refused before anything happens
    bad = write_campaign(tmp_path / "bad", arms=["holdout"])
    with pytest.raises(MofConfigError, match="control arm and is never emailed"):
        send_campaign(bad, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "l2.sqlite")


def test_frequency_cap_counts_sends_of_other_campaigns(ws_path, server, tmp_path):
    el = eligible_contacts(ws_path).head(10)
    ledger = tmp_path / "l.sqlite"
    first = write_campaign(tmp_path / "a", campaign_id="first", frequency_cap={"max_emails": 1, "days": 7})
    send_campaign(first, el.head(4), backend=server.url, workspace=ws_path, ledger=ledger)
    second = write_campaign(tmp_path / "b", campaign_id="second", frequency_cap={"max_emails": 1, "days": 7})
    r = send_campaign(second, el, backend=server.url, workspace=ws_path, ledger=ledger)
    assert r.skipped == {"frequency_cap": 4} and r.sent == 6
    # a separate ledger still sees the workspace's email_events 'sent' rows
    third = write_campaign(tmp_path / "c", campaign_id="third", frequency_cap={"max_emails": 1, "days": 7})
    r3 = send_campaign(third, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "other.sqlite")
    assert r3.skipped == {"frequency_cap": 10} and r3.sent == 0
    # outside the window they do not count
    later = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=8)
    r4 = send_campaign(third, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "other.sqlite",
                       now=later.to_pydatetime())
    assert r4.skipped == {} and r4.sent == 10
    assert len(server.raw) == 4 + 6 + 10


def test_mbox_backend_writes_messages_and_dry_run_writes_nothing(ws_path, tmp_path):
    import mailbox

    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(3)
    ledger = tmp_path / "l.sqlite"
    dry = send_campaign(spec_path, el, backend="dry-run", workspace=ws_path, ledger=ledger)
    assert dry.dry_run and dry.sent == 3 and not ledger.exists()
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in dry.preview
    box = tmp_path / "out.mbox"
    r = send_campaign(spec_path, el, backend=f"mbox:{box}", workspace=ws_path, ledger=ledger)
    assert r.sent == 3
    assert sorted(m["To"] for m in mailbox.mbox(str(box))) == sorted(el.email)


def test_cli_send_exit_status_and_summary(ws_path, server, tmp_path, capsys):
    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(3)
    cohort = tmp_path / "cohort.csv"
    el[["contact_id", "email", "company_name", "persona"]].to_csv(cohort, index=False)
    server.script[el.email.iloc[0]] = ["550 5.1.1 no such user"]
    args = ["send", str(spec_path), "--cohort", str(cohort), "--backend", server.url, "-w", str(ws_path),
            "--ledger", str(tmp_path / "l.sqlite"), "-q"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert re.search(r"sent +2\n", out) and re.search(r"failed_permanent +1\n", out)
    assert main(args) == 0
    assert main(args[:-1] + ["--resolve-ambiguous", "maybe"]) == 2


def test_smtp_password_is_never_printed(ws_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOF_SMTP_USER", "bob")
    monkeypatch.setenv("MOF_SMTP_PASSWORD", "s3cret-pa55")
    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(2)
    cohort = tmp_path / "cohort.csv"
    el[["contact_id", "email", "company_name", "persona"]].to_csv(cohort, index=False)
    # aiosmtpd without AUTH: login fails; the error must not contain the password
    with LocalSMTPServer() as s:
        rc = main(["send", str(spec_path), "--cohort", str(cohort), "--backend", s.url, "-w", str(ws_path),
                   "--ledger", str(tmp_path / "l.sqlite"), "-q"])
    cap = capsys.readouterr()
    assert rc == 1 and "s3cret" not in cap.out + cap.err
    assert "stopped:" in cap.out


@pytest.mark.parametrize("override, message", [
    ({"subject": "Hi\nBcc: x@example.com"}, "line breaks are not allowed"),
    ({"from": "not an address"}, "key 'from': not a valid address"),
    ({"unsubscribe": {"url": "http://insecure.example.com/u"}}, "must be an https URL"),
    ({"postal_address": None}, "key 'postal_address': required key missing"),
    ({"frequency_cap": {"max_emails": 0, "days": 7}}, "frequency_cap.max_emails"),
    ({"templates": {"text": "missing.j2"}}, "template file not found"),
    ({"campaign_id": "has space"}, "key 'campaign_id': expected an identifier"),
    ({"colour": "blue"}, "key 'colour': unknown key"),
])
def test_campaign_spec_errors_name_the_file_and_key(tmp_path, override, message):
    path = write_campaign(tmp_path / "c", **override)
    with pytest.raises(MofConfigError, match=message):
        load_spec(path)


def test_example_campaign_loads():
    spec = load_spec(Path(__file__).resolve().parents[1] / "campaigns" / "case_study_pm.yaml")
    assert (spec.zone, spec.topic, spec.arms) == ("case_study", "driving_adoption", ("email",))


def test_ambiguous_row_is_reported_not_resent_until_a_decision(ws_path, server, tmp_path):
    from mof_experiments.send.ledger import Ledger

    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(3)
    ledger = tmp_path / "l.sqlite"
    with Ledger(ledger) as led:   # as if a run died between 'sending' and the server's reply
        led.plan(CAMPAIGN, [{"contact_id": el.contact_id[0], "company_id": el.company_id[0], "email": el.email[0],
                             "message_id": "m@x", "state": "queued", "reason": None}])
        led.mark_sending(CAMPAIGN, el.contact_id[0])
    r = send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=ledger)
    assert r.ambiguous == (el.contact_id[0],) and r.sent == 2 and not r.ok
    assert "--resolve-ambiguous resend|skip" in str(r)
    assert el.email[0] not in server.recipients()
    r2 = send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=ledger, resolve_ambiguous="skip")
    assert r2.ok and r2.skipped == {"ambiguous_skipped": 1} and r2.sent == 0
    assert ledger_states(ledger)[el.contact_id[0]] == "skipped:ambiguous_skipped"
    assert el.email[0] not in server.recipients()


def test_starttls_required_but_not_offered_stops_before_any_send(ws_path, server, tmp_path):
    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(2)
    ledger = tmp_path / "l.sqlite"
    r = send_campaign(spec_path, el, backend=server.url + "?starttls=require", workspace=ws_path, ledger=ledger)
    assert r.sent == 0 and "does not offer STARTTLS" in r.error and server.raw == []
    assert set(ledger_states(ledger).values()) == {"queued"}
    with pytest.raises(MofConfigError, match="MOF_SMTP_USER"):
        send_campaign(spec_path, el, backend="smtp://bob:pw@127.0.0.1:25", workspace=ws_path, ledger=ledger)


def test_a_second_run_on_the_same_ledger_is_refused_while_one_is_running(ws_path, tmp_path):
    from mof_experiments.send.ledger import LedgerLock

    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(2)
    ledger = tmp_path / "l.sqlite"
    with LedgerLock(ledger):
        with pytest.raises(MofConfigError, match="another `mof send` is using this ledger"):
            send_campaign(spec_path, el, backend=f"mbox:{tmp_path / 'o.mbox'}", workspace=ws_path, ledger=ledger)
    assert send_campaign(spec_path, el, backend=f"mbox:{tmp_path / 'o.mbox'}", workspace=ws_path,
                         ledger=ledger).sent == 2


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (openssl CLI), trusted through SSL_CERT_FILE."""
    import subprocess

    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem"), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


# aiosmtpd warns about AUTH without STARTTLS on an implicit-TLS server (the connection is TLS
# from the first byte) and about its own deprecated Session.login_data
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
def test_tls_is_used_and_credentials_come_from_the_environment(ws_path, tmp_path, tls_cert, monkeypatch, implicit):
    import ssl

    cert, key = tls_cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))          # the client verifies the server certificate
    monkeypatch.setenv("MOF_SMTP_USER", "mof")
    monkeypatch.setenv("MOF_SMTP_PASSWORD", "pa55word")
    spec_path = write_campaign(tmp_path / "c")
    el = eligible_contacts(ws_path).head(3)
    with LocalSMTPServer(tls_context=ctx, implicit_tls=implicit, credentials={"mof": "pa55word"}) as s:
        r = send_campaign(spec_path, el, backend=s.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
        assert r.sent == 3 and r.ok, str(r)
        assert s.sessions == [{"tls": True, "user": "mof"}] * 3
        # a wrong password: nothing sent, the run stops with an error that does not echo the password
        monkeypatch.setenv("MOF_SMTP_PASSWORD", "wrong-secret")
        other = write_campaign(tmp_path / "c2", campaign_id="other")
        r2 = send_campaign(other, el, backend=s.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    assert r2.sent == 0 and "authentication failed" in r2.error and "wrong-secret" not in str(r2)


def test_rate_limit_spaces_the_sends(ws_path, server, tmp_path):
    spec_path = write_campaign(tmp_path / "c", rate_limit_per_second=25)
    el = eligible_contacts(ws_path).head(6)
    r = send_campaign(spec_path, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    assert r.sent == 6 and r.send_seconds >= 5 / 25


def test_non_ascii_names_round_trip_in_subject_body_and_display_name(ws_path, server, tmp_path):
    spec_path = write_campaign(tmp_path / "c")
    row = eligible_contacts(ws_path).iloc[0]
    name = "Zoë Ångström-Müller"
    cohort = pd.DataFrame([{"contact_id": row.contact_id, "email": row.email, "company_name": "Café Zürich",
                            "persona": "PM", "name": name}])
    send_campaign(spec_path, cohort, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    m = server.messages[0]
    assert m["Subject"] == "A case study for Café Zürich"
    assert m["To"].addresses[0].display_name == name
    text = m.get_body(("plain",)).get_content().replace("\r\n", "\n")  # SMTP wire format is CRLF
    assert text.startswith("Hello Café Zürich team (PM),\nread the case study.\n")
    assert "<b>Café Zürich</b>" in m.get_body(("html",)).get_content()
    assert all(b < 128 for b in server.raw[0][2])  # 7-bit clean on the wire (QP / RFC 2047)
