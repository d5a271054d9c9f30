"""The rules of a transfer: rejection with a reason, only the receiving side decides, who reads what,
emergencies that 110 cannot refuse, seats, guide-close, police feedback, nothing applied twice."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from saas.extensions import db
from saas.permissions import PermissionDenied
from modules.cases.models import Case
from modules.cases.service import CaseError
from modules.dispatch import service as dispatch
from modules.transfers import negotiation
from modules.transfers import desk as desk_steps, service as transfers
from modules.transfers.models import Seat
from modules.transfers.service import TransferError
from tests.modules.transfers.steps import (accept, acting, add_user, case_state, counts, elsewhere, event_types, events,
                                           hops, intake, notices, reject, send, snapshot, system, transfer_state)


def _up(world):
    """小店区110 → 太原市110 → 太原市12345, pending at the hub 110."""
    case_id = intake("xd_110", "140105")
    return case_id, send("xd_110", "140105", case_id, "12345", reason="非警务类，属城管职责（演示）")


# ---- rejection -------------------------------------------------------------------------------

def test_a_rejection_at_the_last_hop_returns_the_case_to_the_sender_with_the_reason(world):
    case_id, transfer_id = _up(world)
    accept("ty_110", "140100", transfer_id)
    reject("ty_agent", "140100", transfer_id, "  属治安纠纷，应由110处置（演示）  ")
    assert hops(transfer_id) == [("140105", "110", "origin"), ("140100", "110", "forwarded"),
                                 ("140100", "12345", "rejected")]
    t = transfer_state(transfer_id)
    assert (t["status"], t["reject_reason"], t["rejected_seq"]) == ("rejected", "属治安纠纷，应由110处置（演示）", 2)
    assert t["decided_at"] is not None
    state = case_state(case_id)
    assert (state["tenant"], state["platform"], state["status"]) == ("140105", "110", "new")  # 待派单 at the sender
    assert events(case_id, "transfer_rejected") == [("transfer_rejected", "140100", {
        "transfer": transfer_id, "reason": "属治安纠纷，应由110处置（演示）", "by": "太原市12345"})]
    assert notices("转办进展") == [("140105", {"roles": ["desk_110"]}, "warning", f"转办进展（{state['number']}）",
                                    False)]
    with acting("xd_110", "140105"):  # the sender reads it again as its own, to handle or negotiate
        assert transfers.readable_case(case_id).status == "new"
    with pytest.raises(TransferError) as refused:  # not to send round again (推诿)
        send("xd_110", "140105", case_id, "12345", reason="补充说明后再次转办（演示）")
    assert refused.value.code == "returned"


def test_a_rejection_at_the_hub_110_stops_the_route_there(world):
    case_id, transfer_id = _up(world)
    reject("ty_110", "140100", transfer_id, "属警情，请小店区110处置（演示）")
    assert hops(transfer_id) == [("140105", "110", "origin"), ("140100", "110", "rejected"),
                                 ("140100", "12345", "waiting")]
    assert transfer_state(transfer_id)["rejected_seq"] == 1
    assert (case_state(case_id)["tenant"], case_state(case_id)["status"]) == ("140105", "new")
    with pytest.raises(TransferError) as refused:  # the hub 12345 never gets it
        accept("ty_agent", "140100", transfer_id)
    assert refused.value.code == "invalid_state"


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_rejection_without_a_reason_is_refused_and_changes_nothing(world, reason):
    case_id, transfer_id = _up(world)
    before = snapshot(case_id, transfer_id)
    with pytest.raises(TransferError) as refused:
        reject("ty_110", "140100", transfer_id, reason)
    assert refused.value.errors == {"reason": "请填写退回理由"}
    assert snapshot(case_id, transfer_id) == before


def test_a_reason_too_long_is_refused(world):
    case_id, transfer_id = _up(world)
    before = snapshot(case_id, transfer_id)
    with pytest.raises(TransferError) as refused:
        reject("ty_110", "140100", transfer_id, "理" * 501)
    assert "500" in refused.value.errors["reason"]
    assert snapshot(case_id, transfer_id) == before


# ---- who may decide, who may read ------------------------------------------------------------

def test_only_the_receiving_tenant_and_platform_may_accept_or_reject(world):
    case_id, transfer_id = _up(world)
    before = snapshot(case_id, transfer_id)
    for user, code in (("ty_agent", "140100"), ("ty_dispatcher", "140100"), ("xd_110", "140105")):
        for act in (lambda a, t: transfers.accept(t, a), lambda a, t: transfers.reject(t, a, "不属于本方（演示）")):
            with pytest.raises(TransferError) as refused, acting(user, code) as actor:
                act(actor, transfers.readable_transfer(transfer_id))
            assert refused.value.code == "not_receiver"
            assert refused.value.errors["_"] == "该转办正等待太原市110报警服务台接收，只有接收方可以处理"
    for user, code in (("ty_admin", "140100"), ("sx_supervisor", "140000"), ("ty_supervisor", "140100")):
        with pytest.raises(PermissionDenied), acting(user, code) as actor:
            transfers.accept(transfers.readable_transfer(transfer_id), actor)
    assert snapshot(case_id, transfer_id) == before
    accept("ty_110", "140100", transfer_id)
    with pytest.raises(TransferError) as refused:  # passed on: the hub 110 has no say any more
        reject("ty_110", "140100", transfer_id, "改变主意（演示）")
    assert refused.value.code == "not_receiver"


def test_a_sibling_county_never_sees_the_case_or_the_transfer(world):
    add_user("yz_110", "140106", "desk_110")
    case_id, transfer_id = _up(world)
    accept("ty_110", "140100", transfer_id)
    for user in ("yz_110", "yz_admin"):
        with acting(user, "140106") as actor:
            assert transfers.readable_case(case_id) is None
            assert transfers.readable_transfer(transfer_id) is None
            assert db.session.scalar(select(Case).where(Case.id == case_id)) is None
            assert transfers.waiting_for(actor) == []
    with acting("cq_110", "500000") as actor:  # nor another province
        assert transfers.readable_case(case_id) is None and transfers.readable_transfer(transfer_id) is None


def test_the_province_supervisor_reads_but_may_not_handle(world):
    case_id, transfer_id = _up(world)
    with acting("sx_supervisor", "140000") as actor:
        case = transfers.readable_case(case_id)
        t = transfers.readable_transfer(transfer_id)
        assert case is not None and t is not None
        assert [x.id for x in transfers.transfers_of(case)] == [transfer_id]
        assert t.current.platform == "110"
        assert transfers.may_handle(actor, t.current) is False
        assert transfers.side_of(actor, t) is None
    with pytest.raises(PermissionDenied):
        reject("sx_supervisor", "140000", transfer_id, "督查退回（演示）")


# ---- emergencies first -----------------------------------------------------------------------

def _emergency(world, place="140105"):
    case_id = intake("ty_agent", "140100", "有人被困电梯，呼吸困难（演示）", kind="求助", emergency=True,
                     place_tenant=place)
    return case_id, send("ty_agent", "140100", case_id, "110", reason="危及人身安全（演示）")


def test_an_emergency_12345_case_goes_straight_to_the_county_110_which_cannot_reject_it(world):
    case_id, transfer_id = _emergency(world)
    t = transfer_state(transfer_id)
    assert (t["purpose"], t["emergency"], t["status"]) == ("emergency", True, "pending")
    assert hops(transfer_id) == [("140100", "12345", "origin"), ("140100", "110", "auto"), ("140105", "110", "pending")]
    state = case_state(case_id)
    assert (state["tenant"], state["platform"], state["status"]) == ("140100", "12345", "new")  # 12345 keeps it
    assert [(e[0], e[1]) for e in events(case_id)] == [
        ("intake", "140100"), ("transfer_sent", "140100"), ("transfer_passed", "140100")]
    assert events(case_id, "transfer_passed")[0][2] == {"transfer": transfer_id, "hops": 1}
    assert notices("待接收") == [("140105", {"roles": ["desk_110"]}, "urgent",
                                  f"【紧急】紧急警情移交待接收（{state['number']}）", True)]
    with pytest.raises(TransferError) as refused:  # the hub 110 was passed, it has nothing to decide
        accept("ty_110", "140100", transfer_id)
    assert refused.value.code == "not_receiver"
    before = snapshot(case_id, transfer_id)
    with pytest.raises(TransferError) as refused:
        reject("xd_110", "140105", transfer_id, "不属于本辖区（演示）")
    assert (refused.value.code, refused.value.errors["_"]) == (
        "emergency", "危及人身、财产或公共安全的紧急警情，110不得退回，应先行派警处置")
    with pytest.raises(TransferError) as refused, acting("xd_110", "140105") as desk:
        negotiation.open_(transfers.readable_transfer(transfer_id), desk, "责任不清，申请协商（演示）")
    assert refused.value.code == "emergency"
    assert snapshot(case_id, transfer_id) == before
    accept("xd_110", "140105", transfer_id)
    t = transfer_state(transfer_id)
    assert t["status"] == "accepted" and t["linked"] is not None
    linked = case_state(t["linked"])
    assert (linked["tenant"], linked["platform"], linked["status"], linked["kind"], linked["channel"],
            linked["emergency"], linked["linked"], linked["place"]) == (
        "140105", "110", "new", "紧急求助", "transfer_12345", True, case_id, "140105")
    state = case_state(case_id)
    assert (state["tenant"], state["platform"], state["status"], state["linked"]) == (
        "140100", "12345", "new", t["linked"])
    assert [(e[0], e[1]) for e in events(case_id)][3:] == [("linked_opened", "140105"), ("transfer_accepted", "140105")]
    assert [(e[0], e[1]) for e in events(t["linked"])] == [("linked_opened", "140105")]
    # 12345 coordinates the government part on its own case
    with acting("ty_dispatcher", "140100") as disp:
        case = db.session.scalar(select(Case).where(Case.id == case_id))
        dispatch.dispatch(case, disp, dispatch.DispatchData(units=[dispatch.UnitChoice("140100-urban")]))
    assert case_state(case_id)["status"] == "dispatched"


def test_an_emergency_at_the_hub_itself_waits_only_for_the_hub_110(world):
    case_id, transfer_id = _emergency(world, place="140100")
    assert hops(transfer_id) == [("140100", "12345", "origin"), ("140100", "110", "pending")]
    assert "transfer_passed" not in event_types(case_id)
    with pytest.raises(TransferError) as refused:
        reject("ty_110", "140100", transfer_id, "不予受理（演示）")
    assert refused.value.code == "emergency"
    accept("ty_110", "140100", transfer_id)
    assert case_state(transfer_state(transfer_id)["linked"])["tenant"] == "140100"


def test_a_110_emergency_is_not_handed_to_12345_as_an_ordinary_transfer(world):
    case_id = intake("xd_110", "140105", "有人落水（演示）", kind="紧急求助", emergency=True)
    before = snapshot(case_id)
    with pytest.raises(TransferError) as refused:
        send("xd_110", "140105", case_id, "12345")
    assert refused.value.code == "emergency"
    assert snapshot(case_id) == before


def test_a_desk_does_not_choose_the_emergency_or_police_purpose(world):
    case_id = intake("ty_agent", "140100", "一般求助（演示）", kind="求助", place_tenant="140105")
    before = snapshot(case_id)
    with pytest.raises(TransferError) as refused:  # emergency follows the case's flag
        send("ty_agent", "140100", case_id, "110", purpose="emergency")
    assert refused.value.errors == {"purpose": "只有标记为紧急的工单才按紧急警情移交；请先核实并标记紧急"}
    with pytest.raises(TransferError) as refused:  # a police request comes from a unit's assignment
        send("ty_agent", "140100", case_id, "110", purpose="police")
    assert refused.value.errors == {"purpose": "出警请求由承办单位在工单办理页面发起"}
    assert snapshot(case_id) == before
    flagged = intake("ty_agent", "140100", "有人晕倒（演示）", kind="求助", emergency=True)
    transfer_id = send("ty_agent", "140100", flagged, "110", purpose="emergency")
    assert transfer_state(transfer_id)["purpose"] == "emergency"


# ---- dedicated seats (专席) ------------------------------------------------------------------

def _seat(username: str, code: str, platform: str):
    from saas.models import User
    from tenants.models import Tenant

    with system():
        user = db.session.scalar(select(User).where(User.username == username))
        tenant = db.session.scalar(select(Tenant).where(Tenant.code == code))
        db.session.add(Seat(tenant_id=tenant.id, user_id=user.id, platform=platform, note="专席（演示）"))


def test_a_110_seat_inside_12345_takes_a_12345_case_over(world):
    case_id = intake("cq_agent", "500000", "有人在商场门口寻衅滋事（演示）", kind="举报")
    before = snapshot(case_id)
    with pytest.raises(TransferError) as refused, acting("cq_110", "500000") as desk:
        desk_steps.take_by_seat(transfers.readable_case(case_id), desk)
    assert refused.value.code == "no_seat"
    assert snapshot(case_id) == before
    _seat("cq_110", "500000", "12345")
    with acting("cq_110", "500000") as desk:
        transfer_id = desk_steps.take_by_seat(transfers.readable_case(case_id), desk).id
    state = case_state(case_id)
    assert (state["tenant"], state["platform"], state["status"]) == ("500000", "110", "new")
    assert hops(transfer_id) == [("500000", "12345", "origin"), ("500000", "110", "accepted")]
    assert transfer_state(transfer_id)["status"] == "accepted"
    assert events(case_id, "seat_taken") == [("seat_taken", "500000", {"transfer": transfer_id, "to": "110",
                                                                       "kind": ["举报", "报警"]})]
    assert state["kind"] == "报警"  # 110 works it as one of its own kinds


def test_a_12345_seat_inside_110_takes_a_110_case_and_a_seat_elsewhere_does_not_count(world):
    case_id = intake("cq_110", "500000", "来电咨询户口迁移手续（演示）")
    _seat("cq_agent", "140100", "110")  # a seat in another tenant's queue does not count here
    with pytest.raises(TransferError) as refused, acting("cq_agent", "500000") as agent:
        desk_steps.take_by_seat(transfers.readable_case(case_id), agent)
    assert refused.value.code == "no_seat"
    _seat("cq_agent", "500000", "110")
    with acting("cq_agent", "500000") as agent:
        desk_steps.take_by_seat(transfers.readable_case(case_id), agent)
    assert (case_state(case_id)["platform"], case_state(case_id)["status"]) == ("12345", "new")


def test_a_seat_does_not_take_a_case_that_is_being_transferred(world):
    case_id = intake("cq_agent", "500000", "噪音扰民（演示）", kind="投诉")
    send("cq_agent", "500000", case_id, "110")
    _seat("cq_110", "500000", "12345")
    with pytest.raises(TransferError) as refused, acting("cq_110", "500000") as desk:
        case = db.session.scalar(select(Case).where(Case.id == case_id))
        desk_steps.take_by_seat(case, desk)
    assert refused.value.code == "invalid_state"  # it is already on its way to 110


# ---- outside both scopes, police feedback ----------------------------------------------------

def test_a_matter_outside_both_scopes_is_closed_as_guided_with_the_channel(world):
    case_id = intake("ty_agent", "140100", "与公司的劳动合同纠纷，要求判决（演示）", kind="求助")
    with pytest.raises(TransferError) as refused, acting("ty_agent", "140100") as agent:
        desk_steps.guide(transfers.readable_case(case_id), agent, "居委会", "已解释（演示）")
    assert set(refused.value.errors) == {"channel"}
    with pytest.raises(TransferError) as refused, acting("ty_agent", "140100") as agent:
        desk_steps.guide(transfers.readable_case(case_id), agent, "人民法院", "好")
    assert set(refused.value.errors) == {"note"}
    with acting("ty_agent", "140100") as agent:
        desk_steps.guide(transfers.readable_case(case_id), agent, "仲裁机构", "已告知可向劳动人事争议仲裁委员会申请仲裁（演示）")
    state = case_state(case_id)
    assert (state["status"], state["close_reason"], state["answer"]) == (
        "closed", "引导解释：仲裁机构", "已告知可向劳动人事争议仲裁委员会申请仲裁（演示）")
    assert events(case_id, "guided") == [("guided", "140100", {
        "channel": "仲裁机构", "note": "已告知可向劳动人事争议仲裁委员会申请仲裁（演示）"})]
    with pytest.raises(TransferError) as refused:
        send("ty_agent", "140100", case_id, "110")
    assert refused.value.code == "invalid_state"


def test_guide_close_needs_the_case_owner_and_a_new_case(world):
    case_id, transfer_id = _up(world)
    with pytest.raises(TransferError) as refused, acting("xd_110", "140105") as desk:
        desk_steps.guide(transfers.readable_case(case_id), desk, "信访部门", "已解释信访渠道（演示）")
    assert refused.value.code == "invalid_state"  # it is being transferred
    with pytest.raises(CaseError) as refused, acting("ty_agent", "140100") as agent:
        desk_steps.guide(transfers.readable_case(case_id), agent, "信访部门", "已解释信访渠道（演示）")
    assert refused.value.code == "wrong_platform"


def test_police_feedback_only_on_110_cases(world):
    case_id = intake("ty_agent", "140100", "噪音扰民（演示）", kind="投诉")
    before = snapshot(case_id)
    with pytest.raises(TransferError) as refused, acting("ty_agent", "140100") as agent:
        desk_steps.police_handled(transfers.readable_case(case_id), agent, "已处警（演示）")
    assert refused.value.errors["_"] == "处警反馈只用于110警单"
    with pytest.raises(CaseError) as refused, acting("ty_110", "140100") as desk:
        desk_steps.police_handled(transfers.readable_case(case_id), desk, "已处警（演示）")
    assert refused.value.code == "wrong_platform"
    assert snapshot(case_id) == before
    police = intake("ty_110", "140100", "两车刮擦引发争吵（演示）")
    with pytest.raises(TransferError) as refused, acting("ty_110", "140100") as desk:
        desk_steps.police_handled(transfers.readable_case(police), desk, "好")
    assert set(refused.value.errors) == {"result"}
    with acting("ty_110", "140100") as desk:
        desk_steps.police_handled(transfers.readable_case(police), desk, "民警到场调解，双方已和解（演示）")
    state = case_state(police)
    assert (state["status"], state["answer"], state["close_reason"]) == ("closed", "民警到场调解，双方已和解（演示）",
                                                                         "处警完毕")
    assert events(police, "police_handled") == [("police_handled", "140100", {"result": "民警到场调解，双方已和解（演示）"})]


def test_police_feedback_waits_while_the_case_is_being_transferred(world):
    case_id, _ = _up(world)
    with pytest.raises(TransferError) as refused, acting("xd_110", "140105") as desk:
        desk_steps.police_handled(transfers.readable_case(case_id), desk, "已处警（演示）")
    assert refused.value.code == "invalid_state"


# ---- nothing applied twice -------------------------------------------------------------------

def test_accepting_twice_is_refused(world):
    case_id, transfer_id = _up(world)
    accept("ty_110", "140100", transfer_id)
    with pytest.raises(TransferError):  # the hub 110 already passed it on
        accept("ty_110", "140100", transfer_id)
    accept("ty_agent", "140100", transfer_id)
    before = snapshot(case_id, transfer_id)
    with pytest.raises(TransferError) as refused:
        accept("ty_agent", "140100", transfer_id)
    assert (refused.value.code, refused.value.errors["_"]) == ("invalid_state", "该转办已接收，不能再处理")
    with pytest.raises(TransferError):
        reject("ty_agent", "140100", transfer_id, "后悔了（演示）")
    assert snapshot(case_id, transfer_id) == before
    assert event_types(case_id).count("transfer_accepted") == 1


def test_a_second_transfer_of_a_case_with_one_open_is_refused(world):
    case_id = intake("ty_agent", "140100", "噪音扰民（演示）", kind="投诉", place_tenant="140105")
    send("ty_agent", "140100", case_id, "110")
    before = snapshot(case_id)
    for purpose in ("transfer", "clue"):
        with pytest.raises(TransferError) as refused:
            send("ty_agent", "140100", case_id, "110", purpose=purpose)
        assert refused.value.errors["_"] == "该工单已有进行中的转办或协商，请等待对方处理"
    assert snapshot(case_id) == before
    emergency = intake("ty_agent", "140100", "燃气泄漏（演示）", kind="求助", emergency=True)
    send("ty_agent", "140100", emergency, "110")
    with pytest.raises(TransferError) as refused:  # a linked purpose too: one open crossing per case
        send("ty_agent", "140100", emergency, "110", purpose="clue")
    assert refused.value.code == "invalid_state"


def test_a_desk_acting_on_a_stale_page_does_not_apply_the_transfer_a_second_time(app, world):
    """Desk A opened the transfer; desk B accepted it meanwhile; A's accept must be refused."""
    add_user("xd_110b", "140105", "desk_110")
    case_id, transfer_id = _emergency(world)  # a linked purpose: applied twice would open two 110 cases
    with pytest.raises(TransferError) as refused, acting("xd_110", "140105") as desk:
        stale = transfers.readable_transfer(transfer_id)
        assert stale.current.status == "pending"
        thread, result = elsewhere(app, lambda: accept("xd_110b", "140105", transfer_id))
        thread.join(30)
        assert "error" not in result, result
        transfers.accept(stale, desk)
    assert refused.value.code in ("conflict", "invalid_state")
    assert transfer_state(transfer_id)["status"] == "accepted"
    assert event_types(case_id).count("transfer_accepted") == 1
    assert counts()[0] == 2  # the 12345 case and one linked 110 case


def test_two_desks_accepting_at_the_same_moment_apply_it_once(app, world):
    """Desk A's accept is in flight (not committed) when desk B accepts: B waits and is refused."""
    add_user("xd_110b", "140105", "desk_110")
    case_id, transfer_id = _emergency(world)
    started = threading.Event()

    def desk_b():
        started.wait(10)
        accept("xd_110b", "140105", transfer_id)

    with acting("xd_110", "140105") as desk:
        t = transfers.readable_transfer(transfer_id)
        thread, result = elsewhere(app, desk_b)
        transfers.accept(t, desk)
        started.set()
        time.sleep(0.8)  # B has loaded the transfer and reached the same step before A commits
    thread.join(30)
    assert isinstance(result.get("error"), TransferError), result
    assert event_types(case_id).count("transfer_accepted") == 1
    assert counts()[0] == 2


def test_two_desks_sending_the_same_case_at_the_same_moment_send_it_once(app, world):
    add_user("ty_110b", "140100", "desk_110")
    case_id = intake("ty_110", "140100", "路灯损坏（演示）")
    started = threading.Event()

    def desk_b():
        started.wait(10)
        return send("ty_110b", "140100", case_id, "12345", reason="B转办（演示）")

    with acting("ty_110", "140100") as desk:
        case = transfers.readable_case(case_id)
        thread, result = elsewhere(app, desk_b)
        transfers.send(case, desk, transfers.TransferData(to="12345", reason="A转办（演示）"))
        started.set()
        time.sleep(0.8)
    thread.join(30)
    assert isinstance(result.get("error"), TransferError), result
    with acting("ty_110", "140100"):
        case = transfers.readable_case(case_id)
        assert [t.reason for t in transfers.transfers_of(case)] == ["A转办（演示）"]
    assert event_types(case_id).count("transfer_sent") == 1
