"""Error answers: Chinese pages for people, {"error": {...}} for the API. Denials are audited."""
from __future__ import annotations

from flask import g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from saas import audit
from saas.db import TenantContextMissing, TenantWriteRefused
from saas.permissions import PermissionDenied

MESSAGES = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "请先登录或提供有效的接口令牌"),
    403: ("forbidden", "您没有执行此操作的权限"),
    404: ("not_found", "您访问的内容不存在或无权查看"),
    405: ("method_not_allowed", "不支持此请求方式"),
    413: ("too_large", "上传内容过大"),
    422: ("invalid", "提交的内容有误"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试"),
    500: ("server_error", "系统内部错误，请稍后再试；如持续出现请联系管理员"),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str | None = None, code: str | None = None,
                   fields: dict[str, str] | None = None):
    default_code, default_message = MESSAGES.get(status, ("error", "请求未能完成"))
    message, code = message or default_message, code or default_code
    if wants_json():
        error = {"code": code, "message": message, **({"fields": fields} if fields else {})}
        return jsonify({"error": error}), status
    template = "errors/_inline.html" if request.headers.get("HX-Request") else "errors/error.html"
    return render_template(template, status=status, message=message), status


def init_app(app) -> None:
    @app.errorhandler(PermissionDenied)
    def _denied(exc: PermissionDenied):
        audit.record_failure(g.get("actor"), "permission.denied", detail={"permission": exc.permission,
                                                                        "path": request.path})
        return error_response(403)

    @app.errorhandler(TenantWriteRefused)
    def _write_refused(exc):
        audit.record_failure(g.get("actor"), "tenant.write_refused", detail={"path": request.path})
        return error_response(403, "只读权限：不能修改其他地区的数据")

    @app.errorhandler(TenantContextMissing)
    def _no_context(exc):
        app.logger.error("tenant context missing on %s", request.path)
        return error_response(500)

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return error_response(400, "页面已过期或请求来源无效，请刷新页面后重试", "csrf")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        message = exc.description if exc.code in (400, 422) and isinstance(exc.description, str) and \
            not exc.description.isascii() else None
        return error_response(exc.code or 500, message)

    @app.errorhandler(Exception)
    def _unexpected(exc):
        if app.testing:
            raise exc
        app.logger.exception("unhandled error on %s", request.path)
        return error_response(500)
