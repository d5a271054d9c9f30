"""POST /api/v1/triage (API.md): the suggestion for a text, for the caller's tenant."""
from __future__ import annotations

from flask import g, jsonify

from modules.cases.models import MAX_TEXT
from modules.triage import service
from saas.api import BadBody, body, bp, field
from saas.permissions import require


@bp.post("/triage")
@require("triage.use")
def triage():
    text = field(body(), "text", str, "", required=True).strip()
    if not text:
        raise BadBody("请填写诉求内容 text", "text")
    if len(text) > MAX_TEXT:
        raise BadBody(f"诉求内容不能超过{MAX_TEXT}字（现有{len(text)}字）", "text")
    return jsonify(service.suggest(g.actor.tenant, text).as_json())
