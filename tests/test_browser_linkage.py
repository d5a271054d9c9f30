"""The 12345 ↔ 110 linkage in headless Chromium, one browser context per user: a 小店区 110 desk
records a non-police matter and hands it up; the 太原市 110 queue (already open) shows it through
its htmx poll and forwards it; the 太原市 12345 accepts and dispatches; the unit signs and replies;
the county desk sees the answer and the whole timeline. Then an emergency from 12345 that the
county 110 cannot refuse, and the printable 联动单."""
from __future__ import annotations

import re
import time

import pytest

from tests.factories import PASSWORD
from tests.test_browser import ARTIFACTS, browser, pytestmark, server  # noqa: F401  (fixtures and marks)

WAIT = 30_000   # ms: a page or an element after a click, on a slow 2-core machine
POLL = 25_000   # ms: the queue polls every 15 s; one full period plus the request, with room to spare
CASE_URL = re.compile(r".*/cases/\d+$")
TRANSFER_URL = re.compile(r".*/transfers/\d+$")


class Desk:
    """One user in their own browser context (own cookies), with the console errors of their pages."""

    def __init__(self, browser, server, username, code):  # noqa: F811
        self.server, self.code, self.username = server, code, username
        self.context = browser.new_context(locale="zh-CN")
        self.context.set_default_timeout(WAIT)
        self.context.set_default_navigation_timeout(WAIT)
        self.errors: list[str] = []
        self.page = self.context.new_page()
        self.page.on("console", lambda msg: self.errors.append(f"{username}: {msg.text}") if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(f"{username}: {exc}"))
        self.page.goto(f"{server}/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"**/t/{code}/")

    def go(self, path: str):
        self.page.goto(f"{self.server}/t/{self.code}{path}")
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture()
def expect():
    """Playwright's expect, waiting as long as a click may take here (its default is 5 s)."""
    from playwright.sync_api import expect as expect_

    expect_.set_options(timeout=WAIT)
    yield expect_
    expect_.set_options(timeout=None)  # back to Playwright's default for other modules


def _hops(page) -> list[str]:
    """The route's stops as the page names them ("小店区 · 110")."""
    return page.locator("[data-testid=route] [data-testid=hop] .ev-head strong").all_inner_texts()


def test_county_110_hands_a_matter_up_and_sees_the_units_answer(server, browser, expect):  # noqa: F811
    timings: dict[str, float] = {}
    hub110 = Desk(browser, server, "ty_110", "140100")
    queue = hub110.go("/transfers/")  # open BEFORE anything is sent: the row must arrive by the poll
    expect(queue.locator("[data-testid=waiting-count]")).to_have_text("0")
    expect(queue.locator("[data-testid=queue-row]")).to_have_count(0)
    queue.evaluate("window.__notReloaded = true")

    # 1. 小店区 110 records the call and hands it to 12345 with a reason
    desk = Desk(browser, server, "xd_110", "140105")
    page = desk.go("/cases/new")
    page.fill("#f-caller_phone", "13800005678")
    page.fill("#f-text", "小区暖气不热，室温只有十二度，家中有老人，来电人拨打110求助（演示）")
    page.fill("#f-address", "小店区坞城路1号（演示）")
    page.check("input[name=kind][value=报警]")
    page.click("#intake button[type=submit]")
    page.wait_for_url(CASE_URL)
    expect(page.locator("[data-testid=case-status]")).to_have_text("待派单")
    number = page.inner_text("[data-testid=case-number]").strip()
    case_id = int(page.url.rsplit("/", 1)[1])
    assert number.startswith("140105-")

    page.click("[data-testid=send-form] summary")
    expect(page.locator("[data-testid=send-form] input[name=purpose][value=transfer]")).to_be_checked()
    page.fill("#f-send-reason", "非警务类，属供热单位职责，转12345办理（演示）")
    page.click("[data-testid=send-form] button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("已发起转办，等待对方接收")
    sent_at = time.monotonic()
    expect(page.locator("[data-testid=case-status]")).to_have_text("转办中")
    expect(page.locator("[data-testid=transfer]")).to_have_count(1)
    expect(page.locator("[data-testid=transfer-status]")).to_have_text("待接收")
    assert _hops(page) == ["小店区 · 110", "太原市 · 110", "太原市 · 12345"]
    assert "转办理由：非警务类，属供热单位职责" in page.inner_text("[data-testid=transfer]")
    expect(page.locator("[data-testid=send-form]")).to_have_count(0)  # one open transfer at a time

    # 2. the 太原市 110 queue, open all along, shows it without a reload; forward it to 12345
    expect(queue.locator("[data-testid=queue-row]")).to_have_count(1, timeout=POLL)
    timings["queue poll"] = time.monotonic() - sent_at
    assert queue.evaluate("window.__notReloaded === true"), "the queue page reloaded instead of polling"
    expect(queue.locator("[data-testid=waiting-count]")).to_have_text("1")
    row = queue.locator("[data-testid=queue-row]")
    expect(row).to_contain_text(number)
    expect(row).to_contain_text("小店区110")
    queue.click(f"[data-testid=queue-row] a:has-text('{number}')")
    queue.wait_for_url(TRANSFER_URL)
    expect(queue.locator("[data-testid=case-number]")).to_have_text(number)
    expect(queue.locator("[data-testid=transfer] form button[type=submit].primary")).to_have_text("接收并转送太原市12345")
    queue.click("[data-testid=transfer] button:has-text('接收并转送太原市12345')")
    expect(queue.locator(".flash-success")).to_contain_text("已接收并转送太原市12345")
    expect(queue.locator("[data-testid=transfer-state]")).to_have_text("待太原市12345接收")
    expect(queue.locator("[data-testid=hop]").nth(1)).to_contain_text("已转送")
    expect(queue.locator("[data-testid=hop]").nth(2)).to_contain_text("待接收")
    expect(queue.locator("[data-testid=transfer] form[action$='/accept']")).to_have_count(0)  # not theirs any more

    # ... and the 太原市 12345 accepts it from its queue
    agent = Desk(browser, server, "ty_agent", "140100")
    aq = agent.go("/transfers/")
    expect(aq.locator("[data-testid=waiting-count]")).to_have_text("1")
    expect(aq.locator("[data-testid=queue-row]")).to_have_count(1)
    expect(aq.locator("[data-testid=queue-row]")).to_contain_text(number)
    aq.click(f"[data-testid=queue-row] a:has-text('{number}')")
    aq.wait_for_url(TRANSFER_URL)
    expect(aq.locator("[data-testid=transfer] form[action$='/reject']")).to_have_count(1)  # it may refuse
    aq.click("[data-testid=transfer] form[action$='/accept'] button")
    expect(aq.locator(".flash-success")).to_contain_text("已接收，工单转入本平台待派单")
    expect(aq.locator("[data-testid=transfer-state]")).to_have_text("已接收")
    aq.goto(f"{server}/t/140100/transfers/")
    expect(aq.locator("[data-testid=waiting-count]")).to_have_text("0")

    # 3. the dispatcher sends it to the heating company from the case page
    dispatcher = Desk(browser, server, "ty_dispatcher", "140100")
    dp = dispatcher.go(f"/cases/{case_id}")
    expect(dp.locator("[data-testid=case-status]")).to_have_text("待派单")
    expect(dp.locator("[data-testid=case-number]")).to_have_text(number)
    dp.select_option("#f-lead", "140100-heating")
    dp.click("#dispatch button[type=submit]")
    expect(dp.locator("[data-testid=case-status]")).to_have_text("已派单")
    expect(dp.locator("[data-testid=assignment]")).to_contain_text("太原市heating局")

    # ... the unit signs for it and replies in its inbox
    unit = Desk(browser, server, "ty_heating", "140100")
    up = unit.go("/inbox/")
    item = up.locator("[data-testid=inbox-item]", has_text=number)
    expect(item).to_have_count(1)
    item.locator("a").click()
    up.click("button:has-text('签收')")
    expect(up.locator("[data-testid=assignment-status]")).to_have_text("办理中")
    answer = "已派维修人员上门排查，更换堵塞阀门，室温恢复至二十度（演示）"
    up.fill("#f-result", answer)
    up.check("input[name=resolved][value='1']")
    up.click("#reply button[type=submit]")
    expect(up.locator(".flash-success")).to_contain_text("已答复")
    expect(up.locator("[data-testid=assignment-status]")).to_have_text("已答复")

    # ... and the 小店区 110 desk, reloading its case page, sees the answer and the whole way
    page.reload()
    expect(page.locator("[data-testid=followed]")).to_contain_text("太原市12345")  # read-only follow
    expect(page.locator("[data-testid=case-status]")).to_have_text("待回访")
    expect(page.locator("[data-testid=case-answer]")).to_have_text(answer)
    expect(page.locator("[data-testid=assignment]")).to_contain_text(answer)
    expect(page.locator("[data-testid=transfer-status]")).to_have_text("已接收")
    labels = [s.strip() for s in page.locator("[data-testid=timeline] .ev-head strong").all_inner_texts()]
    assert labels == ["受理", "发起转办", "转送", "接收转办", "派单", "签收", "办结答复"], labels
    timeline = page.inner_text("[data-testid=timeline]")
    assert "路线：小店区110 → 太原市110 → 太原市12345" in timeline
    assert "至：太原市12345" in timeline
    for form in ("send", "dispatch", "accept", "reject"):  # nothing to act on from here
        assert page.locator(f"form[action*='/{form}']").count() == 0, form
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "linkage-county-110.png"), full_page=True)

    # 4. the printable 联动单, from the county desk
    href = page.locator("[data-testid=transfer] a:has-text('打印联动单')").get_attribute("href")
    printed = desk.context.new_page()
    printed.on("console", lambda msg: desk.errors.append(f"print: {msg.text}") if msg.type == "error" else None)
    printed.goto(f"{server}{href}")
    expect(printed.locator("h1")).to_have_text("110联动单")
    expect(printed.locator("[data-testid=print-number]")).to_have_text(number)
    cells = printed.locator("[data-testid=print-route] tr td:nth-child(2)").all_inner_texts()
    assert cells == ["小店区110", "太原市110", "太原市12345"], cells
    assert "已接收" in printed.inner_text("[data-testid=print-route]")
    printed.close()

    errors = [e for d in (hub110, desk, agent, dispatcher, unit) for e in d.errors]
    assert errors == []
    for d in (hub110, desk, agent, dispatcher, unit):
        d.close()
    print(f"\ntimings: {', '.join(f'{k} {v:.1f}s' for k, v in timings.items())}")


def test_an_emergency_from_12345_cannot_be_refused_by_the_county_110(server, browser, expect):  # noqa: F811
    agent = Desk(browser, server, "ty_agent", "140100")
    page = agent.go("/cases/new")
    page.fill("#f-caller_phone", "13800001234")
    page.fill("#f-text", "楼道里闻到浓烈煤气味，有人倒地不起（演示）")
    page.select_option("#f-place_tenant", "140105")
    page.check("input[name=kind][value=求助]")
    page.check("input[name=emergency][value='1']")
    page.click("#intake button[type=submit]")
    page.wait_for_url(CASE_URL)
    number = page.inner_text("[data-testid=case-number]").strip()
    case_id = int(page.url.rsplit("/", 1)[1])
    page.click("[data-testid=send-form] summary")
    expect(page.locator("[data-testid=send-form]")).to_contain_text("紧急警情移交（110不得退回）")
    page.fill("#f-send-reason", "疑似燃气泄漏并有人员受伤，需110立即出警（演示）")
    page.click("[data-testid=send-form] button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("已发起转办")
    # an emergency passes the hub 110 at once and waits at the county where it happened
    assert _hops(page) == ["太原市 · 12345", "太原市 · 110", "小店区 · 110"]
    expect(page.locator("[data-testid=hop]").nth(2)).to_contain_text("待接收")

    desk = Desk(browser, server, "xd_110", "140105")
    queue = desk.go("/transfers/")
    row = queue.locator("[data-testid=queue-row]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(number)
    expect(row.locator(".badge.danger")).to_have_text("紧急")
    cp = desk.go(f"/cases/{case_id}")
    expect(cp.locator("[data-testid=waiting-for-me]")).to_be_visible()
    expect(cp.locator("[data-testid=no-reject]")).to_contain_text("110不得退回")
    expect(cp.locator("[data-testid=transfer] form[action$='/accept'] button")).to_have_text("接收")
    expect(cp.locator("[data-testid=transfer] form[action$='/reject']")).to_have_count(0)
    expect(cp.locator("button", has_text="退回")).to_have_count(0)
    expect(cp.locator("summary", has_text="退回")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    cp.screenshot(path=str(ARTIFACTS / "linkage-emergency-110.png"), full_page=True)
    transfer_page = cp.locator("[data-testid=transfer] a:has-text('详情')").get_attribute("href")
    cp.goto(f"{server}{transfer_page}")  # the transfer's own page offers no refusal either
    expect(cp.locator("[data-testid=no-reject]")).to_be_visible()
    expect(cp.locator("button", has_text="退回")).to_have_count(0)

    href = cp.locator("[data-testid=transfer] a:has-text('打印联动单')").get_attribute("href")
    cp.goto(f"{server}{href}")
    expect(cp.locator("[data-testid=print-number]")).to_have_text(number)
    expect(cp.locator(".sub .urgent")).to_have_text("紧急")
    cells = cp.locator("[data-testid=print-route] tr td:nth-child(2)").all_inner_texts()
    assert cells == ["太原市12345", "太原市110", "小店区110"], cells

    cp.goto(f"{server}/t/140105/cases/{case_id}")
    cp.click("[data-testid=transfer] form[action$='/accept'] button")
    expect(cp.locator(".flash-success")).to_contain_text("已接收，关联工单已生成")
    expect(cp.locator("[data-testid=linked]")).to_contain_text("110")
    assert agent.errors == [] and desk.errors == []
    agent.close()
    desk.close()
