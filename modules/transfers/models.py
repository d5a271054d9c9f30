"""Transfers (分流转办) between 12345 and 110, their hops along the hub route, and dedicated seats.

A `Transfer` belongs to the tenant that sent it; each `TransferHop` belongs to the tenant at that
step of the route (hop 0 is the sender), so every tenant on the route finds its own steps through
the scoped session, and a hop is what proves a tenant took part in a case. Negotiation notes and
three-party calls are timeline events; the negotiation's state lives on the transfer.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from saas.db import TenantOwned, UTCDateTime, utcnow
from saas.extensions import db

STATUSES = {"pending": "待接收", "accepted": "已接收", "rejected": "已退回", "negotiating": "协商中"}
HOP_STATUSES = {"origin": "发起", "waiting": "未到达", "pending": "待接收", "forwarded": "已转送",
                "auto": "紧急直达", "accepted": "已接收", "rejected": "已退回", "negotiating": "协商中",
                "released": "协商后未接收"}
# Why a case crosses: an ordinary hand-over moves the case; the others leave it where it is and
# open a linked case on the other side, whose progress each side sees.
PURPOSES = {
    "transfer": "分流转办", "emergency": "紧急警情移交", "joint": "联合调处", "clue": "维稳线索推送",
    "police": "承办单位请求110出警",
}
# What a desk chooses when it sends a case (an emergency follows the case's flag; a police request
# starts from a unit's assignment).
SENDABLE = {"transfer": "分流转办", "joint": "联合调处", "clue": "维稳线索推送"}
LINKED = frozenset({"emergency", "joint", "clue", "police"})
URGENT = frozenset({"emergency", "clue", "police"})  # pass intermediate hops at once, alert the desk
SETTLEMENTS = {"agreed": "协商一致", "first_receiver": "首接负责"}


class Transfer(TenantOwned, db.Model):
    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16), default="transfer")
    from_platform: Mapped[str] = mapped_column(String(8))
    to_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    to_platform: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(500))
    # Joint handling: the part for government departments, the requester, place, officers' contact.
    text: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    current_seq: Mapped[int] = mapped_column(Integer, default=1)
    linked_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    rejected_seq: Mapped[int | None] = mapped_column(Integer)
    # Negotiation (协商), opened after a rejection or instead of deciding.
    negotiation_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    negotiation_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    proposal: Mapped[str | None] = mapped_column(String(8))  # "origin" keeps it | "target" takes it
    proposed_seq: Mapped[int | None] = mapped_column(Integer)
    settlement: Mapped[str | None] = mapped_column(String(16))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    hops: Mapped[list[TransferHop]] = relationship(back_populates="transfer", order_by="TransferHop.seq",
                                                   lazy="selectin")

    __table_args__ = (Index("ix_transfers_tenant_created", "tenant_id", "created_at"),)

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)

    @property
    def purpose_label(self) -> str:
        return PURPOSES.get(self.purpose, self.purpose)

    @property
    def linked(self) -> bool:
        return self.purpose in LINKED

    @property
    def origin(self) -> TransferHop:
        return self.hops[0]

    @property
    def target(self) -> TransferHop:
        return self.hops[-1]

    @property
    def current(self) -> TransferHop | None:
        return self.hops[self.current_seq] if self.status == "pending" else None


class TransferHop(TenantOwned, db.Model):
    """One step of a transfer's route, in the tenant at that step."""

    __tablename__ = "transfer_hops"

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actor_label: Mapped[str | None] = mapped_column(String(128))

    transfer: Mapped[Transfer] = relationship(back_populates="hops", lazy="raise")

    __table_args__ = (Index("ix_transfer_hops_tenant_status", "tenant_id", "platform", "status"),)

    @property
    def status_label(self) -> str:
        return HOP_STATUSES.get(self.status, self.status)


class Seat(TenantOwned, db.Model):
    """A dedicated seat (专席): a user of one platform sits in the other platform's queue at the hub
    (Chongqing's 110 seat inside 12345) and may take that platform's cases over in one step."""

    __tablename__ = "seats"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    platform: Mapped[str] = mapped_column(String(8))  # the queue the seat sits in
    note: Mapped[str] = mapped_column(String(128), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User", foreign_keys=[user_id], lazy="joined")

    __table_args__ = (db.UniqueConstraint("tenant_id", "user_id", "platform", name="uq_seats_user_platform"),)
