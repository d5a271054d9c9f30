"""Tenant from the URL: every tenant page lives under /t/<division code>/.

The code is taken from the URL, the signed-in user's membership in that tenant becomes the acting
membership (the one chosen in the switcher, else the first), and its tenant context is set. A user
with no valid membership there gets 404: the tenant does not exist for them.
"""
from __future__ import annotations

from flask import abort, g, redirect, request, session, url_for
from flask_login import current_user

from saas.auth import actor_for_membership, memberships_of
from saas.db import set_context


def init_app(app) -> None:
    @app.url_value_preprocessor
    def _pull_tenant(endpoint, values):
        if values and "tenant_code" in values:
            g.tenant_code = values.pop("tenant_code")

    @app.url_defaults
    def _add_tenant(endpoint, values):
        if "tenant_code" in values or not g.get("tenant_code"):
            return
        if app.url_map.is_endpoint_expecting(endpoint, "tenant_code"):
            values["tenant_code"] = g.tenant_code

    @app.before_request
    def _resolve_tenant():
        code = g.get("tenant_code")
        if code is None:
            return None
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        g.memberships = memberships_of(current_user)
        mine = [m for m in g.memberships if m.tenant.code == code]
        if not mine:
            abort(404)
        chosen = next((m for m in mine if m.id == session.get("membership_id")), mine[0])
        session["membership_id"] = chosen.id
        g.actor = actor_for_membership(chosen)
        set_context(g.actor.context)
        return None
