"""Member units through the pages: register, validate, edit, list (masked, htmx-filtered), hub and role limits."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from saas.db import as_tenant, system_context, transaction
from saas.extensions import db
from saas.models import AuditLog, User
from modules.units.models import Unit
from tests import factories
from tests.conftest import text_of

GOOD = {"code": "140100-water", "name": "太原市供水集团（演示）", "kind": "utility",
        "liaison_name": "张测试（演示）", "liaison_phone": "19900005678", "active": "1"}


def _units() -> dict[str, Unit]:
    db.session.rollback()  # forget what this session saw: the requests committed on their own
    with as_tenant(system_context()):
        return {u.code: u for u in db.session.scalars(select(Unit))}


def _audit(action: str) -> list[AuditLog]:
    db.session.rollback()
    with as_tenant(system_context()):
        return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def _user_id(username: str) -> int:
    return db.session.scalar(select(User.id).where(User.username == username))


BAD = [
    pytest.param({"code": "heating"}, "code",
                 "单位编码应为“140100-”加小写字母、数字或连字符，例如 140100-heating", id="code-without-prefix"),
    pytest.param({"code": "140105-water"}, "code",
                 "单位编码应为“140100-”加小写字母、数字或连字符，例如 140100-heating", id="code-of-a-county"),
    pytest.param({"name": "   "}, "name", "请填写单位名称", id="empty-name"),
    pytest.param({"liaison_phone": "12345"}, "liaison_phone", "联络员电话应为11位手机号或带区号的固定电话",
                 id="bad-phone"),
    pytest.param({"code": "140100-heating"}, "code", "单位编码 140100-heating 已被使用", id="duplicate-code"),
]


@pytest.mark.parametrize("change, field, message", BAD)
def test_bad_unit_is_refused_with_the_field_message_and_nothing_is_written(world, login, change, field, message):
    before = _units()
    form = {**GOOD, **change}
    response = login("ty_admin").post("/t/140100/units/new", form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请修改标出的内容后再保存" in text_of(response)
    assert f'<small class="error" id="e-{field}">{message}</small>' in html
    assert html.count('class="error"') == 1  # only the bad field is marked
    for name in ("code", "liaison_name", "liaison_phone"):  # what was typed stays in the form
        assert f'value="{form[name]}"' in html
    if form["name"].strip():
        assert f'value="{form["name"]}"' in html
    assert '<option value="utility" selected>' in html
    after = _units()
    assert after.keys() == before.keys()
    assert after["140100-heating"].name == before["140100-heating"].name
    assert _audit("unit.create") == []


def test_every_bad_field_is_reported_at_once(world, login):
    before = _units()
    form = {**GOOD, "code": "Heating!", "name": "", "kind": "bureau", "liaison_name": " ", "liaison_phone": "0351"}
    response = login("ty_admin").post("/t/140100/units/new", form)
    assert response.status_code == 422
    page = text_of(response)
    for message in ("单位编码应为“140100-”", "请填写单位名称", "请选择单位类型", "请填写24小时联络员姓名",
                    "联络员电话应为11位手机号或带区号的固定电话"):
        assert message in page
    assert _units().keys() == before.keys() and _audit("unit.create") == []


def test_registering_a_unit_saves_it_lists_it_and_audits_it(world, login):
    ty = login("ty_admin")
    response = ty.post("/t/140100/units/new", {**GOOD, "code": " 140100-Water "})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/t/140100/units/")
    saved = _units()["140100-water"]  # trimmed and lower-cased
    assert (saved.tenant.code, saved.name, saved.kind, saved.liaison_name, saved.liaison_phone, saved.active) == \
        ("140100", "太原市供水集团（演示）", "utility", "张测试（演示）", "19900005678", True)
    listing = ty.get("/t/140100/units/")
    assert "已登记承办单位：太原市供水集团（演示）" in text_of(listing)
    assert "140100-water" in text_of(listing)
    rows = _audit("unit.create")
    assert len(rows) == 1
    row = rows[0]
    assert (row.tenant_id, row.actor_id, row.object_type, row.object_id, row.result) == \
        (world["140100"].id, _user_id("ty_admin"), "Unit", str(saved.id), "ok")
    assert row.detail == {"code": "140100-water", "name": "太原市供水集团（演示）"}
    # the same code twice: refused
    again = ty.post("/t/140100/units/new", {**GOOD, "name": "另一个单位（演示）"})
    assert again.status_code == 422 and "单位编码 140100-water 已被使用" in text_of(again)


def test_editing_a_unit_saves_changes_and_can_deactivate_it(world, login):
    heating = world.units["140100-heating"]
    ty = login("ty_admin")
    form = ty.get(f"/t/140100/units/{heating.id}/edit")
    assert form.status_code == 200
    assert "140100-heating" in text_of(form) and 'name="active" value="1" checked' in form.get_data(as_text=True)
    response = ty.post(f"/t/140100/units/{heating.id}/edit", {
        "code": "140100-renamed", "name": "太原市热力集团（演示）", "kind": "utility",
        "liaison_name": "新联络员（演示）", "liaison_phone": "0351-7654321"})  # no "active": unticked
    assert response.status_code == 302
    unit = _units()["140100-heating"]  # the code cannot be changed by editing
    assert "140100-renamed" not in _units()
    assert (unit.name, unit.liaison_name, unit.liaison_phone, unit.active) == \
        ("太原市热力集团（演示）", "新联络员（演示）", "0351-7654321", False)
    rows = _audit("unit.update")
    assert [(r.object_id, r.detail) for r in rows] == [(str(heating.id), {"code": "140100-heating", "active": False})]
    listing = text_of(ty.get("/t/140100/units/?q=heating"))
    assert "太原市热力集团（演示）" in listing and "停用" in listing
    # and back into service
    ty.post(f"/t/140100/units/{heating.id}/edit", {"name": "太原市热力集团（演示）", "kind": "utility",
                                                   "liaison_name": "新联络员（演示）", "liaison_phone": "0351-7654321",
                                                   "active": "1"})
    assert _units()["140100-heating"].active is True


def test_editing_with_a_bad_phone_changes_nothing(world, login):
    heating = world.units["140100-heating"]
    response = login("ty_admin").post(f"/t/140100/units/{heating.id}/edit", {
        "name": "改了名字（演示）", "kind": "utility", "liaison_name": "某人", "liaison_phone": "110"})
    assert response.status_code == 422
    assert "联络员电话应为11位手机号或带区号的固定电话" in text_of(response)
    unit = _units()["140100-heating"]
    assert (unit.name, unit.liaison_phone, unit.active) == (heating.name, "19900001234", True)
    assert _audit("unit.update") == []


def test_the_list_masks_liaison_phones(world, login):
    ty = login("ty_admin")
    for url in ("/t/140100/units/", "/t/140100/units/?q=housing"):
        html = ty.get(url).get_data(as_text=True)
        assert "199****1234" in html
        assert "19900001234" not in html
    fragment = ty.get("/t/140100/units/?q=heating", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "199****1234" in fragment and "19900001234" not in fragment


def test_htmx_search_returns_only_the_filtered_list_fragment(world, login):
    ty = login("ty_admin")
    response = ty.get("/t/140100/units/?q=heating", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and "<body" not in html and 'class="topbar"' not in html
    assert 'name="q"' not in html  # the filter form is outside the fragment
    assert '<table class="table">' in html
    assert "140100-heating" in html
    for other in ("140100-urban", "140105-housing", "140106-housing"):
        assert other not in html
    by_name = ty.get("/t/140100/units/?q=小店区", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "140105-housing" in by_name and "140100-heating" not in by_name and "140106-housing" not in by_name
    nothing = ty.get("/t/140100/units/?q=zzz", headers={"HX-Request": "true"})
    assert "没有符合条件的承办单位" in text_of(nothing)
    full = ty.get("/t/140100/units/?q=heating")
    assert "<html" in full.get_data(as_text=True) and "140100-urban" not in full.get_data(as_text=True)


def test_hub_sees_its_counties_units_but_cannot_edit_them(world, login):
    ty = login("ty_admin")
    html = ty.get("/t/140100/units/").get_data(as_text=True)
    for code in ("140100-heating", "140100-urban", "140105-housing", "140106-housing"):
        assert code in html
    for code in ("350526-housing", "500000-urban", "500103-housing"):
        assert code not in html
    own, county = world.units["140100-heating"], world.units["140105-housing"]
    assert f'href="/t/140100/units/{own.id}/edit"' in html
    assert f"/units/{county.id}/edit" not in html
    assert f"/units/{world.units['140106-housing'].id}/edit" not in html
    assert ty.get(f"/t/140100/units/{county.id}/edit").status_code == 404
    response = ty.post(f"/t/140100/units/{county.id}/edit", {
        "name": "被枢纽改名（演示）", "kind": "department", "liaison_name": "某人", "liaison_phone": "19900009999"})
    assert response.status_code == 404
    unit = _units()["140105-housing"]
    assert (unit.name, unit.liaison_phone, unit.active) == (county.name, "19900001234", True)
    assert _audit("unit.update") == []


def test_agent_without_units_manage_cannot_register(world, login):
    agent = login("ty_agent")
    listing = agent.get("/t/140100/units/")
    assert listing.status_code == 200 and "140100-heating" in text_of(listing)
    assert "/units/new" not in listing.get_data(as_text=True) and "编辑" not in text_of(listing)
    assert agent.get("/t/140100/units/new").status_code == 403
    before = _units()
    assert agent.post("/t/140100/units/new", GOOD).status_code == 403
    assert _units().keys() == before.keys()
    denied = _audit("permission.denied")
    assert denied and denied[-1].actor_id == _user_id("ty_agent")
    assert denied[-1].detail["permission"] == "units.manage"
    assert agent.get(f"/t/140100/units/{world.units['140100-heating'].id}/edit").status_code == 403


def test_province_admin_editing_a_county_unit_checks_names_in_that_county(world, login):
    """Regression: names were checked against the acting tenant (140000), not the unit's (140105)."""
    with as_tenant(system_context()), transaction():
        factories.unit(world["140105"], "urban", name="小店区城管局")
    housing = world.units["140105-housing"]
    response = login("sx_admin").post(f"/t/140000/units/{housing.id}/edit", {
        "name": "小店区城管局", "kind": "department", "liaison_name": "某人（演示）", "liaison_phone": "19900001111",
        "active": "1"})
    assert response.status_code == 422 and "本地已有名为“小店区城管局”的单位" in text_of(response)
    assert _units()["140105-housing"].name == housing.name


def test_search_treats_wildcards_as_plain_characters(world, login):
    """Regression: '_' and '%' in the search box were LIKE wildcards and matched every unit."""
    fragment = login("ty_admin").get("/t/140100/units/?q=_", headers={"HX-Request": "true"})
    assert "没有符合条件的承办单位" in text_of(fragment)
    assert "140100-heating" not in fragment.get_data(as_text=True)
