"""The units' handling and the case rules around it, at service level on the real database:
return (退回), extension (延期), reply and attachments, follow-up, quick answer, merge, duplicates,
and refused input that must leave nothing behind."""
from __future__ import annotations

import hashlib
import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from saas.db import as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from saas.outbox import OutboxMessage
from modules.cases import queries, service as cases
from modules.cases.models import Case, CaseCounter, CaseEvent
from modules.deadlines import calendar
from modules.deadlines.service import DEFAULT_DAYS, save_policy
from modules.dispatch import attachments, service as dispatch
from modules.dispatch.models import Assignment, Attachment, ExtensionRequest
from tests.factories import context_of, png_bytes

SH = calendar.SHANGHAI
UNREACHABLE_WINDOW = timedelta(days=20)  # more than 2 working days whatever the holidays
HEAT, DISP, AGENT, XDH = ("ty_heating", "140100"), ("ty_dispatcher", "140100"), ("ty_agent", "140100"), \
    ("xd_housing", "140105")


def due(y, m, d):
    return datetime(y, m, d, 16, tzinfo=timezone.utc)


def _as(username, code):
    actor = context_of(username, code)
    return actor, as_tenant(actor.context)


def _load(model, id_):
    return db.session.scalar(select(model).where(model.id == id_))


def _system(fn):
    """Read as the system (every tenant), e.g. _system(lambda: ...)."""
    with as_tenant(system_context()):
        return fn()


_count = lambda model: _system(lambda: db.session.scalar(select(func.count()).select_from(model)))  # noqa: E731
_get = lambda model, id_: _system(lambda: _load(model, id_))  # noqa: E731
_events = lambda case_id: _system(lambda: list(db.session.scalars(  # noqa: E731
    select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id))))
_outbox_titles = lambda: _system(lambda: [  # noqa: E731
    r.payload["title"] for r in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))])


def _update(model, id_, **values) -> None:
    with as_tenant(system_context()), transaction():
        row = _load(model, id_)
        for name, value in values.items():
            setattr(row, name, value)


def _intake(user="ty_agent", code="140100", **fields) -> int:
    actor, ctx = _as(user, code)
    data = {"text": "小区暖气不热，室温只有十二度（演示）", "kind": "投诉", "caller_name": "张先生（演示）",
            "caller_phone": "13800005678", "address": "小店区亲贤北街（演示）", **fields}
    with ctx, transaction():
        return cases.intake(actor.tenant, actor, cases.IntakeData(**data)).id


def _dispatch(case_id, *units, user="ty_dispatcher", code="140100", **kw) -> list[int]:
    actor, ctx = _as(user, code)
    with ctx, transaction():
        made = dispatch.dispatch(_load(Case, case_id), actor, dispatch.DispatchData(
            units=[dispatch.UnitChoice(u, r) for u, r in units], **kw))
        return [a.id for a in made]


def _act(username, code, fn, *args):
    """Run a handling step as `username` in its own committed transaction."""
    actor, ctx = _as(username, code)
    with ctx, transaction():
        return fn(actor, *args)


def _refused(username, code, fn, *args) -> cases.CaseError:
    """The step must be refused with a CaseError; the transaction is rolled back."""
    actor, ctx = _as(username, code)
    with ctx:
        with pytest.raises(cases.CaseError) as caught:
            fn(actor, *args)
        db.session.rollback()
    return caught.value


def _policy(**changes) -> None:
    raw = {"urgent_hours": 24, "complex_days": 15, "max_extension_days": 10, "return_window_days": 2,
           "remind_percent": 80, "followup_max_tries": 3, "duplicate_window_days": 30, "negotiation_hours": 8,
           **{f"days_{k}": v for k, v in DEFAULT_DAYS.items()}, **changes}
    admin, ctx = _as("ty_admin", "140100")
    with ctx, transaction():
        save_policy(admin.tenant, admin, {k: str(v) for k, v in raw.items()})


# ---- return (退回) ---------------------------------------------------------------------------------

def test_lead_return_within_the_window_sends_the_case_back_and_supersedes_the_others(world):
    case_id = _intake()
    lead_id, assist_id = _dispatch(case_id, ("140105-housing", "lead"), ("140100-heating", "assist"))
    give_back = lambda actor, reason: dispatch.give_back(_load(Assignment, lead_id), actor, reason)  # noqa: E731
    assert _refused(*XDH, give_back, "  ").errors == {"reason": "请填写退回理由"}
    _act(*XDH, give_back, "不属于本单位职责（演示）")
    lead, assist, case = _get(Assignment, lead_id), _get(Assignment, assist_id), _get(Case, case_id)
    assert (lead.status, lead.return_reason) == ("returned", "不属于本单位职责（演示）")
    assert assist.status == "superseded"
    assert (case.status, case.deadline) == ("new", None)
    events = _events(case_id)
    assert [e.type for e in events] == ["intake", "dispatched", "returned"]
    assert events[-1].detail == {"unit": "小店区housing局", "role": "lead", "reason": "不属于本单位职责（演示）"}
    assert events[-1].tenant_id == world["140105"].id
    assert f"工单被退回：{case.number}" in _outbox_titles()
    (again,) = _dispatch(case_id, ("140100-urban", "lead"))
    assert _get(Case, case_id).status == "dispatched" and _get(Assignment, again).status == "pending"


def test_return_after_the_window_is_refused_and_changes_nothing(world):
    case_id = _intake()
    (lead_id,) = _dispatch(case_id, ("140100-heating", "lead"))
    deadline = _get(Case, case_id).deadline
    _update(Assignment, lead_id, dispatched_at=utcnow() - UNREACHABLE_WINDOW)
    error = _refused(*HEAT, lambda actor: dispatch.give_back(_load(Assignment, lead_id), actor, "不属于本单位（演示）"))
    assert error.code == "window_closed"
    assert str(error) == "已超过退回时限（派单后2个工作日内），如需更多时间请申请延期"
    assert _get(Assignment, lead_id).status == "pending"
    assert (_get(Case, case_id).status, _get(Case, case_id).deadline) == ("dispatched", deadline)
    assert [e.type for e in _events(case_id)] == ["intake", "dispatched"]
    assert not [t for t in _outbox_titles() if t.startswith("工单被退回")]
    # the window is counted in working days: across National Day and the Spring Festival
    for dispatched_at, end in ((datetime(2026, 9, 30, 17, tzinfo=SH), due(2026, 10, 9)),
                               (datetime(2026, 2, 13, 9, tzinfo=SH), due(2026, 2, 24))):
        _update(Assignment, lead_id, dispatched_at=dispatched_at)
        a = _get(Assignment, lead_id)
        assert _system(lambda: dispatch.return_window_end(a, dispatch.case_of(a))) == end


def test_assist_return_leaves_the_case_dispatched(world):
    case_id = _intake()
    lead_id, assist_id = _dispatch(case_id, ("140105-housing", "lead"), ("140100-heating", "assist"))
    deadline = _get(Case, case_id).deadline
    _act(*HEAT, lambda actor: dispatch.give_back(_load(Assignment, assist_id), actor, "非本单位（演示）"))
    assert _get(Assignment, assist_id).status == "returned" and _get(Assignment, lead_id).status == "pending"
    assert (_get(Case, case_id).status, _get(Case, case_id).deadline) == ("dispatched", deadline)
    assert [e.type for e in _events(case_id)] == ["intake", "dispatched", "returned"]


def test_a_return_window_of_zero_days_is_handled(world):
    _policy(return_window_days=0)
    (lead_id,) = _dispatch(_intake(), ("140100-heating", "lead"))
    actor, ctx = _as(*HEAT)
    with ctx:
        try:
            dispatch.give_back(_load(Assignment, lead_id), actor, "不属于本单位（演示）")
        except dispatch.DispatchError as error:
            assert error.code == "window_closed"
        db.session.rollback()


# ---- extension (延期) ------------------------------------------------------------------------------

def _request(lead_id, days, reason="需协调多个部门（演示）"):
    return lambda actor: dispatch.request_extension(_load(Assignment, lead_id), actor, days, reason)


def _decide(request_id, grant, note=""):
    return lambda actor: dispatch.decide_extension(_load(ExtensionRequest, request_id), actor, grant, note)


def test_granted_extension_moves_the_deadline_from_the_old_one_and_the_case_follows(world):
    case_id = _intake()
    (lead_id,) = _dispatch(case_id, ("140105-housing", "lead"))
    old = calendar.end_of_day(date(2026, 9, 30))
    _update(Assignment, lead_id, deadline=old, reminded_at=utcnow())
    _update(Case, case_id, deadline=old)
    request_id = _act(*XDH, _request(lead_id, 3)).id
    dispatcher = context_of("ty_dispatcher", "140100")
    _act(*DISP, _decide(request_id, True, "同意（演示）"))
    a, case, request = _get(Assignment, lead_id), _get(Case, case_id), _get(ExtensionRequest, request_id)
    assert a.deadline == due(2026, 10, 10) == case.deadline  # 10-08, 10-09, Saturday 10-10
    assert (a.extended_days, a.deadline_label, a.reminded_at) == (3, "5个工作日（延期3个工作日）", None)
    assert (request.status, request.decision_note, request.decided_by_id) == ("granted", "同意（演示）",
                                                                              dispatcher.user.id)
    events = _events(case_id)
    assert [e.type for e in events][-2:] == ["extension_requested", "extension_granted"]
    assert datetime.fromisoformat(events[-1].detail["deadline"]) == a.deadline
    titles = _outbox_titles()
    assert f"延期申请：{case.number}" in titles and f"延期申请已同意：{case.number}" in titles
    error = _refused(*DISP, _decide(request_id, False, "x"))
    assert (error.code, str(error)) == ("invalid_state", "该延期申请已同意，不能重复审批")


def test_extension_of_a_monday_deadline_counts_from_that_monday(world):
    (lead_id,) = _dispatch(_intake(), ("140100-heating", "lead"))
    _update(Assignment, lead_id, deadline=calendar.end_of_day(date(2026, 10, 12)))
    request_id = _act(*HEAT, _request(lead_id, 2)).id
    _act(*DISP, _decide(request_id, True))
    assert _get(Assignment, lead_id).deadline == due(2026, 10, 14)  # Tuesday, Wednesday


def test_refusing_an_extension_needs_a_note_and_keeps_the_deadline(world):
    case_id = _intake()
    (lead_id,) = _dispatch(case_id, ("140100-heating", "lead"))
    deadline = _get(Assignment, lead_id).deadline
    request_id = _act(*HEAT, _request(lead_id, 2)).id
    assert _refused(*DISP, _decide(request_id, False, " ")).errors == {"note": "不同意延期时请填写理由"}
    assert _get(ExtensionRequest, request_id).status == "pending"
    _act(*DISP, _decide(request_id, False, "时限内可以办结（演示）"))
    assert _get(ExtensionRequest, request_id).status == "refused"
    a = _get(Assignment, lead_id)
    assert (a.deadline, a.extended_days, _get(Case, case_id).deadline) == (deadline, 0, deadline)
    assert [e.type for e in _events(case_id)][-1] == "extension_refused"


def test_extension_limits_follow_the_policy(world):
    _policy(max_extension_days=6)
    (lead_id,) = _dispatch(_intake(), ("140100-heating", "lead"))
    message = {"working_days": "延期应为1至6个工作日（累计不超过6个工作日）"}
    for days in (7, 0, True, None):
        assert _refused(*HEAT, _request(lead_id, days)).errors == message
    assert _refused(*HEAT, _request(lead_id, 2, "")).errors == {"reason": "请填写延期理由"}
    first = _act(*HEAT, _request(lead_id, 4)).id
    error = _refused(*HEAT, _request(lead_id, 1))
    assert (error.code, str(error)) == ("conflict", "已有待审批的延期申请")
    _act(*DISP, _decide(first, True))
    assert _refused(*HEAT, _request(lead_id, 3)).errors == {"working_days": "延期应为1至2个工作日（累计不超过6个工作日）"}
    second = _act(*HEAT, _request(lead_id, 2)).id
    _act(*DISP, _decide(second, True))
    assert _refused(*HEAT, _request(lead_id, 1)).errors == {"working_days": "延期已达上限6个工作日"}
    assert _count(ExtensionRequest) == 2 and _get(Assignment, lead_id).extended_days == 6


def test_a_county_unit_is_held_to_the_hubs_extension_limit(world):
    _policy(max_extension_days=3)
    (lead_id,) = _dispatch(_intake(), ("140105-housing", "lead"))
    error = _refused(*XDH, _request(lead_id, 5))
    assert error.errors == {"working_days": "延期应为1至3个工作日（累计不超过3个工作日）"}


# ---- reply and attachments -----------------------------------------------------------------------

PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"This program cannot be run in DOS mode" * 4


def _file(data: bytes, name: str, content_type: str = "application/octet-stream") -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type=content_type)


def _accepted(world) -> tuple[int, int]:
    case_id = _intake()
    (lead_id,) = _dispatch(case_id, ("140100-heating", "lead"))
    _act(*HEAT, lambda actor: dispatch.accept(_load(Assignment, lead_id), actor))
    return case_id, lead_id


def _reply(lead_id, result="已协调物业维修管道（演示）", resolved=True, files=()):
    return lambda actor: dispatch.reply(_load(Assignment, lead_id), actor,
                                        dispatch.ReplyData(result=result, resolved=resolved, files=list(files)))


def test_reply_needs_accept_a_result_and_the_resolved_flag(world):
    case_id = _intake()
    (lead_id,) = _dispatch(case_id, ("140100-heating", "lead"))
    error = _refused(*HEAT, _reply(lead_id))
    assert (error.code, str(error)) == ("invalid_state", "请先签收工单再答复")
    _act(*HEAT, lambda actor: dispatch.accept(_load(Assignment, lead_id), actor))
    assert _refused(*HEAT, _reply(lead_id, result=" ", resolved=None)).errors == {
        "result": "请填写办理结果", "resolved": "请选择诉求是否已解决"}
    assert _refused(*HEAT, _reply(lead_id, result="办" * 4001)).errors == {"result": "办理结果不能超过4000字（现有4001字）"}
    assert _get(Assignment, lead_id).status == "accepted" and _get(Case, case_id).status == "in_progress"
    assert [e.type for e in _events(case_id)] == ["intake", "dispatched", "accepted"]


def test_reply_with_a_real_png_and_pdf_stores_them_on_disk(world):
    case_id, lead_id = _accepted(world)
    png = png_bytes()
    _act(*HEAT, _reply(lead_id, files=[_file(png, "现场照片.png"), _file(PDF, "整改报告.pdf", "image/png")]))
    rows = _system(lambda: list(db.session.scalars(select(Attachment).order_by(Attachment.id))))
    assert [(r.filename, r.content_type, r.size, r.assignment_id, r.tenant_id) for r in rows] == [
        ("现场照片.png", "image/png", len(png), lead_id, world["140100"].id),
        ("整改报告.pdf", "application/pdf", len(PDF), lead_id, world["140100"].id)]
    for row, data in zip(rows, (png, PDF)):
        path = attachments.path_of(row.sha256)
        assert path.read_bytes() == data
        assert Path(current_app.instance_path) in path.parents
    case = _get(Case, case_id)
    assert (case.status, case.answer, case.resolved) == ("replied", "已协调物业维修管道（演示）", True)
    assert _events(case_id)[-1].detail["attachments"] == ["现场照片.png", "整改报告.pdf"]


@pytest.mark.parametrize("files, message", [
    (lambda: [_file(EXE, "photo.png", "image/png")], "附件“photo.png”不是JPEG、PNG、WebP图片或PDF文件"),
    (lambda: [_file(png_bytes(), f"p{i}.png") for i in range(6)], "附件最多5个"),
    (lambda: [_file(png_bytes(), "ok.png"), _file(b"\x89PNG\r\n\x1a\n" + bytes(10 * 1024 * 1024), "big.png")],
     "附件“big.png”超过10MB"),
    (lambda: [_file(b"", "empty.pdf")], "附件“empty.pdf”是空文件"),
], ids=["exe-renamed-png", "too-many", "too-large", "empty"])
def test_bad_attachments_are_refused_and_nothing_is_stored(world, files, message):
    case_id, lead_id = _accepted(world)
    assert _refused(*HEAT, _reply(lead_id, files=files())).errors == {"files": message}
    assert _count(Attachment) == 0
    assert _get(Assignment, lead_id).status == "accepted" and _get(Case, case_id).status == "in_progress"
    assert not attachments.path_of(hashlib.sha256(EXE).hexdigest()).exists()


# ---- follow-up, quick answer, merge, duplicates ----------------------------------------------------

def _replied(world) -> tuple[int, int]:
    case_id, lead_id = _accepted(world)
    _act(*HEAT, _reply(lead_id, resolved=False))
    return case_id, lead_id


def _followup(case_id, **data):
    return lambda actor: cases.followup(_load(Case, case_id), actor, cases.FollowupData(**data))


def test_dissatisfied_followup_reopens_and_the_case_is_dispatched_again(world):
    case_id, lead_id = _replied(world)
    assert _refused(*AGENT, _followup(case_id)).errors == {
        "satisfaction": "请选择满意度（满意、基本满意、不满意）", "solved": "请选择诉求是否解决"}
    assert _refused(*AGENT, _followup(case_id, solved=False, satisfaction="dissatisfied")).errors == {
        "note": "不满意时请填写原因，工单将重办"}
    _act(*AGENT, _followup(case_id, solved=False, satisfaction="dissatisfied", note="暖气仍不热（演示）"))
    case = _get(Case, case_id)
    assert (case.status, case.reopen_count, case.deadline, case.satisfaction) == ("new", 1, None, "dissatisfied")
    assert _events(case_id)[-1].type == "reopened"
    assert f"工单回访不满意，需重办（{case.number}）" in _outbox_titles()
    (again,) = _dispatch(case_id, ("140100-urban", "lead"))
    assert _get(Case, case_id).status == "dispatched" and _get(Assignment, lead_id).status == "replied"
    assert [e.type for e in _events(case_id)][-2:] == ["reopened", "dispatched"]


def test_unreachable_followup_closes_after_the_policys_max_tries(world):
    _policy(followup_max_tries=2)
    case_id, _ = _replied(world)
    _act(*AGENT, _followup(case_id, reached=False, note="无人接听（演示）"))
    assert (_get(Case, case_id).status, _get(Case, case_id).followup_tries) == ("replied", 1)
    _act(*AGENT, _followup(case_id, reached=False))
    case = _get(Case, case_id)
    assert (case.status, case.followup_tries, case.close_reason) == ("closed", 2, "回访2次均未联系上来电人")
    assert case.closed_at is not None
    assert [(e.type, e.detail.get("closed")) for e in _events(case_id)][-2:] == [
        ("followup_unreachable", None), ("followup_unreachable", True)]


def test_quick_answer_closes_at_intake(world):
    case_id = _intake(kind="咨询", text="请问居住证怎么办理（演示）", answer="携带身份证到社区服务中心办理（演示）")
    case = _get(Case, case_id)
    assert (case.status, case.close_reason, case.answer, case.resolved) == (
        "closed", "即问即答", "携带身份证到社区服务中心办理（演示）", True)
    assert [e.type for e in _events(case_id)] == ["intake", "closed"] and _count(Assignment) == 0
    agent, ctx = _as("ty_agent", "140100")
    with ctx, pytest.raises(cases.CaseError) as caught:
        cases.intake(agent.tenant, agent, cases.IntakeData(text="暖气不热（演示）", kind="投诉", answer="已答复"))
    assert caught.value.errors == {"answer": "只有咨询类诉求可以即问即答"}


def test_merge_adds_an_event_and_is_refused_on_a_closed_case(world):
    case_id = _intake(place_tenant="140105")
    assert _get(Case, case_id).place_tenant_id == world["140105"].id
    merge = lambda text: lambda actor: cases.merge(_load(Case, case_id), actor, cases.IntakeData(  # noqa: E731
        text=text, caller_phone="138-0000-5678"))
    assert _refused(*AGENT, merge(" ")).errors == {"text": "请填写本次来电内容"}
    _act(*AGENT, merge("又来电催问暖气（演示）"))
    assert _get(Case, case_id).merged_count == 1
    assert _events(case_id)[-1].type == "merged"
    assert _events(case_id)[-1].detail == {"channel": "phone", "text": "又来电催问暖气（演示）", "same_caller": True}
    closed_id = _intake(kind="咨询", text="公积金怎么提取（演示）", answer="可在网上办理（演示）")
    error = _refused(*AGENT, lambda actor: cases.merge(_load(Case, closed_id), actor,
                                                       cases.IntakeData(text="再问一次（演示）")))
    assert str(error) == "该工单已办结，不能并入；如诉求未解决请新建工单"
    assert _get(Case, closed_id).merged_count == 0 and [e.type for e in _events(closed_id)] == ["intake", "closed"]


def test_likely_duplicates_by_phone_and_text_and_earlier_cases(world):
    first = _intake(text="亲贤北街小区暖气不热，室温只有十二度（演示）")
    second = _intake(text="请问公积金如何提取（演示）", kind="咨询")
    similar = _intake(text="亲贤北街小区的暖气不热，家里室温只有十二度左右（演示）", caller_phone="13900001111")
    _intake(text="马路上井盖丢失，存在安全隐患（演示）", caller_phone="13700002222")
    with as_tenant(context_of("ty_agent", "140100").context):
        by_phone = queries.likely_duplicates("路灯不亮（演示）", "138-0000-5678", window_days=30)
        assert [(c.id, why) for c, _, why in by_phone] == [(second, "同一来电号码"), (first, "同一来电号码")]
        assert all(score >= 1.0 for _, score, _ in by_phone)  # the same caller ranks above any text match
        by_text = queries.likely_duplicates("亲贤北街小区暖气不热，室温只有十二度（演示）", "13500009999", window_days=30)
        assert [(c.id, round(score, 2), why) for c, score, why in by_text] == [
            (first, 1.0, "内容相似度100%"), (similar, 0.73, "内容相似度73%")]
        assert [c.id for c in queries.earlier_cases("13800005678")] == [second, first]
        assert [c.id for c in queries.earlier_cases("13800005678", exclude_id=second)] == [first]
        assert queries.earlier_cases("") == []
    with as_tenant(context_of("xd_agent", "140105").context):  # the county cannot see the hub's cases
        assert queries.likely_duplicates("亲贤北街小区暖气不热，室温只有十二度（演示）", "13800005678", window_days=30) == []
        assert queries.earlier_cases("13800005678") == []


# ---- refused input leaves nothing behind -----------------------------------------------------------

@pytest.mark.parametrize("user, code, fields, errors", [
    ("ty_agent", "140100", {"text": "  "}, {"text": "请填写诉求内容"}),
    ("ty_agent", "140100", {"text": "字" * 4001}, {"text": "诉求内容不能超过4000字（现有4001字）"}),
    ("ty_agent", "140100", {"kind": "报警"}, {"kind": "请选择诉求类型（咨询、求助、投诉、举报、意见建议）"}),
    ("ty_110", "140100", {"kind": "投诉"}, {"kind": "请选择诉求类型（报警、紧急求助、警务投诉）"}),
    ("ty_agent", "140100", {"received_by": "110"},
     {"received_by": "本岗位只能受理12345诉求", "kind": "请选择诉求类型（报警、紧急求助、警务投诉）"}),
    ("ty_agent", "140100", {"caller_phone": "1380000567"}, {"caller_phone": "联系电话应为11位手机号或带区号的固定电话"}),
    ("ty_agent", "140100", {"place_tenant": "350526"}, {"place_tenant": "发生地应为太原市或其服务的区县"}),
    ("ty_agent", "140100", {"place_tenant": "140000"}, {"place_tenant": "发生地应为太原市或其服务的区县"}),
    ("xd_agent", "140105", {"place_tenant": "140106"}, {"place_tenant": "发生地应为小店区或其服务的区县"}),
])
def test_bad_intake_is_refused_with_field_messages_and_nothing_written(world, user, code, fields, errors):
    with pytest.raises(cases.CaseError) as caught:
        _intake(user, code, **fields)
    assert caught.value.errors == errors
    assert (_count(Case), _count(CaseEvent), _count(CaseCounter)) == (0, 0, 0)


@pytest.mark.parametrize("units, kw, errors", [
    ([("350526-housing", "lead")], {}, {"units": "承办单位 350526-housing 不存在、已停用或不属于本地及所辖区县"}),
    ([("140100-nope", "lead")], {}, {"units": "承办单位 140100-nope 不存在、已停用或不属于本地及所辖区县"}),
    ([("140100-heating", "lead"), ("500000-urban", "assist")], {},
     {"units": "承办单位 500000-urban 不存在、已停用或不属于本地及所辖区县"}),
    ([("140100-heating", "assist")], {}, {"units": "每件工单须有且只有一个主办单位"}),
    ([("140100-heating", "lead")], {"working_days": 16}, {"working_days": "办理时限应为1至15个工作日"}),
])
def test_bad_dispatch_is_refused_and_nothing_written(world, units, kw, errors):
    case_id = _intake()
    with pytest.raises(dispatch.DispatchError) as caught:
        _dispatch(case_id, *units, **kw)
    assert caught.value.errors == errors
    assert (_count(Assignment), _count(OutboxMessage)) == (0, 0)
    assert (_get(Case, case_id).status, _get(Case, case_id).deadline) == ("new", None)
    assert [e.type for e in _events(case_id)] == ["intake"]


def test_a_county_dispatcher_cannot_dispatch_the_hubs_case(world):
    case_id = _intake()
    actor = context_of("xd_dispatcher", "140105")
    with as_tenant(actor.context):
        assert _load(Case, case_id) is None  # not even readable
    case = _get(Case, case_id)
    with as_tenant(actor.context):
        with pytest.raises(cases.CaseError) as caught:
            dispatch.dispatch(case, actor, dispatch.DispatchData(units=[dispatch.UnitChoice("140105-housing")]))
        db.session.rollback()
    assert (caught.value.code, str(caught.value)) == ("read_only", "该工单属于其他地区，只能查看")
    assert _count(Assignment) == 0 and _get(Case, case_id).status == "new"
    # its own county's case it does dispatch
    own = _intake("xd_agent", "140105")
    (made,) = _dispatch(own, ("140105-housing", "lead"), user="xd_dispatcher", code="140105")
    assert _get(Assignment, made).tenant_id == world["140105"].id and _get(Case, own).status == "dispatched"
