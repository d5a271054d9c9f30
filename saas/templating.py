"""Template helpers: local time, masking, permissions and the acting membership in every page."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import g
from jinja2_fragments.flask import render_block

from saas import permissions
from saas.db import utcnow
from saas.text import mask_phone

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(SHANGHAI).strftime(fmt) if value else ""


def render_page(template: str, block: str = "content", **context):
    """One URL serves the page or, for htmx requests, only its named block."""
    from flask import render_template
    from saas.extensions import htmx

    if htmx and not htmx.boosted and block:
        return render_block(template, block, **context)
    return render_template(template, **context)


def init_app(app) -> None:
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["options"] = lambda rows, key, label: [(getattr(r, key), getattr(r, label)) for r in rows]
    app.jinja_env.filters["role_option"] = lambda name: (name, permissions.ROLES[name].label)
    app.jinja_env.globals["ROLES"] = permissions.ROLES

    @app.context_processor
    def _actor():
        actor = g.get("actor")

        def can(permission: str) -> bool:
            return actor is not None and permissions.has(actor.role, permission)

        return {"actor": actor, "can": can, "my_memberships": g.get("memberships") or [], "now": utcnow()}
