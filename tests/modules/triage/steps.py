"""Steps the triage tests share: acting as a user, the 太原 list from the province template, reads
as the system after requests or workers committed in their own sessions."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select

from saas.db import as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from modules.deadlines.calendar import local_day
from modules.triage import lists, service
from modules.triage.lists import ItemData
from modules.units.models import Unit
from tests.factories import as_system, context_of

# Names a real hub gives its units, so that the template's department fragments find them.
REAL_NAMES = {"140100-urban": "太原市城乡管理局", "140100-heating": "太原市热力有限公司",
              "140105-housing": "小店区住房和城乡建设局"}
STREET_LIGHT = "我们巷子的路灯坏了一个多月没人修"
KNIFE = "小区门口有人拿刀追着人砍"


def today():
    return local_day(utcnow())


def days(n: int):
    return today() + timedelta(days=n)


@contextmanager
def acting(username: str, code: str):
    """A service step as `username` in `code`, committed at the end."""
    actor = context_of(username, code)
    with as_tenant(actor.context), transaction():
        yield actor


system = as_system  # read as the system after dropping what this session remembers


def name_units():
    with as_tenant(system_context()), transaction():
        for unit in db.session.scalars(select(Unit).where(Unit.code.in_(REAL_NAMES))):
            unit.name = REAL_NAMES[unit.code]


def load_template(world, code: str = "140000"):
    with as_tenant(system_context()), transaction():
        lists.load_template(world[code])


def taiyuan_list(world, *, publish: bool = True):
    """太原's list copied from 山西's template (units named as the template expects), v1 published today."""
    name_units()
    load_template(world)
    with acting("ty_admin", "140100") as admin:
        lst = lists.copy_template(admin.tenant, admin)
        if publish:
            lists.publish(lists.draft_of(lst), admin, today(), "首版（测试）")
    service.forget()


def item_data(**values) -> ItemData:
    """A valid 12345 item, changed by `values`."""
    base = dict(category="求助", matter="电动自行车楼道充电（测试）", covers="楼道、地下室私拉电线充电",
                phrases=["飞线充电", "楼道充电"], platform="12345", kind="求助", departments=["城乡管理局"],
                unit_codes=["140100-urban"], deadline_working_days=3, legal_basis="测试依据")
    base.update(values)
    return ItemData(**base)
