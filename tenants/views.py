"""Tenant administration: the tree below the acting tenant; a province admin creates and configures."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from saas import audit
from saas.permissions import require
from tenants import service
from tenants.models import LEVELS

bp = Blueprint("tenants", __name__, url_prefix="/tenants", template_folder="templates")


def _writable(code: str):
    tenant = service.by_code(code)
    if tenant is None or not g.actor.context.may_read(tenant.id):
        abort(404)
    if not g.actor.context.may_write(tenant.id):
        abort(403)
    return tenant


@bp.get("/")
@require("tenants.view")
def index():
    rows = service.subtree(g.actor.tenant)
    return render_template("tenants/index.html", rows=rows, levels=LEVELS)


@bp.route("/<code>/edit", methods=["GET", "POST"])
@require("tenants.manage")
def edit(code: str):
    tenant = _writable(code)
    error = None
    if request.method == "POST":
        f = request.form
        try:
            service.update(tenant, name=f.get("name", ""), is_hub=f.get("is_hub") == "1",
                           runs_12345=f.get("runs_12345") == "1", runs_110=f.get("runs_110") == "1",
                           active=f.get("active") == "1")
        except service.TenantError as exc:
            error = str(exc)
        else:
            audit.record(g.actor, "tenant.update", tenant, tenant_id=tenant.id,
                         detail={"is_hub": tenant.is_hub, "runs_12345": tenant.runs_12345,
                                 "runs_110": tenant.runs_110, "active": tenant.active})
            flash(f"已保存：{tenant.name}", "success")
            return redirect(url_for("tenants.index"))
    return render_template("tenants/edit.html", tenant=tenant, error=error), (422 if error else 200)


@bp.route("/new", methods=["GET", "POST"])
@require("tenants.manage")
def new():
    error, form = None, request.form
    parents = [t for t in service.subtree(g.actor.tenant) if t.level != "county"]
    if request.method == "POST":
        parent = _writable(form.get("parent", ""))
        try:
            tenant = service.create(code=form.get("code", ""), name=form.get("name", ""), level=form.get("level", ""),
                                    parent=parent, is_hub=form.get("is_hub") == "1",
                                    runs_12345=form.get("runs_12345") == "1", runs_110=form.get("runs_110") == "1")
        except service.TenantError as exc:
            error = str(exc)
        else:
            audit.record(g.actor, "tenant.create", tenant, tenant_id=tenant.id, detail={"code": tenant.code})
            flash(f"已新建租户：{tenant.name}（{tenant.code}）", "success")
            return redirect(url_for("tenants.index"))
    return render_template("tenants/new.html", parents=parents, levels=LEVELS, error=error, form=form), \
        (422 if error else 200)
