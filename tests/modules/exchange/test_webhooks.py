"""Webhooks to external systems, delivered by a real RQ worker to a real HTTP receiver: signed,
thin (no caller's personal data), retried with backoff, failed for good and retried by an admin,
sent only to active endpoints of the tenant and platform concerned."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from saas import jobs, outbox
from saas.db import as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from saas.outbox import OutboxMessage
from modules.exchange import service as exchange
from modules.exchange.models import Webhook
from tests.factories import context_of
from tests.modules.exchange.harness import (
    CALLER_ADDRESS, CALLER_NAME, CALLER_PHONE, accept, deactivate, get, register, run_worker, send_up, update,
    webhook_rows,
)

SWEEP = "saas.outbox:sweep"
ROUTE_UP = [("140105", "110", "origin"), ("140100", "110", "pending"), ("140100", "12345", "waiting")]


def _route(body: dict) -> list[tuple]:
    return [(h["tenant"], h["platform"], h["status"]) for h in body["transfer"]["route"]]


def _due(row_id: int) -> None:
    """Skip the wait: the row's backoff is over and it is older than the sweep's minute."""
    update(OutboxMessage, row_id, available_at=utcnow() - timedelta(seconds=1),
           created_at=utcnow() - timedelta(minutes=2))


def _sweep_and_work() -> None:
    jobs.fan_out(SWEEP)
    run_worker()


def test_the_hub_110s_system_hears_of_a_transfer_signed_and_without_personal_data(world, receiver):
    hook_id, secret = register("ty_admin", "140100", receiver.url("/ty110"))
    case_id, transfer_id, number = send_up()
    (row,) = webhook_rows(hook_id)
    assert (row.tenant_id, row.status, row.attempts) == (world["140100"].id, "pending", 0)
    assert row.payload == {"webhook_id": hook_id, "event": "transfer.pending", "message_id": row.payload["message_id"],
                           "transfer_id": transfer_id}
    run_worker()
    (got,) = receiver.requests_of("/ty110")
    assert got.headers["x-liandong-event"] == "transfer.pending"
    assert got.headers["x-liandong-message-id"] == row.payload["message_id"]
    assert got.headers["content-type"].startswith("application/json")
    signature = got.headers["x-liandong-signature"]
    assert exchange.verify(secret, signature, got.body)
    assert not exchange.verify(secret, signature, got.body.replace(b"pending", b"accepted"))
    assert not exchange.verify("whsec_" + "x" * 43, signature, got.body)
    body = got.json()
    assert {k: body[k] for k in ("id", "event", "tenant")} == {
        "id": row.payload["message_id"], "event": "transfer.pending", "tenant": "140100"}
    t = body["transfer"]
    assert (t["id"], t["case"], t["status"], t["purpose"]) == (str(transfer_id), str(case_id), "pending", "transfer")
    assert t["current"] == {"tenant": "140100", "platform": "110"}
    assert _route(body) == ROUTE_UP
    text = got.body.decode()
    for personal in (CALLER_NAME, CALLER_NAME[:3], CALLER_PHONE, CALLER_PHONE[-4:], CALLER_ADDRESS, "体育路"):
        assert personal not in text, f"{personal!r} leaked into the webhook body"
    row = get(OutboxMessage, row.id)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None) and row.delivered_at is not None
    assert receiver.effects_of("/ty110") == {got.message_id}


def test_a_receiver_failing_twice_gets_the_message_on_the_third_attempt_once(world, receiver):
    receiver.failures["/ty110"] = 2
    hook_id, secret = register("ty_admin", "140100", receiver.url("/ty110"))
    send_up()
    (row,) = webhook_rows(hook_id)
    started = utcnow()
    run_worker()
    first = get(OutboxMessage, row.id)
    assert (first.status, first.attempts, first.delivered_at) == ("pending", 1, None)
    assert first.last_error == "RuntimeError: 接收方返回 HTTP 500"
    assert first.available_at >= started + timedelta(seconds=outbox.BACKOFF[0])
    # Not due yet: neither the sweep nor a stray duplicate job sends it before its backoff is over.
    jobs.enqueue(outbox.deliver, row.id, tenant_id=world["140100"].id)
    _sweep_and_work()
    assert get(OutboxMessage, row.id).attempts == 1 and len(receiver.requests_of("/ty110")) == 1

    _due(row.id)
    started = utcnow()
    _sweep_and_work()
    second = get(OutboxMessage, row.id)
    assert (second.status, second.attempts, second.delivered_at) == ("pending", 2, None)
    assert second.last_error == "RuntimeError: 接收方返回 HTTP 500"
    assert second.available_at >= started + timedelta(seconds=outbox.BACKOFF[1])

    _due(row.id)
    _sweep_and_work()
    third = get(OutboxMessage, row.id)
    assert (third.status, third.attempts, third.last_error) == ("delivered", 3, None)
    assert third.delivered_at is not None
    got = receiver.requests_of("/ty110")
    assert [(r.status, r.applied) for r in got] == [(500, False), (500, False), (200, True)]
    assert {r.message_id for r in got} == {row.payload["message_id"]}  # the same message each time
    assert all(exchange.verify(secret, r.headers["x-liandong-signature"], r.body) for r in got)
    assert receiver.effects_of("/ty110") == {row.payload["message_id"]}
    _due(row.id)
    _sweep_and_work()  # delivered rows are never sent again
    assert len(receiver.requests_of("/ty110")) == 3


def test_a_message_failing_past_the_backoff_list_is_failed_visible_and_an_admin_retries_it(world, receiver):
    receiver.failures["/ty110"] = len(outbox.BACKOFF) + 1
    hook_id, _ = register("ty_admin", "140100", receiver.url("/ty110"))
    send_up()
    (row,) = webhook_rows(hook_id)
    run_worker()
    for attempt in range(2, len(outbox.BACKOFF) + 2):
        assert get(OutboxMessage, row.id).status == "pending"
        _due(row.id)
        _sweep_and_work()
        assert get(OutboxMessage, row.id).attempts == attempt
    failed = get(OutboxMessage, row.id)
    assert (failed.status, failed.attempts, failed.delivered_at) == ("failed", len(outbox.BACKOFF) + 1, None)
    assert failed.last_error == "RuntimeError: 接收方返回 HTTP 500"
    assert [r.status for r in receiver.requests_of("/ty110")] == [500] * (len(outbox.BACKOFF) + 1)
    admin = context_of("ty_admin", "140100")
    with as_tenant(admin.context):  # what the deliveries page lists for the hub admin
        shown = db.session.scalars(exchange.deliveries(admin.tenant))
        assert [(r.id, r.status, r.last_error) for r in shown] == [(row.id, "failed", failed.last_error)]
    db.session.rollback()
    _due(row.id)
    _sweep_and_work()  # the sweep leaves a failed row alone
    assert len(receiver.requests_of("/ty110")) == len(outbox.BACKOFF) + 1

    with as_tenant(admin.context), transaction():
        outbox.retry(db.session.scalar(select(OutboxMessage).where(OutboxMessage.id == row.id)))
    retried = get(OutboxMessage, row.id)
    assert (retried.status, retried.attempts) == ("pending", 0)
    run_worker()  # the retry was queued when it committed: no sweep needed
    done = get(OutboxMessage, row.id)
    assert (done.status, done.attempts, done.last_error) == ("delivered", 1, None)
    got = receiver.requests_of("/ty110")
    assert [r.status for r in got[-2:]] == [500, 200]
    assert {r.message_id for r in got} == {row.payload["message_id"]}
    assert receiver.effects_of("/ty110") == {row.payload["message_id"]}


def test_only_active_webhooks_of_the_tenant_and_platform_concerned_receive(world, receiver):
    hub_110, _ = register("ty_admin", "140100", receiver.url("/ty110"))
    off, _ = register("ty_admin", "140100", receiver.url("/ty110-old"), name="旧系统（演示）")
    deactivate("ty_admin", "140100", off)
    late, _ = register("ty_admin", "140100", receiver.url("/ty110-late"), name="停用中的系统（演示）")
    hub_12345, _ = register("ty_admin", "140100", receiver.url("/ty12345"), platform="12345", name="市12345系统（演示）")
    other_hub, _ = register("cq_admin", "500000", receiver.url("/cq110"), name="重庆110系统（演示）")
    _, transfer_id, _ = send_up()
    assert [r.payload["webhook_id"] for r in webhook_rows()] == [hub_110, late]  # no row for the inactive one
    deactivate("ty_admin", "140100", late)  # deactivated after the message was written: it is not sent
    run_worker()
    assert [(r.path, r.json()["event"]) for r in receiver.requests] == [("/ty110", "transfer.pending")]
    accept("ty_110", "140100", transfer_id)  # forwarded to the hub 12345: now its system hears of it
    run_worker()
    (got,) = receiver.requests_of("/ty12345")
    assert got.json()["transfer"]["current"] == {"tenant": "140100", "platform": "12345"}
    assert receiver.requests_of("/ty110-old") == receiver.requests_of("/ty110-late") == []
    assert receiver.requests_of("/cq110") == []
    assert [r.payload["webhook_id"] for r in webhook_rows(other_hub)] == []
    assert [r.status for r in webhook_rows(hub_110)] == [r.status for r in webhook_rows(hub_12345)] == ["delivered"]
    assert [(r.status, r.last_error) for r in webhook_rows(late)] == [("cancelled", "对接系统已停用，消息未发送")]


def test_the_sending_countys_system_hears_of_the_acceptance_with_the_whole_route(world, receiver):
    """The message to the sender's tenant is built in that tenant's job context; the route passes
    through the hub, whose hops that context does not read by itself."""
    with as_tenant(system_context()), transaction():  # county admins do not register webhooks
        hook = Webhook(tenant_id=world["140105"].id, name="小店区110系统（演示）", platform="110",
                       url=receiver.url("/xd110"), secret="whsec_county_test")
        db.session.add(hook)
        db.session.flush()
        hook_id = hook.id
    _, transfer_id, _ = send_up()
    accept("ty_110", "140100", transfer_id)
    accept("ty_agent", "140100", transfer_id)
    run_worker()
    (got,) = receiver.requests_of("/xd110")
    assert exchange.verify("whsec_county_test", got.headers["x-liandong-signature"], got.body)
    body = got.json()
    assert (body["event"], body["tenant"], body["transfer"]["status"]) == ("transfer.accepted", "140105", "accepted")
    assert _route(body) == [("140105", "110", "origin"), ("140100", "110", "forwarded"),
                            ("140100", "12345", "accepted")]
    assert body["transfer"]["to"] == {"tenant": "140100", "platform": "12345"}
    assert [r.status for r in webhook_rows(hook_id)] == ["delivered"]
