"""The list pages: reading a version, editing a draft through the forms, publishing, the change log,
the try-it box, a county's read-only view and its own units, and who may see what."""
from __future__ import annotations

import json
import os
import re
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from sqlalchemy import select

from modules.triage import lists, service
from modules.triage.models import ListChange, ListItem, ListVersion, UnitMapping
from tests.conftest import text_of
from tests.factories import count_rows
from tests.modules.triage.steps import (KNIFE, STREET_LIGHT, acting, days, item_data, load_template, system,
                                        taiyuan_list, today)

LISTS = "/t/140100/lists"
NEW_ITEM = {"category": "求助", "matter": "电动自行车飞线充电（测试）", "covers": "楼道私拉电线给电动车充电",
            "phrases": "飞线充电、楼道充电", "platform": "12345", "kind": "求助", "departments": "城乡管理局",
            "unit_codes": "140100-urban", "deadline_working_days": "3", "legal_basis": "测试依据"}


def _ok(response, status=200):
    assert response.status_code == status, text_of(response)[:600]
    return response


def _version(number):
    return system(lambda: db_version(number))


def db_version(number):
    from tenants.service import by_code

    return lists.version_by_number(lists.list_of(by_code("140100")), number)


def _keys(number):
    return system(lambda: {i.key: i for i in lists.items(db_version(number))})


def test_the_list_page_shows_the_version_in_force_its_items_and_units(world, login):
    taiyuan_list(world)
    page = text_of(_ok(login("ty_admin").get(f"{LISTS}/")))
    assert "太原市12345与110分流转办事项清单" in page and "第1版 已发布 现行" in page
    assert "路灯不亮或损坏" in page and "太原市城乡管理局" in page and "火灾" in page
    assert "新建修订草稿" in page and "从模板复制" in page and "发布" in page
    only = text_of(_ok(login("ty_admin").get(f"{LISTS}/?platform=12345&q=路灯")))
    assert "路灯不亮或损坏" in only and "火灾" not in only and re.search(r"共 \d+ 项，显示 1 项", only)


def test_a_draft_is_edited_through_the_forms_published_and_the_old_version_stays_readable(world, login):
    taiyuan_list(world)
    admin = login("ty_admin")
    started = _ok(admin.post(f"{LISTS}/draft"), 302)
    assert started.headers["Location"].endswith("?v=2")
    assert "第2版 草稿" in text_of(_ok(admin.get(f"{LISTS}/?v=2")))
    before = (count_rows(ListItem), count_rows(ListChange))
    bad = admin.post(f"{LISTS}/draft/items/new", {**NEW_ITEM, "platform": "110", "kind": "求助"})
    assert bad.status_code == 422
    assert "未能保存：110的诉求类型应为报警、紧急求助、警务投诉" in text_of(bad)
    no_days = admin.post(f"{LISTS}/draft/items/new", {**NEW_ITEM, "deadline_working_days": ""})
    assert no_days.status_code == 422 and "12345事项请填写办理时限（1至60个工作日）" in text_of(no_days)
    long_basis = admin.post(f"{LISTS}/draft/items/new", {**NEW_ITEM, "legal_basis": "依" * 501})
    assert long_basis.status_code == 422  # said at the field, not only in the summary above the form
    assert '<small class="error" id="e-legal_basis">依据不能超过500个字</small>' in long_basis.get_data(as_text=True)
    assert (count_rows(ListItem), count_rows(ListChange)) == before
    _ok(admin.post(f"{LISTS}/draft/items/new", NEW_ITEM), 302)
    (key,) = [k for k, i in _keys(2).items() if i.matter == "电动自行车飞线充电（测试）"]
    item = _keys(2)[key]
    assert (item.phrases, item.unit_codes, item.deadline_working_days) == (["飞线充电", "楼道充电"], ["140100-urban"], 3)
    assert "电动自行车飞线充电（测试）" in text_of(_ok(admin.get(f"{LISTS}/draft/items/{key}")))
    _ok(admin.post(f"{LISTS}/draft/items/{key}", {**NEW_ITEM, "deadline_working_days": "4"}), 302)
    assert _keys(2)[key].deadline_working_days == 4
    refused = _ok(admin.post(f"{LISTS}/draft/publish", {"effective_from": days(-1).isoformat(), "note": "第二版"}), 302)
    shown = text_of(_ok(admin.get(refused.headers["Location"])))
    assert f"未能发布：生效日期不能早于今天（{today():%Y-%m-%d}）" in shown and _version(2).status == "draft"
    _ok(admin.post(f"{LISTS}/draft/publish", {"effective_from": today().isoformat(), "note": "新增飞线充电"}), 302)
    v2 = _version(2)
    assert (v2.status, v2.effective_from, v2.note) == ("published", today(), "新增飞线充电")
    current = text_of(_ok(admin.get(f"{LISTS}/")))
    assert "第2版 已发布 现行" in current and "电动自行车飞线充电（测试）" in current
    assert "修改事项 “电动自行车飞线充电（测试）”" in current and "deadline_working_days：3 → 4" in current
    assert "新增事项 “电动自行车飞线充电（测试）”" in current and "新建草稿" in current
    old = text_of(_ok(admin.get(f"{LISTS}/?v=1")))
    assert "第1版 已发布" in old and "第1版 已发布 现行" not in old
    assert "电动自行车飞线充电（测试）" not in old and "从模板复制" in old and "修改事项" not in old
    assert admin.get(f"{LISTS}/?v=9").status_code == 404
    assert admin.post(f"{LISTS}/draft/items/{key}", NEW_ITEM).status_code == 404  # no draft any more


@pytest.fixture()
def server_elsewhere():
    """The server's clock in a zone whose calendar day differs from Shanghai's right now (POSIX TZ
    strings: "+12" is UTC-12, 20 hours behind Shanghai; "-14" is UTC+14, 6 hours ahead)."""
    shanghai = datetime.now(timezone(timedelta(hours=8)))
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "WEST+12" if shanghai.hour < 20 else "EAST-14"
    time.tzset()
    assert date.today() != shanghai.date()
    yield
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()


def test_the_publish_form_offers_a_date_it_accepts(world, login, server_elsewhere):
    """The form's default 生效日期 is today where the hotline works (Asia/Shanghai), whatever the
    server's clock zone; posting it as offered publishes."""
    taiyuan_list(world)
    admin = login("ty_admin")
    _ok(admin.post(f"{LISTS}/draft"), 302)
    form = admin.get(f"{LISTS}/?v=2").get_data(as_text=True)
    offered = re.search(r'name="effective_from" value="([^"]*)"', form).group(1)
    assert offered == today().isoformat()
    _ok(admin.post(f"{LISTS}/draft/publish", {"effective_from": offered, "note": "按表单默认日期发布"}), 302)
    assert _version(2).status == "published"


def test_the_try_box_routes_by_the_draft_before_it_is_published(world, login):
    taiyuan_list(world)
    admin = login("ty_admin")
    _ok(admin.post(f"{LISTS}/draft"), 302)
    _ok(admin.post(f"{LISTS}/draft/items/new", NEW_ITEM), 302)
    text = "我们楼道里好多人飞线充电，希望管一管"
    draft = _ok(admin.post(f"{LISTS}/try", {"text": text, "v": "2"})).get_data(as_text=True)
    assert 'data-platform="12345"' in draft and 'data-units="140100-urban"' in draft
    assert "电动自行车飞线充电（测试）" in draft and "按第2版（草稿）分流" in draft
    published = _ok(admin.post(f"{LISTS}/try", {"text": text, "v": "1"})).get_data(as_text=True)
    assert "电动自行车飞线充电（测试）" not in published and "按第1版（已发布）分流" in published
    knife = _ok(admin.post(f"{LISTS}/try", {"text": KNIFE, "v": "2"})).get_data(as_text=True)
    assert 'data-platform="110"' in knife and 'data-emergency="1"' in knife and "紧急" in knife
    empty = _ok(admin.post(f"{LISTS}/try", {"text": "  ", "v": "2"})).get_data(as_text=True)
    assert "请输入一句诉求内容" in empty
    with acting("ty_agent", "140100") as agent:  # the draft routes nothing yet
        routed = json.dumps(service.suggest(agent.tenant, text).as_json(), ensure_ascii=False)
    assert "电动自行车飞线充电（测试）" not in routed


def test_a_county_admin_reads_the_hubs_list_and_maps_its_own_unit(world, login):
    taiyuan_list(world)
    county = login("xd_admin")
    page = text_of(_ok(county.get("/t/140105/lists/")))
    assert "小店区使用太原市的清单" in page and "第1版 已发布 现行" in page and "路灯不亮或损坏" in page
    assert "新建修订草稿" not in page and "设置本地单位" in page
    assert "/draft/items/" not in county.get("/t/140105/lists/").get_data(as_text=True)  # no edit links
    assert county.post("/t/140105/lists/draft").status_code == 403
    assert county.post("/t/140105/lists/draft/items/new", NEW_ITEM).status_code == 403
    form = text_of(_ok(county.get("/t/140105/lists/units/street-light")))
    assert "本地承办单位：路灯不亮或损坏" in form and "小店区住房和城乡建设局" in form
    foreign = county.post("/t/140105/lists/units/street-light", {"unit_codes": "140100-urban"})
    assert foreign.status_code == 422 and "承办单位不属于小店区：140100-urban" in text_of(foreign)
    assert count_rows(UnitMapping) == 0
    _ok(county.post("/t/140105/lists/units/street-light", {"unit_codes": "140105-housing"}), 302)
    assert system(lambda: [(m.item_key, m.unit_codes) for m in _mappings()]) == [("street-light", ["140105-housing"])]
    assert "小店区住房和城乡建设局" in text_of(_ok(county.get("/t/140105/lists/")))
    assert county.get("/t/140105/lists/units/fire").status_code == 404  # a 119 item has no 12345 units
    with acting("xd_agent", "140105") as agent:
        assert service.suggest(agent.tenant, STREET_LIGHT).units == ["140105-housing"]
    with acting("ty_agent", "140100") as agent:  # the hub keeps its own unit
        assert service.suggest(agent.tenant, STREET_LIGHT).units == ["140100-urban"]


def _mappings():
    from saas.extensions import db

    return list(db.session.scalars(select(UnitMapping)))


def test_a_unit_handler_may_not_read_the_list(world, login):
    taiyuan_list(world)
    handler = login("ty_heating")
    assert handler.get(f"{LISTS}/").status_code == 403
    assert handler.post(f"{LISTS}/try", {"text": KNIFE}).status_code == 403


def test_another_hub_sees_its_own_state_never_taiyuans_draft(world, login):
    taiyuan_list(world)
    with acting("ty_admin", "140100") as admin:
        draft = lists.start_draft(lists.list_of(admin.tenant), admin)
        lists.save_item(draft, admin.tenant, admin, None, item_data(matter="太原草稿专有事项（测试）"))
    load_template(world, "350000")
    dh = text_of(_ok(login("dh_admin").get("/t/350526/lists/")))
    assert "德化县尚未建立本地清单，目前按省级模板（第1版" in dh and "从省级模板生成本地清单" in dh
    cq = login("cq_admin")
    for url in ("/t/500000/lists/", "/t/500000/lists/?v=2", "/t/500000/lists/?v=1"):
        page = text_of(_ok(cq.get(url)))
        assert "尚无分流转办事项清单" in page and "太原" not in page
    answer = _ok(cq.post("/t/500000/lists/try", {"text": "太原草稿专有事项", "v": "2"})).get_data(as_text=True)
    assert "太原草稿专有事项（测试）" not in answer
    assert cq.get(f"{LISTS}/?v=2").status_code == 404  # not a member of 太原
    assert count_rows(ListVersion, ListVersion.status == "draft") == 1
