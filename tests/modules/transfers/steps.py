"""Steps for the linkage tests: each acts as one user in a fresh session and one transaction, as a
request would, and hands back ids and plain values (never ORM objects across sessions)."""
from __future__ import annotations

import threading
from contextlib import contextmanager

from sqlalchemy import func, select

from saas.db import as_tenant, system_context, transaction
from saas.extensions import db
from saas.outbox import OutboxMessage
from modules.cases import service as cases
from modules.cases.models import Case, CaseEvent
from modules.transfers import service as transfers
from modules.transfers.models import Transfer, TransferHop
from tenants.models import Tenant
from tests import factories
from tests.factories import context_of


@contextmanager
def acting(username: str, code: str):
    """A fresh session in the user's tenant context, committed at the end (rolled back on error)."""
    db.session.remove()
    actor = context_of(username, code)
    with as_tenant(actor.context), transaction():
        yield actor


@contextmanager
def system():
    db.session.remove()
    with as_tenant(system_context()), transaction():
        yield


def read(fn):
    """Read as the system in a fresh session; `fn` must return plain values."""
    db.session.remove()
    with as_tenant(system_context()):
        try:
            return fn()
        finally:
            db.session.rollback()


def tid(code: str) -> int:
    db.session.remove()
    return db.session.scalar(select(Tenant.id).where(Tenant.code == code))


def code_of(tenant_id: int) -> str:
    return db.session.scalar(select(Tenant.code).where(Tenant.id == tenant_id))


# ---- acting ----------------------------------------------------------------------------------

def intake(username: str, code: str, text: str = "楼上邻居装修噪音，白天持续施工（演示）", **fields) -> int:
    with acting(username, code) as actor:
        fields.setdefault("kind", "报警" if "110" in username else "投诉")
        fields.setdefault("caller_phone", "13800005678")
        case = cases.intake(actor.tenant, actor, cases.IntakeData(text=text, **fields))
        return case.id


def send(username: str, code: str, case_id: int, to: str, reason: str = "非本平台职责（演示）", **data) -> int:
    with acting(username, code) as actor:
        case = transfers.readable_case(case_id)
        return transfers.send(case, actor, transfers.TransferData(to=to, reason=reason, **data)).id


def accept(username: str, code: str, transfer_id: int) -> None:
    with acting(username, code) as actor:
        transfers.accept(transfers.readable_transfer(transfer_id), actor)


def reject(username: str, code: str, transfer_id: int, reason: str) -> None:
    with acting(username, code) as actor:
        transfers.reject(transfers.readable_transfer(transfer_id), actor, reason)


def add_user(username: str, code: str, role: str, unit_code: str | None = None) -> None:
    from modules.units.models import Unit

    with system():
        tenant = db.session.scalar(select(Tenant).where(Tenant.code == code))
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code)) if unit_code else None
        factories.user(username, (tenant, role, unit) if unit else (tenant, role))


# ---- reading ---------------------------------------------------------------------------------

def case_state(case_id: int) -> dict:
    def _fn():
        c = db.session.scalar(select(Case).where(Case.id == case_id))
        return {"tenant": code_of(c.tenant_id), "platform": c.platform, "status": c.status,
                "linked": c.linked_case_id, "answer": c.answer, "close_reason": c.close_reason,
                "received": (code_of(c.received_tenant_id), c.received_by), "place": code_of(c.place_tenant_id),
                "kind": c.kind, "channel": c.channel, "emergency": c.emergency, "number": c.number}
    return read(_fn)


def transfer_state(transfer_id: int) -> dict:
    def _fn():
        t = db.session.scalar(select(Transfer).where(Transfer.id == transfer_id))
        return {"status": t.status, "purpose": t.purpose, "current": t.current_seq, "linked": t.linked_case_id,
                "reject_reason": t.reject_reason, "rejected_seq": t.rejected_seq, "settlement": t.settlement,
                "proposal": t.proposal, "deadline": t.negotiation_deadline, "decided_at": t.decided_at,
                "detail": dict(t.detail or {}), "text": t.text, "emergency": t.emergency,
                "tenant": code_of(t.tenant_id)}
    return read(_fn)


def hops(transfer_id: int) -> list[tuple]:
    """(tenant code, platform, status) of every hop, in route order."""
    return read(lambda: [(code_of(h.tenant_id), h.platform, h.status) for h in db.session.scalars(
        select(TransferHop).where(TransferHop.transfer_id == transfer_id).order_by(TransferHop.seq))])


def hop_times(transfer_id: int) -> list[tuple]:
    return read(lambda: [(h.arrived_at, h.acted_at, h.actor_label) for h in db.session.scalars(
        select(TransferHop).where(TransferHop.transfer_id == transfer_id).order_by(TransferHop.seq))])


def events(case_id: int, *types: str) -> list[tuple]:
    """(type, tenant code that wrote it, detail) of the case's timeline, oldest first."""
    def _fn():
        stmt = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        if types:
            stmt = stmt.where(CaseEvent.type.in_(types))
        return [(e.type, code_of(e.tenant_id), dict(e.detail or {})) for e in db.session.scalars(stmt)]
    return read(_fn)


def event_types(case_id: int) -> list[str]:
    return [e[0] for e in events(case_id)]


def notices(title_part: str = "") -> list[tuple]:
    """(tenant code, audience, level, title, sms) of the notify rows in the outbox."""
    def _fn():
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notify")
                                  .order_by(OutboxMessage.id))
        return [(code_of(r.tenant_id), r.payload["audience"], r.payload["level"], r.payload["title"], r.payload["sms"])
                for r in rows if title_part in r.payload["title"]]
    return read(_fn)


def counts() -> tuple:
    """Rows of everything a transfer step writes (for "nothing changed" checks)."""
    return read(lambda: tuple(db.session.scalar(select(func.count()).select_from(m))
                              for m in (Case, CaseEvent, Transfer, TransferHop, OutboxMessage)))


def snapshot(case_id: int, transfer_id: int | None = None) -> tuple:
    return (case_state(case_id), transfer_state(transfer_id) if transfer_id else None,
            hops(transfer_id) if transfer_id else None, counts())


def elsewhere(app, fn):
    """Run `fn` as another request would, at the same time: its own thread, app context, session and
    transaction. Returns the thread and a dict that gets "value" or "error"."""
    result: dict = {}

    def run():
        with app.app_context():
            try:
                result["value"] = fn()
            except Exception as exc:  # handed back to the test
                result["error"] = exc
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result
