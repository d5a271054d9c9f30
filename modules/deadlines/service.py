"""The deadline policy: the one source, with the calendar, of every deadline in the product."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime

from sqlalchemy import select

from saas import audit
from saas.extensions import db
from modules.deadlines import calendar
from modules.deadlines.models import CalendarDay, CasePolicy
from tenants.models import Tenant

KINDS_12345 = ("咨询", "求助", "投诉", "举报", "意见建议")
KINDS_110 = ("报警", "紧急求助", "警务投诉")
URGENCIES = {"normal": "一般", "urgent": "紧急"}

# Common practice of 12345 centres (and the seeds' call for shorter handling times): urgent matters
# within hours on the clock, consultations within 3 working days, ordinary matters within 5,
# complex ones within 15, extensions of at most 10 working days, returns within 2 working days.
DEFAULT_DAYS = {"咨询": 3, "求助": 5, "投诉": 5, "举报": 5, "意见建议": 5, "报警": 1, "紧急求助": 1, "警务投诉": 5}

LIMITS = {
    "urgent_hours": (1, 72, "紧急件办理时限应为1至72小时"),
    "complex_days": (1, 60, "复杂件办理时限应为1至60个工作日"),
    "max_extension_days": (0, 30, "延期上限应为0至30个工作日"),
    "return_window_days": (0, 10, "退回时限应为0至10个工作日"),
    "remind_percent": (50, 99, "临期提醒比例应为50%至99%"),
    "followup_max_tries": (1, 10, "回访联系次数应为1至10次"),
    "duplicate_window_days": (1, 365, "重复件识别范围应为1至365天"),
    "negotiation_hours": (1, 72, "协商时限应为1至72小时"),
}
DAYS_LIMIT = (1, 60, "办理时限应为1至60个工作日")


class PolicyError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class Policy:
    days_by_kind: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_DAYS))
    urgent_hours: int = 24
    complex_days: int = 15
    max_extension_days: int = 10
    return_window_days: int = 2
    remind_percent: int = 80
    followup_max_tries: int = 3
    duplicate_window_days: int = 30
    negotiation_hours: int = 8  # unclear responsibility is settled within a shift, else 首接负责
    customised: bool = False

    def days_for(self, kind: str) -> int:
        return int(self.days_by_kind.get(kind) or DEFAULT_DAYS.get(kind, 5))


SCALARS = tuple(f.name for f in fields(Policy) if f.name not in ("days_by_kind", "customised"))


def policy_for(tenant: Tenant) -> Policy:
    """The rules of `tenant`. Read across tenants on purpose: a county unit or the county's reminder
    job works to the rules of the hub that owns the case, and rules are not personal data."""
    row = db.session.scalar(select(CasePolicy).where(CasePolicy.tenant_id == tenant.id)
                            .execution_options(all_tenants=True))
    if row is None:
        return Policy()
    days = {**DEFAULT_DAYS, **{k: int(v) for k, v in (row.days_by_kind or {}).items()}}
    return Policy(days_by_kind=days, customised=True, **{name: getattr(row, name) for name in SCALARS})


@dataclass(frozen=True)
class Deadline:
    at: datetime
    amount: int
    unit: str  # "hours" | "working_days"

    @property
    def label(self) -> str:
        return f"{self.amount}小时" if self.unit == "hours" else f"{self.amount}个工作日"


def deadline_for(policy: Policy, *, kind: str, urgency: str, complex_case: bool, start: datetime,
                 working_days: int | None = None) -> Deadline:
    """When work dispatched at `start` is due. An explicit `working_days` (the dispatcher's choice,
    no longer than the complex-case limit) wins over the kind's default."""
    if working_days is not None:
        return Deadline(calendar.add_working_days(start, working_days), working_days, "working_days")
    if urgency == "urgent":
        return Deadline(calendar.add_hours(start, policy.urgent_hours), policy.urgent_hours, "hours")
    days = policy.complex_days if complex_case else policy.days_for(kind)
    return Deadline(calendar.add_working_days(start, days), days, "working_days")


def _int(raw, low: int, high: int) -> int | None:
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value if low <= value <= high else None


def save_policy(tenant: Tenant, actor, raw: dict[str, str]) -> Policy:
    """Validate every field, then write the tenant's policy row (created on first save)."""
    errors: dict[str, str] = {}
    values: dict[str, int] = {}
    for name, (low, high, message) in LIMITS.items():
        value = _int(raw.get(name), low, high)
        if value is None:
            errors[name] = message
        values[name] = value
    days: dict[str, int] = {}
    for kind in (*KINDS_12345, *KINDS_110):
        value = _int(raw.get(f"days_{kind}"), *DAYS_LIMIT[:2])
        if value is None:
            errors[f"days_{kind}"] = f"“{kind}”{DAYS_LIMIT[2]}"
        days[kind] = value
    if not errors and values["complex_days"] < max(days.values()):
        errors["complex_days"] = "复杂件时限不应短于任何一类诉求的普通时限"
    if errors:
        raise PolicyError(errors)
    row = db.session.scalar(select(CasePolicy).where(CasePolicy.tenant_id == tenant.id))
    if row is None:
        row = CasePolicy(tenant_id=tenant.id)
        db.session.add(row)
    row.days_by_kind = days
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_by_id = actor.user.id if actor.user else None
    db.session.flush()
    audit.record(actor, "policy.update", row, detail={**values, "days_by_kind": days})
    return policy_for(tenant)


def set_calendar_day(actor, raw_day: str, workday: str, name: str):
    """A province admin enters an official arrangement (a holiday or an adjusted working day)."""
    errors = {}
    try:
        day = date.fromisoformat((raw_day or "").strip())
    except ValueError:
        day = None
        errors["day"] = "请填写日期（如 2027-02-06）"
    if workday not in ("0", "1"):
        errors["workday"] = "请选择休息日或工作日"
    name = (name or "").strip()
    if not name or len(name) > 32:
        errors["name"] = "请填写名称（如：春节、国庆节调休上班），不超过32字"
    if errors:
        raise PolicyError(errors)
    row = db.session.get(CalendarDay, day) or CalendarDay(day=day)
    row.workday, row.name = workday == "1", name
    row.created_by_id = actor.user.id if actor.user else None
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "calendar.set", None, detail={"day": day.isoformat(), "workday": row.workday, "name": name})
    return row


def remove_calendar_day(actor, day) -> None:
    row = db.session.get(CalendarDay, day)
    if row is not None:
        db.session.delete(row)
        audit.record(actor, "calendar.remove", None, detail={"day": day.isoformat()})
