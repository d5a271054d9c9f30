"""Routing per seed: a transfer climbs to the hub on its own platform, crosses there, and a police
matter goes down to the 110 of the county where it happened; own hubs cross directly."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from saas.extensions import db
from modules.transfers import routing
from modules.transfers import service as transfers
from modules.transfers.service import TransferError
from tenants import service as tenants
from tenants.models import Tenant
from tests import factories
from tests.modules.transfers.steps import (accept, acting, case_state, events, hop_times, hops, intake, notices,
                                           read, send, snapshot, system)


def _up(case_id: int, transfer_id: int, county: str, hub: str, county_desk: str, hub_desk: str, hub_agent: str,
        names: list[str]):
    """county 110 → hub 110 → hub 12345, each hop accepted by its own desk."""
    number = case_state(case_id)["number"]
    assert hops(transfer_id) == [(county, "110", "origin"), (hub, "110", "pending"), (hub, "12345", "waiting")]
    assert case_state(case_id)["status"] == "transferring"
    assert case_state(case_id)["tenant"] == county
    (sent,) = events(case_id, "transfer_sent")
    assert sent[:2] == ("transfer_sent", county) and sent[2]["route"] == names
    assert notices("待接收") == [(hub, {"roles": ["desk_110"]}, "info", f"分流转办待接收（{number}）", False)]
    with pytest.raises(TransferError) as refused:  # the hub 12345 waits for the hub 110 to pass it on
        accept(hub_agent, hub, transfer_id)
    assert refused.value.code == "not_receiver"
    accept(hub_desk, hub, transfer_id)
    assert hops(transfer_id) == [(county, "110", "origin"), (hub, "110", "forwarded"), (hub, "12345", "pending")]
    assert case_state(case_id)["tenant"] == county  # still the sender's until the last hop takes it
    assert notices("待接收")[1:] == [(hub, {"roles": ["agent_12345", "dispatcher"]}, "info",
                                      f"分流转办待接收（{number}）", False)]
    accept(hub_agent, hub, transfer_id)
    assert hops(transfer_id) == [(county, "110", "origin"), (hub, "110", "forwarded"), (hub, "12345", "accepted")]
    state = case_state(case_id)
    assert (state["tenant"], state["platform"], state["status"]) == (hub, "12345", "new")
    assert state["received"] == (county, "110")
    assert [(e[0], e[1]) for e in events(case_id)] == [
        ("intake", county), ("transfer_sent", county), ("transfer_forwarded", hub), ("transfer_accepted", hub)]
    assert events(case_id, "transfer_forwarded")[0][2]["to"] == names[2]
    times = hop_times(transfer_id)
    assert times[0][0] == times[0][1]  # the origin hop is sent at once
    assert times[0][1] <= times[1][0] <= times[1][1] <= times[2][0] <= times[2][1]
    assert [t[2] for t in times][1:] == [f"{hub_desk}（演示）", f"{hub_agent}（演示）"]
    assert notices("转办进展") == [(county, {"roles": ["desk_110"]}, "info", f"转办进展（{state['number']}）", False)]


def _down(case_id: int, transfer_id: int, hub: str, county: str, hub_desk: str, county_desk: str):
    """hub 12345 → hub 110 → the 110 of the county where it happened."""
    assert hops(transfer_id) == [(hub, "12345", "origin"), (hub, "110", "pending"), (county, "110", "waiting")]
    with acting(county_desk, county):  # not reached the county yet: it does not see the transfer at all
        assert transfers.readable_transfer(transfer_id) is None
    accept(hub_desk, hub, transfer_id)
    assert hops(transfer_id) == [(hub, "12345", "origin"), (hub, "110", "forwarded"), (county, "110", "pending")]
    number = case_state(case_id)["number"]
    assert notices("待接收")[-1] == (county, {"roles": ["desk_110"]}, "info", f"分流转办待接收（{number}）", False)
    accept(county_desk, county, transfer_id)
    assert hops(transfer_id)[-1] == (county, "110", "accepted")
    state = case_state(case_id)
    assert (state["tenant"], state["platform"], state["status"], state["place"]) == (county, "110", "new", county)
    assert [(e[0], e[1]) for e in events(case_id)] == [
        ("intake", hub), ("transfer_sent", hub), ("transfer_forwarded", hub), ("transfer_accepted", county)]
    times = hop_times(transfer_id)
    assert times[1][1] <= times[2][0] <= times[2][1]


# ---- 山西省: 太原市 is the hub of 小店区 ---------------------------------------------------------

def test_shanxi_county_110_goes_up_through_the_hub_110_to_the_hub_12345(world):
    case_id = intake("xd_110", "140105")
    transfer_id = send("xd_110", "140105", case_id, "12345", reason="非警务类，属城管职责（演示）")
    _up(case_id, transfer_id, "140105", "140100", "xd_110", "ty_110", "ty_agent", ["小店区110", "太原市110", "太原市12345"])


def test_shanxi_hub_12345_sends_a_police_matter_down_to_the_county_110(world):
    case_id = intake("ty_agent", "140100", "有人在小区门口持械斗殴（演示）", kind="求助", place_tenant="140105")
    transfer_id = send("ty_agent", "140100", case_id, "110", reason="属警情，请110处置（演示）")
    assert events(case_id, "transfer_sent")[0][2]["route"] == ["太原市12345", "太原市110", "小店区110"]
    _down(case_id, transfer_id, "140100", "140105", "ty_110", "xd_110")


def test_a_police_matter_that_happened_at_the_hub_stops_at_the_hub_110(world):
    case_id = intake("ty_agent", "140100", "市区路口有人打架（演示）", kind="求助")
    transfer_id = send("ty_agent", "140100", case_id, "110", reason="属警情（演示）")
    assert hops(transfer_id) == [("140100", "12345", "origin"), ("140100", "110", "pending")]
    accept("ty_110", "140100", transfer_id)
    state = case_state(case_id)
    assert (state["tenant"], state["platform"], state["status"]) == ("140100", "110", "new")


def test_a_county_12345_climbs_to_the_hub_12345_before_crossing(world):
    case_id = intake("xd_agent", "140105", "小区有人聚众赌博（演示）", kind="举报")
    transfer_id = send("xd_agent", "140105", case_id, "110", reason="属警情（演示）")
    assert hops(transfer_id) == [("140105", "12345", "origin"), ("140100", "12345", "pending"),
                                 ("140100", "110", "waiting"), ("140105", "110", "waiting")]
    for user, code in (("ty_agent", "140100"), ("ty_110", "140100"), ("xd_110", "140105")):
        accept(user, code, transfer_id)
    assert [h[2] for h in hops(transfer_id)] == ["origin", "forwarded", "forwarded", "accepted"]
    assert (case_state(case_id)["tenant"], case_state(case_id)["platform"]) == ("140105", "110")


# ---- 济宁市: transfers only between the city-level 12345 and 110 ----------------------------------

def _jining():
    with system():
        sd = factories.tenant("370000", "山东省", "province")
        jn = factories.tenant("370800", "济宁市", "city", sd, is_hub=True)
        rc = factories.tenant("370811", "任城区", "county", jn)
        factories.user("rc_110", (rc, "desk_110"))
        factories.user("jn_110", (jn, "desk_110"))
        factories.user("jn_agent", (jn, "agent_12345"))


def test_jining_county_110_goes_through_the_city_110_platform(world):
    _jining()
    case_id = intake("rc_110", "370811", "邻里因停车位发生口角，已劝离，需物业协调（演示）")
    transfer_id = send("rc_110", "370811", case_id, "12345", reason="110联动单：属物业管理事项（演示）")
    _up(case_id, transfer_id, "370811", "370800", "rc_110", "jn_110", "jn_agent", ["任城区110", "济宁市110", "济宁市12345"])


def test_jining_city_12345_hands_a_police_matter_to_the_city_110_which_pushes_it_down(world):
    _jining()
    case_id = intake("jn_agent", "370800", "来电称有人在任城区商场扬言报复（演示）", kind="举报", place_tenant="370811")
    transfer_id = send("jn_agent", "370800", case_id, "110", reason="属警情（演示）")
    _down(case_id, transfer_id, "370800", "370811", "jn_110", "rc_110")


# ---- 重庆市: a municipality is its own hub ----------------------------------------------------------

def test_chongqing_district_110_goes_to_the_municipal_110_then_12345(world):
    case_id = intake("yzq_110", "500103", "解放碑附近店铺油烟扰民（演示）")
    transfer_id = send("yzq_110", "500103", case_id, "12345", reason="非警务类（演示）")
    _up(case_id, transfer_id, "500103", "500000", "yzq_110", "cq_110", "cq_agent", ["渝中区110", "重庆市110", "重庆市12345"])


def test_chongqing_municipal_12345_sends_down_to_the_district_110(world):
    case_id = intake("cq_agent", "500000", "渝中区有人持刀威胁（演示）", kind="求助", place_tenant="500103")
    transfer_id = send("cq_agent", "500000", case_id, "110", reason="属警情（演示）")
    _down(case_id, transfer_id, "500000", "500103", "cq_110", "yzq_110")


# ---- 德化县 and 宝丰县: counties that are their own hub cross directly -----------------------------

def _direct(agent: str, desk: str, code: str):
    police = intake(agent, code, "有人在县城广场斗殴（演示）", kind="求助")
    t1 = send(agent, code, police, "110", reason="属警情（演示）")
    assert hops(t1) == [(code, "12345", "origin"), (code, "110", "pending")]
    accept(desk, code, t1)
    assert hops(t1) == [(code, "12345", "origin"), (code, "110", "accepted")]
    assert (case_state(police)["tenant"], case_state(police)["platform"], case_state(police)["status"]) == (
        code, "110", "new")
    matter = intake(desk, code, "路灯损坏，夜间行人不便（演示）")
    t2 = send(desk, code, matter, "12345", reason="非警务类（演示）")
    assert hops(t2) == [(code, "110", "origin"), (code, "12345", "pending")]
    accept(agent, code, t2)
    assert (case_state(matter)["tenant"], case_state(matter)["platform"]) == (code, "12345")
    assert [(e[0], e[1]) for e in events(matter)] == [
        ("intake", code), ("transfer_sent", code), ("transfer_accepted", code)]


def test_dehua_county_transfers_directly(world):
    _direct("dh_agent", "dh_110", "350526")


def test_baofeng_county_transfers_directly(world):
    with system():
        hn = factories.tenant("410000", "河南省", "province")
        pds = factories.tenant("410400", "平顶山市", "city", hn, is_hub=True)
        bf = factories.tenant("410421", "宝丰县", "county", pds, is_hub=True)
        factories.user("bf_agent", (bf, "agent_12345"))
        factories.user("bf_110", (bf, "desk_110"))
        factories.user("pds_110", (pds, "desk_110"))
    _direct("bf_agent", "bf_110", "410421")
    assert notices("待接收")[0][0] == "410421"  # the city hub is never asked


# ---- no route --------------------------------------------------------------------------------

def test_a_tenant_without_a_hub_gets_a_clear_error_and_nothing_changes(world):
    with system():
        hb = factories.tenant("130000", "河北省", "province")
        sjz = factories.tenant("130100", "石家庄市", "city", hb)
        county = factories.tenant("130102", "长安区", "county", sjz)
        factories.user("ca_110", (county, "desk_110"))
    case_id = intake("ca_110", "130102")
    before = snapshot(case_id)
    with pytest.raises(TransferError) as refused:
        send("ca_110", "130102", case_id, "12345", reason="非警务类（演示）")
    assert refused.value.code == "no_route"
    assert refused.value.errors == {"to": "长安区尚未归属任何联动枢纽，不能转办；请联系省级管理员设置枢纽"}
    assert snapshot(case_id) == before


@pytest.mark.parametrize("stopped, sender, code, to, message", [
    ("110", "xd_110", "140105", "12345", "太原市未开通110报警服务台，无法经其转办"),
    ("110", "ty_agent", "140100", "110", "太原市未开通110报警服务台，无法经其转办"),
    ("12345", "xd_110", "140105", "12345", "太原市未开通12345热线，无法经其转办"),
])
def test_a_hub_not_running_a_platform_gives_a_clear_error(world, stopped, sender, code, to, message):
    case_id = intake(sender, code)
    with system():
        ty = db.session.scalar(select(Tenant).where(Tenant.code == "140100"))
        tenants.update(ty, name=ty.name, is_hub=True, runs_12345=stopped != "12345", runs_110=stopped != "110",
                       active=True)
    before = snapshot(case_id)
    with pytest.raises(TransferError) as refused:
        send(sender, code, case_id, to, reason="转办（演示）")
    assert (refused.value.code, refused.value.errors) == ("no_route", {"to": message})
    assert snapshot(case_id) == before


def test_to_the_same_platform_is_refused(world):
    case_id = intake("xd_110", "140105")
    with pytest.raises(TransferError) as refused:
        send("xd_110", "140105", case_id, "110")
    assert refused.value.errors["to"] == "只能转往12345热线"


# ---- the route function itself --------------------------------------------------------------

def _route(origin: str, platform: str, to: str, place: str | None):
    def _fn():
        by = {t.code: t for t in db.session.scalars(select(Tenant))}
        return [(s.tenant.code, s.platform) for s in routing.route(by[origin], platform, to, by.get(place))]
    return read(_fn)


def test_route_skips_a_place_that_does_not_run_110_or_is_not_served_by_the_hub(world):
    assert _route("140100", "12345", "110", "140106") == [("140100", "12345"), ("140100", "110"), ("140106", "110")]
    with system():
        yz = db.session.scalar(select(Tenant).where(Tenant.code == "140106"))
        tenants.update(yz, name=yz.name, is_hub=False, runs_12345=True, runs_110=False, active=True)
    assert _route("140100", "12345", "110", "140106") == [("140100", "12345"), ("140100", "110")]
    assert _route("140100", "12345", "110", "500103") == [("140100", "12345"), ("140100", "110")]  # not its county
    assert _route("350526", "110", "12345", "350526") == [("350526", "110"), ("350526", "12345")]
    assert _route("500103", "110", "12345", None) == [("500103", "110"), ("500000", "110"), ("500000", "12345")]


def test_the_transfer_is_seen_by_every_tenant_on_its_route(world):
    case_id = intake("xd_110", "140105")
    transfer_id = send("xd_110", "140105", case_id, "12345")
    for user, code in (("xd_110", "140105"), ("ty_110", "140100"), ("ty_agent", "140100")):
        with acting(user, code):
            t = transfers.readable_transfer(transfer_id)
            assert [(h.seq, h.platform) for h in t.hops] == [(0, "110"), (1, "110"), (2, "12345")]
            assert transfers.readable_case(case_id) is not None
    with acting("ty_110", "140100") as desk:
        assert [t.id for t in transfers.waiting_for(desk)] == [transfer_id]
    with acting("ty_agent", "140100") as agent:
        assert transfers.waiting_for(agent) == []
