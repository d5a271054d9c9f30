"""The transfer API (API.md) with tokens: county 110 → hub 110 → hub 12345 and the answer back,
a police matter down to the county 110, Idempotency-Key, only the receiving side acting, sibling
counties and the province supervisor, emergencies, negotiation, linked cases (joint handling, a
clue, a unit asking for police), refusals that write nothing, and the OpenAPI document."""
from __future__ import annotations

import re

import pytest

from saas.db import as_tenant, system_context, transaction
from saas.idempotency import IdempotencyRecord
from saas.outbox import OutboxMessage
from modules.cases.models import Case, CaseEvent
from modules.dispatch.models import Assignment
from modules.notifications.models import Notification
from modules.transfers.models import Transfer, TransferHop
from tests import factories
from tests.conftest import api

TOKENS = {
    "xd110": ("140105", "desk_110", None), "ty110": ("140100", "desk_110", None),
    "agent": ("140100", "agent_12345", None), "dispatcher": ("140100", "dispatcher", None),
    "hub_admin": ("140100", "hub_admin", None), "housing": ("140105", "unit_handler", "140105-housing"),
    "urban": ("140100", "unit_handler", "140100-urban"), "yz110": ("140106", "desk_110", None),
    "yz_admin": ("140106", "county_admin", None), "province": ("140000", "province_supervisor", None),
    "dh_agent": ("350526", "agent_12345", None), "dh110": ("350526", "desk_110", None),
    "xd_supervisor": ("140105", "supervisor", None),
}
POLICE_BODY = {"text": "楼上邻居装修噪音，白天持续施工（演示）", "kind": "报警", "channel": "phone",
               "caller": {"name": "王女士（演示）", "phone": "13800005678"}, "address": "小店区（演示）"}
CITIZEN_BODY = {"text": "小区门口有人聚集争吵，担心打起来（演示）", "kind": "求助", "emergency": False, "channel": "phone",
                "caller": {"name": "李先生（演示）", "phone": "13900001234"}, "place_tenant": "140105"}
_count = factories.count_rows


@pytest.fixture()
def c(app, world):
    with as_tenant(system_context()), transaction():
        secrets = {name: factories.token(world[code], role, world.units[unit] if unit else None)
                   for name, (code, role, unit) in TOKENS.items()}
    return {name: api(app, secret) for name, secret in secrets.items()}


def _ok(r, status=200):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:500])
    return r.get_json()


def _refused(r, status, code=None):
    assert r.status_code == status, (status, r.status_code, r.get_data(as_text=True)[:400])
    body = r.get_json()
    assert set(body) == {"error"} and body["error"]["code"], body
    assert re.search(r"[\u4e00-\u9fff]", body["error"]["message"]), body  # Chinese, for people
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


def _snapshot() -> dict:
    return {m.__name__: _count(m) for m in (Case, CaseEvent, Transfer, TransferHop, Assignment, OutboxMessage,
                                            Notification, IdempotencyRecord)}


def _stops(transfer) -> list[tuple[str, str, str]]:
    return [(h["tenant"], h["platform"], h["status"]) for h in transfer["route"]]


def _case(client, body=POLICE_BODY, **changes) -> str:
    return _ok(client.post("/api/v1/cases", json={**body, **changes}), 201)["id"]


def _send(client, case_id, to, reason="非警务类，属政府部门职责（演示）", status=201, **extra) -> dict:
    return _ok(client.post(f"/api/v1/cases/{case_id}/transfers", json={"to": to, "reason": reason, **extra}), status)


def _pending(client) -> list[str]:
    return [t["id"] for t in _ok(client.get("/api/v1/transfers?status=pending"))["items"]]


# ---- the Done-when flows ------------------------------------------------------------------------

def test_county_110_to_hub_12345_dispatched_answered_and_seen_by_the_county(app, c):
    case_id = _case(c["xd110"])
    sent = _send(c["xd110"], case_id, "12345")
    assert sent["status"] == "pending" and sent["purpose"] == "transfer" and sent["case_number"].startswith("140105-")
    assert sent["from"] == {"tenant": "140105", "platform": "110"}
    assert sent["to"] == {"tenant": "140100", "platform": "12345"}
    assert _stops(sent) == [("140105", "110", "origin"), ("140100", "110", "pending"), ("140100", "12345", "waiting")]
    assert sent["current"] == {"tenant": "140100", "platform": "110"}
    assert [e["type"] for e in sent["events"]] == ["transfer_sent"]
    tid = sent["id"]
    assert _ok(c["xd110"].get(f"/api/v1/cases/{case_id}"))["status"] == "transferring"

    assert _pending(c["ty110"]) == [tid] and _pending(c["agent"]) == [] and _pending(c["xd110"]) == []
    forwarded = _ok(c["ty110"].post(f"/api/v1/transfers/{tid}/accept"))
    assert _stops(forwarded)[1:] == [("140100", "110", "forwarded"), ("140100", "12345", "pending")]
    assert forwarded["status"] == "pending" and forwarded["current"] == {"tenant": "140100", "platform": "12345"}
    assert _pending(c["ty110"]) == [] and _pending(c["agent"]) == [tid]
    accepted = _ok(c["agent"].post(f"/api/v1/transfers/{tid}/accept"))
    assert accepted["status"] == "accepted" and accepted["current"] is None and accepted["decided_at"]
    assert _stops(accepted)[2] == ("140100", "12345", "accepted")
    hub_case = _ok(c["agent"].get(f"/api/v1/cases/{case_id}"))
    assert (hub_case["owner_tenant"], hub_case["platform"], hub_case["status"]) == ("140100", "12345", "new")
    assert hub_case["tenant"] == "140105"  # where it was received

    made = _ok(c["dispatcher"].post(f"/api/v1/cases/{case_id}/assignments",
                                    json={"units": [{"unit": "140105-housing", "role": "lead"}]}), 201)
    _ok(c["housing"].post(f"/api/v1/assignments/{made[0]['id']}/accept"))
    _ok(c["housing"].post(f"/api/v1/assignments/{made[0]['id']}/reply",
                          json={"result": "已责令施工方错峰施工（演示）", "resolved": True}))

    seen = _ok(c["xd110"].get(f"/api/v1/cases/{case_id}"))
    assert seen["status"] == "replied" and "错峰" in seen["answer"] and seen["owner_tenant"] == "140100"
    assert seen["linked_case"] is None
    assert seen["caller"] == {"name": "王**", "phone": "138****5678"}  # following is not handling: masked
    [transfer] = seen["transfers"]
    assert transfer["id"] == tid and transfer["status"] == "accepted"
    assert [(h["tenant"], h["platform"]) for h in transfer["route"]] == [
        ("140105", "110"), ("140100", "110"), ("140100", "12345")]
    assert all(h["arrived_at"] and h["acted_at"] for h in transfer["route"])  # the time of every hop
    times = [h["acted_at"] for h in transfer["route"]]
    assert times == sorted(times)
    types = [e["type"] for e in seen["events"]]
    assert types[:4] == ["intake", "transfer_sent", "transfer_forwarded", "transfer_accepted"]
    assert {"dispatched", "accepted", "replied"} <= set(types)
    assert {e["tenant"] for e in seen["events"]} == {"140105", "140100"}  # both sides, one timeline
    assert _ok(c["xd110"].get(f"/api/v1/transfers/{tid}"))["status"] == "accepted"
    assert [t["id"] for t in _ok(c["xd110"].get("/api/v1/transfers?status=accepted"))["items"]] == [tid]
    # It follows the case but does not own it any more; following is reading, not supervising.
    before = _snapshot()
    _refused(c["xd110"].post(f"/api/v1/cases/{case_id}/police-result", json={"result": "已处置完毕（演示）"}), 403)
    assert _ok(c["xd_supervisor"].get(f"/api/v1/cases/{case_id}"))["id"] == case_id
    _refused(c["xd_supervisor"].post(f"/api/v1/cases/{case_id}/supervise", json={"instruction": "尽快办理"}), 404)
    assert _snapshot() == before
    # The hub's list of cases carries the transfer too (read for the whole page).
    listed = _ok(c["agent"].get("/api/v1/cases"))["items"]
    assert [t["id"] for t in next(i for i in listed if i["id"] == case_id)["transfers"]] == [tid]


def test_police_matter_goes_down_to_the_county_110_where_it_happened(app, c):
    case_id = _case(c["agent"], CITIZEN_BODY)
    sent = _send(c["agent"], case_id, "110", reason="涉及治安纠纷，属公安职责（演示）")
    assert _stops(sent) == [("140100", "12345", "origin"), ("140100", "110", "pending"), ("140105", "110", "waiting")]
    tid = sent["id"]
    _refused(c["xd110"].post(f"/api/v1/transfers/{tid}/accept"), 404, "not_found")  # not reached it yet: unseen
    _ok(c["ty110"].post(f"/api/v1/transfers/{tid}/accept"))
    assert _pending(c["xd110"]) == [tid]
    waiting = _ok(c["xd110"].get(f"/api/v1/cases/{case_id}"))  # the desk that must act sees whom to call
    assert waiting["caller"] == {"name": CITIZEN_BODY["caller"]["name"], "phone": CITIZEN_BODY["caller"]["phone"]}
    done = _ok(c["xd110"].post(f"/api/v1/transfers/{tid}/accept"))
    assert _stops(done)[1:] == [("140100", "110", "forwarded"), ("140105", "110", "accepted")]
    owned = _ok(c["xd110"].get(f"/api/v1/cases/{case_id}"))
    assert (owned["owner_tenant"], owned["platform"], owned["status"]) == ("140105", "110", "new")
    closed = _ok(c["xd110"].post(f"/api/v1/cases/{case_id}/police-result", json={"result": "民警到场调解，双方和解（演示）"}))
    assert closed["status"] == "closed" and "和解" in closed["answer"]
    hub_view = _ok(c["agent"].get(f"/api/v1/cases/{case_id}"))  # the hub reads its county's case
    assert hub_view["status"] == "closed" and hub_view["transfers"][0]["status"] == "accepted"


def test_own_hub_county_crosses_directly(app, c):
    case_id = _case(c["dh_agent"], CITIZEN_BODY, place_tenant="350526")
    sent = _send(c["dh_agent"], case_id, "110", reason="涉及治安纠纷（演示）")
    assert _stops(sent) == [("350526", "12345", "origin"), ("350526", "110", "pending")]
    assert _ok(c["dh110"].post(f"/api/v1/transfers/{sent['id']}/accept"))["status"] == "accepted"
    _refused(c["agent"].get(f"/api/v1/transfers/{sent['id']}"), 404)


# ---- Idempotency-Key ----------------------------------------------------------------------------

def test_idempotency_key_replays_send_and_accept(app, c):
    case_id = _case(c["xd110"])
    key = {"Idempotency-Key": "transfer-1"}
    body = {"to": "12345", "reason": "非警务类（演示）"}
    first = c["xd110"].post(f"/api/v1/cases/{case_id}/transfers", json=body, headers=key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    before = _snapshot()
    again = c["xd110"].post(f"/api/v1/cases/{case_id}/transfers", json=body, headers=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json() and _snapshot() == before
    assert _count(Transfer) == 1 and _count(TransferHop) == 3
    other = c["xd110"].post(f"/api/v1/cases/{case_id}/transfers", json={**body, "reason": "另一理由"}, headers=key)
    assert _refused(other, 422, "idempotency_key_reused") and _snapshot() == before
    # Without the key, a second send is refused: one open transfer per case.
    _refused(c["xd110"].post(f"/api/v1/cases/{case_id}/transfers", json=body), 409, "invalid_state")

    tid = first.get_json()["id"]
    key = {"Idempotency-Key": "accept-1"}
    accepted = c["ty110"].post(f"/api/v1/transfers/{tid}/accept", headers=key)
    assert accepted.status_code == 200
    before = _snapshot()
    replay = c["ty110"].post(f"/api/v1/transfers/{tid}/accept", headers=key)
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == accepted.get_json() and _snapshot() == before
    assert _count(CaseEvent, CaseEvent.type == "transfer_forwarded") == 1
    # A second accept without the key is refused: the hop now waits for the hub 12345.
    _refused(c["ty110"].post(f"/api/v1/transfers/{tid}/accept"), 409, "not_receiver")
    _refused(c["ty110"].post(f"/api/v1/transfers/{tid}/reject", json={"reason": "不对"}, headers=key), 422,
             "idempotency_key_reused")
    assert _snapshot() == before


# ---- who may act, who may see -------------------------------------------------------------------

def test_only_the_receiving_side_accepts_or_rejects(app, c):
    case_id = _case(c["xd110"])
    tid = _send(c["xd110"], case_id, "12345")["id"]
    before = _snapshot()
    for who in ("agent", "dispatcher", "xd110"):  # the hop waits for the hub 110
        _refused(c[who].post(f"/api/v1/transfers/{tid}/accept"), 409, "not_receiver")
        _refused(c[who].post(f"/api/v1/transfers/{tid}/reject", json={"reason": "不归我们"}), 409, "not_receiver")
    for who in ("province", "hub_admin"):  # read, but no transfers.handle
        _refused(c[who].post(f"/api/v1/transfers/{tid}/accept"), 403)
        _refused(c[who].post(f"/api/v1/transfers/{tid}/reject", json={"reason": "不归我们"}), 403)
    _refused(c["housing"].post(f"/api/v1/transfers/{tid}/accept"), 403)
    assert _snapshot() == before
    assert _ok(c["province"].get(f"/api/v1/transfers/{tid}"))["id"] == tid
    assert _ok(c["province"].get(f"/api/v1/cases/{case_id}"))["transfers"][0]["id"] == tid
    assert [t["id"] for t in _ok(c["province"].get("/api/v1/transfers?status=all"))["items"]] == [tid]
    assert _ok(c["province"].get("/api/v1/transfers"))["items"] == []  # nothing waits for the province
    assert [t["id"] for t in _ok(c["hub_admin"].get("/api/v1/transfers?status=pending"))["items"]] == [tid]
    _refused(c["housing"].get("/api/v1/transfers"), 403)
    _refused(c["housing"].get(f"/api/v1/transfers/{tid}"), 403)


def test_sibling_county_and_other_provinces_get_404(app, c):
    case_id = _case(c["xd110"])
    tid = _send(c["xd110"], case_id, "12345")["id"]
    _ok(c["ty110"].post(f"/api/v1/transfers/{tid}/accept"))
    before = _snapshot()
    for who in ("yz110", "dh110"):
        _refused(c[who].get(f"/api/v1/cases/{case_id}"), 404)
        _refused(c[who].get(f"/api/v1/transfers/{tid}"), 404)
        _refused(c[who].post(f"/api/v1/transfers/{tid}/accept"), 404)
        _refused(c[who].post(f"/api/v1/transfers/{tid}/reject", json={"reason": "不归我们"}), 404)
        _refused(c[who].post(f"/api/v1/transfers/{tid}/negotiation", json={"note": "职责不清，需协商"}), 404)
        _refused(c[who].post(f"/api/v1/cases/{case_id}/transfers", json={"to": "12345", "reason": "x"}), 404)
        assert _ok(c[who].get("/api/v1/transfers?status=all"))["items"] == []
    _refused(c["yz_admin"].get(f"/api/v1/cases/{case_id}"), 404)
    _refused(c["yz_admin"].get(f"/api/v1/transfers/{tid}"), 404)
    assert _snapshot() == before


# ---- emergencies, rejection, negotiation --------------------------------------------------------

def test_emergency_goes_straight_to_110_which_cannot_reject_and_12345_keeps_a_linked_case(app, c):
    case_id = _case(c["agent"], CITIZEN_BODY, emergency=True, text="有人持刀威胁，情况危急（演示）")
    sent = _send(c["agent"], case_id, "110", reason="危及人身安全（演示）")
    assert sent["purpose"] == "emergency" and sent["emergency"] is True
    assert _stops(sent) == [("140100", "12345", "origin"), ("140100", "110", "auto"), ("140105", "110", "pending")]
    tid = sent["id"]
    before = _snapshot()
    _refused(c["xd110"].post(f"/api/v1/transfers/{tid}/reject", json={"reason": "不属于警情"}), 409, "emergency")
    _refused(c["xd110"].post(f"/api/v1/transfers/{tid}/negotiation", json={"note": "职责不清，需协商"}), 409, "emergency")
    assert _snapshot() == before
    done = _ok(c["xd110"].post(f"/api/v1/transfers/{tid}/accept"))
    assert done["status"] == "accepted" and done["linked_case"]
    kept = _ok(c["agent"].get(f"/api/v1/cases/{case_id}"))
    assert (kept["owner_tenant"], kept["platform"]) == ("140100", "12345")  # 12345 keeps it to coordinate
    assert kept["linked_case"]["id"] == done["linked_case"] and kept["linked_case"]["platform"] == "110"
    police = _ok(c["xd110"].get(f"/api/v1/cases/{done['linked_case']}"))
    assert (police["owner_tenant"], police["platform"], police["emergency"]) == ("140105", "110", True)
    assert police["linked_case"]["id"] == case_id
    _ok(c["xd110"].post(f"/api/v1/cases/{done['linked_case']}/police-result", json={"result": "民警到场控制嫌疑人（演示）"}))
    linked = _ok(c["agent"].get(f"/api/v1/cases/{case_id}"))["linked_case"]
    assert linked["status"] == "closed" and "嫌疑人" in linked["answer"]


def test_rejection_then_negotiation_to_agreement_between_the_county_110_and_the_hub_12345(app, c):
    case_id = _case(c["xd110"])
    tid = _send(c["xd110"], case_id, "12345")["id"]
    _ok(c["ty110"].post(f"/api/v1/transfers/{tid}/accept"))
    before = _snapshot()
    _refused(c["agent"].post(f"/api/v1/transfers/{tid}/reject", json={}), 422)
    assert _snapshot() == before
    rejected = _ok(c["agent"].post(f"/api/v1/transfers/{tid}/reject", json={"reason": "涉及人身安全，属警情（演示）"}))
    assert rejected["status"] == "rejected" and rejected["reject_reason"].startswith("涉及人身安全")
    assert _stops(rejected)[2] == ("140100", "12345", "rejected")
    assert _ok(c["xd110"].get(f"/api/v1/cases/{case_id}"))["status"] == "new"  # back to the sender

    opened = _ok(c["xd110"].post(f"/api/v1/transfers/{tid}/negotiation", json={"note": "噪音属城管职责，请协商（演示）"}))
    assert opened["status"] == "negotiating" and opened["negotiation"]["deadline"]
    _refused(c["ty110"].post(f"/api/v1/transfers/{tid}/negotiation/notes", json={"text": "中间站"}), 403, "not_party")
    _ok(c["agent"].post(f"/api/v1/transfers/{tid}/negotiation/notes",
                        json={"text": "已与来电人三方通话，确认有肢体冲突（演示）", "three_party_call": True,
                              "call_phone": "13800005678"}), 201)
    noted = _ok(c["xd110"].post(f"/api/v1/transfers/{tid}/negotiation/notes", json={"text": "同意由我方处置"}), 201)
    call = next(e for e in noted["events"] if e["type"] == "three_party_call")
    assert call["detail"]["call_with"] == "138****5678" and call["tenant"] == "140100"
    _refused(c["agent"].post(f"/api/v1/transfers/{tid}/negotiation/proposal", json={"taker": "nobody"}), 422)
    proposed = _ok(c["agent"].post(f"/api/v1/transfers/{tid}/negotiation/proposal", json={"taker": "origin"}))
    assert proposed["negotiation"]["proposal"] == "origin" and proposed["status"] == "negotiating"
    settled = _ok(c["xd110"].post(f"/api/v1/transfers/{tid}/negotiation/proposal", json={"taker": "origin"}))
    assert settled["negotiation"]["settlement"] == "agreed" and settled["status"] == "rejected"
    back = _ok(c["xd110"].get(f"/api/v1/cases/{case_id}"))
    assert (back["owner_tenant"], back["platform"], back["status"]) == ("140105", "110", "new")
    assert "negotiation_agreed" in [e["type"] for e in back["events"]]
    _refused(c["xd110"].post(f"/api/v1/transfers/{tid}/negotiation/proposal", json={"taker": "origin"}), 409)


def test_receiving_side_negotiates_instead_of_deciding_and_agrees_to_take_it(app, c):
    case_id = _case(c["agent"], CITIZEN_BODY, place_tenant="140100")
    tid = _send(c["agent"], case_id, "110", reason="疑似治安纠纷（演示）")["id"]
    opened = _ok(c["ty110"].post(f"/api/v1/transfers/{tid}/negotiation", json={"note": "尚无治安情形，请协商（演示）"}))
    assert opened["status"] == "negotiating"
    assert _ok(c["agent"].get(f"/api/v1/cases/{case_id}"))["status"] == "negotiating"
    _ok(c["ty110"].post(f"/api/v1/transfers/{tid}/negotiation/proposal", json={"taker": "target"}))
    settled = _ok(c["agent"].post(f"/api/v1/transfers/{tid}/negotiation/proposal", json={"taker": "target"}))
    assert settled["status"] == "accepted" and settled["negotiation"]["settlement"] == "agreed"
    case = _ok(c["ty110"].get(f"/api/v1/cases/{case_id}"))
    assert (case["owner_tenant"], case["platform"], case["status"]) == ("140100", "110", "new")
    assert [t["id"] for t in _ok(c["ty110"].get("/api/v1/transfers?status=accepted"))["items"]] == [tid]
    assert _ok(c["ty110"].get("/api/v1/transfers?status=negotiating"))["items"] == []


# ---- linked purposes: joint handling, a clue, a unit asking for police ---------------------------

def test_joint_handling_reaches_12345_and_the_unit_reply_shows_on_the_110_case(app, c):
    case_id = _case(c["xd110"], text="商贩占道经营引发争执，民警已到场调解（演示）")
    joint = {"purpose": "joint", "text": "占道经营需城管部门依法处理（演示）",
             "officer": {"name": "李警官（演示）", "phone": "13900001111"}}
    sent = _send(c["xd110"], case_id, "12345", reason="民警现场调处后，需政府部门处理（演示）", **joint)
    assert sent["purpose"] == "joint" and sent["detail"]["officer_phone"] == "13900001111"
    _ok(c["ty110"].post(f"/api/v1/transfers/{sent['id']}/accept"))
    done = _ok(c["agent"].post(f"/api/v1/transfers/{sent['id']}/accept"))
    linked_id = done["linked_case"]
    source = _ok(c["xd110"].get(f"/api/v1/cases/{case_id}"))
    assert (source["owner_tenant"], source["platform"]) == ("140105", "110")  # the police case stays
    assert source["linked_case"]["id"] == linked_id and source["linked_case"]["platform"] == "12345"
    made = _ok(c["dispatcher"].post(f"/api/v1/cases/{linked_id}/assignments",
                                    json={"units": [{"unit": "140100-urban"}]}), 201)
    _ok(c["urban"].post(f"/api/v1/assignments/{made[0]['id']}/accept"))
    _ok(c["urban"].post(f"/api/v1/assignments/{made[0]['id']}/reply", json={"result": "已清理占道摊点（演示）",
                                                                           "resolved": True}))
    source = _ok(c["xd110"].get(f"/api/v1/cases/{case_id}"))
    assert source["linked_case"]["status"] == "replied" and "占道" in source["linked_case"]["answer"]
    assert "linked_update" in [e["type"] for e in source["events"]]
    _refused(c["xd110"].get(f"/api/v1/cases/{linked_id}"), 404)  # the link shows status, not the hub's case


def test_clue_is_pushed_to_the_hub_110_at_once(app, c):
    case_id = _case(c["agent"], CITIZEN_BODY, text="来电人扬言要报复社会（演示）", kind="举报")
    sent = _send(c["agent"], case_id, "110", reason="扬言实施个人极端行为（演示）", purpose="clue")
    assert sent["purpose"] == "clue" and _stops(sent) == [("140100", "12345", "origin"), ("140100", "110", "pending")]
    assert _pending(c["ty110"]) == [sent["id"]]
    done = _ok(c["ty110"].post(f"/api/v1/transfers/{sent['id']}/accept"))
    assert _ok(c["ty110"].get(f"/api/v1/cases/{done['linked_case']}"))["platform"] == "110"


def test_a_unit_asks_110_for_police_from_its_assignment(app, c):
    case_id = _case(c["agent"], {**CITIZEN_BODY, "kind": "投诉", "text": "拆迁补偿纠纷（演示）"})
    made = _ok(c["dispatcher"].post(f"/api/v1/cases/{case_id}/assignments",
                                    json={"units": [{"unit": "140105-housing"}]}), 201)
    assignment = made[0]["id"]
    _ok(c["housing"].post(f"/api/v1/assignments/{assignment}/accept"))
    before = _snapshot()
    _refused(c["urban"].post(f"/api/v1/assignments/{assignment}/police", json={"reason": "现场冲突升级"}), 404)
    _refused(c["housing"].post(f"/api/v1/assignments/{assignment}/police", json={}), 422)
    _refused(c["agent"].post(f"/api/v1/assignments/{assignment}/police", json={"reason": "现场冲突升级"}), 403)
    assert _snapshot() == before
    sent = _ok(c["housing"].post(f"/api/v1/assignments/{assignment}/police",
                                 json={"reason": "现场双方冲突升级，请求民警到场（演示）"}), 201)
    assert sent["purpose"] == "police" and sent["route"][-1]["tenant"] == "140105"
    assert sent["current"] == {"tenant": "140105", "platform": "110"}  # urgent: straight to the county desk
    done = _ok(c["xd110"].post(f"/api/v1/transfers/{sent['id']}/accept"))
    assert _ok(c["agent"].get(f"/api/v1/cases/{case_id}"))["linked_case"]["id"] == done["linked_case"]


def test_guide_closes_a_matter_outside_both_scopes(app, c):
    case_id = _case(c["agent"], {**CITIZEN_BODY, "kind": "咨询", "text": "与邻居的民间借贷纠纷怎么办（演示）"})
    closed = _ok(c["agent"].post(f"/api/v1/cases/{case_id}/guide",
                                 json={"channel": "人民法院", "note": "告知可向人民法院提起民事诉讼"}))
    assert closed["status"] == "closed" and closed["close_reason"] == "引导解释：人民法院"
    assert closed["events"][-1]["type"] == "guided"


# ---- refusals write nothing ---------------------------------------------------------------------

def test_bad_input_is_refused_with_fields_and_nothing_written(app, c):
    police_case = _case(c["xd110"])
    hub_case = _case(c["agent"], CITIZEN_BODY, place_tenant="140100")
    waiting = _send(c["agent"], hub_case, "110", reason="疑似治安纠纷（演示）")["id"]  # waits at the hub 110
    other_case = _case(c["agent"], {**CITIZEN_BODY, "kind": "投诉"})
    assignment = _ok(c["dispatcher"].post(f"/api/v1/cases/{other_case}/assignments",
                                          json={"units": [{"unit": "140100-urban"}]}), 201)[0]["id"]
    _ok(c["urban"].post(f"/api/v1/assignments/{assignment}/accept"))
    send = f"/cases/{police_case}/transfers"
    ok = {"to": "12345", "reason": "非警务类（演示）"}
    rows = [
        ("xd110", send, {"to": "12345"}, 422, "reason"),
        ("xd110", send, {**ok, "reason": "   "}, 422, "reason"),
        ("xd110", send, {**ok, "reason": "字" * 501}, 422, "reason"),
        ("xd110", send, {**ok, "reason": 5}, 422, "reason"),
        ("xd110", send, {"reason": "非警务类"}, 422, "to"),
        ("xd110", send, {**ok, "to": "110"}, 422, "to"),  # its own platform
        ("xd110", send, {**ok, "to": "119"}, 422, "to"),
        ("xd110", send, {**ok, "to": 12345}, 422, "to"),
        ("xd110", send, {**ok, "purpose": "bogus"}, 422, "purpose"),
        ("xd110", send, {**ok, "purpose": "emergency"}, 422, "purpose"),
        ("xd110", send, {**ok, "purpose": "police"}, 422, "purpose"),
        ("xd110", send, {**ok, "purpose": "joint"}, 422, "officer.phone"),
        ("xd110", send, {**ok, "purpose": "joint", "officer": "李警官"}, 422, "officer"),
        ("xd110", send, {**ok, "purpose": "clue"}, 409, None),  # clues go from 12345 to 110
        ("xd110", send, [ok], 400, None),
        ("xd110", "/cases/abc/transfers", ok, 404, None),
        ("xd110", "/cases/999999/transfers", ok, 404, None),
        ("agent", send, ok, 403, None),  # the hub 12345 reads the county's police case but does not own it
        ("housing", send, ok, 403, None),
        ("xd110", "/transfers/abc/accept", {}, 404, None),
        ("xd110", "/transfers/999999/accept", {}, 404, None),
        ("ty110", f"/transfers/{waiting}/reject", {}, 422, "reason"),
        ("ty110", f"/transfers/{waiting}/reject", {"reason": 5}, 422, "reason"),
        ("ty110", f"/transfers/{waiting}/reject", {"reason": "字" * 501}, 422, "reason"),
        ("ty110", f"/transfers/{waiting}/negotiation", {}, 422, "note"),
        ("ty110", f"/transfers/{waiting}/negotiation", {"note": ["x"]}, 422, "note"),
        ("ty110", f"/transfers/{waiting}/negotiation", {"note": "字" * 1001}, 422, "note"),
        ("agent", f"/transfers/{waiting}/negotiation", {"note": "请协商一下"}, 403, None),  # the sender waits
        ("ty110", f"/transfers/{waiting}/negotiation/notes", {"text": "记录"}, 409, None),  # not negotiating
        ("ty110", f"/transfers/{waiting}/negotiation/notes", {"text": "记录", "call_phone": "13800005678"}, 422,
         "call_phone"),
        ("ty110", f"/transfers/{waiting}/negotiation/notes", {"text": "记录", "three_party_call": "yes"}, 422,
         "three_party_call"),
        ("ty110", f"/transfers/{waiting}/negotiation/proposal", {"taker": "target"}, 409, None),
        ("agent", f"/cases/{hub_case}/guide", {"channel": "人民法院", "note": "已解释"}, 409, None),  # transferring
        ("agent", f"/cases/{other_case}/guide", {"channel": "月球", "note": "告知去向"}, 409, None),  # dispatched
        ("xd110", f"/cases/{police_case}/guide", {"channel": "月球", "note": "告知去向"}, 422, "channel"),
        ("xd110", f"/cases/{police_case}/guide", {"channel": "人民法院", "note": ""}, 422, "note"),
        ("xd110", f"/cases/{police_case}/guide", {"channel": 1, "note": "告知去向"}, 422, "channel"),
        ("xd110", f"/cases/{police_case}/police-result", {}, 422, "result"),
        ("xd110", f"/cases/{police_case}/police-result", {"result": "字" * 4001}, 422, "result"),
        ("agent", f"/cases/{other_case}/police-result", {"result": "已处置完毕"}, 409, None),  # a 12345 case
        ("yz110", f"/cases/{police_case}/police-result", {"result": "已处置完毕"}, 404, None),
        ("urban", f"/assignments/{assignment}/police", {"reason": "字" * 501}, 422, "reason"),
        ("urban", f"/assignments/{assignment}/police", {"reason": 5}, 422, "reason"),
        ("urban", "/assignments/abc/police", {"reason": "现场冲突升级"}, 404, None),
        ("housing", f"/assignments/{assignment}/police", {"reason": "现场冲突升级"}, 404, None),
    ]
    before = _snapshot()
    for who, path, payload, status, name in rows:
        r = c[who].post(f"/api/v1{path}", json=payload)
        assert r.status_code == status, (who, path, str(payload)[:60], r.get_data(as_text=True)[:300])
        error = _refused(r, status)
        if name:
            assert name in error.get("fields", {}), (path, payload, error)
    assert _snapshot() == before
    for bad in ({"status": "open"}, {"page": "0"}, {"page": "two"}):
        _refused(c["ty110"].get("/api/v1/transfers", query_string=bad), 422)
    _refused(c["xd110"].get("/api/v1/transfers/abc"), 404)
    huge = c["xd110"].post(f"/api/v1{send}", json={**ok, "text": "字" * 400_000})  # over the 1 MB body limit
    _refused(huge, 413)
    assert _snapshot() == before


def test_lists_paginate_and_filter_by_status(app, c):
    made = []
    for i in range(3):
        case_id = _case(c["xd110"], text=f"第{i}件非警务事项（演示）")
        made.append(_send(c["xd110"], case_id, "12345")["id"])
    _ok(c["ty110"].post(f"/api/v1/transfers/{made[0]}/reject", json={"reason": "属警情（演示）"}))
    listed = lambda who, **q: _ok(c[who].get("/api/v1/transfers", query_string=q))  # noqa: E731
    assert [t["id"] for t in listed("ty110")["items"]] == made[1:]
    assert [t["id"] for t in listed("ty110", status="rejected")["items"]] == made[:1]
    body = listed("xd110", status="all")
    assert [t["id"] for t in body["items"]] == made and (body["total"], body["pages"], body["page"]) == (3, 1, 1)
    assert all(t["case_number"].startswith("140105-") for t in body["items"])
    assert listed("xd110", status="all", page="2")["items"] == []
    assert listed("agent", status="all")["total"] == 3  # the hub reads its counties' transfers
    down = _case(c["agent"], text="小区门口有人持刀伤人（演示）", kind="求助", emergency=True, place_tenant="140105",
                 received_by="12345")
    sent = _send(c["agent"], down, "110", reason="正在发生的伤害案件（演示）")
    waiting = listed("xd110")  # the hub's transfer, found by the county's own hop, counted the same way
    assert [t["id"] for t in waiting["items"]] == [sent["id"]] and waiting["total"] == 1


# ---- OpenAPI ------------------------------------------------------------------------------------

def test_openapi_documents_the_transfer_api(app, fresh):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    for path, method in (("/cases/{case_id}/transfers", "post"), ("/transfers", "get"),
                         ("/transfers/{transfer_id}", "get"), ("/transfers/{transfer_id}/accept", "post"),
                         ("/transfers/{transfer_id}/reject", "post"), ("/transfers/{transfer_id}/negotiation", "post"),
                         ("/transfers/{transfer_id}/negotiation/notes", "post"),
                         ("/transfers/{transfer_id}/negotiation/proposal", "post"), ("/cases/{case_id}/guide", "post"),
                         ("/cases/{case_id}/police-result", "post"), ("/assignments/{assignment_id}/police", "post")):
        assert method in doc["paths"][path], path
    schemas = doc["components"]["schemas"]
    assert {"route", "status", "from", "to", "negotiation"} <= set(schemas["Transfer"]["properties"])
    assert schemas["Case"]["properties"]["transfers"]["items"] == {"$ref": "#/components/schemas/Transfer"}
    assert "linked_case" in schemas["Case"]["properties"]
    send = doc["paths"]["/cases/{case_id}/transfers"]["post"]
    assert send["requestBody"]["content"]["application/json"]["schema"]["required"] == ["to", "reason"]
    assert any(p["name"] == "Idempotency-Key" for p in send["parameters"])
