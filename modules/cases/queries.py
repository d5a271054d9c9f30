"""Reading cases: the work lists and their counts, a caller's earlier cases, likely duplicates, and
a case's timeline. Everything runs through the scoped session; a case's own children (events,
assignments in other tenants) are read across tenants only after the case itself was readable."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case as when, exists, func, or_, select

from saas.db import utcnow
from saas.extensions import db
from modules.cases.models import OPEN_WORK, STATUSES, Case, CaseEvent
from modules.cases.service import caller_key
from modules.deadlines import calendar
from modules.dispatch.models import Assignment
from modules.units.models import Unit

VIEWS = {
    "todispatch": "待派单", "dispatched": "办理中", "overdue": "已超期", "followup": "待回访",
    "supervised": "督办件", "today": "今日受理", "closed": "已办结", "all": "全部",
}


@dataclass
class Filters:
    view: str = "todispatch"
    status: str = ""
    kind: str = ""
    unit: str = ""
    platform: str = ""
    date_from: date | None = None
    date_to: date | None = None
    overdue: bool = False
    q: str = ""


def _view_clause(view: str, now: datetime):
    today_start = calendar.end_of_day(calendar.local_day(now) - timedelta(days=1))
    return {
        "todispatch": Case.status == "new",
        "dispatched": Case.status.in_(OPEN_WORK),
        "overdue": and_(Case.status.in_(OPEN_WORK), Case.deadline < now),
        "followup": Case.status == "replied",
        "supervised": and_(Case.supervised, Case.status != "closed"),
        "today": Case.created_at >= today_start,
        "closed": Case.status == "closed",
    }.get(view)


def listing(f: Filters):
    now = utcnow()
    stmt = select(Case)
    clause = _view_clause(f.view, now)
    if clause is not None:
        stmt = stmt.where(clause)
    if f.platform:
        stmt = stmt.where(Case.platform == f.platform)
    if f.status in STATUSES:
        stmt = stmt.where(Case.status == f.status)
    if f.kind:
        stmt = stmt.where(Case.kind == f.kind)
    if f.overdue:
        stmt = stmt.where(Case.status.in_(OPEN_WORK), Case.deadline < now)
    if f.date_from:
        stmt = stmt.where(Case.created_at >= calendar.end_of_day(f.date_from - timedelta(days=1)))
    if f.date_to:
        stmt = stmt.where(Case.created_at < calendar.end_of_day(f.date_to))
    if f.unit:
        stmt = stmt.where(exists(select(Assignment.id).join(Unit, Unit.id == Assignment.unit_id).where(
            Assignment.case_id == Case.id, Unit.code == f.unit)))
    if f.q:
        q = f.q.strip()
        stmt = stmt.where(or_(Case.number == q, Case.text.contains(q, autoescape=True),
                              Case.address.contains(q, autoescape=True)))
    order = (Case.deadline.asc(), Case.id) if f.view == "overdue" else (Case.created_at.desc(), Case.id.desc())
    return stmt.order_by(Case.supervised.desc(), *order)


def view_counts(platform: str = "") -> dict[str, int]:
    """How many cases each work list holds, in one query."""
    now = utcnow()
    columns = [func.sum(when((_view_clause(v, now), 1), else_=0)).label(v) for v in VIEWS if v != "all"]
    stmt = select(*columns, func.count().label("all")).select_from(Case)
    if platform:
        stmt = stmt.where(Case.platform == platform)
    row = db.session.execute(stmt).one()
    return {v: int(getattr(row, v) or 0) for v in VIEWS}


def lead_units(case_ids: list[int]) -> dict[int, Unit]:
    """The current lead unit of each case (one query for a whole page of cases)."""
    if not case_ids:
        return {}
    rows = db.session.execute(
        select(Assignment.case_id, Unit).join(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.case_id.in_(case_ids), Assignment.role == "lead",
               Assignment.status.in_(("pending", "accepted", "replied")))
        .execution_options(all_tenants=True)  # cases on this page were read through the scoped session
    )
    return {case_id: unit for case_id, unit in rows}


def earlier_cases(phone: str, *, exclude_id: int | None = None, limit: int = 8) -> list[Case]:
    key = caller_key(phone)
    if not key:
        return []
    stmt = select(Case).where(Case.caller_key == key).order_by(Case.created_at.desc()).limit(limit)
    if exclude_id:
        stmt = stmt.where(Case.id != exclude_id)
    return list(db.session.scalars(stmt))


SIMILAR_SCAN = 500  # newest cases compared per keystroke pause: bounded work on the agent's hot path
_NOISE = re.compile(r"[\s，。！？、,.!?：:；;（）()\"'“”《》\-]+")


def bigrams(text: str) -> set[str]:
    text = _NOISE.sub("", text or "")
    return {text[i:i + 2] for i in range(len(text) - 1)}


def similarity(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def likely_duplicates(text: str, phone: str, *, window_days: int, threshold: float = 0.45,
                      limit: int = 5) -> list[tuple[Case, float, str]]:
    """Open or recent cases that may be the same matter: same caller, or very similar text."""
    since = utcnow() - timedelta(days=window_days)
    key = caller_key(phone)
    grams = bigrams(text)
    found: dict[int, tuple[Case, float, str]] = {}
    if key:
        for case in db.session.scalars(select(Case).where(Case.caller_key == key, Case.created_at >= since)
                                       .order_by(Case.created_at.desc()).limit(limit)):
            score = similarity(grams, bigrams(case.text))
            why = f"同一来电号码，内容相似度{score:.0%}" if score >= threshold else "同一来电号码"
            found[case.id] = (case, 1.0 + score, why)
    if len(grams) >= 4:
        rows = db.session.execute(select(Case.id, Case.text).where(Case.created_at >= since)
                                  .order_by(Case.created_at.desc()).limit(SIMILAR_SCAN))
        scored = sorted(((similarity(grams, bigrams(t)), i) for i, t in rows), reverse=True)[:limit]
        scores = {i: s for s, i in scored if s >= threshold and i not in found}
        for case in db.session.scalars(select(Case).where(Case.id.in_(scores))) if scores else []:
            found[case.id] = (case, scores[case.id], f"内容相似度{scores[case.id]:.0%}")
    return sorted(found.values(), key=lambda item: (-item[1], -item[0].id))[:limit]


def timeline(case: Case) -> list[CaseEvent]:
    """Every event of a readable case, from all tenants that acted on it, oldest first."""
    return list(db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                   .order_by(CaseEvent.at, CaseEvent.id).execution_options(all_tenants=True)))


def fresh_events(case: Case) -> list[CaseEvent]:
    """The timeline of a case created in this request, without SQL: every one of its events was
    written in this session, so the identity map holds them all."""
    events = [obj for obj in db.session.identity_map.values()
              if isinstance(obj, CaseEvent) and obj.case_id == case.id]
    return sorted(events, key=lambda e: (e.at, e.id))
