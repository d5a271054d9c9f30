"""Who is acting: sessions for people, tokens for systems; passwords, lockout, idle timeout."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from time import monotonic

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, g, session
from sqlalchemy import bindparam, event, inspect, select
from sqlalchemy.orm import contains_eager, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from saas.db import TenantContext, TenantSession, attach_loaded, utcnow
from saas.extensions import db, login_manager
from saas.models import ApiToken, Membership, User
from saas.redis import redis
from tenants.models import Tenant

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("liandong-timing-equaliser")


@dataclass(frozen=True)
class Actor:
    """The acting membership or API token: tenant, role, unit and tenant context."""

    tenant: Tenant
    role: str
    context: TenantContext
    user: User | None = None
    token: ApiToken | None = None
    unit_id: int | None = None
    membership_id: int | None = None

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.display_name
        return f"接口令牌：{self.token.name}" if self.token else "系统"


# ---- passwords -------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Constant work whether or not the user exists; rehashes when parameters change."""
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    if ok and user is not None and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return ok and user is not None


def password_problem(password: str, username: str = "") -> str | None:
    """The password policy, as a message for people (None when acceptable)."""
    if len(password) < 10:
        return "密码至少10位"
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        return "密码须同时包含字母和数字"
    if username and username.lower() in password.lower():
        return "密码不能包含用户名"
    return None


def end_all_sessions(user: User) -> None:
    """Every session of this user (on any device) stops being accepted."""
    user.auth_epoch += 1


# ---- lockout ---------------------------------------------------------------------------------

def _keys(username: str, address: str | None) -> tuple[str, str]:
    digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:24]
    return f"login:fail:user:{digest}", f"login:fail:addr:{address or '-'}"


def is_locked(username: str, address: str | None) -> bool:
    user_key, addr_key = _keys(username, address)
    user_n, addr_n = redis().mget(user_key, addr_key)
    cfg = current_app.config
    return int(user_n or 0) >= cfg["LOGIN_MAX_FAILURES"] or int(addr_n or 0) >= cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]


def note_failure(username: str, address: str | None) -> None:
    ttl = current_app.config["LOGIN_LOCK_MINUTES"] * 60
    pipe = redis().pipeline()
    for key in _keys(username, address):
        pipe.incr(key)
        pipe.expire(key, ttl)
    pipe.execute()


def clear_failures(username: str, address: str | None) -> None:
    redis().delete(_keys(username, address)[0])


# ---- sessions --------------------------------------------------------------------------------

@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    user_id, _, epoch = session_id.partition(":")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.auth_epoch != int(epoch):
        return None
    return user


def idle_expired() -> bool:
    """True when the session was idle too long; otherwise marks it as seen now."""
    now = int(utcnow().timestamp())
    seen = session.get("seen")
    if seen is not None and now - seen > current_app.config["SESSION_IDLE_MINUTES"] * 60:
        return True
    session["seen"] = now
    return False


def memberships_of(user: User) -> list[Membership]:
    """A user's memberships that are valid now, in every tenant (they are the user's own)."""
    now = utcnow()
    rows = db.session.scalars(
        select(Membership).join(Tenant, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user.id, Tenant.active)
        .order_by(Tenant.path, Membership.id)
        .execution_options(all_tenants=True)
    )
    return [m for m in rows if m.is_valid(now)]


def actor_for_membership(membership: Membership) -> Actor:
    from tenants.service import context_for

    return Actor(tenant=membership.tenant, role=membership.role, user=membership.user,
                 unit_id=membership.unit_id, membership_id=membership.id,
                 context=context_for(membership.tenant, membership.role, membership.user_id))


# ---- API tokens ------------------------------------------------------------------------------

def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(*, tenant: Tenant, role: str, unit_id: int | None, name: str, created_by: User | None) -> tuple[ApiToken, str]:
    secret = "ld_" + secrets.token_urlsafe(32)
    token = ApiToken(tenant_id=tenant.id, role=role, unit_id=unit_id, name=name, token_hash=_token_hash(secret),
                     prefix=secret[:10], created_by_id=created_by.id if created_by else None)
    db.session.add(token)
    db.session.flush()
    return token, secret


@cache
def _token_query():
    """A live token with its tenant and that tenant's scope lists, in one statement built once."""
    from tenants.service import scope_lists

    return (select(ApiToken, *scope_lists()).join(ApiToken.tenant)
            .options(contains_eager(ApiToken.tenant), lazyload(ApiToken.unit))
            .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None), Tenant.active)
            .execution_options(all_tenants=True))  # the token names its tenant; found by its secret hash


@dataclass
class _Resolved:
    """What a token resolved to, kept by this process for a few seconds: the rows' column values
    (not objects, which belong to one request's session) and the tenant context."""

    at: float
    token: dict
    tenant: dict
    context: TenantContext


_resolved: dict[str, _Resolved] = {}
_RESOLVED_MAX = 4096
_generation = [0]  # bumped by every forgetting: a resolution read before one is not kept


def _columns(obj) -> dict:
    return {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}


def forget_tokens(token_hash: str | None = None) -> None:
    """Drop what this process remembers of one token or of all; other processes drop theirs within
    API_TOKEN_CACHE_SECONDS. Committed changes call it by themselves (below)."""
    _generation[0] += 1
    if token_hash is None:
        _resolved.clear()
    else:
        _resolved.pop(token_hash, None)


@event.listens_for(TenantSession, "after_flush")
def _note_changes(session, flush_context) -> None:
    """A revoked token, or a tenant created or changed (its name, hub, scope, whether it is
    active), makes what tokens resolved to stale: noted here, forgotten once committed."""
    noted = session.info.setdefault("tokens_stale", set())
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Tenant):
            noted.add(None)
        elif isinstance(obj, ApiToken) and inspect(obj).attrs.revoked_at.history.has_changes():
            noted.add(obj.token_hash)


@event.listens_for(TenantSession, "after_commit")
def _forget_committed(session) -> None:
    noted = session.info.pop("tokens_stale", set())
    if None in noted:
        forget_tokens()
    for token_hash in noted - {None}:
        forget_tokens(token_hash)


@event.listens_for(TenantSession, "after_transaction_end")
def _drop_notes(session, transaction) -> None:
    if transaction.parent is None:  # rolled back or closed: nothing changed
        session.info.pop("tokens_stale", None)


def actor_for_token(secret: str) -> Actor | None:
    """The actor behind a bearer token, or None when unknown or revoked. A resolved token is kept
    for API_TOKEN_CACHE_SECONDS, so that an API call does not pay a query to learn who calls."""
    from tenants.service import context_for

    key = _token_hash(secret)
    hit = _resolved.get(key)
    if hit is not None and monotonic() - hit.at < current_app.config["API_TOKEN_CACHE_SECONDS"]:
        token = attach_loaded(ApiToken, hit.token)
        set_committed_value(token, "tenant", attach_loaded(Tenant, hit.tenant))
        context = hit.context
    else:
        generation = _generation[0]
        row = db.session.execute(_token_query(), {"token_hash": key}).first()
        if row is None:
            return None
        token, served, below = row
        context = context_for(token.tenant, token.role, None, lists=(served, below))
        hit = _Resolved(monotonic(), _columns(token), _columns(token.tenant), context)
        if generation == _generation[0]:
            if len(_resolved) >= _RESOLVED_MAX:
                _resolved.pop(next(iter(_resolved), None), None)  # the oldest; safe if another thread cleared
            _resolved[key] = hit
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        # Noted in the cache at once: a request that then rolls back leaves the time unrecorded
        # for at most this minute, rather than every call writing it.
        token.last_used_at = hit.token["last_used_at"] = now  # flushed under the context set from this actor
    return Actor(tenant=token.tenant, role=token.role, token=token, unit_id=token.unit_id, context=context)


def current_actor() -> Actor | None:
    return g.get("actor")
