"""Template helpers: local time, masking, permissions and the acting membership in every page."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import g
from jinja2_fragments.flask import render_block

from saas import permissions
from saas.db import utcnow
from saas.text import mask_name, mask_phone

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(SHANGHAI).strftime(fmt) if value else ""


def deadline_time(value: datetime | None) -> str:
    """Deadlines end at 24:00 of a working day: show "2026-11-30 24:00", not "2026-12-01 00:00"."""
    if value is None:
        return ""
    local = value.astimezone(SHANGHAI)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return f"{local - timedelta(days=1):%Y-%m-%d} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def countdown(deadline: datetime | None) -> str:
    """剩余2天3小时 / 剩余45分钟 / 超期1天2小时: clock time left before a deadline."""
    if deadline is None:
        return ""
    seconds = int((deadline - utcnow()).total_seconds())
    prefix, seconds = ("剩余", seconds) if seconds >= 0 else ("超期", -seconds)
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{prefix}{days}天{hours}小时"
    return f"{prefix}{hours}小时{minutes}分钟" if hours else f"{prefix}{minutes}分钟"


def urgency_class(deadline: datetime | None) -> str:
    if deadline is None:
        return ""
    seconds = (deadline - utcnow()).total_seconds()
    return "late" if seconds < 0 else "soon" if seconds < 86400 else "ok"


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
    app.jinja_env.filters["mask_name"] = mask_name
    app.jinja_env.filters["countdown"] = countdown
    app.jinja_env.filters["deadline_time"] = deadline_time
    app.jinja_env.filters["urgency_class"] = urgency_class
    app.jinja_env.filters["options"] = lambda rows, key, label: [(getattr(r, key), getattr(r, label)) for r in rows]
    app.jinja_env.filters["role_option"] = lambda name: (name, permissions.ROLES[name].label)
    app.jinja_env.globals["ROLES"] = permissions.ROLES

    @app.context_processor
    def _actor():
        actor = g.get("actor")

        def can(permission: str) -> bool:
            return actor is not None and permissions.has(actor.role, permission)

        def unread() -> int:
            from modules.notifications.service import unread_count

            return unread_count(actor.user.id) if actor is not None and actor.user is not None else 0

        return {"actor": actor, "can": can, "my_memberships": g.get("memberships") or [], "now": utcnow(),
                "unread_notifications": unread}
