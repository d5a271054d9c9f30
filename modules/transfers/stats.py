"""Figures of a hub's linkage (联动概况): today's transfers each way, pending ones with their age,
today's rejections with reasons, acceptance times from hop times, and seven days of volume.

A hub's transfers are those sent by the hub itself and by the counties it serves (every transfer
between 12345 and 110 crosses at the sender's hub). Each figure is one aggregate query; lists are
bounded and load their hops and case numbers with them (no query per row).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from saas.auth import Actor
from saas.db import utcnow
from saas.extensions import db
from saas.templating import SHANGHAI
from modules.cases.models import Case
from modules.transfers.models import PURPOSES, Transfer, TransferHop
from tenants.models import Tenant
from tenants.service import served_ids

DAYS = 7                 # the chart and the acceptance times cover this many local days, today included
LATE_MINUTES = 30        # a transfer pending longer than this is shown in red
LIST_LIMIT = 50          # rows of the pending and rejection lists
DIRECTIONS = {"12345": "12345→110", "110": "110→12345"}  # keyed by the sending platform


# ---- which hubs an actor may look at ---------------------------------------------------------

def viewable_hubs(actor: Actor) -> list[Tenant]:
    """The actor's own tenant when it is a hub, and the hubs below it, each only when the actor
    reads every tenant the hub serves (a province supervisor reads them all; a hub admin its own)."""
    here = actor.tenant
    hubs = list(db.session.scalars(select(Tenant).where(
        Tenant.is_hub, Tenant.active, or_(Tenant.id == here.id, Tenant.path.like(f"{here.path}/%")))
        .order_by(Tenant.path)))
    if not hubs:
        return []
    served: dict[int, set[int]] = {}
    for hub_id, tenant_id in db.session.execute(select(Tenant.hub_id, Tenant.id).where(
            Tenant.hub_id.in_([h.id for h in hubs]))):
        served.setdefault(hub_id, set()).add(tenant_id)
    read = actor.context.read_ids
    return [h for h in hubs if actor.context.unrestricted or served.get(h.id, {h.id}) <= read]


# ---- the figures ----------------------------------------------------------------------------

@dataclass
class Direction:
    label: str
    total: int = 0
    by_purpose: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass
class PendingRow:
    transfer: Transfer
    number: str | None
    minutes: int            # since it was sent
    waiting_minutes: int    # since it reached the desk it waits at now

    @property
    def late(self) -> bool:
        return self.minutes > LATE_MINUTES

    @property
    def waiting_at(self) -> TransferHop | None:
        return self.transfer.current


@dataclass
class RejectionRow:
    transfer: Transfer
    hop: TransferHop
    number: str | None


@dataclass
class Latency:
    label: str
    count: int
    median: float | None
    p90: float | None


@dataclass
class Overview:
    hub: Tenant
    today: dict[str, Direction]
    purposes: list[tuple[str, str]]       # (key, label) of the purposes seen today, in PURPOSES order
    open_counts: dict[str, int]           # pending / negotiating, whenever sent
    pending: list[PendingRow]
    late_count: int
    rejections: list[RejectionRow]
    latency: list[Latency]
    days: list[str]                       # "11-24" ... today
    daily: dict[str, list[int]]           # sending platform -> counts per day

    @property
    def chart(self) -> dict:
        """The chart's data, embedded in the page as JSON."""
        return {"days": self.days, "series": [{"name": DIRECTIONS[p], "data": self.daily[p]} for p in DIRECTIONS]}


def local_midnight(days_ago: int = 0, now: datetime | None = None) -> datetime:
    """Midnight (Beijing time) `days_ago` days before today, as an aware datetime."""
    today = (now or utcnow()).astimezone(SHANGHAI).date()
    return datetime.combine(today - timedelta(days=days_ago), time(), SHANGHAI)


def overview(hub: Tenant, *, now: datetime | None = None) -> Overview:
    now = now or utcnow()
    ids = served_ids(hub)
    today = local_midnight(0, now)
    today_counts = _today(ids, today)
    seen = {p for d in today_counts.values() for p in d.by_purpose}
    pending, late = _pending(ids, now)
    days, daily = _daily(ids, now)
    return Overview(hub=hub, today=today_counts, purposes=[(k, v) for k, v in PURPOSES.items() if k in seen],
                    open_counts=_open_counts(ids), pending=pending, late_count=late,
                    rejections=_rejections(ids, today), latency=_latency(ids, local_midnight(DAYS - 1, now)),
                    days=days, daily=daily)


def _mine(ids: list[int]):
    return Transfer.tenant_id.in_(ids)


def _today(ids: list[int], since: datetime) -> dict[str, Direction]:
    result = {p: Direction(label) for p, label in DIRECTIONS.items()}
    rows = db.session.execute(select(Transfer.from_platform, Transfer.purpose, Transfer.status, func.count())
                              .where(_mine(ids), Transfer.created_at >= since)
                              .group_by(Transfer.from_platform, Transfer.purpose, Transfer.status))
    for platform, purpose, status, n in rows:
        d = result.get(platform)
        if d is None:
            continue
        d.total += n
        d.by_purpose[purpose] = d.by_purpose.get(purpose, 0) + n
        d.by_status[status] = d.by_status.get(status, 0) + n
    return result


def _open_counts(ids: list[int]) -> dict[str, int]:
    rows = db.session.execute(select(Transfer.status, func.count()).where(
        _mine(ids), Transfer.status.in_(("pending", "negotiating"))).group_by(Transfer.status))
    return {"pending": 0, "negotiating": 0, **dict(rows.all())}


def _pending(ids: list[int], now: datetime) -> tuple[list[PendingRow], int]:
    """The oldest pending transfers (with their hops and case numbers), and how many are late."""
    late = db.session.scalar(select(func.count()).select_from(Transfer).where(
        _mine(ids), Transfer.status == "pending", Transfer.created_at < now - timedelta(minutes=LATE_MINUTES)))
    rows = db.session.execute(select(Transfer, Case.number).outerjoin(Case, Case.id == Transfer.case_id)
                              .where(_mine(ids), Transfer.status == "pending")
                              .order_by(Transfer.created_at, Transfer.id).limit(LIST_LIMIT))
    result = []
    for transfer, number in rows:
        hop = transfer.current
        arrived = hop.arrived_at if hop is not None and hop.arrived_at else transfer.created_at
        result.append(PendingRow(transfer, number, _minutes(now - transfer.created_at), _minutes(now - arrived)))
    return result, late or 0


def _rejections(ids: list[int], since: datetime) -> list[RejectionRow]:
    """Transfers refused today, at the hop that refused them, newest first."""
    rows = db.session.execute(
        select(Transfer, TransferHop, Case.number)
        .join(TransferHop, and_(TransferHop.transfer_id == Transfer.id, TransferHop.seq == Transfer.rejected_seq))
        .outerjoin(Case, Case.id == Transfer.case_id)
        .where(_mine(ids), Transfer.reject_reason.is_not(None), TransferHop.acted_at >= since)
        .order_by(TransferHop.acted_at.desc(), Transfer.id.desc()).limit(LIST_LIMIT))
    return [RejectionRow(transfer, hop, number) for transfer, hop, number in rows]


def _latency(ids: list[int], since: datetime) -> list[Latency]:
    """Minutes from sending (the origin hop) to acceptance (the accepting hop), per direction, for
    transfers accepted since `since`. A seat's take-over is accepted in the instant it is sent and
    is left out: it measures no wait."""
    origin, taken = aliased(TransferHop), aliased(TransferHop)
    rows = db.session.execute(
        select(Transfer.from_platform, origin.acted_at, taken.acted_at)
        .join(origin, and_(origin.transfer_id == Transfer.id, origin.seq == 0))
        .join(taken, and_(taken.transfer_id == Transfer.id, taken.status == "accepted"))
        .where(_mine(ids), taken.acted_at >= since, taken.acted_at > origin.acted_at))
    minutes: dict[str, list[float]] = {p: [] for p in DIRECTIONS}
    for platform, sent, accepted in rows:
        if platform in minutes:
            minutes[platform].append((accepted - sent).total_seconds() / 60)
    result = []
    for platform, label in DIRECTIONS.items():
        values = sorted(minutes[platform])
        result.append(Latency(label, len(values), percentile(values, 0.5), percentile(values, 0.9)))
    return result


def _daily(ids: list[int], now: datetime) -> tuple[list[str], dict[str, list[int]]]:
    """Transfers sent per local day, each way, over the last DAYS days: one row per direction."""
    bounds = [local_midnight(DAYS - 1 - i, now) for i in range(DAYS)] + [local_midnight(-1, now)]
    columns = [func.sum(case((and_(Transfer.created_at >= bounds[i], Transfer.created_at < bounds[i + 1]), 1),
                             else_=0)) for i in range(DAYS)]
    rows = db.session.execute(select(Transfer.from_platform, *columns)
                              .where(_mine(ids), Transfer.created_at >= bounds[0])
                              .group_by(Transfer.from_platform))
    daily = {p: [0] * DAYS for p in DIRECTIONS}
    for platform, *counts in rows:
        if platform in daily:
            daily[platform] = [int(n or 0) for n in counts]
    return [f"{b:%m-%d}" for b in bounds[:DAYS]], daily


# ---- small helpers --------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile of sorted values, interpolated between neighbours; None for no values."""
    if not values:
        return None
    pos = (len(values) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    value = values[low] + (values[high] - values[low]) * (pos - low)
    return round(value, 1)


def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


def duration(minutes: int | float | None) -> str:
    """4.5分钟 / 45分钟 / 2小时5分钟 / 3天2小时."""
    if minutes is None:
        return "—"
    if minutes < 60:
        return f"{minutes:.1f}".removesuffix(".0") + "分钟"
    minutes = int(minutes)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    return f"{hours}小时{mins}分钟" if hours else f"{mins}分钟"
