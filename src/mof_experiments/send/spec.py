"""Campaign specs: a YAML file validated into a frozen :class:`CampaignSpec` before anything is sent.

Example (``campaigns/case_study_pm.yaml``)::

    campaign_id: case_study_driving_adoption_pm
    experiment_id: mof_email_2026      # assignments decide who may be emailed
    arms: [email]                      # arms to send; control arms are refused
    zone: case_study
    topic: driving_adoption
    variant: A                         # optional; recorded in email_events.variant
    subject: "How teams like {{ company_id }} went live in two weeks"
    from: "Acme API <growth@acme-api.example.com>"
    reply_to: "success@acme-api.example.com"
    templates: {html: case_study_pm.html.j2, text: case_study_pm.txt.j2}   # relative to the YAML
    unsubscribe:
      url: "https://acme-api.example.com/u?c={{ campaign_id }}&u={{ contact_id }}&t={{ token }}"
      mailto: "unsubscribe@acme-api.example.com"
    postal_address: "Acme API Inc., 548 Market St #1234, San Francisco, CA 94104, USA"
    rate_limit_per_second: 20          # optional; null = as fast as the server takes them
    frequency_cap: {max_emails: 2, days: 7}
    retry: {max_attempts: 3, backoff_seconds: 2.0}
    persona_blocks:                    # optional: the template's {{ persona_block }}, per recipient persona
      PM: "The launch checklist ..."   # Jinja allowed; the recipient's persona (cohort or workspace) picks
      default: "..."                   # for a persona without its own block (else: an error before sending)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path

from mof_experiments.checks import read_yaml_file
from mof_experiments.errors import MofConfigError
from mof_experiments.schema import is_valid_email

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
REQUIRED = ("campaign_id", "zone", "topic", "subject", "from", "templates", "unsubscribe", "postal_address")
OPTIONAL = ("experiment_id", "arms", "variant", "reply_to", "rate_limit_per_second", "frequency_cap", "retry",
            "description", "persona_blocks")


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``max_emails`` sends (any campaign) per contact within the last ``days`` days."""

    max_emails: int
    days: float


@dataclass(frozen=True)
class RetryPolicy:
    """4xx replies are retried up to ``max_attempts`` attempts in all, waiting
    ``backoff_seconds * 2 ** (attempt - 1)`` seconds before each retry."""

    max_attempts: int = 3
    backoff_seconds: float = 2.0


@dataclass(frozen=True)
class CampaignSpec:
    """A validated campaign (see the module docstring for the YAML)."""

    campaign_id: str
    zone: str
    topic: str
    subject: str
    from_addr: str
    html_template: Path | None
    text_template: Path
    unsubscribe_url: str
    unsubscribe_mailto: str | None
    postal_address: str
    experiment_id: str | None = None
    arms: tuple[str, ...] | None = None
    variant: str | None = None
    reply_to: str | None = None
    rate_limit_per_second: float | None = None
    frequency_cap: FrequencyCap | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    persona_blocks: dict | None = None
    source: str = ""

    @property
    def from_address(self) -> Address:
        name, addr = parseaddr(self.from_addr)
        user, _, domain = addr.partition("@")
        return Address(display_name=name, username=user, domain=domain)

    @property
    def domain(self) -> str:
        return self.from_address.domain


def _err(src: str, key: str, msg: str) -> MofConfigError:
    return MofConfigError(f"{src}: key {key!r}: {msg}")


def _addr(src: str, key: str, value) -> str:
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        raise _err(src, key, f"expected an address like 'Name <user@example.com>', got {value!r}")
    name, addr = parseaddr(value)
    if not is_valid_email(addr):
        raise _err(src, key, f"not a valid address: {value!r}")
    return value.strip()


def load_spec(path: str | os.PathLike) -> CampaignSpec:
    """Read and validate a campaign YAML file.

    Checks: required keys present and no unknown keys; ids are ``[A-Za-z0-9_.:-]``;
    addresses parse; template files exist (paths relative to the YAML file); the subject has
    no line break; the unsubscribe URL is https; ``rate_limit_per_second > 0``;
    ``frequency_cap.max_emails >= 1`` and ``days > 0``; ``retry.max_attempts >= 1``.

    Raises
    ------
    MofConfigError
        one line naming the file and the key.
    """
    p, data = read_yaml_file(path, "campaign spec")
    src = str(p)
    if not isinstance(data, dict):
        raise MofConfigError(f"{src}: expected a mapping of keys (campaign_id, subject, ...)")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise _err(src, missing[0], "required key missing")
    unknown = [k for k in data if k not in REQUIRED + OPTIONAL]
    if unknown:
        raise _err(src, unknown[0], f"unknown key (allowed: {', '.join(REQUIRED + OPTIONAL)})")
    for k in ("campaign_id", "zone", "topic", "experiment_id", "variant"):
        v = data.get(k)
        if v is None and k in ("experiment_id", "variant"):
            continue
        if not isinstance(v, str) or not _ID_RE.match(v):
            raise _err(src, k, f"expected an identifier of letters, digits, _ . : - (got {v!r})")
    subject = data["subject"]
    if not isinstance(subject, str) or not subject.strip():
        raise _err(src, "subject", "expected a non-empty string")
    if "\n" in subject or "\r" in subject:
        raise _err(src, "subject", "line breaks are not allowed in a subject")
    from_addr = _addr(src, "from", data["from"])
    reply_to = _addr(src, "reply_to", data["reply_to"]) if data.get("reply_to") is not None else None
    tpl = data["templates"]
    if not isinstance(tpl, dict) or "text" not in tpl or set(tpl) - {"text", "html"}:
        raise _err(src, "templates", "expected {text: FILE, html: FILE} (html optional)")
    files = {}
    for part, name in tpl.items():
        f = (p.parent / str(name)).resolve()
        if not f.is_file():
            raise _err(src, f"templates.{part}", f"template file not found: {f}")
        files[part] = f
    uns = data["unsubscribe"]
    if not isinstance(uns, dict) or "url" not in uns or set(uns) - {"url", "mailto"}:
        raise _err(src, "unsubscribe", "expected {url: https://..., mailto: address} (mailto optional)")
    if not isinstance(uns["url"], str) or not uns["url"].startswith("https://"):
        raise _err(src, "unsubscribe.url", f"must be an https URL (RFC 8058), got {uns['url']!r}")
    mailto = uns.get("mailto")
    if mailto is not None:
        mailto = _addr(src, "unsubscribe.mailto", mailto)
    postal = data["postal_address"]
    if not isinstance(postal, str) or len(postal.strip()) < 10:
        raise _err(src, "postal_address", "a physical postal address is required (CAN-SPAM)")
    arms = data.get("arms")
    if arms is not None:
        if isinstance(arms, str):
            arms = [arms]
        if not isinstance(arms, list) or not arms or not all(isinstance(a, str) and a for a in arms):
            raise _err(src, "arms", "expected a list of arm names")
        if data.get("experiment_id") is None:
            raise _err(src, "arms", "arms need experiment_id")
        arms = tuple(arms)
    rate = data.get("rate_limit_per_second")
    if rate is not None and (not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0):
        raise _err(src, "rate_limit_per_second", f"expected a positive number, got {rate!r}")
    cap = data.get("frequency_cap")
    if cap is not None:
        if not isinstance(cap, dict) or set(cap) != {"max_emails", "days"}:
            raise _err(src, "frequency_cap", "expected {max_emails: N, days: D}")
        if not isinstance(cap["max_emails"], int) or cap["max_emails"] < 1:
            raise _err(src, "frequency_cap.max_emails", f"expected an integer >= 1, got {cap['max_emails']!r}")
        if not isinstance(cap["days"], (int, float)) or cap["days"] <= 0:
            raise _err(src, "frequency_cap.days", f"expected a positive number, got {cap['days']!r}")
        cap = FrequencyCap(int(cap["max_emails"]), float(cap["days"]))
    retry = data.get("retry") or {}
    if not isinstance(retry, dict) or set(retry) - {"max_attempts", "backoff_seconds"}:
        raise _err(src, "retry", "expected {max_attempts: N, backoff_seconds: S}")
    ma = retry.get("max_attempts", 3)
    bo = retry.get("backoff_seconds", 2.0)
    if not isinstance(ma, int) or ma < 1:
        raise _err(src, "retry.max_attempts", f"expected an integer >= 1, got {ma!r}")
    if not isinstance(bo, (int, float)) or bo < 0:
        raise _err(src, "retry.backoff_seconds", f"expected a number >= 0, got {bo!r}")
    blocks = data.get("persona_blocks")
    if blocks is not None:
        if not isinstance(blocks, dict) or not blocks or not all(
                isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in blocks.items()):
            raise _err(src, "persona_blocks", "expected a mapping persona -> non-empty text (and optionally default)")
        blocks = {str(k): v for k, v in blocks.items()}
    return CampaignSpec(
        campaign_id=data["campaign_id"], zone=data["zone"], topic=data["topic"], subject=subject,
        from_addr=from_addr, html_template=files.get("html"), text_template=files["text"],
        unsubscribe_url=uns["url"], unsubscribe_mailto=mailto, postal_address=postal.strip(),
        experiment_id=data.get("experiment_id"), arms=arms, variant=data.get("variant"), reply_to=reply_to,
        rate_limit_per_second=float(rate) if rate is not None else None, frequency_cap=cap,
        retry=RetryPolicy(ma, float(bo)), persona_blocks=blocks, source=src)


__all__ = ["CampaignSpec", "FrequencyCap", "RetryPolicy", "load_spec"]
