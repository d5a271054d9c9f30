"""Negotiation (协商) when responsibility is unclear: opened by the sender after a rejection or by the
receiver instead of deciding; notes and three-party calls; agreement; and, when time runs out, the
first-receiver rule (首接负责制) applied by the periodic job in a real RQ worker."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from saas import jobs
from saas.db import utcnow
from saas.extensions import db
from saas.models import User
from modules.cases.models import CaseEvent
from modules.deadlines.service import DEFAULT_DAYS, save_policy
from modules.dispatch import service as dispatch
from modules.notifications.models import Notification
from modules.transfers import negotiation
from modules.transfers import service as transfers
from modules.transfers.models import Transfer
from modules.transfers.service import TransferError
from tests.conftest import run_worker
from tests.modules.transfers.steps import (accept, acting, case_state, elsewhere, event_types, events, hops, intake,
                                           notices, read, reject, send, snapshot, system, transfer_state)

EXPIRE = "modules.transfers.negotiation:expire"


def _rejected():
    """小店区110 → 太原市110 → 太原市12345, rejected by the hub 12345."""
    case_id = intake("xd_110", "140105", "商铺门前占道经营，影响通行（演示）")
    transfer_id = send("xd_110", "140105", case_id, "12345", reason="非警务类，属城管职责（演示）")
    accept("ty_110", "140100", transfer_id)
    reject("ty_agent", "140100", transfer_id, "占道经营伴随打架，属治安（演示）")
    return case_id, transfer_id


def _open(username, code, transfer_id, note="职责不清，申请协商（演示）"):
    with acting(username, code) as actor:
        negotiation.open_(transfers.readable_transfer(transfer_id), actor, note)


def _propose(username, code, transfer_id, taker):
    with acting(username, code) as actor:
        negotiation.propose(transfers.readable_transfer(transfer_id), actor, taker)


def _note(username, code, transfer_id, text, **call):
    with acting(username, code) as actor:
        negotiation.add_note(transfers.readable_transfer(transfer_id), actor, text, **call)


def test_the_sender_negotiates_after_a_rejection_and_the_agreed_receiver_takes_the_case(world):
    case_id, transfer_id = _rejected()
    number = case_state(case_id)["number"]
    with pytest.raises(TransferError) as refused:  # the hub 110 only passed it on: not a party
        _open("ty_110", "140100", transfer_id)
    assert refused.value.code == "not_party"
    with pytest.raises(TransferError) as refused:
        _open("xd_110", "140105", transfer_id, note="协商")
    assert set(refused.value.errors) == {"note"}
    opened = utcnow()
    _open("xd_110", "140105", transfer_id)
    t = transfer_state(transfer_id)
    assert t["status"] == "negotiating"
    assert timedelta(hours=8) - timedelta(seconds=5) < t["deadline"] - opened < timedelta(hours=8, seconds=5)
    state = case_state(case_id)
    assert (state["tenant"], state["platform"], state["status"]) == ("140105", "110", "negotiating")
    assert events(case_id, "negotiation_opened") == [("negotiation_opened", "140105", {
        "transfer": transfer_id, "note": "职责不清，申请协商（演示）", "hours": 8, "by": "origin"})]
    assert notices("转办协商") == [("140100", {"roles": ["agent_12345", "dispatcher"]}, "warning",
                                    f"转办协商（{number}）", False)]
    with pytest.raises(TransferError) as refused:  # one negotiation at a time
        _open("xd_110", "140105", transfer_id)
    assert refused.value.code == "invalid_state"
    with pytest.raises(TransferError) as refused:  # the case is in negotiation, not to be sent elsewhere
        send("xd_110", "140105", case_id, "12345")
    assert refused.value.code == "invalid_state"

    _note("ty_agent", "140100", transfer_id, "经查该点位有城管执法记录（演示）")
    _note("xd_110", "140105", transfer_id, "与来电人、城管中队三方通话，确认无治安情形（演示）", call=True,
          call_phone="13800005678")
    with pytest.raises(TransferError) as refused:
        _note("ty_110", "140100", transfer_id, "我也想说两句（演示）")
    assert refused.value.code == "not_party"
    with pytest.raises(TransferError) as refused:
        _note("xd_110", "140105", transfer_id, "三方通话（演示）", call=True, call_phone="12")
    assert set(refused.value.errors) == {"call_phone"}
    assert events(case_id, "negotiation_note", "three_party_call") == [
        ("negotiation_note", "140100", {"transfer": transfer_id, "text": "经查该点位有城管执法记录（演示）", "by": "target"}),
        ("three_party_call", "140105", {"transfer": transfer_id, "text": "与来电人、城管中队三方通话，确认无治安情形（演示）",
                                        "by": "origin", "call_with": "138****5678"})]

    _propose("xd_110", "140105", transfer_id, "target")
    _propose("xd_110", "140105", transfer_id, "target")  # the same side twice is not an agreement
    assert transfer_state(transfer_id)["status"] == "negotiating"
    assert transfer_state(transfer_id)["proposal"] == "target"
    assert notices("转办协商")[-1][0] == "140100"
    with pytest.raises(TransferError) as refused:
        _propose("ty_agent", "140100", transfer_id, "nobody")
    assert set(refused.value.errors) == {"taker"}
    _propose("ty_agent", "140100", transfer_id, "target")
    t = transfer_state(transfer_id)
    assert (t["status"], t["settlement"]) == ("accepted", "agreed")
    assert hops(transfer_id) == [("140105", "110", "origin"), ("140100", "110", "forwarded"),
                                 ("140100", "12345", "accepted")]
    state = case_state(case_id)
    assert (state["tenant"], state["platform"], state["status"]) == ("140100", "12345", "new")
    assert events(case_id, "negotiation_agreed") == [("negotiation_agreed", "140100", {
        "transfer": transfer_id, "taker": "target", "settlement": "协商一致", "holder": "太原市12345", "to": "太原市12345",
        "kind": ["报警", "求助"]})]
    assert notices("转办进展")[-1] == ("140105", {"roles": ["desk_110"]}, "info", f"转办进展（{number}）", False)
    with pytest.raises(TransferError):  # settled: no more proposals
        _propose("xd_110", "140105", transfer_id, "origin")


def test_the_receiver_negotiates_instead_of_deciding_and_the_sender_keeps_the_case_by_agreement(world):
    case_id = intake("ty_agent", "140100", "小区内有人违规饲养烈性犬（演示）", kind="投诉")
    transfer_id = send("ty_agent", "140100", case_id, "110", reason="涉及治安管理（演示）")
    with pytest.raises(TransferError) as refused:  # the sender waits for the receiver's move
        _open("ty_agent", "140100", transfer_id)
    assert refused.value.code == "not_party"
    _open("ty_110", "140100", transfer_id, note="养犬管理属城管和畜牧部门，是否涉警需协商（演示）")
    t = transfer_state(transfer_id)
    assert (t["status"], t["rejected_seq"]) == ("negotiating", None)  # negotiating is not refusing
    assert hops(transfer_id)[1][2] == "negotiating"  # the hop waits no more
    assert case_state(case_id)["status"] == "negotiating"
    assert events(case_id, "negotiation_opened")[0][1:] == ("140100", {
        "transfer": transfer_id, "note": "养犬管理属城管和畜牧部门，是否涉警需协商（演示）", "hours": 8, "by": "target"})
    with pytest.raises(TransferError):  # no deciding during the negotiation
        accept("ty_110", "140100", transfer_id)
    _propose("ty_110", "140100", transfer_id, "origin")
    _propose("ty_agent", "140100", transfer_id, "origin")
    t = transfer_state(transfer_id)
    assert (t["status"], t["settlement"]) == ("rejected", "agreed")
    assert hops(transfer_id)[1][2] == "released"
    state = case_state(case_id)
    assert (state["tenant"], state["platform"], state["status"]) == ("140100", "12345", "new")
    assert events(case_id, "negotiation_agreed")[0][1:] == ("140100", {
        "transfer": transfer_id, "taker": "origin", "settlement": "协商一致", "holder": "太原市12345"})
    with acting("ty_dispatcher", "140100") as disp:  # back with 12345, which handles it
        dispatch.dispatch(transfers.readable_case(case_id), disp,
                          dispatch.DispatchData(units=[dispatch.UnitChoice("140100-urban")]))


def test_a_negotiation_cannot_open_while_the_transfer_is_on_its_way(world):
    case_id = intake("xd_110", "140105")
    transfer_id = send("xd_110", "140105", case_id, "12345")
    before = snapshot(case_id, transfer_id)
    for user, code in (("ty_agent", "140100"), ("ty_110", "140100")):
        with pytest.raises(TransferError) as refused:
            _open(user, code, transfer_id)
        assert (refused.value.code, refused.value.errors["_"]) == (
            "invalid_state", "转办尚在途中（待太原市110接收），到达接收方后方可协商")
    assert snapshot(case_id, transfer_id) == before


def test_a_rejection_the_sender_has_moved_on_from_cannot_be_negotiated(world):
    case_id = intake("ty_agent", "140100", "小区内有人违规饲养烈性犬（演示）", kind="投诉")
    transfer_id = send("ty_agent", "140100", case_id, "110", reason="涉及治安管理（演示）")
    reject("ty_110", "140100", transfer_id, "不涉警（演示）")
    with acting("ty_dispatcher", "140100") as disp:
        dispatch.dispatch(transfers.readable_case(case_id), disp,
                          dispatch.DispatchData(units=[dispatch.UnitChoice("140100-urban")]))
    before = snapshot(case_id, transfer_id)
    with pytest.raises(TransferError) as refused:
        _open("ty_agent", "140100", transfer_id)
    assert refused.value.code == "invalid_state"
    assert snapshot(case_id, transfer_id) == before
    # a rejection is answered by handling the case or negotiating, not by sending it round again
    case2 = intake("xd_110", "140105", "路面塌陷（演示）")
    first = send("xd_110", "140105", case2, "12345")
    reject("ty_110", "140100", first, "请补充地点（演示）")
    before = snapshot(case2, first)
    with pytest.raises(TransferError) as refused:
        send("xd_110", "140105", case2, "12345", reason="已补充地点（演示）")
    assert refused.value.code == "returned" and snapshot(case2, first) == before
    _open("xd_110", "140105", first, note="已补充地点：亲贤北街与长风街路口（演示）")
    assert case_state(case2)["status"] == "negotiating"


# ---- the first-receiver rule, by the worker --------------------------------------------------

def _policy(negotiation_hours: int) -> None:
    raw = {"urgent_hours": 24, "complex_days": 15, "max_extension_days": 10, "return_window_days": 2,
           "remind_percent": 80, "followup_max_tries": 3, "duplicate_window_days": 30,
           "negotiation_hours": negotiation_hours, **{f"days_{k}": v for k, v in DEFAULT_DAYS.items()}}
    with acting("ty_admin", "140100") as admin:
        save_policy(admin.tenant, admin, {k: str(v) for k, v in raw.items()})


def _due(transfer_id: int) -> None:
    with system():
        t = db.session.scalar(select(Transfer).where(Transfer.id == transfer_id))
        t.negotiation_deadline = utcnow() - timedelta(minutes=1)


def _system_events(case_id: int, type_: str) -> list[tuple]:
    return read(lambda: [(e.actor_label, e.actor_id) for e in db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.type == type_))])


def _notifications(username: str, title: str) -> list[str]:
    return read(lambda: [n.body for n in db.session.scalars(
        select(Notification).join(User, User.id == Notification.user_id)
        .where(User.username == username, Notification.title == title).order_by(Notification.id))])


def test_when_time_runs_out_the_worker_gives_the_case_to_whoever_received_it_first(world):
    _policy(negotiation_hours=2)
    # 1. received by 小店区110, rejected by the hub 12345, the sender negotiates: 110 received it first
    kept, kept_t = _rejected()
    opened = utcnow()
    _open("xd_110", "140105", kept_t)
    deadline = transfer_state(kept_t)["deadline"]
    assert timedelta(hours=2) - timedelta(seconds=5) < deadline - opened < timedelta(hours=2, seconds=5)
    # 2. received by 太原市110, handed to 12345 and accepted; 12345 sends it back and 110 negotiates
    back = intake("ty_110", "140100", "有人在楼道堆放杂物并与邻居争吵（演示）")
    first = send("ty_110", "140100", back, "12345", reason="堆物属物业管理（演示）")
    accept("ty_agent", "140100", first)
    back_t = send("ty_agent", "140100", back, "110", reason="伴有争吵，涉治安（演示）")
    _open("ty_110", "140100", back_t, note="争吵已平息，主要是堆物问题（演示）")
    # 3. a negotiation with time left (重庆): untouched
    young = intake("yzq_110", "500103", "广场舞噪音扰民（演示）")
    young_t = send("yzq_110", "500103", young, "12345")
    accept("cq_110", "500000", young_t)
    reject("cq_agent", "500000", young_t, "夜间噪音涉治安处罚（演示）")
    _open("yzq_110", "500103", young_t)
    young_before = (snapshot(young, young_t)[:3], events(young))
    for transfer_id in (kept_t, back_t):
        _due(transfer_id)

    db.session.remove()
    assert jobs.fan_out(EXPIRE) == len(world.t)
    run_worker()

    t = transfer_state(kept_t)
    assert (t["status"], t["settlement"]) == ("rejected", "first_receiver")
    state = case_state(kept)
    assert (state["tenant"], state["platform"], state["status"]) == ("140105", "110", "new")
    assert events(kept, "first_receiver") == [("first_receiver", "140105", {
        "transfer": kept_t, "taker": "origin", "settlement": "首接负责", "holder": "小店区110"})]
    assert _system_events(kept, "first_receiver") == [("系统", None)]
    assert _notifications("xd_110", f"转办进展（{state['number']}）")[-1] == "首接负责：由本方受理"

    t = transfer_state(back_t)
    assert (t["status"], t["settlement"]) == ("accepted", "first_receiver")
    state = case_state(back)
    assert (state["tenant"], state["platform"], state["status"]) == ("140100", "110", "new")
    assert events(back, "first_receiver") == [("first_receiver", "140100", {
        "transfer": back_t, "taker": "target", "settlement": "首接负责", "holder": "太原市110", "to": "太原市110",
        "kind": ["求助", "报警"]})]
    assert hops(back_t) == [("140100", "12345", "origin"), ("140100", "110", "accepted")]
    assert _notifications("ty_agent", f"转办进展（{state['number']}）")[-1] == "分流转办已被太原市110接收"

    assert (snapshot(young, young_t)[:3], events(young)) == young_before
    assert transfer_state(young_t)["status"] == "negotiating"

    after = (snapshot(kept, kept_t), snapshot(back, back_t))
    db.session.remove()
    jobs.fan_out(EXPIRE)
    run_worker()
    assert (snapshot(kept, kept_t), snapshot(back, back_t)) == after  # a second run settles nothing again
    assert event_types(kept).count("first_receiver") == 1


def test_an_agreement_reached_before_the_job_runs_is_left_alone(world):
    case_id, transfer_id = _rejected()
    _open("xd_110", "140105", transfer_id)
    _propose("xd_110", "140105", transfer_id, "origin")
    _propose("ty_agent", "140100", transfer_id, "origin")
    _due(transfer_id)
    before = snapshot(case_id, transfer_id)
    with acting("xd_110", "140105"):  # the job body itself, in the sender's tenant
        assert negotiation.expire() == 0
    assert snapshot(case_id, transfer_id) == before
    assert transfer_state(transfer_id)["settlement"] == "agreed"


def test_a_stale_agreement_is_refused_when_the_other_side_changed_its_proposal(app, world):
    case_id, transfer_id = _rejected()
    _open("xd_110", "140105", transfer_id)
    _propose("xd_110", "140105", transfer_id, "target")
    with pytest.raises(TransferError) as refused, acting("ty_agent", "140100") as agent:
        stale = transfers.readable_transfer(transfer_id)
        assert stale.proposal == "target"
        thread, result = elsewhere(app, lambda: _propose("xd_110", "140105", transfer_id, "origin"))
        thread.join(30)  # meanwhile the sender changed its mind
        assert "error" not in result, result
        negotiation.propose(stale, agent, "target")
    assert refused.value.code == "conflict"
    t = transfer_state(transfer_id)
    assert (t["status"], t["proposal"]) == ("negotiating", "origin")
    assert case_state(case_id)["status"] == "negotiating"
