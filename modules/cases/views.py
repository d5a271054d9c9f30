"""Case pages: work lists, intake (with earlier cases and likely duplicates as the agent types),
the case page with its timeline, and the actions on it. Views load, check, call a service, render."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from saas.extensions import db
from saas.permissions import require, role as role_of
from saas.templating import render_page
from modules.cases import fragments, queries, service
from modules.cases.fragments import case_step
from modules.cases.models import CHANNELS, STATUSES, Case
from modules.deadlines.service import URGENCIES, policy_for
from modules.dispatch import service as dispatch
from modules.dispatch.models import ExtensionRequest
from modules.transfers import service as transfers
from tenants.models import Tenant
from tenants.service import served_query

bp = Blueprint("cases", __name__, url_prefix="/cases", template_folder="templates")
PER_PAGE = 30


def _load(case_id: int) -> Case:
    return db.first_or_404(select(Case).where(Case.id == case_id))


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _filters(source) -> queries.Filters:
    view = source.get("view") or "todispatch"
    return queries.Filters(
        view=view if view in queries.VIEWS else "todispatch", status=source.get("status", ""),
        kind=source.get("kind", ""), unit=source.get("unit", "").strip(), q=source.get("q", "").strip()[:100],
        platform=role_of(g.actor.role).platform or source.get("platform", ""),
        date_from=_date(source.get("date_from")), date_to=_date(source.get("date_to")),
        overdue=source.get("overdue") == "1")


@bp.route("/", methods=["GET", "POST"])
@require("cases.view")
def index():
    """Work lists. Text search is posted (a search may hold a name or a phone: never in a URL)."""
    source = request.form if request.method == "POST" else request.args
    f = _filters(source)
    page = db.paginate(queries.listing(f), page=source.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)
    leads = queries.lead_units([c.id for c in page.items])
    counts = queries.view_counts(f.platform)
    return render_page("cases/index.html", block="list", page=page, f=f, leads=leads, counts=counts,
                       views=queries.VIEWS, statuses=STATUSES, kinds=_kinds())


def _kinds() -> list[str]:
    platform = role_of(g.actor.role).platform
    return list(service.KINDS[platform]) if platform else [k for p in ("12345", "110") for k in service.KINDS[p]]


def _intake_data(form) -> service.IntakeData:
    return service.IntakeData(
        text=form.get("text", ""), channel=form.get("channel", "phone"), caller_name=form.get("caller_name", ""),
        caller_phone=form.get("caller_phone", "").strip(), address=form.get("address", ""),
        kind=form.get("kind", ""), urgency=form.get("urgency", "normal"), emergency=form.get("emergency") == "1",
        received_by=form.get("received_by") or None, place_tenant=form.get("place_tenant") or None,
        answer=form.get("answer", "").strip(), transfer_to=form.get("transfer_to") or None)


def _places() -> list[tuple[str, str]]:
    tenant = g.actor.tenant
    rows = db.session.scalars(served_query(tenant).order_by(Tenant.path)) if tenant.is_hub else [tenant]
    return [(t.code, t.name) for t in rows]


@bp.route("/new", methods=["GET", "POST"])
@require("cases.intake")
def new():
    errors, data = {}, service.IntakeData()
    if request.method == "POST":
        data = _intake_data(request.form)
        try:
            case, sent = transfers.intake_and_send_on(g.actor.tenant, g.actor, data)
        except service.CaseError as exc:  # the request's transaction rolls back (422)
            errors = exc.errors
        else:
            flash(f"已受理，工单号 {case.number}" + ("，已即问即答办结" if case.status == "closed" else "")
                  + (f"，已转{sent.to_platform}" if sent else ""), "success")
            return redirect(url_for("cases.show", case_id=case.id))
    return render_template("cases/new.html", data=data, errors=errors, kinds=_kinds(), channels=CHANNELS,
                           urgencies=URGENCIES, places=_places(), platform=service.platform_of(g.actor, None)), \
        (422 if errors else 200)


@bp.post("/assist")
@require("cases.intake")
def assist():
    """While the agent types: the caller's earlier cases and likely duplicates (posted, never in a URL)."""
    text, phone = request.form.get("text", ""), request.form.get("caller_phone", "").strip()
    window = policy_for(g.actor.tenant).duplicate_window_days
    duplicates = queries.likely_duplicates(text, phone, window_days=window)
    earlier = queries.earlier_cases(phone)
    return render_template("cases/_assist.html", duplicates=duplicates, earlier=earlier, window=window,
                           searched=bool(text.strip() or phone))


@bp.post("/<int:case_id>/merge")
@require("cases.intake")
def merge(case_id: int):
    case = _load(case_id)
    data = _intake_data(request.form)
    try:
        service.merge(case, g.actor, data)
    except service.CaseError as exc:
        flash("未能并入：" + str(exc), "error")
        return render_template("cases/new.html", data=data, errors=exc.errors, kinds=_kinds(), channels=CHANNELS,
                               urgencies=URGENCIES, places=_places(), platform=service.platform_of(g.actor, None)), 422
    flash(f"本次来电已并入工单 {case.number}", "success")
    return redirect(url_for("cases.show", case_id=case.id))


def show_page(case: Case, *, errors=None, form=None, status: int = 200):
    return fragments.case_page(case, g.actor, errors=errors, form=form, status=status)


@bp.get("/<int:case_id>")
@require("cases.view")
def show(case_id: int):
    """A case in scope, or one this desk handed over and follows (read-only), else 404."""
    case = transfers.readable_case(case_id)
    if case is None:
        abort(404)
    return show_page(case)


@bp.post("/<int:case_id>/dispatch")
@require("cases.dispatch")
def dispatch_case(case_id: int):
    form = request.form
    choices = [dispatch.UnitChoice(form.get("lead", ""), "lead")] if form.get("lead") else []
    choices += [dispatch.UnitChoice(code, "assist") for code in form.getlist("assist") if code]
    days = form.get("working_days", "").strip()
    if days and not days.isdigit():
        days = "0"  # refused by the service with its message
    data = dispatch.DispatchData(units=choices, working_days=int(days) if days else None,
                                 complex_case=form.get("complex") == "1", instruction=form.get("instruction", ""))
    return case_step(case_id, lambda c: dispatch.dispatch(c, g.actor, data), "已派单")


@bp.post("/<int:case_id>/close")
@require("cases.close")
def close(case_id: int):
    return case_step(case_id, lambda c: service.close(c, g.actor, request.form.get("reason", "")), "工单已办结")


@bp.post("/<int:case_id>/followup")
@require("cases.followup")
def followup(case_id: int):
    form = request.form
    solved = {"1": True, "0": False}.get(form.get("solved", ""))
    data = service.FollowupData(reached=form.get("reached", "1") == "1", solved=solved,
                                satisfaction=form.get("satisfaction", ""), note=form.get("note", ""))
    return case_step(case_id, lambda c: service.followup(c, g.actor, data), "回访已记录")


@bp.post("/<int:case_id>/supervise")
@require("cases.supervise")
def supervise(case_id: int):
    return case_step(case_id, lambda c: service.supervise(c, g.actor, request.form.get("instruction", "")), "已督办")


@bp.post("/<int:case_id>/reveal")
@require("cases.reveal")
def reveal(case_id: int):
    case = transfers.readable_case(case_id)
    if case is None or not transfers.may_reveal(g.actor, case):  # a desk following a case stays masked
        abort(404)
    return fragments.contact(case, g.actor, request.form.get("reason", ""), url_for("cases.reveal", case_id=case_id))


@bp.post("/extensions/<int:request_id>")
@require("cases.dispatch")
def decide_extension(request_id: int):
    req = db.first_or_404(select(ExtensionRequest).where(ExtensionRequest.id == request_id))
    grant = request.form.get("grant") == "1"
    case_id = req.case_id

    def act(case):
        if req.case_id != case.id:
            abort(404)
        dispatch.decide_extension(req, g.actor, grant, request.form.get("note", ""))

    return case_step(case_id, act, "已同意延期" if grant else "已退回延期申请")

