"""What agents do with suggestions: intake takes an absent kind or emergency from the suggestion and
never lowers an agent's emergency; every intake and dispatch is recorded as accepted or overridden;
the hub's list page shows how often. Real DB and Redis, through the API, the pages and the services."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from saas.db import as_tenant, system_context, transaction
from saas.extensions import db
from modules.cases import service as cases
from modules.cases.models import Case
from modules.dispatch import service as dispatch
from modules.transfers.models import Transfer
from modules.triage import service
from tests import factories
from tests.conftest import api, text_of
from tests.modules.triage.steps import KNIFE, STREET_LIGHT, acting, system, taiyuan_list

PHONE = "13800005678"


def _token_client(app, world, role):
    with as_tenant(system_context()), transaction():
        return api(app, factories.token(world["140100"], role))


def _decisions(case_id):
    """What the case recorded of the agents' choices: (stage, outcome, fields, item key, suggested, chosen)."""
    triage = system(lambda: db.session.get(Case, case_id).triage) or {}
    key = (triage.get("matter") or {}).get("key")
    return [(stage, d["outcome"], d["fields"], key, d["suggested"], d["chosen"])
            for stage, d in (("intake", triage.get("decision")), ("dispatch", triage.get("dispatch"))) if d]


def _case(case_id):
    return system(lambda: db.session.get(Case, case_id))


def _intake(username, text, **fields):
    with acting(username, "140100") as agent:
        return cases.intake(agent.tenant, agent, cases.IntakeData(text=text, caller_phone=PHONE, **fields)).id


@pytest.mark.parametrize("role, text, kind, emergency", [
    ("agent_12345", STREET_LIGHT, "求助", False),
    ("desk_110", KNIFE, "报警", True),
], ids=["12345-street-light", "110-knife"])
def test_an_api_intake_without_kind_or_emergency_takes_the_suggestions(app, world, role, text, kind, emergency):
    taiyuan_list(world)
    r = _token_client(app, world, role).post("/api/v1/cases", json={"text": text, "caller": {"phone": PHONE}})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["kind"], body["emergency"]) == (kind, emergency)
    assert (body["triage"]["kind"], body["triage"]["emergency"]) == (kind, emergency)
    case = _case(body["id"])
    assert (case.kind, case.emergency, case.triage["platform"]) == (kind, emergency, case.platform)
    assert [d[:3] for d in _decisions(case.id)] == [("intake", "accepted", [])]


def test_an_agents_emergency_stays_true_when_the_suggestion_is_not_one(app, world):
    taiyuan_list(world)
    case_id = _intake("ty_agent", STREET_LIGHT, kind="求助", emergency=True)
    case = _case(case_id)
    assert case.triage["emergency"] is False and case.emergency is True
    assert [d[:3] for d in _decisions(case_id)] == [("intake", "overridden", ["emergency"])]
    r = _token_client(app, world, "agent_12345").post("/api/v1/cases", json={"text": STREET_LIGHT, "emergency": True})
    assert r.status_code == 201 and r.get_json()["emergency"] is True and r.get_json()["kind"] == "求助"


def test_a_different_kind_is_recorded_as_an_override_of_the_kind(world):
    taiyuan_list(world)
    case_id = _intake("ty_agent", STREET_LIGHT, kind="投诉")
    assert _decisions(case_id) == [("intake", "overridden", ["kind"], "street-light",
                                    {"platform": "12345", "emergency": False, "kind": "求助"},
                                    {"platform": "12345", "emergency": False, "kind": "投诉"})]
    same = _intake("ty_agent", STREET_LIGHT, kind="求助")
    assert [d[:4] for d in _decisions(same)] == [("intake", "accepted", [], "street-light")]


def test_the_case_page_shows_the_suggestion_and_what_the_agent_did(world, login):
    taiyuan_list(world)
    overridden, accepted = _intake("ty_agent", STREET_LIGHT, kind="投诉"), _intake("ty_agent", STREET_LIGHT, kind="求助")
    agent = login("ty_agent")
    assert "智能分流建议 12345 · 求助 （受理时改判：类型 求助→投诉）" in text_of(agent.get(f"/t/140100/cases/{overridden}"))
    assert "智能分流建议 12345 · 求助 （受理时采纳）" in text_of(agent.get(f"/t/140100/cases/{accepted}"))


def test_accepting_a_110_suggestion_on_the_intake_page_saves_transfers_and_counts_as_accepted(world, login):
    taiyuan_list(world)
    agent = login("ty_agent")
    hint = agent.post("/t/140100/lists/suggest", {"text": KNIFE}).get_data(as_text=True)
    local_kind = re.search(r'data-local-kind="([^"]*)"', hint).group(1)
    assert 'data-send-to="110"' in hint and 'data-emergency="1"' in hint and local_kind == "举报"
    saved = agent.post("/t/140100/cases/new", {"text": KNIFE, "channel": "phone", "kind": local_kind,
                                              "urgency": "normal", "emergency": "1", "caller_phone": PHONE,
                                              "transfer_to": "110"})  # what 采纳建议 sets on the form
    assert saved.status_code == 302, text_of(saved)[:500]
    (case,) = system(lambda: list(db.session.scalars(select(Case))))
    assert (case.kind, case.emergency, case.triage["platform"]) == ("举报", True, "110")
    transfers = system(lambda: [(t.case_id, t.to_platform) for t in db.session.scalars(select(Transfer))])
    assert transfers == [(case.id, "110")]
    assert [d[:3] for d in _decisions(case.id)] == [("intake", "accepted", [])]


def test_an_answer_on_the_spot_is_not_recorded_as_sent_on(world):
    """An agent who accepted a 110 suggestion but then answered on the spot kept the case: the
    decision says 12345 against the suggestion's 110, and nothing was handed over."""
    taiyuan_list(world)
    case_id = _intake("ty_agent", KNIFE, kind="咨询", emergency=True, transfer_to="110", answer="已告知拨打110（演示）")
    (decision,) = _decisions(case_id)
    assert decision[:2] == ("intake", "overridden") and "platform" in decision[2]
    assert (decision[4]["platform"], decision[5]["platform"]) == ("110", "12345")
    assert system(lambda: db.session.scalar(select(Transfer.id))) is None


def _dispatch(case_id, lead):
    with acting("ty_dispatcher", "140100") as dispatcher:
        dispatch.dispatch(db.session.get(Case, case_id), dispatcher,
                          dispatch.DispatchData(units=[dispatch.UnitChoice(lead, "lead")]))


def test_the_dispatch_page_preselects_the_suggested_unit_and_records_the_dispatchers_choice(world, login):
    taiyuan_list(world)
    chosen, other = _intake("ty_agent", STREET_LIGHT, kind="求助"), _intake("ty_agent", STREET_LIGHT, kind="求助")
    page = login("ty_dispatcher").get(f"/t/140100/cases/{chosen}").get_data(as_text=True)
    assert 'data-testid="dispatch-hint"' in page and "清单事项：路灯不亮或损坏，清单时限5个工作日" in page
    selected = re.findall(r'<option value="([^"]+)" selected>', page)
    assert selected == ["140100-urban"]
    done = login("ty_dispatcher").post(f"/t/140100/cases/{other}/dispatch", {"lead": "140100-heating"})
    assert done.status_code == 302, text_of(done)[:400]
    _dispatch(chosen, "140100-urban")
    assert [d for d in _decisions(other) if d[0] == "dispatch"] == [
        ("dispatch", "overridden", ["unit"], "street-light", {"unit": ["140100-urban"]}, {"unit": "140100-heating"})]
    assert [d[:3] for d in _decisions(chosen) if d[0] == "dispatch"] == [("dispatch", "accepted", [])]
    no_hint = _intake("ty_agent", KNIFE, kind="举报")  # no units suggested: nothing to compare at dispatch
    _dispatch(no_hint, "140100-urban")
    assert [d[0] for d in _decisions(no_hint)] == ["intake"]


def test_override_stats_count_the_decisions_and_the_list_page_shows_the_rate(world, login):
    taiyuan_list(world)
    first = _intake("ty_agent", STREET_LIGHT, kind="投诉")      # intake: kind overridden
    second = _intake("ty_agent", STREET_LIGHT, kind="求助")     # intake: accepted
    _dispatch(first, "140100-heating")                          # dispatch: unit overridden
    _dispatch(second, "140100-urban")                           # dispatch: accepted
    with acting("ty_admin", "140100") as admin:
        stats = service.override_stats(admin.tenant)
    assert (stats["total"], stats["overridden"]) == (4, 2) and stats["rate"] == pytest.approx(0.5)
    assert dict(stats["changes"]) == {"类型 求助→投诉": 1, "派单时改选承办单位": 1}
    assert stats["by_item"] == {"street-light": [4, 2]}
    with acting("xd_agent", "140105") as county_agent:          # the counties it serves count too
        cases.intake(county_agent.tenant, county_agent, cases.IntakeData(text=STREET_LIGHT, kind="求助"))
    with acting("ty_admin", "140100") as admin:
        stats = service.override_stats(admin.tenant)
    assert (stats["total"], stats["overridden"]) == (5, 2) and stats["rate"] == pytest.approx(0.4)
    page = login("ty_admin").get("/t/140100/lists/")
    shown = text_of(page)
    assert re.search(r'data-testid="override-rate">40%<', page.get_data(as_text=True))
    assert "的建议被话务员改判（2/5）" in shown and "类型 求助→投诉" in shown and "派单时改选承办单位" in shown
    with acting("cq_admin", "500000") as other:                  # another hub counts none of them
        assert service.override_stats(other.tenant)["total"] == 0
