"""Transfer pages: the queue of transfers waiting for this desk, one transfer (accept, reject,
negotiate), sending from a case, closing by guidance or police feedback, the dedicated seat's
take-over, and the printable 110 联动单. Views load, check, call a service, render."""
from __future__ import annotations

import base64
import hashlib

from flask import Blueprint, abort, g, make_response, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from saas import audit
from saas.extensions import db
from saas.permissions import require, role as role_of
from saas.security import CSP
from saas.templating import render_page
from modules.cases import fragments
from modules.cases.fragments import case_step
from modules.cases.models import Case
from modules.transfers import desk, negotiation, service
from modules.transfers.models import SENDABLE, Transfer, TransferHop
from tenants.models import PLATFORMS

bp = Blueprint("transfers", __name__, url_prefix="/transfers", template_folder="templates")
TABS = {"waiting": "待接收", "sent": "已发出", "negotiating": "协商中"}
SENT_SHOWN = 100


# ---- reading -------------------------------------------------------------------------------------

def _cases_of(rows: list[Transfer]) -> dict[int, Case]:
    """The cases behind transfers this context took part in (one query). Each id comes from a
    transfer read through the actor's own hop, which is what entitles the desk to see the case."""
    ids = {t.case_id for t in rows}
    if not ids:
        return {}
    return {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(ids))
                                                .execution_options(all_tenants=True))}


def _mine(platform: str | None):
    """Ids of transfers with a hop at the actor's tenant (and platform)."""
    hops = select(TransferHop.transfer_id).where(TransferHop.tenant_id == g.actor.tenant.id)
    return hops.where(TransferHop.platform == platform) if platform else hops


def _waiting() -> list[Transfer]:
    rows = service.waiting_for(g.actor)
    return sorted(rows, key=lambda t: (not fragments.urgent(t), t.hops[t.current_seq].arrived_at or t.created_at))


def _sent() -> list[Transfer]:
    platform = role_of(g.actor.role).platform
    stmt = select(Transfer).where(Transfer.tenant_id == g.actor.tenant.id)
    if platform:
        stmt = stmt.where(Transfer.from_platform == platform)
    # the sender's own rows; read with every hop, wherever the route went
    return list(db.session.scalars(stmt.order_by(Transfer.created_at.desc(), Transfer.id.desc())
                                   .limit(SENT_SHOWN).execution_options(all_tenants=True)))


def _negotiating() -> list[Transfer]:
    platform = role_of(g.actor.role).platform
    rows = db.session.scalars(select(Transfer).where(Transfer.status == "negotiating",
                                                     Transfer.id.in_(_mine(platform)))
                              .order_by(Transfer.negotiation_deadline).execution_options(all_tenants=True))
    ends = lambda t: {(h.tenant_id, h.platform) for h in (t.origin, t.target)}  # noqa: E731
    return [t for t in rows if any(tenant == g.actor.tenant.id and (platform is None or p == platform)
                                   for tenant, p in ends(t))]


@bp.get("/")
@require("cases.view")
def index():
    """The desk's queue: waiting transfers (urgent first, polled), sent ones, negotiations."""
    tab = request.args.get("tab", "waiting")
    tab = tab if tab in TABS else "waiting"
    waiting = _waiting()
    rows = waiting if tab == "waiting" else _sent() if tab == "sent" else _negotiating()
    return render_page("transfers/index.html", block="queue", tab=tab, tabs=TABS, rows=rows, cases=_cases_of(rows),
                       waiting_count=len(waiting), urgent_count=sum(1 for t in waiting if fragments.urgent(t)),
                       age=fragments.age, is_urgent=fragments.urgent, platforms=PLATFORMS)


def _load(transfer_id: int) -> Transfer:
    """A transfer the context took part in (or oversees), else 404."""
    transfer = service.readable_transfer(transfer_id)
    if transfer is None:
        abort(404)
    return transfer


def transfer_page(transfer: Transfer, *, errors=None, form=None, status: int = 200):
    case = service.case_of(transfer)
    row = fragments.transfer_rows(g.actor, case, service.transfers_of(case))
    return render_template("transfers/show.html", transfer=transfer, row=next(r for r in row if r.t.id == transfer.id),
                           case=case, errors=errors or {}, form=form or MultiDict(), takers=negotiation.TAKERS,
                           back="transfer", age=fragments.age), status


@bp.get("/<int:transfer_id>")
@require("cases.view")
def show(transfer_id: int):
    return transfer_page(_load(transfer_id))


@bp.get("/<int:transfer_id>/print")
@require("cases.view")
def print_form(transfer_id: int):
    """The printable 110 联动单. It is handed to officers, so a desk that may reveal callers prints
    the full contact, and that is audited like any reveal."""
    transfer = _load(transfer_id)
    case = service.case_of(transfer)
    full = service.may_reveal(g.actor, case) and bool(case.caller_name or case.caller_phone)
    if full:
        audit.record(g.actor, "case.print_contact", case, tenant_id=g.actor.tenant.id,
                     detail={"number": case.number, "transfer": transfer.id})
    css = render_template("transfers/_print.css")
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    response = make_response(render_template("transfers/print.html", transfer=transfer, case=case, full=full, css=css))
    # the print layout is one inline style, allowed by its hash for this response only
    response.headers["Content-Security-Policy"] = CSP.replace("style-src 'self'", f"style-src 'self' 'sha256-{digest}'")
    return response


# ---- acting on a transfer ------------------------------------------------------------------------

def _act(transfer_id: int, action, success):
    """Run one step on a transfer; come back to the page it was posted from (the case page by default)."""
    transfer = _load(transfer_id)
    if request.form.get("back") == "transfer":
        page, target = transfer_page, url_for("transfers.show", transfer_id=transfer.id)
    else:
        page = lambda t, **kw: fragments.case_page(service.case_of(t), g.actor, **kw)  # noqa: E731
        target = url_for("cases.show", case_id=transfer.case_id)
    return fragments.act(transfer, action, success, page=page, target=target)


def _accepted(t: Transfer) -> str:
    if t.status == "pending":
        return f"已接收并转送{service.stop_name(t.current)}"
    return "已接收，关联工单已生成" if t.linked else "已接收，工单转入本平台待派单"


def _proposed(t: Transfer) -> str:
    if t.settlement:
        return f"双方协商一致：{negotiation.TAKERS.get(t.proposal, '')}"
    return "协商意见已提交，等待对方确认"


@bp.post("/<int:transfer_id>/accept")
@require("transfers.handle")
def accept(transfer_id: int):
    return _act(transfer_id, lambda t: service.accept(t, g.actor), _accepted)


@bp.post("/<int:transfer_id>/reject")
@require("transfers.handle")
def reject(transfer_id: int):
    return _act(transfer_id, lambda t: service.reject(t, g.actor, request.form.get("reason", "")),
                "已退回发起方")


@bp.post("/<int:transfer_id>/negotiate")
@require("transfers.handle")
def negotiate(transfer_id: int):
    return _act(transfer_id, lambda t: negotiation.open_(t, g.actor, request.form.get("note", "")),
                "已发起协商，对方将收到通知")


@bp.post("/<int:transfer_id>/note")
@require("transfers.handle")
def note(transfer_id: int):
    call = request.form.get("call") == "1"
    return _act(transfer_id, lambda t: negotiation.add_note(
        t, g.actor, request.form.get("text", ""), call=call, call_phone=request.form.get("call_phone", "").strip()),
        "三方通话已记录" if call else "协商记录已保存")


@bp.post("/<int:transfer_id>/propose")
@require("transfers.handle")
def propose(transfer_id: int):
    return _act(transfer_id, lambda t: negotiation.propose(t, g.actor, request.form.get("taker", "")), _proposed)


# ---- acting on a case ----------------------------------------------------------------------------

@bp.post("/cases/<int:case_id>/send")
@require("transfers.send")
def send(case_id: int):
    form = request.form
    data = service.TransferData(to=form.get("to", ""), reason=form.get("reason", ""),
                                purpose=form.get("purpose", "transfer"), text=form.get("text", ""),
                                officer_name=form.get("officer_name", ""),
                                officer_phone=form.get("officer_phone", "").strip())

    def run(case: Case):
        if data.purpose not in SENDABLE:
            raise service.TransferError({"purpose": f"转办类型应为{'、'.join(SENDABLE.values())}之一"})
        service.send(case, g.actor, data)

    return case_step(case_id, run, "已发起转办，等待对方接收")


@bp.post("/cases/<int:case_id>/guide")
@require("cases.close")
def guide(case_id: int):
    return case_step(case_id, lambda c: desk.guide(c, g.actor, request.form.get("channel", ""),
                                                      request.form.get("note", "")), "已引导解释并办结")


@bp.post("/cases/<int:case_id>/police-feedback")
@require("cases.close")
def police_feedback(case_id: int):
    return case_step(case_id, lambda c: desk.police_handled(c, g.actor, request.form.get("result", "")),
                     "处警反馈已记录，警单已办结")


@bp.post("/cases/<int:case_id>/seat")
@require("transfers.handle")
def seat_take(case_id: int):
    return case_step(case_id, lambda c: desk.take_by_seat(c, g.actor), "已通过专席接转")
