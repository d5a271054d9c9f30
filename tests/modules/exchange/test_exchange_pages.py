"""Exchange pages (对接系统, 投递记录): registering a webhook shows its secret once and stores it;
bad input is refused with nothing written; deliveries list the tenant's webhook messages and a failed
one is sent again. Real DB, real Redis (no worker runs: a re-sent row stays pending)."""
from __future__ import annotations

import re

from sqlalchemy import select, update

from saas.db import as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from saas.models import ApiToken, AuditLog
from saas.outbox import OutboxMessage
from modules.exchange import service as exchange
from modules.exchange.models import Webhook
from tenants.models import Tenant
from tests import factories
from tests.conftest import text_of
from tests.factories import context_of

_count, _read = factories.count_rows, factories.snapshot
URL = "https://110.example.gov.cn/liandong/webhook"


def _hooks():
    return _read(lambda: list(db.session.scalars(select(Webhook).order_by(Webhook.id)
                                                 .execution_options(all_tenants=True))))


def _token(code, role, name) -> int:
    with as_tenant(system_context()), transaction():
        factories.token(db.session.scalar(select(Tenant).where(Tenant.code == code)), role, name=name)
        return db.session.scalar(select(ApiToken.id).where(ApiToken.name == name))


def test_register_shows_the_secret_once_and_stores_it(world, login):
    token_id = _token("140100", "desk_110", "110接处警系统令牌")
    admin = login("ty_admin")
    assert "尚未登记对接系统" in text_of(admin.get("/t/140100/exchange/"))
    response = admin.post("/t/140100/exchange/", {"name": "太原市110接处警系统", "platform": "110", "url": URL,
                                                  "token_id": str(token_id)})
    assert response.status_code == 200, text_of(response)[:400]
    html = response.get_data(as_text=True)
    shown = re.search(r'data-testid="webhook-secret".*?<code class="copy">([^<]+)</code>', html, re.S).group(1)
    assert shown.startswith("whsec_") and "只显示这一次" in text_of(response)
    [hook] = _hooks()
    assert (hook.tenant_id, hook.name, hook.platform, hook.url, hook.active, hook.token_id) == (
        world["140100"].id, "太原市110接处警系统", "110", URL, True, token_id)
    assert hook.secret == shown
    assert _count(AuditLog, AuditLog.action == "webhook.create") == 1
    # afterwards only its prefix is shown
    again = admin.get("/t/140100/exchange/").get_data(as_text=True)
    assert shown not in again and f"{shown[:12]}…" in again
    assert "110接处警系统令牌" in again and URL in again
    # deactivated, with its audit row
    assert admin.post(f"/t/140100/exchange/{hook.id}/deactivate").status_code == 302
    assert _hooks()[0].active is False
    assert _count(AuditLog, AuditLog.action == "webhook.deactivate") == 1
    assert "已停用" in text_of(admin.get("/t/140100/exchange/"))


def test_bad_input_is_refused_with_nothing_written(world, login):
    mismatched = _token("140100", "agent_12345", "12345坐席系统令牌")
    foreign = _token("500000", "desk_110", "重庆令牌")
    admin = login("ty_admin")
    refusals = [
        ({"name": "接处警系统", "platform": "110", "url": "ftp://110.example.gov.cn/hook"},
         "接收地址应为 http:// 或 https:// 开头的完整网址"),
        ({"name": "接处警系统", "platform": "110", "url": "110.example.gov.cn"}, "接收地址应为 http:// 或 https:// 开头的完整网址"),
        ({"name": "", "platform": "110", "url": URL}, "请填写对接系统名称"),
        ({"name": "接处警系统", "platform": "119", "url": URL}, "请选择本地已开通的平台"),
        ({"name": "接处警系统", "platform": "110", "url": URL, "token_id": str(mismatched)},
         "令牌“12345坐席系统令牌”的岗位属于12345热线，与对接平台110报警服务台不一致"),
        ({"name": "接处警系统", "platform": "110", "url": URL, "token_id": str(foreign)}, "请选择本地有效的接口令牌"),
    ]
    for form, message in refusals:
        response = admin.post("/t/140100/exchange/", form)
        assert response.status_code == 422, form
        assert message in text_of(response), (form, text_of(response)[:600])
        assert 'data-testid="webhook-secret"' not in response.get_data(as_text=True)
    assert _hooks() == [] and _count(AuditLog, AuditLog.action == "webhook.create") == 0
    kept = admin.post("/t/140100/exchange/", {"name": "接处警系统", "platform": "110", "url": "ftp://x"})
    assert 'value="接处警系统"' in kept.get_data(as_text=True) and 'value="ftp://x"' in kept.get_data(as_text=True)


def _deliveries(world):
    """A webhook of 太原 110 with one delivered and one failed message, and one of 重庆."""
    ty, cq = context_of("ty_admin", "140100"), context_of("cq_admin", "500000")
    with as_tenant(ty.context), transaction():
        hook, _ = exchange.register(world["140100"], ty, name="太原市110接处警系统", platform="110",
                                    url="http://127.0.0.1:9/hook")
        exchange.publish(world["140100"].id, "110", "transfer.pending", transfer_id=1)
        exchange.publish(world["140100"].id, "110", "transfer.accepted", transfer_id=1)
    with as_tenant(cq.context), transaction():
        exchange.register(world["500000"], cq, name="重庆110", platform="110", url="http://127.0.0.1:9/cq")
        exchange.publish(world["500000"].id, "110", "transfer.pending", transfer_id=2)
    rows = _read(lambda: list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "webhook")
                                                 .order_by(OutboxMessage.id).execution_options(all_tenants=True))))
    pending, accepted, foreign = (r.id for r in rows)
    with as_tenant(system_context()), transaction():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == pending).values(
            status="delivered", attempts=1, delivered_at=utcnow()))
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_((accepted, foreign))).values(
            status="failed", attempts=8, last_error="RuntimeError: 接收方返回 HTTP 503"))
    return hook.id, pending, accepted, foreign


def test_deliveries_list_filter_and_retry(world, login):
    _, delivered, failed, foreign = _deliveries(world)
    admin = login("ty_admin")
    page = admin.get("/t/140100/exchange/deliveries")
    assert page.status_code == 200
    text, html = text_of(page), page.get_data(as_text=True)
    assert "转办到达本方待接收" in text and "本方发起的转办被接收" in text
    assert "接收方返回 HTTP 503" in text and "太原市110接处警系统" in text and "重庆110" not in text
    assert html.count('data-testid="delivery-delivered"') == 1 and html.count('data-testid="delivery-failed"') == 1
    only_failed = admin.get("/t/140100/exchange/deliveries?failed=1").get_data(as_text=True)
    assert only_failed.count('data-testid="delivery-failed"') == 1 and "delivery-delivered" not in only_failed
    # a delivered row and another tenant's row cannot be re-sent
    assert admin.post(f"/t/140100/exchange/deliveries/{delivered}/retry").status_code == 404
    assert admin.post(f"/t/140100/exchange/deliveries/{foreign}/retry").status_code == 404
    response = admin.post(f"/t/140100/exchange/deliveries/{failed}/retry?failed=1")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/t/140100/exchange/deliveries?failed=1")
    row = _read(lambda: db.session.scalar(select(OutboxMessage).where(OutboxMessage.id == failed)
                                          .execution_options(all_tenants=True)))
    assert (row.status, row.attempts) == ("pending", 0)
    assert _count(AuditLog, AuditLog.action == "outbox.retry") == 1
    assert "没有投递失败的消息" in text_of(admin.get("/t/140100/exchange/deliveries?failed=1"))


def test_retry_refused_once_the_webhook_is_deactivated(world, login):
    hook_id, _, failed, _ = _deliveries(world)
    admin = login("ty_admin")
    admin.post(f"/t/140100/exchange/{hook_id}/deactivate")
    page = admin.get("/t/140100/exchange/deliveries?failed=1").get_data(as_text=True)
    assert "（已停用）" in page and f"/deliveries/{failed}/retry" not in page
    admin.post(f"/t/140100/exchange/deliveries/{failed}/retry")
    assert "该对接系统已停用，不能重发" in text_of(admin.get("/t/140100/exchange/deliveries"))
    assert _read(lambda: db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == failed)
                                           .execution_options(all_tenants=True))) == "failed"


def test_exchange_permissions(world, login):
    hook_id, _, failed, _ = _deliveries(world)
    agent = login("ty_agent")
    for url in ("/t/140100/exchange/", "/t/140100/exchange/deliveries"):
        assert agent.get(url).status_code == 403
    assert agent.post("/t/140100/exchange/", {"name": "x", "platform": "110", "url": URL}).status_code == 403
    assert agent.post(f"/t/140100/exchange/deliveries/{failed}/retry").status_code == 403
    assert login("ty_supervisor").get("/t/140100/exchange/").status_code == 403
    yz = login("yz_admin")
    assert yz.get("/t/140100/exchange/").status_code == 404
    assert yz.get("/t/140100/exchange/deliveries").status_code == 404
    cq = login("cq_admin")
    assert cq.post(f"/t/500000/exchange/{hook_id}/deactivate").status_code == 404
    assert cq.post(f"/t/500000/exchange/deliveries/{failed}/retry").status_code == 404
    assert "太原市110接处警系统" not in text_of(cq.get("/t/500000/exchange/"))
    assert _hooks()[0].active is True
