"""Request-wide security: idle timeout, response headers, the login manager's settings."""
from __future__ import annotations

from flask import flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from saas.extensions import login_manager

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def init_app(app) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "basic"

    @app.before_request
    def _idle_timeout():
        from saas.auth import idle_expired

        if request.blueprint == "api" or request.endpoint == "static":
            return None
        if current_user.is_authenticated and idle_expired():
            logout_user()
            session.clear()
            flash("长时间未操作，已自动退出，请重新登录", "warning")
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        return None

    always = dict(HEADERS)
    if app.config["SESSION_COOKIE_SECURE"]:
        always["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    @app.after_request
    def _headers(response):
        # One pass over what the view set (a view's own value wins), not one search per header.
        present = {name.lower() for name in response.headers.keys()}
        for name, value in always.items():
            if name.lower() not in present:
                response.headers[name] = value
        if request.endpoint != "static" and "cache-control" not in present:
            response.headers["Cache-Control"] = "no-store"
        return response
