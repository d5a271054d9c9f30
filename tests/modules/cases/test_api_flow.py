"""The lifecycle through the JSON API, with Idempotency-Key on intake."""
from __future__ import annotations

from sqlalchemy import func, select

from saas.db import as_tenant, system_context, transaction
from saas.extensions import db
from modules.cases.models import Case
from tests import factories
from tests.conftest import api


def _tokens(world):
    with as_tenant(system_context()), transaction():
        return {
            "agent": factories.token(world["140100"], "agent_12345"),
            "dispatcher": factories.token(world["140100"], "dispatcher"),
            "heating": factories.token(world["140100"], "unit_handler", world.units["140100-heating"]),
        }


def _count() -> int:
    with as_tenant(system_context()):
        return db.session.scalar(select(func.count()).select_from(Case))


def test_lifecycle_through_the_api(app, world):
    t = _tokens(world)
    agent, dispatcher, heating = api(app, t["agent"]), api(app, t["dispatcher"]), api(app, t["heating"])
    body = {"text": "暖气不热，室温十二度（演示）", "channel": "phone", "kind": "投诉",
            "caller": {"name": "王女士（演示）", "phone": "13800005678"}, "address": "迎泽区（演示）"}
    r = agent.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "intake-1"})
    assert r.status_code == 201, r.get_json()
    case = r.get_json()
    assert case["number"].startswith("140100-") and case["status"] == "new" and case["platform"] == "12345"
    again = agent.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "intake-1"})
    assert again.status_code == 201 and again.get_json()["id"] == case["id"] and _count() == 1
    other = agent.post("/api/v1/cases", json={**body, "text": "另一件事"}, headers={"Idempotency-Key": "intake-1"})
    assert other.status_code == 422 and _count() == 1

    r = dispatcher.post(f"/api/v1/cases/{case['id']}/assignments",
                        json={"units": [{"unit": "140100-heating", "role": "lead"}], "deadline_working_days": 5})
    assert r.status_code == 201, r.get_json()
    assignment = r.get_json()[0]
    inbox = heating.get("/api/v1/assignments?status=pending").get_json()
    assert [a["id"] for a in inbox] == [assignment["id"]]
    r = heating.post(f"/api/v1/assignments/{assignment['id']}/reply", json={"result": "x", "resolved": True})
    assert r.status_code == 409 and "签收" in r.get_json()["error"]["message"]
    assert heating.post(f"/api/v1/assignments/{assignment['id']}/accept", json={}).status_code == 200
    r = heating.post(f"/api/v1/assignments/{assignment['id']}/reply", json={"result": "已修复（演示）", "resolved": True})
    assert r.status_code == 200, r.get_json()
    r = agent.post(f"/api/v1/cases/{case['id']}/followup",
                   json={"satisfaction": "satisfied", "solved": True, "note": ""})
    assert r.status_code == 200, r.get_json()
    final = agent.get(f"/api/v1/cases/{case['id']}").get_json()
    assert final["status"] == "closed"
    assert [e["type"] for e in final["events"]] == ["intake", "dispatched", "accepted", "replied", "followup"]


def test_bad_input_is_refused_and_nothing_written(app, world):
    agent = api(app, _tokens(world)["agent"])
    for payload, status in (({}, 422), ({"text": ""}, 422), ({"text": "字" * 4001, "kind": "求助"}, 422),
                            ({"text": "路灯坏了", "kind": "报警"}, 422), ({"text": 5}, 422),
                            ({"text": "路灯坏了", "kind": "求助", "place_tenant": "500103"}, 422)):
        r = agent.post("/api/v1/cases", json=payload)
        assert r.status_code == status, (payload, r.get_json())
        assert r.get_json()["error"]["message"]
    assert agent.post("/api/v1/cases", data="not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert _count() == 0
