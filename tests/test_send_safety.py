"""`mof send` is safe by default (issue 13): the workspace decides who is emailed and at which
address, a decision in the ledger is final until changed explicitly, a lost ledger does not
resend what the workspace records as sent, and every failure is a one-line error that says
what happened."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from mof_experiments.cli import main
from mof_experiments.errors import MofConfigError, MofInputError
from mof_experiments.send import send_campaign
from mof_experiments.send.ledger import Ledger, LedgerLock
from mof_experiments.send.testing import LocalSMTPServer
from mof_experiments.workspace import Workspace
from helpers import (CAMPAIGN, eligible_contacts, hold_workspace, ledger_states, simulate_with_global_holdout,
                          write_campaign)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def safety_base(tmp_path_factory) -> Path:
    """300 simulated companies; 3 companies of the email arm also in the global holdout."""
    path = tmp_path_factory.mktemp("safety_ws") / "mof.duckdb"
    return simulate_with_global_holdout(path, companies=300, seed=31, holdout_companies=3)


@pytest.fixture()
def ws_path(safety_base, tmp_path) -> Path:
    dst = tmp_path / "mof.duckdb"
    shutil.copy(safety_base, dst)
    return dst


@pytest.fixture()
def server():
    with LocalSMTPServer() as s:
        yield s


def sendable(path) -> pd.DataFrame:
    """Email-arm contacts, not unsubscribed, not in the global holdout (from the tables)."""
    with Workspace(path, read_only=True) as ws:
        asg = ws.read("assignments")
    gh = set(asg.loc[asg.experiment_id == "global_holdout", "company_id"])
    el = eligible_contacts(path)
    return el[~el.company_id.isin(gh)].reset_index(drop=True)


def forbidden(path) -> dict[str, pd.Series]:
    """One contact row of each kind that must never be emailed."""
    with Workspace(path, read_only=True) as ws:
        contacts, asg = ws.read("contacts"), ws.read("assignments")
    control = set(asg.loc[(asg.experiment_id == "mof_email_2026") & (asg.arm == "holdout"), "company_id"])
    gh = set(asg.loc[asg.experiment_id == "global_holdout", "company_id"])
    live = contacts[contacts.unsubscribed_at.isna()]
    return {"unsubscribed": contacts[contacts.unsubscribed_at.notna()].iloc[0],
            "control": live[live.company_id.isin(control)].iloc[0],
            "global_holdout": live[live.company_id.isin(gh)].iloc[0]}


def make_ambiguous(ledger: Path, row) -> None:
    """As if a run died between committing 'sending' and the server's reply."""
    with Ledger(ledger) as led:
        led.plan(CAMPAIGN, [{"contact_id": row.contact_id, "company_id": row.company_id, "email": row.email,
                             "message_id": "m@x", "state": "queued", "reason": None}])
        led.mark_sending(CAMPAIGN, row.contact_id)


# -- item 1: a skip decision is final --------------------------------------------------------
def test_a_skip_decision_is_final_until_resend_is_given_explicitly(ws_path, server, tmp_path):
    spec = write_campaign(tmp_path / "c")
    el = sendable(ws_path).head(4)
    ledger = tmp_path / "l.sqlite"
    make_ambiguous(ledger, el.iloc[0])
    r1 = send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=ledger, resolve_ambiguous="skip")
    assert r1.sent == 3 and r1.skipped == {"ambiguous_skipped": 1} and r1.ok
    for _ in range(2):  # plain runs after the decision: the skipped row is never planned again
        r = send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=ledger)
        assert (r.sent, r.already_done, r.skipped, r.ambiguous) == (0, 3, {"ambiguous_skipped": 1}, ())
        assert "final until --resolve-ambiguous resend" in str(r)
    assert el.email[0] not in server.recipients()
    assert ledger_states(ledger)[el.contact_id[0]] == "skipped:ambiguous_skipped"
    # only an explicit resend changes the decision, and the override is printed
    r = send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=ledger, resolve_ambiguous="resend")
    assert (r.sent, r.resent_ambiguous) == (1, 1) and "OVERRIDE --resolve-ambiguous resend: 1 messages" in str(r)
    assert sorted(server.recipients()) == sorted(el.email)


# -- item 2: the workspace supplies the address ----------------------------------------------
@pytest.mark.parametrize("kind", ["unsubscribed", "control", "global_holdout", "outside"])
def test_a_cohort_email_that_is_not_the_contacts_is_refused_naming_the_row(ws_path, server, tmp_path, kind):
    spec = write_campaign(tmp_path / "c")
    el = sendable(ws_path).head(4)[["contact_id", "email", "company_name", "persona"]].copy()
    victim = "someone@elsewhere.example.org" if kind == "outside" else forbidden(ws_path)[kind].email
    el.loc[2, "email"] = victim   # an eligible contact_id paired with another person's address
    cohort = tmp_path / "cohort.csv"
    el.to_csv(cohort, index=False)
    ledger = tmp_path / "l.sqlite"
    with pytest.raises(MofInputError, match=r"column 'email': this address is not the contact's address in the "
                                            r"workspace.*nothing was sent.*row 3"):
        send_campaign(spec, cohort, backend=server.url, workspace=ws_path, ledger=ledger)
    assert server.rcpt_log == [] and ledger_states(ledger) == {}


def test_without_an_email_column_every_address_comes_from_the_workspace(ws_path, server, tmp_path):
    spec = write_campaign(tmp_path / "c")
    el = sendable(ws_path).head(5)
    bad = forbidden(ws_path)
    ids = list(el.contact_id) + [b.contact_id for b in bad.values()]
    r = send_campaign(spec, pd.DataFrame({"contact_id": ids}), backend=server.url, workspace=ws_path,
                      ledger=tmp_path / "l.sqlite")
    assert r.sent == 5 and r.skipped == {"suppressed": 1, "control": 1, "holdout": 1}
    assert sorted(server.recipients()) == sorted(el.email)
    # company_name and persona came from the workspace (companies.name, personas)
    by = {m["To"].addresses[0].addr_spec: m for m in server.messages}
    for row in el.itertuples():
        assert by[row.email]["Subject"] == f"A case study for {row.company_name}"
        assert f"({row.persona})" in by[row.email].get_body(("plain",)).get_content()


# -- item 3 (send side): a control arm of another experiment is never emailed -----------------
def test_a_company_in_a_control_arm_of_any_experiment_is_not_emailed(ws_path, server, tmp_path):
    el = sendable(ws_path).head(6)
    with Workspace(ws_path) as ws:
        ws.write("experiment_arms", pd.DataFrame({"experiment_id": "other_test", "arm": ["control", "b"],
                                                  "weight": [0.5, 0.5], "is_control": [True, False]}), mode="append")
        ws.write("assignments", pd.DataFrame({"experiment_id": "other_test", "company_id": [el.company_id[0]],
                                              "arm": ["control"], "assigned_at": [pd.Timestamp("2026-02-01", tz="UTC")]}),
                 mode="append")
    spec = write_campaign(tmp_path / "c")
    r = send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    n = int((el.company_id == el.company_id[0]).sum())
    assert r.skipped == {"control": n} and r.sent == 6 - n
    assert el.email[0] not in server.recipients()


# -- item 4: a lost ledger ---------------------------------------------------------------------
@pytest.mark.slow
def test_a_lost_ledger_does_not_resend_what_the_workspace_records_as_sent(ws_path, server, tmp_path):
    spec = write_campaign(tmp_path / "c")
    el = sendable(ws_path).head(12)
    ledger = tmp_path / "l.sqlite"
    assert send_campaign(spec, el.head(8), backend=server.url, workspace=ws_path, ledger=ledger).sent == 8
    for f in tmp_path.glob("l.sqlite*"):
        f.unlink()   # the ledger is lost (or a new one is given with --ledger)
    r = send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=ledger)
    assert r.sent == 4 and len(server.rcpt_log) == 12    # only the 4 never sent
    assert (r.already_done, r.from_workspace) == (8, 8) and r.ok
    assert "known only from the workspace's email_events" in str(r)
    assert len(server.rcpt_log) == 12 and sorted(server.recipients()) == sorted(el.email)
    st = ledger_states(ledger)
    assert sorted(k for k, v in st.items() if v == "sent:workspace_record") == sorted(el.contact_id.head(8))
    r2 = send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=ledger)
    assert (r2.sent, r2.already_done, r2.from_workspace) == (0, 12, 0)
    with Workspace(ws_path, read_only=True) as ws:
        ev = ws.read("email_events")
    assert sorted(ev.loc[(ev.campaign_id == CAMPAIGN) & (ev.event == "sent"), "contact_id"]) == sorted(el.contact_id)


# -- item 6: the List-Unsubscribe URL is URL-encoded -----------------------------------------
def test_an_id_with_url_and_header_characters_cannot_change_the_unsubscribe_header(ws_path, server, tmp_path):
    weird = "k>, <https://evil.example.com/x>&u=other é"
    row = sendable(ws_path).iloc[0]
    with Workspace(ws_path) as ws:
        ws.write("contacts", pd.DataFrame({"contact_id": [weird], "company_id": [row.company_id],
                                           "email": ["weird.id@acme-1.example.com"], "job_title": ["PM"],
                                           "unsubscribed_at": [pd.NaT]}), mode="append")
        ws.write("personas", pd.DataFrame({"contact_id": [weird], "persona": ["PM"], "confidence": [1.0],
                                           "rule": ["test"]}), mode="append")
    spec = write_campaign(tmp_path / "c")
    r = send_campaign(spec, pd.DataFrame({"contact_id": [weird], "email": ["weird.id@acme-1.example.com"],
                                             "company_name": ["Acme"], "persona": ["PM"]}),
                      backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    assert r.sent == 1
    raw = server.raw[0][2].decode("ascii")
    header = [ln for ln in raw.split("\r\n") if ln.startswith("List-Unsubscribe:")][0]
    assert "=?" not in header                                  # not an encoded word
    uris = header[len("List-Unsubscribe:"):].strip().split(", ")
    assert len(uris) == 2 and uris[1] == "<mailto:unsubscribe@acme-api.example.com?subject=unsubscribe>"
    url = uris[0][1:-1]
    assert uris[0][0] == "<" and uris[0][-1] == ">" and "<" not in url and ">" not in url and " " not in url
    q = parse_qs(urlsplit(url).query)
    assert q["u"] == [weird] and q["c"] == [CAMPAIGN] and len(q["t"]) == 1   # one u, decoded exactly


# -- item 9: the ledger lock follows symlinks ---------------------------------------------------
def test_a_symlink_to_the_ledger_takes_the_same_lock(ws_path, tmp_path):
    spec = write_campaign(tmp_path / "c")
    el = sendable(ws_path).head(2)
    real = tmp_path / "real" / "ledger.sqlite"
    real.parent.mkdir()
    Ledger(real).close()
    link = tmp_path / "link.sqlite"
    link.symlink_to(real)
    with LedgerLock(real):
        with pytest.raises(MofConfigError, match="another `mof send` is using this ledger"):
            send_campaign(spec, el, backend=f"mbox:{tmp_path / 'o.mbox'}", workspace=ws_path, ledger=link)
    assert not (tmp_path / "o.mbox").exists()


# -- item 11: a template that fails at run time ------------------------------------------------
@pytest.mark.parametrize("expr, kind", [("{{ range(10000000)|length }}", "OverflowError"),
                                        ("{{ 1 / 0 }}", "ZeroDivisionError")])
@pytest.mark.slow
def test_a_template_that_fails_at_run_time_is_a_one_line_error(ws_path, tmp_path, expr, kind):
    spec = write_campaign(tmp_path / "c")
    (tmp_path / "c" / "t.txt.j2").write_text(f"Hi {expr}\n{{{{ unsubscribe_url }}}}\n", encoding="utf-8")
    el = sendable(ws_path).head(2)
    cohort = tmp_path / "cohort.csv"
    el[["contact_id", "email"]].to_csv(cohort, index=False)
    p = subprocess.run([sys.executable, "-m", "mof_experiments.send", str(spec), "--cohort", str(cohort),
                        "--backend", "dry-run", "-w", str(ws_path), "--ledger", str(tmp_path / "l.sqlite")],
                       capture_output=True, text=True)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert lines[0].startswith("mof: error: ") and kind in lines[0] and "row 1" in lines[0]


# -- item 12: U+2028 in a subject variable names that variable ---------------------------------
@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85"])
def test_a_unicode_line_separator_in_a_subject_variable_names_that_column(ws_path, server, tmp_path, sep):
    spec = write_campaign(tmp_path / "c")
    el = sendable(ws_path).head(3)[["contact_id", "company_name", "persona"]].copy()
    el.loc[1, "company_name"] = f"Acme{sep}Bcc: victim@example.com"
    with pytest.raises(MofInputError, match=r"column 'company_name': rendered subject: Unicode line or paragraph "
                                            r"separator .* row 2"):
        send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    assert server.rcpt_log == []


# -- item 13: address syntax by email-validator ------------------------------------------------
def test_invalid_addresses_are_skipped_and_an_international_domain_is_sent_as_punycode(ws_path, server, tmp_path):
    row = sendable(ws_path).iloc[0]
    new = pd.DataFrame({"contact_id": ["dot1", "dot2", "idn1"], "company_id": row.company_id,
                        "email": [".dot@example.com", "dot..dot@example.com", "ana@bücher.example"],
                        "job_title": "PM", "unsubscribed_at": pd.NaT})
    with Workspace(ws_path) as ws:   # written directly: an older workspace, or a CRM sync that skipped ingest
        ws.write("contacts", new, mode="append")
        ws.write("personas", pd.DataFrame({"contact_id": new.contact_id, "persona": "PM", "confidence": 1.0,
                                           "rule": "test"}), mode="append")
    spec = write_campaign(tmp_path / "c")
    r = send_campaign(spec, pd.DataFrame({"contact_id": ["dot1", "dot2", "idn1"]}), backend=server.url,
                      workspace=ws_path, ledger=tmp_path / "l.sqlite")
    assert r.skipped == {"invalid_address": 2} and r.sent == 1
    assert server.rcpt_log == ["ana@xn--bcher-kva.example"]


# -- item 14: a visible opt-out in every message ----------------------------------------------
def test_a_template_without_the_unsubscribe_link_gets_a_visible_one(ws_path, server, tmp_path):
    spec = write_campaign(tmp_path / "c")
    (tmp_path / "c" / "t.txt.j2").write_text("Hello {{ company_name }}\n", encoding="utf-8")
    (tmp_path / "c" / "t.html.j2").write_text("<p>Hello {{ company_name }}</p>", encoding="utf-8")
    el = sendable(ws_path).head(2)
    send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    for m in server.messages:
        url = m["List-Unsubscribe"].split(",")[0].strip()[1:-1]
        text = m.get_body(("plain",)).get_content()
        html = m.get_body(("html",)).get_content()
        assert f"Unsubscribe: {url}" in text
        assert f'<a href="{url.replace("&", "&amp;")}">Unsubscribe</a>' in html


# -- item 15: say what happened when only recording failed -------------------------------------
@pytest.mark.slow
def test_when_only_recording_fails_the_run_says_all_were_sent(ws_path, tmp_path, capfd, monkeypatch):
    spec = write_campaign(tmp_path / "c")
    el = sendable(ws_path).head(3)
    cohort = tmp_path / "cohort.csv"
    el[["contact_id"]].to_csv(cohort, index=False)
    monkeypatch.setenv("MOF_LOCK_TIMEOUT", "0.5")
    lockers = []

    def lock_workspace(server, envelope):   # another process takes the workspace during the send
        if not lockers:
            lockers.append(hold_workspace(ws_path, 60))

    args = ["send", str(spec), "--cohort", str(cohort), "-w", str(ws_path), "--ledger", str(tmp_path / "l.sqlite"),
            "-q"]
    try:
        with LocalSMTPServer(on_data=lock_workspace) as s:
            rc = main(args + ["--backend", s.url])
    finally:
        for p in lockers:
            p.kill()
            p.wait()
    out, err = capfd.readouterr()
    assert rc == 1 and len(s.raw) == 3
    assert "some messages failed" not in err
    assert "mof: all 3 messages of this run were sent, but recording in the workspace failed" in err
    assert "the next run records them" in err and "failed temporarily" not in err
    # the next run records them and sends nothing
    with LocalSMTPServer() as s2:
        assert main(args + ["--backend", s2.url]) == 0
    assert s2.raw == [] and "already_done" in capfd.readouterr().out
    with Workspace(ws_path, read_only=True) as ws:
        ev = ws.read("email_events")
    assert sorted(ev.loc[(ev.campaign_id == CAMPAIGN) & (ev.event == "sent"), "contact_id"]) == sorted(el.contact_id)


# -- item 17: the README's export -> send, and a missing variable named ------------------------
def test_the_readme_export_then_send_runs_with_the_default_columns(ws_path, tmp_path, capfd):
    cohort = tmp_path / "cohort.csv"
    assert main(["cohort", "export", "--stage", "sandbox", "--persona", "PM", "--out", str(cohort),
                 "-w", str(ws_path)]) == 0
    assert "company_name" in pd.read_csv(cohort).columns
    capfd.readouterr()
    rc = main(["send", str(ROOT / "campaigns" / "case_study_pm.yaml"), "--cohort", str(cohort), "--backend",
               "dry-run", "-w", str(ws_path), "--ledger", str(tmp_path / "l.sqlite")])
    out, err = capfd.readouterr()
    assert rc == 0, err
    assert "would_send" in out


def test_a_variable_no_cohort_column_or_workspace_field_provides_is_named_before_any_send(ws_path, server, tmp_path):
    spec = write_campaign(tmp_path / "c")
    (tmp_path / "c" / "t.html.j2").write_text("<p>{{ company_name }} on the {{ plan_tier }} plan</p>", encoding="utf-8")
    el = sendable(ws_path).head(3)[["contact_id", "email"]]
    with pytest.raises(MofInputError, match=r"column 'plan_tier': .*t\.html\.j2 uses the variable 'plan_tier'.*"
                                            r"nothing was sent"):
        send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")
    assert server.rcpt_log == []


def test_an_undefined_value_names_the_variable_not_contact_id(ws_path, server, tmp_path):
    spec = write_campaign(tmp_path / "c")
    el = sendable(ws_path).head(3)[["contact_id", "company_name", "persona"]].copy()
    el["company_name"] = el["company_name"].astype(object)
    el.loc[1, "company_name"] = None
    with pytest.raises(MofInputError, match=r"column 'company_name': template error .*'company_name' is undefined"
                                            r".* row 2"):
        send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "l.sqlite")


def test_a_lost_ledger_resends_only_what_no_completed_run_recorded(ws_path, server, tmp_path):
    """The limit docs/send.md states: the workspace learns of a send at the end of a run
    (phase 4). Sends of a run that never recorded (here record=False, as when a run is killed
    or the workspace stays locked) are known only to the ledger: if it is lost too, they go
    out again; everything recorded does not."""
    spec = write_campaign(tmp_path / "c")
    el = sendable(ws_path).head(6)
    ledger = tmp_path / "l.sqlite"
    send_campaign(spec, el.head(3), backend=server.url, workspace=ws_path, ledger=ledger)
    send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=ledger, record=False)
    for f in tmp_path.glob("l.sqlite*"):
        f.unlink()
    r = send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=ledger)
    assert (r.from_workspace, r.sent) == (3, 3)
    again = [e for e in server.recipients() if server.recipients().count(e) == 2]
    assert sorted(set(again)) == sorted(el.email.iloc[3:])


@pytest.mark.parametrize("loader, what", [("send", "campaign spec"), ("program", "program spec"), ("plan", "plan file")])
def test_settings_files_that_are_missing_not_utf8_or_not_yaml_are_one_line_errors(tmp_path, loader, what):
    from mof_experiments.content import load_plan
    from mof_experiments.errors import MofConfigError
    from mof_experiments.programs import load_program
    from mof_experiments.send import load_spec

    load = {"send": load_spec, "program": load_program, "plan": load_plan}[loader]
    bad = tmp_path / "x.yaml"
    with pytest.raises(MofConfigError, match=f"x.yaml: {what} not found"):
        load(bad)
    bad.write_bytes(b"subject: caf\xe9\n")          # Latin-1, not UTF-8
    with pytest.raises(MofConfigError, match=f"x.yaml: {what} is not UTF-8 text"):
        load(bad)
    bad.write_text("subject: [unclosed\n", encoding="utf-8")
    with pytest.raises(MofConfigError, match=f"x.yaml: {what} is not valid YAML"):
        load(bad)


@pytest.mark.slow
# -- two sends from one workspace at once, each with its own ledger ------------------------------
def test_a_second_send_from_the_same_workspace_is_refused_while_one_is_sending_even_with_another_ledger(
        ws_path, tmp_path):
    """Two ledgers cannot see each other's rows and the workspace records ``sent`` events only at
    the end of a run: without a workspace lock both runs email every contact (found by trying it)."""
    import threading
    import time

    spec = write_campaign(tmp_path / "c")
    el = sendable(ws_path).head(6)
    first = {}
    with LocalSMTPServer(delay=0.3) as server:
        t = threading.Thread(target=lambda: first.update(r=send_campaign(
            spec, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "a.sqlite", backoff_seconds=0)))
        t.start()
        deadline = time.monotonic() + 30
        while not server.messages and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.messages and t.is_alive()  # the first run is mid-way
        with pytest.raises(MofConfigError, match="another `mof send` is sending from this workspace"):
            send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "b.sqlite")
        t.join()
        # once the first is done, the other ledger finds every message in the workspace: nothing twice
        second = send_campaign(spec, el, backend=server.url, workspace=ws_path, ledger=tmp_path / "b.sqlite")
        got = server.recipients()
    assert first["r"].sent == 6 and second.sent == 0 and second.already_done == 6
    assert sorted(got) == sorted(el["email"].str.lower()) and len(got) == 6
