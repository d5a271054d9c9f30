"""Sign-in, lockout, sign-out everywhere, password change, idle timeout, CSRF, headers, audit, switching."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from saas.db import utcnow
from saas.extensions import db
from saas.models import AuditLog, Membership, User
from modules.units.models import Unit
from tests.conftest import Client, text_of
from tests.factories import PASSWORD

LOGIN_FAILED = "用户名或密码错误"
NEW_PASSWORD = "xinmima2027ok"
UNIT_FORM = {"code": "140100-water", "name": "太原市水务局", "kind": "department",
             "liaison_name": "王五（演示）", "liaison_phone": "13800001234", "active": "1"}


def _alert(response) -> str:
    """The error shown in the login form (role="alert")."""
    found = re.search(r'role="alert">([^<]*)<', response.get_data(as_text=True))
    return found.group(1).strip() if found else ""


def _signed_out(c: Client, code: str = "140100") -> bool:
    response = c.get(f"/t/{code}/")
    return response.status_code == 302 and urlsplit(response.location).path == "/login"


def _read(stmt):
    db.session.rollback()  # a fresh snapshot: the requests committed in their own sessions
    return db.session.scalars(stmt.execution_options(all_tenants=True)).all()


def _user_id(username: str) -> int:
    return _read(select(User.id).where(User.username == username))[0]


# ---- sign-in ---------------------------------------------------------------------------------

def test_login_lands_on_the_home_page_of_the_users_tenant(world, client):
    response = client.post("/login", {"username": "ty_admin", "password": PASSWORD})
    assert response.status_code == 302 and response.location == "/"
    root = client.get("/")
    assert root.status_code == 302 and root.location == "/t/140100/"
    home = client.get("/t/140100/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    assert re.search(r'<span class="tenant-name">太原市</span>', page)
    assert re.search(r'data-testid="role">枢纽管理员<', page)
    assert "ty_admin（演示）" in text_of(home)


def test_wrong_password_and_unknown_user_get_the_same_answer(world, client):
    wrong = client.post("/login", {"username": "ty_admin", "password": "not-the-password1"})
    unknown = client.post("/login", {"username": "nobody_here", "password": "not-the-password1"})
    assert wrong.status_code == unknown.status_code == 401
    assert _alert(wrong) == _alert(unknown) == LOGIN_FAILED
    assert _signed_out(client)


# ---- lockout ---------------------------------------------------------------------------------

def _fail(c: Client, username: str, times: int) -> None:
    for _ in range(times):
        assert c.post("/login", {"username": username, "password": "wrong-password-9"}).status_code == 401


def test_one_failure_short_of_the_limit_still_lets_the_right_password_in(app, world, client):
    _fail(client, "ty_admin", app.config["LOGIN_MAX_FAILURES"] - 1)
    assert client.post("/login", {"username": "ty_admin", "password": PASSWORD}).status_code == 302


def test_lockout_refuses_the_right_password_and_answers_unknown_users_alike(app, world, client):
    limit = app.config["LOGIN_MAX_FAILURES"]
    _fail(client, "ty_admin", limit)
    known = client.post("/login", {"username": "ty_admin", "password": PASSWORD})
    assert known.status_code == 429
    assert "已暂时锁定" in _alert(known) and f"{app.config['LOGIN_LOCK_MINUTES']}分钟" in _alert(known)
    assert _signed_out(client)
    _fail(client, "ghost_user", limit)
    unknown = client.post("/login", {"username": "ghost_user", "password": PASSWORD})
    assert unknown.status_code == 429 and _alert(unknown) == _alert(known)
    assert Client(client.app).post("/login", {"username": "ty_agent", "password": PASSWORD}).status_code == 302


def test_lockout_per_address_across_usernames(app, world, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ADDRESS", 3)
    for name in ("alpha_user", "beta_user", "gamma_user"):
        _fail(client, name, 1)
    refused = client.post("/login", {"username": "xd_admin", "password": PASSWORD})
    assert refused.status_code == 429 and "已暂时锁定" in _alert(refused)
    assert _signed_out(client, "140105")
    elsewhere = Client(app)  # the lock is per address: another address still gets in
    elsewhere.http._client.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    elsewhere.login("xd_admin")
    assert elsewhere.get("/t/140105/").status_code == 200


# ---- ending sessions -------------------------------------------------------------------------

def test_logout_ends_every_session_of_the_user(world, login):
    laptop, phone = login("ty_admin"), login("ty_admin")
    assert phone.get("/t/140100/").status_code == 200
    out = laptop.post("/logout")
    assert out.status_code == 302 and urlsplit(out.location).path == "/login"
    assert _signed_out(phone) and _signed_out(laptop)
    assert login("ty_admin").get("/t/140100/").status_code == 200  # signing in again works


@pytest.mark.parametrize("form, field_message", [
    ({"current": PASSWORD, "new": "short12", "confirm": "short12"}, "密码至少10位"),
    ({"current": PASSWORD, "new": "onlyletterspw", "confirm": "onlyletterspw"}, "密码须同时包含字母和数字"),
    ({"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"}, "两次输入的新密码不一致"),
    ({"current": "wrong-current-1", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}, "当前密码不正确"),
], ids=["too-short", "no-digit", "mismatch", "wrong-current"])
def test_password_change_policy_errors(world, login, form, field_message):
    me, other = login("ty_agent"), login("ty_agent")
    response = me.post("/account/password", form)
    assert response.status_code == 422
    assert re.search(rf'class="error" id="e-\w+">{field_message}<', response.get_data(as_text=True))
    assert not _signed_out(me) and not _signed_out(other)
    assert Client(me.app).post("/login", {"username": "ty_agent", "password": NEW_PASSWORD}).status_code == 401


def test_password_change_ends_all_sessions_and_swaps_the_password(app, world, login):
    me, other = login("ty_agent"), login("ty_agent")
    done = me.post("/account/password", {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and urlsplit(done.location).path == "/login"
    assert "密码已修改" in text_of(me.get(done.location))
    assert _signed_out(other) and _signed_out(me)
    old = Client(app).post("/login", {"username": "ty_agent", "password": PASSWORD})
    assert old.status_code == 401 and _alert(old) == LOGIN_FAILED
    assert Client(app).login("ty_agent", NEW_PASSWORD).status_code == 302


def test_idle_session_is_signed_out(app, world, login):
    c = login("ty_agent")
    assert c.get("/t/140100/").status_code == 200
    with c.http.session_transaction() as session:
        session["seen"] = int(utcnow().timestamp()) - (app.config["SESSION_IDLE_MINUTES"] + 5) * 60
    response = c.get("/t/140100/")
    assert response.status_code == 302 and urlsplit(response.location).path == "/login"
    assert "自动退出" in text_of(c.get(response.location))
    assert _signed_out(c)


# ---- CSRF ------------------------------------------------------------------------------------

def test_login_without_csrf_token_is_refused(world, client):
    response = client.post("/login", {"username": "ty_admin", "password": PASSWORD}, csrf=False)
    assert response.status_code == 400 and "页面已过期" in text_of(response)
    assert _signed_out(client)
    assert not _read(select(AuditLog).where(AuditLog.action == "auth.login"))


def test_unit_form_without_csrf_token_creates_nothing(world, login):
    admin = login("ty_admin")
    response = admin.post("/t/140100/units/new", UNIT_FORM, csrf=False)
    assert response.status_code == 400 and "页面已过期" in text_of(response)
    assert not _read(select(Unit).where(Unit.code == "140100-water"))
    assert admin.post("/t/140100/units/new", UNIT_FORM).status_code == 302  # the same form, with its token
    assert _read(select(Unit.name).where(Unit.code == "140100-water")) == ["太原市水务局"]


def test_htmx_post_with_csrf_header_is_accepted(world, login):
    admin = login("ty_admin")
    headers = {"X-CSRFToken": admin.csrf(), "HX-Request": "true"}
    response = admin.post("/t/140100/units/new", UNIT_FORM, csrf=False, headers=headers)
    assert response.status_code == 302
    assert _read(select(Unit.tenant_id).where(Unit.code == "140100-water")) == [world["140100"].id]


# ---- headers and redirects -------------------------------------------------------------------

def test_security_headers_and_session_cookie_flags(world, client):
    login = client.post("/login", {"username": "ty_admin", "password": PASSWORD})
    cookie = next(c for c in login.headers.getlist("Set-Cookie") if c.startswith("liandong_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/t/140100/")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("target, landing", [
    ("https://evil.example/", "/"), ("//evil.example/", "/"), ("/%5Cevil.example/", "/"),
], ids=["absolute", "scheme-relative", "backslash"])
def test_login_never_redirects_off_site(world, client, target, landing):
    response = client.post(f"/login?next={target}", {"username": "ty_admin", "password": PASSWORD})
    assert response.status_code == 302 and response.location == landing
    as_browser_reads_it = urlsplit(response.location.replace("\\", "/"))  # a browser reads "\\" as "/"
    assert not as_browser_reads_it.scheme and not as_browser_reads_it.netloc


def test_login_follows_a_local_next(world, client):
    response = client.post("/login?next=/t/140100/units/", {"username": "ty_admin", "password": PASSWORD})
    assert response.status_code == 302 and response.location == "/t/140100/units/"


# ---- audit -----------------------------------------------------------------------------------

def test_failed_and_successful_logins_and_denials_are_audited(world, client, login):
    assert client.post("/login", {"username": "ty_admin", "password": "wrong-password-9"}).status_code == 401
    client.login("ty_admin")
    denied = login("ty_agent").get("/t/140100/units/new")
    assert denied.status_code == 403 and "没有执行此操作的权限" in text_of(denied)
    rows = _read(select(AuditLog).order_by(AuditLog.id))
    logins = [(r.result, r.actor_label, r.tenant_id, r.address) for r in rows if r.action == "auth.login"]
    ty = world["140100"].id
    assert ("failed", "ty_admin", ty, "127.0.0.1") in logins
    ok = [(r.actor_label, r.object_type, r.object_id, r.tenant_id) for r in rows
          if r.action == "auth.login" and r.result == "ok"]
    assert ("ty_admin（演示）", "User", str(_user_id("ty_admin")), ty) in ok
    assert [r for r in rows if r.action == "auth.login" and r.result not in ("ok", "failed")] == []
    denial = [r for r in rows if r.action == "permission.denied"]
    assert len(denial) == 1 and denial[0].result == "denied" and denial[0].tenant_id == ty
    assert denial[0].actor_id == _user_id("ty_agent")
    assert denial[0].detail == {"permission": "units.manage", "path": "/t/140100/units/new"}


# ---- switching tenant ------------------------------------------------------------------------

def _membership_id(username: str, code: str) -> int:
    return _read(select(Membership.id).join(User, Membership.user_id == User.id)
                 .where(User.username == username, Membership.tenant_id == _tenant_id(code)))[0]


def _tenant_id(code: str) -> int:
    from tenants.models import Tenant

    return db.session.scalar(select(Tenant.id).where(Tenant.code == code))


def test_switching_to_the_other_membership(world, login):
    multi = login("multi")
    assert multi.get("/").location == "/t/140100/"
    response = multi.post("/switch", {"membership_id": _membership_id("multi", "140106")})
    assert response.status_code == 302 and response.location == "/t/140106/"
    page = multi.get("/t/140106/").get_data(as_text=True)
    assert '<span class="tenant-name">迎泽区</span>' in page and 'data-testid="role">县级管理员<' in page
    assert multi.get("/").location == "/t/140106/"


def test_switching_to_someone_elses_membership_is_refused(world, login):
    multi = login("multi")
    foreign = _membership_id("xd_admin", "140105")
    response = multi.post("/switch", {"membership_id": foreign})
    assert response.status_code == 302 and response.location == "/"
    assert multi.get("/").location == "/t/140100/"
    assert "该岗位不存在或已到期" in text_of(multi.get("/t/140100/"))
    with multi.http.session_transaction() as session:
        assert session.get("membership_id") != foreign
    assert multi.get("/t/140105/").status_code == 404
