"""Dispatch (派单) and the member units' handling: accept, return, extension, reply.

Assignments live in their unit's tenant; a hub dispatching to a county unit writes there through a
crossing, justified because the hub serves that county. A unit acting on its assignment moves the
case (owned by the dispatching tenant) through `cases.service.transition`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from saas.auth import Actor
from saas.db import crossing, utcnow
from saas.extensions import db
from saas.permissions import SERVED, check
from modules.cases import service as cases
from modules.cases.models import Case
from modules.deadlines import calendar
from modules.deadlines.service import Policy, deadline_for, policy_for
from modules.dispatch import attachments
from modules.dispatch.models import OPEN, Assignment, Attachment, ExtensionRequest
from modules.notifications.service import notify_roles, notify_unit
from modules.triage import service as triage
from modules.units.models import Unit
from tenants.service import scope_ids

MAX_RESULT = 4000
MAX_REASON = 500


class DispatchError(cases.CaseError):
    """A refused dispatch or handling step (same shape as CaseError)."""


@dataclass
class UnitChoice:
    unit: str
    role: str = "lead"


@dataclass
class DispatchData:
    units: list[UnitChoice] = field(default_factory=list)
    working_days: int | None = None
    complex_case: bool = False
    instruction: str = ""


def _units(case: Case, codes: list[str]) -> dict[str, Unit]:
    served, _ = scope_ids(case.tenant, SERVED)
    rows = db.session.scalars(select(Unit).where(Unit.code.in_(codes), Unit.tenant_id.in_(served), Unit.active))
    return {u.code: u for u in rows}


def dispatch(case: Case, actor: Actor, data: DispatchData) -> list[Assignment]:
    cases.require_owner(case, actor, "cases.dispatch")
    if case.status != "new":
        raise DispatchError(f"工单当前为“{case.status_label}”，只有待派单的工单可以派单", "invalid_state")
    errors: dict[str, str] = {}
    codes = [c.unit.strip() for c in data.units if c.unit and c.unit.strip()]
    leads = [c for c in data.units if c.role == "lead"]
    if not codes:
        errors["units"] = "请选择主办单位"
    elif any(c.role not in ("lead", "assist") for c in data.units):
        errors["units"] = "单位角色应为主办（lead）或协办（assist）"
    elif len(leads) != 1:
        errors["units"] = "每件工单须有且只有一个主办单位"
    elif len(set(codes)) != len(codes):
        errors["units"] = "同一单位不能重复选择"
    found = _units(case, codes) if codes else {}
    missing = [c for c in codes if c not in found]
    if missing and "units" not in errors:
        errors["units"] = f"承办单位 {'、'.join(missing)} 不存在、已停用或不属于本地及所辖区县"
    policy = policy_for(case.tenant)
    if data.working_days is not None and not (1 <= data.working_days <= policy.complex_days):
        errors["working_days"] = f"办理时限应为1至{policy.complex_days}个工作日"
    if len(data.instruction or "") > MAX_REASON:
        errors["instruction"] = f"派单意见不能超过{MAX_REASON}字"
    if errors:
        raise DispatchError(errors)
    now = utcnow()
    due = deadline_for(policy, kind=case.kind, urgency=case.urgency, complex_case=data.complex_case, start=now,
                       working_days=data.working_days)
    chosen = [(found[c.unit.strip()], c.role) for c in sorted(data.units, key=lambda c: c.role != "lead")]
    created = []
    with crossing(write={unit.tenant_id for unit, _ in chosen}):  # the hub serves these units' tenants
        for unit, role in chosen:
            assignment = Assignment(tenant_id=unit.tenant_id, case_id=case.id, case_tenant_id=case.tenant_id,
                                    unit_id=unit.id, role=role, status="pending", dispatched_at=now,
                                    dispatched_by_id=actor.user.id if actor.user else None, deadline=due.at,
                                    deadline_label=due.label, instruction=(data.instruction or "").strip())
            db.session.add(assignment)
            created.append(assignment)
        db.session.flush()
    triage.record_dispatch(case, chosen[0][0].code)  # before the transition: one UPDATE of the case
    cases.transition(case, actor, "dispatched", "dispatched", {
        "units": [{"unit": u.code, "name": u.name, "role": r} for u, r in chosen],
        "deadline": due.at.isoformat(), "limit": due.label, "instruction": (data.instruction or "").strip()},
        deadline=due.at, complex_case=data.complex_case)
    for assignment, (unit, role) in zip(created, chosen):
        notify_unit(unit, title=f"新工单：{case.number}（{'主办' if role == 'lead' else '协办'}）",
                    body=f"办理时限{due.label}，请及时签收。", level="info", case_id=case.id,
                    assignment_id=assignment.id, text_message=case.urgency == "urgent" or case.supervised)
    return created


# ---- the unit's side ----------------------------------------------------------------------------

def _own(assignment: Assignment, actor: Actor) -> None:
    check(actor.role, "assignments.handle")
    if actor.unit_id != assignment.unit_id:
        raise DispatchError("这不是本单位的工单", "not_found")


def case_of(assignment: Assignment) -> Case:
    """The case behind an assignment: its unit may read it, whichever tenant owns it."""
    return db.session.execute(select(Case).where(Case.id == assignment.case_id)
                              .execution_options(all_tenants=True)).scalar_one()


def cases_by_id(ids) -> dict[int, Case]:
    """The cases behind a batch of assignments (one query), readable for the same reason as `case_of`."""
    ids = set(ids)
    if not ids:
        return {}
    return {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(ids))
                                                .execution_options(all_tenants=True))}


def accept(assignment: Assignment, actor: Actor) -> Assignment:
    _own(assignment, actor)
    if assignment.status != "pending":
        raise DispatchError(f"工单当前为“{assignment.status_label}”，不能签收", "invalid_state")
    case = case_of(assignment)
    assignment.status, assignment.accepted_at = "accepted", utcnow()
    detail = {"unit": assignment.unit.name, "role": assignment.role}
    if assignment.role == "lead":
        cases.transition(case, actor, "in_progress", "accepted", detail)
    else:
        cases.record_event(case, actor, "accepted", detail)
    db.session.flush()
    return assignment


def return_window_end(assignment: Assignment, case: Case, policy: Policy | None = None):
    policy = policy or policy_for(case.tenant)
    return calendar.add_working_days(assignment.dispatched_at, policy.return_window_days)


def give_back(assignment: Assignment, actor: Actor, reason: str) -> Assignment:
    """退回: within the window, with a reason; a lead's return sends the case back to dispatch."""
    _own(assignment, actor)
    reason = (reason or "").strip()
    if assignment.status not in OPEN:
        raise DispatchError(f"工单当前为“{assignment.status_label}”，不能退回", "invalid_state")
    if not reason:
        raise DispatchError({"reason": "请填写退回理由"})
    if len(reason) > MAX_REASON:
        raise DispatchError({"reason": f"退回理由不能超过{MAX_REASON}字"})
    case = case_of(assignment)
    policy = policy_for(case.tenant)
    if utcnow() > return_window_end(assignment, case, policy):
        raise DispatchError(f"已超过退回时限（派单后{policy.return_window_days}个工作日内），如需更多时间请申请延期",
                            "window_closed")
    unit = assignment.unit
    assignment.status, assignment.return_reason = "returned", reason
    detail = {"unit": unit.name, "role": assignment.role, "reason": reason}
    if assignment.role == "lead":
        for other in assignments_of(case):
            if other.id != assignment.id and other.is_open:
                with crossing(write={other.tenant_id}):
                    other.status = "superseded"
                    db.session.flush()
        cases.transition(case, actor, "new", "returned", detail, deadline=None)
    else:
        cases.record_event(case, actor, "returned", detail)
    notify_roles(case.tenant_id, ("dispatcher",), title=f"工单被退回：{case.number}",
                 body=f"{unit.name}：{reason[:200]}", level="warning", case_id=case.id, assignment_id=assignment.id)
    db.session.flush()
    return assignment


def request_extension(assignment: Assignment, actor: Actor, working_days: int | None, reason: str) -> ExtensionRequest:
    _own(assignment, actor)
    reason = (reason or "").strip()
    case = case_of(assignment)
    limit = policy_for(case.tenant).max_extension_days
    left = limit - assignment.extended_days
    if assignment.status not in OPEN:
        raise DispatchError(f"工单当前为“{assignment.status_label}”，不能申请延期", "invalid_state")
    if db.session.scalar(select(ExtensionRequest.id).where(ExtensionRequest.assignment_id == assignment.id,
                                                           ExtensionRequest.status == "pending")):
        raise DispatchError("已有待审批的延期申请", "conflict")
    errors = {}
    if not isinstance(working_days, int) or isinstance(working_days, bool) or not (1 <= working_days <= max(left, 0)):
        errors["working_days"] = (f"延期应为1至{left}个工作日（累计不超过{limit}个工作日）" if left > 0
                                  else f"延期已达上限{limit}个工作日")
    if not reason:
        errors["reason"] = "请填写延期理由"
    elif len(reason) > MAX_REASON:
        errors["reason"] = f"延期理由不能超过{MAX_REASON}字"
    if errors:
        raise DispatchError(errors)
    request = ExtensionRequest(tenant_id=assignment.tenant_id, assignment_id=assignment.id, case_id=case.id,
                               working_days=working_days, reason=reason,
                               requested_by_id=actor.user.id if actor.user else None)
    db.session.add(request)
    cases.record_event(case, actor, "extension_requested", {"unit": assignment.unit.name,
                                                            "working_days": working_days, "reason": reason})
    notify_roles(case.tenant_id, ("dispatcher",), title=f"延期申请：{case.number}",
                 body=f"{assignment.unit.name}申请延期{working_days}个工作日", case_id=case.id,
                 assignment_id=assignment.id)
    db.session.flush()
    return request


def decide_extension(request: ExtensionRequest, actor: Actor, grant: bool, note: str = "") -> ExtensionRequest:
    assignment = db.session.execute(select(Assignment).where(Assignment.id == request.assignment_id)).scalar_one()
    case = case_of(assignment)
    cases.require_owner(case, actor, "cases.dispatch")
    if request.status != "pending":
        raise DispatchError(f"该延期申请{request.status_label}，不能重复审批", "invalid_state")
    note = (note or "").strip()
    if not grant and not note:
        raise DispatchError({"note": "不同意延期时请填写理由"})
    if len(note) > MAX_REASON:
        raise DispatchError({"note": f"审批意见不能超过{MAX_REASON}字"})
    with crossing(write={assignment.tenant_id}):  # the request and the assignment live in the unit's tenant
        request.status, request.decided_at = ("granted" if grant else "refused"), utcnow()
        request.decided_by_id, request.decision_note = (actor.user.id if actor.user else None), note
        detail = {"unit": assignment.unit.name, "working_days": request.working_days, "note": note}
        if grant:
            assignment.deadline = calendar.extend(assignment.deadline, request.working_days)
            assignment.extended_days += request.working_days
            base = assignment.deadline_label.split("（延期")[0]
            assignment.deadline_label = f"{base}（延期{assignment.extended_days}个工作日）"
            assignment.reminded_at = assignment.overdue_at = None
            detail["deadline"] = assignment.deadline.isoformat()
        db.session.flush()
    if grant and assignment.role == "lead":
        cases.transition(case, actor, case.status, "extension_granted", detail, deadline=assignment.deadline)
    else:
        cases.record_event(case, actor, "extension_granted" if grant else "extension_refused", detail)
    notify_unit(assignment.unit, title=f"延期申请{'已同意' if grant else '未同意'}：{case.number}",
                body=note[:200], case_id=case.id, assignment_id=assignment.id)
    db.session.flush()
    return request


@dataclass
class ReplyData:
    result: str = ""
    resolved: bool | None = None
    files: list = field(default_factory=list)  # werkzeug FileStorage objects


def reply(assignment: Assignment, actor: Actor, data: ReplyData) -> Assignment:
    """办结答复: the lead's reply is the case's answer; an assisting unit's reply goes to the lead."""
    _own(assignment, actor)
    if assignment.status == "pending":
        raise DispatchError("请先签收工单再答复", "invalid_state")
    if assignment.status != "accepted":
        raise DispatchError(f"工单当前为“{assignment.status_label}”，不能答复", "invalid_state")
    result = (data.result or "").strip()
    errors = {}
    if not result:
        errors["result"] = "请填写办理结果"
    elif len(result) > MAX_RESULT:
        errors["result"] = f"办理结果不能超过{MAX_RESULT}字（现有{len(result)}字）"
    if data.resolved is None:
        errors["resolved"] = "请选择诉求是否已解决"
    checked, file_error = attachments.check(data.files)
    if file_error:
        errors["files"] = file_error
    if errors:
        raise DispatchError(errors)
    case = case_of(assignment)
    now = utcnow()
    assignment.status, assignment.replied_at = "replied", now
    assignment.result, assignment.resolved = result, data.resolved
    stored = attachments.store(checked, assignment, actor)
    unit = assignment.unit
    detail = {"unit": unit.name, "role": assignment.role, "result": result, "resolved": data.resolved,
              "attachments": [a.filename for a in stored]}
    if assignment.role == "lead":
        cases.transition(case, actor, "replied", "replied", detail, answer=result, resolved=data.resolved)
        notify_roles(case.tenant_id, ("agent_12345",), title=f"待回访：{case.number}",
                     body=f"{unit.name}已答复", case_id=case.id)
    else:
        cases.record_event(case, actor, "assist_replied", detail)
        lead = next((a for a in assignments_of(case) if a.role == "lead" and a.is_open), None)
        if lead is not None:
            notify_unit(lead.unit, title=f"协办单位已答复：{case.number}", body=unit.name,
                        case_id=case.id, assignment_id=lead.id)
    db.session.flush()
    return assignment


# ---- reading across a case ----------------------------------------------------------------------

def assignments_of(case: Case) -> list[Assignment]:
    """Every assignment of a case the caller may read (in whichever tenants the units are)."""
    return list(db.session.scalars(select(Assignment).where(Assignment.case_id == case.id)
                                   .order_by(Assignment.dispatched_at, Assignment.role.desc(), Assignment.id)
                                   .execution_options(all_tenants=True)))


def notify_open_units(case: Case, **message) -> None:
    for assignment in assignments_of(case):
        if assignment.is_open:
            notify_unit(assignment.unit, case_id=case.id, assignment_id=assignment.id, **message)


def attachments_of(case: Case) -> list[Attachment]:
    return list(db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                   .order_by(Attachment.uploaded_at).execution_options(all_tenants=True)))


def pending_extensions(case: Case) -> list[ExtensionRequest]:
    return list(db.session.scalars(select(ExtensionRequest).where(ExtensionRequest.case_id == case.id)
                                   .order_by(ExtensionRequest.requested_at)
                                   .execution_options(all_tenants=True)))
