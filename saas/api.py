"""The JSON API blueprint under /api/v1: bearer tokens, tenant context, JSON errors."""
from __future__ import annotations

import hashlib
import math
import time
from datetime import datetime
from functools import cache

from flask import Blueprint, current_app, g, request
from limits import RateLimitItem, parse

from saas.auth import actor_for_token
from saas.db import set_context
from saas.errors import error_response
from saas.extensions import limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC = {"api.openapi"}


def _token_key() -> str:
    """Rate-limit bucket: a digest of the token (never the secret itself), else the address."""
    header = request.headers.get("Authorization", "")
    return hashlib.sha256(header.encode()).hexdigest()[:24] if header else (request.remote_addr or "-")


@limiter.request_filter
def _limited_here() -> bool:
    """The API's requests skip the limiter's per-request search for decorated limits: the API has
    one limit, checked by `_over_limit`."""
    return request.blueprint == "api"


@cache
def _rate(text: str) -> RateLimitItem:
    return parse(text)


def _over_limit():
    """API_RATE_LIMIT per token, checked with the rate limiter's own strategy and storage (one
    Redis round trip): a refusal says when to come back."""
    if not limiter.enabled:
        return None
    rate, key = _rate(current_app.config["API_RATE_LIMIT"]), _token_key()
    if limiter.limiter.hit(rate, "api", key):
        return None
    reset_at, _ = limiter.limiter.get_window_stats(rate, "api", key)
    response, status = error_response(429)  # the project's message and code for 429
    response.headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
    return response, status


MAX_JSON_BYTES = 1024 * 1024


def iso(value: datetime | None) -> str | None:
    """API times: ISO 8601 with the +08:00 offset the hotline works in."""
    from saas.templating import SHANGHAI

    return value.astimezone(SHANGHAI).isoformat() if value else None


class BadBody(ValueError):
    """A request body that is not what the endpoint takes; the message is for people."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadBody("请求体应为 JSON 对象（Content-Type: application/json）")
    return data


def field(data: dict, name: str, kind, default=None, *, required: bool = False):
    """One typed field of a JSON body: absent → default; wrong type → BadBody naming the field."""
    if name not in data or data[name] is None:
        if required:
            raise BadBody(f"缺少字段 {name}", name)
        return default
    value = data[name]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        names = {str: "字符串", bool: "布尔值", int: "整数", list: "数组", dict: "对象"}
        raise BadBody(f"字段 {name} 应为{names.get(kind, kind.__name__)}", name)
    return value


@bp.errorhandler(BadBody)
def _bad_body(exc: BadBody):
    if exc.field:
        return error_response(422, str(exc), "invalid", fields={exc.field: str(exc)})
    return error_response(400, str(exc), "bad_request")


@bp.before_request
def _authenticate():
    if request.content_length and request.content_length > MAX_JSON_BYTES:
        return error_response(413, "请求体过大（上限1MB）", "too_large")
    refused = _over_limit()
    if refused is not None:
        return refused
    if request.endpoint in PUBLIC:
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    actor = actor_for_token(secret.strip()) if scheme.lower() == "bearer" and secret else None
    if actor is None:
        return error_response(401, "缺少或无效的接口令牌（Authorization: Bearer <token>）", "unauthorized")
    g.actor = actor
    set_context(actor.context)
    return None
