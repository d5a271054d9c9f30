"""The tenant tree: demo data, hub resolution, the service's rules, and the tenant pages by role."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from saas.db import as_tenant, system_context, transaction
from saas.extensions import db
from saas.models import AuditLog, User
from modules.units.models import Unit
from tenants import demo, service
from tenants.models import Tenant
from tests.conftest import text_of

PW = demo.DEMO_PASSWORD


@pytest.fixture()
def loaded(fresh):
    with as_tenant(system_context()), transaction():
        demo.load()


def _tenants() -> dict[str, Tenant]:
    db.session.rollback()  # the requests committed on their own; forget what this session saw
    return {t.code: t for t in db.session.scalars(select(Tenant))}


def _hubs() -> dict[str, str | None]:
    by_id = {t.id: t.code for t in _tenants().values()}
    return {t.code: by_id.get(t.hub_id) for t in _tenants().values()}


def _children(parent: str) -> set[str]:
    tenants = _tenants()
    return {t.code for t in tenants.values() if t.parent_id == tenants[parent].id}


def _audit(action: str) -> list[AuditLog]:
    db.session.rollback()
    with as_tenant(system_context()):
        return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_demo_hubs_resolve_as_configured(loaded):
    hubs = _hubs()
    assert hubs["140105"] == hubs["140106"] == hubs["140181"] == "140100"
    jinzhong = _children("140700")
    assert len(jinzhong) == 11 and {hubs[c] for c in jinzhong} == {"140700"}
    assert hubs["500103"] == hubs["500229"] == "500000"
    assert hubs["350526"] == "350526" and hubs["350500"] == "350500"
    assert hubs["410421"] == "410421" and hubs["410400"] == "410400"
    assert hubs["370811"] == "370800" and {hubs[c] for c in _children("370800")} == {"370800"}
    assert hubs["140000"] is None and hubs["370000"] is None and hubs["350000"] is None
    assert _tenants()["140105"].path == "140000/140100/140105"


def test_demo_data_covers_the_divisions(loaded):
    tenants = _tenants()
    cities = _children("140000")
    assert len(cities) == 11 and all(tenants[c].level == "city" for c in cities)
    assert {"140100", "140200", "140700", "141100"} <= cities
    assert len(_children("140100")) == 10 and {"140105", "140106", "140181"} <= _children("140100")
    assert len(_children("140700")) == 11
    chongqing = _children("500000")
    assert len(chongqing) >= 6 and all(tenants[c].level == "county" for c in chongqing)
    assert len(_children("370800")) == 11 and {"370811", "370883"} <= _children("370800")
    with as_tenant(system_context()):
        dehua = db.session.scalar(select(func.count(Unit.id)).where(Unit.tenant_id == tenants["350526"].id))
    assert dehua >= 80
    for code in ("140000", "370000", "350000", "410000"):
        assert tenants[code].runs_110 is False and tenants[code].runs_12345 is True


def test_demo_people_and_liaisons_are_marked_and_unit_codes_are_prefixed(loaded):
    users = db.session.scalars(select(User)).all()
    assert len(users) == len({u for u, *_ in demo.USERS}) >= 15
    assert [u.username for u in users if "演示" not in u.display_name] == []
    with as_tenant(system_context()):
        units = db.session.scalars(select(Unit)).all()
    assert len(units) > 150
    assert [u.code for u in units if "演示" not in u.liaison_name] == []
    assert [u.code for u in units if not u.code.startswith(f"{u.tenant.code}-")] == []
    assert len({u.code for u in units}) == len(units)


@pytest.mark.parametrize("kwargs, message", [
    pytest.param({"code": "14010", "level": "county", "parent": "140100"}, "行政区划代码应为6位数字", id="short-code"),
    pytest.param({"code": "14a199", "level": "county", "parent": "140100"}, "行政区划代码应为6位数字", id="letter-code"),
    pytest.param({"code": "140105", "level": "county", "parent": "140100"}, "行政区划代码 140105 已存在", id="duplicate"),
    pytest.param({"code": "149999", "level": "county", "parent": None}, "只有省级租户可以没有上级", id="orphan-county"),
    pytest.param({"code": "149998", "level": "province", "parent": "140100"}, "市级租户下不能设立省级租户",
                 id="province-under-city"),
    pytest.param({"code": "149997", "level": "county", "parent": "140105"}, "县级租户下不能设立县级租户",
                 id="county-under-county"),
])
def test_create_refuses_a_broken_tree(loaded, kwargs, message):
    before = len(_tenants())
    parent = _tenants()[kwargs["parent"]] if kwargs["parent"] else None
    with as_tenant(system_context()), pytest.raises(service.TenantError) as raised, transaction():
        service.create(code=kwargs["code"], name="测试地区", level=kwargs["level"], parent=parent)
    assert str(raised.value) == message
    assert len(_tenants()) == before


def test_a_county_hub_is_its_own_hub_and_the_city_hub_comes_back(loaded):
    with transaction():
        service.update(_tenants()["140105"], name="小店区", is_hub=True, runs_12345=True, runs_110=True, active=True)
    hubs = _hubs()
    assert hubs["140105"] == "140105" and hubs["140106"] == "140100" and hubs["140100"] == "140100"
    with transaction():  # the city stops being a hub: its children follow, except the county hub
        service.update(_tenants()["140100"], name="太原市", is_hub=False, runs_12345=True, runs_110=True, active=True)
    hubs = _hubs()
    assert hubs["140100"] is None and hubs["140106"] is None and hubs["140181"] is None
    assert hubs["140105"] == "140105"
    tenants = _tenants()
    with transaction():
        service.update(tenants["140100"], name="太原市", is_hub=True, runs_12345=True, runs_110=True, active=True)
        service.update(tenants["140105"], name="小店区", is_hub=False, runs_12345=True, runs_110=True, active=True)
    hubs = _hubs()
    assert {hubs[c] for c in _children("140100") | {"140100"}} == {"140100"}
    with pytest.raises(service.TenantError, match="至少运行12345热线或110报警服务台之一"):
        service.update(_tenants()["140105"], name="小店区", is_hub=True, runs_12345=False, runs_110=False, active=True)
    db.session.rollback()
    assert _tenants()["140105"].is_hub is False


def test_province_admin_sees_only_its_province(loaded, login):
    page = login("sx_admin", PW).get("/t/140000/tenants/")
    assert page.status_code == 200
    text = text_of(page)
    for name in ("山西省", "太原市", "小店区", "晋中市", "介休市", "吕梁市"):
        assert name in text
    for name in ("福建", "德化县", "重庆", "渝中区", "山东省", "济宁市", "宝丰县"):
        assert name not in text
    assert 'href="/t/140000/tenants/140105/edit"' in page.get_data(as_text=True)
    assert "经 太原市" in text  # a county shows the hub it runs through


def test_province_admin_makes_a_county_a_hub(loaded, login):
    sx = login("sx_admin", PW)
    form = sx.get("/t/140000/tenants/140105/edit")
    assert form.status_code == 200 and 'value="小店区"' in form.get_data(as_text=True)
    response = sx.post("/t/140000/tenants/140105/edit", {"name": "小店区", "is_hub": "1", "runs_12345": "1",
                                                         "runs_110": "1", "active": "1"})
    assert response.status_code == 302
    assert _hubs()["140105"] == "140105" and _tenants()["140105"].is_hub is True
    [row] = _audit("tenant.update")
    sx_admin = db.session.scalar(select(User.id).where(User.username == "sx_admin"))
    assert (row.tenant_id, row.actor_id, row.object_id) == (_tenants()["140105"].id, sx_admin, str(_tenants()["140105"].id))
    assert row.detail == {"is_hub": True, "runs_12345": True, "runs_110": True, "active": True}
    refused = sx.post("/t/140000/tenants/140105/edit", {"name": "小店区", "active": "1"})
    assert refused.status_code == 422 and "至少运行12345热线或110报警服务台之一" in text_of(refused)
    assert _tenants()["140105"].runs_110 is True and len(_audit("tenant.update")) == 1
    assert sx.get("/t/140000/tenants/350526/edit").status_code == 404  # another province does not exist for it


def test_province_admin_creates_a_county(loaded, login):
    sx = login("sx_admin", PW)
    form = {"parent": "140100", "code": "140199", "name": "测试新区（演示）", "level": "county",
            "runs_12345": "1", "runs_110": "1"}
    response = sx.post("/t/140000/tenants/new", form)
    assert response.status_code == 302
    created = _tenants()["140199"]
    assert (created.name, created.level, created.path, _hubs()["140199"]) == \
        ("测试新区（演示）", "county", "140000/140100/140199", "140100")
    assert [r.detail for r in _audit("tenant.create")] == [{"code": "140199"}]
    before = len(_tenants())
    duplicate = sx.post("/t/140000/tenants/new", {**form, "code": "140105", "name": "重复的区"})
    assert duplicate.status_code == 422
    assert "行政区划代码 140105 已存在" in text_of(duplicate)
    assert 'value="重复的区"' in duplicate.get_data(as_text=True)  # what was typed stays
    assert len(_tenants()) == before and _tenants()["140105"].name == "小店区"
    assert len(_audit("tenant.create")) == 1
    foreign = sx.post("/t/140000/tenants/new", {**form, "parent": "350500", "code": "350599"})
    assert foreign.status_code == 404 and "350599" not in _tenants()


def test_hub_admin_views_its_tree_but_cannot_edit(loaded, login):
    ty = login("ty_admin", PW)
    page = ty.get("/t/140100/tenants/")
    assert page.status_code == 200
    assert "小店区" in text_of(page) and "山西省" not in text_of(page) and "晋中市" not in text_of(page)
    assert "/edit" not in page.get_data(as_text=True) and "/tenants/new" not in page.get_data(as_text=True)
    for code in ("140100", "140105"):
        assert ty.get(f"/t/140100/tenants/{code}/edit").status_code == 403
    response = ty.post("/t/140100/tenants/140105/edit", {"name": "被改名", "is_hub": "1", "runs_12345": "1",
                                                         "runs_110": "1", "active": "1"})
    assert response.status_code == 403
    assert (_tenants()["140105"].name, _hubs()["140105"]) == ("小店区", "140100")
    assert ty.get("/t/140100/tenants/new").status_code == 403
    assert _audit("tenant.update") == []
    [denied, *_] = _audit("permission.denied")
    assert denied.detail["permission"] == "tenants.manage"


def test_supervisor_views_the_tree_but_cannot_edit(loaded, login):
    supervisor = login("sx_supervisor", PW)
    page = supervisor.get("/t/140000/tenants/")
    assert page.status_code == 200
    assert "太原市" in text_of(page) and "榆次区" in text_of(page) and "德化县" not in text_of(page)
    assert "/edit" not in page.get_data(as_text=True)
    assert supervisor.get("/t/140000/tenants/140105/edit").status_code == 403
    response = supervisor.post("/t/140000/tenants/140105/edit", {"name": "被改名", "is_hub": "1", "runs_12345": "1",
                                                                 "runs_110": "1", "active": "1"})
    assert response.status_code == 403
    assert (_tenants()["140105"].name, _tenants()["140105"].is_hub) == ("小店区", False)
    assert supervisor.post("/t/140000/tenants/new", {"parent": "140100", "code": "140198", "name": "督查新建",
                                                     "level": "county", "runs_12345": "1"}).status_code == 403
    assert "140198" not in _tenants()


def test_demo_linkage_fills_both_desks_queues(loaded):
    from modules.cases.models import Case
    from modules.transfers.models import Transfer

    db.session.rollback()
    with as_tenant(system_context()):
        tenants = {t.id: t.code for t in db.session.scalars(select(Tenant))}
        rows = {t.purpose + ":" + t.status: t for t in db.session.scalars(select(Transfer))}
        assert set(rows) == {"transfer:pending", "emergency:pending", "joint:accepted", "transfer:negotiating"}
        waiting = {k: (tenants[t.current.tenant_id], t.current.platform) for k, t in rows.items() if t.current}
        assert waiting == {"transfer:pending": ("140100", "110"), "emergency:pending": ("140105", "110")}
        linked = db.session.get(Case, rows["joint:accepted"].linked_case_id)
        assert (linked.platform, linked.status, "演示" in linked.text) == ("12345", "dispatched", True)
        assert db.session.get(Case, rows["transfer:negotiating"].case_id).status == "negotiating"
