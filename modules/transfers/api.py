"""Transfer endpoints of /api/v1 (API.md): send, list, read, accept, reject, negotiate; guiding a
matter out of both scopes, the 110 desk's handling result, and a member unit asking 110 for police.

Thin endpoints: parse with `field()`, load what the caller may see (another tenant's object is 404),
call the service, answer JSON. Refusals of the services are `CaseError`s, answered by the handler
in modules/cases/api.py (status by code: `not_receiver` and `invalid_state` are 409).
"""
from __future__ import annotations

from flask import g, jsonify, request
from sqlalchemy import func, select

from saas.api import BadBody, body, bp, field, iso
from saas.extensions import db
from saas.idempotency import idempotent
from saas.permissions import PermissionDenied, has, require
from modules.cases.api import _full, _readable
from modules.cases.models import Case, CaseEvent
from modules.dispatch.api import _mine
from modules.transfers import desk, negotiation, service
from modules.transfers.models import SENDABLE, Transfer
from modules.transfers.schema import transfer_json

PER_PAGE = 50
# What a client may ask for when sending: an emergency is derived from the case (an emergency sent
# to 110), and a police request starts from a unit's assignment (POST /assignments/<id>/police).
LIST_STATUSES = ("pending", "accepted", "rejected", "negotiating", "all")
# Timeline events that belong to one transfer (their detail names it).
TRANSFER_EVENTS = ("transfer_sent", "transfer_forwarded", "transfer_passed", "transfer_accepted",
                   "transfer_rejected", "negotiation_opened", "negotiation_note", "three_party_call",
                   "negotiation_proposed", "negotiation_agreed", "first_receiver", "linked_opened")
READ_PERMISSIONS = ("transfers.view", "transfers.handle", "transfers.send", "cases.view")


def _nested(data: dict, path: str, kind, default=None):
    """`field()` for a member of a nested object, named by its path ("officer.name") in the error."""
    try:
        return field(data, path.rsplit(".", 1)[-1], kind, default)
    except BadBody as exc:
        raise service.TransferError({path: str(exc)}) from exc


def _readable_transfer(transfer_id: str) -> Transfer:
    transfer = service.readable_transfer(int(transfer_id)) if transfer_id.isdigit() else None
    if transfer is None:
        raise service.TransferError("转办不存在或无权查看", "not_found")
    return transfer


def _numbers(case_ids) -> dict[int, str]:
    """Case numbers for transfers the caller took part in (one query; the hop entitles the read)."""
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    rows = db.session.execute(select(Case.id, Case.number).where(Case.id.in_(ids))
                              .execution_options(all_tenants=True))
    return dict(rows.all())


def _events(transfer: Transfer) -> list[dict]:
    """The transfer's own lines of the case timeline: hops, rejection, negotiation notes and calls."""
    rows = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == transfer.case_id,
                                                      CaseEvent.type.in_(TRANSFER_EVENTS))
                              .order_by(CaseEvent.at, CaseEvent.id).execution_options(all_tenants=True))
    return [{"type": e.type, "at": iso(e.at), "tenant": e.tenant.code, "actor": e.actor_label, "detail": e.detail}
            for e in rows if (e.detail or {}).get("transfer") == transfer.id]


def _one(transfer: Transfer, status: int = 200):
    number = _numbers([transfer.case_id]).get(transfer.case_id)
    return jsonify({**transfer_json(transfer, number), "events": _events(transfer)}), status


# ---- sending and reading -------------------------------------------------------------------------

@bp.post("/cases/<case_id>/transfers")
@require("transfers.send")
@idempotent
def send_transfer(case_id: str):
    data = body()
    officer = field(data, "officer", dict, {})
    purpose = field(data, "purpose", str, "transfer")
    transfer_data = service.TransferData(
        to=field(data, "to", str, ""), reason=field(data, "reason", str, ""), purpose=purpose,
        text=field(data, "text", str, ""), officer_name=_nested(officer, "officer.name", str, ""),
        officer_phone=_nested(officer, "officer.phone", str, ""))
    case = _readable(case_id)
    if purpose not in SENDABLE:
        raise service.TransferError({"purpose": f"转办类型应为 {'、'.join(SENDABLE)} 之一"})
    try:
        transfer = service.send(case, g.actor, transfer_data)
    except service.TransferError as exc:  # name the officer's fields as the body does
        names = {"officer_name": "officer.name", "officer_phone": "officer.phone"}
        if any(k in exc.errors for k in names):
            raise service.TransferError({names.get(k, k): v for k, v in exc.errors.items()}, exc.code) from exc
        raise
    return _one(transfer, 201)


@bp.get("/transfers")
def list_transfers():
    """`status=pending` (the default): what waits for the caller's tenant and platform to act;
    otherwise the transfers the caller's tenants took part in, with that status (or `all`)."""
    if not any(has(g.actor.role, p) for p in READ_PERMISSIONS):
        raise PermissionDenied("transfers.view")
    status = request.args.get("status", "pending") or "pending"
    if status not in LIST_STATUSES:
        raise BadBody(f"status 应为 {'、'.join(LIST_STATUSES)} 之一", "status")
    page = request.args.get("page", "1")
    if not page.isdigit() or int(page) < 1:
        raise BadBody("page 应为正整数", "page")
    page = int(page)
    stmt = service.waiting_query(g.actor) if status == "pending" else service.involved_query(status)
    # Both statements read the senders' rows across tenants, limited by the caller's own hops.
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())
                              .execution_options(all_tenants=True))
    items = list(db.session.scalars(stmt.limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    numbers = _numbers(t.case_id for t in items)
    return jsonify({"items": [transfer_json(t, numbers.get(t.case_id)) for t in items], "page": page,
                    "per_page": PER_PAGE, "total": total, "pages": -(-total // PER_PAGE)})


@bp.get("/transfers/<transfer_id>")
def get_transfer(transfer_id: str):
    if not any(has(g.actor.role, p) for p in READ_PERMISSIONS):
        raise PermissionDenied("transfers.view")
    return _one(_readable_transfer(transfer_id))


# ---- the receiving side --------------------------------------------------------------------------

@bp.post("/transfers/<transfer_id>/accept")
@require("transfers.handle")
@idempotent
def accept_transfer(transfer_id: str):
    return _one(service.accept(_readable_transfer(transfer_id), g.actor))


@bp.post("/transfers/<transfer_id>/reject")
@require("transfers.handle")
@idempotent
def reject_transfer(transfer_id: str):
    reason = field(body(), "reason", str, "")
    return _one(service.reject(_readable_transfer(transfer_id), g.actor, reason))


# ---- negotiation ---------------------------------------------------------------------------------

@bp.post("/transfers/<transfer_id>/negotiation")
@require("transfers.handle")
@idempotent
def open_negotiation(transfer_id: str):
    note = field(body(), "note", str, "")
    return _one(negotiation.open_(_readable_transfer(transfer_id), g.actor, note))


@bp.post("/transfers/<transfer_id>/negotiation/notes")
@require("transfers.handle")
@idempotent
def negotiation_note(transfer_id: str):
    data = body()
    text = field(data, "text", str, "")
    call = field(data, "three_party_call", bool, False)
    phone = field(data, "call_phone", str, "")
    if phone and not call:
        raise service.TransferError({"call_phone": "只有三方通话（three_party_call: true）需要填写通话电话"})
    transfer = _readable_transfer(transfer_id)
    negotiation.add_note(transfer, g.actor, text, call=call, call_phone=phone.strip())
    return _one(transfer, 201)


@bp.post("/transfers/<transfer_id>/negotiation/proposal")
@require("transfers.handle")
@idempotent
def negotiation_proposal(transfer_id: str):
    taker = field(body(), "taker", str, "")
    return _one(negotiation.propose(_readable_transfer(transfer_id), g.actor, taker))


# ---- steps on a case that belong to the linkage ---------------------------------------------------

@bp.post("/cases/<case_id>/guide")
@require("cases.close")
@idempotent
def guide(case_id: str):
    data = body()
    channel, note = field(data, "channel", str, ""), field(data, "note", str, "")
    case = _readable(case_id)
    return _full(desk.guide(case, g.actor, channel, note))


@bp.post("/cases/<case_id>/police-result")
@require("cases.close")
@idempotent
def police_result(case_id: str):
    result = field(body(), "result", str, "")
    case = _readable(case_id)
    return _full(desk.police_handled(case, g.actor, result))


@bp.post("/assignments/<assignment_id>/police")
@require("transfers.police")
@idempotent
def request_police(assignment_id: str):
    reason = field(body(), "reason", str, "")
    return _one(desk.request_police(_mine(assignment_id), g.actor, reason), 201)
