"""Case rules: intake, merge, quick answers, closing, follow-up, supervision, revealing the caller.

Every state change goes through `transition` or `record_event` and writes one timeline event in the
caller's transaction. Services take (tenant, actor, data) and never read the request.
"""
from __future__ import annotations

import hashlib
import hmac
from contextlib import nullcontext
from functools import cache
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import String, bindparam, func, insert, inspect, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from saas import audit
from saas.auth import Actor
from saas.db import attach_loaded, crossing, current_context, require_writable, utcnow
from saas.extensions import db
from saas.permissions import PermissionDenied, check, role as role_of
from saas.text import valid_phone
from modules.triage import service as triage
from modules.cases.models import CHANNELS, MAX_TEXT, SATISFACTION, Case, CaseCounter, CaseEvent
from modules.deadlines import calendar
from modules.deadlines.service import KINDS_110, KINDS_12345, URGENCIES, policy_for
from tenants.models import Tenant
from tenants.service import served_query

KINDS = {"12345": KINDS_12345, "110": KINDS_110}


class CaseError(ValueError):
    """A refused case action; `errors` maps fields to Chinese messages for people."""

    def __init__(self, errors: dict[str, str] | str, code: str = "invalid"):
        self.errors = {"_": errors} if isinstance(errors, str) else errors
        super().__init__("；".join(self.errors.values()))
        self.code = code


# ---- events and transitions --------------------------------------------------------------------

def _event_values(actor: Actor | None, type_: str, detail: dict | None) -> dict:
    return {"tenant_id": actor.tenant.id if actor is not None else current_context().tenant_id,  # where the actor acted
            "type": type_, "at": utcnow(), "detail": detail or {},
            "actor_id": actor.user.id if actor and actor.user else None, "actor_label": actor.label if actor else "系统"}


def record_event(case: Case, actor: Actor | None, type_: str, detail: dict | None = None) -> CaseEvent:
    event = CaseEvent(case=case, **_event_values(actor, type_, detail))
    with writing(case):
        db.session.add(event)
        case.updated_at = utcnow()
        db.session.flush()  # inside the crossing, if any: the write wall checks at flush time
    return event


@cache
def _insert(model, dialect: str):
    """INSERT ... RETURNING every column, built once (building costs more than running). On
    PostgreSQL a case's number is drawn inside it (`numbering`)."""
    table = model.__table__
    stmt = insert(table).returning(*table.c)
    if model is Case and dialect == "postgresql":
        stmt = stmt.values(number=func.next_case_number(bindparam("number_tenant"), bindparam("number_day"),
                                                        bindparam("number_prefix"), type_=String))
    return stmt


def _write_new(model, values: dict):
    """A new row written by one INSERT ... RETURNING and put into the session as loaded, under the
    write wall a flush would apply. For a new case and its first event: the unit of work's
    bookkeeping for them cost intake more than the statements did (bench/intake.py)."""
    require_writable(values["tenant_id"], model.__name__)
    connection = db.session.connection()
    row = connection.execute(_insert(model, connection.dialect.name), values).one()._mapping
    return attach_loaded(model, {prop.key: row[prop.columns[0]] for prop in inspect(model).column_attrs})


def _open(actor: Actor | None, values: dict, type_: str, detail: dict) -> Case:
    """Write a new case and the event that opened it."""
    case = _write_new(Case, values)
    _write_new(CaseEvent, {**_event_values(actor, type_, detail), "case_id": case.id})
    return case


def writing(case: Case):
    """Writing a case this context may read but not write (a county unit's reply to its hub's
    case, a province supervisor's flag, a county's reminder job) is a crossing the calling service
    has already justified by the actor's link to the case. Flush before leaving the block."""
    ctx = current_context()
    return nullcontext() if ctx.may_write(case.tenant_id) else crossing(write={case.tenant_id})


def transition(case: Case, actor: Actor | None, status: str, type_: str, detail: dict | None = None,
               **changes) -> CaseEvent:
    """Change the case's status (and fields) and write its event: the only way a status moves."""
    with writing(case):
        for name, value in changes.items():
            setattr(case, name, value)
        case.status = status
        event = record_event(case, actor, type_, detail)
        db.session.flush()
    if status in ("replied", "closed"):
        from modules.transfers.service import result_reached  # transfers build on cases

        result_reached(case, actor, status)
    return event


PLATFORM_ROLES = {"12345": ("agent_12345", "dispatcher"), "110": ("desk_110",)}


def linked_case(case: Case) -> Case | None:
    """The case linked to `case`. Read across tenants on purpose: the link, made when one side
    handed part of a matter to the other, is what entitles each side to the other's progress."""
    if not case.linked_case_id:
        return None
    return db.session.scalar(select(Case).where(Case.id == case.linked_case_id).execution_options(all_tenants=True))


def open_linked(source: Case, actor: Actor | None, tenant: Tenant, platform: str, *, text: str, kind: str,
                channel: str, detail: dict) -> Case:
    """Open the case on the other platform that carries part of `source` (joint handling, an
    emergency, a clue); the two cases point at each other and both timelines say so."""
    now = utcnow()
    with crossing(write={tenant.id}):
        linked = _open(actor, dict(
            tenant_id=tenant.id, received_tenant_id=tenant.id, place_tenant_id=source.place_tenant_id,
            platform=platform, received_by=platform, channel=channel, caller_name=source.caller_name,
            caller_phone=source.caller_phone, caller_key=source.caller_key, address=source.address, text=text,
            kind=kind, urgency="urgent" if source.emergency else source.urgency, emergency=source.emergency,
            status="new", created_at=now, updated_at=now, linked_case_id=source.id,
            created_by_id=actor.user.id if actor and actor.user else None, **numbering(tenant, now)),
            "linked_opened", {**detail, "number": source.number, "platform": source.platform})
    with writing(source):
        source.linked_case_id = linked.id
        record_event(source, actor, "linked_opened", {**detail, "number": linked.number, "platform": platform})
    return linked


def require_owner(case: Case, actor: Actor, permission: str) -> None:
    """The actor's role grants `permission`, works this case's platform, and may write its tenant."""
    check(actor.role, permission)
    platform = role_of(actor.role).platform
    if platform is not None and platform != case.platform:
        raise CaseError(f"该工单当前由{case.platform}平台负责，本岗位不能办理", "wrong_platform")
    if not actor.context.may_write(case.tenant_id):
        raise CaseError("该工单属于其他地区，只能查看", "read_only")


# ---- intake -------------------------------------------------------------------------------------

@dataclass
class IntakeData:
    text: str = ""
    channel: str = "phone"
    caller_name: str = ""
    caller_phone: str = ""
    address: str = ""
    kind: str = ""
    urgency: str = "normal"
    emergency: bool | None = False  # None: take the triage's suggestion (the API when the field is absent)
    received_by: str | None = None
    place_tenant: str | None = None
    answer: str = ""  # 即问即答: a consultation answered on the spot
    transfer_to: str | None = None  # the agent accepted a suggestion for the other platform: it is sent on


def caller_key(phone: str) -> str | None:
    digits = "".join(c for c in (phone or "") if c.isdigit())
    if not digits:
        return None
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"caller:" + digits.encode(), hashlib.sha256).hexdigest()


def platform_of(actor: Actor, requested: str | None) -> str:
    return requested or role_of(actor.role).platform or "12345"


def _place(tenant: Tenant, code: str | None) -> Tenant | None:
    if not code or code == tenant.code:
        return tenant
    return db.session.scalar(served_query(tenant).where(Tenant.code == code, Tenant.active))


def validate_intake(tenant: Tenant, actor: Actor, data: IntakeData) -> tuple[dict[str, str], str, Tenant | None]:
    errors: dict[str, str] = {}
    platform = platform_of(actor, data.received_by)
    own = role_of(actor.role).platform
    text = (data.text or "").strip()
    if platform not in KINDS:
        errors["received_by"] = "受理平台应为12345或110"
    elif own is not None and own != platform:
        errors["received_by"] = f"本岗位只能受理{own}诉求"
    elif platform not in tenant.platforms:
        errors["received_by"] = f"{tenant.name}未开通{platform}平台"
    if not text:
        errors["text"] = "请填写诉求内容"
    elif len(text) > MAX_TEXT:
        errors["text"] = f"诉求内容不能超过{MAX_TEXT}字（现有{len(text)}字）"
    if data.channel not in CHANNELS:
        errors["channel"] = "请选择受理渠道"
    if platform in KINDS and data.kind not in KINDS[platform]:
        errors["kind"] = f"请选择诉求类型（{'、'.join(KINDS[platform])}）"
    if data.urgency not in URGENCIES:
        errors["urgency"] = "请选择紧急程度"
    if len(data.caller_name or "") > 64:
        errors["caller_name"] = "来电人姓名不能超过64个字"
    if data.caller_phone and not valid_phone(data.caller_phone):
        errors["caller_phone"] = "联系电话应为11位手机号或带区号的固定电话"
    if len(data.address or "") > 255:
        errors["address"] = "地址不能超过255个字"
    place = _place(tenant, data.place_tenant)
    if place is None:
        errors["place_tenant"] = f"发生地应为{tenant.name}或其服务的区县"
    if data.answer:
        if data.kind != "咨询":
            errors["answer"] = "只有咨询类诉求可以即问即答"
        elif len(data.answer) > MAX_TEXT:
            errors["answer"] = f"答复内容不能超过{MAX_TEXT}字"
    return errors, platform, place


@cache
def _counter_upsert():
    """The counter's upsert where the INSERT cannot run it (SQLite), built once."""
    table = CaseCounter.__table__
    stmt = sqlite_insert(table).values(tenant_id=bindparam("tenant_id"), day=bindparam("day"), last=1)
    stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", "day"], set_={"last": table.c.last + 1})
    return stmt.returning(table.c.last)


def numbering(tenant: Tenant, at) -> dict:
    """What gives a new case its readable number: division code, Shanghai date, daily sequence of
    at least five digits, from an atomic upsert of the tenant's counter for the day. On PostgreSQL
    the case's own INSERT runs the upsert (the function `next_case_number`, migration 0005, formats
    the number the same way), which saves intake a round trip; elsewhere it runs now."""
    day = calendar.local_day(at)
    prefix = f"{tenant.code}-{day:%Y%m%d}-"
    connection = db.session.connection()  # the session's transaction: where the upsert runs, whichever runs it
    if connection.dialect.name == "postgresql":
        return {"number_tenant": tenant.id, "number_day": day, "number_prefix": prefix}
    seq = connection.execute(_counter_upsert(), {"tenant_id": tenant.id, "day": day}).scalar_one()
    return {"number": f"{prefix}{seq:05d}"}


def intake(tenant: Tenant, actor: Actor, data: IntakeData) -> Case:
    """Record a case. The triage suggestion for its text is kept on the case; an absent kind or
    emergency flag takes the suggestion's (an agent's emergency is never lowered), and what the agent
    chose against the suggestion is recorded for the hub's learning."""
    check(actor.role, "cases.intake")
    text = (data.text or "").strip()
    suggestion = triage.suggest(tenant, text) if text and len(text) <= MAX_TEXT else None
    if suggestion is not None:
        platform = platform_of(actor, data.received_by)
        data.kind = data.kind or triage.local_kind(suggestion.kind, platform)
        data.emergency = suggestion.emergency if data.emergency is None else data.emergency
    data.emergency = bool(data.emergency)
    errors, platform, place = validate_intake(tenant, actor, data)
    if errors:
        raise CaseError(errors)
    sent_on = data.transfer_to if not data.answer else None  # an answer on the spot is not sent on
    record = triage.intake_record(suggestion, platform=platform, chosen_platform=sent_on or platform,
                                  kind=data.kind, emergency=data.emergency) if suggestion else None
    now = utcnow()
    case = _open(actor, dict(
        tenant_id=tenant.id, received_tenant_id=tenant.id, place_tenant_id=place.id, platform=platform,
        received_by=platform, channel=data.channel, caller_name=(data.caller_name or "").strip(),
        caller_phone=(data.caller_phone or "").strip(), caller_key=caller_key(data.caller_phone),
        address=(data.address or "").strip(), text=text, kind=data.kind, urgency=data.urgency,
        emergency=data.emergency, status="new", created_at=now, updated_at=now,
        created_by_id=actor.user.id if actor.user else None, triage=record, **numbering(tenant, now),
    ), "intake", {"channel": data.channel, "kind": data.kind, "platform": platform, "urgency": data.urgency,
                  "emergency": data.emergency})
    if data.answer:
        transition(case, actor, "closed", "closed", {"reason": "即问即答", "answer": data.answer.strip()},
                   answer=data.answer.strip(), resolved=True, close_reason="即问即答", closed_at=now)
    db.session.flush()
    return case


def merge(case: Case, actor: Actor, data: IntakeData) -> Case:
    """A new call about a case already open: add it to that case instead of opening another."""
    require_owner(case, actor, "cases.intake")
    if case.status == "closed":
        raise CaseError("该工单已办结，不能并入；如诉求未解决请新建工单")
    text = (data.text or "").strip()
    if not text:
        raise CaseError({"text": "请填写本次来电内容"})
    if len(text) > MAX_TEXT:
        raise CaseError({"text": f"诉求内容不能超过{MAX_TEXT}字（现有{len(text)}字）"})
    with writing(case):
        case.merged_count += 1
        record_event(case, actor, "merged", {"channel": data.channel if data.channel in CHANNELS else "phone",
                                             "text": text, "same_caller": caller_key(data.caller_phone) == case.caller_key})
        db.session.flush()
    return case


def close(case: Case, actor: Actor, reason: str) -> Case:
    """Close a case that was never dispatched (duplicate, invalid call, handled by police on scene)."""
    require_owner(case, actor, "cases.close")
    reason = (reason or "").strip()
    if case.status != "new":
        raise CaseError(f"工单当前为“{case.status_label}”，只有待派单的工单可以直接办结", "invalid_state")
    if not reason:
        raise CaseError({"reason": "请填写办结原因"})
    transition(case, actor, "closed", "closed", {"reason": reason[:255]}, close_reason=reason[:255],
               closed_at=utcnow())
    return case


# ---- follow-up ----------------------------------------------------------------------------------

@dataclass
class FollowupData:
    reached: bool = True
    solved: bool | None = None
    satisfaction: str = ""
    note: str = ""


def followup(case: Case, actor: Actor, data: FollowupData) -> Case:
    require_owner(case, actor, "cases.followup")
    if case.status != "replied":
        raise CaseError(f"工单当前为“{case.status_label}”，承办单位答复后才能回访", "invalid_state")
    note = (data.note or "").strip()[:1000]
    if not data.reached:
        tries = case.followup_tries + 1
        limit = policy_for(case.tenant).followup_max_tries
        if tries >= limit:
            reason = f"回访{tries}次均未联系上来电人"
            transition(case, actor, "closed", "followup_unreachable", {"tries": tries, "note": note, "closed": True},
                       followup_tries=tries, close_reason=reason, closed_at=utcnow())
        else:
            transition(case, actor, "replied", "followup_unreachable", {"tries": tries, "note": note},
                       followup_tries=tries)
        return case
    errors = {}
    if data.satisfaction not in SATISFACTION:
        errors["satisfaction"] = "请选择满意度（满意、基本满意、不满意）"
    if data.solved is None:
        errors["solved"] = "请选择诉求是否解决"
    if data.satisfaction == "dissatisfied" and not note:
        errors["note"] = "不满意时请填写原因，工单将重办"
    if errors:
        raise CaseError(errors)
    detail = {"satisfaction": data.satisfaction, "solved": data.solved, "note": note}
    if data.satisfaction == "dissatisfied":
        transition(case, actor, "new", "reopened", detail, satisfaction=data.satisfaction, solved=data.solved,
                   reopen_count=case.reopen_count + 1, deadline=None, followup_tries=0)
        _notify_dispatchers(case, "工单回访不满意，需重办", f"原因：{note[:200]}", level="warning")
    else:
        transition(case, actor, "closed", "followup", detail, satisfaction=data.satisfaction, solved=data.solved,
                   close_reason=f"回访{SATISFACTION[data.satisfaction]}", closed_at=utcnow())
    return case


# ---- supervision and contact --------------------------------------------------------------------

def supervise(case: Case, actor: Actor, instruction: str) -> Case:
    check(actor.role, "cases.supervise")
    if not actor.context.may_read(case.tenant_id):  # following a case handed away is not overseeing it
        raise CaseError("该工单不在您的督办范围内", "read_only")
    instruction = (instruction or "").strip()
    if case.status == "closed":
        raise CaseError("工单已办结，不能督办", "invalid_state")
    if not instruction:
        raise CaseError({"instruction": "请填写督办意见"})
    if len(instruction) > 500:
        raise CaseError({"instruction": "督办意见不能超过500字"})
    with writing(case):
        case.supervised, case.supervision_note = True, instruction
        record_event(case, actor, "supervised", {"instruction": instruction})
        db.session.flush()
    from modules.dispatch.service import notify_open_units

    title = f"督办：工单 {case.number}"
    notify_open_units(case, title=title, body=instruction, level="supervision", text_message=True)
    _notify_dispatchers(case, title, instruction, level="supervision")
    return case


def reveal_contact(case: Case, actor: Actor, reason: str) -> dict:
    """Show a caller's full name and phone: needs the permission and a reason, and is audited."""
    check(actor.role, "cases.reveal")
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise CaseError({"reason": "请填写查看来电人信息的事由"})
    audit.record(actor, "case.reveal_contact", case, detail={"number": case.number, "reason": reason[:200]})
    return {"name": case.caller_name, "phone": case.caller_phone}


def _notify_dispatchers(case: Case, title: str, body: str, *, level: str = "info") -> None:
    from modules.notifications.service import notify_roles

    notify_roles(case.tenant_id, ("dispatcher", "supervisor"), title=f"{title}（{case.number}）", body=body,
                 level=level, case_id=case.id)


def may_act(actor: Actor, case: Case, permission: str) -> bool:
    try:
        require_owner(case, actor, permission)
    except (CaseError, PermissionDenied):
        return False
    return True
