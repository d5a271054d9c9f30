"""The one audit writer. The audit log is append-only (database triggers refuse UPDATE/DELETE).

`record` writes in the caller's transaction, so an admin change and its audit row commit together.
`record_failure` is for refusals (failed logins, denials): it discards the request's unfinished work
and commits the audit row on its own, so the refusal is kept even though nothing else is.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import has_request_context, request
from sqlalchemy import insert

from saas.db import utcnow
from saas.extensions import db
from saas.models import AuditLog

if TYPE_CHECKING:
    from saas.auth import Actor


def _address() -> str | None:
    return request.remote_addr if has_request_context() else None


def _values(actor, action, obj, *, tenant_id, detail, result, label=None) -> dict:
    if tenant_id is None:
        tenant_id = getattr(obj, "tenant_id", None) or (actor.tenant.id if actor else None)
    return {
        "at": utcnow(),
        "tenant_id": tenant_id,
        "actor_id": actor.user.id if actor and actor.user else None,
        "actor_label": label or (actor.label if actor else "系统"),
        "action": action,
        "object_type": type(obj).__name__ if obj is not None else None,
        "object_id": str(obj.id) if obj is not None and getattr(obj, "id", None) is not None else None,
        "result": result,
        "address": _address(),
        "detail": detail or {},
    }


def record(actor: Actor | None, action: str, obj=None, *, tenant_id: int | None = None,
           detail: dict | None = None, result: str = "ok", label: str | None = None) -> None:
    db.session.execute(insert(AuditLog).values(
        **_values(actor, action, obj, tenant_id=tenant_id, detail=detail, result=result, label=label)))


def record_failure(actor: Actor | None, action: str, obj=None, *, tenant_id: int | None = None,
                   detail: dict | None = None, result: str = "denied", label: str | None = None) -> None:
    db.session.rollback()
    record(actor, action, obj, tenant_id=tenant_id, detail=detail, result=result, label=label)
    db.session.commit()
