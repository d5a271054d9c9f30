"""In-app notifications and recorded SMS messages (both delivered from the outbox)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantOwned, UTCDateTime, utcnow
from saas.extensions import db

LEVELS = {"info": "通知", "warning": "临期", "danger": "超期", "supervision": "督办"}


class Notification(TenantOwned, db.Model):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"))
    level: Mapped[str] = mapped_column(String(16), default="info")
    title: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_notifications_user_read", "user_id", "read_at"),
        db.UniqueConstraint("outbox_id", "user_id", name="uq_notifications_outbox_user"),
    )

    @property
    def level_label(self) -> str:
        return LEVELS.get(self.level, self.level)


class SmsMessage(TenantOwned, db.Model):
    """An SMS handed to the configured sender; the default sender only records it here."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    phone: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(String(64))
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (db.UniqueConstraint("outbox_id", "phone", name="uq_sms_outbox_phone"),)
