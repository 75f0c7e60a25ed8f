"""Send back-ends: a small registry (the pattern of papermill's engines).

``get_backend("smtp://127.0.0.1:8025")`` returns an unopened back-end for a URL:

==================  ====================================================================
``smtp://H:P``      SMTP; STARTTLS when the server offers it (``?starttls=require|never``)
``smtps://H:P``     SMTP over TLS (implicit, port 465 by default)
``mbox:PATH``       append to a Unix mbox file (for review or a local mail client)
``dry-run``         render and plan only; nothing is sent and nothing is written
==================  ====================================================================

SMTP credentials come only from the environment, ``MOF_SMTP_USER`` and ``MOF_SMTP_PASSWORD``,
and are never logged or echoed. Other back-ends can register themselves with
:func:`register_backend` or through the entry-point group ``mof_experiments.send_backends``.

A back-end's :meth:`send` returns a :class:`Outcome`: ``ok``, ``temporary`` (4xx, or the
connection failed *before* DATA: certainly not delivered), ``permanent`` (5xx). When the
connection breaks *during* DATA the outcome is unknown and :class:`AmbiguousDelivery` is
raised: the dispatcher leaves the ledger row in ``sending`` for a human decision.
"""

from __future__ import annotations

import mailbox
import os
import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from mof_experiments.errors import MofConfigError

USER_ENV, PASSWORD_ENV = "MOF_SMTP_USER", "MOF_SMTP_PASSWORD"
_REGISTRY: dict[str, type] = {}


class AmbiguousDelivery(Exception):
    """The connection failed during DATA: the server may or may not have accepted the message."""


class BackendUnavailable(Exception):
    """The back-end cannot be reached at all (nothing was attempted)."""


@dataclass(frozen=True)
class Outcome:
    status: str  # ok | temporary | permanent
    code: int | None = None
    message: str = ""


def register_backend(*schemes: str):
    """Class decorator: ``@register_backend("smtp", "smtps")``."""
    def deco(cls):
        for s in schemes:
            _REGISTRY[s] = cls
        return cls
    return deco


def available_backends() -> list[str]:
    _load_entry_points()
    return sorted(_REGISTRY)


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group="mof_experiments.send_backends"):
        if ep.name not in _REGISTRY:
            _REGISTRY[ep.name] = ep.load()


def get_backend(url: str):
    """Back-end instance for ``url`` (not yet opened)."""
    if url == "dry-run":
        return DryRunBackend(url)
    scheme = url.split(":", 1)[0] if ":" in url else url
    if scheme not in _REGISTRY:
        _load_entry_points()
    if scheme not in _REGISTRY:
        raise MofConfigError(f"unknown --backend {url!r} (use smtp://HOST:PORT, smtps://HOST:PORT, mbox:PATH "
                             f"or dry-run; registered: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[scheme](url)


class Backend:
    """Interface: ``open()``, ``send(msg, from_addr, to_addr) -> Outcome``, ``close()``."""

    dry_run = False

    def __init__(self, url: str):
        self.url = url

    def open(self) -> None:
        pass

    def send(self, msg, from_addr: str, to_addr: str) -> Outcome:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return self.url


@register_backend("dry-run")
class DryRunBackend(Backend):
    dry_run = True

    def send(self, msg, from_addr, to_addr) -> Outcome:
        return Outcome("ok", 250, "dry run")


@register_backend("mbox")
class MboxBackend(Backend):
    def __init__(self, url: str):
        super().__init__(url)
        self.path = url.split(":", 1)[1]
        if not self.path:
            raise MofConfigError("--backend mbox:PATH needs a file path")
        self._box = None

    def open(self) -> None:
        self._box = mailbox.mbox(self.path, create=True)

    def send(self, msg, from_addr, to_addr) -> Outcome:
        self._box.lock()
        try:
            self._box.add(msg)
            self._box.flush()
        finally:
            self._box.unlock()
        return Outcome("ok", 250, "appended")

    def close(self) -> None:
        if self._box is not None:
            self._box.close()
            self._box = None


@register_backend("smtp", "smtps")
class SmtpBackend(Backend):
    """SMTP client. The transaction is done step by step (MAIL, RCPT, DATA) so that a broken
    connection before DATA (not delivered: retry) is told apart from one during DATA
    (ambiguous)."""

    def __init__(self, url: str):
        super().__init__(url)
        u = urlsplit(url)
        self.ssl = u.scheme == "smtps"
        self.host = u.hostname or "localhost"
        try:
            self.port = u.port or (465 if self.ssl else 25)
        except ValueError:
            raise MofConfigError(f"bad port in --backend {url!r}") from None
        if u.username or u.password:
            raise MofConfigError("put SMTP credentials in MOF_SMTP_USER / MOF_SMTP_PASSWORD, not in the URL")
        q = parse_qs(u.query)
        self.starttls = q.get("starttls", ["auto"])[0]
        if self.starttls not in ("auto", "require", "never"):
            raise MofConfigError("starttls must be auto, require or never")
        self.timeout = float(q.get("timeout", ["30"])[0])
        self._smtp = None

    def describe(self) -> str:
        return f"{'smtps' if self.ssl else 'smtp'}://{self.host}:{self.port}"

    def open(self) -> None:
        try:
            if self.ssl:
                s = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                     context=ssl.create_default_context())
            else:
                s = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            s.ehlo()
            if not self.ssl and self.starttls != "never":
                if s.has_extn("starttls"):
                    s.starttls(context=ssl.create_default_context())
                    s.ehlo()
                elif self.starttls == "require":
                    s.close()
                    raise BackendUnavailable(f"{self.describe()} does not offer STARTTLS")
            user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
            if user:
                s.login(user, password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise BackendUnavailable(f"{self.describe()}: authentication failed ({exc.smtp_code})") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise BackendUnavailable(f"cannot connect to {self.describe()}: {type(exc).__name__}: "
                                     f"{' '.join(str(exc).split())[:200]}") from None
        self._smtp = s

    def send(self, msg, from_addr: str, to_addr: str) -> Outcome:
        if self._smtp is None:
            self.open()
        s = self._smtp
        try:
            code, resp = s.mail(from_addr)
            if code != 250:
                return self._reply(code, resp)
            code, resp = s.rcpt(to_addr)
            if code not in (250, 251):
                return self._reply(code, resp)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            return Outcome("temporary", None, f"connection lost before DATA: {type(exc).__name__}")
        data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
        try:
            code, resp = s.data(data)
        except smtplib.SMTPDataError as exc:
            return self._reply(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise AmbiguousDelivery(f"connection lost during DATA: {type(exc).__name__}") from None
        if code == 250:
            return Outcome("ok", code, _text(resp))
        return self._reply(code, resp)

    def _reply(self, code, resp) -> Outcome:
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()
        status = "permanent" if code is not None and 500 <= code < 600 else "temporary"
        return Outcome(status, code, _text(resp))

    def _drop(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.close()
        finally:
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()


def _text(resp) -> str:
    if isinstance(resp, bytes):
        resp = resp.decode("utf-8", "replace")
    return " ".join(str(resp).split())[:200]


__all__ = ["get_backend", "register_backend", "available_backends", "Backend", "Outcome", "SmtpBackend",
           "MboxBackend", "DryRunBackend", "AmbiguousDelivery", "BackendUnavailable"]
