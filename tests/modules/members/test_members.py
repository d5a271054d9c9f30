"""People and posts through the pages: accounts, grants, limits, ending, expiry, password reset, the expiry job, tokens."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from saas.db import as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from saas.models import ApiToken, AuditLog, Membership, User
from tests import factories
from tests.conftest import Client, api, text_of

NEW = {"username": "ty_newagent", "display_name": "新话务员（演示）", "password": "xinmima2026ok",
       "role": "agent_12345", "tenant_code": "140100"}


def _audit(action: str) -> list[AuditLog]:
    db.session.rollback()  # the requests committed on their own; forget what this session saw
    with as_tenant(system_context()):
        return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def _posts(username: str) -> list[tuple[str, str, Membership]]:
    db.session.rollback()
    with as_tenant(system_context()):
        rows = db.session.scalars(select(Membership).join(User, Membership.user_id == User.id)
                                  .where(User.username == username).order_by(Membership.id))
        return [(m.tenant.code, m.role, m) for m in rows]


def _user(username: str) -> User | None:
    db.session.rollback()
    return db.session.scalar(select(User).where(User.username == username))


def _counts() -> tuple[int, int]:
    db.session.rollback()
    with as_tenant(system_context()):
        return (db.session.scalar(select(func.count(User.id))), db.session.scalar(select(func.count(Membership.id))))


def _error(response, field: str) -> str | None:
    found = re.search(rf'<div class="field has-error">\s*<label for="f-{field}".*?<small class="error"[^>]*>([^<]+)</small>',
                      response.get_data(as_text=True), re.S)
    return found.group(1) if found else None


def _refused(client, forms, field: str, message: str) -> None:
    """Each form is answered 422 with `message` on `field`, and no account or post is written."""
    before = _counts()
    for form in forms:
        response = client.post("/t/140100/members/new", form)
        assert response.status_code == 422
        assert _error(response, field) == message
    assert _counts() == before


def _login_status(app, username: str, password: str) -> int:
    return Client(app).post("/login", {"username": username, "password": password}).status_code


def test_hub_admin_creates_an_account_that_can_sign_in(world, login, app):
    response = login("ty_admin").post("/t/140100/members/new", NEW)
    assert response.status_code == 302 and response.headers["Location"].endswith("/t/140100/members/")
    user = _user("ty_newagent")
    assert user.display_name == "新话务员（演示）" and NEW["password"] not in user.password_hash
    [(code, role, membership)] = _posts("ty_newagent")
    assert (code, role, membership.unit_id, membership.valid_until) == ("140100", "agent_12345", None, None)
    assert membership.created_by_id == _user("ty_admin").id
    assert [r.detail["username"] for r in _audit("user.create")] == ["ty_newagent"]
    grant = _audit("membership.grant")
    assert [(r.tenant_id, r.object_id, r.detail["role"]) for r in grant] == \
        [(world["140100"].id, str(membership.id), "agent_12345")]
    person = login("ty_newagent", NEW["password"])
    root = person.get("/")
    assert root.status_code == 302 and root.headers["Location"].endswith("/t/140100/")
    home = text_of(person.get("/t/140100/"))
    assert "太原市" in home and "12345话务员" in home and "新话务员（演示）" in home
    assert person.get("/t/140100/members/new").status_code == 403


@pytest.mark.parametrize("change, field, message", [
    pytest.param({"username": "9 bad name"}, "username", "用户名为3-32位小写字母、数字、点、下划线或连字符，以字母开头",
                 id="bad-username"),
    pytest.param({"password": "short1"}, "password", "初始密码不符合要求：密码至少10位", id="short-password"),
    pytest.param({"password": "onlyletterspw"}, "password", "初始密码不符合要求：密码须同时包含字母和数字",
                 id="no-digit-password"),
    pytest.param({"password": "ty_newagent2026"}, "password", "初始密码不符合要求：密码不能包含用户名",
                 id="password-with-username"),
    pytest.param({"display_name": "  "}, "display_name", "新建账号须填写姓名", id="missing-name"),
])
def test_account_policy_errors_create_nothing(world, login, change, field, message):
    before = _counts()
    form = {**NEW, **change}
    response = login("ty_admin").post("/t/140100/members/new", form)
    assert response.status_code == 422
    assert _error(response, field) == message
    assert form["password"] not in response.get_data(as_text=True)  # the password is never echoed back
    assert _counts() == before
    assert _audit("user.create") == [] and _audit("membership.grant") == []


def test_hub_admin_cannot_grant_province_admin(world, login):
    ty = login("ty_admin")
    form = ty.get("/t/140100/members/new").get_data(as_text=True)
    assert 'value="agent_12345"' in form and 'value="hub_admin"' in form
    assert 'value="province_admin"' not in form and 'value="county_admin"' not in form
    _refused(ty, [{**NEW, "role": r} for r in ("province_admin", "province_supervisor", "county_admin")],
             "role", "您无权授予该岗位")


def test_hub_admin_staffs_only_its_own_tenant(world, login):
    ty = login("ty_admin")
    form = ty.get("/t/140100/members/new").get_data(as_text=True)
    assert '<option value="140100"' in form
    assert 'value="140105"' not in form and 'value="140106"' not in form and 'value="140000"' not in form
    _refused(ty, [{**NEW, "tenant_code": c} for c in ("140105", "140000", "350526")],
             "tenant_code", "请选择您有权管理的地区")


def test_unit_handler_needs_a_unit_of_the_tenant(world, login):
    ty = login("ty_admin")
    form = ty.get("/t/140100/members/new").get_data(as_text=True)
    assert 'value="140100-heating"' in form and 'value="140105-housing"' not in form
    handler = {**NEW, "username": "ty_handler", "role": "unit_handler"}
    _refused(ty, [{**handler, "unit_code": u} for u in ("", "140105-housing", "140100-nosuch")],
             "unit_code", "承办单位经办人须选择本地区的承办单位")
    assert ty.post("/t/140100/members/new", {**handler, "unit_code": "140100-heating"}).status_code == 302
    [(code, role, membership)] = _posts("ty_handler")
    assert (code, role, membership.unit_id) == ("140100", "unit_handler", world.units["140100-heating"].id)


def test_granting_a_post_to_an_existing_user_keeps_the_password(world, login, app):
    before = _user("xd_110")
    old_hash, old_name = before.password_hash, before.display_name
    users_before = _counts()[0]
    form = {"username": "XD_110", "display_name": "别的名字", "password": "another2026pw",
            "role": "desk_110", "tenant_code": "140100"}
    ty = login("ty_admin")
    assert ty.post("/t/140100/members/new", form).status_code == 302
    after = _user("xd_110")
    assert (after.password_hash, after.display_name) == (old_hash, old_name)
    assert _counts()[0] == users_before and _audit("user.create") == []
    assert [(c, r) for c, r, _ in _posts("xd_110")] == [("140105", "desk_110"), ("140100", "desk_110")]
    assert _login_status(app, "xd_110", "another2026pw") == 401
    person = login("xd_110")  # the old password still works
    assert person.get("/t/140100/").status_code == 200 and person.get("/t/140105/").status_code == 200
    again = ty.post("/t/140100/members/new", form)
    assert again.status_code == 422 and _error(again, "role") == "该人员在此地区已有相同岗位"


def test_province_admin_creates_a_hub_admin_in_a_city(world, login):
    sx = login("sx_admin")
    form = sx.get("/t/140000/members/new").get_data(as_text=True)
    assert 'value="140100"' in form and 'value="140105"' in form and 'value="province_admin"' in form
    assert 'value="350526"' not in form
    response = sx.post("/t/140000/members/new", {**NEW, "username": "ty_newhub", "display_name": "新枢纽管理员（演示）",
                                                 "role": "hub_admin", "tenant_code": "140100"})
    assert response.status_code == 302
    [(code, role, membership)] = _posts("ty_newhub")
    assert (code, role) == ("140100", "hub_admin")
    [grant] = _audit("membership.grant")
    assert (grant.tenant_id, grant.actor_id) == (world["140100"].id, _user("sx_admin").id)
    person = login("ty_newhub", NEW["password"])
    assert "枢纽管理员" in text_of(person.get("/t/140100/"))
    assert person.get("/t/140100/members/new").status_code == 200


def test_ending_a_membership_removes_access_at_once(world, login):
    agent = login("ty_agent")
    assert agent.get("/t/140100/").status_code == 200
    [(_, _, membership)] = _posts("ty_agent")
    ty = login("ty_admin")
    assert "<code>ty_agent</code>" in ty.get("/t/140100/members/").get_data(as_text=True)
    response = ty.post(f"/t/140100/members/{membership.id}/end")
    assert response.status_code == 302
    assert agent.get("/t/140100/").status_code == 404
    assert agent.get("/t/140100/units/").status_code == 404
    assert "您的账号尚未分配岗位" in text_of(agent.get("/"))
    [(_, _, ended)] = _posts("ty_agent")
    assert ended.valid_until is not None and ended.valid_until <= utcnow()
    assert [r.object_id for r in _audit("membership.end")] == [str(membership.id)]
    assert "<code>ty_agent</code>" not in ty.get("/t/140100/members/").get_data(as_text=True)
    assert "<code>ty_agent</code>" in ty.get("/t/140100/members/?ended=1").get_data(as_text=True)


def test_hub_admin_cannot_end_a_county_membership(world, login):
    [(_, _, membership)] = _posts("xd_110")
    assert login("ty_admin").post(f"/t/140100/members/{membership.id}/end").status_code == 403
    [(_, _, still)] = _posts("xd_110")
    assert still.valid_until is None and _audit("membership.end") == []


def test_a_time_bound_membership_ends_by_itself(world, login):
    with as_tenant(system_context()), transaction():
        factories.user("lent", (world["140100"], "agent_12345"),
                       (world["140106"], "agent_12345", None, utcnow() + timedelta(hours=1)))
    person = login("lent")
    assert person.get("/t/140106/").status_code == 200
    switcher = text_of(person.get("/t/140100/"))
    assert "迎泽区 · 12345话务员" in switcher
    [lent_id] = [m.id for code, _, m in _posts("lent") if code == "140106"]
    with as_tenant(system_context()), transaction():
        db.session.get(Membership, lent_id).valid_until = utcnow() - timedelta(seconds=1)
    assert person.get("/t/140106/").status_code == 404
    page = person.get("/t/140100/")
    assert page.status_code == 200
    assert "迎泽区" not in text_of(page) and 'action="/switch"' not in page.get_data(as_text=True)
    switched = person.post("/switch", {"membership_id": str(lent_id)})
    assert switched.status_code == 302
    assert "该岗位不存在或已到期" in text_of(person.get("/t/140100/"))


def test_resetting_a_password_ends_that_users_sessions(world, login, app):
    agent = login("ty_agent")
    [(_, _, membership)] = _posts("ty_agent")
    ty = login("ty_admin")
    ty.post(f"/t/140100/members/{membership.id}/password", {"password": "short"})
    assert "密码未修改：密码至少10位" in text_of(ty.get("/t/140100/members/"))
    assert agent.get("/t/140100/").status_code == 200  # a refused reset ends nothing
    assert ty.post(f"/t/140100/members/{membership.id}/password", {"password": "chongzhi2026x"}).status_code == 302
    response = agent.get("/t/140100/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _login_status(app, "ty_agent", factories.PASSWORD) == 401
    assert login("ty_agent", "chongzhi2026x").get("/t/140100/").status_code == 200
    assert [r.detail for r in _audit("user.password_reset")] == [{"username": "ty_agent"}]


def test_hub_admin_cannot_reset_the_password_of_someone_with_posts_beyond_its_reach(world, login):
    """Regression: resetting via a 太原 post took over multi's 迎泽区 county admin account too."""
    [membership] = [m for code, _, m in _posts("multi") if code == "140100"]  # multi is also 迎泽区's county admin
    old_hash = _user("multi").password_hash
    response = login("ty_admin").post(f"/t/140100/members/{membership.id}/password", {"password": "jieguan2026x"})
    assert response.status_code == 403
    assert _user("multi").password_hash == old_hash


def _run_expiry_job(tenant_id: int) -> int:
    from modules.members.jobs import note_expired_memberships
    from saas.jobs import job_context

    db.session.rollback()
    with transaction(), as_tenant(job_context(tenant_id, None)):
        return note_expired_memberships()


def test_expiry_job_audits_each_expired_membership_once(world):
    past, future = utcnow() - timedelta(seconds=5), utcnow() + timedelta(hours=1)
    ty, yz = world["140100"], world["140106"]
    with as_tenant(system_context()), transaction():
        factories.user("gone1", (ty, "agent_12345", None, past))
        factories.user("gone2", (ty, "desk_110", None, past), (yz, "agent_12345", None, past))
        factories.user("later", (ty, "agent_12345", None, future))
    ids = {(code, name): m.id for name in ("gone1", "gone2", "later") for code, _, m in _posts(name)}
    ty_id, yz_id = ty.id, yz.id
    assert _run_expiry_job(ty_id) == 2
    rows = _audit("membership.expired")
    assert sorted(r.object_id for r in rows) == sorted(str(ids[("140100", u)]) for u in ("gone1", "gone2"))
    assert {(r.tenant_id, r.actor_label, r.actor_id) for r in rows} == {(ty_id, "系统", None)}
    assert {r.detail["username"]: r.detail["role"] for r in rows} == {"gone1": "agent_12345", "gone2": "desk_110"}
    assert _run_expiry_job(ty_id) == 0
    assert len(_audit("membership.expired")) == 2
    assert _run_expiry_job(yz_id) == 1 and _run_expiry_job(yz_id) == 0
    rows = _audit("membership.expired")
    assert len(rows) == 3 and rows[-1].object_id == str(ids[("140106", "gone2")]) and rows[-1].tenant_id == yz_id
    assert all(str(ids[("140100", "later")]) != r.object_id for r in rows)


def _issue(client, form) -> str:
    response = client.post("/t/140100/members/tokens", form)
    assert response.status_code == 200, text_of(response)[:300]
    return re.search(r'data-testid="token-secret">.*?<code class="copy">([^<]+)</code>',
                     response.get_data(as_text=True), re.S).group(1)


def test_tokens_are_shown_once_stored_hashed_and_revocable(world, login, app):
    ty = login("ty_admin")
    refused = ty.post("/t/140100/members/tokens", {"name": "越权", "role": "province_admin"})
    assert refused.status_code == 422 and "您无权为该岗位签发令牌" in text_of(refused)
    no_unit = ty.post("/t/140100/members/tokens", {"name": "供热对接", "role": "unit_handler"})
    assert no_unit.status_code == 422 and "承办单位经办人令牌须指定承办单位" in text_of(no_unit)
    secret = _issue(ty, {"name": "供热公司工单系统", "role": "unit_handler", "unit_code": "140100-heating"})
    assert secret.startswith("ld_") and len(secret) > 30
    db.session.rollback()
    with as_tenant(system_context()):
        [token] = db.session.scalars(select(ApiToken)).all()
        stored = {c.key: getattr(token, c.key) for c in ApiToken.__table__.columns}
    assert (token.tenant_id, token.role, token.name, token.unit_id) == \
        (world["140100"].id, "unit_handler", "供热公司工单系统", world.units["140100-heating"].id)
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest() and token.prefix == secret[:10]
    assert not any(secret in str(value) for value in stored.values())
    assert not any(secret in str(r.detail) for r in _audit("token.create"))
    page = ty.get("/t/140100/members/tokens").get_data(as_text=True)
    assert secret not in page and f"{secret[:10]}…" in page and 'data-testid="token-secret"' not in page
    me = api(app, secret).get("/api/v1/me")
    assert me.status_code == 200 and me.get_json()["unit"] == "140100-heating"
    assert ty.post(f"/t/140100/members/tokens/{token.id}/revoke").status_code == 302
    assert api(app, secret).get("/api/v1/me").status_code == 401
    db.session.rollback()
    with as_tenant(system_context()):
        assert db.session.get(ApiToken, token.id).revoked_at is not None
    assert "已吊销" in text_of(ty.get("/t/140100/members/tokens"))
    assert [r.object_id for r in _audit("token.revoke")] == [str(token.id)]


def test_a_desk_110_token_from_the_tokens_page_works_on_the_api(world, login, app):
    """Regression: a hub-scoped token's first use flushed last_used_at with no tenant context (500)."""
    secret = _issue(login("ty_admin"), {"name": "110接处警系统对接", "role": "desk_110"})
    response = api(app, secret).get("/api/v1/units")
    assert response.status_code == 200
    codes = {u["code"] for u in response.get_json()}
    assert {"140100-heating", "140105-housing"} <= codes and "350526-housing" not in codes


def test_an_admin_cannot_end_their_own_post(world, login):
    admin = login("ty_admin")
    [own] = [m for code, _, m in _posts("ty_admin") if code == "140100"]
    assert f"/members/{own.id}/end" not in admin.get("/t/140100/members/").get_data(as_text=True)
    response = admin.post(f"/t/140100/members/{own.id}/end")
    assert response.status_code == 302
    assert "不能结束自己的岗位" in text_of(admin.get("/t/140100/members/"))
    assert admin.get("/t/140100/").status_code == 200
