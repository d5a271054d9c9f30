"""Transfer lists through the services: the template, a hub's copy with its own units, publishing,
versions in force, the change log, validation, and a county's own units."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from saas.extensions import db
from modules.triage import lists
from modules.triage.lists import ListError
from modules.triage.models import ListChange, ListItem, ListVersion, UnitMapping
from tests.factories import count_rows
from tests.modules.triage.steps import (acting, days, item_data, load_template, name_units, system, taiyuan_list,
                                        today)

TEMPLATE = json.loads(lists.TEMPLATE.read_text(encoding="utf-8"))


def _items(code, number):
    def read():
        version = lists.version_by_number(lists.list_of(_tenant(code)), number)
        return {i.key: i for i in lists.items(version)}
    return system(read)


def _tenant(code):
    from tenants.service import by_code

    return by_code(code)


def _effective(code, day=None):
    version = system(lambda: lists.effective_version(_tenant(code), day))
    return (version.tenant.code, version.number) if version else None


def _version(code, number):
    return system(lambda: lists.version_by_number(lists.list_of(_tenant(code)), number))


def test_a_hub_copies_the_template_as_draft_1_with_its_own_units(world):
    taiyuan_list(world, publish=False)
    assert [(v.number, v.status) for v in system(lambda: lists.versions(lists.list_of(_tenant("140100"))))] == [
        (1, "draft")]
    items = _items("140100", 1)
    assert sorted(items) == sorted(row["key"] for row in TEMPLATE["items"]) and len(items) == len(TEMPLATE["items"])
    assert items["street-light"].unit_codes == ["140100-urban"]  # 城乡管理局 found among 太原's units
    assert items["heating"].unit_codes == ["140100-heating"]    # 热力
    assert items["social-insurance"].unit_codes == []           # 太原 has no 人社局 yet
    assert all(i.unit_codes == [] for i in items.values() if i.platform != "12345")
    assert items["street-light"].deadline_working_days == 5 and "路灯" in items["street-light"].phrases
    log = system(lambda: [(c.action, c.actor_label) for c in lists.changes(_version("140100", 1))])
    assert log == [("copied", "ty_admin（演示）")]
    # A draft routes nothing: 太原 and its counties still use 山西's template.
    assert _effective("140100") == ("140000", 1) and _effective("140105") == ("140000", 1)
    with acting("ty_admin", "140100") as admin, pytest.raises(ListError, match="本地已有分流转办事项清单"):
        lists.copy_template(admin.tenant, admin)


def test_copying_before_the_province_has_a_template_is_refused(world):
    with acting("ty_admin", "140100") as admin, pytest.raises(ListError) as refused:
        lists.copy_template(admin.tenant, admin)
    assert refused.value.errors == {"_": "省级模板尚未发布，暂不能复制"}
    assert count_rows(ListVersion) == 0


def test_publish_refuses_a_past_date_or_no_note_then_puts_the_version_in_force(world):
    taiyuan_list(world, publish=False)
    refusals = [(days(-1), "首版", {"effective_from": f"生效日期不能早于今天（{today():%Y-%m-%d}）"}),
                (None, "首版", {"effective_from": "请填写生效日期"}),
                (today(), "   ", {"note": "请填写修订说明"})]
    for day, note, errors in refusals:
        with acting("ty_admin", "140100") as admin, pytest.raises(ListError) as refused:
            lists.publish(lists.draft_of(lists.list_of(admin.tenant)), admin, day, note)
        assert refused.value.errors == errors
        assert _version("140100", 1).status == "draft" and _effective("140100") == ("140000", 1)
    with acting("ty_admin", "140100") as admin:
        lists.publish(lists.draft_of(lists.list_of(admin.tenant)), admin, today(), "  首版  ")
    v1 = _version("140100", 1)
    assert (v1.status, v1.effective_from, v1.note) == ("published", today(), "首版")
    assert _effective("140100") == ("140100", 1)
    assert _effective("140105") == _effective("140106") == ("140100", 1)  # the counties use their hub's


def test_a_hub_without_a_list_uses_its_province_template_and_none_without_one(world):
    load_template(world, "350000")
    assert _effective("350526") == ("350000", 1)  # 德化县 is its own hub, with no list of its own
    assert _effective("350500") == ("350000", 1)
    assert _effective("140100") is None and _effective("140105") is None  # 山西 has no template yet
    load_template(world)
    assert _effective("140105") == ("140000", 1)


def test_a_future_effective_date_keeps_the_previous_version_in_force_until_then(world):
    taiyuan_list(world)
    with acting("ty_admin", "140100") as admin:
        draft = lists.start_draft(lists.list_of(admin.tenant), admin)
        lists.save_item(draft, admin.tenant, admin, "street-light", _edited(draft, deadline_working_days=3))
        lists.publish(draft, admin, days(7), "路灯时限改为3个工作日")
    assert _effective("140100") == ("140100", 1)
    assert _effective("140100", days(6)) == ("140100", 1) and _effective("140105", days(6)) == ("140100", 1)
    assert _effective("140100", days(7)) == ("140100", 2) and _effective("140105", days(7)) == ("140100", 2)
    assert _items("140100", 1)["street-light"].deadline_working_days == 5
    assert _items("140100", 2)["street-light"].deadline_working_days == 3


def _edited(version, **changes):
    item = lists.item_by_key(version, "street-light")
    data = item_data(**{f: getattr(item, f) for f in lists.FIELDS})
    for name, value in changes.items():
        setattr(data, name, value)
    return data


def test_editing_a_draft_logs_each_changed_field_old_and_new(world):
    taiyuan_list(world)
    with acting("ty_admin", "140100") as admin:
        draft = lists.start_draft(lists.list_of(admin.tenant), admin)
        lists.save_item(draft, admin.tenant, admin, "street-light",
                        _edited(draft, deadline_working_days=3, matter="路灯不亮、损坏或倒伏"))
        lists.save_item(draft, admin.tenant, admin, "street-light", _edited(draft))  # nothing changed
        added = lists.save_item(draft, admin.tenant, admin, None, item_data()).key
        lists.remove_item(draft, admin, "garbage")
    log = system(lambda: [(c.action, c.item_key, c.changes) for c in lists.changes(_version("140100", 2))][::-1])
    assert log[0] == ("drafted", None, {"from": "第1版"})
    assert log[1] == ("edited", "street-light", {"matter": ["路灯不亮或损坏", "路灯不亮、损坏或倒伏"],
                                                 "deadline_working_days": [5, 3]})
    assert log[2][:2] == ("created", added) and log[2][2]["matter"] == [None, "电动自行车楼道充电（测试）"]
    assert log[3] == ("removed", "garbage", {"category": ["求助", None], "matter": ["垃圾清运不及时", None],
                                             "platform": ["12345", None]})
    assert len(log) == 4
    assert "garbage" in _items("140100", 1) and "garbage" not in _items("140100", 2)
    assert _items("140100", 1)["street-light"].matter == "路灯不亮或损坏"


def test_published_versions_refuse_every_change(world):
    taiyuan_list(world)
    before = (count_rows(ListItem), count_rows(ListChange))
    message = "已发布的版本不能修改，请新建修订草稿"
    with acting("ty_admin", "140100") as admin:
        v1 = lists.version_by_number(lists.list_of(admin.tenant), 1)
        for attempt in (lambda: lists.save_item(v1, admin.tenant, admin, "street-light", _edited(v1, matter="改")),
                        lambda: lists.save_item(v1, admin.tenant, admin, None, item_data()),
                        lambda: lists.remove_item(v1, admin, "street-light"),
                        lambda: lists.publish(v1, admin, today(), "再发一次"),
                        lambda: lists.discard(v1, admin)):
            with pytest.raises(ListError) as refused:
                attempt()
            assert refused.value.errors == {"_": message}
    assert (count_rows(ListItem), count_rows(ListChange)) == before
    assert _items("140100", 1)["street-light"].matter == "路灯不亮或损坏"


def test_the_first_draft_cannot_be_discarded_a_later_one_can(world):
    taiyuan_list(world, publish=False)
    with acting("ty_admin", "140100") as admin, pytest.raises(ListError) as refused:
        lists.discard(lists.draft_of(lists.list_of(admin.tenant)), admin)
    assert refused.value.errors == {"_": "清单还没有发布过的版本，第一版草稿不能放弃，请修改后发布"}
    assert _version("140100", 1).status == "draft"
    with acting("ty_admin", "140100") as admin:
        lst = lists.list_of(admin.tenant)
        lists.publish(lists.draft_of(lst), admin, today(), "首版")
        lists.discard(lists.start_draft(lst, admin), admin)
        again = lists.start_draft(lst, admin)
        assert (again.number, again.based_on_id) == (3, lists.version_by_number(lst, 1).id)
    assert _version("140100", 2).status == "discarded" and _effective("140100") == ("140100", 1)


@pytest.mark.parametrize("changes, errors", [
    ({"platform": "110", "kind": "求助"}, {"kind": "110的诉求类型应为报警、紧急求助、警务投诉"}),
    ({"platform": "other", "kind": "咨询", "channel": None},
     {"channel": "不属于双方受理的事项请选择引导渠道（法院、检察院、纪检监察、仲裁、信访、人大、政协、军队、组织、外地）"}),
    ({"deadline_working_days": None}, {"deadline_working_days": "12345事项请填写办理时限（1至60个工作日）"}),
    ({"deadline_working_days": 61}, {"deadline_working_days": "12345事项请填写办理时限（1至60个工作日）"}),
    ({"unit_codes": ["140100-urban", "140105-housing"]}, {"unit_codes": "承办单位不属于太原市：140105-housing"}),
    ({"platform": "119", "kind": "紧急求助", "emergency": False}, {"emergency": "119、120事项均为紧急事项"}),
    ({"emergency": True}, {"emergency": "紧急事项应由110、119、120或122受理"}),
    ({"matter": "  ", "phrases": []}, {"matter": "请填写事项名称", "phrases": "请至少填写一个常见说法，用顿号或空格分隔"}),
], ids=["kind-of-platform", "other-without-channel", "no-deadline", "deadline-61", "foreign-unit",
        "119-not-emergency", "12345-emergency", "blank"])
def test_a_bad_item_is_refused_with_its_message_and_writes_nothing(world, changes, errors):
    taiyuan_list(world, publish=False)
    before = (count_rows(ListItem), count_rows(ListChange))
    with acting("ty_admin", "140100") as admin:
        draft = lists.draft_of(lists.list_of(admin.tenant))
        assert lists.validate_item(admin.tenant, item_data(**changes)) == errors
        with pytest.raises(ListError) as refused:
            lists.save_item(draft, admin.tenant, admin, None, item_data(**changes))
        assert refused.value.errors == errors
    assert (count_rows(ListItem), count_rows(ListChange)) == before


def test_an_other_item_keeps_its_channel_and_drops_units_and_deadline(world):
    taiyuan_list(world, publish=False)
    with acting("ty_admin", "140100") as admin:
        item = lists.save_item(lists.draft_of(lists.list_of(admin.tenant)), admin.tenant, admin, None,
                               item_data(platform="other", kind="咨询", channel="法院"))
        assert (item.channel, item.unit_codes, item.deadline_working_days) == ("法院", [], None)


def test_a_county_maps_only_its_own_units(world):
    taiyuan_list(world)
    for codes in (["140100-urban"], ["140106-housing"], ["140105-housing", "140106-housing"]):
        with acting("xd_admin", "140105") as county, pytest.raises(ListError) as refused:
            lists.set_mapping(county.tenant, county, "street-light", codes)
        assert refused.value.errors == {"unit_codes": f"承办单位不属于小店区：{codes[-1]}"}
    assert count_rows(UnitMapping) == 0
    with acting("xd_admin", "140105") as county:
        lists.set_mapping(county.tenant, county, "street-light", ["140105-housing"])
    assert system(lambda: lists.mappings(_tenant("140105"))) == {"street-light": ["140105-housing"]}
    row = system(lambda: db.session.scalar(select(UnitMapping)))
    assert (row.tenant.code, row.item_key, row.updated_by_label) == ("140105", "street-light", "xd_admin（演示）")
    with acting("xd_admin", "140105") as county:  # an empty choice falls back to the department fragments
        assert lists.set_mapping(county.tenant, county, "street-light", []) is None
    assert count_rows(UnitMapping) == 0


def test_resolve_units_takes_the_first_fragment_that_finds_any(world):
    name_units()
    units = system(lambda: lists.units_of(_tenant("140100")))
    assert lists.resolve_units(units, ["人社局", "城乡管理局", "热力"]) == ["140100-urban"]
    assert lists.resolve_units(units, ["人社局"]) == []
