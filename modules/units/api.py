"""Member units in the JSON API."""
from __future__ import annotations

from flask import g, jsonify
from sqlalchemy import select

from saas.api import bp
from saas.extensions import db
from saas.permissions import require
from modules.units import service
from modules.units.models import Unit


def unit_json(unit: Unit) -> dict:
    return {"code": unit.code, "name": unit.name, "kind": unit.kind, "tenant": unit.tenant.code}


@bp.get("/units")
@require("units.view")
def units():
    stmt = service.listing(g.actor.context.read_ids).where(Unit.active)
    return jsonify([unit_json(u) for u in db.session.scalars(stmt)])


@bp.get("/units/<code>")
@require("units.view")
def unit(code: str):
    return jsonify(unit_json(db.first_or_404(select(Unit).where(Unit.code == code))))
