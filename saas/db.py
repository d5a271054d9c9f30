"""The scoped session: tenant context, the fail-closed tenant filter and the write wall.

Every ORM statement that touches a `TenantOwned` table is filtered to the tenants the current
context may read; with no context it raises. Flushing a `TenantOwned` row outside the tenants the
context may write raises. The one way to read across tenants is the execution option
`all_tenants=True` (grep for it); the one way to write anywhere is `system_context()` (CLI only).
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from select import select as ready_to_read
from time import monotonic

from flask import g, has_app_context
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import DateTime, Engine, ForeignKey, event, inspect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool
from sqlalchemy.orm import (Mapped, declared_attr, make_transient_to_detached, mapped_column, relationship,
                            with_loader_criteria)
from sqlalchemy.types import TypeDecorator


class TenantContextMissing(RuntimeError):
    """A tenant-owned table was queried or written with no tenant context set."""


class TenantWriteRefused(PermissionError):
    """A tenant-owned row was about to be written outside the tenants the context may write."""


@dataclass(frozen=True)
class TenantContext:
    """Who acts, in which tenant, and which tenants they may read and write."""

    tenant_id: int | None
    read_ids: frozenset[int] = field(default_factory=frozenset)
    write_ids: frozenset[int] = field(default_factory=frozenset)
    actor_id: int | None = None
    unrestricted: bool = False

    def may_read(self, tenant_id: int | None) -> bool:
        return self.unrestricted or tenant_id in self.read_ids

    def may_write(self, tenant_id: int | None) -> bool:
        return self.unrestricted or tenant_id in self.write_ids


def current_context() -> TenantContext | None:
    return g.get("_tenant_context") if has_app_context() else None


def set_context(ctx: TenantContext | None) -> None:
    g._tenant_context = ctx


@contextmanager
def as_tenant(ctx: TenantContext):
    """Run a block under `ctx`, restoring the previous context afterwards."""
    previous = current_context()
    set_context(ctx)
    try:
        yield ctx
    finally:
        set_context(previous)


@contextmanager
def crossing(*, read=(), write=()):
    """Widen the current context for one service step whose rule the service has just checked.

    The one sanctioned way for a service to reach another tenant's rows: a unit handler replying to
    a case its hub owns, a hub dispatcher writing an assignment into the county of the unit it
    serves. Grep for `crossing(` to see every one.
    """
    ctx = current_context()
    if ctx is None:
        raise TenantContextMissing("crossing needs a tenant context to widen")
    wider = TenantContext(tenant_id=ctx.tenant_id, read_ids=ctx.read_ids | frozenset(read) | frozenset(write),
                          write_ids=ctx.write_ids | frozenset(write), actor_id=ctx.actor_id,
                          unrestricted=ctx.unrestricted)
    with as_tenant(wider):
        yield wider


def system_context() -> TenantContext:
    """Unrestricted context for the CLI (demo data, maintenance). Never used for a request."""
    return TenantContext(tenant_id=None, unrestricted=True)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on PostgreSQL and SQLite alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware datetimes only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TenantOwned:
    """Mixin for every table whose rows belong to one tenant."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("tenants.id"), index=True, nullable=False)

    @declared_attr
    def tenant(cls):
        return relationship("Tenant", lazy="joined", innerjoin=True, foreign_keys=[cls.tenant_id])


def attach_loaded(model, values: dict):
    """A row whose column values are known (remembered from an earlier request, or returned by the
    INSERT that wrote it), put into this request's session without a query: built as a load builds
    it (values straight into the instance's dict: no constructor, no change events), then attached
    under its identity. An instance already in the session wins."""
    obj = inspect(model).class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    from saas.extensions import db

    present = db.session.identity_map.get(inspect(obj).key)
    if present is not None:
        return present
    db.session.add(obj)
    return obj


def require_writable(tenant_id: int, what: str) -> None:
    """The write wall: checked for every row a flush writes, and by services that write rows with
    a statement of their own."""
    ctx = current_context()
    if ctx is None:
        raise TenantContextMissing(f"no tenant context: {what} cannot be written")
    if not ctx.may_write(tenant_id):
        raise TenantWriteRefused(f"{what} of tenant {tenant_id} is outside this context")


def tenant_owned_models() -> list[type]:
    """Every mapped TenantOwned class (the generic isolation test walks this list)."""
    from saas.extensions import db

    return sorted(
        (m.class_ for m in db.Model.registry.mappers if issubclass(m.class_, TenantOwned)),
        key=lambda cls: cls.__name__,
    )


class TenantSession(FlaskSession):
    """Flask-SQLAlchemy's session with the tenant filter and write wall attached (below).

    `get()` may answer from the identity map without SQL, so it checks the tenant itself. A
    many-to-one lazy load can also be answered from the identity map; that is safe because a
    session lives exactly as long as its context (one per request, one per job), so everything in
    it came through filtered queries. Never carry objects from one context's session into another.
    """

    def get(self, entity, ident, **kwargs):
        obj = super().get(entity, ident, **kwargs)
        if isinstance(obj, TenantOwned) and not _readable(obj):
            return None
        return obj


def _readable(obj) -> bool:
    ctx = current_context()
    if ctx is None:
        raise TenantContextMissing(f"no tenant context: {type(obj).__name__} cannot be read")
    return ctx.may_read(obj.tenant_id)


def _touches_tenant_owned(state) -> bool:
    return any(issubclass(m.class_, TenantOwned) for m in state.all_mappers)


@event.listens_for(TenantSession, "do_orm_execute")
def _filter_by_tenant(state) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.execution_options.get("all_tenants"):
        return
    ctx = current_context()
    if ctx is not None and ctx.unrestricted:
        return
    if ctx is None:
        if _touches_tenant_owned(state):
            raise TenantContextMissing("no tenant context: tenant-owned data cannot be read")
        ids: list[int] = []  # joined tenant-owned tables yield nothing without a context
    else:
        ids = sorted(ctx.read_ids if state.is_select else ctx.write_ids)
    state.statement = state.statement.options(
        with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id.in_(ids), include_aliases=True)
    )


@event.listens_for(TenantSession, "before_flush")
def _refuse_foreign_writes(session, flush_context, instances) -> None:
    ctx = current_context()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, TenantOwned):
            continue
        if ctx is None:
            raise TenantContextMissing(f"no tenant context: {type(obj).__name__} cannot be written")
        if obj.tenant_id is None and getattr(obj, "tenant", None) is not None:
            obj.tenant_id = obj.tenant.id
        if obj.tenant_id is None and ctx.tenant_id is not None and obj in session.new:
            obj.tenant_id = ctx.tenant_id
        require_writable(obj.tenant_id, type(obj).__name__)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, record) -> None:
    """Embedded SQLite: write-ahead log (web, worker and scheduler share the file), foreign keys on."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


PING_AFTER_IDLE_SECONDS = 30


@event.listens_for(Pool, "checkin")
def _note_checkin(dbapi_connection, record) -> None:
    record.info["checked_in_at"] = monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_doubtful(dbapi_connection, record, proxy) -> None:
    """Pessimistic disconnect handling without a round trip per request. A server connection is
    pinged at checkout only when there is reason to doubt it: its socket has something to read
    while idle (the server closed it, or is shutting down, or was restarted), or it sat idle long
    enough for a timeout or a firewall to have dropped it. A dead one is replaced before use."""
    fileno = getattr(dbapi_connection, "fileno", None)
    checked_in_at = record.info.get("checked_in_at")
    if fileno is None or checked_in_at is None:  # embedded SQLite, or a connection just opened
        return
    try:
        readable, _, _ = ready_to_read([fileno()], [], [], 0)
    except Exception as exc:  # the driver closed it already
        raise DisconnectionError("connection found closed at checkout") from exc
    if not readable and monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as exc:  # the driver's own error types differ; any failure means not usable
        raise DisconnectionError("connection found dead at checkout") from exc


def register_transaction_boundary(app) -> None:
    """The one transaction boundary of a request: commit on success, roll back otherwise."""
    from saas.extensions import db

    @app.after_request
    def _commit(response):
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response


@contextmanager
def transaction():
    """The transaction boundary for the CLI and jobs: commit on success, roll back on error."""
    from saas.extensions import db

    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
