"""A desk's own steps around the linkage: a unit asking 110 for police from its assignment (联动110),
a dedicated seat (专席) taking a case over, closing a matter outside both scopes (引导解释), and
110 recording how police handled a case (处警反馈)."""
from __future__ import annotations

from sqlalchemy import select

from saas.auth import Actor
from saas.db import crossing, utcnow
from saas.extensions import db
from saas.permissions import check, has, role as role_of
from modules.cases import service as cases
from modules.cases.models import Case
from modules.transfers import routing
from modules.transfers.models import Seat, Transfer, TransferHop
from modules.transfers.service import MAX_REASON, TransferError, check_state, kind_for, open_transfer, state_refusal
from tenants.models import PLATFORMS, Tenant

# Where a citizen is pointed when a matter belongs to neither platform (引导解释).
GUIDE_CHANNELS = ("人民法院", "仲裁机构", "纪检监察机关", "信访部门", "行政复议机关", "外省（市）相关部门", "其他渠道")


def police_refusal(assignment, actor: Actor, case: Case) -> TransferError | None:
    """Why this handler may not ask 110 for police from this assignment now, or None."""
    if not has(actor.role, "transfers.police"):
        return TransferError("本岗位不能请求110出警", "forbidden")
    if assignment.unit_id != actor.unit_id or assignment.status not in ("pending", "accepted"):
        return TransferError("只能在本单位办理中的工单上请求110出警", "invalid_state")
    return state_refusal(case, "police")


def request_police(assignment, actor: Actor, reason: str) -> Transfer:
    """A member unit finds a dispute escalating during its work and asks 110 for police (联动110)."""
    from modules.dispatch import service as dispatch

    check(actor.role, "transfers.police")
    case = dispatch.case_of(assignment)
    refused = police_refusal(assignment, actor, case)
    if refused is not None:
        raise refused
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise TransferError({"reason": "请说明现场情况和需要110处置的事项"})
    if len(reason) > MAX_REASON:
        raise TransferError({"reason": f"情况说明不能超过{MAX_REASON}字"})
    check_state(case, "police")
    place = db.session.get(Tenant, case.place_tenant_id)
    try:
        stops = routing.route(case.tenant, case.platform, "110", place)
    except routing.RouteError as exc:
        raise TransferError(str(exc), "no_route") from exc
    with crossing(write={case.tenant_id}):  # the unit writes on the case its hub dispatched to it
        return open_transfer(case, actor, stops, purpose="police", reason=f"{actor.label}：{reason}", detail={
            "unit": assignment.unit.name}, text=reason)


def holds_seat(case: Case, actor: Actor) -> bool:
    """The actor, of the other platform, holds a seat in the queue of this case's platform, here."""
    own = role_of(actor.role).platform
    if (own is None or own == case.platform or actor.user is None or actor.tenant.id != case.tenant_id
            or not has(actor.role, "transfers.handle")):
        return False
    return db.session.scalar(select(Seat.id).where(Seat.tenant_id == case.tenant_id, Seat.platform == case.platform,
                                                   Seat.user_id == actor.user.id)) is not None


def take_by_seat(case: Case, actor: Actor) -> Transfer:
    """A dedicated seat (专席) takes a case of the platform it sits in over to its own platform,
    in one step (Chongqing's 110 seat inside 12345)."""
    own = role_of(actor.role).platform
    check(actor.role, "transfers.handle")
    if not holds_seat(case, actor):
        raise TransferError(f"您没有{PLATFORMS[case.platform]}的专席，不能直接接转", "no_seat")
    if case.status != "new":
        raise TransferError(f"工单当前为“{case.status_label}”，只有待派单的工单可以接转", "invalid_state")
    check_state(case, "transfer")
    now = utcnow()
    transfer = Transfer(tenant_id=case.tenant_id, case_id=case.id, purpose="transfer", from_platform=case.platform,
                        to_tenant_id=case.tenant_id, to_platform=own, reason=f"专席接转（{actor.label}）",
                        emergency=case.emergency, status="accepted", created_at=now, decided_at=now,
                        actor_label=actor.label, created_by_id=actor.user.id if actor.user else None, current_seq=1)
    transfer.hops = [TransferHop(tenant_id=case.tenant_id, case_id=case.id, seq=0, platform=case.platform,
                                 status="origin", arrived_at=now, acted_at=now, actor_label=actor.label),
                     TransferHop(tenant_id=case.tenant_id, case_id=case.id, seq=1, platform=own, status="accepted",
                                 arrived_at=now, acted_at=now, actor_label=actor.label)]
    db.session.add(transfer)
    db.session.flush()
    kind = kind_for(case, own, "transfer")
    cases.transition(case, actor, "new", "seat_taken", {"transfer": transfer.id, "to": own,
                     **({"kind": [case.kind, kind]} if kind != case.kind else {})}, platform=own, kind=kind)
    return transfer


# ---- outside both scopes -------------------------------------------------------------------------

def guide(case: Case, actor: Actor, channel: str, note: str) -> Case:
    """Close a matter outside both platforms' scope by pointing the citizen to where it belongs."""
    cases.require_owner(case, actor, "cases.close")
    if case.status != "new":
        raise TransferError(f"工单当前为“{case.status_label}”，只有待派单的工单可以引导解释办结", "invalid_state")
    note = (note or "").strip()
    errors = {}
    if channel not in GUIDE_CHANNELS:
        errors["channel"] = f"请选择引导去向（{'、'.join(GUIDE_CHANNELS)}）"
    if len(note) < 4:
        errors["note"] = "请写明向来电人解释的内容"
    elif len(note) > 1000:
        errors["note"] = "解释内容不能超过1000字"
    if errors:
        raise TransferError(errors)
    reason = f"引导解释：{channel}"
    cases.transition(case, actor, "closed", "guided", {"channel": channel, "note": note}, close_reason=reason,
                     answer=note, closed_at=utcnow())
    return case


def police_handled(case: Case, actor: Actor, result: str) -> Case:
    """The 110 desk records how the police handled a case (处警反馈); a linked 12345 case sees it."""
    cases.require_owner(case, actor, "cases.close")
    result = (result or "").strip()
    if case.platform != "110":
        raise TransferError("处警反馈只用于110警单", "invalid_state")
    if case.status in ("closed", "transferring", "negotiating"):
        raise TransferError(f"工单当前为“{case.status_label}”，不能填写处警反馈", "invalid_state")
    if len(result) < 4:
        raise TransferError({"result": "请填写处警情况"})
    if len(result) > cases.MAX_TEXT:
        raise TransferError({"result": f"处警情况不能超过{cases.MAX_TEXT}字"})
    cases.transition(case, actor, "closed", "police_handled", {"result": result}, answer=result, resolved=True,
                     close_reason="处警完毕", closed_at=utcnow())
    return case
