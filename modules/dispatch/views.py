"""Member units' pages (承办): the inbox with deadline countdowns, and one assignment with its
actions (accept, return, extension, reply with attachments). Light pages for phones and slow PCs."""
from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request, send_file, url_for
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from saas.db import utcnow
from saas.extensions import db
from saas.permissions import has, require
from modules.cases import fragments, queries, service as cases
from modules.deadlines.service import policy_for
from modules.dispatch import attachments, service
from modules.dispatch.models import Assignment, Attachment
from modules.transfers import desk, service as transfers

bp = Blueprint("inbox", __name__, url_prefix="/inbox", template_folder="templates")
TABS = {"pending": ("待签收", ("pending",)), "accepted": ("办理中", ("accepted",)),
        "done": ("已办结", ("replied", "returned", "superseded"))}


def _mine(assignment_id: int) -> Assignment:
    """An assignment of the acting handler's unit, else 404 (another unit's work does not exist here)."""
    return db.first_or_404(select(Assignment).where(Assignment.id == assignment_id,
                                                    Assignment.unit_id == g.actor.unit_id))


@bp.get("/")
@require("assignments.handle")
def index():
    tab = request.args.get("tab", "pending")
    tab = tab if tab in TABS else "pending"
    mine = select(Assignment).where(Assignment.unit_id == g.actor.unit_id)
    order = (Assignment.deadline,) if tab != "done" else (Assignment.dispatched_at.desc(),)
    page = db.paginate(mine.where(Assignment.status.in_(TABS[tab][1])).order_by(*order, Assignment.id),
                       per_page=30, error_out=False)
    counts = dict(db.session.execute(
        select(Assignment.status, func.count()).where(Assignment.unit_id == g.actor.unit_id)
        .group_by(Assignment.status)).all())
    overdue = db.session.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.unit_id == g.actor.unit_id, Assignment.status.in_(("pending", "accepted")),
        Assignment.deadline < utcnow()))
    numbers = service.cases_by_id(a.case_id for a in page.items)
    return render_template("dispatch/inbox.html", page=page, tab=tab, tabs=TABS, cases=numbers, overdue=overdue,
                           counts={k: sum(counts.get(s, 0) for s in v[1]) for k, v in TABS.items()})


def page_for(assignment: Assignment, *, errors=None, form=None, status: int = 200):
    case = service.case_of(assignment)
    siblings = service.assignments_of(case)
    policy = policy_for(case.tenant)
    extensions = [x for x in service.pending_extensions(case) if x.assignment_id == assignment.id]
    linkage = transfers.transfers_of(case)  # readable for the same reason as the case: the assignment
    return render_template(
        "dispatch/assignment.html", a=assignment, case=case, siblings=siblings,
        events=queries.timeline(case), errors=errors or {}, form=form or MultiDict(), policy=policy,
        extensions=extensions, files=service.attachments_of(case),
        return_until=service.return_window_end(assignment, case),
        extension_left=policy.max_extension_days - assignment.extended_days,
        police=[t for t in linkage if t.purpose == "police"], linked=cases.linked_case(case),
        may_ask_police=desk.police_refusal(assignment, g.actor, case) is None), status


@bp.get("/<int:assignment_id>")
@require("assignments.handle")
def show(assignment_id: int):
    return page_for(_mine(assignment_id))


def _act(assignment_id: int, action, success: str):
    return fragments.act(_mine(assignment_id), action, success, page=page_for,
                         target=url_for("inbox.show", assignment_id=assignment_id))


@bp.post("/<int:assignment_id>/accept")
@require("assignments.handle")
def accept(assignment_id: int):
    return _act(assignment_id, lambda a: service.accept(a, g.actor), "已签收")


@bp.post("/<int:assignment_id>/return")
@require("assignments.handle")
def give_back(assignment_id: int):
    return _act(assignment_id, lambda a: service.give_back(a, g.actor, request.form.get("reason", "")),
                "已退回派单员")


@bp.post("/<int:assignment_id>/extension")
@require("assignments.handle")
def extension(assignment_id: int):
    raw = request.form.get("working_days", "").strip()
    days = int(raw) if raw.isdigit() else None
    return _act(assignment_id, lambda a: service.request_extension(a, g.actor, days, request.form.get("reason", "")),
                "延期申请已提交，等待派单员审批")


@bp.post("/<int:assignment_id>/reply")
@require("assignments.handle")
def reply(assignment_id: int):
    resolved = {"1": True, "0": False}.get(request.form.get("resolved", ""))
    data = service.ReplyData(result=request.form.get("result", ""), resolved=resolved,
                             files=request.files.getlist("files"))
    return _act(assignment_id, lambda a: service.reply(a, g.actor, data), "已答复")


@bp.post("/<int:assignment_id>/police")
@require("transfers.police")
def request_police(assignment_id: int):
    """联动110: the unit finds the dispute escalating and asks the police to come."""
    return _act(assignment_id, lambda a: desk.request_police(a, g.actor, request.form.get("police_reason", "")),
                "已请求110出警，110接警后将生成关联警单")


@bp.post("/<int:assignment_id>/reveal")
@require("assignments.handle")
def reveal(assignment_id: int):
    assignment = _mine(assignment_id)
    return fragments.contact(service.case_of(assignment), g.actor, request.form.get("reason", ""),
                             url_for("inbox.reveal", assignment_id=assignment.id))


@bp.get("/attachments/<int:attachment_id>")
def attachment(attachment_id: int):
    """Readers of the case (in scope, or following it through a transfer), and handlers of a unit
    assigned to the same case, may download; anyone else gets 404."""
    role = g.actor.role
    if not (has(role, "cases.view") or has(role, "assignments.handle")):
        abort(404)
    # Found across tenants (the reply's unit may sit in a county), then shown only to those entitled.
    row = db.first_or_404(select(Attachment).where(Attachment.id == attachment_id).execution_options(all_tenants=True))
    if has(role, "cases.view"):
        entitled = transfers.readable_case(row.case_id) is not None
    else:
        entitled = db.session.scalar(select(Assignment.id).where(
            Assignment.case_id == row.case_id, Assignment.unit_id == g.actor.unit_id)) is not None
    if not entitled:
        abort(404)
    path = attachments.path_of(row.sha256)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype=row.content_type, download_name=row.filename,
                     as_attachment=row.content_type == "application/pdf", max_age=0)
