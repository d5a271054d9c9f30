"""Notifications: who hears about what. Services call `notify_*`; the outbox delivers in-app
notifications (and SMS when asked) in the receiving tenant, after the change has committed."""
from __future__ import annotations

from sqlalchemy import func, select, update

from saas import outbox
from saas.db import current_context, utcnow
from saas.extensions import db
from saas.models import Membership, User
from modules.notifications import sms
from modules.notifications.models import Notification
from modules.units.models import Unit


def _put(tenant_id: int, audience: dict, *, title: str, body: str = "", level: str = "info",
         case_id: int | None = None, assignment_id: int | None = None, text_message: bool = False) -> None:
    outbox.put("notify", {"audience": audience, "title": title, "body": body, "level": level,
                          "case_id": case_id, "assignment_id": assignment_id, "sms": text_message},
               tenant_id=tenant_id)


def notify_unit(unit: Unit, **message) -> None:
    """The unit's handlers (and, with text_message=True, its 24-hour liaison by SMS)."""
    _put(unit.tenant_id, {"unit_id": unit.id}, **message)


def notify_roles(tenant_id: int, roles: tuple[str, ...], **message) -> None:
    _put(tenant_id, {"roles": list(roles)}, **message)


def notify_users(tenant_id: int, user_ids: list[int], **message) -> None:
    _put(tenant_id, {"user_ids": sorted(set(user_ids))}, **message)


def _recipients(tenant_id: int, audience: dict) -> list[User]:
    stmt = select(Membership).where(Membership.tenant_id == tenant_id)
    if "unit_id" in audience:
        stmt = stmt.where(Membership.role == "unit_handler", Membership.unit_id == audience["unit_id"])
    elif "roles" in audience:
        stmt = stmt.where(Membership.role.in_(audience["roles"]))
    else:
        stmt = stmt.where(Membership.user_id.in_(audience.get("user_ids") or []))
    now = utcnow()
    users = {m.user.id: m.user for m in db.session.scalars(stmt) if m.is_valid(now) and m.user.active}
    return [users[k] for k in sorted(users)]


@outbox.handler("notify")
def deliver(row: outbox.OutboxMessage) -> None:
    p = row.payload
    users = _recipients(row.tenant_id, p["audience"])
    for user in users:
        db.session.add(Notification(
            tenant_id=row.tenant_id, user_id=user.id, outbox_id=row.id, case_id=p.get("case_id"),
            assignment_id=p.get("assignment_id"), level=p.get("level", "info"), title=p["title"][:128],
            body=(p.get("body") or "")[:500]))
    if not p.get("sms"):
        return
    phones: dict[str, str] = {u.phone: u.display_name for u in users if u.phone}
    if "unit_id" in p["audience"]:
        unit = db.session.scalar(select(Unit).where(Unit.id == p["audience"]["unit_id"]))
        if unit is not None and unit.liaison_phone:
            phones.setdefault(unit.liaison_phone, f"{unit.name}联络员")
    text = f"【联动】{p['title']}。{p.get('body') or ''}".strip()[:300]
    sender = sms.sender()
    for phone, recipient in sorted(phones.items()):
        sender.send(phone=phone, recipient=recipient, text=text, outbox_id=row.id)


def unread_count(user_id: int) -> int:
    ctx = current_context()
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.tenant_id == ctx.tenant_id,
        Notification.read_at.is_(None))) or 0


def listing(user_id: int, *, unread_only: bool = False):
    ctx = current_context()
    stmt = select(Notification).where(Notification.user_id == user_id, Notification.tenant_id == ctx.tenant_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt.order_by(Notification.created_at.desc(), Notification.id.desc())


def mark_read(user_id: int, notification_id: int | None = None) -> int:
    ctx = current_context()
    stmt = update(Notification).where(Notification.user_id == user_id, Notification.tenant_id == ctx.tenant_id,
                                      Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    return db.session.execute(stmt.values(read_at=utcnow())).rowcount
