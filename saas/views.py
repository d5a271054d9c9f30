"""Sign-in, sign-out, password change, tenant switching and the root redirect."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select, text

from saas import audit, auth
from saas.db import utcnow
from saas.extensions import db, limiter
from saas.models import User

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "用户名或密码错误"
LOCKED = "登录失败次数过多，已暂时锁定，请{minutes}分钟后再试"


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    local = not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//")
    return target if local and "\\" not in target else None


def _home_tenant_audit_id(user: User | None) -> int | None:
    mine = auth.memberships_of(user) if user else []
    return mine[0].tenant_id if mine else None


@bp.get("/")
def root():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    mine = auth.memberships_of(current_user)
    if not mine:
        return render_template("auth/no_membership.html")
    chosen = next((m for m in mine if m.id == session.get("membership_id")), mine[0])
    return redirect(url_for("home.index", tenant_code=chosen.tenant.code))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    next_url = _safe_next(request.args.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_url or url_for("auth.root"))
        return render_template("auth/login.html", next=next_url)
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    address = request.remote_addr
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if auth.is_locked(username, address):
        audit.record_failure(None, "auth.login", tenant_id=_home_tenant_audit_id(user), result="locked",
                             label=username[:80] or "（空）")
        error = LOCKED.format(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
        return render_template("auth/login.html", error=error, username=username, next=next_url), 429
    if not username or not auth.verify_password(user, password) or not user.active:
        auth.note_failure(username, address)
        audit.record_failure(None, "auth.login", tenant_id=_home_tenant_audit_id(user), result="failed",
                             label=username[:80] or "（空）")
        return render_template("auth/login.html", error=LOGIN_FAILED, username=username, next=next_url), 401
    auth.clear_failures(username, address)
    session.clear()
    login_user(user)
    session.permanent = True
    session["seen"] = int(utcnow().timestamp())
    user.last_login_at = utcnow()
    audit.record(None, "auth.login", user, tenant_id=_home_tenant_audit_id(user), label=user.display_name)
    return redirect(next_url or url_for("auth.root"))


@bp.post("/logout")
@login_required
def logout():
    user = current_user._get_current_object()
    auth.end_all_sessions(user)
    audit.record(None, "auth.logout", user, tenant_id=_home_tenant_audit_id(user), label=user.display_name)
    logout_user()
    session.clear()
    flash("您已安全退出；此账号在其他设备上的登录也已失效", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    errors: dict[str, str] = {}
    if request.method == "POST":
        user = current_user._get_current_object()
        current, new, confirm = (request.form.get(k, "") for k in ("current", "new", "confirm"))
        if not auth.verify_password(user, current):
            errors["current"] = "当前密码不正确"
        elif problem := auth.password_problem(new, user.username):
            errors["new"] = problem
        elif new != confirm:
            errors["confirm"] = "两次输入的新密码不一致"
        elif new == current:
            errors["new"] = "新密码不能与当前密码相同"
        if not errors:
            user.password_hash = auth.hash_password(new)
            user.password_changed_at = utcnow()
            auth.end_all_sessions(user)
            audit.record(None, "auth.password_change", user, tenant_id=_home_tenant_audit_id(user),
                         label=user.display_name)
            logout_user()
            session.clear()
            flash("密码已修改，请用新密码重新登录", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/password.html", errors=errors), (422 if errors else 200)


@bp.post("/switch")
@login_required
def switch():
    wanted = request.form.get("membership_id", type=int)
    chosen = next((m for m in auth.memberships_of(current_user) if m.id == wanted), None)
    if chosen is None:
        flash("该岗位不存在或已到期", "error")
        return redirect(url_for("auth.root"))
    session["membership_id"] = chosen.id
    return redirect(url_for("home.index", tenant_code=chosen.tenant.code))


@bp.get("/healthz")
def healthz():
    from saas.redis import redis

    db.session.execute(text("SELECT 1"))
    redis().ping()
    return {"status": "ok"}
