"""The outbox: side effects (notifications, SMS, later webhooks) leave through rows written in the
same transaction as the change that caused them. After the commit a job delivers each row; a
periodic sweep re-sends what Redis lost or what failed, with backoff, so Redis is never the only
record. A row is marked delivered once: the job locks it (PostgreSQL; SQLite has no row locks)
and skips rows already delivered. A worker dying while it sends leaves the row pending, so the
message is sent again with the same message id: receivers deduplicate by it.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import JSON, Index, Integer, String, event, select
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantOwned, TenantSession, UTCDateTime, crossing, current_context, utcnow
from saas.extensions import db
from saas.jobs import enqueue, periodic

log = logging.getLogger(__name__)
BACKOFF = (10, 30, 60, 300, 900, 1800, 3600)  # seconds before attempt n+1; then the row is failed
HANDLERS: dict[str, callable] = {}


class OutboxMessage(TenantOwned, db.Model):
    """A side effect to deliver in `tenant_id` (the receiving tenant). Payloads hold ids and case
    numbers, never a caller's personal data; phones are looked up at delivery time."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|failed|cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_outbox_status_available", "status", "available_at"),)


class Cancelled(Exception):
    """Raised by a handler when the message has nowhere to go any more (a webhook switched off)."""


def handler(kind: str):
    """Register the function that delivers outbox rows of `kind` (it runs in the row's tenant)."""

    def decorator(func):
        HANDLERS[kind] = func
        return func

    return decorator


def put(kind: str, payload: dict, *, tenant_id: int) -> OutboxMessage:
    """Write a message for delivery in `tenant_id`. Writing into another tenant's outbox is the
    sanctioned way to reach it (a hub notifying a county unit), hence the crossing."""
    row = OutboxMessage(kind=kind, payload=payload, tenant_id=tenant_id)
    ctx = current_context()
    if ctx is not None and not ctx.may_write(tenant_id):
        with crossing(write={tenant_id}):
            db.session.add(row)
            db.session.flush()
    else:
        db.session.add(row)
        db.session.flush()
    return row


def _deliver_after_commit(session, row: OutboxMessage) -> None:
    session.info.setdefault("outbox_new", []).append((row.id, row.tenant_id))


@event.listens_for(TenantSession, "after_flush")
def _note_new(session, flush_context) -> None:
    for obj in session.new:
        if isinstance(obj, OutboxMessage):
            _deliver_after_commit(session, obj)


@event.listens_for(TenantSession, "after_commit")
def _enqueue_after_commit(session) -> None:
    # Once each: an id may be noted twice (a retried row; SQLite reusing the id of a row whose
    # savepoint rolled back). An id whose row rolled back finds nothing to deliver.
    for outbox_id, tenant_id in dict.fromkeys(session.info.pop("outbox_new", [])):
        try:
            enqueue(deliver, outbox_id, tenant_id=tenant_id, queue_name="urgent")
        except Exception:  # Redis down: the sweep delivers it later; the row is the record
            log.warning("outbox %s not enqueued; the sweep will deliver it", outbox_id)


@event.listens_for(TenantSession, "after_transaction_end")
def _forget(session, transaction) -> None:
    """The outermost transaction ended without a commit (rolled back, closed): its rows are gone.
    A savepoint ending changes nothing: the rows written before it commit with the outer
    transaction and must still be queued (`after_rollback` fires for savepoints too)."""
    if transaction.parent is None:
        session.info.pop("outbox_new", None)


def deliver(outbox_id: int) -> str:
    """Job: deliver one row in its tenant. Failures are recorded on the row and retried by the sweep."""
    stmt = select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update(skip_locked=True)
    row = db.session.scalar(stmt)
    if row is None or row.status != "pending":
        return "skipped"
    if row.attempts and row.available_at > utcnow():
        # Backing off after a failed attempt: a duplicate job (two sweeps, a sweep racing the
        # after-commit job) must not send it early; the sweep sends it when it is due. A row never
        # tried goes at once, whatever the clocks of the writing and the delivering hosts say.
        return "not due"
    # The row is written only after the handler ran: nothing is pending while a webhook's POST
    # waits on the network, so on SQLite no write lock is held meanwhile (PostgreSQL holds this
    # row's lock, which is the point).
    attempt = row.attempts + 1
    try:
        with db.session.begin_nested():
            HANDLERS[row.kind](row)
    except Cancelled as exc:  # nothing left to deliver to: said so, never retried
        row.attempts, row.status, row.last_error = attempt, "cancelled", str(exc)[:500]
        return "cancelled"
    except Exception as exc:  # recorded, retried with backoff, visible on the jobs page
        row.attempts, row.last_error = attempt, f"{type(exc).__name__}: {exc}"[:500]
        if attempt > len(BACKOFF):
            row.status = "failed"
        else:
            row.available_at = utcnow() + timedelta(seconds=BACKOFF[attempt - 1])
        log.warning("outbox %s attempt %s failed: %s", row.id, attempt, type(exc).__name__)
        return "failed"
    row.attempts, row.status, row.delivered_at, row.last_error = attempt, "delivered", utcnow(), None
    return "delivered"


@periodic(interval=60)
def sweep() -> int:
    """Re-enqueue this tenant's pending rows that are due and older than a minute."""
    ctx = current_context()
    ids = list(db.session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.tenant_id == ctx.tenant_id, OutboxMessage.status == "pending",
        OutboxMessage.available_at <= utcnow(), OutboxMessage.created_at <= utcnow() - timedelta(minutes=1),
    ).order_by(OutboxMessage.id).limit(500)))
    for outbox_id in ids:
        enqueue(deliver, outbox_id, tenant_id=ctx.tenant_id, queue_name="default")
    return len(ids)


def retry(row: OutboxMessage) -> None:
    """An admin sends a failed row again."""
    row.status, row.available_at, row.attempts = "pending", utcnow(), 0
    db.session.flush()
    _deliver_after_commit(db.session, row)
