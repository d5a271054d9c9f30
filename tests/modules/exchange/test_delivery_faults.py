"""No transfer lost or applied twice, with real processes: a worker killed with SIGKILL while it
delivers, and Redis losing all its data before any worker ran. The outbox row in the database is
the record; the receiver deduplicates by message id."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from rq.job import Job
from sqlalchemy import select

from saas import jobs, outbox
from saas.db import utcnow
from saas.extensions import db
from saas.outbox import OutboxMessage
from saas.redis import redis
from modules.cases.models import Case
from modules.transfers.models import Transfer
from tests.modules.exchange.harness import (
    DEADLINE, get, kill_9, lockable, read, register, rows, run_worker, scheduler_enqueues, send_up, start_worker,
    update, webhook_rows, work_horse,
)

SWEEP = "saas.outbox:sweep"


def _older_than_the_sweeps_minute(*row_ids: int) -> None:
    for row_id in row_ids:
        update(OutboxMessage, row_id, created_at=utcnow() - timedelta(minutes=2))


def test_a_worker_killed_while_delivering_leads_to_exactly_one_effect(world, receiver):
    hook_id, _ = register("ty_admin", "140100", receiver.url("/ty110"))
    receiver.hold = threading.Event()  # the first request is applied, then left hanging
    send_up()
    (row,) = webhook_rows(hook_id)
    message_id = row.payload["message_id"]
    worker = start_worker()
    try:
        assert receiver.holding.wait(DEADLINE), "the worker never reached the receiver"
        horse = work_horse(worker)
        mid = get(OutboxMessage, row.id)  # the delivery is under way: nothing is marked yet
        assert (mid.status, mid.attempts, mid.delivered_at) == ("pending", 0, None)
        assert horse in kill_9(worker)
    finally:
        if worker.poll() is None:
            kill_9(worker)
        receiver.hold.set()  # the held request ends; its answer goes to a dead socket
    assert worker.returncode == -9
    dead = get(OutboxMessage, row.id)  # the killed attempt died with its transaction
    assert (dead.status, dead.attempts, dead.delivered_at) == ("pending", 0, None)
    assert [(r.message_id, r.applied) for r in receiver.requests_of("/ty110")] == [(message_id, True)]

    lockable(row.id)
    _older_than_the_sweeps_minute(row.id)
    jobs.fan_out(SWEEP)
    run_worker()  # a new worker: the sweep finds the row still pending and sends it again
    done = get(OutboxMessage, row.id)
    assert (done.status, done.attempts, done.last_error) == ("delivered", 1, None)
    got = receiver.requests_of("/ty110")
    assert [(r.message_id, r.applied) for r in got] == [(message_id, True), (message_id, False)]
    assert receiver.effects_of("/ty110") == {message_id}  # exactly one effect
    assert [r.id for r in webhook_rows(hook_id)] == [row.id]
    jobs.fan_out(SWEEP)
    run_worker()
    assert len(receiver.requests_of("/ty110")) == 2  # delivered once in the database: never again


def test_redis_losing_its_data_loses_no_transfer(world, receiver):
    hook_id, _ = register("ty_admin", "140100", receiver.url("/ty110"))
    case_id, transfer_id, number = send_up()
    (row,) = webhook_rows(hook_id)
    queued = [j for j in jobs.queue("urgent").jobs if j.args[0] == "saas.outbox:deliver"]
    assert [j.args[3] for j in queued if j.args[3] == [row.id]] == [[row.id]]  # enqueued after the commit
    everything = [r.id for r in rows(OutboxMessage)]  # the desk's notification too
    assert len(queued) == len(everything)

    redis().flushdb()  # Redis restarts with its data lost, before any worker ran
    assert jobs.queue("urgent").count == 0
    run_worker()
    assert receiver.requests == []
    assert {(r.status, r.attempts) for r in rows(OutboxMessage)} == {("pending", 0)}

    _older_than_the_sweeps_minute(*everything)
    scheduler_enqueues(SWEEP)  # the real scheduler queues the sweep's fan-out ...
    run_worker()  # ... a worker fans it out to every tenant, sweeps and delivers
    done = get(OutboxMessage, row.id)
    assert (done.status, done.attempts) == ("delivered", 1)
    assert {r.status for r in rows(OutboxMessage)} == {"delivered"}
    (got,) = receiver.requests_of("/ty110")
    assert (got.message_id, got.json()["transfer"]["id"]) == (row.payload["message_id"], str(transfer_id))
    assert receiver.effects_of("/ty110") == {row.payload["message_id"]}

    def transfer_state():  # the transfer itself never depended on Redis
        t = db.session.scalar(select(Transfer).where(Transfer.id == transfer_id))
        return t.status, t.case_id, t.current_seq, [(h.seq, h.tenant_id, h.status) for h in t.hops]

    assert read(transfer_state) == ("pending", case_id, 1, [
        (0, world["140105"].id, "origin"), (1, world["140100"].id, "pending"), (2, world["140100"].id, "waiting")])
    case = get(Case, case_id)
    assert (case.number, case.status, case.tenant_id) == (number, "transferring", world["140105"].id)

    jobs.fan_out(SWEEP)
    run_worker()
    assert len(receiver.requests_of("/ty110")) == 1


def test_while_one_worker_delivers_a_second_worker_skips_the_locked_row(world, receiver):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no row locks (with_for_update is a no-op): two workers at once may both send, "
                    "which the receiver's dedup by message id absorbs; the kill test holds on SQLite")
    hook_id, _ = register("ty_admin", "140100", receiver.url("/ty110"))
    receiver.hold = threading.Event()
    send_up()
    (row,) = webhook_rows(hook_id)
    first = start_worker()
    try:
        assert receiver.holding.wait(DEADLINE), "the first worker never reached the receiver"
        duplicate = jobs.enqueue(outbox.deliver, row.id, tenant_id=world["140100"].id)
        run_worker()  # a second worker while the first one holds the row
        assert Job.fetch(duplicate.id, connection=redis()).return_value() == "skipped"
        assert len(receiver.requests_of("/ty110")) == 1
    finally:
        receiver.hold.set()
        try:
            first.wait(timeout=DEADLINE)
        finally:
            if first.poll() is None:
                kill_9(first)
    assert first.returncode == 0
    done = get(OutboxMessage, row.id)
    assert (done.status, done.attempts) == ("delivered", 1)
    assert len(receiver.requests_of("/ty110")) == 1
