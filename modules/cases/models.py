"""Cases (诉求/工单/警单), their timeline events, and the per-tenant daily number counters.

`tenant_id` is the tenant that owns the case now (transfers move it); `received_tenant_id` is where
it came in and `place_tenant_id` where it happened. `platform` says which of 12345 and 110 owns it.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from saas.db import TenantOwned, UTCDateTime, utcnow
from saas.extensions import db

STATUSES = {
    "new": "待派单", "transferring": "转办中", "negotiating": "协商中", "dispatched": "已派单",
    "in_progress": "办理中", "replied": "待回访", "closed": "已办结",
}
OPEN_WORK = ("dispatched", "in_progress")
CHANNELS = {"phone": "电话", "web": "网站", "wechat": "微信", "app": "App", "sms": "短信", "api": "接口",
            "transfer_110": "110转办", "transfer_12345": "12345转办"}
MAX_TEXT = 4000  # characters of a request, an answer or a result
SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
GRADES = ("一般", "较大", "重大", "特别重大")
EVENTS = {
    "intake": "受理", "merged": "并入来电", "dispatched": "派单", "accepted": "签收", "returned": "退回",
    "extension_requested": "申请延期", "extension_granted": "同意延期", "extension_refused": "不同意延期",
    "replied": "办结答复", "assist_replied": "协办答复", "followup": "回访", "followup_unreachable": "回访未接通",
    "reopened": "不满意重办", "closed": "办结", "supervised": "督办", "reminder": "临期提醒", "overdue": "超期",
    "transfer_sent": "发起转办", "transfer_forwarded": "转送", "transfer_passed": "紧急直达",
    "transfer_accepted": "接收转办", "transfer_rejected": "退回转办", "negotiation_opened": "发起协商",
    "negotiation_note": "协商记录", "three_party_call": "三方通话", "negotiation_proposed": "提出协商意见",
    "negotiation_agreed": "协商一致", "first_receiver": "首接负责", "linked_opened": "生成关联工单",
    "linked_update": "关联工单进展", "police_handled": "处警反馈", "guided": "引导解释", "seat_taken": "专席接转",
}


class Case(TenantOwned, db.Model):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    received_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    place_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    platform: Mapped[str] = mapped_column(String(8))
    received_by: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    caller_name: Mapped[str] = mapped_column(String(64), default="")
    caller_phone: Mapped[str] = mapped_column(String(20), default="")
    # Keyed hash of the phone: finds a caller's earlier cases without indexing the number itself.
    caller_key: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(255), default="")
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(8), default="normal")
    complex_case: Mapped[bool] = mapped_column(Boolean, default=False)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    grade: Mapped[str | None] = mapped_column(String(8))
    triage: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="new")
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    supervision_note: Mapped[str | None] = mapped_column(String(500))
    answer: Mapped[str | None] = mapped_column(Text)
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    solved: Mapped[bool | None] = mapped_column(Boolean)
    followup_tries: Mapped[int] = mapped_column(Integer, default=0)
    close_reason: Mapped[str | None] = mapped_column(String(255))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    merged_count: Mapped[int] = mapped_column(Integer, default=0)
    # The case on the other platform opened from this one (joint handling, an emergency, a clue).
    linked_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_cases_tenant_status_created", "tenant_id", "status", "created_at"),
        Index("ix_cases_tenant_created", "tenant_id", "created_at"),
        Index("ix_cases_received_created", "received_tenant_id", "created_at"),
        Index("ix_cases_caller_key", "caller_key"),
        Index("ix_cases_updated_at", "updated_at"),
        Index("ix_cases_deadline", "deadline"),
    )

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)

    @property
    def channel_label(self) -> str:
        return CHANNELS.get(self.channel, self.channel)

    @property
    def overdue(self) -> bool:
        return self.status in OPEN_WORK and self.deadline is not None and self.deadline < utcnow()


class CaseEvent(TenantOwned, db.Model):
    """One line of a case's timeline. `tenant_id` is where the actor acted, so both sides of a
    hand-over write their own rows; a reader who may read the case reads its whole timeline."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    type: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    # Written with its case in one flush; never loaded through (the timeline query reads events).
    case: Mapped[Case] = relationship(lazy="raise")

    @property
    def label(self) -> str:
        return EVENTS.get(self.type, self.type)


class CaseCounter(TenantOwned, db.Model):
    """Per tenant and Shanghai day, the last case sequence number handed out."""

    __tablename__ = "case_counters"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    last: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (db.UniqueConstraint("tenant_id", "day", name="uq_case_counters_tenant_day"),)
