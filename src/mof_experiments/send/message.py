"""Building the MIME message: ``email.message.EmailMessage``, deterministic Message-ID, RFC 8058.

Headers set: From, To, Reply-To (optional), Subject, Date, Message-ID, List-Unsubscribe
(``<https://...>, <mailto:...?subject=unsubscribe>``), List-Unsubscribe-Post
(``List-Unsubscribe=One-Click``, RFC 8058), X-MOF-Campaign and X-MOF-Contact (so ESP event
webhooks can be joined back). The text part (and the HTML part, as multipart/alternative) end
with a visible unsubscribe link and the campaign's physical postal address, each appended if
the template did not already include it: no message goes out without a visible opt-out.
"""

from __future__ import annotations

import hashlib
import re
from email import policy as _policy
from email.headerregistry import Address
from email.message import EmailMessage

_CTRL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: What ``str.splitlines`` also takes for a line end (NEL, LINE / PARAGRAPH SEPARATOR): a
#: header holding one is refused too, and the email package would refuse to fold it.
_UNICODE_BREAK_RE = re.compile("[\x85\u2028\u2029]")
#: RFC 5322 allows 998-character lines; folding a long List-Unsubscribe URL into encoded words
#: (what the 78-character default does) would make it unparseable for mailbox providers.
POLICY = _policy.default.clone(max_line_length=998)


def make_message_id(campaign_id: str, contact_id: str, domain: str) -> str:
    """Deterministic id (without angle brackets): first 32 hex of
    ``sha256(campaign_id + NUL + contact_id)`` ``@`` the sender's domain."""
    h = hashlib.sha256(f"{campaign_id}\x00{contact_id}".encode()).hexdigest()[:32]
    return f"{h}@{domain}"


def header_problem(value: str) -> str | None:
    """Why ``value`` may not go in a header (line break / control character), else None."""
    if value is None:
        return None
    if "\n" in value or "\r" in value:
        return "line break in a header value (header injection)"
    if _UNICODE_BREAK_RE.search(value):
        return "Unicode line or paragraph separator (U+0085/U+2028/U+2029) in a header value"
    if _CTRL_RE.search(value):
        return "control character in a header value"
    return None


class MessageBuilder:
    """Builds the messages of one campaign.

    Headers that are the same in every message (From, Reply-To, List-Unsubscribe-Post,
    X-MOF-Campaign, MIME-Version, the parts' Content-Type) are parsed once and reused: the
    ``email`` package's header parsing is most of the cost of a message. The default email
    policy still refuses a line break in every header that varies (a second line of defence
    after the dispatcher's own check).
    """

    def __init__(self, spec):
        self.spec = spec
        h = POLICY.header_factory
        self._const = [("From", h("From", str(spec.from_address)))]
        if spec.reply_to:
            self._const.append(("Reply-To", h("Reply-To", spec.reply_to)))
        self._post = [("List-Unsubscribe-Post", h("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")),
                      ("X-MOF-Campaign", h("X-MOF-Campaign", spec.campaign_id))]
        self._mime = h("MIME-Version", "1.0")
        self._ct = {sub: h("Content-Type", f'text/{sub}; charset="utf-8"') for sub in ("plain", "html")}
        self._cte = {c: h("Content-Transfer-Encoding", c) for c in ("7bit", "quoted-printable")}
        self.boundary = "==mof_" + hashlib.sha256(spec.campaign_id.encode()).hexdigest()[:24] + "=="
        self._alt = h("Content-Type", f'multipart/alternative; boundary="{self.boundary}"')
        self._mailto = None
        if spec.unsubscribe_mailto:
            from email.utils import parseaddr

            self._mailto = f"<mailto:{parseaddr(spec.unsubscribe_mailto)[1]}?subject=unsubscribe>"
        self._postal_html = _html_escape(spec.postal_address)

    def _part(self, body: str, subtype: str, into: EmailMessage | None = None) -> EmailMessage:
        import quopri

        p = into if into is not None else EmailMessage(policy=POLICY)
        if not body.endswith("\n"):
            body += "\n"
        if body.isascii() and max(map(len, body.splitlines()), default=0) <= 998:
            cte, payload = "7bit", body
        else:
            cte = "quoted-printable"
            payload = quopri.encodestring(body.encode("utf-8")).decode("ascii")
        if into is None:
            p["MIME-Version"] = self._mime
        p["Content-Type"] = self._ct[subtype]
        p["Content-Transfer-Encoding"] = self._cte[cte]
        p.set_payload(payload)
        return p

    def build(self, rendered, *, to_email: str, to_name: str | None, message_id: str, contact_id: str,
              when) -> EmailMessage:
        """One message (see the module docstring for the headers)."""
        spec = self.spec
        msg = EmailMessage(policy=POLICY)
        for k, v in self._const:
            msg[k] = v
        user, _, domain = to_email.partition("@")
        msg["To"] = Address(display_name=to_name or "", username=user, domain=domain)
        msg["Subject"] = rendered.subject
        msg["Date"] = when
        msg["Message-ID"] = f"<{message_id}>"
        lu = f"<{rendered.unsubscribe_url}>"
        if self._mailto:
            lu += ", " + self._mailto
        msg["List-Unsubscribe"] = lu
        for k, v in self._post:
            msg[k] = v
        msg["X-MOF-Contact"] = contact_id
        msg["MIME-Version"] = self._mime
        url = rendered.unsubscribe_url
        text = rendered.text
        footer = []
        if url not in text:
            footer.append(f"Unsubscribe: {url}")
        if spec.postal_address not in text:
            footer.append(spec.postal_address)
        if footer:
            text = text.rstrip("\n") + "\n\n--\n" + "\n".join(footer) + "\n"
        if rendered.html is None:
            return self._part(text, "plain", into=msg)
        html = rendered.html
        url_html = _html_escape(url)
        if url_html not in html and url not in html:
            html = html + f"\n<p style=\"font-size:12px;color:#666\"><a href=\"{url_html}\">Unsubscribe</a></p>\n"
        if self._postal_html not in html and spec.postal_address not in html:
            html = html + f"\n<p style=\"font-size:12px;color:#666\">{self._postal_html}</p>\n"
        if self.boundary in text or self.boundary in html:  # practically impossible; stay correct
            msg.set_content(text)
            msg.add_alternative(html, subtype="html")
            return msg
        msg["Content-Type"] = self._alt
        msg.set_payload([self._part(text, "plain"), self._part(html, "html")])
        return msg


def build_message(spec, rendered, *, to_email: str, to_name: str | None, message_id: str,
                  contact_id: str, when) -> EmailMessage:
    """One message of ``spec`` (a one-off :class:`MessageBuilder`)."""
    return MessageBuilder(spec).build(rendered, to_email=to_email, to_name=to_name, message_id=message_id,
                                      contact_id=contact_id, when=when)


def _html_escape(s: str) -> str:
    from markupsafe import escape

    return str(escape(s))


__all__ = ["MessageBuilder", "build_message", "make_message_id", "header_problem"]
