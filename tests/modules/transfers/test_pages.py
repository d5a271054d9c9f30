"""Transfer pages through the test client with real logins: county 110 → hub 110 → hub 12345 and
the answer back, the way down to a county 110, rejection, emergencies, negotiation, the queue with
its polling fragment, the printable 联动单, the unit's 联动110, seats, guidance, and who sees what."""
from __future__ import annotations

import base64
import hashlib
import io
import re

import pytest
from sqlalchemy import select

from saas.db import as_tenant, system_context, transaction
from saas.extensions import db
from saas.models import AuditLog, User
from modules.cases import service as cases
from modules.cases.models import Case, CaseEvent
from modules.dispatch import service as dispatch
from modules.dispatch.models import Assignment, Attachment
from modules.transfers import service as transfers
from modules.transfers.models import Seat, Transfer, TransferHop
from tests import factories
from tests.conftest import text_of
from tests.factories import context_of

PHONE, NAME = "13800005678", "王女士（演示）"
_read, _count = factories.snapshot, factories.count_rows


# ---- helpers: services for setup, fresh snapshots for checks ------------------------------------

def _act(username, code, fn):
    actor = context_of(username, code)
    with as_tenant(actor.context), transaction():
        return fn(actor)


def _get_case(case_id) -> Case:
    return db.session.scalar(select(Case).where(Case.id == case_id).execution_options(all_tenants=True))


def _case(case_id) -> tuple:
    return _read(lambda: (lambda c: (c.tenant.code, c.platform, c.status, c.linked_case_id, c.answer))(
        _get_case(case_id)))


def _transfers(case_id) -> list[tuple]:
    return _read(lambda: [tuple(r) for r in db.session.execute(
        select(Transfer.id, Transfer.status, Transfer.purpose).where(Transfer.case_id == case_id)
        .order_by(Transfer.id).execution_options(all_tenants=True))])


def _hops(transfer_id) -> list[str]:
    return _read(lambda: list(db.session.scalars(select(TransferHop.status).where(
        TransferHop.transfer_id == transfer_id).order_by(TransferHop.seq).execution_options(all_tenants=True))))


def _events(case_id) -> int:
    return _count(CaseEvent, CaseEvent.case_id == case_id)


def _intake(username, code, text, *, kind="求助", place=None, emergency=False) -> int:
    data = cases.IntakeData(text=text, kind=kind, caller_name=NAME, caller_phone=PHONE, place_tenant=place,
                            emergency=emergency)
    return _act(username, code, lambda a: cases.intake(a.tenant, a, data).id)


def _send(username, code, case_id, to, reason="职责不清，请对方处理（演示）", **extra) -> int:
    data = transfers.TransferData(to=to, reason=reason, **extra)
    return _act(username, code, lambda a: transfers.send(_get_case(case_id), a, data).id)


def _case_from(response) -> int:
    assert response.status_code == 302, text_of(response)[:600]
    return int(re.search(r"/cases/(\d+)$", response.headers["Location"]).group(1))


def _send_page(client, code, case_id, to, purpose="transfer", reason="非警务类，属城市管理职责（演示）", **extra):
    return client.post(f"/t/{code}/transfers/cases/{case_id}/send",
                       {"op": "send", "back": "case", "to": to, "purpose": purpose, "reason": reason, **extra})


def _queue(client, code, tab="waiting") -> str:
    response = client.get(f"/t/{code}/transfers/?tab={tab}")
    assert response.status_code == 200
    return text_of(response)


def _number(case_id) -> str:
    return _read(lambda: _get_case(case_id).number)


def _post_actions(html: str) -> set[str]:
    """Every form action on a page, except the account forms of the top bar."""
    return {a for a in re.findall(r'<form[^>]*action="([^"]+)"', html) if "/t/" in a}


# ---- the Done-when flow ---------------------------------------------------------------------------

def test_county_110_matter_reaches_hub_12345_and_its_answer_comes_back_through_pages(world, login):
    xd = login("xd_110")
    r = xd.post("/t/140105/cases/new", {
        "caller_phone": PHONE, "caller_name": NAME, "channel": "phone", "received_by": "110", "kind": "报警",
        "text": "楼上邻居装修噪音，晚上十点仍在施工（演示）", "address": "小店区亲贤北街（演示）",
        "place_tenant": "140105", "urgency": "normal"})
    case_id = _case_from(r)
    page = xd.get(f"/t/140105/cases/{case_id}")
    assert page.status_code == 200 and "转办与联动" in text_of(page) and "发起转办" in text_of(page)

    r = _send_page(xd, "140105", case_id, "12345")
    assert _case_from(r) == case_id
    [(transfer_id, status, purpose)] = _transfers(case_id)
    assert (status, purpose) == ("pending", "transfer")
    body = text_of(xd.get(f"/t/140105/cases/{case_id}"))
    assert "转办中" in body and "小店区 · 110" in body and "太原市 · 110" in body and "太原市 · 12345" in body
    assert "待接收" in body and "未到达" in body

    number = _number(case_id)
    sent = _queue(xd, "140105", "sent")
    assert number in sent and "待太原市110接收" in sent
    hub110, agent = login("ty_110"), login("ty_agent")
    assert number in _queue(hub110, "140100") and number not in _queue(agent, "140100")
    assert "本工单有转办等待本岗位接收" in text_of(hub110.get(f"/t/140100/cases/{case_id}"))
    assert "本工单有转办等待本岗位接收" not in text_of(agent.get(f"/t/140100/cases/{case_id}"))
    queue = _queue(hub110, "140100")
    assert "138****5678" in queue and PHONE not in queue and "王**" in queue and NAME not in queue
    poll = hub110.get("/t/140100/transfers/?tab=waiting", headers={"HX-Request": "true"})
    assert poll.status_code == 200 and number in text_of(poll) and "<html" not in poll.get_data(as_text=True)
    assert 'hx-trigger="every 15s"' in hub110.get("/t/140100/transfers/").get_data(as_text=True)

    r = hub110.post(f"/t/140100/transfers/{transfer_id}/accept", {"back": "transfer"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/transfers/{transfer_id}")
    assert "已接收并转送太原市12345" in text_of(hub110.get(r.headers["Location"]))
    assert _hops(transfer_id) == ["origin", "forwarded", "pending"]
    assert number not in _queue(hub110, "140100") and number in _queue(agent, "140100")

    assert _case_from(agent.post(f"/t/140100/transfers/{transfer_id}/accept", {"back": "case"})) == case_id
    assert _case(case_id)[:3] == ("140100", "12345", "new")
    dispatcher = login("ty_dispatcher")
    r = dispatcher.post(f"/t/140100/cases/{case_id}/dispatch", {"lead": "140100-heating"})
    assert r.status_code == 302, text_of(r)[:600]
    handler = login("ty_heating")
    assignment_id = _read(lambda: db.session.scalar(select(Assignment.id).where(Assignment.case_id == case_id)
                                                    .execution_options(all_tenants=True)))
    assert handler.post(f"/t/140100/inbox/{assignment_id}/accept").status_code == 302
    png = factories.png_bytes()
    r = handler.post(f"/t/140100/inbox/{assignment_id}/reply", {"result": "已责令施工方夜间停工（演示）", "resolved": "1",
                                                                 "files": (io.BytesIO(png), "photo.png")})
    assert r.status_code == 302, text_of(r)[:600]

    attachment_id = _read(lambda: db.session.scalar(select(Attachment.id).execution_options(all_tenants=True)))
    assert xd.get(f"/t/140105/inbox/attachments/{attachment_id}").data == png  # the sender follows the answer
    assert login("yz_admin").get(f"/t/140106/inbox/attachments/{attachment_id}").status_code == 404
    page = xd.get(f"/t/140105/cases/{case_id}")
    body = text_of(page)
    assert page.status_code == 200 and "已责令施工方夜间停工（演示）" in body and "待回访" in body
    assert "本工单由太原市12345办理" in body and "12345 · 太原市" in body
    for step in ("受理", "发起转办", "转送", "接收转办", "派单", "签收", "办结答复"):
        assert step in body
    assert _post_actions(page.get_data(as_text=True)) == set()  # following, not handling
    assert xd.get(f"/t/140105/transfers/{transfer_id}").status_code == 200


def test_police_matter_goes_down_to_the_county_110_which_feeds_back(world, login):
    case_id = _intake("ty_agent", "140100", "小区门口有人持续滋扰商户（演示）", place="140105")
    agent = login("ty_agent")
    assert _case_from(_send_page(agent, "140100", case_id, "110", reason="属治安事项（演示）")) == case_id
    [(transfer_id, _, _)] = _transfers(case_id)
    xd = login("xd_110")
    assert _number(case_id) not in _queue(xd, "140105")
    assert login("ty_110").post(f"/t/140100/transfers/{transfer_id}/accept").status_code == 302
    assert _number(case_id) in _queue(xd, "140105")
    assert _case_from(xd.post(f"/t/140105/transfers/{transfer_id}/accept")) == case_id
    assert _case(case_id)[:3] == ("140105", "110", "new")

    r = xd.post(f"/t/140105/transfers/cases/{case_id}/police-feedback", {"op": "police", "result": "无"})
    assert r.status_code == 422 and "请填写处警情况" in text_of(r) and _case(case_id)[2] == "new"
    r = xd.post(f"/t/140105/transfers/cases/{case_id}/police-feedback",
                {"op": "police", "result": "民警到场劝离滋扰人员并警告（演示）"})
    assert _case_from(r) == case_id and _case(case_id)[2] == "closed"
    body = text_of(agent.get(f"/t/140100/cases/{case_id}"))
    assert "已办结" in body and "民警到场劝离滋扰人员并警告（演示）" in body and "处警反馈" in body


# ---- rejection and emergencies --------------------------------------------------------------------

def test_rejection_needs_a_reason_and_shows_on_the_senders_page(world, login):
    case_id = _intake("xd_110", "140105", "反映小区物业收费不合理（演示）", kind="报警")
    transfer_id = _send("xd_110", "140105", case_id, "12345")
    hub110 = login("ty_110")
    events = _events(case_id)
    r = hub110.post(f"/t/140100/transfers/{transfer_id}/reject",
                    {"op": f"reject-{transfer_id}", "back": "case", "reason": "  "})
    assert r.status_code == 422 and "请填写退回理由" in text_of(r)
    assert _transfers(case_id)[0][1] == "pending" and _events(case_id) == events
    assert _hops(transfer_id) == ["origin", "pending", "waiting"]

    r = hub110.post(f"/t/140100/transfers/{transfer_id}/reject",
                    {"op": f"reject-{transfer_id}", "back": "case", "reason": "物业收费属价格主管部门，请告知来电人（演示）"})
    assert _case_from(r) == case_id
    page = login("xd_110").get(f"/t/140105/cases/{case_id}")
    body = text_of(page)
    assert "太原市110退回： 物业收费属价格主管部门，请告知来电人（演示）" in body and "已退回" in body
    assert _case(case_id)[2] == "new" and "待派单" in body
    assert "对退回有异议，发起协商" in body  # the sender handles it or negotiates
    assert f"/t/140105/transfers/cases/{case_id}/send" in _post_actions(page.get_data(as_text=True))


def test_an_emergency_cannot_be_rejected_by_110_and_the_linked_cases_show_each_other(world, login):
    case_id = _intake("ty_agent", "140100", "来电称邻居家中冒出浓烟，有人呼救（演示）", place="140105", emergency=True)
    agent = login("ty_agent")
    page = agent.get(f"/t/140100/cases/{case_id}")
    assert "紧急警情移交（110不得退回）" in text_of(page)
    assert _case_from(_send_page(agent, "140100", case_id, "110", reason="危及人身安全（演示）")) == case_id
    [(transfer_id, status, purpose)] = _transfers(case_id)
    assert purpose == "emergency" and _hops(transfer_id) == ["origin", "auto", "pending"]

    xd = login("xd_110")
    queue = _queue(xd, "140105")
    assert _number(case_id) in queue and "紧急" in queue
    page = xd.get(f"/t/140105/cases/{case_id}")
    assert "110不得退回" in text_of(page)
    assert f"/t/140105/transfers/{transfer_id}/reject" not in _post_actions(page.get_data(as_text=True))
    events = _events(case_id)
    r = xd.post(f"/t/140105/transfers/{transfer_id}/reject",
                {"op": f"reject-{transfer_id}", "reason": "不属于本辖区（演示）"})
    assert r.status_code == 422 and "110不得退回，应先行派警处置" in text_of(r)
    assert _transfers(case_id)[0][1] == "pending" and _events(case_id) == events

    assert _case_from(xd.post(f"/t/140105/transfers/{transfer_id}/accept")) == case_id
    linked_id = _case(case_id)[3]
    assert _case(linked_id)[:3] == ("140105", "110", "new")
    body = text_of(agent.get(f"/t/140100/cases/{case_id}"))
    assert _number(linked_id) in body and "关联工单" in body
    r = xd.post(f"/t/140105/transfers/cases/{linked_id}/police-feedback",
                {"op": "police", "result": "消防与民警到场，已疏散住户（演示）"})
    assert _case_from(r) == linked_id
    page = agent.get(f"/t/140100/cases/{case_id}")
    linked = re.search(r'data-testid="linked".*?</div>', page.get_data(as_text=True), re.S).group(0)
    assert "已办结" in linked and "消防与民警到场，已疏散住户（演示）" in linked
    assert f"/t/140100/cases/{linked_id}" in linked  # the hub reads the county's case: a link
    body = text_of(xd.get(f"/t/140105/cases/{linked_id}"))
    assert _number(case_id) in body and "12345 · 太原市" in body


# ---- negotiation ----------------------------------------------------------------------------------

def test_negotiation_opened_noted_and_agreed_through_pages(world, login):
    case_id = _intake("ty_agent", "140100", "小区内违章搭建影响消防通道（演示）")
    transfer_id = _send("ty_agent", "140100", case_id, "110")
    hub110, agent = login("ty_110"), login("ty_agent")
    page = hub110.get(f"/t/140100/transfers/{transfer_id}")
    assert "职责不清，发起协商" in text_of(page)
    r = hub110.post(f"/t/140100/transfers/{transfer_id}/negotiate",
                    {"op": f"negotiate-{transfer_id}", "back": "transfer", "note": "短"})
    assert r.status_code == 422 and "请说明需要协商的原因" in text_of(r) and _transfers(case_id)[0][1] == "pending"
    assert "短" in re.search(r'name="note"[^>]*>([^<]*)<', r.get_data(as_text=True)).group(1)
    r = hub110.post(f"/t/140100/transfers/{transfer_id}/negotiate",
                    {"op": f"negotiate-{transfer_id}", "back": "transfer", "note": "消防通道占用属住建与消防共管（演示）"})
    assert r.status_code == 302 and _transfers(case_id)[0][1] == "negotiating" and _case(case_id)[2] == "negotiating"

    page = agent.get(f"/t/140100/cases/{case_id}")
    body = text_of(page)
    assert "协商时限" in body and re.search(r"剩余\d+小时", body) and "首接负责制" in body
    assert _number(case_id) in _queue(agent, "140100", "negotiating")
    r = agent.post(f"/t/140100/transfers/{transfer_id}/note",
                   {"op": f"note-{transfer_id}", "text": "已与来电人三方通话，确认通道被堵（演示）", "call": "1",
                    "call_phone": "13900001111"})
    assert _case_from(r) == case_id
    body = text_of(agent.get(f"/t/140100/cases/{case_id}"))
    assert "三方通话" in body and "139****1111" in body and "13900001111" not in body

    r = hub110.post(f"/t/140100/transfers/{transfer_id}/propose", {"taker": "nobody", "op": f"propose-{transfer_id}"})
    assert r.status_code == 422 and "请选择由哪一方受理" in text_of(r)
    assert _case_from(hub110.post(f"/t/140100/transfers/{transfer_id}/propose", {"taker": "target"})) == case_id
    body = text_of(agent.get(f"/t/140100/cases/{case_id}"))
    assert "接收方提出： 由接收方受理" in body and "同意：由接收方受理" in body
    r = agent.post(f"/t/140100/transfers/{transfer_id}/propose", {"taker": "target"})
    assert _case_from(r) == case_id
    assert "双方协商一致：由接收方受理" in text_of(agent.get(r.headers["Location"]))
    assert _transfers(case_id)[0][1] == "accepted" and _case(case_id)[:3] == ("140100", "110", "new")
    assert "协商一致" in text_of(hub110.get(f"/t/140100/cases/{case_id}"))


# ---- who sees what --------------------------------------------------------------------------------

def test_sibling_county_gets_404_and_the_province_supervisor_reads_without_forms(world, login):
    case_id = _intake("xd_110", "140105", "路边井盖缺失（演示）", kind="报警")
    transfer_id = _send("xd_110", "140105", case_id, "12345")
    yz = login("yz_admin")
    for url in (f"/t/140106/cases/{case_id}", f"/t/140106/transfers/{transfer_id}",
                f"/t/140106/transfers/{transfer_id}/print"):
        assert yz.get(url).status_code == 404, url
    assert _number(case_id) not in _queue(yz, "140106", "sent")

    sx = login("sx_supervisor")
    page = sx.get(f"/t/140000/cases/{case_id}")
    body = text_of(page)
    assert page.status_code == 200 and "太原市 · 110" in body and "待接收" in body
    actions = _post_actions(page.get_data(as_text=True))
    assert not [a for a in actions if "/transfers/" in a], actions
    assert actions <= {f"/t/140000/cases/{case_id}/supervise"}  # supervision is the province's own step
    page = sx.get(f"/t/140000/transfers/{transfer_id}")
    assert page.status_code == 200 and _post_actions(page.get_data(as_text=True)) == set()
    r = sx.post(f"/t/140000/transfers/{transfer_id}/accept")
    assert r.status_code == 403 and _transfers(case_id)[0][1] == "pending"


# ---- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("form, message", [
    ({"purpose": "transfer", "reason": "   "}, "请填写转办理由"),
    ({"purpose": "police", "reason": "请派警（演示）"}, "转办类型应为"),
    ({"purpose": "emergency", "reason": "请派警（演示）"}, "转办类型应为"),
    ({"purpose": "whatever", "reason": "请派警（演示）"}, "转办类型应为"),
    ({"purpose": "clue", "reason": "线索（演示）"}, "维稳线索由12345推送110"),
    ({"purpose": "joint", "reason": "需住建部门处理（演示）", "text": "拆除违建（演示）", "officer_phone": "123"},
     "请填写处警民警姓名"),
])
def test_bad_send_is_422_keeps_the_input_and_writes_nothing(world, login, form, message):
    case_id = _intake("xd_110", "140105", "工地夜间施工扰民（演示）", kind="报警")
    events = _events(case_id)
    r = login("xd_110").post(f"/t/140105/transfers/cases/{case_id}/send", {"op": "send", "to": "12345", **form})
    assert r.status_code == 422 and message in text_of(r), text_of(r)[:800]
    assert _transfers(case_id) == [] and _events(case_id) == events and _case(case_id)[2] == "new"
    if form.get("text"):
        assert form["text"] in r.get_data(as_text=True)


def test_joint_handling_from_110_and_the_units_result_reaches_the_110_case(world, login):
    case_id = _intake("xd_110", "140105", "邻里纠纷，涉及违章搭建（演示）", kind="报警")
    xd = login("xd_110")
    r = xd.post(f"/t/140105/transfers/cases/{case_id}/police-feedback",
                {"op": "police", "result": "民警到场调解，双方情绪平稳（演示）"})
    assert _case_from(r) == case_id
    r = _send_page(xd, "140105", case_id, "12345", purpose="joint", reason="违章搭建需住建部门处理（演示）",
                   text="拆除违章搭建的雨棚（演示）", officer_name="李警官", officer_phone="13700001234")
    assert _case_from(r) == case_id
    [(transfer_id, _, purpose)] = _transfers(case_id)
    assert purpose == "joint"
    assert login("ty_110").post(f"/t/140100/transfers/{transfer_id}/accept").status_code == 302
    agent = login("ty_agent")
    assert "李警官" in text_of(agent.get(f"/t/140100/transfers/{transfer_id}"))
    assert agent.post(f"/t/140100/transfers/{transfer_id}/accept").status_code == 302
    linked_id = _case(case_id)[3]
    assert _case(linked_id)[:3] == ("140100", "12345", "new")
    assignment_id = _act("ty_dispatcher", "140100", lambda a: dispatch.dispatch(
        _get_case(linked_id), a, dispatch.DispatchData(units=[dispatch.UnitChoice("140105-housing")]))[0].id)

    def handle(actor):
        a = db.session.scalar(select(Assignment).where(Assignment.id == assignment_id))
        dispatch.accept(a, actor)
        dispatch.reply(a, actor, dispatch.ReplyData(result="雨棚已拆除（演示）", resolved=True))
    _act("xd_housing", "140105", handle)
    page = xd.get(f"/t/140105/cases/{case_id}")
    linked = re.search(r'data-testid="linked".*?</div>', page.get_data(as_text=True), re.S).group(0)
    assert _number(linked_id) in linked and "待回访" in linked and "雨棚已拆除（演示）" in linked
    assert "href" not in linked  # the hub's case is not the county desk's to open


# ---- the printable form ---------------------------------------------------------------------------

def test_print_form_full_contact_is_audited_and_masked_without_reveal(world, login):
    case_id = _intake("xd_110", "140105", "商铺门前占道经营（演示）", kind="报警")
    transfer_id = _send("xd_110", "140105", case_id, "12345", reason="占道经营属城管（演示）")
    audits = _count(AuditLog, AuditLog.action == "case.print_contact")
    r = login("ty_110").get(f"/t/140100/transfers/{transfer_id}/print")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "110联动单" in html and "@media print" in html and "size: A4" in html
    assert PHONE in html and NAME in html and _number(case_id) in html and "占道经营属城管（演示）" in html
    assert "小店区110" in html and "太原市12345" in html and "接收人签字" in html
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in r.headers["Content-Security-Policy"]
    assert _count(AuditLog, AuditLog.action == "case.print_contact") == audits + 1

    r = login("sx_supervisor").get(f"/t/140000/transfers/{transfer_id}/print")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and PHONE not in html and "138****5678" in html and NAME not in html
    assert _count(AuditLog, AuditLog.action == "case.print_contact") == audits + 1


# ---- a unit asks for police, seats, guidance ------------------------------------------------------

def test_a_unit_asks_110_for_police_from_its_assignment_and_sees_the_police_case(world, login):
    case_id = _intake("ty_agent", "140100", "供暖纠纷，住户与维修人员争执（演示）", kind="投诉", place="140105")
    assignment_id = _act("ty_dispatcher", "140100", lambda a: dispatch.dispatch(
        _get_case(case_id), a, dispatch.DispatchData(units=[dispatch.UnitChoice("140100-heating")]))[0].id)
    handler = login("ty_heating")
    assert handler.post(f"/t/140100/inbox/{assignment_id}/accept").status_code == 302
    page = handler.get(f"/t/140100/inbox/{assignment_id}")
    assert "联动110（请求出警）" in text_of(page)
    r = handler.post(f"/t/140100/inbox/{assignment_id}/police", {"op": "police", "police_reason": "吵"})
    assert r.status_code == 422 and "请说明现场情况" in text_of(r) and _transfers(case_id) == []
    r = handler.post(f"/t/140100/inbox/{assignment_id}/police",
                     {"op": "police", "police_reason": "住户情绪激动，推搡维修人员（演示）"})
    assert r.status_code == 302, text_of(r)[:600]
    [(transfer_id, status, purpose)] = _transfers(case_id)
    assert (status, purpose) == ("pending", "police")
    body = text_of(handler.get(f"/t/140100/inbox/{assignment_id}"))
    assert "请求出警" in body and "待接收" in body and "小店区110接警中" in body
    assert "联动110（请求出警）" not in body

    xd = login("xd_110")
    assert _case_from(xd.post(f"/t/140105/transfers/{transfer_id}/accept")) == case_id
    linked_id = _case(case_id)[3]
    body = text_of(handler.get(f"/t/140100/inbox/{assignment_id}"))
    assert f"110警单 {_number(linked_id)}" in body and "已接收" in body
    assert _case_from(xd.post(f"/t/140105/transfers/cases/{linked_id}/police-feedback",
                              {"result": "民警到场制止，双方已和解（演示）"})) == linked_id
    body = text_of(handler.get(f"/t/140100/inbox/{assignment_id}"))
    assert "处警情况：民警到场制止，双方已和解（演示）" in body


def test_a_dedicated_seat_takes_a_case_over_and_others_see_no_seat_form(world, login):
    case_id = _intake("ty_agent", "140100", "来电反映有人在小区散布诈骗信息（演示）")
    desk = login("ty_110")
    assert "专席接转" not in text_of(desk.get(f"/t/140100/cases/{case_id}"))
    with as_tenant(system_context()), transaction():
        user_id = db.session.scalar(select(User.id).where(User.username == "ty_110"))
        db.session.add(Seat(tenant_id=world["140100"].id, user_id=user_id, platform="12345", note="测试专席"))
    assert "专席接转" in text_of(desk.get(f"/t/140100/cases/{case_id}"))
    assert _case_from(desk.post(f"/t/140100/transfers/cases/{case_id}/seat")) == case_id
    assert _case(case_id)[:3] == ("140100", "110", "new") and _transfers(case_id)[0][1:] == ("accepted", "transfer")
    assert "专席接转" in text_of(desk.get(f"/t/140100/cases/{case_id}"))  # the timeline says so
    r = login("ty_agent").post(f"/t/140100/transfers/cases/{case_id}/seat")
    assert r.status_code == 422 and "专席" in text_of(r)


def test_guidance_closes_a_matter_outside_both_scopes(world, login):
    case_id = _intake("ty_agent", "140100", "来电咨询如何起诉欠款的朋友（演示）", kind="咨询")
    agent = login("ty_agent")
    events = _events(case_id)
    r = agent.post(f"/t/140100/transfers/cases/{case_id}/guide", {"op": "guide", "channel": "", "note": "告知可向法院起诉"})
    assert r.status_code == 422 and "请选择引导去向" in text_of(r) and _events(case_id) == events
    assert "告知可向法院起诉" in r.get_data(as_text=True)
    r = agent.post(f"/t/140100/transfers/cases/{case_id}/guide",
                   {"op": "guide", "channel": "人民法院", "note": "告知可向人民法院提起民事诉讼（演示）"})
    assert _case_from(r) == case_id and _case(case_id)[2] == "closed"
    body = text_of(agent.get(f"/t/140100/cases/{case_id}"))
    assert "引导解释：人民法院" in body and "引导至：人民法院" in body
