"""Sending campaigns to cohorts, safely; and ESP engagement events back into the workspace.

- :mod:`~mof_experiments.send.spec`: campaign YAML, validated (:func:`load_spec`).
- :mod:`~mof_experiments.send.render`: sandboxed Jinja2, StrictUndefined, HTML autoescape.
- :mod:`~mof_experiments.send.message`: ``EmailMessage`` with a deterministic Message-ID and
  RFC 8058 one-click unsubscribe headers.
- :mod:`~mof_experiments.send.ledger`: the SQLite ledger and its state machine.
- :mod:`~mof_experiments.send.backends`: smtp / smtps / mbox / dry-run registry.
- :mod:`~mof_experiments.send.dispatch`: :func:`send_campaign`, its phases in
  :mod:`~mof_experiments.send.facts`, :mod:`~mof_experiments.send.plan`,
  :mod:`~mof_experiments.send.loop`, :mod:`~mof_experiments.send.record`; :class:`SendResult`
  in :mod:`~mof_experiments.send.result`.
- :mod:`~mof_experiments.send.events`: :func:`import_events` (SendGrid, Mailgun, CSV).

The walkthrough is ``docs/send.md``.
"""

from mof_experiments.send.backends import available_backends, get_backend, register_backend
from mof_experiments.send.dispatch import SendResult, send_campaign
from mof_experiments.send.ledger import DEFAULT_LEDGER, Ledger
from mof_experiments.send.message import build_message, make_message_id
from mof_experiments.send.spec import CampaignSpec, load_spec

__all__ = ["send_campaign", "SendResult", "load_spec", "CampaignSpec", "Ledger", "DEFAULT_LEDGER",
           "get_backend", "register_backend", "available_backends", "make_message_id", "build_message",
           "import_events", "EventImport"]


def __getattr__(name):
    if name in ("import_events", "EventImport"):
        from mof_experiments.send import events

        return getattr(events, name)
    raise AttributeError(name)
