"""POST /api/v1/triage and `flask triage classify`: the documented answer, refusals in Chinese, who
may ask, and a batch with a bad line."""
from __future__ import annotations

import json
import re

import pytest

from saas.db import as_tenant, system_context, transaction
from tests import factories
from tests.conftest import api
from tests.modules.triage.steps import KNIFE, STREET_LIGHT, taiyuan_list

URL = "/api/v1/triage"
SIX = ("platform", "emergency", "kind", "confidence", "reasons", "suggested_units")


def _client(app, world, code, role, unit=None):
    with as_tenant(system_context()), transaction():
        secret = factories.token(world[code], role, world.units[unit] if unit else None)
    return api(app, secret)


def _refused(response, status):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    error = response.get_json()["error"]
    assert re.search(r"[\u4e00-\u9fff]", error["message"]), error
    return error


def test_the_answer_carries_the_documented_fields_with_the_hubs_units(app, world):
    taiyuan_list(world)
    agent = _client(app, world, "140100", "agent_12345")
    r = agent.post(URL, json={"text": STREET_LIGHT})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(SIX) | {"uncertain", "grade", "channel", "matter"} <= set(body)
    assert (body["platform"], body["emergency"], body["kind"]) == ("12345", False, "求助")
    assert body["suggested_units"] == ["140100-urban"] and body["matter"]["key"] == "street-light"
    assert 0 < body["confidence"] <= 1 and all(isinstance(r, str) for r in body["reasons"])
    knife = agent.post(URL, json={"text": f"  {KNIFE}  "}).get_json()
    assert (knife["platform"], knife["emergency"], knife["kind"], knife["suggested_units"]) == ("110", True, "报警", [])
    assert any("拿刀" in reason for reason in knife["reasons"])


@pytest.mark.parametrize("role", ["desk_110", "dispatcher", "hub_admin"])
def test_other_desks_of_the_hub_may_ask(app, world, role):
    r = _client(app, world, "140100", role).post(URL, json={"text": KNIFE})
    assert r.status_code == 200 and r.get_json()["platform"] == "110"


@pytest.mark.parametrize("payload, status, message", [
    (None, 400, "请求体应为 JSON 对象（Content-Type: application/json）"),
    ([KNIFE], 400, "请求体应为 JSON 对象（Content-Type: application/json）"),
    ({}, 422, "缺少字段 text"),
    ({"text": None}, 422, "缺少字段 text"),
    ({"text": "   "}, 422, "请填写诉求内容 text"),
    ({"text": "路" * 4001}, 422, "诉求内容不能超过4000字（现有4001字）"),
    ({"text": 12345}, 422, "字段 text 应为字符串"),
    ({"text": ["路灯坏了"]}, 422, "字段 text 应为字符串"),
], ids=["no-json", "array", "missing", "null", "blank", "4001", "number", "list"])
def test_bad_bodies_are_refused_in_chinese(app, world, payload, status, message):
    agent = _client(app, world, "140100", "agent_12345")
    response = agent.post(URL, json=payload) if payload is not None else agent.post(URL, data="text=x")
    error = _refused(response, status)
    assert error["message"] == message
    if status == 422:
        assert error["fields"] == {"text": message}


def test_4000_characters_are_still_taken(app, world):
    r = _client(app, world, "140100", "agent_12345").post(URL, json={"text": STREET_LIGHT.ljust(4000, "。")})
    assert r.status_code == 200 and r.get_json()["platform"] == "12345"


def test_a_unit_handler_token_is_refused(app, world):
    handler = _client(app, world, "140100", "unit_handler", "140100-heating")
    _refused(handler.post(URL, json={"text": KNIFE}), 403)


def test_no_token_is_refused(app, world):
    _refused(api(app, "not-a-token").post(URL, json={"text": KNIFE}), 401)


def _classify(app, lines, *args):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["triage", "classify", *args], input="".join(lines))
    out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result, out


def test_cli_classify_answers_good_lines_and_marks_the_bad_one(app, world):
    taiyuan_list(world)
    lines = [json.dumps({"id": "a", "text": KNIFE}, ensure_ascii=False) + "\n",
             json.dumps({"id": "b", "text": ""}, ensure_ascii=False) + "\n",
             "\n",
             json.dumps({"id": "c", "text": STREET_LIGHT, "tenant": "140100"}, ensure_ascii=False) + "\n"]
    result, out = _classify(app, lines)
    assert result.exit_code == 1, result.output
    assert [row["id"] for row in out] == ["a", "b", "c"]
    good = {row["id"]: row for row in out if "error" not in row}
    assert set(good) == {"a", "c"}
    for row in good.values():
        assert set(SIX) <= set(row), row
    assert (good["a"]["platform"], good["a"]["emergency"], good["a"]["suggested_units"]) == ("110", True, [])
    assert good["c"]["suggested_units"] == ["140100-urban"] and good["c"]["kind"] == "求助"
    bad = out[1]
    assert bad["error"] == "每行应为含 text 字段（非空字符串）的 JSON 对象" and "platform" not in bad
    assert "第2行" in result.stderr


def test_cli_classify_reports_broken_json_and_unknown_tenants(app, world):
    lines = ["{not json\n", json.dumps({"id": "x", "text": KNIFE, "tenant": "999999"}) + "\n"]
    result, out = _classify(app, lines)
    assert result.exit_code == 1
    assert out == [{"line": 1, "error": "不是合法的 JSON"},
                   {"id": "x", "text": KNIFE, "tenant": "999999", "error": "没有代码为 999999 的租户"}]


def test_cli_classify_with_a_default_tenant_and_only_good_lines_exits_0(app, world):
    taiyuan_list(world)
    lines = [json.dumps({"id": "1", "text": STREET_LIGHT}, ensure_ascii=False) + "\n"]
    result, out = _classify(app, lines, "--tenant", "140100")
    assert result.exit_code == 0, result.output
    assert out[0]["suggested_units"] == ["140100-urban"] and out[0]["platform"] == "12345"
    bare, out = _classify(app, lines)  # no tenant: the corpus model alone, no units
    assert bare.exit_code == 0 and out[0]["suggested_units"] == [] and out[0]["platform"] == "12345"


def test_cli_prepare_leaves_the_base_model_on_disk_for_every_process(app, world, monkeypatch):
    from pathlib import Path

    from modules.triage import service

    folder = Path(app.instance_path) / "triage"
    for old in folder.glob("base-*.bin"):
        old.unlink()
    monkeypatch.setattr(service, "_base", [])  # as a new process: nothing loaded yet
    result = app.test_cli_runner().invoke(args=["triage", "prepare"])
    assert result.exit_code == 0 and "base triage model ready" in result.output
    assert [p.name for p in folder.glob("base-*.bin")] == [f"base-{service._base_digest()}.bin"]
