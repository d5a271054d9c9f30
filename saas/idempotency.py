"""`Idempotency-Key` on API writes: the same key with the same request returns the first response
and changes nothing; the same key with a different request is 422.

The key is reserved (a row flushed) before the write runs, in the same transaction, so two
concurrent requests with one key cannot both act: the second waits on the unique index and then
replays the first's answer. A refused write (4xx) rolls back with its key, so it may be retried.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from functools import wraps

from flask import g, make_response, request
from sqlalchemy import JSON, ForeignKey, Integer, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from saas.db import TenantOwned, UTCDateTime, current_context, utcnow
from saas.errors import error_response
from saas.extensions import db
from saas.jobs import periodic

KEEP_DAYS = 7


class IdempotencyRecord(TenantOwned, db.Model):
    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict | list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (db.UniqueConstraint("token_id", "key", name="uq_idempotency_token_key"),)


def _request_hash() -> str:
    body = request.get_data(cache=True) or b""
    return hashlib.sha256(f"{request.method} {request.path}\n".encode() + body).hexdigest()


def _find(token_id: int, key: str) -> IdempotencyRecord | None:
    return db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.token_id == token_id,
                                                             IdempotencyRecord.key == key))


def _replay(record: IdempotencyRecord, request_hash: str):
    if record.request_hash != request_hash:
        return error_response(422, "该 Idempotency-Key 已用于另一个不同的请求", "idempotency_key_reused")
    if record.status_code is None:
        return error_response(409, "相同 Idempotency-Key 的请求正在处理，请稍后重试", "idempotency_in_progress")
    response = make_response(json.dumps(record.response, ensure_ascii=False), record.status_code)
    response.mimetype = "application/json"
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        key = key.strip()
        if not (1 <= len(key) <= 128) or not key.isascii() or not key.isprintable():
            return error_response(400, "Idempotency-Key 应为1至128个可打印ASCII字符", "bad_idempotency_key")
        token = g.actor.token
        request_hash = _request_hash()
        existing = _find(token.id, key)
        if existing is not None:
            return _replay(existing, request_hash)
        record = IdempotencyRecord(tenant_id=token.tenant_id, token_id=token.id, key=key, request_hash=request_hash)
        db.session.add(record)
        # No savepoint: SQLite's driver opens no transaction for one, and its release would commit
        # the key of a request refused later. On a clash the whole session rolls back: only the
        # token's last-use time can have been written before it.
        try:
            db.session.flush()
        except IntegrityError:  # a concurrent request with this key committed first
            db.session.rollback()
            existing = _find(token.id, key)
            return _replay(existing, request_hash) if existing else error_response(
                409, "相同 Idempotency-Key 的请求正在处理，请稍后重试", "idempotency_in_progress")
        response = make_response(view(*args, **kwargs))
        if response.status_code < 400:
            record.status_code, record.response = response.status_code, response.get_json(silent=True)
            db.session.flush()
        return response

    return wrapper


@periodic(cron="17 3 * * *")
def purge() -> int:
    """Keys are kept for a week: long enough for any client's retries."""
    ctx = current_context()
    result = db.session.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.tenant_id == ctx.tenant_id, IdempotencyRecord.created_at < utcnow() - timedelta(days=KEEP_DAYS)))
    return result.rowcount
