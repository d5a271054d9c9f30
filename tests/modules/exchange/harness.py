"""The exchange's test harness: a real HTTP receiver in this process, real RQ workers in their own
processes, the real database and Redis of the run (see tests/conftest.py).

The receiver stands for an external system (a city's own 110 dispatch system): it records every
request it gets and applies each message's effect once, deduplicating by X-Liandong-Message-Id as
the exchange asks receivers to. A test can script failures per path (HTTP 500 for the first n
requests) and hold the first request open to kill the worker that sent it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import select

from saas import jobs
from saas.db import as_tenant, system_context, transaction
from saas.extensions import db
from saas.outbox import OutboxMessage
from modules.cases import service as cases
from modules.exchange import service as exchange
from modules.transfers import service as transfers
from tests import conftest
from tests.factories import as_system, context_of

ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 180  # seconds: two cores shared with other test runs; every wait polls up to this
CALLER_NAME = "王秀英（演示）"
CALLER_PHONE = "13912345678"
CALLER_ADDRESS = "小店区体育路88号3单元（演示）"


# ---- the receiver --------------------------------------------------------------------------------

@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int
    applied: bool  # this request's message had not been seen: its effect was applied

    @property
    def message_id(self) -> str | None:
        return self.headers.get("x-liandong-message-id")

    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A threaded HTTP server on 127.0.0.1 (a free port) that deduplicates by message id."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[Received] = []
        self.effects: dict[str, str] = {}  # message id -> path: each message's effect, applied once
        self.failures: dict[str, int] = {}  # path -> how many more requests answer HTTP 500
        self.hold: threading.Event | None = None  # set by a test: the first request waits for it
        self.holding = threading.Event()  # the held request arrived (its effect is applied)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, hold = receiver.record(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                if hold is not None:
                    hold.wait(DEADLINE)  # the sender is killed meanwhile; nobody reads the answer
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender died while we held its request
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def record(self, path: str, headers: dict, body: bytes) -> tuple[int, threading.Event | None]:
        with self.lock:
            status = 200
            if self.failures.get(path, 0) > 0:
                self.failures[path] -= 1
                status = 500
            message_id = headers.get("x-liandong-message-id")
            applied = status == 200 and message_id is not None and message_id not in self.effects
            if applied:
                self.effects[message_id] = path
            hold = None
            if self.hold is not None and not self.holding.is_set():
                hold = self.hold
                self.holding.set()
            self.requests.append(Received(path, headers, body, status, applied))
            return status, hold

    def requests_of(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def effects_of(self, path: str) -> set[str]:
        with self.lock:
            return {m for m, p in self.effects.items() if p == path}

    def close(self):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


# ---- workers and the scheduler, as real processes ----------------------------------------------

def flask_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def run_worker() -> subprocess.CompletedProcess:
    """A forking `flask worker --burst`: runs every queued job (and those they queue), then exits."""
    return conftest.run_worker(timeout=DEADLINE)


def start_worker() -> subprocess.Popen:
    return subprocess.Popen(flask_cmd("worker", "--burst"), cwd=ROOT, env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc): a worker's work horse and its scheduler."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def work_horse(worker: subprocess.Popen) -> int:
    """The forked process that runs the job: RQ puts it in a process group of its own."""
    for pid in children(worker.pid):
        try:
            if os.getpgid(pid) == pid:
                return pid
        except ProcessLookupError:
            continue
    raise AssertionError("the worker has no work horse")


def kill_9(worker: subprocess.Popen) -> list[int]:
    """kill -9 the worker and everything it forked (the horse, RQ's scheduler), each by its pid:
    the parent first, so nobody is left to notice the horse dying and mark the job."""
    offspring = children(worker.pid)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=DEADLINE)
    for pid in offspring:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + DEADLINE
    while any(os.path.exists(f"/proc/{pid}") and _state(pid) != "Z" for pid in offspring):
        assert time.monotonic() < deadline, "the killed worker's processes are still alive"
        time.sleep(0.05)
    return offspring


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def scheduler_enqueues(path: str) -> None:
    """Run the real scheduler (`flask scheduler`) until it has queued the fan-out of `path`."""
    proc = subprocess.Popen(flask_cmd("scheduler"), cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + DEADLINE
        while not any(j.func_name == "saas.jobs.fan_out" and j.args[0] == path for j in jobs.queue("low").jobs):
            assert proc.poll() is None, "the scheduler exited"
            assert time.monotonic() < deadline, f"the scheduler did not queue {path}"
            time.sleep(0.2)
    finally:  # it stops at its next tick (up to a minute away): no need to wait for that
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=DEADLINE)


# ---- the database, read and written as the system ----------------------------------------------

read = as_system  # read as the system after dropping what this session remembers (other processes wrote)


def get(model, id_):
    return read(lambda: db.session.scalar(select(model).where(model.id == id_)))


def rows(model, *where):
    return read(lambda: list(db.session.scalars(select(model).where(*where).order_by(model.id))))


def update(model, id_, **values):
    db.session.rollback()
    with as_tenant(system_context()), transaction():
        row = db.session.scalar(select(model).where(model.id == id_))
        for name, value in values.items():
            setattr(row, name, value)


def webhook_rows(hook_id: int | None = None) -> list[OutboxMessage]:
    found = rows(OutboxMessage, OutboxMessage.kind == "webhook")
    return [r for r in found if hook_id is None or r.payload["webhook_id"] == hook_id]


def lockable(outbox_id: int) -> None:
    """Wait until nobody holds the row's lock (the killed worker's connection is gone). A no-op on
    SQLite, whose row lock is a no-op; on PostgreSQL the server notices the dead client at once."""
    deadline = time.monotonic() + DEADLINE
    while True:
        db.session.rollback()
        with as_tenant(system_context()):
            got = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.id == outbox_id)
                                    .with_for_update(skip_locked=True))
        db.session.rollback()
        if got is not None:
            return
        assert time.monotonic() < deadline, "the killed worker still holds the outbox row"
        time.sleep(0.1)


# ---- the product, through its services ---------------------------------------------------------

def register(username: str, code: str, url: str, platform: str = "110", name: str = "市110接处警系统（演示）"):
    """A hub admin registers an external system's endpoint; returns (webhook id, shared secret)."""
    admin = context_of(username, code)
    with as_tenant(admin.context), transaction():
        hook, secret = exchange.register(admin.tenant, admin, name=name, platform=platform, url=url)
        hook_id = hook.id
    return hook_id, secret


def deactivate(username: str, code: str, hook_id: int) -> None:
    from modules.exchange.models import Webhook

    admin = context_of(username, code)
    with as_tenant(admin.context), transaction():
        exchange.deactivate(db.session.scalar(select(Webhook).where(Webhook.id == hook_id)), admin)


def send_up() -> tuple[int, int, str]:
    """小店区 110 takes a call that is not a police matter and transfers it up (to 太原市 110, then
    太原市 12345). Returns (case id, transfer id, case number)."""
    desk = context_of("xd_110", "140105")
    with as_tenant(desk.context), transaction():
        case = cases.intake(desk.tenant, desk, cases.IntakeData(
            text="楼上邻居装修噪音，白天持续施工（演示）", kind="报警", caller_name=CALLER_NAME,
            caller_phone=CALLER_PHONE, address=CALLER_ADDRESS))
        t = transfers.send(case, desk, transfers.TransferData(to="12345", reason="非警务类，属城管职责（演示）"))
        ids = case.id, t.id, case.number
    return ids


def accept(username: str, code: str, transfer_id: int) -> None:
    actor = context_of(username, code)
    with as_tenant(actor.context), transaction():
        transfers.accept(transfers.readable_transfer(transfer_id), actor)
