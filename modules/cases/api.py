"""Cases in the JSON API: intake, read, list, close, follow-up, supervision (same services as pages)."""
from __future__ import annotations

from datetime import datetime

from flask import g, jsonify, request
from sqlalchemy import select

from saas import audit
from saas.api import BadBody, body, bp, field, iso
from saas.extensions import db
from saas.idempotency import idempotent
from saas.permissions import PermissionDenied, has, require
from saas.text import mask_name, mask_phone
from modules.cases import service
from modules.cases.models import STATUSES, Case
from modules.dispatch import service as dispatch
from modules.dispatch.models import Assignment
from modules.transfers import service as transfers
from modules.transfers.models import Transfer
from modules.transfers.schema import tenant_code, transfer_json

# A refusal's code → status. Transfers: `not_receiver` (the hop waits for another desk) and
# `emergency` (110 may not refuse an emergency) are conflicts with the transfer's state, 409;
# `not_party` (not an end of the transfer) and `no_seat` are 403; anything else with fields is 422.
STATUS_CODES = {"not_found": 404, "invalid_state": 409, "window_closed": 409, "conflict": 409,
                "read_only": 403, "wrong_platform": 403, "not_receiver": 409, "emergency": 409,
                "not_party": 403, "no_seat": 403}
PER_PAGE = 50


@bp.errorhandler(service.CaseError)
def _case_error(exc: service.CaseError):
    error = {"code": exc.code, "message": str(exc)}
    if "_" not in exc.errors:
        error["fields"] = exc.errors
    return jsonify({"error": error}), STATUS_CODES.get(exc.code, 422)


def assignment_json(a: Assignment) -> dict:
    return {"id": str(a.id), "case": str(a.case_id), "unit": a.unit.code, "role": a.role, "status": a.status,
            "deadline": iso(a.deadline), "deadline_label": a.deadline_label, "dispatched_at": iso(a.dispatched_at),
            "accepted_at": iso(a.accepted_at), "replied_at": iso(a.replied_at), "result": a.result,
            "resolved": a.resolved, "return_reason": a.return_reason, "extended_days": a.extended_days}


def linked_json(linked: Case | None) -> dict | None:
    """The case on the other platform linked to this one: each side sees the other's progress."""
    if linked is None:
        return None
    return {"id": str(linked.id), "number": linked.number, "tenant": linked.tenant.code, "platform": linked.platform,
            "status": linked.status, "answer": linked.answer}


_FETCH = object()


def case_json(case: Case, *, full: bool = False, reveal: bool = False, fresh: bool = False,
              transfers_: list[Transfer] | None = None, linked: Case | None = _FETCH) -> dict:
    """The API's case; `fresh` for a case created in this request (no assignments, transfers or
    link yet). A list passes each case's `transfers_` and `linked` case, read for the whole page."""
    if fresh:
        transfers_, linked = [], None
    if transfers_ is None:
        transfers_ = transfers.transfers_of(case)
    if linked is _FETCH:
        linked = service.linked_case(case)
    data = {
        "id": str(case.id), "number": case.number, "tenant": tenant_code(case.received_tenant_id),
        "owner_tenant": case.tenant.code, "platform": case.platform, "place_tenant": tenant_code(case.place_tenant_id),
        "status": case.status, "emergency": case.emergency, "kind": case.kind, "urgency": case.urgency,
        "grade": case.grade, "triage": case.triage, "channel": case.channel, "address": case.address,
        "caller": {"name": case.caller_name if reveal else mask_name(case.caller_name),
                   "phone": case.caller_phone if reveal else mask_phone(case.caller_phone)},
        "text": case.text, "created_at": iso(case.created_at), "updated_at": iso(case.updated_at),
        "deadline": iso(case.deadline), "supervised": case.supervised, "supervision_note": case.supervision_note,
        "answer": case.answer, "resolved": case.resolved, "satisfaction": case.satisfaction,
        "close_reason": case.close_reason, "closed_at": iso(case.closed_at),
        "transfers": [transfer_json(t, case.number) for t in transfers_], "linked_case": linked_json(linked),
    }
    if full:
        from modules.cases.queries import fresh_events, timeline

        assignments = [] if fresh else dispatch.assignments_of(case)
        events = fresh_events(case) if fresh else timeline(case)
        data["assignments"] = [assignment_json(a) for a in assignments]
        data["events"] = [{"type": e.type, "at": iso(e.at), "tenant": e.tenant.code, "actor": e.actor_label,
                           "detail": e.detail} for e in events]
    return data


def _readable(case_id: str, *, follow: bool = True) -> Case:
    """A case the caller may read: through the scoped session, or having taken part in one of its
    transfers (the county 110 follows what it handed up; `follow=False` for a step that must not
    reach further than the caller's scope), or for a unit through its assignment."""
    if not case_id.isdigit():
        raise service.CaseError("工单不存在或无权查看", "not_found")
    case = None
    if has(g.actor.role, "cases.view"):
        case = transfers.readable_case(int(case_id)) if follow else \
            db.session.scalar(select(Case).where(Case.id == int(case_id)))
    elif g.actor.unit_id and has(g.actor.role, "assignments.handle"):  # a unit reads only its own cases
        mine = db.session.scalar(select(Assignment).where(Assignment.case_id == int(case_id),
                                                          Assignment.unit_id == g.actor.unit_id))
        case = dispatch.case_of(mine) if mine else None
    if case is None:
        raise service.CaseError("工单不存在或无权查看", "not_found")
    return case


def _full(case: Case, status: int = 200):
    reveal = transfers.may_reveal(g.actor, case)
    if reveal and (case.caller_phone or case.caller_name):
        audit.record(g.actor, "case.reveal_contact", case, detail={"number": case.number, "reason": "接口读取"})
    return jsonify(case_json(case, full=True, reveal=reveal)), status


@bp.post("/cases")
@require("cases.intake")
@idempotent
def create_case():
    data = body()
    caller = field(data, "caller", dict, {})
    received_by = field(data, "received_by", str)
    intake = service.IntakeData(
        text=field(data, "text", str, "", required=True), channel=field(data, "channel", str, "api"),
        caller_name=field(caller, "name", str, ""), caller_phone=field(caller, "phone", str, ""),
        address=field(data, "address", str, ""), kind=field(data, "kind", str, ""),
        urgency=field(data, "urgency", str, "normal"), emergency=field(data, "emergency", bool),
        received_by=received_by, place_tenant=field(data, "place_tenant", str),
        answer=field(data, "answer", str, ""))
    case = service.intake(g.actor.tenant, g.actor, intake)
    # The caller just gave the contact details: echoing them back is not a reveal.
    return jsonify(case_json(case, full=True, reveal=True, fresh=True)), 201


@bp.get("/cases/<case_id>")
def get_case(case_id: str):
    if not (has(g.actor.role, "cases.view") or has(g.actor.role, "assignments.handle")):
        raise PermissionDenied("cases.view")
    return _full(_readable(case_id))


@bp.get("/cases")
@require("cases.view")
def list_cases():
    stmt = select(Case)
    status, platform = request.args.get("status", ""), request.args.get("platform", "")
    if status:
        if status not in STATUSES:
            raise BadBody(f"status 应为 {'、'.join(STATUSES)} 之一", "status")
        stmt = stmt.where(Case.status == status)
    if platform:
        if platform not in ("12345", "110"):
            raise BadBody("platform 应为 12345 或 110", "platform")
        stmt = stmt.where(Case.platform == platform)
    since = request.args.get("updated_since", "")
    if since:
        try:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00").replace(" ", "+"))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise BadBody("updated_since 应为带时区的 ISO 8601 时间，如 2026-11-22T09:30:00+08:00", "updated_since")
        stmt = stmt.where(Case.updated_at > moment)
    page = request.args.get("page", "1")
    if not page.isdigit() or int(page) < 1:
        raise BadBody("page 应为正整数", "page")
    result = db.paginate(stmt.order_by(Case.updated_at, Case.id), page=int(page), per_page=PER_PAGE, error_out=False)
    moved, linked = _page_links(result.items)
    return jsonify({"items": [case_json(c, transfers_=moved.get(c.id, []), linked=linked.get(c.linked_case_id))
                              for c in result.items],
                    "page": result.page, "per_page": PER_PAGE, "total": result.total, "pages": result.pages})


def _page_links(page: list[Case]) -> tuple[dict[int, list[Transfer]], dict[int, Case]]:
    """The transfers and linked cases of a page of readable cases, in two queries (hops in a third).
    Read across tenants for the reason `transfers_of` and `linked_case` give: the case is readable."""
    ids = [c.id for c in page]
    moved: dict[int, list[Transfer]] = {}
    if ids:
        for t in db.session.scalars(select(Transfer).where(Transfer.case_id.in_(ids)).order_by(Transfer.id)
                                    .execution_options(all_tenants=True)):
            moved.setdefault(t.case_id, []).append(t)
    linked_ids = sorted({c.linked_case_id for c in page if c.linked_case_id})
    linked = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(linked_ids))
                                                   .execution_options(all_tenants=True))} if linked_ids else {}
    return moved, linked


@bp.post("/cases/<case_id>/close")
@require("cases.close")
@idempotent
def close_case(case_id: str):
    case = _readable(case_id)
    service.close(case, g.actor, field(body(), "reason", str, ""))
    return _full(case)


@bp.post("/cases/<case_id>/followup")
@require("cases.followup")
@idempotent
def followup(case_id: str):
    data = body()
    case = _readable(case_id)
    service.followup(case, g.actor, service.FollowupData(
        reached=field(data, "reached", bool, True), solved=field(data, "solved", bool),
        satisfaction=field(data, "satisfaction", str, ""), note=field(data, "note", str, "")))
    return _full(case)


@bp.post("/cases/<case_id>/supervise")
@require("cases.supervise")
@idempotent
def supervise(case_id: str):
    # Supervision writes on a case the caller need not own: only within the caller's own scope,
    # never on a case it merely follows after handing it over.
    case = _readable(case_id, follow=False)
    service.supervise(case, g.actor, field(body(), "instruction", str, ""))
    return _full(case)
