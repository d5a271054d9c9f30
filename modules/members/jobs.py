"""Periodic: record the end of time-bound memberships (e.g. borrowed remote seats) in the audit log."""
from __future__ import annotations

from sqlalchemy import select

from saas import audit
from saas.db import current_context, utcnow
from saas.extensions import db
from saas.jobs import periodic
from saas.models import Membership


@periodic(interval=300)
def note_expired_memberships() -> int:
    ctx = current_context()
    rows = db.session.scalars(select(Membership).where(
        Membership.tenant_id == ctx.tenant_id, Membership.valid_until <= utcnow(),
        Membership.expiry_noted_at.is_(None)))
    count = 0
    for membership in rows:
        membership.expiry_noted_at = utcnow()
        audit.record(None, "membership.expired", membership, label="系统",
                     detail={"username": membership.user.username, "role": membership.role})
        count += 1
    return count
