"""People and posts pages, and the API token page."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from saas.extensions import db
from saas.models import ApiToken, Membership
from saas.permissions import ROLES, require
from saas.templating import SHANGHAI, render_page
from modules.members import service
from modules.units.models import Unit

bp = Blueprint("members", __name__, url_prefix="/members", template_folder="templates")


def _local_datetime(value: str | None) -> datetime | None:
    """<input type=datetime-local> value, read as Beijing time."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=SHANGHAI)
    except ValueError:
        return None


def _units_for_form():
    ids = g.actor.context.write_ids
    return list(db.session.scalars(select(Unit).where(Unit.tenant_id.in_(ids), Unit.active).order_by(Unit.code)))


@bp.get("/")
@require("members.view")
def index():
    q = request.args.get("q", "").strip()
    ended = request.args.get("ended") == "1"
    page = db.paginate(service.listing(g.actor.context.read_ids, q=q, include_ended=ended), per_page=30,
                       error_out=False)
    return render_page("members/index.html", block="list", page=page, q=q, ended=ended,
                       grantable=service.grantable_roles(g.actor))


@bp.route("/new", methods=["GET", "POST"])
@require("members.manage")
def new():
    errors, data = {}, service.MemberData(username="", tenant_code=g.actor.tenant.code)
    if request.method == "POST":
        form = request.form
        data = service.MemberData(
            username=form.get("username", ""), display_name=form.get("display_name", ""),
            password=form.get("password", ""), role=form.get("role", ""), tenant_code=form.get("tenant_code", ""),
            unit_code=form.get("unit_code", ""), valid_from=_local_datetime(form.get("valid_from")),
            valid_until=_local_datetime(form.get("valid_until")))
        if form.get("valid_until") and data.valid_until is None:
            errors["valid_until"] = "时间格式不正确"
        try:
            if errors:
                raise service.MemberError(errors)
            membership = service.add_member(g.actor, data)
        except service.MemberError as exc:
            errors = exc.errors
        else:
            flash(f"已为 {membership.user.display_name} 开通岗位：{ROLES[membership.role].label}", "success")
            return redirect(url_for("members.index"))
    return render_template("members/form.html", data=data, errors=errors, tenants=service.target_tenants(g.actor),
                           roles=service.grantable_roles(g.actor), units=_units_for_form()), (422 if errors else 200)


@bp.post("/<int:membership_id>/end")
@require("members.manage")
def end(membership_id: int):
    membership = db.first_or_404(select(Membership).where(Membership.id == membership_id))
    try:
        service.end_membership(g.actor, membership)
    except service.MemberError as exc:
        flash(exc.errors["membership"], "error")
    else:
        flash(f"已结束 {membership.user.display_name} 的岗位：{ROLES[membership.role].label}", "success")
    return redirect(url_for("members.index"))


@bp.post("/<int:membership_id>/password")
@require("members.manage")
def reset_password(membership_id: int):
    membership = db.first_or_404(select(Membership).where(Membership.id == membership_id))
    try:
        service.reset_password(g.actor, membership, request.form.get("password", ""))
    except service.MemberError as exc:
        flash(f"密码未修改：{exc.errors['password']}", "error")
    else:
        flash(f"已重置 {membership.user.display_name} 的密码，其所有登录已失效", "success")
    return redirect(url_for("members.index"))


@bp.route("/tokens", methods=["GET", "POST"])
@require("tokens.manage")
def tokens():
    errors, secret = {}, None
    if request.method == "POST":
        form = request.form
        try:
            token, secret = service.create_token(g.actor, tenant=g.actor.tenant, role=form.get("role", ""),
                                                 unit_code=form.get("unit_code") or None, name=form.get("name", ""))
        except service.MemberError as exc:
            errors = exc.errors
        else:
            flash(f"已签发令牌“{token.name}”。令牌只显示这一次，请立即复制保存。", "success")
    rows = db.session.scalars(select(ApiToken).where(ApiToken.tenant_id == g.actor.tenant.id)
                              .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc()))
    return render_template("members/tokens.html", tokens=list(rows), errors=errors, secret=secret,
                           roles=service.grantable_roles(g.actor), units=_units_for_form()), (422 if errors else 200)


@bp.post("/tokens/<int:token_id>/revoke")
@require("tokens.manage")
def revoke_token(token_id: int):
    token = db.first_or_404(select(ApiToken).where(ApiToken.id == token_id))
    service.revoke_token(g.actor, token)
    flash(f"已吊销令牌“{token.name}”", "success")
    return redirect(url_for("members.tokens"))
