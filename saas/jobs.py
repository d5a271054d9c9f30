"""Background jobs on RQ: a fixed list of queues, a wrapper that restores the tenant context and
commits or rolls back, retries with backoff, and periodic jobs fanned out to every tenant.

Jobs take ids, never personal data: arguments are limited to numbers, booleans and short ASCII codes.
A job without a tenant is refused, at enqueue and again in the worker.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from flask import current_app, has_app_context
from rq import Queue, Retry, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from saas.db import TenantContext, TenantContextMissing, as_tenant, transaction
from saas.redis import redis

QUEUES = ("urgent", "default", "low")
RETRY_INTERVALS = [10, 60, 300]
_CODE = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")


@dataclass(frozen=True)
class Periodic:
    path: str
    interval: int | None = None
    cron: str | None = None


PERIODIC: dict[str, Periodic] = {}


def _path(func) -> str:
    return f"{func.__module__}:{func.__qualname__}"


def _resolve(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def periodic(*, interval: int | None = None, cron: str | None = None):
    """Declare a per-tenant job that the scheduler runs for every active tenant."""

    def decorator(func):
        PERIODIC[_path(func)] = Periodic(_path(func), interval=interval, cron=cron)
        return func

    return decorator


def _check_args(args) -> None:
    for value in args:
        if value is None or isinstance(value, (bool, int)) or (isinstance(value, str) and _CODE.match(value)):
            continue
        raise TypeError("job arguments are ids and codes only (never personal data or objects)")


def queue(name: str = "default") -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}; queues are {QUEUES}")
    return Queue(name, connection=redis())


def enqueue(func, *args, tenant_id: int | None, actor_id: int | None = None, queue_name: str = "default"):
    if tenant_id is None:
        raise TenantContextMissing("job refused: it must carry a tenant")
    _check_args(args)
    intervals = current_app.config.get("JOB_RETRY_INTERVALS", RETRY_INTERVALS)
    return queue(queue_name).enqueue_call(
        run_job, args=(_path(func), tenant_id, actor_id, list(args)),
        retry=Retry(max=len(intervals), interval=intervals),
        meta={"tenant_id": tenant_id, "actor_id": actor_id, "func": _path(func)},
        description=_path(func), failure_ttl=30 * 24 * 3600,
    )


def _app():
    if has_app_context():
        return current_app._get_current_object()
    from saas.app import create_app

    return create_app()


def job_context(tenant_id: int, actor_id: int | None) -> TenantContext:
    """A job acts in its tenant: it reads the tenant and those it serves, and writes only there."""
    from saas.extensions import db
    from saas.permissions import SERVED
    from tenants.models import Tenant
    from tenants.service import scope_ids

    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None or not tenant.active:
        raise TenantContextMissing(f"job refused: tenant {tenant_id} does not exist or is inactive")
    read, write = scope_ids(tenant, SERVED)
    return TenantContext(tenant_id=tenant.id, read_ids=read, write_ids=write, actor_id=actor_id)


def run_job(func_path: str, tenant_id: int | None, actor_id: int | None, args: list):
    """Executed by the worker: restore the tenant context, run, commit or roll back."""
    if tenant_id is None:
        raise TenantContextMissing("job refused: it carries no tenant")
    app = _app()
    with app.app_context(), as_tenant(job_context(tenant_id, actor_id)), transaction():
        return _resolve(func_path)(*args)  # committed inside the tenant context: the write wall checks at flush


def fan_out(func_path: str) -> int:
    """Periodic entry point: enqueue `func_path` once for every active tenant."""
    from saas.extensions import db
    from tenants.models import Tenant

    if func_path not in PERIODIC:
        raise ValueError(f"{func_path} is not a declared periodic job")
    app = _app()
    with app.app_context():
        ids = list(db.session.scalars(select(Tenant.id).where(Tenant.active).order_by(Tenant.id)))
        for tenant_id in ids:
            enqueue(_resolve(func_path), tenant_id=tenant_id, queue_name="low")
    return len(ids)


def failed_jobs(tenant_ids) -> list[Job]:
    """Failed jobs of the given tenants, newest first, for the page that shows and retries them."""
    jobs: list[Job] = []
    for name in QUEUES:
        ids = FailedJobRegistry(name, connection=redis()).get_job_ids()
        fetched = Job.fetch_many(ids, connection=redis()) if ids else []
        jobs.extend(j for j in fetched if j is not None and j.meta.get("tenant_id") in tenant_ids)
    return sorted(jobs, key=lambda j: j.ended_at or j.enqueued_at, reverse=True)


def retry_failed(job_id: str, tenant_ids) -> bool:
    for name in QUEUES:
        registry = FailedJobRegistry(name, connection=redis())
        if job_id in registry.get_job_ids():
            job = Job.fetch(job_id, connection=redis())
            if job.meta.get("tenant_id") not in tenant_ids:
                return False
            registry.requeue(job_id)
            return True
    return False


def job_state(job_id: str, tenant_ids) -> str | None:
    """A job's RQ status (queued, started, finished, failed ...) for a page that follows it, or
    None when it is unknown or another tenant's."""
    try:
        job = Job.fetch(job_id, connection=redis())
    except (NoSuchJobError, ValueError):
        return None
    if job.meta.get("tenant_id") not in tenant_ids:
        return None
    return job.get_status(refresh=False)


def queue_sizes() -> dict[str, int]:
    return {name: queue(name).count for name in QUEUES}


class AppWorker(Worker):
    """RQ worker whose forked work horse drops the connections it inherited from its parent."""

    def main_work_horse(self, job, queue):
        from saas.extensions import db

        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)


def worker(burst: bool = False, logging_level: str = "INFO") -> Worker:
    w = AppWorker([queue(n) for n in QUEUES], connection=redis())
    w.work(burst=burst, with_scheduler=True, logging_level=logging_level)
    return w


def scheduler():
    from rq.cron import CronScheduler

    cron = CronScheduler(connection=redis(), name="liandong")
    for job in PERIODIC.values():
        cron.register(fan_out, queue_name="low", args=(job.path,), interval=job.interval, cron=job.cron,
                      name=job.path)
    cron.start()
