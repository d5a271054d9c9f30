"""The JSON API under /api/v1: bearer tokens, tenant scope, JSON errors, OpenAPI, and the token CLI."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, update

from saas.db import as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from saas.models import ApiToken, AuditLog
from tests import factories
from tests.conftest import _Http, api, isolated


def _token(world, code: str, role: str, unit: str | None = None) -> str:
    with as_tenant(system_context()), transaction():
        return factories.token(world[code], role, world.units[unit] if unit else None)


def _revoke(secret: str) -> None:
    from modules.members.service import revoke_token

    with as_tenant(system_context()), transaction() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.prefix == secret[:10]))
        revoke_token(None, row)


def _cli(app, *args):
    return isolated(app.test_cli_runner().invoke, args=list(args))


def _count(stmt) -> int:
    db.session.rollback()  # a fresh snapshot: requests and commands commit in their own sessions
    return db.session.scalar(stmt.execution_options(all_tenants=True))


def _assert_unauthorized(response) -> None:
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "unauthorized"
    assert "令牌" in body["error"]["message"] and not body["error"]["message"].isascii()


# ---- /me -------------------------------------------------------------------------------------

@pytest.mark.parametrize("code, role, name, level, hub", [
    ("140105", "county_admin", "小店区", "county", "140100"),
    ("350526", "hub_admin", "德化县", "county", "350526"),
    ("500103", "dispatcher", "渝中区", "county", "500000"),
    ("140000", "province_supervisor", "山西省", "province", None),
])
def test_me_answers_tenant_hub_and_role(app, world, code, role, name, level, hub):
    response = api(app, _token(world, code, role)).get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json() == {"tenant": {"code": code, "name": name, "level": level, "hub": hub},
                                   "role": role, "unit": None}


def test_me_shows_the_unit_of_a_unit_token(app, world):
    response = api(app, _token(world, "140100", "unit_handler", "140100-heating")).get("/api/v1/me")
    assert response.status_code == 200
    body = response.get_json()
    assert body["unit"] == "140100-heating" and body["role"] == "unit_handler"
    assert body["tenant"]["code"] == "140100" and body["tenant"]["hub"] == "140100"


@pytest.mark.parametrize("code, role", [
    ("140105", "county_admin"), ("140105", "desk_110"), ("140100", "hub_admin"),
    ("140000", "province_supervisor"), ("140000", "province_admin"),
], ids=["own", "served-desk", "served-hub", "oversight", "tree"])
def test_a_new_token_works_on_first_use_whatever_its_scope(app, world, code, role):
    """Regression: stamping last_used_at before the context was built made every non-own scope a 500."""
    secret = _token(world, code, role)
    response = api(app, secret).get("/api/v1/me")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["tenant"]["code"] == code and response.get_json()["role"] == role
    assert _count(select(func.count(ApiToken.id)).where(ApiToken.last_used_at.is_not(None))) == 1


def test_me_marks_the_token_as_used(app, world):
    secret = _token(world, "140105", "county_admin")
    assert _count(select(func.count(ApiToken.id)).where(ApiToken.last_used_at.is_not(None))) == 0
    assert api(app, secret).get("/api/v1/me").status_code == 200
    assert _count(select(func.count(ApiToken.id)).where(ApiToken.last_used_at.is_not(None))) == 1


# ---- authentication failures -----------------------------------------------------------------

def test_no_token_is_unauthorized(app, world):
    _assert_unauthorized(_Http(app).get("/api/v1/me"))
    _assert_unauthorized(_Http(app).get("/api/v1/units"))


@pytest.mark.parametrize("header", ["Bearer ld_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "ld_x"])
def test_bad_token_is_unauthorized(app, world, header):
    _assert_unauthorized(_Http(app).get("/api/v1/me", headers={"Authorization": header}))


def test_token_with_wrong_scheme_is_unauthorized(app, world):
    secret = _token(world, "140105", "county_admin")
    _assert_unauthorized(_Http(app).get("/api/v1/me", headers={"Authorization": f"Token {secret}"}))
    assert api(app, secret).get("/api/v1/me").status_code == 200


def test_revoked_token_is_unauthorized(app, world):
    secret = _token(world, "140105", "county_admin")
    client = api(app, secret)
    assert client.get("/api/v1/me").status_code == 200
    _revoke(secret)
    _assert_unauthorized(client.get("/api/v1/me"))
    _assert_unauthorized(client.get("/api/v1/units"))
    assert _count(select(func.count(AuditLog.id)).where(AuditLog.action == "token.revoke")) == 1


def test_a_token_revoked_by_another_process_stops_within_the_cache_time(app, world, monkeypatch):
    """Another web process revokes: this one trusts what it resolved for API_TOKEN_CACHE_SECONDS."""
    monkeypatch.setitem(app.config, "API_TOKEN_CACHE_SECONDS", 0.3)
    secret = _token(world, "140105", "county_admin")
    client = api(app, secret)
    assert client.get("/api/v1/me").status_code == 200
    with as_tenant(system_context()), transaction() as session:  # not through the service: no local forgetting
        session.execute(update(ApiToken).where(ApiToken.prefix == secret[:10]).values(revoked_at=utcnow())
                        .execution_options(all_tenants=True))
    time.sleep(0.35)
    _assert_unauthorized(client.get("/api/v1/me"))


def test_a_deactivated_tenants_token_is_refused_at_once(app, world):
    from tenants import service

    secret = _token(world, "140105", "county_admin")
    client = api(app, secret)
    assert client.get("/api/v1/me").status_code == 200
    with as_tenant(system_context()), transaction():
        tenant = world["140105"]
        service.update(db.session.merge(tenant), name="小店区", is_hub=False, runs_12345=True, runs_110=True,
                       active=False)
    _assert_unauthorized(client.get("/api/v1/me"))


def test_a_remembered_token_acts_as_itself(app, world):
    """The second call, answered from what the first resolved, is the same actor in the same scope."""
    client = api(app, _token(world, "140100", "dispatcher"))
    first, second = client.get("/api/v1/me").get_json(), client.get("/api/v1/me").get_json()
    assert first == second and first["tenant"]["code"] == "140100"
    served = {"140100-heating", "140100-urban", "140105-housing", "140106-housing"}  # the counties it serves too
    assert _codes(client.get("/api/v1/units")) == served


def test_calls_over_the_rate_are_refused_per_token_and_say_when_to_come_back(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    busy, other = api(app, _token(world, "140100", "dispatcher")), api(app, _token(world, "140100", "dispatcher"))
    assert [busy.get("/api/v1/me").status_code for _ in range(3)] == [200, 200, 200]
    refused = busy.get("/api/v1/me")
    assert refused.status_code == 429 and refused.mimetype == "application/json"
    error = refused.get_json()["error"]
    assert error["code"] == "too_many_requests" and "频繁" in error["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert other.get("/api/v1/me").status_code == 200  # each token has its own allowance


def test_a_dead_database_connection_is_replaced_before_a_request_uses_it(app, world):
    """The server ended a pooled connection (a restart, an administrator): the next request is
    served on a new one, without a ping on every checkout."""
    from sqlalchemy import create_engine, text

    if db.engine.dialect.name != "postgresql":
        pytest.skip("a server connection is needed")
    client = api(app, _token(world, "140100", "dispatcher"))
    assert client.get("/api/v1/me").status_code == 200  # the pool now holds server connections
    outsider = create_engine(db.engine.url)
    with outsider.connect() as conn:
        ended = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    outsider.dispose()
    time.sleep(0.2)
    assert ended >= 1
    assert client.get("/api/v1/me").status_code == 200


# ---- /units ----------------------------------------------------------------------------------

def _codes(response) -> set[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return {u["code"] for u in response.get_json()}


def test_hub_token_sees_the_units_of_the_counties_it_serves(app, world):
    response = api(app, _token(world, "140100", "agent_12345")).get("/api/v1/units")
    assert _codes(response) == {"140100-heating", "140100-urban", "140105-housing", "140106-housing"}
    by_code = {u["code"]: u for u in response.get_json()}
    assert by_code["140105-housing"]["tenant"] == "140105"
    assert by_code["140100-heating"] == {"code": "140100-heating", "name": "太原市heating局", "kind": "utility",
                                         "tenant": "140100"}


def test_county_token_sees_only_its_own_units(app, world):
    client = api(app, _token(world, "140105", "county_admin"))
    assert _codes(client.get("/api/v1/units")) == {"140105-housing"}
    own = client.get("/api/v1/units/140105-housing")
    assert own.status_code == 200 and own.get_json()["tenant"] == "140105"


@pytest.mark.parametrize("code", ["140106-housing", "140100-heating", "350526-housing", "no-such-unit"])
def test_units_out_of_reach_are_not_found(app, world, code):
    response = api(app, _token(world, "140105", "county_admin")).get(f"/api/v1/units/{code}")
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "not_found" and not error["message"].isascii()
    assert code not in response.get_data(as_text=True)


def test_hub_token_reads_a_served_countys_unit(app, world):
    response = api(app, _token(world, "140100", "hub_admin")).get("/api/v1/units/140106-housing")
    assert response.status_code == 200 and response.get_json()["tenant"] == "140106"


def test_role_without_units_view_is_forbidden(app, world):
    client = api(app, _token(world, "140100", "unit_handler", "140100-heating"))
    response = client.get("/api/v1/units")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert "heating" not in response.get_data(as_text=True)
    assert client.get("/api/v1/units/140100-heating").status_code == 403
    assert _count(select(func.count(AuditLog.id)).where(AuditLog.action == "permission.denied",
                                                        AuditLog.result == "denied")) == 2


# ---- OpenAPI ---------------------------------------------------------------------------------

def test_openapi_document_is_public(app, world):
    response = _Http(app).get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.")
    assert {"/me", "/units", "/units/{code}"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


# ---- the token CLI ---------------------------------------------------------------------------

def _cli_token(app, role: str, *extra: str) -> str:
    result = _cli(app, "tokens", "create", "--tenant", "140105", "--role", role, "--name", "x", *extra)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ld_") and result.output.strip() == lines[0]
    return lines[0]


def test_cli_creates_a_token_printed_alone(app, world):
    secret = _cli_token(app, "desk_110")
    db.session.rollback()
    with as_tenant(system_context()):
        row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == secret[:10]))
    assert (row.tenant.code, row.role, row.name, row.revoked_at) == ("140105", "desk_110", "x", None)
    assert row.token_hash != secret and secret not in row.token_hash


def test_cli_desk_token_works_on_me(app, world):
    response = api(app, _cli_token(app, "desk_110")).get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json()["tenant"]["code"] == "140105" and response.get_json()["role"] == "desk_110"


def test_cli_county_token_works_on_me(app, world):
    response = api(app, _cli_token(app, "county_admin")).get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json()["tenant"] == {"code": "140105", "name": "小店区", "level": "county", "hub": "140100"}


def test_cli_creates_a_unit_token(app, world):
    result = _cli(app, "tokens", "create", "--tenant", "140100", "--role", "unit_handler",
                  "--unit", "140100-heating")
    assert result.exit_code == 0, result.output
    assert api(app, result.stdout.strip()).get("/api/v1/me").get_json()["unit"] == "140100-heating"


@pytest.mark.parametrize("args, message", [
    (["--tenant", "999999", "--role", "desk_110"], "没有代码为 999999 的租户"),
    (["--tenant", "140105", "--role", "janitor"], "未知岗位：janitor"),
    (["--tenant", "140105", "--role", "unit_handler"], "承办单位经办人令牌须指定承办单位"),
    (["--tenant", "140105", "--role", "unit_handler", "--unit", "140100-heating"], "没有编码为 140100-heating"),
], ids=["unknown-tenant", "unknown-role", "unit-role-without-unit", "unit-of-another-tenant"])
def test_cli_refuses_bad_input(app, world, args, message):
    result = _cli(app, "tokens", "create", *args, "--name", "x")
    assert result.exit_code != 0
    assert message in result.output and "ld_" not in result.stdout
    assert _count(select(func.count(ApiToken.id))) == 0


def test_cli_revokes_by_prefix(app, world):
    secret = _cli_token(app, "county_admin")
    other = _token(world, "140105", "county_admin")
    assert api(app, secret).get("/api/v1/me").status_code == 200
    result = _cli(app, "tokens", "revoke", secret[:10])
    assert result.exit_code == 0, result.output
    _assert_unauthorized(api(app, secret).get("/api/v1/me"))
    assert api(app, other).get("/api/v1/me").status_code == 200
    missing = _cli(app, "tokens", "revoke", "ld_nothing")
    assert missing.exit_code != 0 and "没有这个令牌" in missing.output
