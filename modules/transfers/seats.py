"""Dedicated seats (专席): a hub admin seats a 12345 agent in the 110 queue, or a 110 desk officer in
the 12345 queue (Chongqing keeps both), so that they take the other platform's cases over in one
step (`desk.take_by_seat`). Seats live in the hub, where the two platforms meet."""
from __future__ import annotations

from sqlalchemy import select

from saas import audit
from saas.auth import Actor
from saas.db import utcnow
from saas.extensions import db
from saas.models import Membership
from saas.permissions import ROLES, check, role as role_of
from modules.transfers.models import Seat
from modules.transfers.routing import other
from tenants.models import PLATFORMS, Tenant

SEAT_ROLES = ("agent_12345", "desk_110")
MAX_NOTE = 128


class SeatError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors


def seat_label(platform: str) -> str:
    """A seat in the 12345 queue is a 110 seat there, and the other way round."""
    return f"{other(platform)}专席（设在{PLATFORMS[platform]}）"


def candidates(hub: Tenant) -> list[Membership]:
    """Members of the hub itself who work one platform and may be seated in the other's queue."""
    now = utcnow()
    rows = db.session.scalars(select(Membership).where(
        Membership.tenant_id == hub.id, Membership.role.in_(SEAT_ROLES), Membership.valid_from <= now,
        (Membership.valid_until.is_(None)) | (Membership.valid_until > now)).order_by(Membership.id))
    return sorted(rows, key=lambda m: (m.user.display_name, m.role))


def seats_of(hub: Tenant) -> list[tuple[Seat, list[str]]]:
    """The hub's seats, newest first, each with the seat holder's current posts in the hub."""
    seats = list(db.session.scalars(select(Seat).where(Seat.tenant_id == hub.id)
                                    .order_by(Seat.created_at.desc(), Seat.id.desc())))
    posts: dict[int, list[str]] = {}
    for m in candidates(hub) if seats else []:
        posts.setdefault(m.user_id, []).append(m.role)
    return [(seat, posts.get(seat.user_id, [])) for seat in seats]


def add(actor: Actor, *, membership_id: str | int | None, platform: str, note: str = "") -> Seat:
    """Seat a member of the hub in the other platform's queue."""
    check(actor.role, "seats.manage")
    hub = actor.tenant
    if not hub.is_hub:
        raise SeatError({"member": f"{hub.name}不是联动枢纽，专席只能设在枢纽"})
    errors: dict[str, str] = {}
    membership = _membership(hub, membership_id)
    if membership is None:
        errors["member"] = "请选择本枢纽在岗的12345话务员或110接警员"
    if platform not in PLATFORMS or platform not in hub.platforms:
        errors["platform"] = f"请选择专席所在的队列（{hub.name}已开通：{'、'.join(PLATFORMS[p] for p in hub.platforms)}）"
    elif membership is not None and role_of(membership.role).platform == platform:
        own = role_of(membership.role).platform
        errors["platform"] = (f"{ROLES[membership.role].label}本就在{PLATFORMS[own]}工作，"
                              f"专席须设在另一平台（{PLATFORMS[other(own)]}）的队列")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        errors["note"] = f"备注不能超过{MAX_NOTE}字"
    if not errors and db.session.scalar(select(Seat.id).where(
            Seat.tenant_id == hub.id, Seat.user_id == membership.user_id, Seat.platform == platform)) is not None:
        errors["member"] = f"{membership.user.display_name}已有{seat_label(platform)}"
    if errors:
        raise SeatError(errors)
    seat = Seat(tenant_id=hub.id, user_id=membership.user_id, platform=platform, note=note,
                created_by_id=actor.user.id if actor.user else None)
    db.session.add(seat)
    db.session.flush()
    audit.record(actor, "seat.create", seat, detail={"user": membership.user.username, "platform": platform,
                                                      "note": note})
    return seat


def remove(actor: Actor, seat: Seat) -> None:
    check(actor.role, "seats.manage")
    if seat.tenant_id != actor.tenant.id:
        raise SeatError({"seat": "只能移除本枢纽的专席"})
    audit.record(actor, "seat.remove", seat, detail={"user": seat.user.username, "platform": seat.platform})
    db.session.delete(seat)
    db.session.flush()


def _membership(hub: Tenant, membership_id) -> Membership | None:
    try:
        wanted = int(membership_id)
    except (TypeError, ValueError):
        return None
    return next((m for m in candidates(hub) if m.id == wanted), None)
