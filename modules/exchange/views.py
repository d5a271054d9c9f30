"""Exchange pages for a hub admin: webhooks of external systems, their deliveries and retries."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from saas import audit, outbox
from saas.extensions import db
from saas.models import ApiToken
from saas.permissions import require
from saas.templating import render_page
from modules.exchange import service
from modules.exchange.models import Webhook
from tenants.models import PLATFORMS

bp = Blueprint("exchange", __name__, url_prefix="/exchange", template_folder="templates")
PER_PAGE = 50
STATUSES = {"pending": "待投递", "delivered": "已投递", "failed": "失败", "cancelled": "未发送（已停用）"}


def _index_page(*, errors=None, form=None, secret=None, created=None, status: int = 200):
    tenant = g.actor.tenant
    hooks = list(db.session.scalars(select(Webhook).where(Webhook.tenant_id == tenant.id)
                                    .order_by(Webhook.active.desc(), Webhook.created_at.desc(), Webhook.id.desc())))
    tokens = service.pairable_tokens(tenant)
    names = {t.id: t.name for t in db.session.scalars(select(ApiToken).where(ApiToken.tenant_id == tenant.id))}
    return render_template("exchange/index.html", hooks=hooks, tokens=tokens, token_names=names,
                           platforms=[(p, PLATFORMS[p]) for p in tenant.platforms], errors=errors or {},
                           form=form or {}, secret=secret, created=created, events=service.EVENTS), status


@bp.get("/")
@require("webhooks.manage")
def index():
    return _index_page()


@bp.post("/")
@require("webhooks.manage")
def register():
    form = request.form
    try:
        hook, secret = service.register(g.actor.tenant, g.actor, name=form.get("name", ""),
                                        platform=form.get("platform", ""), url=form.get("url", ""),
                                        token=form.get("token_id", "").strip())
    except service.WebhookError as exc:
        return _index_page(errors=exc.errors, form=form, status=422)
    return _index_page(secret=secret, created=hook)


@bp.post("/<int:hook_id>/deactivate")
@require("webhooks.manage")
def deactivate(hook_id: int):
    hook = db.first_or_404(select(Webhook).where(Webhook.id == hook_id, Webhook.tenant_id == g.actor.tenant.id))
    if hook.active:
        service.deactivate(hook, g.actor)
        flash(f"已停用对接系统“{hook.name}”，不再向其发送消息", "success")
    return redirect(url_for("exchange.index"))


@bp.get("/deliveries")
@require("webhooks.manage")
def deliveries():
    failed = request.args.get("failed") == "1"
    page = db.paginate(service.deliveries(g.actor.tenant, failed_only=failed), per_page=PER_PAGE, error_out=False)
    hooks = {h.id: h for h in db.session.scalars(select(Webhook).where(Webhook.tenant_id == g.actor.tenant.id))}
    return render_page("exchange/deliveries.html", block="list", page=page, failed=failed, hooks=hooks,
                       statuses=STATUSES, event_label=service.event_label)


@bp.post("/deliveries/<int:message_id>/retry")
@require("webhooks.manage")
def retry(message_id: int):
    box = outbox.OutboxMessage
    row = db.first_or_404(select(box).where(box.id == message_id, box.tenant_id == g.actor.tenant.id,
                                            box.kind == "webhook", box.status == "failed"))
    hook = db.session.scalar(select(Webhook).where(Webhook.id == row.payload.get("webhook_id")))
    if hook is None or not hook.active:
        flash("该对接系统已停用，不能重发", "error")
    else:
        outbox.retry(row)
        audit.record(g.actor, "outbox.retry", row, detail={"kind": row.kind, "event": row.payload.get("event")})
        flash(f"已重新发送到“{hook.name}”", "success")
    return redirect(url_for("exchange.deliveries", failed="1" if request.args.get("failed") == "1" else None))
