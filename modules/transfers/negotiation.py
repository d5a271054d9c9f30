"""Negotiation (协商) when responsibility is unclear, and the first-receiver rule (首接负责制).

Either end of a transfer opens it: the sender after a rejection, or the receiving side instead of
deciding. Both sides add notes and record three-party calls with the citizen (timeline events), one
side proposes who takes the case and the other agrees. The negotiation is time-boxed by the hub's
policy; when time runs out, the periodic job gives the case to whoever received it first.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from saas.auth import Actor
from saas.db import crossing, current_context, utcnow
from saas.extensions import db
from saas.jobs import periodic
from saas.text import valid_phone
from modules.cases import service as cases
from modules.deadlines.service import policy_for
from modules.cases.models import Case
from modules.transfers.models import SETTLEMENTS, Transfer
from modules.transfers.service import (TransferError, case_of, claim, police_first, side_of, stop_name, take,
                                       tell_origin)
from tenants.models import Tenant

MAX_NOTE = 1000
TAKERS = {"origin": "由发起方受理", "target": "由接收方受理"}


def _party(transfer: Transfer, actor: Actor) -> str:
    side = side_of(actor, transfer)
    if side is None:
        raise TransferError("只有转办双方可以参与协商", "not_party")
    return side


def refusal(transfer: Transfer, actor: Actor, case: Case) -> TransferError | None:
    """Why the actor may not open a negotiation on this transfer now, or None when it may: on a
    rejection the case still waits with the sender for (either end), or instead of deciding (the
    receiving end). Never for an emergency bound for 110. Pages ask this to offer the form."""
    if police_first(transfer) is not None:  # what 110 may not refuse it may not negotiate away
        return TransferError("紧急警情和承办单位的出警请求由110先行处置，不进行协商", "emergency")
    side = side_of(actor, transfer)
    if transfer.status == "pending" and transfer.current is not transfer.target:
        return TransferError(f"转办尚在途中（待{stop_name(transfer.current)}接收），到达接收方后方可协商",
                             "invalid_state")
    if transfer.status not in ("pending", "rejected") or transfer.settlement is not None:
        return TransferError(f"该转办{transfer.status_label}，不能发起协商", "invalid_state")
    if side is None:
        return TransferError("只有转办双方可以参与协商", "not_party")
    if transfer.status == "pending" and side != "target":
        return TransferError("转办正等待接收方处理，可由接收方发起协商", "not_party")
    if transfer.status == "rejected" and not _still_returned(transfer, case):
        return TransferError(f"工单当前为“{case.status_label}”，已不再等待这次退回的处理，不能就此发起协商",
                             "invalid_state")
    return None


def open_(transfer: Transfer, actor: Actor, note: str) -> Transfer:
    """Open a negotiation on a rejected transfer (the sender) or a pending one (the receiving side)."""
    note = (note or "").strip()
    case = case_of(transfer)
    refused = refusal(transfer, actor, case)
    if refused is not None:
        raise refused
    side = side_of(actor, transfer)
    if len(note) < 4:
        raise TransferError({"note": "请说明需要协商的原因"})
    if len(note) > MAX_NOTE:
        raise TransferError({"note": f"协商说明不能超过{MAX_NOTE}字"})
    claim(transfer, status=transfer.status, current_seq=transfer.current_seq, settlement=None)
    now = utcnow()
    hub = db.session.get(Tenant, case.tenant.hub_id or case.tenant_id)
    hours = policy_for(hub).negotiation_hours
    with crossing(write={transfer.tenant_id}):
        if transfer.status == "pending":  # deciding is replaced by negotiating: the hop waits no more
            hop = transfer.current
            hop.status, hop.acted_at, hop.actor_label = "negotiating", now, actor.label
        transfer.status, transfer.negotiation_opened_at = "negotiating", now
        transfer.negotiation_deadline = now + timedelta(hours=hours)
        transfer.proposal = transfer.proposed_seq = None
        db.session.flush()
    detail = {"transfer": transfer.id, "note": note, "hours": hours, "by": side}
    if transfer.linked:
        cases.record_event(case, actor, "negotiation_opened", detail)
    else:
        with crossing(write={case.tenant_id}):
            cases.transition(case, actor, "negotiating", "negotiation_opened", detail)
    _tell_other(transfer, case, side, f"对方发起协商（{hours}小时内未达成一致按首接负责制处理）：{note[:100]}")
    return transfer


def _still_returned(transfer: Transfer, case: Case) -> bool:
    """A rejection is negotiated only while the case still waits with the sender for it: not once it
    was sent again, dispatched, closed, or moved on by a later transfer."""
    latest = db.session.scalar(select(Transfer.id).where(Transfer.case_id == case.id).order_by(Transfer.id.desc())
                               .execution_options(all_tenants=True).limit(1))
    origin = transfer.origin
    moved = (case.tenant_id, case.platform) != (origin.tenant_id, origin.platform)
    return latest == transfer.id and (transfer.linked or (case.status == "new" and not moved))


def _open(transfer: Transfer, actor: Actor) -> str:
    if transfer.status != "negotiating":
        raise TransferError("该转办不在协商中", "invalid_state")
    return _party(transfer, actor)


def add_note(transfer: Transfer, actor: Actor, text: str, *, call: bool = False, call_phone: str = "") -> None:
    """A negotiation note, or a three-party call (citizen, responsible side, the other side)."""
    side = _open(transfer, actor)
    text = (text or "").strip()
    if len(text) < 2:
        raise TransferError({"text": "请填写协商内容" if not call else "请填写三方通话的要点"})
    if len(text) > MAX_NOTE:
        raise TransferError({"text": f"内容不能超过{MAX_NOTE}字"})
    detail = {"transfer": transfer.id, "text": text, "by": side}
    if call:
        if call_phone and not valid_phone(call_phone):
            raise TransferError({"call_phone": "第三方电话应为11位手机号或带区号的固定电话"})
        detail["call_with"] = call_phone[:3] + "****" + call_phone[-4:] if call_phone else ""
    case = case_of(transfer)
    cases.record_event(case, actor, "three_party_call" if call else "negotiation_note", detail)


def propose(transfer: Transfer, actor: Actor, taker: str) -> Transfer:
    """Propose who takes the case; the same proposal from the other side settles it."""
    side = _open(transfer, actor)
    if taker not in TAKERS:
        raise TransferError({"taker": "请选择由哪一方受理"})
    case = case_of(transfer)
    my_seq = 0 if side == "origin" else transfer.target.seq
    claim(transfer, status="negotiating", proposal=transfer.proposal, proposed_seq=transfer.proposed_seq)
    if transfer.proposal == taker and transfer.proposed_seq is not None and transfer.proposed_seq != my_seq:
        _settle(transfer, case, actor, taker, "agreed")
        return transfer
    with crossing(write={transfer.tenant_id}):
        transfer.proposal, transfer.proposed_seq = taker, my_seq
        db.session.flush()
    cases.record_event(case, actor, "negotiation_proposed", {"transfer": transfer.id, "taker": taker, "by": side})
    _tell_other(transfer, case, side, f"对方提出：{TAKERS[taker]}，请确认或提出不同意见")
    return transfer


def _settle(transfer: Transfer, case: Case, actor: Actor | None, taker: str, how: str) -> None:
    now = utcnow()
    hop = transfer.target
    with crossing(write={transfer.tenant_id, hop.tenant_id}):
        transfer.settlement, transfer.settled_at = how, now
        transfer.status = "accepted" if taker == "target" else "rejected"
        if taker == "target":
            hop.status, hop.acted_at = "accepted", now
            transfer.decided_at = now
        elif hop.status == "negotiating":  # it negotiated instead of deciding, and did not take it
            hop.status, hop.acted_at = "released", now
        db.session.flush()
    type_ = "negotiation_agreed" if how == "agreed" else "first_receiver"
    detail = {"transfer": transfer.id, "taker": taker, "settlement": SETTLEMENTS[how],
              "holder": stop_name(hop if taker == "target" else transfer.origin)}
    if taker == "target":
        take(transfer, case, actor, hop, type_, detail)
    elif transfer.linked:
        cases.record_event(case, actor, type_, detail)
        tell_origin(transfer, case, f"{SETTLEMENTS[how]}：由本方受理")
    else:
        with crossing(write={case.tenant_id}):
            cases.transition(case, actor, "new", type_, detail)
        tell_origin(transfer, case, f"{SETTLEMENTS[how]}：由本方受理")


def first_receiver(transfer: Transfer) -> str:
    """Which end received the matter first: the end whose tenant and platform took the call."""
    case = case_of(transfer)
    target = transfer.target
    if (target.tenant_id, target.platform) == (case.received_tenant_id, case.received_by):
        return "target"
    return "origin"


def _tell_other(transfer: Transfer, case, side: str, body: str) -> None:
    from modules.notifications.service import notify_roles

    hop = transfer.target if side == "origin" else transfer.origin
    notify_roles(hop.tenant_id, cases.PLATFORM_ROLES[hop.platform], title=f"转办协商（{case.number}）", body=body,
                 level="warning", case_id=case.id)


@periodic(interval=300)
def expire() -> int:
    """Settle this tenant's negotiations whose time ran out by the first-receiver rule."""
    ctx = current_context()
    # Only this tenant's own transfers (the where clause), read with every hop wherever the route
    # went: through the tenant filter a county job would see its own hop alone and take it for
    # the target.
    due = list(db.session.scalars(select(Transfer).where(
        Transfer.tenant_id == ctx.tenant_id, Transfer.status == "negotiating",
        Transfer.negotiation_deadline <= utcnow()).order_by(Transfer.id).limit(200)
        .execution_options(all_tenants=True)))
    settled = 0
    for transfer in due:
        try:  # settled meanwhile (an agreement committed while this job ran): leave it
            claim(transfer, status="negotiating", settlement=None)
        except TransferError:
            continue
        _settle(transfer, case_of(transfer), None, first_receiver(transfer), "first_receiver")
        settled += 1
    return settled
