"""The reminder job (催办) and the outbox, run by a real RQ worker (a forking `flask worker --burst`
process) against the real database and Redis."""
from __future__ import annotations

from datetime import timedelta

from rq.job import Job
from sqlalchemy import func, select

from saas import jobs, outbox
from saas.db import as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from saas.models import User
from saas.outbox import OutboxMessage
from saas.redis import redis
from modules.cases import service as cases
from modules.cases.models import Case, CaseEvent
from modules.deadlines.service import DEFAULT_DAYS, save_policy
from modules.dispatch import service as dispatch
from modules.dispatch.models import Assignment
from modules.notifications.models import Notification, SmsMessage
from modules.notifications.service import notify_unit
from modules.units.models import Unit
from tests.conftest import run_worker
from tests.factories import case_row, context_of

REMIND = "modules.dispatch.jobs:remind"


def _read(fn):
    """Read as the system, after dropping whatever this session remembers (the worker wrote meanwhile)."""
    db.session.rollback()
    with as_tenant(system_context()):
        return fn()


def _load(model, id_):
    return db.session.scalar(select(model).where(model.id == id_))


def _get(model, id_):
    return _read(lambda: _load(model, id_))


def _rows(model, *where, order=None):
    return _read(lambda: list(db.session.scalars(select(model).where(*where).order_by(order or model.id))))


def _update(model, id_, **values):
    db.session.rollback()
    with as_tenant(system_context()), transaction():
        row = _load(model, id_)
        for name, value in values.items():
            setattr(row, name, value)


def _lead_case(unit_code: str) -> tuple[int, int, str]:
    """A hub case taken by ty_agent and dispatched by ty_dispatcher to `unit_code` as lead."""
    agent, dispatcher = context_of("ty_agent", "140100"), context_of("ty_dispatcher", "140100")
    with as_tenant(agent.context), transaction():
        case = cases.intake(agent.tenant, agent, cases.IntakeData(
            text="小区暖气不热，室温只有十二度（演示）", kind="投诉", caller_phone="13800005678"))
        case_id, number = case.id, case.number
    with as_tenant(dispatcher.context), transaction():
        (a,) = dispatch.dispatch(_load(Case, case_id), dispatcher, dispatch.DispatchData(
            units=[dispatch.UnitChoice(unit_code, "lead")]))
        return case_id, a.id, number


def _shift(assignment_id, *, elapsed: timedelta, left: timedelta):
    now = utcnow()
    _update(Assignment, assignment_id, dispatched_at=now - elapsed, deadline=now + left)


def _titled(title: str) -> list[OutboxMessage]:
    return [r for r in _rows(OutboxMessage) if r.payload["title"] == title]


def _received(outbox_id: int) -> list[tuple]:
    """(username, level, title, tenant_id) of every notification a row delivered."""
    return _read(lambda: [tuple(r) for r in db.session.execute(
        select(User.username, Notification.level, Notification.title, Notification.tenant_id)
        .join(User, User.id == Notification.user_id).where(Notification.outbox_id == outbox_id)
        .order_by(User.username))])


def _texts(outbox_id: int) -> list[tuple]:
    rows = _rows(SmsMessage, SmsMessage.outbox_id == outbox_id)
    return [(m.phone, m.recipient, m.text, m.provider, m.tenant_id) for m in rows]


def _state():
    """Everything a reminder run may write."""
    counts = _read(lambda: tuple(db.session.scalar(select(func.count()).select_from(m))
                                 for m in (CaseEvent, OutboxMessage, Notification, SmsMessage)))
    marks = [(a.id, a.reminded_at, a.overdue_at) for a in _rows(Assignment)]
    return counts, marks, [(r.id, r.status, r.attempts) for r in _rows(OutboxMessage)]


def _remind_run(world):
    assert jobs.fan_out(REMIND) == len(world.t)
    run_worker()


def _payload(row) -> tuple:
    """Who a row is for and how (its delivery is asserted in the test after these two)."""
    p = row.payload
    return row.tenant_id, p["audience"], p["level"], p["sms"], p["case_id"]


def test_an_assignment_near_its_deadline_is_reminded_once(world):
    case_id, near_id, number = _lead_case("140100-heating")
    _, young_id, _ = _lead_case("140100-urban")
    _shift(near_id, elapsed=timedelta(days=9), left=timedelta(days=1))  # 90% of its time used
    _remind_run(world)
    a = _get(Assignment, near_id)
    assert a.reminded_at is not None and a.overdue_at is None
    assert _get(Assignment, young_id).reminded_at is None
    events = _rows(CaseEvent, CaseEvent.case_id == case_id, CaseEvent.type == "reminder")
    assert [(e.tenant_id, e.actor_label, e.detail) for e in events] == [
        (world["140100"].id, "系统", {"unit": "太原市heating局", "deadline": a.deadline.isoformat()})]
    assert [_payload(r) for r in _titled(f"工单临近时限：{number}")] == [
        (world["140100"].id, {"unit_id": world.units["140100-heating"].id}, "warning", True, case_id)]
    after = _state()
    _remind_run(world)
    assert _state() == after  # a second run marks, writes and sends nothing more


def test_an_overdue_assignment_is_marked_once_and_alerts_the_cases_dispatchers(world):
    case_id, late_id, number = _lead_case("140105-housing")  # a county unit working a hub case
    _shift(late_id, elapsed=timedelta(days=8), left=-timedelta(hours=1))
    _remind_run(world)
    a = _get(Assignment, late_id)
    assert a.overdue_at is not None and a.reminded_at is None and a.status == "pending"
    events = _rows(CaseEvent, CaseEvent.case_id == case_id, CaseEvent.type == "overdue")
    assert [(e.tenant_id, e.actor_label, e.detail["unit"]) for e in events] == [
        (world["140105"].id, "系统", "小店区housing局")]
    assert [_payload(r) for r in _titled(f"工单已超期：{number}")] == [
        (world["140105"].id, {"unit_id": world.units["140105-housing"].id}, "danger", True, case_id)]
    assert [_payload(r) for r in _titled(f"超期工单：{number}")] == [
        (world["140100"].id, {"roles": ["dispatcher", "supervisor"]}, "danger", False, case_id)]
    after = _state()
    _remind_run(world)
    assert _state() == after


def test_reminders_are_delivered_by_the_worker_to_handlers_liaisons_and_dispatchers(world):
    _, near_id, near = _lead_case("140100-heating")
    _, late_id, late = _lead_case("140105-housing")
    _shift(near_id, elapsed=timedelta(days=9), left=timedelta(days=1))
    _shift(late_id, elapsed=timedelta(days=8), left=-timedelta(hours=1))
    _remind_run(world)
    (row,) = _titled(f"工单临近时限：{near}")
    assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None)
    assert _received(row.id) == [("ty_heating", "warning", f"工单临近时限：{near}", world["140100"].id)]
    assert _texts(row.id) == [("19900001234", "太原市heating局联络员", f"【联动】工单临近时限：{near}。请抓紧办理。",
                               "record", world["140100"].id)]
    (unit_row,) = _titled(f"工单已超期：{late}")
    assert _received(unit_row.id) == [("xd_housing", "danger", f"工单已超期：{late}", world["140105"].id)]
    assert [t[:2] for t in _texts(unit_row.id)] == [("19900001234", "小店区housing局联络员")]
    (roles_row,) = _titled(f"超期工单：{late}")
    assert _received(roles_row.id) == [(user, "danger", f"超期工单：{late}", world["140100"].id)
                                       for user in ("ty_dispatcher", "ty_supervisor")]
    assert _texts(roles_row.id) == []
    assert {r.status for r in _rows(OutboxMessage)} == {"delivered"}


def _policy(**changes) -> None:
    raw = {"urgent_hours": 24, "complex_days": 15, "max_extension_days": 10, "return_window_days": 2,
           "remind_percent": 80, "followup_max_tries": 3, "duplicate_window_days": 30, "negotiation_hours": 8,
           **{f"days_{k}": v for k, v in DEFAULT_DAYS.items()}, **changes}
    admin = context_of("ty_admin", "140100")
    with as_tenant(admin.context), transaction():
        save_policy(admin.tenant, admin, {k: str(v) for k, v in raw.items()})


def test_reminders_for_a_county_unit_follow_the_hubs_remind_percent(world):
    _policy(remind_percent=50)
    _, hub_id, _ = _lead_case("140100-heating")
    _, county_id, _ = _lead_case("140105-housing")
    for assignment_id in (hub_id, county_id):
        _shift(assignment_id, elapsed=timedelta(days=6), left=timedelta(days=4))  # 60% used
    _remind_run(world)
    assert _get(Assignment, hub_id).reminded_at is not None
    assert _get(Assignment, county_id).reminded_at is not None


# ---- the outbox --------------------------------------------------------------------------------

def _notify_heating(title: str, **message) -> int:
    dispatcher = context_of("ty_dispatcher", "140100")
    with as_tenant(dispatcher.context), transaction():
        unit = db.session.scalar(select(Unit).where(Unit.code == "140100-heating"))
        notify_unit(unit, title=title, **message)
    (row,) = _titled(title)
    return row.id


def test_a_failing_delivery_is_recorded_on_the_row_and_retried_by_the_sweep(world):
    missing_case = 999999  # not there yet: inserting the notification breaks its foreign key
    row_id = _notify_heating("测试：投递失败（演示）", case_id=missing_case)
    started = utcnow()
    run_worker()
    row = _get(OutboxMessage, row_id)
    assert (row.status, row.attempts, row.delivered_at) == ("pending", 1, None)
    assert row.last_error.startswith("IntegrityError")
    assert row.available_at >= started + timedelta(seconds=outbox.BACKOFF[0])
    assert _rows(Notification) == []
    assert jobs.fan_out("saas.outbox:sweep") == len(world.t)  # not due yet: the sweep leaves it alone
    run_worker()
    assert _get(OutboxMessage, row_id).attempts == 1
    with as_tenant(system_context()), transaction():
        case_row(world["140100"], id=missing_case)
    _update(OutboxMessage, row_id, available_at=utcnow() - timedelta(seconds=1),
            created_at=utcnow() - timedelta(minutes=2))
    jobs.fan_out("saas.outbox:sweep")
    run_worker()
    row = _get(OutboxMessage, row_id)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)
    assert _received(row_id) == [("ty_heating", "info", "测试：投递失败（演示）", world["140100"].id)]
    assert [n.case_id for n in _rows(Notification)] == [missing_case]


def test_the_sweep_redelivers_a_row_whose_job_redis_lost_exactly_once(world):
    row_id = _notify_heating("测试：丢失的投递（演示）", body="请查收（演示）", text_message=True)
    assert jobs.queue("urgent").count == 1
    redis().flushdb()  # the job is gone; the row is the record
    jobs.fan_out("saas.outbox:sweep")
    run_worker()
    assert (_get(OutboxMessage, row_id).status, _get(OutboxMessage, row_id).attempts) == ("pending", 0)  # < 1 minute
    _update(OutboxMessage, row_id, created_at=utcnow() - timedelta(minutes=2))
    # two sweeps before any delivery: the row is enqueued twice and must still arrive once
    sweeps = [jobs.enqueue(outbox.sweep, tenant_id=world["140100"].id, queue_name="urgent") for _ in range(2)]
    run_worker()
    assert [Job.fetch(j.id, connection=redis()).return_value() for j in sweeps] == [1, 1]
    row = _get(OutboxMessage, row_id)
    assert (row.status, row.attempts) == ("delivered", 1)
    assert _received(row_id) == [("ty_heating", "info", "测试：丢失的投递（演示）", world["140100"].id)]
    assert [t[:3] for t in _texts(row_id)] == [("19900001234", "太原市heating局联络员", "【联动】测试：丢失的投递（演示）。请查收（演示）")]
    after = _state()
    jobs.fan_out("saas.outbox:sweep")
    run_worker()
    assert _state() == after

