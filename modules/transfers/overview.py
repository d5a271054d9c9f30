"""The hub's view of transfers: today's volume each way, pending ones with their age, rejections
with reasons, acceptance times; and the dedicated seats (专席) a hub admin grants."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from saas.extensions import db
from saas.permissions import ROLES, require
from modules.transfers import seats as seat_service
from modules.transfers import stats
from modules.transfers.models import Seat
from tenants.models import PLATFORMS

bp = Blueprint("transfer_overview", __name__, url_prefix="/linkage", template_folder="templates")


@bp.get("/")
@require("transfers.view")
def index():
    """The hub's figures. A province supervisor picks one of the hubs below (?hub=<code>)."""
    hubs = stats.viewable_hubs(g.actor)
    code = request.args.get("hub", "").strip()
    if code:
        hub = next((h for h in hubs if h.code == code), None)
        if hub is None:
            abort(404)
    else:
        hub = next((h for h in hubs if h.id == g.actor.tenant.id), None)
    figures = stats.overview(hub) if hub is not None else None
    return render_template("transfers/overview.html", hub=hub, hubs=hubs, o=figures, stats=stats,
                           platforms=PLATFORMS)


def _seats_page(errors=None, form=None, status: int = 200):
    hub = g.actor.tenant
    people = [(m.id, f"{m.user.display_name}（{m.user.username}）· {ROLES[m.role].label}")
              for m in seat_service.candidates(hub)]
    queues = [(p, f"{PLATFORMS[p]}队列（{seat_service.seat_label(p)}）") for p in hub.platforms]
    return render_template("transfers/seats.html", seats=seat_service.seats_of(hub), people=people, queues=queues,
                           errors=errors or {}, form=form or {}, seat_label=seat_service.seat_label), status


@bp.get("/seats")
@require("seats.manage")
def seats():
    return _seats_page()


@bp.post("/seats")
@require("seats.manage")
def add_seat():
    form = request.form
    try:
        seat = seat_service.add(g.actor, membership_id=form.get("member"), platform=form.get("platform", ""),
                                note=form.get("note", ""))
    except seat_service.SeatError as exc:
        return _seats_page(exc.errors, form, 422)
    flash(f"已为 {seat.user.display_name} 设立{seat_service.seat_label(seat.platform)}", "success")
    return redirect(url_for("transfer_overview.seats"))


@bp.post("/seats/<int:seat_id>/remove")
@require("seats.manage")
def remove_seat(seat_id: int):
    seat = db.first_or_404(select(Seat).where(Seat.id == seat_id, Seat.tenant_id == g.actor.tenant.id))
    name, label = seat.user.display_name, seat_service.seat_label(seat.platform)
    try:
        seat_service.remove(g.actor, seat)
    except seat_service.SeatError as exc:
        flash(exc.errors["seat"], "error")
    else:
        flash(f"已移除 {name} 的{label}", "success")
    return redirect(url_for("transfer_overview.seats"))
