"""Transfer lists (分流转办事项清单) with their versions, items and change log; the triage models a
hub trains. (What agents did with a suggestion is kept on the case, in `Case.triage`.)

A list belongs to one tenant: the province keeps the template, each hub its own copy. A list has
numbered versions: at most one draft, which is edited; published versions are never changed again
and the newest one whose `effective_from` has come is the one in force. Items are keyed by a stable
`key` across versions, so counties' unit mappings and the override statistics follow a matter type
from one version to the next.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantOwned, UTCDateTime, utcnow
from saas.extensions import db

PLATFORMS = {"12345": "12345", "110": "110", "119": "119", "120": "120", "122": "122", "other": "不属于双方"}
EMERGENCY_NUMBERS = ("119", "120", "122")  # outside the system: reached by a three-way call
CATEGORIES = ("报警", "咨询", "求助", "投诉举报", "意见建议")  # Jining's guide
KINDS = {
    "12345": ("咨询", "求助", "投诉", "举报", "意见建议"),
    "110": ("报警", "紧急求助", "警务投诉"),
    "119": ("紧急求助",), "120": ("紧急求助",), "122": ("报警",),
    "other": ("咨询", "求助", "投诉", "举报", "意见建议"),
}
CHANNELS = ("法院", "检察院", "纪检监察", "仲裁", "信访", "人大", "政协", "军队", "组织", "外地")
VERSION_STATUSES = {"draft": "草稿", "published": "已发布", "discarded": "已放弃"}
CHANGE_ACTIONS = {"created": "新增事项", "edited": "修改事项", "removed": "删除事项", "published": "发布",
                  "drafted": "新建草稿", "copied": "从模板复制", "discarded": "放弃草稿"}


class TransferList(TenantOwned, db.Model):
    __tablename__ = "transfer_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    basis: Mapped[str] = mapped_column(Text, default="")
    # The province template this list was copied from, if any.
    source_list_id: Mapped[int | None] = mapped_column(ForeignKey("transfer_lists.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (db.UniqueConstraint("tenant_id", name="uq_transfer_lists_tenant"),)


class ListVersion(TenantOwned, db.Model):
    __tablename__ = "transfer_list_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("transfer_lists.id"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("transfer_list_versions.id"))
    effective_from: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_label: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_label: Mapped[str | None] = mapped_column(String(128))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        db.UniqueConstraint("list_id", "number", name="uq_transfer_list_versions_number"),
        Index("ix_transfer_list_versions_list_status", "list_id", "status", "effective_from"),
    )

    @property
    def status_label(self) -> str:
        return VERSION_STATUSES.get(self.status, self.status)

    @property
    def label(self) -> str:
        return f"第{self.number}版"


class ListItem(TenantOwned, db.Model):
    """One matter type (事项) of a list version."""

    __tablename__ = "transfer_list_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("transfer_list_versions.id"), index=True)
    key: Mapped[str] = mapped_column(String(48))
    position: Mapped[int] = mapped_column(Integer, default=0)
    category: Mapped[str] = mapped_column(String(8))
    matter: Mapped[str] = mapped_column(String(64))
    covers: Mapped[str] = mapped_column(Text, default="")
    phrases: Mapped[list] = mapped_column(JSON, default=list)
    platform: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(8))
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str | None] = mapped_column(String(8))
    # Name fragments that find the responsible units among a tenant's units (a county's own).
    departments: Mapped[list] = mapped_column(JSON, default=list)
    unit_codes: Mapped[list] = mapped_column(JSON, default=list)
    deadline_working_days: Mapped[int | None] = mapped_column(Integer)
    legal_basis: Mapped[str] = mapped_column(String(500), default="")

    __table_args__ = (db.UniqueConstraint("version_id", "key", name="uq_transfer_list_items_key"),)

    @property
    def platform_label(self) -> str:
        return PLATFORMS.get(self.platform, self.platform)


class ListChange(TenantOwned, db.Model):
    """Who changed what in a version: one row per action, with each changed field's old and new value."""

    __tablename__ = "transfer_list_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("transfer_list_versions.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    item_key: Mapped[str | None] = mapped_column(String(48))
    matter: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def action_label(self) -> str:
        return CHANGE_ACTIONS.get(self.action, self.action)


class UnitMapping(TenantOwned, db.Model):
    """A county's own units for one matter type of its hub's list."""

    __tablename__ = "transfer_list_unit_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_key: Mapped[str] = mapped_column(String(48))
    unit_codes: Mapped[list] = mapped_column(JSON, default=list)
    updated_by_label: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (db.UniqueConstraint("tenant_id", "item_key", name="uq_unit_mappings_key"),)


class TriageModel(TenantOwned, db.Model):
    """A hub's statistical model, retrained from its closed cases and the corpus. `weights` is the
    exported linear model (zlib-compressed JSON); the newest row of a tenant is the one in use."""

    __tablename__ = "triage_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    corpus_examples: Mapped[int] = mapped_column(Integer, default=0)
    case_examples: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    weights: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_triage_models_tenant_trained", "tenant_id", "trained_at"),)
