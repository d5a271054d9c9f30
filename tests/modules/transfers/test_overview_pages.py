"""The hub's linkage overview (联动概况) and dedicated seats (专席): figures from real transfers made
through the services, who may see them, and seats added and removed with their audit rows."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from saas.db import as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from saas.models import AuditLog, Membership, User
from modules.cases import service as cases
from modules.cases.models import Case
from modules.transfers import seats as seat_service
from modules.transfers import desk as desk_steps, service as transfers
from modules.transfers import stats
from modules.transfers.models import Seat, Transfer, TransferHop
from tenants.models import Tenant
from tests import factories
from tests.conftest import text_of
from tests.factories import context_of
from tests.test_browser import ARTIFACTS, CHROMIUM, browser, server  # noqa: F401  (fixtures)

_count = factories.count_rows


# ---- setup through the services ---------------------------------------------------------------

def _act(username, code, fn):
    actor = context_of(username, code)
    with as_tenant(actor.context), transaction():
        return fn(actor)


def _send(username, code, *, to, kind, reason="属于对方职责（演示）", purpose="transfer", text=None):
    """Intake a case as `username` and transfer it; returns (case id, transfer id)."""
    def run(actor):
        tenant = actor.tenant
        case = cases.intake(tenant, actor, cases.IntakeData(text=text or f"{kind}事项，请转对方处理（演示）", kind=kind,
                                                            caller_phone="13800005678"))
        t = transfers.send(case, actor, transfers.TransferData(to=to, reason=reason, purpose=purpose))
        return case.id, t.id
    return _act(username, code, run)


def _decide(username, code, transfer_id, reject: str | None = None):
    def run(actor):
        t = transfers.readable_transfer(transfer_id)
        return (transfers.reject(t, actor, reject) if reject else transfers.accept(t, actor)).status
    return _act(username, code, run)


def _shift(transfer_id, minutes):
    """Pretend the transfer was sent `minutes` ago (its creation and its origin hop)."""
    at = utcnow() - timedelta(minutes=minutes)
    with as_tenant(system_context()), transaction():
        db.session.execute(update(Transfer).where(Transfer.id == transfer_id).values(created_at=at))
        db.session.execute(update(TransferHop).where(TransferHop.transfer_id == transfer_id, TransferHop.seq == 0)
                           .values(arrived_at=at, acted_at=at))
        db.session.execute(update(TransferHop).where(TransferHop.transfer_id == transfer_id, TransferHop.seq == 1,
                                                     TransferHop.status == "pending").values(arrived_at=at))
    return at


def _number(case_id):
    return factories.snapshot(lambda: db.session.scalar(
        select(Case.number).where(Case.id == case_id).execution_options(all_tenants=True)))


def _traffic(world):
    """Today at 太原: two 110→12345 transfers from 小店区 (one forwarded and accepted 20 minutes after
    sending, one pending 45 minutes), one 12345→110 transfer rejected, one stability clue accepted
    10 minutes after sending."""
    done_case, done = _send("xd_110", "140105", to="12345", kind="报警", reason="噪音扰民，属城管职责（演示）")
    waiting_case, waiting = _send("xd_110", "140105", to="12345", kind="报警", reason="占道经营，属城管职责（演示）")
    refused_case, refused = _send("ty_agent", "140100", to="110", kind="求助", reason="邻里纠纷，请110处置（演示）")
    clue_case, clue = _send("ty_agent", "140100", to="110", kind="求助", purpose="clue",
                            text="来电人扬言报复他人（演示）", reason="扬言实施个人极端行为（演示）")
    _decide("ty_110", "140100", done)
    _decide("ty_agent", "140100", done)
    _decide("ty_110", "140100", refused, reject="不属于警务范围，请12345派单至社区调解（演示）")
    _decide("ty_110", "140100", clue)
    sent = {"done": _shift(done, 20), "clue": _shift(clue, 10), "waiting": _shift(waiting, 45)}
    today = stats.local_midnight()  # the shifted ones may fall on yesterday just after midnight
    return {"waiting_case": waiting_case, "refused_case": refused_case,
            "today_110": (sent["done"] >= today) + (sent["waiting"] >= today),
            "today_12345": 1 + (sent["clue"] >= today)}


def _stat(page_text_or_html, testid):
    return re.search(rf'data-testid="{testid}">([^<]+)<', page_text_or_html).group(1).strip()


# ---- the overview page ------------------------------------------------------------------------

def test_overview_figures_for_the_hub_admin(world, login):
    made = _traffic(world)
    page = login("ty_admin").get("/t/140100/linkage/")
    assert page.status_code == 200
    html, text = page.get_data(as_text=True), text_of(page)
    today_110, today_12345 = made["today_110"], made["today_12345"]
    assert _stat(html, "today-110") == str(today_110)
    assert _stat(html, "today-12345") == str(today_12345)
    assert "分流转办" in text and ("维稳线索推送" in text) == (today_12345 == 2)
    # pending: the one left at the 太原 110 desk, 45 minutes old and shown in red
    assert _stat(html, "pending-count") == "1"
    assert _stat(html, "late-count") == "1"
    assert _stat(html, "pending-age") == "45分钟"
    row = re.search(r'<tr class="overdue[^"]*">(.*?)</tr>', html, re.S).group(1)
    assert _number(made["waiting_case"]) in row and "太原市110报警服务台" in row
    # today's rejection with its reason and who refused it
    assert _stat(html, "rejected-count") == "1"
    assert "不属于警务范围，请12345派单至社区调解（演示）" in text
    rejection = re.search(r'data-testid="rejections-table">(.*?)</table>', html, re.S).group(1)
    assert _number(made["refused_case"]) in rejection and "太原市110报警服务台" in rejection
    # acceptance minutes from hop times: 110→12345 took 20 minutes, 12345→110 took 10
    latency = re.search(r'data-testid="latency-table">(.*?)</table>', html, re.S).group(1)
    assert re.search(r"110→12345</td><td[^>]*>1</td>\s*<td[^>]*>20分钟</td><td[^>]*>20分钟", latency)
    assert re.search(r"12345→110</td><td[^>]*>1</td>\s*<td[^>]*>10分钟</td><td[^>]*>10分钟", latency)
    # the chart's data is embedded as JSON, and a table says the same without JavaScript
    chart = json.loads(re.search(r'id="transfer-chart-data">(.*?)</script>', html, re.S).group(1))
    assert len(chart["days"]) == stats.DAYS and chart["days"][-1] == f"{stats.local_midnight():%m-%d}"
    assert {s["name"]: s["data"][-1] for s in chart["series"]} == {"12345→110": today_12345, "110→12345": today_110}
    assert sum(sum(s["data"]) for s in chart["series"]) == 4
    assert "vendor/echarts.min.js" in html and 'data-testid="daily-table"' in html


def test_latency_median_and_p90_interpolate(world):
    ids = []
    for minutes in (10, 30):
        _, t = _send("xd_110", "140105", to="12345", kind="报警")
        _decide("ty_110", "140100", t)
        _decide("ty_agent", "140100", t)
        _shift(t, minutes)
        ids.append(t)
    actor = context_of("ty_admin", "140100")
    with as_tenant(actor.context):
        o = stats.overview(world["140100"])
    by = {l.label: l for l in o.latency}
    assert (by["110→12345"].count, by["110→12345"].median, by["110→12345"].p90) == (2, 20.0, 28.0)
    assert (by["12345→110"].count, by["12345→110"].median) == (0, None)
    assert stats.duration(28.0) == "28分钟" and stats.duration(4.5) == "4.5分钟" and stats.duration(125) == "2小时5分钟"


def test_overview_counts_in_a_fixed_number_of_queries(world):
    def queries_for_overview():
        actor = context_of("ty_admin", "140100")
        statements = []

        def note(conn, cursor, statement, *args):
            statements.append(statement)

        with as_tenant(actor.context):
            db.session.rollback()
            event.listen(db.engine, "before_cursor_execute", note)
            try:
                o = stats.overview(world["140100"])
                [(r.waiting_at.tenant.name, r.number) for r in o.pending]  # what the page reads
                [(r.hop.tenant.name, r.number) for r in o.rejections]
            finally:
                event.remove(db.engine, "before_cursor_execute", note)
        return len(statements), len(o.pending)

    _send("xd_110", "140105", to="12345", kind="报警")
    few, pending = queries_for_overview()
    for _ in range(4):
        _send("xd_110", "140105", to="12345", kind="报警")
        _send("ty_agent", "140100", to="110", kind="求助")
    many, more = queries_for_overview()
    assert (pending, more) == (1, 9)
    assert many == few <= 10


def test_overview_scope_and_permissions(world, login):
    made = _traffic(world)
    number = _number(made["waiting_case"])
    assert number in login("ty_supervisor").get("/t/140100/linkage/").get_data(as_text=True)
    assert login("ty_agent").get("/t/140100/linkage/").status_code == 403
    assert login("yz_admin").get("/t/140100/linkage/").status_code == 404
    assert login("yz_admin").get("/t/140106/linkage/").status_code == 403
    assert login("ty_admin").get("/t/140100/linkage/?hub=350500").status_code == 404
    # the province supervisor picks a hub below; hubs of another province do not exist for them
    sx = login("sx_supervisor")
    chooser = sx.get("/t/140000/linkage/")
    assert chooser.status_code == 200 and "/t/140000/linkage/?hub=140100" in chooser.get_data(as_text=True)
    page = sx.get("/t/140000/linkage/?hub=140100")
    assert page.status_code == 200 and number in page.get_data(as_text=True)
    assert "不属于警务范围" in text_of(page) and "专席管理" not in text_of(page)
    assert sx.get("/t/140000/linkage/?hub=350500").status_code == 404
    # another hub sees none of 太原's transfers
    other = login("cq_admin").get("/t/500000/linkage/")
    assert other.status_code == 200 and number not in other.get_data(as_text=True)
    assert _stat(other.get_data(as_text=True), "pending-count") == "0"


# ---- dedicated seats --------------------------------------------------------------------------

def _membership_in(username, code):
    return factories.snapshot(lambda: db.session.scalar(
        select(Membership.id).join(User, Membership.user_id == User.id).join(Tenant, Membership.tenant_id == Tenant.id)
        .where(User.username == username, Tenant.code == code).execution_options(all_tenants=True)))


def test_seat_added_used_and_removed(world, login):
    admin = login("ty_admin")
    assert "尚未设立专席" in text_of(admin.get("/t/140100/linkage/seats"))
    response = admin.post("/t/140100/linkage/seats", {"member": _membership_in("ty_110", "140100"),
                                                     "platform": "12345", "note": "夜间值班（演示）"})
    assert response.status_code == 302, text_of(response)[:400]
    seat = factories.snapshot(lambda: db.session.scalar(select(Seat).execution_options(all_tenants=True)))
    assert (seat.tenant_id, seat.platform, seat.note) == (world["140100"].id, "12345", "夜间值班（演示）")
    page = text_of(admin.get("/t/140100/linkage/seats"))
    assert "ty_110" in page and "110专席（设在12345热线）" in page and "110接警员" in page
    assert _count(AuditLog, AuditLog.action == "seat.create") == 1
    # the seat works: the 110 officer takes a 12345 case over in one step
    case_id = _act("ty_agent", "140100", lambda a: cases.intake(world["140100"], a, cases.IntakeData(
        text="有人在小区门口持刀争吵（演示）", kind="求助", caller_phone="13800005678")).id)
    platform = _act("ty_110", "140100", lambda a: desk_steps.take_by_seat(
        db.session.scalar(select(Case).where(Case.id == case_id)), a) and
        db.session.scalar(select(Case.platform).where(Case.id == case_id)))
    assert platform == "110"
    # removed, with its audit row
    response = admin.post(f"/t/140100/linkage/seats/{seat.id}/remove")
    assert response.status_code == 302
    assert _count(Seat) == 0 and _count(AuditLog, AuditLog.action == "seat.remove") == 1
    assert "已移除" in text_of(admin.get("/t/140100/linkage/seats"))


def test_seat_bad_input_is_refused_and_nothing_written(world, login):
    admin = login("ty_admin")
    cases_ = [
        ({"member": _membership_in("ty_agent", "140100"), "platform": "12345"},
         "12345话务员本就在12345热线工作，专席须设在另一平台（110报警服务台）的队列"),
        ({"member": _membership_in("xd_110", "140105"), "platform": "12345"}, "请选择本枢纽在岗的12345话务员或110接警员"),
        ({"member": _membership_in("ty_dispatcher", "140100"), "platform": "110"}, "请选择本枢纽在岗的12345话务员或110接警员"),
        ({"member": "abc", "platform": "110"}, "请选择本枢纽在岗的12345话务员或110接警员"),
        ({"member": _membership_in("ty_agent", "140100"), "platform": "119"}, "请选择专席所在的队列"),
        ({"member": _membership_in("ty_agent", "140100"), "platform": "110", "note": "长" * 129}, "备注不能超过128字"),
    ]
    for form, message in cases_:
        response = admin.post("/t/140100/linkage/seats", form)
        assert response.status_code == 422, form
        assert message in text_of(response), (form, text_of(response)[:600])
    assert _count(Seat) == 0 and _count(AuditLog, AuditLog.action == "seat.create") == 0
    # the note typed is kept on the refused form
    response = admin.post("/t/140100/linkage/seats", {"member": "", "platform": "110", "note": "白班（演示）"})
    assert response.status_code == 422 and 'value="白班（演示）"' in response.get_data(as_text=True)
    # a second seat of the same kind for the same person
    form = {"member": _membership_in("ty_agent", "140100"), "platform": "110"}
    assert admin.post("/t/140100/linkage/seats", form).status_code == 302
    response = admin.post("/t/140100/linkage/seats", form)
    assert response.status_code == 422 and "已有12345专席（设在110报警服务台）" in text_of(response)
    assert _count(Seat) == 1


def test_seat_pages_permissions(world, login):
    cq = context_of("cq_admin", "500000")
    with as_tenant(cq.context), transaction():
        other = seat_service.add(cq, membership_id=_membership_in("cq_110", "500000"), platform="12345").id
    assert login("ty_agent").get("/t/140100/linkage/seats").status_code == 403
    assert login("ty_supervisor").get("/t/140100/linkage/seats").status_code == 403
    assert login("ty_agent").post("/t/140100/linkage/seats", {"member": "1", "platform": "110"}).status_code == 403
    assert login("yz_admin").get("/t/140100/linkage/seats").status_code == 404
    admin = login("ty_admin")
    assert admin.post(f"/t/140100/linkage/seats/{other}/remove").status_code == 404
    assert "cq_110" not in text_of(admin.get("/t/140100/linkage/seats"))
    assert _count(Seat) == 1


# ---- the chart in a real browser --------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: `apt-get install chromium` (CI installs it)")
def test_chart_draws_under_the_content_policy(world, server, browser):
    _traffic(world)
    page = browser.new_page(locale="zh-CN")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{server}/login")
    page.fill("#username", "ty_admin")
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/t/140100/")
    page.goto(f"{server}/t/140100/linkage/")
    page.wait_for_selector("#transfer-chart svg")
    assert page.evaluate("document.getElementById('transfer-chart').getBoundingClientRect().height") > 200
    assert "110→12345" in page.inner_text("#transfer-chart")
    assert errors == []  # no script or style refused by the Content-Security-Policy
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "linkage-overview.png"), full_page=True)
