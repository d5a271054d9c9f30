"""Demo transfer lists: the shipped template for every province in the demo tree; 太原市's own list
copied from it and published, with a revision draft (marked 演示) to try before publishing."""
from __future__ import annotations

from sqlalchemy import select

from modules.cases.demo import _actor
from modules.deadlines.calendar import local_day
from modules.triage import lists
from modules.triage.lists import ItemData
from saas.db import utcnow
from saas.extensions import db
from tenants.models import Tenant


def load() -> None:
    """Run under system_context() inside transaction(), after tenants, units and users."""
    for province in db.session.scalars(select(Tenant).where(Tenant.level == "province")):
        lists.load_template(province)
    hub = db.session.scalar(select(Tenant).where(Tenant.code == "140100"))
    admin = _actor("ty_admin", "140100")
    lst = lists.copy_template(hub, admin)
    first = lists.draft_of(lst)
    lists.publish(first, admin, local_day(utcnow()), "依据省级模板建立本市清单，承办单位已核对（演示）")
    draft = lists.start_draft(lst, admin)
    lists.save_item(draft, hub, admin, None, ItemData(
        category="投诉举报", matter="楼道电动自行车停放充电（演示修订）",
        covers="楼道、楼梯间、安全出口停放电动自行车或飞线充电，尚未起火的投诉举报；已冒烟起火的按119处置。",
        phrases=["楼道充电", "飞线充电", "电瓶车充电", "电动车进楼", "楼道里停电动车"], platform="12345", kind="举报",
        departments=["应急管理局", "住房和城乡建设"], unit_codes=["140100-emergency"], deadline_working_days=5,
        legal_basis="《中华人民共和国消防法》；晋政办发〔2022〕92号 二"))
