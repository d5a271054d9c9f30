"""The member units' inbox pages: only one's own unit's work, a county unit handling a hub case end
to end with a real upload, returning within the window, and an extension granted on the case page."""
from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

from sqlalchemy import select, update

from saas.db import as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from modules.cases import service as cases
from modules.cases.models import Case
from modules.deadlines import calendar
from modules.dispatch import attachments
from modules.dispatch.models import Assignment, Attachment, ExtensionRequest
from tests import factories
from tests.conftest import text_of
from tests.factories import context_of, png_bytes


_read, _count = factories.snapshot, factories.count_rows


def _row(*columns, where=()):
    return _read(lambda: tuple(db.session.execute(select(*columns).where(*where)
                                                  .execution_options(all_tenants=True)).one()))


def _intake(world, text) -> int:
    actor = context_of("ty_agent", "140100")
    with as_tenant(actor.context), transaction():
        return cases.intake(world["140100"], actor, cases.IntakeData(
            text=text, kind="投诉", caller_name="王女士（演示）", caller_phone="13800005678")).id


def _dispatch(login, case_id, lead) -> int:
    r = login("ty_dispatcher").post(f"/t/140100/cases/{case_id}/dispatch", {"lead": lead, "instruction": "请核实处理"})
    assert r.status_code == 302, text_of(r)[:500]
    return _row(Assignment.id, where=(Assignment.case_id == case_id,))[0]


def _inbox_ids(response) -> set[int]:
    return {int(i) for i in re.findall(r'/inbox/(\d+)"', response.get_data(as_text=True))}


def test_a_handler_sees_only_its_own_units_work(world, login):
    heating_work = _dispatch(login, _intake(world, "MARK-H 暖气不热"), "140100-heating")
    urban_work = _dispatch(login, _intake(world, "MARK-U 占道经营"), "140100-urban")
    heating, urban = login("ty_heating"), login("ty_urban")
    page = heating.get("/t/140100/inbox/")
    assert _inbox_ids(page) == {heating_work} and "MARK-H" in text_of(page) and "MARK-U" not in text_of(page)
    page = urban.get("/t/140100/inbox/")
    assert _inbox_ids(page) == {urban_work} and "MARK-H" not in text_of(page)
    assert urban.get(f"/t/140100/inbox/{heating_work}").status_code == 404
    for action, form in (("accept", {}), ("return", {"reason": "不归我们"}), ("reply", {"result": "x", "resolved": "1"}),
                         ("extension", {"working_days": "2", "reason": "x"}), ("reveal", {"reason": "回访"})):
        assert urban.post(f"/t/140100/inbox/{heating_work}/{action}", form).status_code == 404, action
    assert _row(Assignment.status, where=(Assignment.id == heating_work,)) == ("pending",)
    assert login("xd_housing").get(f"/t/140105/inbox/{heating_work}").status_code == 404
    assert login("ty_agent").get("/t/140100/inbox/").status_code == 403  # not a unit's page


def test_county_unit_handles_a_hub_case_with_an_upload(world, login):
    case_id = _intake(world, "MARK-XD 楼顶漏水（演示）")
    assignment_id = _dispatch(login, case_id, "140105-housing")
    handler = login("xd_housing")
    inbox = handler.get("/t/140105/inbox/")
    assert _inbox_ids(inbox) == {assignment_id} and "MARK-XD" in text_of(inbox)
    page = handler.get(f"/t/140105/inbox/{assignment_id}")
    assert page.status_code == 200 and "请核实处理" in text_of(page) and "138****5678" in text_of(page)
    assert handler.post(f"/t/140105/inbox/{assignment_id}/accept").status_code == 302
    assert _row(Case.status, where=(Case.id == case_id,)) == ("in_progress",)

    junk = b"MZ not an image " + str(case_id).encode() + b" inbox-test"
    url = f"/t/140105/inbox/{assignment_id}/reply"
    r = handler.post(url, {"result": "已维修楼顶防水（演示）", "resolved": "1", "files": (io.BytesIO(junk), "photo.png")})
    assert r.status_code == 422 and "附件“photo.png”不是JPEG、PNG、WebP图片或PDF文件" in text_of(r)
    assert "已维修楼顶防水（演示）</textarea>" in r.get_data(as_text=True)  # the typed result is kept
    assert _count(Attachment) == 0 and not attachments.path_of(hashlib.sha256(junk).hexdigest()).exists()
    assert _row(Assignment.status, where=(Assignment.id == assignment_id,)) == ("accepted",)
    assert _row(Case.status, where=(Case.id == case_id,)) == ("in_progress",)

    png = png_bytes()
    r = handler.post(url, {"result": "已维修楼顶防水（演示）", "resolved": "1", "files": (io.BytesIO(png), "photo.png")})
    assert r.status_code == 302, text_of(r)[:500]
    attachment_id, name, kind, size, tenant_id = _row(Attachment.id, Attachment.filename, Attachment.content_type,
                                                      Attachment.size, Attachment.tenant_id)
    assert (name, kind, size, tenant_id) == ("photo.png", "image/png", len(png), _read(lambda: world["140105"].id))
    assert _row(Case.status, Case.answer, where=(Case.id == case_id,)) == ("replied", "已维修楼顶防水（演示）")

    agent = login("ty_agent")
    assert "photo.png" in text_of(agent.get(f"/t/140100/cases/{case_id}"))
    download = agent.get(f"/t/140100/inbox/attachments/{attachment_id}")
    assert download.status_code == 200 and download.mimetype == "image/png" and download.data == png
    assert handler.get(f"/t/140105/inbox/attachments/{attachment_id}").data == png
    assert login("ty_heating").get(f"/t/140100/inbox/attachments/{attachment_id}").status_code == 404
    assert login("dh_admin").get(f"/t/350526/inbox/attachments/{attachment_id}").status_code == 404
    assert login("yz_admin").get(f"/t/140106/inbox/attachments/{attachment_id}").status_code == 404  # sibling county
    page = text_of(agent.get(f"/t/140100/cases/{case_id}"))
    assert "xd_housing（演示） · 小店区" in page and "待回访" in page


def test_return_within_the_window_sends_the_case_back(world, login):
    case_id = _intake(world, "MARK-R 非本单位职责")
    assignment_id = _dispatch(login, case_id, "140100-heating")
    handler = login("ty_heating")
    r = handler.post(f"/t/140100/inbox/{assignment_id}/return", {"reason": "  "})
    assert r.status_code == 422 and "请填写退回理由" in text_of(r)
    assert _row(Assignment.status, where=(Assignment.id == assignment_id,)) == ("pending",)
    r = handler.post(f"/t/140100/inbox/{assignment_id}/return", {"reason": "属于城管职责（演示）"})
    assert r.status_code == 302
    assert _row(Assignment.status, Assignment.return_reason) == ("returned", "属于城管职责（演示）")
    assert _row(Case.status, Case.deadline, where=(Case.id == case_id,)) == ("new", None)
    page = text_of(login("ty_dispatcher").get(f"/t/140100/cases/{case_id}"))
    assert "待派单" in page and "退回" in page and "属于城管职责（演示）" in page and "派单意见" in page


def test_return_after_the_window_is_refused(world, login):
    case_id = _intake(world, "MARK-L 超过退回时限")
    assignment_id = _dispatch(login, case_id, "140100-heating")
    with as_tenant(system_context()), transaction():
        db.session.execute(update(Assignment).where(Assignment.id == assignment_id)
                           .values(dispatched_at=utcnow() - timedelta(days=20)))
    r = login("ty_heating").post(f"/t/140100/inbox/{assignment_id}/return", {"reason": "不归我们"})
    assert r.status_code == 422 and "已超过退回时限" in text_of(r) and "申请延期" in text_of(r)
    assert _row(Assignment.status, where=(Assignment.id == assignment_id,)) == ("pending",)
    assert _row(Case.status, where=(Case.id == case_id,)) == ("dispatched",)


def test_extension_granted_on_the_case_page_moves_the_deadline(world, login):
    case_id = _intake(world, "MARK-E 需协调多个部门")
    assignment_id = _dispatch(login, case_id, "140100-heating")
    handler = login("ty_heating")
    assert handler.post(f"/t/140100/inbox/{assignment_id}/accept").status_code == 302
    url = f"/t/140100/inbox/{assignment_id}/extension"
    r = handler.post(url, {"working_days": "abc", "reason": "需协调供热公司"})
    assert r.status_code == 422 and "延期应为1至10个工作日" in text_of(r)
    r = handler.post(url, {"working_days": "3", "reason": ""})
    assert r.status_code == 422 and "请填写延期理由" in text_of(r) and _count(ExtensionRequest) == 0
    assert handler.post(url, {"working_days": "3", "reason": "需协调供热公司（演示）"}).status_code == 302
    request_id, = _row(ExtensionRequest.id)
    before, = _row(Assignment.deadline, where=(Assignment.id == assignment_id,))

    dispatcher = login("ty_dispatcher")
    page = text_of(dispatcher.get(f"/t/140100/cases/{case_id}"))
    assert "申请延期 3 个工作日" in page and "需协调供热公司（演示）" in page and "同意延期" in page
    r = dispatcher.post(f"/t/140100/cases/extensions/{request_id}", {"grant": "0", "note": ""})
    assert r.status_code == 422 and "不同意延期时请填写理由" in text_of(r)
    assert login("ty_agent").post(f"/t/140100/cases/extensions/{request_id}", {"grant": "1"}).status_code == 403
    assert _row(ExtensionRequest.status) == ("pending",)
    r = dispatcher.post(f"/t/140100/cases/extensions/{request_id}", {"grant": "1"})
    assert r.status_code == 302
    deadline, extended, label = _row(Assignment.deadline, Assignment.extended_days, Assignment.deadline_label,
                                     where=(Assignment.id == assignment_id,))
    assert deadline == _read(lambda: calendar.extend(before, 3)) and deadline > before
    assert extended == 3 and label.endswith("（延期3个工作日）")
    assert _row(Case.deadline, where=(Case.id == case_id,)) == (deadline,)
    assert _row(ExtensionRequest.status) == ("granted",)
    assert dispatcher.post(f"/t/140100/cases/extensions/{request_id}", {"grant": "1"}).status_code == 422
    page = text_of(handler.get(f"/t/140100/inbox/{assignment_id}"))
    assert "还可延期 7 个工作日" in page and "同意延期" in page
