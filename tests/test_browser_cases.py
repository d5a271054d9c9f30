"""Case work in headless Chromium: intake with the assist panel (htmx under the strict CSP),
Ctrl+Enter to save, dispatch, and the unit's inbox at phone width."""
from __future__ import annotations

from tests.factories import PASSWORD
from tests.test_browser import ARTIFACTS, browser, pytestmark, server  # noqa: F401  (fixtures and marks)


def _login(page, server, username):
    page.goto(f"{server}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/t/*/")


def test_intake_shows_duplicates_while_typing_and_saves_with_ctrl_enter(server, browser):  # noqa: F811
    page = browser.new_page(locale="zh-CN")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _login(page, server, "ty_agent")
    for text in ("小区暖气不热，室温只有十二度，家里有老人（演示）", "路灯坏了没人修（演示）"):
        page.goto(f"{server}/t/140100/cases/new")
        page.fill("#f-caller_phone", "13800005678")
        page.fill("#f-text", text)
        page.check("input[name=kind][value=投诉]")
        page.focus("#f-text")
        page.keyboard.press("Control+Enter")
        page.wait_for_url("**/cases/*")
        assert "待派单" in page.inner_text("[data-testid=case-status]")
    page.goto(f"{server}/t/140100/cases/new")
    page.fill("#f-caller_phone", "13800005678")
    page.type("#f-text", "暖气不热，室温只有十二度")
    page.wait_for_selector("[data-testid=duplicate]")
    assert "同一来电号码" in page.inner_text("#assist")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "intake-desktop.png"), full_page=True)
    page.click("[data-testid=duplicate] >> nth=0 >> text=并入此工单")
    page.wait_for_url("**/cases/*")
    assert "并入来电" in page.inner_text("[data-testid=timeline]")
    assert errors == []


def test_dispatch_then_the_unit_inbox_on_a_phone(server, browser):  # noqa: F811
    page = browser.new_page(locale="zh-CN")
    _login(page, server, "ty_agent")
    page.goto(f"{server}/t/140100/cases/new")
    page.fill("#f-text", "供暖管道漏水，楼道结冰（演示）")
    page.check("input[name=kind][value=求助]")
    page.click("text=保存受理")
    page.wait_for_url("**/cases/*")
    case_url = page.url
    page = browser.new_context(locale="zh-CN").new_page()  # the dispatcher's own browser
    _login(page, server, "ty_dispatcher")
    page.goto(case_url)
    page.select_option("#f-lead", "140100-heating")
    page.click("#dispatch button[type=submit]")
    page.wait_for_selector("text=已派单")
    assert "太原市heating局" in page.inner_text("[data-testid=assignment]")
    page.screenshot(path=str(ARTIFACTS / "case-desktop.png"), full_page=True)

    small = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN")
    phone = small.new_page()
    _login(phone, server, "ty_heating")
    phone.goto(f"{server}/t/140100/inbox/")
    phone.click("[data-testid=inbox-item] a")
    phone.click("button:has-text(\"签收\")")
    phone.wait_for_selector("text=办结答复")
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the assignment page is {overflow}px wider than a phone screen"
    phone.screenshot(path=str(ARTIFACTS / "assignment-phone.png"), full_page=True)
    small.close()
