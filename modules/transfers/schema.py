"""The JSON shape of a transfer, shared by the API and the webhooks (API.md's <transfer>)."""
from __future__ import annotations

from saas.api import iso
from saas.extensions import db
from modules.transfers.models import Transfer
from tenants.models import Tenant


def tenant_code(tenant_id: int) -> str:
    return db.session.get(Tenant, tenant_id).code


def transfer_json(transfer: Transfer, case_number: str | None = None) -> dict:
    hops = transfer.hops
    current = transfer.current
    return {
        "id": str(transfer.id), "case": str(transfer.case_id), "case_number": case_number,
        "purpose": transfer.purpose, "emergency": transfer.emergency,
        "from": {"tenant": tenant_code(hops[0].tenant_id), "platform": hops[0].platform},
        "to": {"tenant": tenant_code(hops[-1].tenant_id), "platform": hops[-1].platform},
        "status": transfer.status, "reason": transfer.reason, "text": transfer.text, "detail": transfer.detail,
        "current": {"tenant": tenant_code(current.tenant_id), "platform": current.platform} if current else None,
        "route": [{"tenant": tenant_code(h.tenant_id), "platform": h.platform, "status": h.status,
                   "arrived_at": iso(h.arrived_at), "acted_at": iso(h.acted_at)} for h in hops],
        "created_at": iso(transfer.created_at), "decided_at": iso(transfer.decided_at),
        "reject_reason": transfer.reject_reason,
        "linked_case": str(transfer.linked_case_id) if transfer.linked_case_id else None,
        "negotiation": None if transfer.negotiation_opened_at is None else {
            "opened_at": iso(transfer.negotiation_opened_at), "deadline": iso(transfer.negotiation_deadline),
            "proposal": transfer.proposal, "settlement": transfer.settlement, "settled_at": iso(transfer.settled_at)},
    }
