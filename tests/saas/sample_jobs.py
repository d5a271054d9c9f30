"""Job functions used by the job tests (the worker subprocess imports them from here)."""
from __future__ import annotations

from sqlalchemy import func, select

from saas.db import current_context
from saas.extensions import db
from modules.units.models import Unit


def visible_units() -> list:
    """What the restored tenant context lets a job see, and who it acts as."""
    ctx = current_context()
    codes = sorted(db.session.scalars(select(Unit.code)))
    return [ctx.tenant_id, ctx.actor_id, codes]


def rename_unit(unit_id: int, suffix: str) -> int:
    unit = db.session.scalar(select(Unit).where(Unit.id == unit_id))
    unit.name = unit.name + suffix
    return db.session.scalar(select(func.count(Unit.id)))


def rename_then_fail(unit_id: int) -> None:
    rename_unit(unit_id, "-should-roll-back")
    raise RuntimeError("boom (test)")
