"""Periodic reminders (催办): assignments near their deadline and overdue ones, per unit tenant."""
from __future__ import annotations

from sqlalchemy import select

from saas.db import current_context, utcnow
from saas.extensions import db
from saas.jobs import periodic
from modules.cases import service as cases
from modules.deadlines.service import policy_for
from modules.dispatch.models import OPEN, Assignment
from modules.dispatch.service import assignment_unit, case_of
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
    rows = db.session.scalars(select(Assignment).where(
        Assignment.tenant_id == ctx.tenant_id, Assignment.status.in_(OPEN), Assignment.overdue_at.is_(None),
    ).order_by(Assignment.deadline))
    counts = {"reminded": 0, "overdue": 0}
    for assignment in rows:
        case = case_of(assignment)
        unit = assignment_unit(assignment)
        if assignment.deadline <= now:
            assignment.overdue_at = now
            cases.record_event(case, None, "overdue", {"unit": unit.name, "deadline": assignment.deadline.isoformat()})
            notify_unit(unit, title=f"工单已超期：{case.number}", body="请立即办理并答复。", level="danger",
                        case_id=case.id, assignment_id=assignment.id, text_message=True)
            notify_roles(case.tenant_id, ("dispatcher", "supervisor"), title=f"超期工单：{case.number}",
                         body=f"{unit.name}未在时限内办结", level="danger", case_id=case.id,
                         assignment_id=assignment.id)
            counts["overdue"] += 1
        elif assignment.reminded_at is None and _near(assignment, policy_for(case.tenant).remind_percent, now):
            assignment.reminded_at = now
            cases.record_event(case, None, "reminder", {"unit": unit.name, "deadline": assignment.deadline.isoformat()})
            notify_unit(unit, title=f"工单临近时限：{case.number}", body="请抓紧办理。", level="warning",
                        case_id=case.id, assignment_id=assignment.id, text_message=True)
            counts["reminded"] += 1
    db.session.flush()
    return counts
