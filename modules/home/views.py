from __future__ import annotations

from flask import Blueprint, g, render_template
from sqlalchemy import func, select

from saas.auth import Actor
from saas.extensions import db
from saas.models import Membership
from saas.permissions import require
from modules.units import service as units
from modules.units.models import KINDS
from tenants.models import Tenant
from tenants.service import descendants_query, served_query

bp = Blueprint("home", __name__, template_folder="templates")


def figures(actor: Actor) -> dict:
    tenant = actor.tenant
    by_kind = units.counts_by_kind(tenant)
    members = db.session.scalar(select(func.count(func.distinct(Membership.user_id)))
                                .where(Membership.tenant_id == tenant.id))
    served = db.session.scalar(served_query(tenant).where(Tenant.id != tenant.id)
                               .with_only_columns(func.count())) if tenant.is_hub else 0
    below = db.session.scalar(descendants_query(tenant).with_only_columns(func.count()))
    top = max(by_kind.values(), default=0)
    return {
        "units_total": sum(by_kind.values()),
        "units_by_kind": [(KINDS[k], by_kind.get(k, 0), round(100 * by_kind.get(k, 0) / top) if top else 0)
                          for k in KINDS],
        "members": members,
        "served": served,
        "below": below,
    }


def work(actor: Actor) -> dict:
    """The actor's work at a glance: case lists for hotline roles, the inbox for unit handlers."""
    from saas.permissions import has, role
    from modules.cases import queries

    if has(actor.role, "cases.view"):
        counts = queries.view_counts(role(actor.role).platform or "")
        top = max(counts.values(), default=0)
        return {"kind": "cases", "views": [(key, label, counts[key], round(100 * counts[key] / top) if top else 0)
                                           for key, label in queries.VIEWS.items()]}
    if has(actor.role, "assignments.handle"):
        from modules.dispatch.models import Assignment

        rows = dict(db.session.execute(select(Assignment.status, func.count())
                                       .where(Assignment.unit_id == actor.unit_id).group_by(Assignment.status)).all())
        return {"kind": "inbox", "pending": rows.get("pending", 0), "accepted": rows.get("accepted", 0)}
    return {"kind": None}


@bp.get("/")
@require("home.view")
def index():
    return render_template("home/index.html", figures=figures(g.actor), work=work(g.actor))
