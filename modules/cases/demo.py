"""Demo cases for 太原市: invented callers, phones and matters, all marked 演示, taken through the
real services so that each has its full timeline. Called by `flask demo load`."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from saas.auth import actor_for_membership
from saas.db import utcnow
from saas.extensions import db
from saas.models import Membership, User
from modules.cases import service as cases
from modules.dispatch import service as dispatch
from tenants.models import Tenant

# text, kind, urgency, place, lead unit, assisting units, how far it goes
CASES = [
    ("小区暖气从昨天开始不热，室内只有十二度，家里有老人（演示）", "投诉", "normal", "140105", "140100-heating", [], "closed"),
    ("我们巷子的路灯坏了一个多月没人修，晚上出行很不方便（演示）", "求助", "normal", "140106", "140106-qiaodong", [], "replied"),
    ("楼下饭店油烟直排，窗户都不敢开（演示）", "投诉", "normal", "140105", "140105-market", ["140100-eco"], "in_progress"),
    ("小区门口主干道井盖缺失，已经有电动车差点掉进去（演示）", "求助", "urgent", "140105", "140105-urban", [], "dispatched"),
    ("咨询灵活就业人员医保怎么缴费（演示）", "咨询", "normal", "140100", "140100-medins", [], "new"),
    ("建议在学府街公交站增加候车亭（演示）", "意见建议", "normal", "140100", "140100-bus", [], "new"),
    ("工地夜间施工噪音扰民，已经连续一周到凌晨两点（演示）", "投诉", "normal", "140105", "140105-housing", [], "overdue"),
    ("自来水发黄有异味，整栋楼都这样（演示）", "求助", "urgent", "140106", "140100-water", ["140106-liuxiang"], "in_progress"),
    ("举报无证经营的黑诊所（演示）", "举报", "normal", "140105", "140100-health", ["140105-market"], "dispatched"),
    ("公积金提取审核超时一个月没有答复（演示）", "投诉", "normal", "140100", "140100-fund", [], "reopened"),
]
CALLERS = [("王女士（演示）", "19900010001"), ("李先生（演示）", "19900010002"), ("张女士（演示）", "19900010003"),
           ("刘先生（演示）", "19900010004"), ("陈女士（演示）", "19900010005")]


def _actor(username: str, code: str):
    m = db.session.scalar(select(Membership).join(User, User.id == Membership.user_id)
                          .join(Tenant, Tenant.id == Membership.tenant_id)
                          .where(User.username == username, Tenant.code == code))
    return actor_for_membership(m)


def load() -> int:
    """Run under system_context() inside transaction(), after tenants, units and users."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.code == "140100"))
    agent, dispatcher = _actor("ty_agent", "140100"), _actor("ty_dispatch", "140100")
    for i, (text, kind, urgency, place, lead, assists, stage) in enumerate(CASES):
        name, phone = CALLERS[i % len(CALLERS)]
        case = cases.intake(tenant, agent, cases.IntakeData(
            text=text, kind=kind, urgency=urgency, caller_name=name, caller_phone=phone, place_tenant=place,
            address=f"{'小店区' if place == '140105' else '迎泽区' if place == '140106' else '太原市'}（演示地址）"))
        if stage == "new":
            continue
        units = [dispatch.UnitChoice(lead, "lead")] + [dispatch.UnitChoice(u, "assist") for u in assists]
        made = dispatch.dispatch(case, dispatcher, dispatch.DispatchData(units=units))
        lead_assignment = made[0]
        if stage == "overdue":  # dispatched a while ago and not handled in time
            lead_assignment.dispatched_at = utcnow() - timedelta(days=9)
            lead_assignment.deadline = case.deadline = utcnow() - timedelta(days=1)
            continue
        if stage == "dispatched":
            continue
        handler = _handler(lead)
        dispatch.accept(lead_assignment, handler)
        if stage == "in_progress":
            continue
        dispatch.reply(lead_assignment, handler, dispatch.ReplyData(result="已现场核实并处理完毕（演示答复）", resolved=True))
        if stage == "closed":
            cases.followup(case, agent, cases.FollowupData(reached=True, solved=True, satisfaction="satisfied"))
        elif stage == "reopened":
            cases.followup(case, agent, cases.FollowupData(reached=True, solved=False, satisfaction="dissatisfied",
                                                           note="来电人表示仍未收到款项（演示）"))
    return len(CASES)


def _handler(unit_code: str):
    """The demo handler of a unit, or an acting one built from the unit's liaison post."""
    from saas.auth import Actor
    from modules.units.models import Unit
    from tenants.service import context_for

    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
    m = db.session.scalar(select(Membership).where(Membership.unit_id == unit.id, Membership.role == "unit_handler"))
    if m is not None:
        return actor_for_membership(m)
    return Actor(tenant=unit.tenant, role="unit_handler", unit_id=unit.id,
                 context=context_for(unit.tenant, "unit_handler", None))
