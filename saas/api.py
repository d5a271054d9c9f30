"""The JSON API blueprint under /api/v1: bearer tokens, tenant context, JSON errors."""
from __future__ import annotations

import hashlib

from flask import Blueprint, current_app, g, request

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


limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=_token_key)(bp)


@bp.before_request
def _authenticate():
    if request.endpoint in PUBLIC:
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    actor = actor_for_token(secret.strip()) if scheme.lower() == "bearer" and secret else None
    if actor is None:
        return error_response(401, "缺少或无效的接口令牌（Authorization: Bearer <token>）", "unauthorized")
    g.actor = actor
    set_context(actor.context)
    return None
