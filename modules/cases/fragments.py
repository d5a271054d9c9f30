"""Page fragments other modules' views render too (they may not import cases' views): the case page
itself (a refused transfer step shows it again with its messages), the caller block, one step."""
from __future__ import annotations

from dataclasses import dataclass

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from saas.db import utcnow
from saas.extensions import db
from saas.permissions import SERVED
from modules.cases import queries, service
from modules.cases.models import GRADES, SATISFACTION, STATUSES, Case
from modules.deadlines.service import policy_for
from modules.dispatch import service as dispatch
from modules.transfers import desk, negotiation, service as transfers, stats
from modules.transfers.models import SENDABLE, SETTLEMENTS, URGENT, Transfer
from modules.units.models import Unit
from tenants.service import scope_ids

# What a desk may start from a case page; an emergency hand-over is derived by the service, and a
# unit's request for police starts from its assignment page.


def contact(case: Case, actor, reason: str, reveal_url: str):
    """The caller block after a reveal request: full contact (audited) or the reason's error."""
    try:
        shown = service.reveal_contact(case, actor, reason)
    except service.CaseError as exc:
        return render_template("cases/_contact.html", case=case, errors=exc.errors, contact=None,
                               reveal_url=reveal_url), 422
    return render_template("cases/_contact.html", case=case, errors={}, contact=shown, reveal_url=reveal_url)


def act(obj, action, success, *, page, target: str):
    """One step on a page: run the service; when it refuses, show `page` again with its messages and
    what was typed (422); else flash `success` (a text, or a function of the object after the step)
    and go to `target`."""
    try:
        action(obj)
    except service.CaseError as exc:
        return page(obj, errors=exc.errors, form=request.form, status=422)
    flash(success(obj) if callable(success) else success, "success")
    return redirect(target)


def case_step(case_id: int, action, success):
    """A step on a case in the actor's scope (else 404): the case page again on refusal, else back
    to it. The case and transfer pages both act on cases this way."""
    case = db.first_or_404(select(Case).where(Case.id == case_id))
    return act(case, action, success, page=lambda c, **kw: case_page(c, g.actor, **kw),
               target=url_for("cases.show", case_id=case_id))


# ---- the transfer panel --------------------------------------------------------------------------

def urgent(t: Transfer) -> bool:
    """Emergencies, clues and police requests go first in every queue, with a red mark."""
    return t.emergency or t.purpose in URGENT


def age(moment) -> str:
    """How long something has waited: 3分钟 / 2小时5分钟 / 1天4小时 (the overview's formatter)."""
    return "" if moment is None else stats.duration(max(int((utcnow() - moment).total_seconds() // 60), 0))


@dataclass
class TransferRow:
    """One transfer of a case as the acting desk sees it: what it may do now. The services check
    every rule again; these flags only decide which forms the page offers."""

    t: Transfer
    receiving: bool   # the current hop waits for the actor
    side: str | None  # "origin" or "target" when the actor stands for that end
    may_negotiate: bool

    @property
    def urgent(self) -> bool:
        return urgent(self.t)

    @property
    def cannot_reject(self) -> bool:
        """An emergency or a unit's police request is not refused by 110: police go first."""
        return self.t.current is not None and transfers.police_first(self.t) is not None

    @property
    def may_reject(self) -> bool:
        return self.receiving and not self.cannot_reject

    @property
    def settlement_label(self) -> str:
        return SETTLEMENTS.get(self.t.settlement or "", "")

    @property
    def proposed_by_me(self) -> bool:
        return self.t.proposal is not None and (self.t.proposed_seq == 0) == (self.side == "origin")


def transfer_rows(actor, case: Case, rows: list[Transfer]) -> list[TransferRow]:
    out = []
    for t in rows:
        receiving = transfers.may_handle(actor, t.current)
        side = transfers.side_of(actor, t)
        out.append(TransferRow(t=t, receiving=receiving, side=side,
                               may_negotiate=t is rows[-1] and negotiation.refusal(t, actor, case) is None))
    return out


def send_purposes(case: Case, actor) -> dict[str, str]:
    """The purposes the actor may send this case with now, as the service decides them."""
    if not service.may_act(actor, case, "transfers.send"):
        return {}
    options = {}
    for purpose, label in SENDABLE.items():
        effective = "emergency" if purpose == "transfer" and case.emergency and case.platform == "12345" else purpose
        if transfers.state_refusal(case, effective) is None:
            options[purpose] = "紧急警情移交（110不得退回）" if effective == "emergency" else label
    return options


def _dispatch_units(actor) -> list[Unit]:
    served, _ = scope_ids(actor.tenant, SERVED)
    return list(db.session.scalars(select(Unit).where(Unit.tenant_id.in_(served), Unit.active)
                                   .order_by(Unit.tenant_id, Unit.kind, Unit.name)))


def case_page(case: Case, actor, *, errors=None, form=None, status: int = 200):
    """The case page: facts, caller, answer, units, transfers with their routes, linked case,
    timeline, and the forms the actor may use now."""
    may = lambda permission: service.may_act(actor, case, permission)  # noqa: E731
    rows = transfers.transfers_of(case)
    linked = service.linked_case(case)
    ctx = dict(
        case=case, assignments=dispatch.assignments_of(case), extensions=dispatch.pending_extensions(case),
        events=queries.timeline(case), errors=errors or {}, form=form or MultiDict(), satisfaction=SATISFACTION,
        grades=GRADES, may=may, policy=policy_for(case.tenant), attachments=dispatch.attachments_of(case),
        dispatch_units=_dispatch_units(actor) if case.status == "new" and may("cases.dispatch") else [],
        reveal_allowed=transfers.may_reveal(actor, case, rows), following=not actor.context.may_read(case.tenant_id),
        transfers=transfer_rows(actor, case, rows), purposes=send_purposes(case, actor),
        takers=negotiation.TAKERS,
        linked=linked, linked_readable=linked is not None and actor.context.may_read(linked.tenant_id),
        seat=case.status == "new" and desk.holds_seat(case, actor), guide_channels=desk.GUIDE_CHANNELS, back="case",
        age=age, statuses=STATUSES)
    return render_template("cases/show.html", **ctx), status
