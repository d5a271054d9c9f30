"""Dispatch and the units' handling in the JSON API (same services as the pages)."""
from __future__ import annotations

from flask import g, jsonify, request
from sqlalchemy import select

from saas.api import BadBody, body, bp, field, iso
from saas.extensions import db
from saas.idempotency import idempotent
from saas.permissions import require
from modules.cases.api import _readable, assignment_json, case_json
from modules.cases.service import CaseError
from modules.dispatch import service
from modules.dispatch.models import STATUSES, Assignment, ExtensionRequest


def _mine(assignment_id: str) -> Assignment:
    row = db.session.scalar(select(Assignment).where(Assignment.id == int(assignment_id),
                                                     Assignment.unit_id == g.actor.unit_id)) \
        if assignment_id.isdigit() else None
    if row is None:
        raise CaseError("派单不存在或不属于本单位", "not_found")
    return row


def _with_case(a: Assignment, status: int = 200):
    return jsonify({**assignment_json(a), "case_detail": case_json(service.case_of(a))}), status


@bp.post("/cases/<case_id>/assignments")
@require("cases.dispatch")
@idempotent
def dispatch_case(case_id: str):
    data = body()
    units = field(data, "units", list, [], required=True)
    choices = []
    for item in units:
        if not isinstance(item, dict):
            raise BadBody("units 的每一项应为 {\"unit\": 单位编码, \"role\": \"lead\"|\"assist\"}", "units")
        choices.append(service.UnitChoice(field(item, "unit", str, ""), field(item, "role", str, "lead")))
    case = _readable(case_id)
    made = service.dispatch(case, g.actor, service.DispatchData(
        units=choices, working_days=field(data, "deadline_working_days", int),
        complex_case=field(data, "complex", bool, False), instruction=field(data, "instruction", str, "")))
    return jsonify([assignment_json(a) for a in made]), 201


@bp.get("/assignments")
@require("assignments.handle")
def assignments():
    status = request.args.get("status", "")
    stmt = select(Assignment).where(Assignment.unit_id == g.actor.unit_id)
    if status:
        if status not in STATUSES:
            raise BadBody(f"status 应为 {'、'.join(STATUSES)} 之一", "status")
        stmt = stmt.where(Assignment.status == status)
    rows = list(db.session.scalars(stmt.order_by(Assignment.deadline, Assignment.id).limit(500)))
    return jsonify([assignment_json(a) for a in rows])


@bp.post("/assignments/<assignment_id>/accept")
@require("assignments.handle")
@idempotent
def accept(assignment_id: str):
    return _with_case(service.accept(_mine(assignment_id), g.actor))


@bp.post("/assignments/<assignment_id>/return")
@require("assignments.handle")
@idempotent
def give_back(assignment_id: str):
    reason = field(body(), "reason", str, "")
    return _with_case(service.give_back(_mine(assignment_id), g.actor, reason))


@bp.post("/assignments/<assignment_id>/extension")
@require("assignments.handle")
@idempotent
def extension(assignment_id: str):
    data = body()
    request_ = service.request_extension(_mine(assignment_id), g.actor, field(data, "working_days", int, required=True),
                                         field(data, "reason", str, ""))
    return jsonify(extension_json(request_)), 201


@bp.post("/assignments/<assignment_id>/reply")
@require("assignments.handle")
@idempotent
def reply(assignment_id: str):
    data = body()
    a = service.reply(_mine(assignment_id), g.actor, service.ReplyData(
        result=field(data, "result", str, ""), resolved=field(data, "resolved", bool)))
    return _with_case(a)


def extension_json(x: ExtensionRequest) -> dict:
    return {"id": str(x.id), "assignment": str(x.assignment_id), "case": str(x.case_id),
            "working_days": x.working_days, "reason": x.reason, "status": x.status,
            "requested_at": iso(x.requested_at), "decided_at": iso(x.decided_at), "note": x.decision_note}


@bp.post("/extensions/<request_id>/decision")
@require("cases.dispatch")
@idempotent
def decide(request_id: str):
    data = body()
    row = db.session.scalar(select(ExtensionRequest).where(ExtensionRequest.id == int(request_id))) \
        if request_id.isdigit() else None
    if row is None:
        raise CaseError("延期申请不存在或无权查看", "not_found")
    service.decide_extension(row, g.actor, field(data, "grant", bool, required=True), field(data, "note", str, ""))
    return jsonify(extension_json(row))
