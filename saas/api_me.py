"""GET /api/v1/me and the OpenAPI document."""
from __future__ import annotations

from flask import g, jsonify

from saas.api import bp
from saas.openapi import document


def tenant_json(tenant) -> dict:
    return {"code": tenant.code, "name": tenant.name, "level": tenant.level,
            "hub": tenant.hub.code if tenant.hub else None}


@bp.get("/me")
def me():
    actor = g.actor
    unit = actor.token.unit if actor.token else None
    return jsonify({"tenant": tenant_json(actor.tenant), "role": actor.role, "unit": unit.code if unit else None})


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
