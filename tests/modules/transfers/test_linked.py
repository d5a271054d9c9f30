"""Linked cases: joint handling (联合调处) with the unit's answer fed back to 110, a stability clue
pushed to the hub 110 with police handling fed back to 12345, and a unit asking 110 for police."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from saas.extensions import db
from saas.permissions import PermissionDenied
from modules.cases import service as cases
from modules.cases.models import Case
from modules.dispatch import service as dispatch
from modules.dispatch.models import Assignment
from modules.transfers import desk as desk_steps, negotiation, service as transfers
from modules.transfers.service import TransferError
from tenants.models import Tenant
from tests import factories
from tests.modules.transfers.steps import (accept, acting, add_user, case_state, events, hops, intake, notices, reject,
                                           send, snapshot, system, transfer_state)

JOINT = dict(purpose="joint", text="楼上住户管道漏水致楼下受损，需住建部门和物业协调维修（演示）",
             officer_name="张警官", officer_phone="13900001111")


def _dispatch(case_id: int, unit: str) -> int:
    with acting("ty_dispatcher", "140100") as disp:
        case = db.session.scalar(select(Case).where(Case.id == case_id))
        return dispatch.dispatch(case, disp, dispatch.DispatchData(units=[dispatch.UnitChoice(unit)]))[0].id


def _unit(username: str, code: str, assignment_id: int, fn):
    with acting(username, code) as handler:
        assignment = db.session.scalar(select(Assignment).where(Assignment.id == assignment_id))
        return fn(assignment, handler)


def _police_handled(username: str, code: str, case_id: int, result: str):
    with acting(username, code) as desk:
        desk_steps.police_handled(transfers.readable_case(case_id), desk, result)


# ---- joint handling --------------------------------------------------------------------------

def test_joint_handling_the_units_answer_reaches_the_110_case(world):
    police = intake("xd_110", "140105", "邻里因漏水纠纷发生争执，民警到场（演示）", address="小店区某小区3号楼（演示）")
    _police_handled("xd_110", "140105", police, "民警到场劝解，双方情绪平稳，漏水问题需政府部门处理（演示）")
    assert case_state(police)["status"] == "closed"
    with pytest.raises(TransferError) as refused:  # what the seeds require comes with it
        send("xd_110", "140105", police, "12345", purpose="joint", reason="需住建部门协调（演示）")
    assert set(refused.value.errors) == {"text", "officer_name", "officer_phone"}
    transfer_id = send("xd_110", "140105", police, "12345", reason="现场已处置，漏水维修需住建部门（演示）", **JOINT)
    t = transfer_state(transfer_id)
    assert (t["purpose"], t["text"], t["detail"]) == (
        "joint", JOINT["text"], {"officer_name": "张警官", "officer_phone": "13900001111"})
    assert hops(transfer_id) == [("140105", "110", "origin"), ("140100", "110", "pending"),
                                 ("140100", "12345", "waiting")]
    state = case_state(police)
    assert (state["tenant"], state["platform"], state["status"]) == ("140105", "110", "closed")  # it stays with 110
    accept("ty_110", "140100", transfer_id)
    accept("ty_agent", "140100", transfer_id)
    linked_id = transfer_state(transfer_id)["linked"]
    linked = case_state(linked_id)
    assert (linked["tenant"], linked["platform"], linked["status"], linked["kind"], linked["channel"], linked["place"],
            linked["linked"], linked["received"]) == (
        "140100", "12345", "new", "求助", "transfer_110", "140105", police, ("140100", "12345"))
    assert case_state(police)["linked"] == linked_id
    (opened,) = events(linked_id, "linked_opened")
    assert opened[1] == "140100"
    assert {k: opened[2][k] for k in ("purpose", "officer_name", "officer_phone", "number", "platform")} == {
        "purpose": "joint", "officer_name": "张警官", "officer_phone": "13900001111", "number": state["number"],
        "platform": "110"}
    with acting("ty_agent", "140100"):
        assert db.session.scalar(select(Case.text).where(Case.id == linked_id)) == JOINT["text"]

    assignment_id = _dispatch(linked_id, "140105-housing")
    _unit("xd_housing", "140105", assignment_id, lambda a, h: dispatch.accept(a, h))
    _unit("xd_housing", "140105", assignment_id, lambda a, h: dispatch.reply(
        a, h, dispatch.ReplyData(result="已联系物业更换破损管道，楼下损失协商赔偿（演示）", resolved=True)))
    assert case_state(linked_id)["status"] == "replied"
    updates = events(police, "linked_update")
    assert updates == [("linked_update", "140105", {
        "number": linked["number"], "platform": "12345", "status": "replied",
        "answer": "已联系物业更换破损管道，楼下损失协商赔偿（演示）", "close_reason": None})]
    assert notices("关联工单已答复") == [("140105", {"roles": ["desk_110"]}, "info",
                                          f"关联工单已答复（{state['number']}）", False)]
    with acting("xd_110", "140105"):  # the 110 desk sees the linked case's status from its own
        other = cases.linked_case(transfers.readable_case(police))
        assert (other.number, other.status, other.answer) == (
            linked["number"], "replied", "已联系物业更换破损管道，楼下损失协商赔偿（演示）")

    with acting("ty_agent", "140100") as agent:  # the follow-up closes it: 110 hears of that too
        cases.followup(db.session.scalar(select(Case).where(Case.id == linked_id)), agent,
                       cases.FollowupData(reached=True, solved=True, satisfaction="satisfied"))
    assert [e[2]["status"] for e in events(police, "linked_update")] == ["replied", "closed"]
    assert events(police, "linked_update")[-1][1] == "140100"
    assert notices("关联工单已办结")[0][:2] == ("140105", {"roles": ["desk_110"]})


def test_joint_handling_is_for_110_and_needs_a_reachable_officer(world):
    case_id = intake("ty_agent", "140100", "噪音扰民（演示）", kind="投诉")
    with pytest.raises(TransferError) as refused:
        send("ty_agent", "140100", case_id, "110", reason="联合调处（演示）", **JOINT)
    assert refused.value.errors["_"] == "联合调处由110在处警后转12345"
    police = intake("ty_110", "140100", "纠纷（演示）")
    before = snapshot(police)
    with pytest.raises(TransferError) as refused:
        send("ty_110", "140100", police, "12345", reason="联合调处（演示）", **{**JOINT, "officer_phone": "12345"})
    assert set(refused.value.errors) == {"officer_phone"}
    assert snapshot(police) == before


def test_a_joint_transfer_rejected_leaves_the_110_case_as_it_was(world):
    police = intake("ty_110", "140100", "商户与顾客纠纷，民警调解（演示）")
    transfer_id = send("ty_110", "140100", police, "12345", reason="需市场监管部门处理（演示）", **JOINT)
    reject("ty_agent", "140100", transfer_id, "请补充商户名称（演示）")
    state = case_state(police)
    assert (state["status"], state["linked"]) == ("new", None)
    assert events(police, "transfer_rejected")[0][1] == "140100"
    again = send("ty_110", "140100", police, "12345", reason="已补充商户名称（演示）", **JOINT)
    assert transfer_state(again)["status"] == "pending"


# ---- a stability clue (维稳线索) -------------------------------------------------------------

def test_a_stability_clue_goes_straight_to_the_hub_110_and_the_police_handling_comes_back(world):
    case_id = intake("ty_agent", "140100", "来电人称邻居扬言要报复社会（演示）", kind="举报", place_tenant="140105")
    number = case_state(case_id)["number"]
    transfer_id = send("ty_agent", "140100", case_id, "110", purpose="clue", reason="扬言实施个人极端行为（演示）")
    assert hops(transfer_id) == [("140100", "12345", "origin"), ("140100", "110", "pending")]  # not down to 小店区
    assert transfer_state(transfer_id)["purpose"] == "clue"
    assert notices("待接收") == [("140100", {"roles": ["desk_110"]}, "urgent", f"【紧急】维稳线索推送待接收（{number}）",
                                  True)]
    assert case_state(case_id)["status"] == "new"  # 12345 keeps its case
    accept("ty_110", "140100", transfer_id)
    linked_id = transfer_state(transfer_id)["linked"]
    linked = case_state(linked_id)
    assert (linked["tenant"], linked["platform"], linked["kind"], linked["place"], linked["linked"]) == (
        "140100", "110", "报警", "140105", case_id)
    _police_handled("ty_110", "140100", linked_id, "已约谈当事人并落实稳控措施（演示）")
    assert events(case_id, "linked_update") == [("linked_update", "140100", {
        "number": linked["number"], "platform": "110", "status": "closed",
        "answer": "已约谈当事人并落实稳控措施（演示）", "close_reason": "处警完毕"})]
    assert notices("关联工单已办结") == [("140100", {"roles": ["agent_12345", "dispatcher"]}, "info",
                                          f"关联工单已办结（{number}）", False)]
    assert case_state(case_id)["status"] == "new"


def test_a_clue_about_an_emergency_cannot_be_rejected_by_110_either(world):
    case_id = intake("ty_agent", "140100", "来电人称有人持刀扬言伤人（演示）", kind="举报", emergency=True)
    transfer_id = send("ty_agent", "140100", case_id, "110", purpose="clue", reason="扬言伤人（演示）")
    assert (transfer_state(transfer_id)["purpose"], transfer_state(transfer_id)["emergency"]) == ("clue", True)
    before = snapshot(case_id, transfer_id)
    with pytest.raises(TransferError) as refused:
        reject("ty_110", "140100", transfer_id, "不属于线索（演示）")
    assert refused.value.code == "emergency"
    assert snapshot(case_id, transfer_id) == before


def test_a_clue_from_a_county_12345_passes_the_hub_12345_at_once(world):
    case_id = intake("xd_agent", "140105", "有人在网上扬言到政府门口闹事（演示）", kind="举报")
    transfer_id = send("xd_agent", "140105", case_id, "110", purpose="clue", reason="寻衅滋事线索（演示）")
    assert hops(transfer_id) == [("140105", "12345", "origin"), ("140100", "12345", "auto"),
                                 ("140100", "110", "pending")]
    assert events(case_id, "transfer_passed")[0][2]["hops"] == 1


def test_a_clue_is_pushed_by_12345_only(world):
    case_id = intake("ty_110", "140100", "线索（演示）")
    with pytest.raises(TransferError) as refused:
        send("ty_110", "140100", case_id, "12345", purpose="clue")
    assert refused.value.errors["_"] == "维稳线索由12345推送110"
    emergency = intake("ty_110", "140100", "有人落水（演示）", kind="紧急求助", emergency=True)
    with pytest.raises(TransferError) as refused:  # an emergency goes to 110, never from it
        send("ty_110", "140100", emergency, "12345", purpose="emergency")
    assert refused.value.errors["_"] == "紧急警情和出警请求由12345转110"


# ---- a unit asks 110 for police (联动110) ------------------------------------------------------

def _request(username: str, code: str, assignment_id: int, reason: str) -> int:
    return _unit(username, code, assignment_id, lambda a, h: desk_steps.request_police(a, h, reason).id)


def test_a_unit_asks_110_for_police_and_the_place_110_opens_a_linked_case(world):
    case_id = intake("ty_agent", "140100", "小区物业与业主因停车收费争执（演示）", kind="投诉", place_tenant="140105")
    number = case_state(case_id)["number"]
    assignment_id = _dispatch(case_id, "140105-housing")
    _unit("xd_housing", "140105", assignment_id, lambda a, h: dispatch.accept(a, h))
    with pytest.raises(TransferError) as refused:
        _request("xd_housing", "140105", assignment_id, "打架")
    assert set(refused.value.errors) == {"reason"}
    transfer_id = _request("xd_housing", "140105", assignment_id, "现场双方情绪激动，有肢体冲突苗头（演示）")
    t = transfer_state(transfer_id)
    assert (t["purpose"], t["tenant"], t["detail"], t["status"]) == ("police", "140100", {"unit": "小店区housing局"},
                                                                      "pending")
    assert hops(transfer_id) == [("140100", "12345", "origin"), ("140100", "110", "auto"), ("140105", "110", "pending")]
    (sent,) = events(case_id, "transfer_sent")
    assert sent[1] == "140105" and sent[2]["purpose"] == "police"  # written where the unit acted
    assert sent[2]["reason"] == "xd_housing（演示）：现场双方情绪激动，有肢体冲突苗头（演示）"
    assert notices("待接收") == [("140105", {"roles": ["desk_110"]}, "urgent",
                                  f"【紧急】承办单位请求110出警待接收（{number}）", True)]
    before = snapshot(case_id, transfer_id)
    with pytest.raises(TransferError) as refused:  # police go first when a unit on scene asks
        reject("xd_110", "140105", transfer_id, "非警情（演示）")
    assert refused.value.code == "emergency" and snapshot(case_id, transfer_id) == before
    with pytest.raises(TransferError) as refused, acting("xd_110", "140105") as desk110:  # nor negotiated away
        negotiation.open_(transfers.readable_transfer(transfer_id), desk110, "是否需要出警请双方协商（演示）")
    assert refused.value.code == "emergency" and snapshot(case_id, transfer_id) == before
    accept("xd_110", "140105", transfer_id)
    linked_id = transfer_state(transfer_id)["linked"]
    linked = case_state(linked_id)
    assert (linked["tenant"], linked["platform"], linked["status"], linked["kind"], linked["channel"],
            linked["linked"]) == ("140105", "110", "new", "报警", "transfer_12345", case_id)
    assert (case_state(case_id)["status"], case_state(case_id)["linked"]) == ("in_progress", linked_id)
    assert notices("转办进展")[-1][:2] == ("140100", {"roles": ["agent_12345", "dispatcher"]})
    # the unit goes on with its work, and the police result reaches the 12345 case
    _police_handled("xd_110", "140105", linked_id, "民警到场制止冲突，双方已冷静（演示）")
    assert events(case_id, "linked_update")[0][1:] == ("140105", {
        "number": linked["number"], "platform": "110", "status": "closed",
        "answer": "民警到场制止冲突，双方已冷静（演示）", "close_reason": "处警完毕"})


def test_only_the_units_own_open_assignment_may_ask_for_police(world):
    add_user("xd_housing2", "140105", "unit_handler", "140105-housing")
    case_id = intake("ty_agent", "140100", "停车争执（演示）", kind="投诉", place_tenant="140105")
    assignment_id = _dispatch(case_id, "140105-housing")
    with system():  # another unit of the same county
        xd = db.session.scalar(select(Tenant).where(Tenant.code == "140105"))
        factories.user("xd_water", (xd, "unit_handler", factories.unit(xd, "water")))
    with pytest.raises(TransferError) as refused:
        _request("xd_water", "140105", assignment_id, "现场有冲突（演示）")
    assert refused.value.errors["_"] == "只能在本单位办理中的工单上请求110出警"
    with acting("ty_urban", "140100"):  # a unit of another tenant does not even see the assignment
        assert db.session.scalar(select(Assignment).where(Assignment.id == assignment_id)) is None
    with pytest.raises(PermissionDenied):
        _request("xd_110", "140105", assignment_id, "现场有冲突（演示）")
    transfer_id = _request("xd_housing2", "140105", assignment_id, "现场有冲突，尚未签收（演示）")  # pending is open work
    with pytest.raises(TransferError) as refused:  # one crossing at a time
        _request("xd_housing", "140105", assignment_id, "再次请求（演示）")
    assert refused.value.code == "invalid_state"
    accept("xd_110", "140105", transfer_id)
    _unit("xd_housing", "140105", assignment_id, lambda a, h: dispatch.accept(a, h))
    _unit("xd_housing", "140105", assignment_id, lambda a, h: dispatch.reply(
        a, h, dispatch.ReplyData(result="已协调解决（演示）", resolved=True)))
    with pytest.raises(TransferError) as refused:
        _request("xd_housing", "140105", assignment_id, "办结后又起冲突（演示）")
    assert refused.value.errors["_"] == "只能在本单位办理中的工单上请求110出警"
