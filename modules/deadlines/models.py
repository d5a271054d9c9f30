"""Deadline policy per tenant, and the official calendar's days that the package does not know yet."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantOwned, UTCDateTime, utcnow
from saas.extensions import db


class CasePolicy(TenantOwned, db.Model):
    """A tenant's deadline and handling rules. A tenant without a row uses `service.DEFAULTS`."""

    __tablename__ = "case_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    # {kind: working days} for ordinary cases; urgent cases run on the clock in hours.
    days_by_kind: Mapped[dict] = mapped_column(JSON, default=dict)
    urgent_hours: Mapped[int] = mapped_column(Integer)
    complex_days: Mapped[int] = mapped_column(Integer)
    max_extension_days: Mapped[int] = mapped_column(Integer)
    return_window_days: Mapped[int] = mapped_column(Integer)
    remind_percent: Mapped[int] = mapped_column(Integer)
    followup_max_tries: Mapped[int] = mapped_column(Integer)
    duplicate_window_days: Mapped[int] = mapped_column(Integer)
    negotiation_hours: Mapped[int] = mapped_column(Integer, default=8)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (db.UniqueConstraint("tenant_id", name="uq_case_policies_tenant"),)


class CalendarDay(db.Model):
    """An official working-day arrangement entered by a province admin (deployment-wide).

    The `chinese_calendar` package carries the State Council's arrangements up to its last release;
    a year it does not know yet is entered here when the notice is published. Entries here win.
    """

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(32))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
