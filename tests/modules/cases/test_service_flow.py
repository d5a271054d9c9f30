"""The whole case lifecycle through the services, across a hub and the county it serves."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from saas.db import as_tenant, transaction
from saas.extensions import db
from modules.cases import queries, service as cases
from modules.cases.models import Case
from modules.dispatch import service as dispatch
from modules.dispatch.models import Assignment
from tests.factories import context_of


def _as(username, code):
    actor = context_of(username, code)
    return actor, as_tenant(actor.context)


def _intake(world, **fields):
    actor, ctx = _as("ty_agent", "140100")
    with ctx, transaction():
        data = cases.IntakeData(text="小区暖气不热，室温只有十二度（演示）", kind="投诉", caller_name="张先生（演示）",
                                caller_phone="13800005678", address="小店区亲贤北街（演示）", **fields)
        return cases.intake(world["140100"], actor, data).id


def _load(model, id_):
    return db.session.scalar(select(model).where(model.id == id_))


def test_lifecycle_hub_case_to_county_unit_and_back(world):
    case_id = _intake(world)
    actor, ctx = _as("ty_dispatcher", "140100")
    with ctx, transaction():
        case = _load(Case, case_id)
        assert case.number.startswith("140100-") and case.status == "new"
        made = dispatch.dispatch(case, actor, dispatch.DispatchData(units=[
            dispatch.UnitChoice("140105-housing", "lead"), dispatch.UnitChoice("140100-heating", "assist")]))
        lead_id = made[0].id
        assert case.status == "dispatched" and case.deadline is not None
    handler, ctx = _as("xd_housing", "140105")
    with ctx, transaction():
        a = _load(Assignment, lead_id)
        assert a is not None and a.tenant_id == world["140105"].id
        assert _load(Case, case_id) is None  # the county cannot read the hub's case directly
        dispatch.accept(a, handler)
        dispatch.reply(a, handler, dispatch.ReplyData(result="已协调物业维修管道（演示）", resolved=True))
    actor, ctx = _as("ty_agent", "140100")
    with ctx, transaction():
        case = _load(Case, case_id)
        assert case.status == "replied" and case.answer.startswith("已协调")
        cases.followup(case, actor, cases.FollowupData(reached=True, solved=True, satisfaction="satisfied"))
        assert case.status == "closed" and case.close_reason == "回访满意"
        types = [e.type for e in queries.timeline(case)]
        assert types == ["intake", "dispatched", "accepted", "replied", "followup"]
        assert {e.tenant_id for e in queries.timeline(case)} == {world["140100"].id, world["140105"].id}


def test_reply_before_accept_is_refused_and_changes_nothing(world):
    case_id = _intake(world)
    actor, ctx = _as("ty_dispatcher", "140100")
    with ctx, transaction():
        lead_id = dispatch.dispatch(_load(Case, case_id), actor, dispatch.DispatchData(
            units=[dispatch.UnitChoice("140100-heating")]))[0].id
    handler, ctx = _as("ty_heating", "140100")
    with ctx:
        with pytest.raises(cases.CaseError, match="请先签收"):
            dispatch.reply(_load(Assignment, lead_id), handler, dispatch.ReplyData(result="x", resolved=True))
        db.session.rollback()
        assert _load(Assignment, lead_id).status == "pending"
    other, ctx = _as("ty_urban", "140100")
    with ctx:
        with pytest.raises(cases.CaseError, match="不是本单位"):
            dispatch.accept(_load(Assignment, lead_id), other)


def test_numbers_follow_the_days_counter_past_five_digits(world):
    from modules.cases.models import CaseCounter
    from modules.deadlines import calendar
    from saas.db import system_context, utcnow

    first, second = _intake(world), _intake(world)
    with as_tenant(system_context()), transaction():
        numbers = [_load(Case, first).number, _load(Case, second).number]
        day = calendar.local_day(utcnow())
        assert numbers == [f"140100-{day:%Y%m%d}-00001", f"140100-{day:%Y%m%d}-00002"]
        counter = db.session.scalar(select(CaseCounter).where(CaseCounter.tenant_id == world["140100"].id))
        counter.last = 99999
    with as_tenant(system_context()), transaction():
        assert _load(Case, _intake(world)).number == f"140100-{day:%Y%m%d}-100000"


def test_a_case_is_not_written_for_a_tenant_the_actor_may_not_write(world):
    from saas.db import TenantWriteRefused, system_context

    actor, ctx = _as("ty_agent", "140100")
    with pytest.raises(TenantWriteRefused), ctx, transaction():
        cases.intake(world["350526"], actor, cases.IntakeData(text="路灯不亮（演示）", kind="求助"))
    with as_tenant(system_context()):
        assert db.session.scalar(select(Case).execution_options(all_tenants=True)) is None
