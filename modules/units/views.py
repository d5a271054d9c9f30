"""Member unit pages: list (htmx filtering), register, edit."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from saas.extensions import db
from saas.permissions import require
from saas.templating import render_page
from modules.units import service
from modules.units.models import KINDS, Unit

bp = Blueprint("units", __name__, url_prefix="/units", template_folder="templates")


def _form_data() -> service.UnitData:
    form = request.form
    return service.UnitData(code=form.get("code", "").strip().lower(), name=form.get("name", ""),
                            kind=form.get("kind", ""), liaison_name=form.get("liaison_name", ""),
                            liaison_phone=form.get("liaison_phone", "").strip(), active=form.get("active") == "1")


@bp.get("/")
@require("units.view")
def index():
    q, kind = request.args.get("q", "").strip(), request.args.get("kind", "")
    stmt = service.listing(g.actor.context.read_ids, q=q, kind=kind)
    page = db.paginate(stmt, per_page=30, error_out=False)
    return render_page("units/index.html", block="list", page=page, q=q, kind=kind, kinds=KINDS)


@bp.route("/new", methods=["GET", "POST"])
@require("units.manage")
def new():
    errors, data = {}, None
    if request.method == "POST":
        data = _form_data()
        try:
            unit = service.create(g.actor.tenant, g.actor, data)
        except service.UnitError as exc:
            errors = exc.errors
        else:
            flash(f"已登记承办单位：{unit.name}", "success")
            return redirect(url_for("units.index"))
    return render_template("units/form.html", unit=None, data=data, errors=errors, kinds=KINDS), (422 if errors else 200)


@bp.route("/<int:unit_id>/edit", methods=["GET", "POST"])
@require("units.manage")
def edit(unit_id: int):
    unit = db.first_or_404(select(Unit).where(Unit.id == unit_id))
    if not g.actor.context.may_write(unit.tenant_id):
        abort(404)
    errors, data = {}, unit
    if request.method == "POST":
        data = _form_data()
        try:
            service.update(unit.tenant, g.actor, unit, data)
        except service.UnitError as exc:
            errors = exc.errors
        else:
            flash(f"已保存：{unit.name}", "success")
            return redirect(url_for("units.index"))
    return render_template("units/form.html", unit=unit, data=data, errors=errors, kinds=KINDS), (422 if errors else 200)
