"""Webhooks: where an external system (a city's own 110 dispatch system) hears about transfers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantOwned, UTCDateTime, utcnow
from saas.extensions import db

EVENTS = {
    "transfer.pending": "转办到达本方待接收", "transfer.accepted": "本方发起的转办被接收",
    "transfer.rejected": "本方发起的转办被退回", "case.result": "关联工单答复或办结",
}


class Webhook(TenantOwned, db.Model):
    """An endpoint of an external system for one platform of a tenant. Every message is signed with
    the shared secret (HMAC-SHA256) and carries a message id the receiver deduplicates by."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(String(500))
    # The shared secret signs messages, so it is kept (shown once at creation, then only its prefix).
    secret: Mapped[str] = mapped_column(String(128))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
