"""The after-commit enqueue of outbox rows: a message written in a transaction is queued when that
transaction commits, whatever savepoints rolled back inside it, and never when it rolls back."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from saas import jobs
from saas.db import as_tenant, transaction
from saas.extensions import db
from saas.outbox import OutboxMessage
from modules.exchange import service as exchange
from tests.factories import context_of
from tests.modules.exchange.harness import get, register, rows, run_worker

DELIVER = "saas.outbox:deliver"


def _queued() -> list[int]:
    return sorted(j.args[3][0] for j in jobs.queue("urgent").jobs if j.args[0] == DELIVER)


def test_a_savepoint_rolled_back_does_not_unqueue_the_messages_written_before_it(world, receiver):
    hook_id, _ = register("ty_admin", "140100", receiver.url("/ty110"))
    admin = context_of("ty_admin", "140100")
    with as_tenant(admin.context), transaction():
        assert exchange.publish(world["140100"].id, "110", "transfer.pending", transfer_id=None) == 1
        with pytest.raises(RuntimeError):
            with db.session.begin_nested():  # e.g. an Idempotency-Key insert losing a race
                exchange.publish(world["140100"].id, "110", "transfer.rejected", transfer_id=None)
                raise RuntimeError("step refused")
    (row,) = rows(OutboxMessage)
    assert row.payload["event"] == "transfer.pending"
    assert row.id in _queued()  # queued at commit, not left for the sweep a minute later
    run_worker()
    assert get(OutboxMessage, row.id).status == "delivered"
    assert [r.json()["event"] for r in receiver.requests_of("/ty110")] == ["transfer.pending"]
    assert hook_id == row.payload["webhook_id"]


def test_a_transaction_rolled_back_writes_and_queues_nothing(world, receiver):
    register("ty_admin", "140100", receiver.url("/ty110"))
    admin = context_of("ty_admin", "140100")
    with pytest.raises(RuntimeError):
        with as_tenant(admin.context), transaction():
            exchange.publish(world["140100"].id, "110", "transfer.pending", transfer_id=None)
            raise RuntimeError("the change failed")
    with as_tenant(admin.context):
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    db.session.rollback()
    assert _queued() == []
    with as_tenant(admin.context), transaction():  # the session goes on: the next commit queues only its own
        exchange.publish(world["140100"].id, "110", "transfer.accepted", transfer_id=None)
    (row,) = rows(OutboxMessage)
    assert _queued() == [row.id]
