"""A local SMTP server for tests, benchmarks and rehearsals (needs the ``aiosmtpd`` test extra).

>>> with LocalSMTPServer() as server:                                     # doctest: +SKIP
...     send_campaign(spec, cohort, backend=server.url, workspace=ws)
...     server.messages[0]["Message-ID"]

Replies can be scripted per recipient: ``server.script["a@x.com"] = ["451 4.3.0 try again"]``
answers 451 to the first RCPT for that address and accepts the next; ``["550 5.1.1 no such
user"] * 99`` refuses it every time. ``delay`` (seconds) is slept in DATA before answering,
and ``on_data(server, envelope)`` is called after a message is recorded and before the reply
(the crash-safety tests kill the client there). ``server.cut_in_data.add("a@x.com")`` drops the
connection inside DATA for that recipient, once, after the message was stored and before any
reply: the client cannot know whether it was accepted (an ambiguous delivery).

TLS: ``tls_context`` (an ``ssl.SSLContext`` with the server's certificate) makes the server
offer STARTTLS; ``implicit_tls=True`` serves TLS from the first byte (an ``smtps://`` server).
``credentials={"user": "password"}`` enables AUTH (only over TLS). ``server.sessions`` records,
per accepted message, whether it came over TLS and which user had logged in.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes, policy


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        s = self.server
        with s.lock:
            s.rcpt_log.append(address)
            replies = s.script.get(address)
            reply = replies.pop(0) if replies else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        s = self.server
        with s.lock:
            s.raw.append((envelope.mail_from, tuple(envelope.rcpt_tos), envelope.content))
            login = getattr(session, "auth_data", None)
            tls = smtp.transport is not None and smtp.transport.get_extra_info("ssl_object") is not None
            s.sessions.append({"tls": tls,
                               "user": login.login.decode() if hasattr(login, "login") else None})
        if s.on_data is not None:
            s.on_data(s, envelope)
        with s.lock:
            cut = [r for r in envelope.rcpt_tos if r in s.cut_in_data]
            s.cut_in_data.difference_update(cut)
        if cut:
            smtp.transport.abort()  # no reply: the message is stored, the client sees a dropped connection
            return "421 connection cut"
        if s.delay:
            await asyncio.sleep(s.delay)
        return "250 Message accepted for delivery"


class LocalSMTPServer:
    """aiosmtpd ``Controller`` on 127.0.0.1 with a free port (or ``port``); records every accepted message."""

    def __init__(self, *, delay: float = 0.0, on_data=None, hostname: str = "127.0.0.1", tls_context=None,
                 implicit_tls: bool = False, credentials: dict | None = None, port: int | None = None):
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.credentials = credentials
        self.sessions: list[dict] = []
        self.delay = delay
        self.on_data = on_data
        self.hostname = hostname
        self.script: dict[str, list[str]] = {}
        self.cut_in_data: set[str] = set()
        self.raw: list[tuple] = []
        self.rcpt_log: list[str] = []
        self.lock = threading.Lock()
        self._controller = None
        self._port = port

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def url(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.hostname}:{self.port}"

    @property
    def messages(self):
        """Parsed messages (``email.message.EmailMessage``), in arrival order."""
        with self.lock:
            raw = list(self.raw)
        return [message_from_bytes(c, policy=policy.default) for _, _, c in raw]

    def recipients(self) -> list[str]:
        with self.lock:
            return [r for _, rc, _ in self.raw for r in rc]

    def start(self) -> "LocalSMTPServer":
        from aiosmtpd.controller import Controller

        port = self._port
        if port is None:
            with socket.socket() as s:
                s.bind((self.hostname, 0))
                port = s.getsockname()[1]
        kw = {}
        if self.implicit_tls:
            kw["ssl_context"] = self.tls_context
        elif self.tls_context is not None:
            kw["tls_context"] = self.tls_context
        if self.credentials is not None:
            from aiosmtpd.smtp import AuthResult

            creds = self.credentials

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = creds.get(auth_data.login.decode()) == auth_data.password.decode()
                return AuthResult(success=ok, handled=False, auth_data=auth_data)

            kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=not self.implicit_tls)
        self._controller = Controller(_Handler(self), hostname=self.hostname, port=port, **kw)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


__all__ = ["LocalSMTPServer"]
