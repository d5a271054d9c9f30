"""The notification centre (with the unread count in the top bar) and the recorded SMS messages."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from saas.extensions import db
from saas.permissions import require
from modules.notifications import service
from modules.notifications.models import Notification, SmsMessage

bp = Blueprint("notifications", __name__, url_prefix="/notifications", template_folder="templates")


def _user_id() -> int:
    return g.actor.user.id


@bp.get("/")
@require("home.view")
def index():
    unread_only = request.args.get("unread") == "1"
    page = db.paginate(service.listing(_user_id(), unread_only=unread_only), per_page=30, error_out=False)
    return render_template("notifications/index.html", page=page, unread_only=unread_only)


@bp.post("/<int:notification_id>/open")
@require("home.view")
def open_one(notification_id: int):
    row = db.first_or_404(select(Notification).where(Notification.id == notification_id,
                                                     Notification.user_id == _user_id()))
    service.mark_read(_user_id(), row.id)
    if row.assignment_id and g.actor.role == "unit_handler":
        return redirect(url_for("inbox.show", assignment_id=row.assignment_id))
    if row.case_id:
        return redirect(url_for("cases.show", case_id=row.case_id))
    return redirect(url_for("notifications.index"))


@bp.post("/read-all")
@require("home.view")
def read_all():
    n = service.mark_read(_user_id())
    flash(f"已将 {n} 条通知标为已读", "success")
    return redirect(url_for("notifications.index"))


@bp.get("/sms")
@require("sms.view")
def sms():
    page = db.paginate(select(SmsMessage).where(SmsMessage.tenant_id.in_(g.actor.context.read_ids))
                       .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc()), per_page=50, error_out=False)
    return render_template("notifications/sms.html", page=page)
