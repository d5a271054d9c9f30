"""Case pages in depth: intake errors, assist and merge, work lists, masking and reveal, the case
page across tenants, follow-up, notifications and the deadline policy page. Real DB, real Redis."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from saas import jobs, outbox
from saas.db import as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from saas.models import AuditLog
from saas.outbox import OutboxMessage
from modules.cases import service as cases
from modules.cases.models import Case, CaseCounter, CaseEvent
from modules.deadlines import calendar
from modules.deadlines.models import CasePolicy
from modules.deadlines.service import DEFAULT_DAYS
from modules.dispatch import service as dispatch
from modules.dispatch.models import Assignment
from modules.notifications.models import Notification, SmsMessage
from saas.models import User
from tests import factories
from tests.conftest import run_worker, text_of
from tests.factories import context_of

PHONE, NAME = "13800005678", "王女士（演示）"


# ---- helpers: services for setup, fresh snapshots for checks ----------------------------------

_read, _count = factories.snapshot, factories.count_rows


def _one(stmt):
    return _read(lambda: tuple(db.session.execute(stmt.execution_options(all_tenants=True)).one()))


def _act(username, code, fn):
    actor = context_of(username, code)
    with as_tenant(actor.context), transaction():
        return fn(actor)


def _case(case_id):
    return db.session.scalar(select(Case).where(Case.id == case_id))


def _intake(world, text, *, phone=PHONE, name=NAME, kind="投诉", **fields) -> int:
    data = cases.IntakeData(text=text, kind=kind, caller_phone=phone, caller_name=name, **fields)
    return _act("ty_agent", "140100", lambda a: cases.intake(world["140100"], a, data).id)


def _dispatch(case_id, lead="140100-heating") -> int:
    return _act("ty_dispatcher", "140100", lambda a: dispatch.dispatch(
        _case(case_id), a, dispatch.DispatchData(units=[dispatch.UnitChoice(lead, "lead")]))[0].id)


def _handle(assignment_id, user="ty_heating", code="140100"):
    def run(actor):
        a = db.session.scalar(select(Assignment).where(Assignment.id == assignment_id))
        dispatch.accept(a, actor)
        dispatch.reply(a, actor, dispatch.ReplyData(result="已处理完毕（演示）", resolved=True))
    _act(user, code, run)


def _replied(world, text="小区路灯不亮一周了（演示）", lead="140100-heating", user="ty_heating", code="140100"):
    case_id = _intake(world, text)
    _handle(_dispatch(case_id, lead), user, code)
    return case_id


def _summaries(response) -> list[str]:
    return re.findall(r'class="summary">([^<]*)</td>', response.get_data(as_text=True))


def _deliver_all() -> int:
    rows = _read(lambda: db.session.execute(select(OutboxMessage.id, OutboxMessage.tenant_id).where(
        OutboxMessage.status == "pending").execution_options(all_tenants=True)).all())
    for outbox_id, tenant_id in rows:  # the job's body, committed inside its tenant context
        with as_tenant(jobs.job_context(tenant_id, None)), transaction():
            assert outbox.deliver(outbox_id) == "delivered"
    return len(rows)


def _user_id(username):
    return _read(lambda: db.session.scalar(select(User.id).where(User.username == username)))


# ---- intake -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, phone, message", [
    ("", "13800005678", "请填写诉求内容"),
    ("家门口下水道堵塞（演示）", "12345", "联系电话应为11位手机号或带区号的固定电话"),
    ("字" * 4001, "13800005678", "诉求内容不能超过4000字（现有4001字）"),
])
def test_failed_intake_keeps_every_typed_field_and_writes_nothing(world, login, text, phone, message):
    agent = login("ty_agent")
    form = {"caller_phone": phone, "caller_name": "李先生（演示）", "channel": "wechat", "text": text,
            "address": "迎泽大街100号（演示）", "place_tenant": "140105", "kind": "求助", "urgency": "urgent",
            "received_by": "12345"}
    r = agent.post("/t/140100/cases/new", form)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and message in text_of(r)
    for name in ("caller_phone", "caller_name", "address"):
        assert f'name="{name}" value="{form[name]}"' in html
    assert f">{text}</textarea>" in html
    assert 'value="wechat" selected' in html and 'value="140105" selected' in html
    assert 'value="求助" checked' in html and 'value="urgent" checked' in html
    assert _count(Case) == _count(CaseEvent) == _count(CaseCounter) == 0


def test_assist_lists_earlier_cases_and_duplicates_and_is_post_only(world, login):
    same_caller = _intake(world, "询问社保卡补办流程（演示）", kind="咨询")
    similar = _intake(world, "解放路与五一路口红绿灯不亮，车辆拥堵（演示）", phone="13900001111")
    _intake(world, "公园里的健身器材损坏（演示）", phone="13700002222")
    agent = login("ty_agent")
    r = agent.post("/t/140100/cases/assist", {"caller_phone": PHONE, "text": "解放路五一路口红绿灯不亮了，车很堵"})
    assert r.status_code == 200 and "<html" not in r.get_data(as_text=True)
    body = text_of(r)
    numbers = dict(_read(lambda: db.session.execute(select(Case.id, Case.number)
                                                    .execution_options(all_tenants=True)).all()))
    duplicates, _, earlier = body.partition("来电人历史工单")
    assert numbers[similar] in duplicates and "内容相似度" in duplicates
    assert numbers[same_caller] in duplicates and "同一来电号码" in duplicates
    assert numbers[same_caller] in earlier and numbers[similar] not in earlier
    assert "健身器材" not in body
    assert r.get_data(as_text=True).count("并入此工单") == 2
    assert agent.get("/t/140100/cases/assist").status_code == 405
    assert agent.get(f"/t/140100/cases/assist?caller_phone={PHONE}").status_code == 405


def test_merge_through_the_page_adds_an_event_not_a_case(world, login):
    case_id = _intake(world, "小区门口路灯不亮已经一周（演示）")
    agent = login("ty_agent")
    r = agent.post(f"/t/140100/cases/{case_id}/merge", {"caller_phone": "13900009999", "caller_name": "赵先生（演示）",
                                                        "channel": "phone", "text": "又来电：路灯还是不亮（演示）",
                                                        "kind": "投诉", "received_by": "12345"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/t/140100/cases/{case_id}")
    assert _count(Case) == 1 and _count(CaseEvent, CaseEvent.type == "merged") == 1
    body = text_of(agent.get(f"/t/140100/cases/{case_id}"))
    assert "并入来电" in body and "又来电：路灯还是不亮" in body and "重复来电 1 次" in body
    r = agent.post(f"/t/140100/cases/{case_id}/merge", {"text": "  ", "caller_phone": "13900009999"})
    assert r.status_code == 422 and "请填写本次来电内容" in text_of(r)
    assert 'name="caller_phone" value="13900009999"' in r.get_data(as_text=True)
    assert _count(CaseEvent, CaseEvent.type == "merged") == 1


def test_quick_answer_closes_a_consultation_at_once(world, login):
    agent = login("ty_agent")
    form = {"caller_phone": PHONE, "text": "公积金提取需要哪些材料（演示）", "kind": "咨询", "channel": "phone",
            "received_by": "12345", "answer": "携带身份证和购房合同到公积金中心办理（演示）"}
    r = agent.post("/t/140100/cases/new", {**form, "kind": "投诉"})
    assert r.status_code == 422 and "只有咨询类诉求可以即问即答" in text_of(r) and _count(Case) == 0
    r = agent.post("/t/140100/cases/new", form)
    assert r.status_code == 302
    status, reason, answer = _one(select(Case.status, Case.close_reason, Case.answer))
    assert (status, reason) == ("closed", "即问即答") and answer.startswith("携带身份证")
    body = text_of(agent.get(r.headers["Location"]))
    assert "已办结" in body and "即问即答" in body and "已即问即答办结" in body


# ---- work lists -------------------------------------------------------------------------------

def test_work_lists_views_and_filters(world, login):
    ids = {"new": _intake(world, "MARK-NEW 井盖缺失"), "disp": _intake(world, "MARK-DISP 楼道灯坏", kind="求助"),
           "over": _intake(world, "MARK-OVER 垃圾清运不及时"), "sup": _intake(world, "MARK-SUP 噪音扰民"),
           "closed": _intake(world, "MARK-CLOSED 重复来电"), "old": _intake(world, "MARK-OLD 早前来电")}
    ids["repl"] = _replied(world, "MARK-REPL 暖气不热")
    _dispatch(ids["disp"])
    _dispatch(ids["over"], "140100-urban")
    _act("ty_supervisor", "140100", lambda a: cases.supervise(_case(ids["sup"]), a, "请尽快派单"))
    _act("ty_agent", "140100", lambda a: cases.close(_case(ids["closed"]), a, "重复来电"))
    with as_tenant(system_context()), transaction():
        db.session.execute(update(Case).where(Case.id == ids["over"]).values(deadline=utcnow() - timedelta(hours=2)))
        db.session.execute(update(Case).where(Case.id == ids["old"]).values(created_at=utcnow() - timedelta(days=3)))
    user = login("ty_dispatcher")

    def shown(url):
        r = user.get(url)
        assert r.status_code == 200
        return {k for k in ids if any(f"MARK-{k.upper()} " in s for s in _summaries(r))}

    assert shown("/t/140100/cases/") == {"new", "sup", "old"}
    expected = {"todispatch": {"new", "sup", "old"}, "dispatched": {"disp", "over"}, "overdue": {"over"},
                "followup": {"repl"}, "supervised": {"sup"}, "today": set(ids) - {"old"}, "closed": {"closed"},
                "all": set(ids)}
    for view, keys in expected.items():
        assert shown(f"/t/140100/cases/?view={view}") == keys, view
    today = calendar.local_day(utcnow())
    for query, keys in (("status=replied", {"repl"}), ("kind=求助", {"disp"}), ("unit=140100-urban", {"over"}),
                        ("unit=140100-heating", {"disp", "repl"}), ("overdue=1", {"over"}),
                        (f"date_from={today}", set(ids) - {"old"}), (f"date_to={today - timedelta(days=2)}", {"old"})):
        assert shown(f"/t/140100/cases/?view=all&{query}") == keys, query
    r = user.get("/t/140100/cases/?view=all")
    assert re.search(r"MARK-SUP[^<]*</td>", r.get_data(as_text=True))
    assert _summaries(r)[0].startswith("MARK-SUP")  # supervised cases lead the list
    row = re.search(r"<tr class=\"supervised[^\"]*\">(.*?)</tr>", r.get_data(as_text=True), re.S).group(1)
    assert "督办" in row and "MARK-SUP" in row


def test_text_search_is_posted_and_htmx_gets_the_fragment(world, login):
    _intake(world, "MARK-A 迎泽公园东门积水严重", address="迎泽公园（演示）")
    _intake(world, "MARK-B 小店区菜市场占道经营")
    user = login("ty_dispatcher")
    r = user.post("/t/140100/cases/", {"view": "all", "q": "积水"}, headers={"HX-Request": "true"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html and 'id="filters"' not in html
    assert [s[:6] for s in _summaries(r)] == ["MARK-A"]
    full = user.post("/t/140100/cases/", {"view": "all", "q": "菜市场"})
    assert "<html" in full.get_data(as_text=True) and [s[:6] for s in _summaries(full)] == ["MARK-B"]
    assert 'value="菜市场"' in full.get_data(as_text=True)


def test_pagination_by_posted_page(world, login):
    for i in range(32):
        _intake(world, f"MARK-{i:02d} 第{i}件（演示）", phone="")
    user = login("ty_dispatcher")
    first = user.post("/t/140100/cases/", {"view": "all"}, headers={"HX-Request": "true"})
    second = user.post("/t/140100/cases/", {"view": "all", "page": "2"}, headers={"HX-Request": "true"})
    assert len(_summaries(first)) == 30 and "第 1 / 2 页，共 32 条" in text_of(first)
    assert [s[:7] for s in _summaries(second)] == ["MARK-01", "MARK-00"] and "第 2 / 2 页" in text_of(second)
    assert {s[:7] for s in _summaries(first)} == {f"MARK-{i:02d}" for i in range(2, 32)}


# ---- masking and reveal -----------------------------------------------------------------------

def test_lists_and_case_page_mask_and_reveal_is_audited(world, login):
    case_id = _intake(world, "楼上漏水到我家（演示）")
    agent = login("ty_agent")
    for url in ("/t/140100/cases/", f"/t/140100/cases/{case_id}"):
        body = text_of(agent.get(url))
        assert "138****5678" in body and "王**" in body and PHONE not in body and NAME not in body
    r = agent.post(f"/t/140100/cases/{case_id}/reveal", {"reason": " "})
    assert r.status_code == 422 and "请填写查看来电人信息的事由" in text_of(r) and PHONE not in text_of(r)
    assert _count(AuditLog, AuditLog.action == "case.reveal_contact") == 0
    r = agent.post(f"/t/140100/cases/{case_id}/reveal", {"reason": "回访核实情况"})
    assert r.status_code == 200 and PHONE in text_of(r) and NAME in text_of(r)
    detail, tenant_id, actor_id = _one(select(AuditLog.detail, AuditLog.tenant_id, AuditLog.actor_id)
                                       .where(AuditLog.action == "case.reveal_contact"))
    assert detail["reason"] == "回访核实情况" and tenant_id == world["140100"].id and actor_id == _user_id("ty_agent")

    with as_tenant(system_context()), transaction():
        factories.user("ty_auditor", (world["140100"], "auditor"))
    auditor = login("ty_auditor")
    page = auditor.get(f"/t/140100/cases/{case_id}")
    assert page.status_code == 200 and "138****5678" in text_of(page) and "查看完整信息" not in text_of(page)
    r = auditor.post(f"/t/140100/cases/{case_id}/reveal", {"reason": "审计抽查"})
    assert r.status_code == 403 and PHONE not in text_of(r)
    assert _count(AuditLog, AuditLog.action == "case.reveal_contact") == 1


# ---- the case page ----------------------------------------------------------------------------

def test_timeline_names_every_step_actor_and_tenant(world, login):
    case_id = _replied(world, lead="140105-housing", user="xd_housing", code="140105")
    page = login("ty_agent").get(f"/t/140100/cases/{case_id}").get_data(as_text=True)
    steps = re.findall(r'<strong>([^<]+)</strong> <time>[^<]*</time></div>\s*<div class="ev-who">([^<]+)</div>', page)
    assert steps == [("受理", "ty_agent（演示） · 太原市"), ("派单", "ty_dispatcher（演示） · 太原市"),
                     ("签收", "xd_housing（演示） · 小店区"), ("办结答复", "xd_housing（演示） · 小店区")]


@pytest.mark.parametrize("username, code, tenant_name", [("ty_supervisor", "140100", "太原市"),
                                                         ("sx_supervisor", "140000", "山西省")])
def test_supervision_flags_the_case_and_notifies(world, login, username, code, tenant_name):
    case_id = _intake(world, "MARK-SV 供水管道爆裂")
    _dispatch(case_id)
    _deliver_all()
    user = login(username)
    r = user.post(f"/t/{code}/cases/{case_id}/supervise", {"instruction": ""})
    assert r.status_code == 422 and "请填写督办意见" in text_of(r)
    r = user.post(f"/t/{code}/cases/{case_id}/supervise", {"instruction": "限今日内处置完毕"})
    assert r.status_code == 302, text_of(r)[:400]
    body = text_of(user.get(f"/t/{code}/cases/{case_id}"))
    assert "督办意见： 限今日内处置完毕" in body or "督办意见：限今日内处置完毕" in body
    assert f"{username}（演示） · {tenant_name}" in body
    listing = login("ty_dispatcher").get("/t/140100/cases/?view=supervised")
    assert [s[:7] for s in _summaries(listing)] == ["MARK-SV"] and "督办" in text_of(listing)
    assert _deliver_all() == 2  # the open unit and the hub's dispatchers/supervisors
    titles = dict(_read(lambda: db.session.execute(select(Notification.user_id, Notification.title).where(
        Notification.title.like("督办%")).execution_options(all_tenants=True)).all()))
    assert {_user_id("ty_heating"), _user_id("ty_dispatcher"), _user_id("ty_supervisor")} <= set(titles)
    assert _count(SmsMessage, SmsMessage.phone == "19900001234", SmsMessage.text.like("%督办%")) == 1


def test_other_tenants_get_404_and_province_reads_only(world, login):
    case_id = _intake(world, "MARK-X 路面塌陷")
    assert login("dh_admin").get(f"/t/350526/cases/{case_id}").status_code == 404
    assert login("dh_admin").get(f"/t/140100/cases/{case_id}").status_code == 404
    assert login("cq_admin").get(f"/t/500000/cases/{case_id}").status_code == 404
    xd = login("xd_agent")
    assert xd.get(f"/t/140105/cases/{case_id}").status_code == 404
    assert xd.post(f"/t/140105/cases/{case_id}/merge", {"text": "并入"}).status_code == 404
    assert "MARK-X" not in text_of(xd.get("/t/140105/cases/?view=all"))
    province = login("sx_supervisor")
    page = province.get(f"/t/140000/cases/{case_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "MARK-X" in html
    assert 'id="dispatch"' not in html and f"cases/{case_id}/dispatch" not in html
    assert "138****5678" in html and PHONE not in html and "查看完整信息" not in html
    r = province.post(f"/t/140000/cases/{case_id}/dispatch", {"lead": "140100-heating"})
    assert r.status_code == 403 and _count(Assignment) == 0


# ---- follow-up --------------------------------------------------------------------------------

def test_followup_through_the_page(world, login):
    case_id = _replied(world)
    agent = login("ty_agent")
    url = f"/t/140100/cases/{case_id}/followup"
    r = agent.post(url, {"reached": "1", "solved": "0", "satisfaction": "dissatisfied", "note": ""})
    assert r.status_code == 422 and "不满意时请填写原因，工单将重办" in text_of(r)
    assert _one(select(Case.status, Case.reopen_count)) == ("replied", 0)
    r = agent.post(url, {"reached": "1", "solved": "0", "satisfaction": "dissatisfied", "note": "暖气仍不热"})
    assert r.status_code == 302
    assert _one(select(Case.status, Case.reopen_count, Case.deadline)) == ("new", 1, None)
    body = text_of(agent.get(f"/t/140100/cases/{case_id}"))
    assert "待派单" in body and "不满意重办" in body and "重办 1 次" in body
    assert "140100/cases/%d" % case_id in "".join(  # back in the dispatcher's queue
        re.findall(r'href="([^"]+)"', login("ty_dispatcher").get("/t/140100/cases/").get_data(as_text=True)))


def test_unreachable_followups_close_after_the_policy_limit(world, login):
    case_id = _replied(world)
    agent = login("ty_agent")
    for attempt in (1, 2):
        assert agent.post(f"/t/140100/cases/{case_id}/followup", {"reached": "0"}).status_code == 302
        assert _one(select(Case.status, Case.followup_tries)) == ("replied", attempt)
    assert "第 2 次未接通" in text_of(agent.get(f"/t/140100/cases/{case_id}"))
    assert agent.post(f"/t/140100/cases/{case_id}/followup", {"reached": "0"}).status_code == 302
    assert _one(select(Case.status, Case.close_reason)) == ("closed", "回访3次均未联系上来电人")


# ---- notifications ----------------------------------------------------------------------------

def test_unit_handler_sees_unread_count_and_opens_the_assignment(world, login):
    case_id = _intake(world, "MARK-N 暖气漏水")
    r = login("ty_dispatcher").post(f"/t/140100/cases/{case_id}/dispatch", {"lead": "140100-heating"})
    assert r.status_code == 302
    assignment_id = _one(select(Assignment.id))[0]
    handler = login("ty_heating")
    assert 'data-testid="unread"' not in handler.get("/t/140100/inbox/").get_data(as_text=True)
    assert jobs.queue("urgent").count >= 1  # enqueued after the commit
    _deliver_all()
    html = handler.get("/t/140100/inbox/").get_data(as_text=True)
    assert re.search(r'data-testid="unread">1<', html)
    assert 'data-testid="unread"' not in login("ty_urban").get("/t/140100/inbox/").get_data(as_text=True)
    notification_id = _one(select(Notification.id).where(Notification.user_id == _user_id("ty_heating")))[0]
    assert "新工单" in text_of(handler.get("/t/140100/notifications/"))
    r = handler.post(f"/t/140100/notifications/{notification_id}/open")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/t/140100/inbox/{assignment_id}")
    assert 'data-testid="unread"' not in handler.get("/t/140100/inbox/").get_data(as_text=True)
    assert _count(Notification, Notification.read_at.is_(None), Notification.user_id == _user_id("ty_heating")) == 0
    assert login("ty_urban").post(f"/t/140100/notifications/{notification_id}/open").status_code == 404


def test_a_real_worker_delivers_the_dispatch_notification(world, login):
    """The whole path: the commit enqueues the outbox job; a forking `flask worker --burst` delivers it
    (regression: run_job used to commit after leaving the job's tenant context)."""
    _dispatch(_intake(world, "MARK-W 暖气漏水"))
    run_worker()
    assert _one(select(OutboxMessage.status, OutboxMessage.attempts)) == ("delivered", 1)
    assert _count(Notification, Notification.user_id == _user_id("ty_heating")) == 1
    assert re.search(r'data-testid="unread">1<', login("ty_heating").get("/t/140100/inbox/").get_data(as_text=True))


# ---- deadline policy --------------------------------------------------------------------------

def _policy_form(**changes):
    form = {f"days_{k}": str(v) for k, v in DEFAULT_DAYS.items()}
    form.update(urgent_hours="24", complex_days="15", max_extension_days="10", return_window_days="2",
                remind_percent="80", followup_max_tries="3", duplicate_window_days="30", negotiation_hours="8")
    form.update(changes)
    return form


def test_policy_page_saves_validates_and_drives_dispatch(world, login):
    admin = login("ty_admin")
    r = admin.post("/t/140100/policy/", _policy_form(urgent_hours="0", **{"days_咨询": "abc"}))
    assert r.status_code == 422
    assert "紧急件办理时限应为1至72小时" in text_of(r) and "“咨询”办理时限应为1至60个工作日" in text_of(r)
    assert 'value="abc"' in r.get_data(as_text=True) and _count(CasePolicy) == 0
    r = admin.post("/t/140100/policy/", _policy_form(complex_days="4"))
    assert r.status_code == 422 and "复杂件时限不应短于任何一类诉求的普通时限" in text_of(r)
    r = admin.post("/t/140100/policy/", _policy_form(**{"days_投诉": "3"}))
    assert r.status_code == 302 and _count(CasePolicy) == 1
    assert _count(AuditLog, AuditLog.action == "policy.update") == 1

    agent = login("ty_agent")
    page = agent.get("/t/140100/policy/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and re.search(r'name="days_投诉"[^>]*value="3"[^>]*disabled', html)
    assert ">保存</button>" not in html
    assert agent.post("/t/140100/policy/", _policy_form(**{"days_投诉": "9"})).status_code == 403

    case_id = _intake(world, "物业乱收费（演示）", kind="投诉")
    assert login("ty_dispatcher").post(f"/t/140100/cases/{case_id}/dispatch",
                                       {"lead": "140100-urban"}).status_code == 302
    deadline, label, start = _one(select(Assignment.deadline, Assignment.deadline_label, Assignment.dispatched_at))
    assert label == "3个工作日" and deadline == calendar.add_working_days(start, 3)
