"""Rendering: sandboxed Jinja2, undefined variables are errors, HTML autoescaped.

Every template of a campaign (subject, unsubscribe URL, text part, HTML part) is rendered for
every recipient *before the first message is sent* (:func:`render_all`), so a template that
references a variable missing for some recipient stops the run with nothing sent.

The context of one recipient is the cohort row (every column; an empty cell is left out, so
using it is an error) plus ``campaign_id``, ``zone``, ``topic``, ``variant``,
``postal_address``, ``message_id``, ``token`` (see :func:`unsubscribe_token`) and
``unsubscribe_url`` (available to the text and HTML parts).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from mof_experiments.errors import MofConfigError, MofInputError

UNSUBSCRIBE_SECRET_ENV = "MOF_UNSUBSCRIBE_SECRET"


def unsubscribe_token(campaign_id: str, contact_id: str) -> str:
    """HMAC-SHA256 of ``campaign_id/contact_id`` keyed by ``$MOF_UNSUBSCRIBE_SECRET`` (first 32 hex).

    Without the variable the key is empty: the token is then only a checksum, not a secret;
    set the variable in production so unsubscribe links cannot be forged.
    """
    key = os.environ.get(UNSUBSCRIBE_SECRET_ENV, "").encode()
    return hmac.new(key, f"{campaign_id}/{contact_id}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    unsubscribe_url: str


class Renderer:
    """Compiles a campaign's templates once; :meth:`render` fills them for one recipient."""

    def __init__(self, spec):
        self.spec = spec
        plain = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        html = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)
        self._t = {}
        try:
            self._t["subject"] = plain.from_string(spec.subject)
            self._t["unsubscribe_url"] = plain.from_string(spec.unsubscribe_url)
            self._t["text"] = plain.from_string(spec.text_template.read_text(encoding="utf-8"))
            if spec.html_template is not None:
                self._t["html"] = html.from_string(spec.html_template.read_text(encoding="utf-8"))
        except TemplateError as exc:
            raise MofConfigError(f"{spec.source}: template syntax error: {' '.join(str(exc).split())}") from None

    def render(self, row: dict, message_id: str) -> Rendered:
        s = self.spec
        ctx = {k: v for k, v in row.items() if v is not None and not (isinstance(v, float) and v != v)
               and str(v) != ""}
        ctx.update(campaign_id=s.campaign_id, zone=s.zone, topic=s.topic, variant=s.variant,
                   postal_address=s.postal_address, message_id=message_id,
                   token=unsubscribe_token(s.campaign_id, str(row["contact_id"])))
        url = self._t["unsubscribe_url"].render(ctx)
        ctx["unsubscribe_url"] = url
        subject = self._t["subject"].render(ctx)
        text = self._t["text"].render(ctx)
        html = self._t["html"].render(ctx) if "html" in self._t else None
        return Rendered(subject=subject, text=text, html=html, unsubscribe_url=url)


def render_one(renderer: Renderer, row: dict, message_id: str, *, source: str, rownum: int) -> Rendered:
    """Render for one recipient; errors become :class:`MofInputError` naming the cohort row."""
    try:
        return renderer.render(row, message_id)
    except TemplateError as exc:
        raise MofInputError(f"template error for this recipient: {' '.join(str(exc).split())} "
                            f"(nothing was sent)", source=source, column="contact_id", row=rownum,
                            value=row.get("contact_id")) from None


__all__ = ["Renderer", "Rendered", "render_one", "unsubscribe_token"]
