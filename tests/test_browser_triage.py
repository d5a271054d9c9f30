"""Triage in headless Chromium (issue 5's Done-when): on the 太原市 intake page the suggestion follows
the typing; a knife attack is a 110 emergency with its reasons; a broken street light is a 12345
help request for the city-management unit, accepted in one click and dispatched to that unit; on
the list page a revision draft is tried in the try-it box, published, and the old version stays
readable."""
from __future__ import annotations

import re

from tests.factories import unit
from tests.test_browser import browser, pytestmark, server  # noqa: F401  (fixtures and marks)
from tests.test_browser_linkage import Desk, expect  # noqa: F401

CASE_URL = re.compile(r".*/cases/\d+$")


def _taiyuan_list(world):
    """The province template copied into 太原市's list and published, with its city-management unit."""
    from modules.triage import lists
    from saas.db import as_tenant, system_context, transaction
    from tests.factories import context_of

    with as_tenant(system_context()), transaction():
        unit(world["140100"], "chengxiang", name="太原市城乡管理局")
        lists.load_template(world["140000"])
        admin = context_of("ty_admin", "140100")
        lst = lists.copy_template(world["140100"], admin)
        from modules.deadlines.calendar import local_day
        from saas.db import utcnow

        lists.publish(lists.draft_of(lst), admin, local_day(utcnow()), "依据省级模板建立（测试）")


def test_intake_suggestion_follows_the_typing_and_one_click_accepts_it(app, world, server, browser, expect):  # noqa: F811
    _taiyuan_list(world)
    agent = Desk(browser, server, "ty_agent", "140100")
    page = agent.go("/cases/new")
    panel = page.locator("[data-testid=triage-panel]")

    page.fill("#f-text", "小区门口有人拿刀追着人砍")
    expect(panel.locator("[data-testid=triage-platform]")).to_contain_text("110")
    expect(panel.locator("[data-testid=triage-emergency]")).to_be_visible()
    expect(panel.locator("[data-testid=triage-reasons]")).to_contain_text("拿刀")

    page.fill("#f-text", "我们巷子的路灯坏了一个多月没人修")
    expect(panel.locator("[data-testid=triage-platform]")).to_have_text("12345")
    expect(panel.locator("[data-testid=triage-kind]")).to_have_text("求助")
    expect(panel.locator("[data-testid=triage-matter]")).to_contain_text("路灯")
    expect(panel.locator("[data-testid=triage-unit]")).to_have_text("太原市城乡管理局")
    assert page.locator("input[name=kind][value=求助]").is_checked() is False
    panel.locator("[data-testid=triage-accept]").click()
    assert page.locator("input[name=kind][value=求助]").is_checked()

    page.fill("#f-caller_phone", "13800006789")
    page.click("#save-intake")
    page.wait_for_url(CASE_URL)
    case_path = page.url.split("/t/140100")[1]
    assert not agent.errors, agent.errors
    agent.close()

    dispatcher = Desk(browser, server, "ty_dispatcher", "140100")
    page = dispatcher.go(case_path)
    expect(page.locator("[data-testid=dispatch-hint]")).to_contain_text("路灯")
    assert page.locator("#f-lead").input_value() == "140100-chengxiang"
    dispatcher.close()

    from modules.cases.models import Case
    from tests.factories import snapshot
    from saas.extensions import db
    from sqlalchemy import select

    case = snapshot(lambda: db.session.scalar(select(Case).execution_options(all_tenants=True)))
    assert case.triage["platform"] == "12345" and case.triage["suggested_units"] == ["140100-chengxiang"]
    assert case.triage["decision"]["outcome"] == "accepted" and case.triage["matter"]["key"] == "street-light"


def test_list_draft_is_tried_then_published_and_the_old_version_stays(app, world, server, browser, expect):  # noqa: F811
    _taiyuan_list(world)
    admin = Desk(browser, server, "ty_admin", "140100")
    page = admin.go("/lists/")
    expect(page.locator("[data-testid=version-status]")).to_have_text("已发布")
    page.click("[data-testid=start-draft]")
    expect(page.locator("[data-testid=version-status]")).to_have_text("草稿")
    page.click("[data-testid=new-item]")
    page.fill("#f-matter", "共享单车乱停放（测试）")
    page.fill("#f-phrases", "共享单车、单车乱停、小黄车")
    page.select_option("#f-category", "投诉举报")
    page.select_option("#f-kind", "投诉")
    page.fill("#f-deadline_working_days", "3")
    page.check("input[name=unit_codes][value=\"140100-chengxiang\"]")
    page.click("[data-testid=item-form] button[type=submit]")
    expect(page.locator("[data-testid=items]")).to_contain_text("共享单车乱停放（测试）")

    page.fill("[data-testid=try-form] textarea", "楼下共享单车乱停把盲道都堵了")
    page.click("[data-testid=try-form] button[type=submit]")
    expect(page.locator("#try-result [data-testid=triage-matter]")).to_contain_text("共享单车乱停放（测试）")
    expect(page.locator("#try-result")).to_contain_text("第2版（草稿）")

    page.click("[data-testid=publish-form] >> xpath=.. >> summary")
    page.fill("#f-note", "新增共享单车事项（测试）")
    page.click("[data-testid=publish-form] button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("第2版已发布")
    page = admin.go("/lists/?v=1")
    expect(page.locator("[data-testid=version-status]")).to_have_text("已发布")
    expect(page.locator("[data-testid=items]")).not_to_contain_text("共享单车乱停放（测试）")
    expect(page.locator("[data-testid=changes]")).to_contain_text("从模板复制")
    assert not admin.errors, admin.errors
    admin.close()
