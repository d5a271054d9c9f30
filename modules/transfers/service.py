"""Transfers (分流转办) between 12345 and 110: send along the hub route, accept or forward at each
hop, reject back to the sender; linked cases for joint handling, emergencies, clues and police
requests; seats; closing a matter outside both scopes.

A transfer belongs to its sender's tenant and each hop to the tenant at that step. A receiving hop
writes the transfer and the case of another tenant through `crossing(...)`, justified by the hop
that names it as the receiving side.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, update

from saas.auth import Actor
from saas.db import crossing, current_context, utcnow
from saas.extensions import db
from saas.permissions import check, has, role as role_of
from saas.text import valid_phone
from modules.cases import service as cases
from modules.cases.models import Case
from modules.notifications.service import notify_roles
from modules.transfers import routing
from modules.transfers.models import LINKED, PURPOSES, URGENT, Transfer, TransferHop
from tenants.models import PLATFORMS, Tenant

MAX_REASON = 500


class TransferError(cases.CaseError):
    """A refused transfer step (same shape as CaseError)."""


@dataclass
class TransferData:
    to: str
    reason: str
    purpose: str = "transfer"
    text: str = ""            # joint handling: the part that needs government departments
    officer_name: str = ""    # joint handling: the officers' contact on scene
    officer_phone: str = ""


# ---- reading -------------------------------------------------------------------------------------

# A tenant takes part in a transfer once the matter has reached its hop: a county 110 further down
# the route sees nothing while the hub 110 has not passed the case on (or if it keeps it).
REACHED = TransferHop.arrived_at.is_not(None)


def took_part(case_id: int) -> bool:
    """The actor's tenant is on the route of a transfer of this case (sender or a hop)."""
    return db.session.scalar(select(TransferHop.id).where(TransferHop.case_id == case_id, REACHED)
                             .limit(1)) is not None


def readable_case(case_id: int) -> Case | None:
    """A case the context reads through its scope, or, having taken part in a transfer of it,
    across tenants: the county 110 follows the matter it handed up to the hub 12345."""
    case = db.session.scalar(select(Case).where(Case.id == case_id))
    if case is None and took_part(case_id):
        case = db.session.scalar(select(Case).where(Case.id == case_id).execution_options(all_tenants=True))
    return case


def transfers_of(case: Case) -> list[Transfer]:
    """Every transfer of a readable case, with its hops, oldest first (both sides see the same)."""
    return list(db.session.scalars(select(Transfer).where(Transfer.case_id == case.id)
                                   .order_by(Transfer.id).execution_options(all_tenants=True)))


def readable_transfer(transfer_id: int) -> Transfer | None:
    """A transfer the context took part in (any of its hops is in the context's tenants)."""
    hop = db.session.scalar(select(TransferHop).where(TransferHop.transfer_id == transfer_id, REACHED).limit(1))
    if hop is None:
        return None
    return db.session.scalar(select(Transfer).where(Transfer.id == transfer_id).execution_options(all_tenants=True))


def waiting_query(actor: Actor):
    """Transfers whose current hop waits for the actor's tenant and platform: emergencies first,
    then oldest first. A statement, for the caller to page."""
    platform = role_of(actor.role).platform
    hops = select(TransferHop.transfer_id).where(TransferHop.tenant_id == actor.tenant.id,
                                                 TransferHop.status == "pending")
    if platform:
        hops = hops.where(TransferHop.platform == platform)
    return (select(Transfer).where(Transfer.id.in_(hops))
            .order_by(or_(Transfer.emergency, Transfer.purpose.in_(URGENT)).desc(), Transfer.created_at, Transfer.id)
            .execution_options(all_tenants=True))  # the sender's rows, named by the actor's own hops


def involved_query(status: str = "all"):
    """Transfers with a hop in the context's tenants (with `status`, or all), oldest first."""
    hops = select(TransferHop.transfer_id).where(TransferHop.tenant_id.in_(sorted(current_context().read_ids)), REACHED)
    stmt = select(Transfer).where(Transfer.id.in_(hops))
    if status != "all":
        stmt = stmt.where(Transfer.status == status)
    return stmt.order_by(Transfer.created_at, Transfer.id).execution_options(all_tenants=True)


def waiting_for(actor: Actor, limit: int = 200) -> list[Transfer]:
    return list(db.session.scalars(waiting_query(actor).limit(limit)))


def may_handle(actor: Actor, hop: TransferHop | None) -> bool:
    """Only the receiving side acts on a hop: its tenant, a role of its platform."""
    if hop is None or hop.status != "pending" or not has(actor.role, "transfers.handle"):
        return False
    return actor.tenant.id == hop.tenant_id and role_of(actor.role).platform == hop.platform


def may_reveal(actor: Actor, case: Case, rows: list[Transfer] | None = None) -> bool:
    """The caller's full name and phone: for a role that may reveal, on a case in its scope, or
    when its desk must receive the case now (the county 110 about to send officers). A desk that
    only follows a case it handed over sees the masked caller."""
    if not has(actor.role, "cases.reveal"):
        return False
    if actor.context.may_read(case.tenant_id):
        return True
    return any(may_handle(actor, t.current) for t in (rows if rows is not None else transfers_of(case)))


def side_of(actor: Actor, transfer: Transfer) -> str | None:
    """"origin" or "target" when the actor stands for that end of the transfer, else None."""
    platform = role_of(actor.role).platform
    if not has(actor.role, "transfers.handle") or platform is None:
        return None
    for name, hop in (("origin", transfer.origin), ("target", transfer.target)):
        if hop.tenant_id == actor.tenant.id and hop.platform == platform:
            return name
    return None


# ---- sending -------------------------------------------------------------------------------------

def _validate(case: Case, data: TransferData) -> dict[str, str]:
    errors: dict[str, str] = {}
    reason = (data.reason or "").strip()
    if not reason:
        errors["reason"] = "请填写转办理由"
    elif len(reason) > MAX_REASON:
        errors["reason"] = f"转办理由不能超过{MAX_REASON}字"
    if data.to not in PLATFORMS or data.to == case.platform:
        errors["to"] = f"只能转往{PLATFORMS[routing.other(case.platform)]}"
    if data.purpose not in PURPOSES:
        errors["purpose"] = "转办类型不正确"
    elif data.purpose == "police":  # a member unit's request, from its assignment (request_police)
        errors["purpose"] = "出警请求由承办单位在工单办理页面发起"
    elif data.purpose == "emergency" and not case.emergency:  # it follows the case's flag, not a choice
        errors["purpose"] = "只有标记为紧急的工单才按紧急警情移交；请先核实并标记紧急"
    if len((data.text or "").strip()) > cases.MAX_TEXT:
        errors["text"] = f"需政府部门处理的事项不能超过{cases.MAX_TEXT}字"
    if data.purpose == "joint":
        if len((data.text or "").strip()) < 4:
            errors["text"] = "请写明需要政府部门处理的事项"
        if not (data.officer_name or "").strip():
            errors["officer_name"] = "请填写处警民警姓名"
        elif len(data.officer_name.strip()) > 32:
            errors["officer_name"] = "处警民警姓名不能超过32字"
        if not valid_phone(data.officer_phone or ""):
            errors["officer_phone"] = "请填写处警民警的联系电话"
    return errors


def _purpose(case: Case, data: TransferData) -> str:
    if data.purpose == "transfer" and case.emergency and data.to == "110":
        return "emergency"  # 110 dispatches first and cannot refuse; 12345 keeps the case to coordinate
    return data.purpose


def _hold(case: Case) -> None:
    """Lock the case's row as the actor saw it before checking for open transfers: of two desks
    sending the same case at once, the second waits for the first's commit (a row lock on
    PostgreSQL, the write lock on SQLite) and then finds the case changed or a transfer open."""
    stmt = (update(Case).where(Case.id == case.id, Case.status == case.status, Case.tenant_id == case.tenant_id,
                               Case.platform == case.platform, Case.linked_case_id == case.linked_case_id)
            .values(status=Case.status).execution_options(synchronize_session=False))
    with cases.writing(case):
        held = db.session.execute(stmt).rowcount == 1
    if not held:
        raise TransferError("该工单刚被他人处理，请刷新后查看", "conflict")


def claim(transfer: Transfer, **seen) -> None:
    """Lock the transfer's row for this step if it is still as the actor saw it (`seen`: column
    values), else refuse: of two desks deciding at once, or one deciding on a stale page, only the
    first goes on; the other waits for its commit and then finds the row changed."""
    stmt = (update(Transfer).where(Transfer.id == transfer.id, *(getattr(Transfer, name) == value
                                                                  for name, value in seen.items()))
            .values(current_seq=Transfer.current_seq).execution_options(synchronize_session=False))
    with crossing(write={transfer.tenant_id}):
        won = db.session.execute(stmt).rowcount == 1
    if not won:
        raise TransferError("该转办刚被他人处理，请刷新后查看", "conflict")


def state_refusal(case: Case, purpose: str) -> TransferError | None:
    """Why the case cannot cross with `purpose` now, or None. Pages ask this to offer the form."""
    if case.status == "closed" and purpose not in ("joint",):
        return TransferError("工单已办结，不能转办", "invalid_state")
    open_ = db.session.scalar(select(Transfer.id).where(Transfer.case_id == case.id, Transfer.status.in_(
        ("pending", "negotiating"))).execution_options(all_tenants=True).limit(1))
    if open_ is not None:
        return TransferError("该工单已有进行中的转办或协商，请等待对方处理", "invalid_state")
    if purpose == "transfer":
        if case.status != "new":
            return TransferError(f"工单当前为“{case.status_label}”，只有待派单的工单可以转办", "invalid_state")
        if _returned_to_holder(case):
            return TransferError("对方已退回本工单：请自行办理，或就此发起协商（协商不成按首接负责制处理）",
                                 "returned")
        if case.emergency and case.platform == "110":
            return TransferError("紧急警情须由110先行处置；需要政府部门处理的部分请用“联合调处”转12345", "emergency")
    elif purpose in LINKED and case.linked_case_id:
        return TransferError("该工单已有关联工单，请在关联工单上继续办理", "invalid_state")
    if purpose == "joint" and case.platform != "110":
        return TransferError("联合调处由110在处警后转12345", "invalid_state")
    if purpose == "clue" and case.platform != "12345":
        return TransferError("维稳线索由12345推送110", "invalid_state")
    if purpose in ("emergency", "police") and case.platform != "12345":
        return TransferError("紧急警情和出警请求由12345转110", "invalid_state")
    return None


def _returned_to_holder(case: Case) -> bool:
    """The case's latest hand-over came back to its holder (refused, or kept after a negotiation):
    the holder handles it or negotiates, rather than sending it round again."""
    latest = db.session.scalar(select(Transfer).where(Transfer.case_id == case.id, Transfer.purpose == "transfer")
                               .order_by(Transfer.id.desc()).limit(1).execution_options(all_tenants=True))
    if latest is None or latest.status != "rejected":
        return False
    origin = latest.origin
    return (origin.tenant_id, origin.platform) == (case.tenant_id, case.platform)


def check_state(case: Case, purpose: str) -> None:
    """Lock the case, then refuse what `state_refusal` refuses."""
    _hold(case)
    refused = state_refusal(case, purpose)
    if refused is not None:
        raise refused


def intake_and_send_on(tenant: Tenant, actor: Actor, data: cases.IntakeData) -> tuple[Case, Transfer | None]:
    """Intake; when the agent accepted a suggestion for the other platform (`transfer_to`), hand
    the case over in the same step (an emergency goes straight to the police; 12345 keeps its own
    case to coordinate). A consultation answered on the spot is not sent on."""
    case = cases.intake(tenant, actor, data)
    if not data.transfer_to or data.transfer_to == case.platform or data.answer:
        return case, None
    reason = "智能分流建议由" + data.transfer_to + "受理，话务员采纳"
    return case, send(case, actor, TransferData(to=data.transfer_to, reason=reason))


def send(case: Case, actor: Actor, data: TransferData) -> Transfer:
    """Hand a case (or, for a linked purpose, part of it) to the other platform along the hub route."""
    cases.require_owner(case, actor, "transfers.send")
    errors = _validate(case, data)
    if errors:
        raise TransferError(errors)
    purpose = _purpose(case, data)
    check_state(case, purpose)
    place = db.session.get(Tenant, case.place_tenant_id)
    try:  # a clue goes to the hub 110 itself, which coordinates the police response
        stops = routing.route(case.tenant, case.platform, data.to, None if purpose == "clue" else place)
    except routing.RouteError as exc:
        raise TransferError({"to": str(exc)}, "no_route") from exc
    detail = {}
    if purpose == "joint":
        detail = {"officer_name": data.officer_name.strip(), "officer_phone": data.officer_phone.strip()}
    return open_transfer(case, actor, stops, purpose=purpose, reason=data.reason.strip(), detail=detail,
                   text=(data.text or "").strip() or None)


def open_transfer(case: Case, actor: Actor | None, stops: list[routing.Stop], *, purpose: str, reason: str,
            detail: dict, text: str | None) -> Transfer:
    now = utcnow()
    transfer = Transfer(tenant_id=case.tenant_id, case_id=case.id, purpose=purpose, from_platform=stops[0].platform,
                        to_tenant_id=stops[-1].tenant.id, to_platform=stops[-1].platform, reason=reason,
                        text=text, detail=detail, emergency=case.emergency or purpose == "emergency",
                        status="pending", created_at=now, actor_label=actor.label if actor else "系统",
                        created_by_id=actor.user.id if actor and actor.user else None)
    urgent = purpose in URGENT
    current = len(stops) - 1 if urgent else 1
    hops = []
    for seq, stop in enumerate(stops):
        if seq == 0:
            status, arrived, acted = "origin", now, now
        elif seq < current:
            status, arrived, acted = "auto", now, now  # an emergency does not wait at intermediate desks
        else:
            status, arrived, acted = ("pending", now, None) if seq == current else ("waiting", None, None)
        hops.append(TransferHop(tenant_id=stop.tenant.id, case_id=case.id, seq=seq, platform=stop.platform,
                                status=status, arrived_at=arrived, acted_at=acted,
                                actor_label=(actor.label if actor else "系统") if seq == 0 else None))
    transfer.hops = hops
    transfer.current_seq = current
    with crossing(write={s.tenant.id for s in stops}):  # every tenant on the route gets its hop
        db.session.add(transfer)
        db.session.flush()
    event = {"transfer": transfer.id, "purpose": purpose, "reason": reason, "to": transfer.to_platform,
             "route": [f"{s.tenant.name}{s.platform}" for s in stops]}
    if transfer.linked:
        cases.record_event(case, actor, "transfer_sent", event)
    else:
        cases.transition(case, actor, "transferring", "transfer_sent", event)
    if urgent and current > 1:
        cases.record_event(case, actor, "transfer_passed", {"transfer": transfer.id, "hops": current - 1})
    _arrive(transfer, case)
    return transfer


def _arrive(transfer: Transfer, case: Case) -> None:
    """Tell the receiving desk (and its external system, if registered) that a hop waits for it."""
    hop = transfer.hops[transfer.current_seq]
    urgent = transfer.purpose in URGENT or transfer.emergency
    title = f"{'【紧急】' if urgent else ''}{transfer.purpose_label}待接收（{case.number}）"
    notify_roles(hop.tenant_id, cases.PLATFORM_ROLES[hop.platform], title=title, body=transfer.reason[:200],
                 level="urgent" if urgent else "info", case_id=case.id, text_message=urgent)
    from modules.exchange.service import publish

    publish(hop.tenant_id, hop.platform, "transfer.pending", transfer_id=transfer.id)


# ---- the receiving side --------------------------------------------------------------------------

def _current_for(transfer: Transfer, actor: Actor) -> TransferHop:
    check(actor.role, "transfers.handle")
    hop = transfer.current
    if hop is None:
        raise TransferError(f"该转办{transfer.status_label}，不能再处理", "invalid_state")
    if not may_handle(actor, hop):
        raise TransferError(f"该转办正等待{hop.tenant.name}{PLATFORMS[hop.platform]}接收，只有接收方可以处理",
                            "not_receiver")
    return hop


def accept(transfer: Transfer, actor: Actor) -> Transfer:
    """Accept the hop waiting for the actor: an intermediate hop passes the case on, the last one
    takes it (or, for a linked purpose, opens the linked case on its side)."""
    hop = _current_for(transfer, actor)
    claim(transfer, status="pending", current_seq=hop.seq)
    case = case_of(transfer)
    now = utcnow()
    last = hop.seq == len(transfer.hops) - 1
    nxt = None if last else transfer.hops[hop.seq + 1]
    with crossing(write={transfer.tenant_id} | ({nxt.tenant_id} if nxt else set())):  # the next stop's hop
        hop.status, hop.acted_at, hop.actor_label = ("accepted" if last else "forwarded"), now, actor.label
        if nxt is not None:
            nxt.status, nxt.arrived_at = "pending", now
            transfer.current_seq = nxt.seq
        else:
            transfer.status, transfer.decided_at = "accepted", now
        db.session.flush()
    if nxt is not None:
        cases.record_event(case, actor, "transfer_forwarded", {"transfer": transfer.id, "to": stop_name(nxt)})
        _arrive(transfer, case)
        return transfer
    take(transfer, case, actor, hop, "transfer_accepted", {"transfer": transfer.id})
    return transfer


def take(transfer: Transfer, case: Case, actor: Actor | None, hop: TransferHop, type_: str, detail: dict) -> None:
    """The hop's side takes the matter: the case moves there, or a linked case opens there."""
    tenant = db.session.get(Tenant, hop.tenant_id)
    if transfer.linked:
        kind = kind_for(case, hop.platform, transfer.purpose)
        channel = "transfer_110" if hop.platform == "12345" else "transfer_12345"
        linked = cases.open_linked(case, actor, tenant, hop.platform, text=transfer.text or case.text, kind=kind,
                                   channel=channel, detail={"transfer": transfer.id, "purpose": transfer.purpose,
                                                            **transfer.detail})
        with crossing(write={transfer.tenant_id}):
            transfer.linked_case_id = linked.id
            db.session.flush()
        cases.record_event(case, actor, type_, {**detail, "linked": linked.number})
    else:
        kind = kind_for(case, hop.platform, transfer.purpose)  # a 报警 taken by 12345 is its 求助, and so on
        moved = {**detail, "to": stop_name(hop), **({"kind": [case.kind, kind]} if kind != case.kind else {})}
        with cases.writing(case), crossing(write={hop.tenant_id}):
            cases.transition(case, actor, "new", type_, moved, tenant_id=hop.tenant_id, platform=hop.platform,
                             kind=kind, deadline=None)
    tell_origin(transfer, case, f"{transfer.purpose_label}已被{stop_name(hop)}接收")
    from modules.exchange.service import publish

    publish(transfer.tenant_id, transfer.from_platform, "transfer.accepted", transfer_id=transfer.id)


def kind_for(case: Case, platform: str, purpose: str) -> str:
    if case.kind in cases.KINDS[platform]:
        return case.kind
    if platform == "110":
        return "紧急求助" if purpose == "emergency" and case.kind != "报警" else "报警"
    return "求助"


def police_first(transfer: Transfer) -> TransferError | None:
    """Why 110 may neither refuse nor negotiate this transfer, or None: an emergency (flagged,
    whatever the purpose) or a unit's request for police goes to the police first."""
    if transfer.to_platform != "110":
        return None
    if transfer.emergency:
        return TransferError("危及人身、财产或公共安全的紧急警情，110不得退回，应先行派警处置", "emergency")
    if transfer.purpose == "police":  # a unit on scene sees a dispute escalating
        return TransferError("承办单位现场请求出警的，110应先行派警处置，不得退回；如非警情可在处警后反馈", "emergency")
    return None


def reject(transfer: Transfer, actor: Actor, reason: str) -> Transfer:
    """Refuse the hop with a reason: the case goes back to the sender, who handles it or negotiates."""
    hop = _current_for(transfer, actor)
    reason = (reason or "").strip()
    refused = police_first(transfer)
    if refused is not None:
        raise refused
    if not reason:
        raise TransferError({"reason": "请填写退回理由"})
    if len(reason) > MAX_REASON:
        raise TransferError({"reason": f"退回理由不能超过{MAX_REASON}字"})
    claim(transfer, status="pending", current_seq=hop.seq)
    case = case_of(transfer)
    now = utcnow()
    with crossing(write={transfer.tenant_id}):
        hop.status, hop.acted_at, hop.actor_label = "rejected", now, actor.label
        transfer.status, transfer.decided_at = "rejected", now
        transfer.reject_reason, transfer.rejected_seq = reason, hop.seq
        db.session.flush()
    detail = {"transfer": transfer.id, "reason": reason, "by": stop_name(hop)}
    if transfer.linked:
        cases.record_event(case, actor, "transfer_rejected", detail)
    else:
        cases.transition(case, actor, "new", "transfer_rejected", detail)
    tell_origin(transfer, case, f"{transfer.purpose_label}被{stop_name(hop)}退回：{reason[:100]}", level="warning")
    from modules.exchange.service import publish

    publish(transfer.tenant_id, transfer.from_platform, "transfer.rejected", transfer_id=transfer.id)
    return transfer


def tell_origin(transfer: Transfer, case: Case, body: str, *, level: str = "info") -> None:
    origin = transfer.origin
    notify_roles(origin.tenant_id, cases.PLATFORM_ROLES[origin.platform], title=f"转办进展（{case.number}）",
                 body=body, level=level, case_id=case.id)


def case_of(transfer: Transfer) -> Case:
    """The transferred case, read across tenants: the transfer names it (any hop may act on it)."""
    return db.session.scalar(select(Case).where(Case.id == transfer.case_id).execution_options(all_tenants=True))


def stop_name(hop: TransferHop) -> str:
    tenant = db.session.get(Tenant, hop.tenant_id)
    return f"{tenant.name}{hop.platform}"


# ---- results travel back -------------------------------------------------------------------------

def result_reached(case: Case, actor: Actor | None, status: str) -> None:
    """A case was answered or closed: the linked case on the other side gets the result in its
    timeline, and whoever handed this case over hears of it (and their external system)."""
    from modules.exchange.service import publish

    verb = "已办结" if status == "closed" else "已答复"
    summary = (case.answer or case.close_reason or "")[:200]
    other = cases.linked_case(case)
    if other is not None:
        cases.record_event(other, actor, "linked_update", {
            "number": case.number, "platform": case.platform, "status": status,
            "answer": (case.answer or "")[:1000], "close_reason": case.close_reason})
        notify_roles(other.tenant_id, cases.PLATFORM_ROLES[other.platform], title=f"关联工单{verb}（{other.number}）",
                     body=f"{case.platform}工单 {case.number}：{summary}", case_id=other.id)
        publish(other.tenant_id, other.platform, "case.result", case_id=other.id)
    handed = db.session.scalars(select(Transfer).where(Transfer.case_id == case.id, Transfer.status == "accepted",
                                                       Transfer.purpose == "transfer")
                                .execution_options(all_tenants=True))
    for origin in {(t.origin.tenant_id, t.origin.platform) for t in handed} - {(case.tenant_id, case.platform)}:
        notify_roles(origin[0], cases.PLATFORM_ROLES[origin[1]], title=f"转出工单{verb}（{case.number}）",
                     body=summary, case_id=case.id)
        publish(origin[0], origin[1], "case.result", case_id=case.id)
