"""Rendering: sandboxed Jinja2, undefined variables are errors, HTML autoescaped.

Every template of a campaign (subject, unsubscribe URL, text part, HTML part) is rendered for
every recipient *before the first message is sent*, so a template that references a variable
missing for some recipient stops the run with nothing sent. Before that, the variables every
template names are checked against what the run can supply (:meth:`Renderer.variables`), so a
variable that no cohort column and no workspace field provides is named before any row.

The context of one recipient is the cohort row (every column; an empty cell is left out, so
using it is an error) plus ``campaign_id``, ``zone``, ``topic``, ``variant``,
``postal_address``, ``message_id``, ``token`` (see :func:`unsubscribe_token`),
``unsubscribe_url`` (available to the text and HTML parts) and, when the spec has
``persona_blocks``, ``persona_block``: the block of the recipient's ``persona`` (else the
``default`` block), itself rendered as a template (plain text: the HTML part escapes it).

In the unsubscribe URL every ``{{ ... }}`` value is percent-encoded (RFC 3986, UTF-8, nothing
left unescaped), so an id holding ``>``, ``,``, ``&``, a space or non-ASCII text cannot end the
URI, add a parameter or a second URI, or turn the header into an encoded word.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from urllib.parse import quote

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

from mof_experiments.errors import MofConfigError, MofInputError

UNSUBSCRIBE_SECRET_ENV = "MOF_UNSUBSCRIBE_SECRET"
#: Variables every template may use besides the cohort's columns.
BUILTIN_VARIABLES = ("campaign_id", "zone", "topic", "variant", "postal_address", "message_id", "token",
                     "unsubscribe_url", "persona_block")
#: A rendered unsubscribe URL: https, then only RFC 3986 characters other than the comma.
_URL_RE = re.compile(r"^https://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+;=%]+$")
_UNDEFINED_RE = re.compile(r"'([^']+)' is undefined")


def _url_quote(value) -> str:
    """Percent-encode one value placed in a URL (the ``finalize`` of the URL template)."""
    return quote("" if value is None else str(value), safe="")


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
        url = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=_url_quote)
        sources = {"subject": (plain, spec.subject), "unsubscribe_url": (url, spec.unsubscribe_url),
                   "text": (plain, spec.text_template.read_text(encoding="utf-8"))}
        if spec.html_template is not None:
            sources["html"] = (html, spec.html_template.read_text(encoding="utf-8"))
        for persona, text in (spec.persona_blocks or {}).items():
            sources[f"persona_blocks.{persona}"] = (plain, text)
        self._t, self._vars = {}, {}
        for name, (env, source) in sources.items():
            try:
                self._t[name] = env.from_string(source)
                self._vars[name] = meta.find_undeclared_variables(env.parse(source))
            except TemplateError as exc:
                raise MofConfigError(f"{self.where(name)}: template syntax error: "
                                     f"{' '.join(str(exc).split())}") from None

    def where(self, name: str) -> str:
        """Where template ``name`` is written (for messages): its file, or the spec's key."""
        s = self.spec
        if name == "text":
            return str(s.text_template)
        if name == "html":
            return str(s.html_template)
        return f"{s.source}: key {'unsubscribe.url' if name == 'unsubscribe_url' else name!r}"

    def variables(self) -> dict[str, set[str]]:
        """Template name (subject, unsubscribe_url, text, html, persona_blocks.P) -> the variables it
        names (a persona block also needs ``persona``, which picks it)."""
        out = {k: set(v) for k, v in self._vars.items()}
        for k in out:
            if k.startswith("persona_blocks."):
                out[k].add("persona")
        return out

    def render(self, row: dict, message_id: str) -> Rendered:
        s = self.spec
        ctx = {k: v for k, v in row.items() if v is not None and not (isinstance(v, float) and v != v)
               and str(v) != ""}
        ctx.update(campaign_id=s.campaign_id, zone=s.zone, topic=s.topic, variant=s.variant,
                   postal_address=s.postal_address, message_id=message_id,
                   token=unsubscribe_token(s.campaign_id, str(row["contact_id"])))
        url = self._t["unsubscribe_url"].render(ctx)
        if not _URL_RE.match(url):
            raise TemplateError(f"the unsubscribe URL is not a plain https URL after encoding: {url[:120]!r}")
        ctx["unsubscribe_url"] = url
        if s.persona_blocks:
            persona = str(ctx.get("persona", ""))
            key = persona if persona in s.persona_blocks else "default"
            if key not in s.persona_blocks:
                raise TemplateError(f"no persona block for persona {persona!r} and no default block "
                                    f"(persona_blocks in {s.source})")
            ctx["persona_block"] = self._t[f"persona_blocks.{key}"].render(ctx).strip()
        subject = self._t["subject"].render(ctx)
        text = self._t["text"].render(ctx)
        html = self._t["html"].render(ctx) if "html" in self._t else None
        return Rendered(subject=subject, text=text, html=html, unsubscribe_url=url)


def render_one(renderer: Renderer, row: dict, message_id: str, *, source: str, rownum: int) -> Rendered:
    """Render for one recipient; every error becomes a one-line :class:`MofInputError` naming
    the cohort row and, for an undefined variable, that variable as the column.

    Any exception counts: a template can fail at run time in many ways (a sandbox limit such
    as ``range(10000000)`` raises OverflowError, ``1/0`` ZeroDivisionError).
    """
    try:
        return renderer.render(row, message_id)
    except Exception as exc:  # noqa: BLE001 - a user template's run-time error, whatever its type
        text = " ".join(str(exc).split())[:200]
        kind = "" if isinstance(exc, TemplateError) else f"{type(exc).__name__}: "
        m = _UNDEFINED_RE.search(text)
        column = m.group(1) if m else "contact_id"
        value = row.get(column) if m else row.get("contact_id")
        raise MofInputError(f"template error for this recipient: {kind}{text} (nothing was sent)",
                            source=source, column=column, row=rownum, value=value) from None


__all__ = ["Renderer", "Rendered", "render_one", "unsubscribe_token", "BUILTIN_VARIABLES"]
