"""Working days on the official Chinese calendar (2026 arrangement of the `chinese_calendar` package),
deadlines at 24:00 Asia/Shanghai (16:00 UTC), calendar overrides, and the tenant deadline policy.

2026 as published: Spring Festival 02-15..02-23 off, Saturdays 02-14 and 02-28 on; Mid-autumn
09-25..09-27 off, Sunday 09-20 on; National Day 10-01..10-07 off, Saturday 10-10 on.
"""
from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from saas.db import as_tenant, system_context, transaction
from saas.extensions import db
from saas.models import AuditLog
from modules.deadlines import calendar
from modules.deadlines.models import CalendarDay, CasePolicy
from modules.deadlines.service import (KINDS_110, KINDS_12345, Policy, PolicyError, deadline_for, policy_for,
                                       save_policy)
from tests.factories import context_of

SH = calendar.SHANGHAI


def sh(y, m, d, h=10, mi=0):
    return datetime(y, m, d, h, mi, tzinfo=SH)


def due(y, m, d):
    """End of that Shanghai day = 16:00 UTC of the same date."""
    return datetime(y, m, d, 16, 0, tzinfo=timezone.utc)


NATIONAL_DAY = [
    (sh(2026, 9, 30), 1, due(2026, 10, 8)),
    (sh(2026, 9, 30), 2, due(2026, 10, 9)),
    (sh(2026, 9, 30), 3, due(2026, 10, 10)),   # adjusted working Saturday
    (sh(2026, 9, 30), 4, due(2026, 10, 12)),   # Sunday 10-11 is off
    (sh(2026, 10, 1, 9), 1, due(2026, 10, 8)),  # dispatched on a holiday
    (sh(2026, 9, 24, 23, 59), 1, due(2026, 9, 28)),  # across Mid-autumn 09-25..27
    (sh(2026, 9, 24), 5, due(2026, 10, 9)),
    (sh(2026, 9, 18), 1, due(2026, 9, 20)),    # adjusted working Sunday
    (datetime(2026, 9, 29, 17, 30, tzinfo=timezone.utc), 1, due(2026, 10, 8)),  # already 09-30 in Shanghai
    (datetime(2026, 9, 29, 15, 59, tzinfo=timezone.utc), 1, due(2026, 9, 30)),  # still 09-29 in Shanghai
]
SPRING_FESTIVAL = [
    (sh(2026, 2, 13, 9), 1, due(2026, 2, 14)),  # adjusted working Saturday
    (sh(2026, 2, 13, 9), 2, due(2026, 2, 24)),
    (sh(2026, 2, 13, 9), 5, due(2026, 2, 27)),
    (sh(2026, 2, 13, 9), 6, due(2026, 2, 28)),  # adjusted working Saturday
    (sh(2026, 2, 13, 9), 7, due(2026, 3, 2)),
    (sh(2026, 2, 14, 18), 1, due(2026, 2, 24)),
    (sh(2026, 2, 16), 1, due(2026, 2, 24)),
]


@pytest.mark.parametrize("start, n, expected", NATIONAL_DAY + SPRING_FESTIVAL)
def test_working_day_deadlines_across_2026_holidays(fresh, start, n, expected):
    at = calendar.add_working_days(start, n)
    assert at == expected
    assert at.utcoffset() == timedelta(hours=8) and (at.hour, at.minute, at.second) == (0, 0, 0)


def test_working_days_and_days_between_follow_the_package(fresh):
    assert [d for d in (date(2026, 10, i) for i in range(1, 13)) if calendar.is_workday(d)] == [
        date(2026, 10, 8), date(2026, 10, 9), date(2026, 10, 10), date(2026, 10, 12)]
    assert calendar.is_workday(date(2026, 2, 14)) and calendar.is_workday(date(2026, 2, 28))
    assert not calendar.is_workday(date(2026, 2, 23)) and not calendar.is_workday(date(2026, 3, 1))
    assert calendar.working_days_between(sh(2026, 9, 30), sh(2026, 10, 12, 23)) == 4
    assert calendar.working_days_between(sh(2026, 2, 13), sh(2026, 2, 28)) == 6
    assert calendar.working_days_between(sh(2026, 10, 12), sh(2026, 10, 12, 23)) == 0
    assert calendar.nth_workday_after(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert calendar.nth_workday_after(date(2026, 9, 30), 0) == date(2026, 9, 30)
    with pytest.raises(ValueError, match="negative"):
        calendar.nth_workday_after(date(2026, 9, 30), -1)


def _compute_all():
    ny = ZoneInfo("America/New_York")
    return [
        calendar.add_working_days(sh(2026, 9, 30), 3),
        calendar.add_working_days(sh(2026, 2, 13, 23, 30), 1),
        # 2026-10-09 13:00 in New York is Saturday 10-10 01:00 in Shanghai (a working day): +1 → Monday
        calendar.add_working_days(datetime(2026, 10, 9, 13, 0, tzinfo=ny), 1),
        calendar.local_day(datetime(2026, 9, 30, 20, 0, tzinfo=ny)),
        calendar.end_of_day(date(2026, 10, 8)),
        deadline_for(Policy(), kind="投诉", urgency="normal", complex_case=False, start=sh(2026, 9, 29, 9)).at,
        calendar.working_days_between(sh(2026, 9, 30), datetime(2026, 10, 12, 12, tzinfo=ny)),
    ]


def test_deadlines_do_not_depend_on_the_servers_time_zone(fresh):
    expected = [due(2026, 10, 10), due(2026, 2, 14), due(2026, 10, 12), date(2026, 10, 1), due(2026, 10, 8),
                due(2026, 10, 12), 5]  # 10-12 12:00 New York is already 10-13 in Shanghai
    saved = os.environ.get("TZ")
    results = {}
    try:
        for tz in ("Asia/Shanghai", "America/New_York", "UTC", "Pacific/Kiritimati"):
            os.environ["TZ"] = tz
            time.tzset()
            results[tz] = (time.localtime(1790000000).tm_hour, _compute_all())
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()
    assert len({hour for hour, _ in results.values()}) == 4  # the server's zone really changed
    for tz, (_, values) in results.items():
        assert values == expected, tz


def test_naive_datetimes_are_refused(fresh):
    naive = datetime(2026, 10, 9, 10, 0)
    for call in (lambda: calendar.add_working_days(naive, 1), lambda: calendar.local_day(naive),
                 lambda: calendar.working_days_between(naive, sh(2026, 10, 12)),
                 lambda: deadline_for(Policy(), kind="咨询", urgency="normal", complex_case=False, start=naive)):
        with pytest.raises(ValueError, match="naive datetime refused"):
            call()


def test_naive_start_is_refused_for_hour_deadlines_too(fresh):
    with pytest.raises(ValueError, match="naive"):
        deadline_for(Policy(), kind="求助", urgency="urgent", complex_case=False, start=datetime(2026, 10, 9, 10))


def test_hours_based_urgent_deadlines_run_on_the_clock(fresh):
    # 24 hours from the eve of National Day ends inside the holiday: urgent matters do not wait for it.
    d = deadline_for(Policy(), kind="求助", urgency="urgent", complex_case=False, start=sh(2026, 9, 30, 20))
    assert (d.at, d.amount, d.unit, d.label) == (datetime(2026, 10, 1, 12, tzinfo=timezone.utc), 24, "hours", "24小时")
    # urgent beats complex; the dispatcher's explicit working days beat both
    assert deadline_for(Policy(), kind="投诉", urgency="urgent", complex_case=True,
                        start=sh(2026, 2, 14, 23)).at == datetime(2026, 2, 15, 15, tzinfo=timezone.utc)
    d = deadline_for(Policy(), kind="投诉", urgency="urgent", complex_case=False, start=sh(2026, 9, 30, 20),
                     working_days=2)
    assert (d.at, d.label) == (due(2026, 10, 9), "2个工作日")


def _add_days(*rows):
    with as_tenant(system_context()), transaction():
        for day, workday in rows:
            db.session.add(CalendarDay(day=day, workday=workday, name="测试数据（非官方安排）"))


def test_override_rows_win_over_the_package(world):
    assert calendar.add_working_days(sh(2026, 9, 30), 1) == due(2026, 10, 8)
    _add_days((date(2026, 10, 8), False), (date(2026, 10, 11), True))
    assert not calendar.is_workday(date(2026, 10, 8)) and calendar.is_workday(date(2026, 10, 11))
    assert [calendar.add_working_days(sh(2026, 9, 30), n) for n in (1, 2, 3, 4)] == [
        due(2026, 10, 9), due(2026, 10, 10), due(2026, 10, 11), due(2026, 10, 12)]
    # deployment-wide: every tenant's context sees the same calendar
    for user, code in (("xd_agent", "140105"), ("dh_admin", "350526"), ("ty_dispatcher", "140100")):
        with as_tenant(context_of(user, code).context):
            assert calendar.add_working_days(sh(2026, 9, 30), 1) == due(2026, 10, 9)


def test_override_rows_cover_a_year_the_package_does_not_know(fresh):
    assert calendar.package_years()[1] == 2026 and calendar.known_until() == date(2026, 12, 31)
    # without entries 2027 falls back to Monday–Friday with 1 January off
    assert calendar.add_working_days(sh(2026, 12, 31), 1) == due(2027, 1, 4)
    assert calendar.add_working_days(sh(2027, 2, 5), 1) == due(2027, 2, 8)
    _add_days(*((date(2027, 2, d), False) for d in range(8, 13)), (date(2027, 2, 20), True))
    assert calendar.known_until() == date(2027, 12, 31)
    assert [calendar.add_working_days(sh(2027, 2, 5), n) for n in (1, 5, 6, 7)] == [
        due(2027, 2, 15), due(2027, 2, 19), due(2027, 2, 20), due(2027, 2, 22)]
    assert calendar.working_days_between(sh(2027, 2, 5), sh(2027, 2, 22)) == 7


def test_deadline_for_uses_the_policy_defaults(fresh):
    start = sh(2026, 9, 29, 9)
    cases = [("咨询", False, due(2026, 10, 9), "3个工作日"), ("投诉", False, due(2026, 10, 12), "5个工作日"),
             ("求助", False, due(2026, 10, 12), "5个工作日"), ("投诉", True, due(2026, 10, 26), "15个工作日")]
    for kind, complex_case, expected, label in cases:
        d = deadline_for(Policy(), kind=kind, urgency="normal", complex_case=complex_case, start=start)
        assert (d.at, d.label, d.unit) == (expected, label, "working_days"), kind


def _raw(**changes) -> dict[str, str]:
    raw = {"urgent_hours": "4", "complex_days": "20", "max_extension_days": "6", "return_window_days": "3",
           "remind_percent": "75", "followup_max_tries": "2", "duplicate_window_days": "60", "negotiation_hours": "12"}
    raw.update({f"days_{kind}": "5" for kind in (*KINDS_12345, *KINDS_110)})
    raw["days_咨询"] = "2"
    raw.update(changes)
    return {k: v for k, v in raw.items() if v is not None}


def _policy_rows():
    with as_tenant(system_context()):
        return (db.session.scalar(select(func.count()).select_from(CasePolicy)),
                db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "policy.update")))


def test_tenant_policy_saved_through_save_policy_drives_deadlines(world):
    admin = context_of("ty_admin", "140100")
    with as_tenant(admin.context), transaction():
        saved = save_policy(world["140100"], admin, _raw())
    assert saved.customised and saved.urgent_hours == 4 and saved.followup_max_tries == 2
    with as_tenant(admin.context):
        policy = policy_for(world["140100"])
        start = sh(2026, 9, 29, 9)
        assert deadline_for(policy, kind="咨询", urgency="normal", complex_case=False, start=start).at == due(2026, 10, 8)
        report = deadline_for(policy, kind="举报", urgency="normal", complex_case=False, start=start)
        assert report.at == due(2026, 10, 12)
        d = deadline_for(policy, kind="求助", urgency="urgent", complex_case=False, start=start)
        assert (d.at, d.label) == (start + timedelta(hours=4), "4小时")
        assert deadline_for(policy, kind="投诉", urgency="normal", complex_case=True, start=start).at == due(2026, 11, 2)
    with as_tenant(context_of("dh_admin", "350526").context):
        assert policy_for(world["350526"]) == Policy()  # other tenants keep the defaults
    with as_tenant(admin.context), transaction():
        save_policy(world["140100"], admin, _raw(urgent_hours="8"))
    assert _policy_rows() == (1, 2)  # updated in place, each save audited
    with as_tenant(admin.context):
        assert policy_for(world["140100"]).urgent_hours == 8


@pytest.mark.parametrize("changes, errors", [
    ({"urgent_hours": "0", "complex_days": "abc", "remind_percent": "100", "days_投诉": "61",
      "followup_max_tries": None},
     {"urgent_hours": "紧急件办理时限应为1至72小时", "complex_days": "复杂件办理时限应为1至60个工作日",
      "remind_percent": "临期提醒比例应为50%至99%", "followup_max_tries": "回访联系次数应为1至10次",
      "days_投诉": "“投诉”办理时限应为1至60个工作日"}),
    ({"return_window_days": "-1", "max_extension_days": "31", "duplicate_window_days": "2.5", "days_报警": ""},
     {"return_window_days": "退回时限应为0至10个工作日", "max_extension_days": "延期上限应为0至30个工作日",
      "duplicate_window_days": "重复件识别范围应为1至365天", "days_报警": "“报警”办理时限应为1至60个工作日"}),
    ({"complex_days": "5", "days_投诉": "6"}, {"complex_days": "复杂件时限不应短于任何一类诉求的普通时限"}),
])
def test_invalid_policy_is_refused_with_chinese_messages_and_nothing_written(world, changes, errors):
    admin = context_of("ty_admin", "140100")
    with as_tenant(admin.context):
        with pytest.raises(PolicyError) as caught:
            with transaction():
                save_policy(world["140100"], admin, _raw(**changes))
        assert caught.value.errors == errors
        assert policy_for(world["140100"]) == Policy()
    assert _policy_rows() == (0, 0)
