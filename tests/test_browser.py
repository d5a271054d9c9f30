"""The real app in headless Chromium: log in, switch tenant, open the home page, at phone width too."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.factories import PASSWORD

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: install it with `apt-get install chromium` "
                                                "(Debian's package; CI installs it) to run the browser tests"),
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-results"


@pytest.fixture()
def server(app, world):
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


@pytest.fixture()
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                            "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield chromium
        chromium.close()


def test_login_switch_tenant_and_home(server, browser):
    page = browser.new_page(locale="zh-CN")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{server}/")
    assert page.url.endswith("/login")
    page.fill("#username", "multi")
    page.fill("#password", "wrong-password-1")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.inner_text("main")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/t/140100/")
    assert "太原市" in page.inner_text(".hero h1")
    assert page.inner_text("[data-testid=role]") == "12345话务员"
    assert page.inner_text("[data-testid=hub]").startswith("太原市")

    page.click("[data-testid=tenant-switcher] summary")
    page.click("text=迎泽区 · 县级管理员")
    page.wait_for_url("**/t/140106/")
    assert "迎泽区" in page.inner_text(".hero h1")
    assert page.inner_text("[data-testid=role]") == "县级管理员"
    assert page.inner_text("[data-testid=units-total]") == "1"
    assert page.is_visible("nav.mainnav >> text=人员与岗位")

    page.click("nav.mainnav >> text=承办单位")
    page.wait_for_url("**/t/140106/units/")
    page.wait_for_load_state("load")
    assert "迎泽区housing局" in page.inner_text("#list")
    page.fill("input[name=q]", "不存在的单位")
    page.wait_for_selector("text=没有符合条件的承办单位")  # htmx filtered without a reload
    assert "q=" in page.url and page.locator("#list .topbar, #list .mainnav").count() == 0  # only the fragment
    assert [e for e in errors if "status of 401" not in e] == []  # the wrong password answered 401; nothing else failed
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "units-desktop.png"), full_page=True)


def test_home_fits_a_phone_screen(server, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{server}/login")
    page.fill("#username", "ty_admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/t/140100/")
    for path in ("/t/140100/", "/t/140100/units/", "/t/140100/members/"):
        page.goto(f"{server}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than a phone screen"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "units-phone.png"), full_page=True)
    context.close()
