"""Periodic reminders (催办): assignments near their deadline and overdue ones, per unit tenant."""
from __future__ import annotations

from sqlalchemy import or_, select

from saas.db import current_context, utcnow
from saas.extensions import db
from saas.jobs import periodic
from modules.cases import service as cases
from modules.deadlines.service import policy_for
from modules.dispatch.models import OPEN, Assignment
from modules.dispatch.service import cases_by_id
from modules.notifications.service import notify_roles, notify_unit


def _near(assignment: Assignment, percent: int, now) -> bool:
    span = (assignment.deadline - assignment.dispatched_at).total_seconds()
    return span > 0 and (now - assignment.dispatched_at).total_seconds() >= span * percent / 100


@periodic(interval=300)
def remind() -> dict:
    """Mark and notify: near the deadline → the unit's handlers and liaison; overdue → also the
    dispatchers and supervisors of the tenant that owns the case. Each mark is made once."""
    ctx = current_context()
    now = utcnow()
    rows = list(db.session.scalars(select(Assignment).where(
        Assignment.tenant_id == ctx.tenant_id, Assignment.status.in_(OPEN), Assignment.overdue_at.is_(None),
        or_(Assignment.reminded_at.is_(None), Assignment.deadline <= now),  # what can still be marked
    ).order_by(Assignment.deadline)))
    by_id = cases_by_id(a.case_id for a in rows)
    policies: dict[int, int] = {}  # owning tenant id -> remind percent, read once per tenant
    counts = {"reminded": 0, "overdue": 0}
    for assignment in rows:
        case = by_id[assignment.case_id]
        unit = assignment.unit
        if case.tenant_id not in policies:
            policies[case.tenant_id] = policy_for(case.tenant).remind_percent
        if assignment.deadline <= now:
            assignment.overdue_at = now
            cases.record_event(case, None, "overdue", {"unit": unit.name, "deadline": assignment.deadline.isoformat()})
            notify_unit(unit, title=f"工单已超期：{case.number}", body="请立即办理并答复。", level="danger",
                        case_id=case.id, assignment_id=assignment.id, text_message=True)
            notify_roles(case.tenant_id, ("dispatcher", "supervisor"), title=f"超期工单：{case.number}",
                         body=f"{unit.name}未在时限内办结", level="danger", case_id=case.id,
                         assignment_id=assignment.id)
            counts["overdue"] += 1
        elif assignment.reminded_at is None and _near(assignment, policies[case.tenant_id], now):
            assignment.reminded_at = now
            cases.record_event(case, None, "reminder", {"unit": unit.name, "deadline": assignment.deadline.isoformat()})
            notify_unit(unit, title=f"工单临近时限：{case.number}", body="请抓紧办理。", level="warning",
                        case_id=case.id, assignment_id=assignment.id, text_message=True)
            counts["reminded"] += 1
    db.session.flush()
    return counts
