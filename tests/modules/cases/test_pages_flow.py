"""The whole lifecycle through the pages: intake, dispatch, the unit's accept and reply, follow-up."""
from __future__ import annotations

import re

from tests.conftest import text_of


def _case_id(response) -> int:
    return int(re.search(r"/cases/(\d+)$", response.headers["Location"]).group(1))


def test_heating_complaint_from_intake_to_closure(world, login):
    agent = login("ty_agent")
    page = agent.get("/t/140100/cases/new")
    assert page.status_code == 200 and "受理12345诉求" in text_of(page)
    r = agent.post("/t/140100/cases/new", {"caller_phone": "13800005678", "caller_name": "王女士（演示）",
                                           "channel": "phone", "text": "家里暖气不热，室温只有十二度（演示）",
                                           "address": "小店区亲贤北街（演示）", "place_tenant": "140100",
                                           "kind": "投诉", "urgency": "normal", "received_by": "12345"})
    assert r.status_code == 302, text_of(r)[:500]
    case_id = _case_id(r)
    page = agent.get(f"/t/140100/cases/{case_id}")
    body = text_of(page)
    assert "待派单" in body and "138****5678" in body and "13800005678" not in body

    dispatcher = login("ty_dispatcher")
    page = dispatcher.get("/t/140100/cases/?view=todispatch")
    assert "家里暖气不热" in text_of(page)
    r = dispatcher.post(f"/t/140100/cases/{case_id}/dispatch", {"lead": "140100-heating", "instruction": "请尽快处理"})
    assert r.status_code == 302, text_of(r)[:800]

    handler = login("ty_heating")
    inbox = handler.get("/t/140100/inbox/")
    assert "家里暖气不热" in text_of(inbox)
    assignment_id = int(re.search(r"/inbox/(\d+)\"", inbox.get_data(as_text=True)).group(1))
    r = handler.post(f"/t/140100/inbox/{assignment_id}/reply", {"result": "x", "resolved": "1"})
    assert r.status_code == 422 and "请先签收" in text_of(r)
    assert handler.post(f"/t/140100/inbox/{assignment_id}/accept").status_code == 302
    r = handler.post(f"/t/140100/inbox/{assignment_id}/reply", {"result": "已上门排查，更换阀门后室温22度（演示）",
                                                                 "resolved": "1"})
    assert r.status_code == 302, text_of(r)[:800]

    r = agent.post(f"/t/140100/cases/{case_id}/followup", {"reached": "1", "solved": "1", "satisfaction": "satisfied"})
    assert r.status_code == 302, text_of(r)[:800]
    body = text_of(agent.get(f"/t/140100/cases/{case_id}"))
    assert "已办结" in body and "回访满意" in body
    for step in ("受理", "派单", "签收", "办结答复", "回访"):
        assert step in body
