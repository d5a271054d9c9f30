"""Exchange with other systems (数据共享): webhooks out, signed and retried through the outbox.

A service calls `publish(tenant, platform, event, ...)` in its transaction; for every active webhook
of that tenant and platform an outbox row is written with it. The outbox job posts the message
(HMAC-signed, with a message id the receiver deduplicates by), retries with backoff, and marks it
delivered. The message is thin: ids, numbers and states, never a caller's personal data; the
external system reads the case through the API with its own token.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from urllib.parse import urlsplit

import httpx
from flask import current_app
from sqlalchemy import select

from saas import audit, outbox
from saas.auth import Actor
from saas.db import utcnow
from saas.extensions import db
from saas.models import ApiToken
from saas.permissions import ROLES, check, role as role_of
from modules.exchange.models import EVENTS, Webhook
from tenants.models import PLATFORMS, Tenant

TIMEOUT = 10.0


class WebhookError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors


def publish(tenant_id: int, platform: str, event: str, **ids) -> int:
    """Queue `event` for the webhooks of (tenant, platform). Read across tenants on purpose: the
    service publishing has just made the change that concerns that tenant; the rows it writes go
    to that tenant's outbox."""
    hooks = db.session.scalars(select(Webhook.id).where(Webhook.tenant_id == tenant_id, Webhook.platform == platform,
                                                        Webhook.active).execution_options(all_tenants=True))
    count = 0
    for hook_id in hooks:
        outbox.put("webhook", {"webhook_id": hook_id, "event": event, "message_id": str(uuid.uuid4()), **ids},
                   tenant_id=tenant_id)
        count += 1
    return count


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: int | None = None) -> bool:
    """For receivers (and the tests): the signature matches and is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or int(time.time())) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def message(row: outbox.OutboxMessage) -> dict:
    """The body of a webhook message, built at delivery time from the current state."""
    from modules.cases.models import Case
    from modules.transfers.models import Transfer
    from modules.transfers.schema import transfer_json

    p = row.payload
    tenant = db.session.get(Tenant, row.tenant_id)
    body = {"id": p["message_id"], "event": p["event"], "tenant": tenant.code, "sent_at": utcnow().isoformat()}
    if p.get("transfer_id"):
        transfer = db.session.scalar(select(Transfer).where(Transfer.id == p["transfer_id"])
                                     .execution_options(all_tenants=True))  # the row names it
        body["transfer"] = transfer_json(transfer)
    if p.get("case_id"):
        case = db.session.scalar(select(Case).where(Case.id == p["case_id"]).execution_options(all_tenants=True))
        body["case"] = {"id": str(case.id), "number": case.number, "platform": case.platform,
                        "status": case.status, "answer": case.answer, "close_reason": case.close_reason}
    return body


@outbox.handler("webhook")
def deliver(row: outbox.OutboxMessage) -> None:
    hook = db.session.scalar(select(Webhook).where(Webhook.id == row.payload["webhook_id"]))
    if hook is None or not hook.active:
        raise outbox.Cancelled("对接系统已停用，消息未发送")
    body = json.dumps(message(row), ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Liandong-Webhook/1",
               "X-Liandong-Event": row.payload["event"], "X-Liandong-Message-Id": row.payload["message_id"],
               "X-Liandong-Signature": sign(hook.secret, int(time.time()), body)}
    response = httpx.post(hook.url, content=body, headers=headers,
                          timeout=current_app.config.get("WEBHOOK_TIMEOUT", TIMEOUT))
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"接收方返回 HTTP {response.status_code}")


# ---- administration ------------------------------------------------------------------------------

def pairable_tokens(tenant: Tenant) -> list[ApiToken]:
    """Live API tokens of `tenant` with a platform role: what an external system may call us with."""
    rows = db.session.scalars(select(ApiToken).where(ApiToken.tenant_id == tenant.id, ApiToken.revoked_at.is_(None))
                              .order_by(ApiToken.created_at))
    return [t for t in rows if t.role in ROLES and role_of(t.role).platform]


def _token_problem(tenant: Tenant, raw: str, platform: str) -> tuple[int | None, str | None]:
    """The chosen token's id (none chosen: None), or why it cannot pair with a webhook of `platform`."""
    if not raw:
        return None, None
    token = next((t for t in pairable_tokens(tenant) if str(t.id) == raw), None)
    if token is None:
        return None, "请选择本地有效的接口令牌（或不关联令牌）"
    own = role_of(token.role).platform
    if platform in PLATFORMS and own != platform:
        return None, f"令牌“{token.name}”的岗位属于{PLATFORMS[own]}，与对接平台{PLATFORMS[platform]}不一致"
    return token.id, None


def register(tenant: Tenant, actor: Actor, *, name: str, platform: str, url: str,
             token: str = "") -> tuple[Webhook, str]:
    """Register an endpoint (optionally paired with the API token the system calls us with, by id);
    returns it with its new shared secret (shown once)."""
    check(actor.role, "webhooks.manage")
    name, url = (name or "").strip(), (url or "").strip()
    errors: dict[str, str] = {}
    token_id, problem = _token_problem(tenant, str(token or "").strip(), platform)
    if problem:
        errors["token_id"] = problem
    if not name or len(name) > 64:
        errors["name"] = "请填写对接系统名称（不超过64字）"
    if platform not in tenant.platforms or platform not in PLATFORMS:
        errors["platform"] = f"请选择本地已开通的平台（{'、'.join(tenant.platforms)}）"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
        errors["url"] = "接收地址应为 http:// 或 https:// 开头的完整网址"
    if errors:
        raise WebhookError(errors)
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(tenant_id=tenant.id, name=name, platform=platform, url=url, secret=secret, token_id=token_id,
                   created_by_id=actor.user.id if actor.user else None)
    db.session.add(hook)
    db.session.flush()
    audit.record(actor, "webhook.create", hook, detail={"name": name, "platform": platform, "url": url})
    return hook, secret


def deactivate(hook: Webhook, actor: Actor) -> None:
    check(actor.role, "webhooks.manage")
    hook.active = False
    db.session.flush()
    audit.record(actor, "webhook.deactivate", hook, detail={"name": hook.name})


def deliveries(tenant: Tenant, *, failed_only: bool = False):
    """The tenant's webhook messages, newest first (a statement, for the caller to page)."""
    box = outbox.OutboxMessage
    stmt = select(box).where(box.tenant_id == tenant.id, box.kind == "webhook")
    if failed_only:
        stmt = stmt.where(box.status == "failed")
    return stmt.order_by(box.id.desc())


def event_label(event: str) -> str:
    return EVENTS.get(event, event)
