"""Working days on the official Chinese calendar (Asia/Shanghai), never the server's time zone.

A working day follows the State Council's holiday notice: public holidays are off, adjusted
weekends (调休) are on. The `chinese_calendar` package holds the notices up to its last release;
`CalendarDay` rows entered by a province admin override it and cover later years. For a year known
to neither, Monday to Friday are working days and 1 January is off, and `known_until()` lets the
pages warn that the year's arrangement still has to be entered.

A deadline of N working days ends at 24:00 (Shanghai) of the Nth working day after the start day,
so a case dispatched on a Friday evening with 1 working day is due at the end of Monday.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlalchemy import func, select

from saas.extensions import db
from modules.deadlines.models import CalendarDay

SHANGHAI = ZoneInfo("Asia/Shanghai")


@lru_cache(maxsize=1)
def package_years() -> tuple[int, int]:
    years = sorted({d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays})
    return years[0], years[-1]


def _overrides(start: date, end: date) -> dict[date, bool]:
    rows = db.session.execute(select(CalendarDay.day, CalendarDay.workday)
                              .where(CalendarDay.day.between(start, end)))
    return {day: workday for day, workday in rows}


def _package_workday(day: date) -> bool:
    first, last = package_years()
    if first <= day.year <= last:
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5 and not (day.month == 1 and day.day == 1)


def is_workday(day: date) -> bool:
    return _overrides(day, day).get(day, _package_workday(day))


def local_day(at: datetime) -> date:
    if at.tzinfo is None:
        raise ValueError("naive datetime refused: deadlines are computed from aware datetimes")
    return at.astimezone(SHANGHAI).date()


def end_of_day(day: date) -> datetime:
    """24:00 Shanghai of `day`, as an aware datetime."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def nth_workday_after(day: date, n: int) -> date:
    """The nth working day after `day` (day itself does not count; n = 0 is `day` itself)."""
    if n < 0:
        raise ValueError("working days cannot be negative")
    horizon = day + timedelta(days=n * 3 + 40)  # enough to cross any holiday cluster
    overrides = _overrides(day, horizon)
    count, current = 0, day
    while count < n:
        current += timedelta(days=1)
        if overrides.get(current, _package_workday(current)):
            count += 1
    return current


def add_working_days(start: datetime, n: int) -> datetime:
    return end_of_day(nth_workday_after(local_day(start), n))


def extend(deadline: datetime, n: int) -> datetime:
    """A deadline (24:00 of its working day) moved by n more working days."""
    return end_of_day(nth_workday_after(local_day(deadline - timedelta(microseconds=1)), n))


def add_hours(start: datetime, hours: int) -> datetime:
    local_day(start)  # refuses naive datetimes, as the working-day functions do
    return start + timedelta(hours=hours)


def working_days_between(start: datetime, end: datetime) -> int:
    """Working days after start's day up to and including end's day (0 if end is on start's day)."""
    first, last = local_day(start), local_day(end)
    if last <= first:
        return 0
    overrides = _overrides(first, last)
    return sum(1 for i in range(1, (last - first).days + 1)
               if overrides.get(first + timedelta(days=i), _package_workday(first + timedelta(days=i))))


def known_until() -> date:
    """The last day whose official arrangement is known (package data or entered overrides)."""
    last_entered = db.session.scalar(select(func.max(CalendarDay.day)))
    last = date(package_years()[1], 12, 31)
    return max(last, date(last_entered.year, 12, 31)) if last_entered else last
