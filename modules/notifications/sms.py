"""SMS senders. `SMS_SENDER` names the class ("module:Class"); the default records each message in
`sms_messages` for people to read on the 短信记录 page, so a real gateway plugs in by configuration.

A sender gets the phone, the text and the outbox id (use it as the gateway's idempotency key) and
returns the provider's reference; raising makes the outbox retry later.
"""
from __future__ import annotations

import importlib
from typing import Protocol

from flask import current_app

from saas.extensions import db


class SmsSender(Protocol):
    name: str

    def send(self, *, phone: str, recipient: str, text: str, outbox_id: int) -> str | None: ...


class RecordingSender:
    """Records messages instead of sending them: the default for pilots and demos."""

    name = "record"

    def send(self, *, phone: str, recipient: str, text: str, outbox_id: int) -> str | None:
        from modules.notifications.models import SmsMessage

        message = SmsMessage(phone=phone, recipient=recipient, text=text, provider=self.name, outbox_id=outbox_id)
        db.session.add(message)
        db.session.flush()
        return str(message.id)


def sender() -> SmsSender:
    path = current_app.config.get("SMS_SENDER") or "modules.notifications.sms:RecordingSender"
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)()
