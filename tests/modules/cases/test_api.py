"""The cases and dispatch JSON API in depth: refusals that write nothing, reading and listing,
Idempotency-Key, unit tokens reading their assignments' cases, and the OpenAPI document."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from saas.db import as_tenant, system_context, transaction
from saas.extensions import db
from saas.idempotency import IdempotencyRecord
from saas.models import AuditLog
from saas.outbox import OutboxMessage
from saas.templating import SHANGHAI
from modules.cases.models import Case, CaseEvent
from modules.dispatch.models import Assignment, Attachment, ExtensionRequest
from tests import factories
from tests.conftest import api

PHONE = "13800005678"
BODY = {"text": "小区暖气不热，室温十二度（演示）", "channel": "phone", "kind": "投诉",
        "caller": {"name": "王女士（演示）", "phone": PHONE}, "address": "迎泽区（演示）"}
TOKENS = {"agent": ("140100", "agent_12345", None), "agent2": ("140100", "agent_12345", None),
          "dispatcher": ("140100", "dispatcher", None), "supervisor": ("140100", "supervisor", None),
          "admin": ("140100", "hub_admin", None), "auditor": ("140100", "auditor", None),
          "desk110": ("140100", "desk_110", None), "heating": ("140100", "unit_handler", "140100-heating"),
          "urban": ("140100", "unit_handler", "140100-urban"), "xd": ("140105", "unit_handler", "140105-housing"),
          "dh_agent": ("350526", "agent_12345", None), "dh_dispatcher": ("350526", "dispatcher", None)}


@pytest.fixture()
def c(app, world):
    with as_tenant(system_context()), transaction():
        secrets = {name: factories.token(world[code], role, world.units[unit] if unit else None)
                   for name, (code, role, unit) in TOKENS.items()}
    return {name: api(app, secret) for name, secret in secrets.items()}


_read, _count = factories.snapshot, factories.count_rows


def _snapshot() -> dict:
    return {m.__name__: _count(m) for m in (Case, CaseEvent, Assignment, ExtensionRequest, Attachment,
                                            OutboxMessage, IdempotencyRecord)}


def _ok(r, status=200) -> dict | list:
    assert r.status_code == status, r.get_json()
    return r.get_json()


def _refused(r, status):
    assert r.status_code == status, (status, r.status_code, r.get_data(as_text=True)[:300])
    body = r.get_json()
    assert set(body) == {"error"} and body["error"]["code"], body
    assert re.search(r"[\u4e00-\u9fff]", body["error"]["message"]), body  # Chinese, for people
    return body["error"]


def _new_case(client, **changes) -> str:
    return _ok(client.post("/api/v1/cases", json={**BODY, **changes}), 201)["id"]


def _dispatched(c, unit="140100-heating", **changes) -> tuple[str, str]:
    case_id = _new_case(c["agent"], **changes)
    made = _ok(c["dispatcher"].post(f"/api/v1/cases/{case_id}/assignments", json={"units": [{"unit": unit}]}), 201)
    return case_id, made[0]["id"]


# ---- refusals write nothing -------------------------------------------------------------------

def test_every_write_endpoint_refuses_bad_input_and_writes_nothing(app, c):
    new_case = _new_case(c["agent"])
    other_case = _new_case(c["dh_agent"])
    replied_case, done = _dispatched(c)
    _ok(c["heating"].post(f"/api/v1/assignments/{done}/accept"))
    _ok(c["heating"].post(f"/api/v1/assignments/{done}/reply", json={"result": "已修复（演示）", "resolved": True}))
    _, open_a = _dispatched(c)
    _ok(c["heating"].post(f"/api/v1/assignments/{open_a}/accept"))
    request_id = _ok(c["heating"].post(f"/api/v1/assignments/{open_a}/extension",
                                       json={"working_days": 2, "reason": "需协调供热公司（演示）"}), 201)["id"]
    unit = [{"unit": "140100-heating", "role": "lead"}]
    cases = [
        ("agent", "/cases", {}, 422), ("agent", "/cases", {"text": 5, "kind": "求助"}, 422),
        ("agent", "/cases", {"text": "字" * 4001, "kind": "求助"}, 422),
        ("agent", "/cases", {**BODY, "caller": PHONE}, 422), ("agent", "/cases", {**BODY, "emergency": "yes"}, 422),
        ("agent", "/cases", {**BODY, "caller": {"phone": "12345"}}, 422),
        ("agent", "/cases", {**BODY, "place_tenant": "350526"}, 422), ("agent", "/cases", {**BODY, "kind": "报警"}, 422),
        ("agent", "/cases", [BODY], 400), ("heating", "/cases", BODY, 403),
        ("dispatcher", f"/cases/{new_case}/assignments", {}, 422),
        ("dispatcher", f"/cases/{new_case}/assignments", {"units": "140100-heating"}, 422),
        ("dispatcher", f"/cases/{new_case}/assignments", {"units": ["140100-heating"]}, 422),
        ("dispatcher", f"/cases/{new_case}/assignments", {"units": [{"unit": "140100-nowhere"}]}, 422),
        ("dispatcher", f"/cases/{new_case}/assignments", {"units": [{"unit": "350526-housing"}]}, 422),
        ("dispatcher", f"/cases/{new_case}/assignments", {"units": [{"unit": "140100-heating", "role": "boss"}]}, 422),
        ("dispatcher", f"/cases/{new_case}/assignments", {"units": [{**unit[0], "role": "assist"}]}, 422),
        ("dispatcher", f"/cases/{new_case}/assignments", {"units": unit, "deadline_working_days": "5"}, 422),
        ("dispatcher", f"/cases/{new_case}/assignments", {"units": unit, "deadline_working_days": True}, 422),
        ("dispatcher", f"/cases/{new_case}/assignments", {"units": unit, "deadline_working_days": 0}, 422),
        ("dispatcher", f"/cases/{new_case}/assignments", {"units": unit, "deadline_working_days": 99}, 422),
        ("dispatcher", f"/cases/{new_case}/assignments", {"units": unit, "instruction": "字" * 501}, 422),
        ("dispatcher", f"/cases/{other_case}/assignments", {"units": unit}, 404),
        ("dispatcher", "/cases/abc/assignments", {"units": unit}, 404),
        ("dispatcher", "/cases/999999/assignments", {"units": unit}, 404),
        ("agent", f"/cases/{new_case}/assignments", {"units": unit}, 403),
        ("urban", f"/assignments/{open_a}/accept", {}, 404), ("heating", "/assignments/abc/accept", {}, 404),
        ("heating", "/assignments/999999/accept", {}, 404), ("heating", f"/assignments/{open_a}/accept", {}, 409),
        ("heating", f"/assignments/{open_a}/return", {}, 422),
        ("heating", f"/assignments/{open_a}/return", {"reason": 5}, 422),
        ("heating", f"/assignments/{open_a}/return", {"reason": "字" * 501}, 422),
        ("urban", f"/assignments/{open_a}/return", {"reason": "不归我们管"}, 404),
        ("heating", f"/assignments/{open_a}/extension", {}, 422),
        ("heating", f"/assignments/{open_a}/extension", {"working_days": "2", "reason": "理由"}, 422),
        ("heating", f"/assignments/{open_a}/extension", {"working_days": True, "reason": "理由"}, 422),
        ("heating", f"/assignments/{open_a}/extension", {"working_days": 2, "reason": "理由"}, 409),  # one pending
        ("xd", f"/assignments/{open_a}/extension", {"working_days": 2, "reason": "理由"}, 404),
        ("heating", f"/assignments/{open_a}/reply", {"result": "", "resolved": True}, 422),
        ("heating", f"/assignments/{open_a}/reply", {"result": "字" * 4001, "resolved": True}, 422),
        ("heating", f"/assignments/{open_a}/reply", {"result": "已处理", "resolved": "yes"}, 422),
        ("heating", f"/assignments/{open_a}/reply", {"result": "已处理"}, 422),
        ("urban", f"/assignments/{open_a}/reply", {"result": "已处理", "resolved": True}, 404),
        ("heating", f"/assignments/{done}/reply", {"result": "再答复", "resolved": True}, 409),
        ("dispatcher", f"/extensions/{request_id}/decision", {}, 422),
        ("dispatcher", f"/extensions/{request_id}/decision", {"grant": "yes"}, 422),
        ("dispatcher", f"/extensions/{request_id}/decision", {"grant": False}, 422),
        ("dispatcher", f"/extensions/{request_id}/decision", {"grant": True, "note": "字" * 501}, 422),
        ("dispatcher", "/extensions/abc/decision", {"grant": True}, 404),
        ("dispatcher", "/extensions/999999/decision", {"grant": True}, 404),
        ("dh_dispatcher", f"/extensions/{request_id}/decision", {"grant": True}, 404),
        ("heating", f"/extensions/{request_id}/decision", {"grant": True}, 403),
        ("agent", f"/cases/{replied_case}/followup", {"satisfaction": "great", "solved": True}, 422),
        ("agent", f"/cases/{replied_case}/followup", {"satisfaction": "satisfied", "solved": "yes"}, 422),
        ("agent", f"/cases/{replied_case}/followup", {"satisfaction": "satisfied"}, 422),
        ("agent", f"/cases/{replied_case}/followup", {"satisfaction": "dissatisfied", "solved": False}, 422),
        ("agent", f"/cases/{replied_case}/followup", {"reached": "no"}, 422),
        ("agent", f"/cases/{new_case}/followup", {"satisfaction": "satisfied", "solved": True}, 409),
        ("dh_agent", f"/cases/{replied_case}/followup", {"satisfaction": "satisfied", "solved": True}, 404),
        ("agent", "/cases/abc/followup", {"satisfaction": "satisfied", "solved": True}, 404),
        ("agent", f"/cases/{new_case}/close", {}, 422), ("agent", f"/cases/{new_case}/close", {"reason": 5}, 422),
        ("agent", f"/cases/{replied_case}/close", {"reason": "重复来电"}, 409),
        ("agent", f"/cases/{other_case}/close", {"reason": "重复来电"}, 404),
        ("agent", "/cases/abc/close", {"reason": "重复来电"}, 404),
        ("desk110", f"/cases/{new_case}/close", {"reason": "重复来电"}, 403),
        ("supervisor", f"/cases/{new_case}/supervise", {}, 422),
        ("supervisor", f"/cases/{new_case}/supervise", {"instruction": 5}, 422),
        ("supervisor", f"/cases/{new_case}/supervise", {"instruction": "字" * 501}, 422),
        ("supervisor", f"/cases/{other_case}/supervise", {"instruction": "尽快"}, 404),
        ("supervisor", "/cases/abc/supervise", {"instruction": "尽快"}, 404),
        ("agent", f"/cases/{new_case}/supervise", {"instruction": "尽快"}, 403),
    ]
    before = _snapshot()
    for who, path, payload, status in cases:
        r = c[who].post(f"/api/v1{path}", json=payload)
        assert r.status_code == status, (who, path, str(payload)[:80], r.get_data(as_text=True)[:300])
        _refused(r, status)
    assert _snapshot() == before
    assert _count(Case, Case.status == "new") == 2 and _count(Assignment, Assignment.status == "accepted") == 1
    huge = c["agent"].post("/api/v1/cases", json={**BODY, "text": "字" * 400_000})  # over the 1 MB body limit
    _refused(huge, 413)
    assert _snapshot() == before


# ---- reading and listing ----------------------------------------------------------------------

def test_get_one_case_reveals_only_to_roles_that_may_and_audits(app, c):
    case_id = _new_case(c["agent"])
    other = _new_case(c["dh_agent"])
    _refused(c["agent"].get(f"/api/v1/cases/{other}"), 404)
    _refused(c["dh_agent"].get(f"/api/v1/cases/{case_id}"), 404)
    _refused(c["agent"].get("/api/v1/cases/abc"), 404)
    reveals = lambda: _count(AuditLog, AuditLog.action == "case.reveal_contact",  # noqa: E731
                             AuditLog.object_id == case_id, AuditLog.actor_label == "接口令牌：测试令牌")
    seen = reveals()  # the intake's own answer shows the agent what was typed, audited too
    full = _ok(c["agent"].get(f"/api/v1/cases/{case_id}"))
    assert full["caller"] == {"name": "王女士（演示）", "phone": PHONE} and reveals() == seen + 1
    detail = _read(lambda: db.session.scalar(select(AuditLog.detail).where(AuditLog.action == "case.reveal_contact")
                                             .order_by(AuditLog.id.desc()).execution_options(all_tenants=True)))
    assert detail["reason"] == "接口读取" and detail["number"] == full["number"]
    assert [e["type"] for e in full["events"]] == ["intake"] and full["events"][0]["tenant"] == "140100"
    for masked in ("auditor", "admin"):
        body = _ok(c[masked].get(f"/api/v1/cases/{case_id}"))
        assert body["caller"] == {"name": "王**", "phone": "138****5678"}
    assert reveals() == seen + 1


def test_list_filters_masks_and_rejects_bad_parameters(app, c):
    early = [_new_case(c["agent"]) for _ in range(2)]
    mark = datetime.now(SHANGHAI)
    late = [_new_case(c["agent"]), _new_case(c["agent"])]
    police = _new_case(c["desk110"], kind="报警", text="有人打架（演示）")
    _ok(c["dispatcher"].post(f"/api/v1/cases/{late[1]}/assignments", json={"units": [{"unit": "140100-urban"}]}), 201)
    _new_case(c["dh_agent"])
    listed = lambda **q: _ok(c["agent"].get("/api/v1/cases", query_string=q))  # noqa: E731
    audits = _count(AuditLog, AuditLog.action == "case.reveal_contact")
    everything = listed()
    assert everything["total"] == 5 and everything["page"] == 1 and everything["pages"] == 1
    assert all(item["caller"]["phone"] == "138****5678" and item["caller"]["name"] == "王**"
               for item in everything["items"])
    assert _count(AuditLog, AuditLog.action == "case.reveal_contact") == audits  # a list reveals nothing
    ids = lambda body: sorted(item["id"] for item in body["items"])  # noqa: E731
    assert ids(listed(status="dispatched")) == [late[1]]
    assert ids(listed(status="new")) == sorted([*early, late[0], police])
    assert ids(listed(platform="110")) == [police]
    assert ids(listed(platform="12345", status="new")) == sorted([*early, late[0]])
    assert ids(listed(updated_since=mark.isoformat())) == sorted([*late, police])
    utc = mark.astimezone(SHANGHAI).utcoffset()
    assert ids(listed(updated_since=(mark - utc).replace(tzinfo=None).isoformat() + "Z")) == sorted([*late, police])
    for bad in ({"updated_since": "yesterday"}, {"updated_since": "2026-11-22T09:30:00"}, {"status": "open"},
                {"platform": "119"}, {"page": "0"}, {"page": "two"}):
        _refused(c["agent"].get("/api/v1/cases", query_string=bad), 422)
    assert listed(page="2")["items"] == []
    _refused(c["heating"].get("/api/v1/cases"), 403)


def test_list_paginates_by_fifty(app, c):
    made = [_new_case(c["agent"], text=f"第{i}件（演示）") for i in range(51)]
    first = _ok(c["agent"].get("/api/v1/cases?page=1"))
    second = _ok(c["agent"].get("/api/v1/cases?page=2"))
    assert (first["total"], first["pages"], len(first["items"]), len(second["items"])) == (51, 2, 50, 1)
    assert sorted(i["id"] for i in first["items"] + second["items"]) == sorted(made)
    assert second["items"][0]["id"] == made[-1]  # ordered by last update


# ---- Idempotency-Key --------------------------------------------------------------------------

def test_idempotency_key_replays_refuses_and_is_per_token(app, c):
    key = {"Idempotency-Key": "intake-42"}
    first = c["agent"].post("/api/v1/cases", json=BODY, headers=key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    before = _snapshot()
    audits = _count(AuditLog)
    again = c["agent"].post("/api/v1/cases", json=BODY, headers=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _snapshot() == before and _count(AuditLog) == audits
    _refused(c["agent"].post("/api/v1/cases", json={**BODY, "text": "另一件事（演示）"}, headers=key), 422)
    case_id = first.get_json()["id"]
    _refused(c["agent"].post(f"/api/v1/cases/{case_id}/close", json={"reason": "重复"}, headers=key), 422)
    assert _snapshot() == before
    other = c["agent2"].post("/api/v1/cases", json=BODY, headers=key)
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers
    assert other.get_json()["id"] != case_id and _count(Case) == 2

    supervise = {"Idempotency-Key": "sv-1"}
    r1 = c["supervisor"].post(f"/api/v1/cases/{case_id}/supervise", json={"instruction": "尽快"}, headers=supervise)
    events = _count(CaseEvent)
    r2 = c["supervisor"].post(f"/api/v1/cases/{case_id}/supervise", json={"instruction": "尽快"}, headers=supervise)
    assert r1.status_code == r2.status_code == 200 and r2.headers["Idempotent-Replayed"] == "true"
    assert _count(CaseEvent) == events and _count(CaseEvent, CaseEvent.type == "supervised") == 1


def test_idempotency_key_format(app, c):
    for bad in ("k" * 129, "   ", "含中文"):
        r = c["agent"].post("/api/v1/cases", json=BODY, headers={"Idempotency-Key": bad.encode().decode("latin-1")})
        assert _refused(r, 400)["code"] == "bad_idempotency_key"
    assert _count(Case) == 0
    assert c["agent"].post("/api/v1/cases", json=BODY, headers={"Idempotency-Key": "k" * 128}).status_code == 201


def test_a_refused_request_does_not_consume_its_key(app, c):
    key = {"Idempotency-Key": "retry-7"}
    for _ in range(2):  # refused again, not replayed: a refusal rolls back with its key
        r = c["agent"].post("/api/v1/cases", json={**BODY, "text": ""}, headers=key)
        _refused(r, 422)
        assert "Idempotent-Replayed" not in r.headers
    assert _count(IdempotencyRecord) == 0 and _count(Case) == 0
    fixed = c["agent"].post("/api/v1/cases", json=BODY, headers=key)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers
    assert _count(IdempotencyRecord) == 1 and _count(Case) == 1


# ---- unit tokens ------------------------------------------------------------------------------

def test_county_unit_token_reads_the_hub_case_of_its_assignment_only(app, c):
    case_id, assignment_id = _dispatched(c, unit="140105-housing")
    elsewhere, _ = _dispatched(c, unit="140100-heating")
    body = _ok(c["xd"].get(f"/api/v1/cases/{case_id}"))
    assert body["owner_tenant"] == "140100" and [a["id"] for a in body["assignments"]] == [assignment_id]
    assert [a["id"] for a in _ok(c["xd"].get("/api/v1/assignments"))] == [assignment_id]
    _refused(c["xd"].get(f"/api/v1/cases/{elsewhere}"), 404)
    _refused(c["xd"].get(f"/api/v1/cases/{_new_case(c['agent'])}"), 404)
    accepted = _ok(c["xd"].post(f"/api/v1/assignments/{assignment_id}/accept"))
    assert accepted["status"] == "accepted" and accepted["case_detail"]["status"] == "in_progress"


def test_hub_unit_token_cannot_read_cases_not_assigned_to_its_unit(app, c):
    """Regression: a unit token of the hub itself (OWN scope = the hub) once read every hub case, unmasked."""
    mine, _ = _dispatched(c, unit="140100-heating")
    _ok(c["heating"].get(f"/api/v1/cases/{mine}"))
    not_mine, _ = _dispatched(c, unit="140100-urban")
    _refused(c["heating"].get(f"/api/v1/cases/{not_mine}"), 404)
    _refused(c["heating"].get(f"/api/v1/cases/{_new_case(c['agent'])}"), 404)


# ---- OpenAPI ----------------------------------------------------------------------------------

def _app_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len("/api/v1"):])
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def _documented(app) -> set[tuple[str, str]]:
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    base = doc["servers"][0]["url"].rstrip("/")
    assert base in ("", "/api/v1")
    return {(p[len("/api/v1"):] if base == "" else p, m) for p, ops in doc["paths"].items() for m in ops
            if m in ("get", "post", "put", "patch", "delete")}


def test_openapi_is_public_and_documents_only_real_routes(app, fresh):
    r = app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.get_json()["openapi"].startswith("3.")
    assert _documented(app) <= _app_routes(app)


def test_openapi_documents_every_api_route(app, fresh):
    assert _app_routes(app) - _documented(app) == set()
