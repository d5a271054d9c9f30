"""Assignments (派单) of cases to member units, extension requests (延期) and reply attachments.

An assignment belongs to the tenant of its unit, so a unit handler works entirely in their own
tenant; `case_tenant_id` remembers the tenant that owned the case when it was dispatched.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from saas.db import TenantOwned, UTCDateTime, utcnow
from saas.extensions import db

ROLES = {"lead": "主办", "assist": "协办"}
STATUSES = {"pending": "待签收", "accepted": "办理中", "returned": "已退回", "replied": "已答复",
            "superseded": "已撤回"}
OPEN = ("pending", "accepted")
EXTENSION_STATUSES = {"pending": "待审批", "granted": "已同意", "refused": "未同意"}


class Assignment(TenantOwned, db.Model):
    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    case_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    role: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    instruction: Mapped[str] = mapped_column(String(500), default="")
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_label: Mapped[str] = mapped_column(String(32))
    extended_days: Mapped[int] = mapped_column(Integer, default=0)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    return_reason: Mapped[str | None] = mapped_column(String(500))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The unit lives in the assignment's own tenant: whoever may read the assignment may read it.
    unit = relationship("Unit", lazy="joined", innerjoin=True)

    __table_args__ = (
        Index("ix_assignments_unit_status", "unit_id", "status"),
        Index("ix_assignments_tenant_status_deadline", "tenant_id", "status", "deadline"),
    )

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def overdue(self) -> bool:
        return self.is_open and self.deadline < utcnow()


class ExtensionRequest(TenantOwned, db.Model):
    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    working_days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(String(500))

    @property
    def status_label(self) -> str:
        return EXTENSION_STATUSES.get(self.status, self.status)


class Attachment(TenantOwned, db.Model):
    """A file attached to a reply; the bytes live on disk under the instance folder, by digest."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(128))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
