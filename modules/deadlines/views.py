"""The deadline policy page (every tenant sets its own) and the official calendar (province admins)."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from saas.extensions import db
from saas.permissions import check, require
from modules.deadlines import calendar, service
from modules.deadlines.models import CalendarDay

bp = Blueprint("policy", __name__, url_prefix="/policy", template_folder="templates")


def _page(policy, errors=None, form=None, status=200):
    return render_template("deadlines/policy.html", policy=policy, errors=errors or {}, form=form,
                           kinds_12345=service.KINDS_12345, kinds_110=service.KINDS_110, limits=service.LIMITS,
                           known_until=calendar.known_until()), status


@bp.get("/")
@require("policy.view")
def index():
    return _page(service.policy_for(g.actor.tenant))


@bp.post("/")
@require("policy.manage")
def save():
    try:
        service.save_policy(g.actor.tenant, g.actor, request.form)
    except service.PolicyError as exc:
        return _page(service.policy_for(g.actor.tenant), exc.errors, request.form, 422)
    flash("时限标准已保存，此后派单按新标准计算", "success")
    return redirect(url_for("policy.index"))


@bp.route("/calendar", methods=["GET", "POST"])
@require("policy.view")
def calendar_page():
    errors = {}
    if request.method == "POST":
        check(g.actor.role, "calendar.manage")
        try:
            if request.form.get("remove"):
                service.remove_calendar_day(g.actor, date.fromisoformat(request.form["remove"]))
                flash("已删除", "success")
            else:
                row = service.set_calendar_day(g.actor, request.form.get("day", ""), request.form.get("workday", ""),
                                               request.form.get("name", ""))
                flash(f"已登记 {row.day:%Y-%m-%d} {row.name}", "success")
            return redirect(url_for("policy.calendar_page"))
        except (service.PolicyError, ValueError) as exc:
            errors = getattr(exc, "errors", {"day": "日期无效"})
    rows = db.session.scalars(select(CalendarDay).order_by(CalendarDay.day.desc())).all()
    return render_template("deadlines/calendar.html", rows=rows, errors=errors, form=request.form,
                           package_last=calendar.package_years()[1], known_until=calendar.known_until()), \
        (422 if errors else 200)
