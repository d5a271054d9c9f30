"""Demo data: real division names and codes; invented people and phones, marked 演示."""
from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from saas.auth import hash_password
from saas.db import utcnow
from saas.extensions import db
from saas.models import Membership, User
from modules.units.models import Unit
from tenants.models import Tenant
from tenants.service import recompute_hubs

DATA = Path(__file__).parent / "data"
DEMO_PASSWORD = "yanshi2026"

# Where 12345 and 110 transfer to each other (configuration: the seeds differ).
HUBS = {
    "140100", "140200", "140300", "140400", "140500", "140600", "140700", "140800", "140900", "141000", "141100",
    "500000",            # Chongqing: a municipality, the hub for its districts and counties
    "370800",            # Jining: county 110 routes through the city 110
    "350500", "350526",  # Quanzhou; Dehua runs its own county-level linkage
    "410400", "410421",  # Pingdingshan; Baofeng runs its own county-level linkage
}
PROVINCE_OFFICES = {"140000", "370000", "350000", "410000"}  # oversee; no 110 desk of their own here

# username, display name, tenant, role, unit code, days valid (None: open-ended)
USERS = [
    ("sx_admin", "赵建国（演示）", "140000", "province_admin", None, None),
    ("sx_supervisor", "钱淑芬（演示）", "140000", "province_supervisor", None, None),
    ("sx_auditor", "孙立新（演示）", "140000", "auditor", None, None),
    ("ty_admin", "李娜（演示）", "140100", "hub_admin", None, None),
    ("ty_agent", "周晓梅（演示）", "140100", "agent_12345", None, None),
    ("ty_110", "吴志强（演示）", "140100", "desk_110", None, None),
    ("ty_dispatch", "郑丽华（演示）", "140100", "dispatcher", None, None),
    ("ty_heating", "王海涛（演示）", "140100", "unit_handler", "140100-heating", None),
    ("ty_supervisor", "高文华（演示）", "140100", "supervisor", None, None),
    ("xd_housing", "田晓军（演示）", "140105", "unit_handler", "140105-housing", None),
    ("xd_admin", "冯雪（演示）", "140105", "county_admin", None, None),
    ("xd_110", "陈刚（演示）", "140105", "desk_110", None, None),
    ("yz_admin", "褚红梅（演示）", "140106", "county_admin", None, None),
    ("jz_admin", "卫东升（演示）", "140700", "hub_admin", None, None),
    ("cq_admin", "蒋文静（演示）", "500000", "hub_admin", None, None),
    ("cq_agent", "沈佳怡（演示）", "500000", "agent_12345", None, None),
    ("cq_110", "彭俊（演示）", "500000", "desk_110", None, None),
    ("jn_admin", "韩振华（演示）", "370800", "hub_admin", None, None),
    ("dh_admin", "杨美玲（演示）", "350526", "hub_admin", None, None),
    ("bf_admin", "朱国栋（演示）", "410421", "hub_admin", None, None),
    # One person, two posts: a Taiyuan agent lent to Jinzhong's 12345 for 30 days (remote seat).
    ("demo_multi", "秦晓燕（演示）", "140100", "agent_12345", None, None),
    ("demo_multi", "秦晓燕（演示）", "140700", "agent_12345", None, 30),
]


def is_empty() -> bool:
    return db.session.scalar(select(func.count()).select_from(Tenant)) == 0


def load_tenants() -> dict[str, Tenant]:
    by_code: dict[str, Tenant] = {}
    with open(DATA / "divisions.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:  # parents come before children in the file
        code = row["code"]
        tenant = Tenant(code=code, name=row["name"], level=row["level"], parent=by_code.get(row["parent"]),
                        is_hub=code in HUBS, runs_12345=True, runs_110=code not in PROVINCE_OFFICES, path="")
        db.session.add(tenant)
        by_code[code] = tenant
    db.session.flush()
    for tenant in by_code.values():
        if tenant.parent is None:
            recompute_hubs(tenant)
    return by_code


def load_units(tenants: dict[str, Tenant]) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    with open(DATA / "demo_units.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            unit = Unit(tenant_id=tenants[row["tenant_code"]].id, code=row["code"], name=row["name"],
                        kind=row["kind"], liaison_name=row["liaison_name"], liaison_phone=row["liaison_phone"])
            db.session.add(unit)
            units[unit.code] = unit
    db.session.flush()
    return units


def load_users(tenants: dict[str, Tenant], units: dict[str, Unit]) -> list[str]:
    password_hash = hash_password(DEMO_PASSWORD)
    users: dict[str, User] = {}
    now = utcnow()
    for username, name, code, role, unit_code, days in USERS:
        user = users.get(username)
        if user is None:
            user = users[username] = User(username=username, display_name=name, password_hash=password_hash)
            db.session.add(user)
            db.session.flush()
        db.session.add(Membership(user_id=user.id, tenant_id=tenants[code].id, role=role,
                                  unit_id=units[unit_code].id if unit_code else None, valid_from=now,
                                  valid_until=now + timedelta(days=days) if days else None))
    db.session.flush()
    return list(users)


def load() -> None:
    """Load everything; call inside transaction() under system_context()."""
    from modules.cases import demo as demo_cases
    from modules.transfers import demo as demo_transfers
    from modules.triage import demo as demo_lists

    tenants = load_tenants()
    units = load_units(tenants)
    load_users(tenants, units)
    demo_lists.load()  # before the cases, so that their intake takes the list's suggestions
    demo_cases.load()
    demo_transfers.load()


def logins() -> list[tuple[str, str]]:
    from saas.permissions import ROLES

    names = {code: None for _, _, code, _, _, _ in USERS}
    with open(DATA / "divisions.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["code"] in names:
                names[row["code"]] = row["name"]
    return [(u, f"{names[c]} · {ROLES[r].label}{'（30天借调）' if d else ''}") for u, _, c, r, _, d in USERS]
