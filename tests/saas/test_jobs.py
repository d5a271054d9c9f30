"""Background jobs with a real RQ worker (a forking `flask worker --burst` process) on real Redis."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask import current_app
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from saas import jobs
from saas.db import TenantContextMissing, as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from saas.models import AuditLog, Membership
from saas.redis import redis
from modules.units.models import Unit
from tests.saas import sample_jobs

ROOT = Path(__file__).resolve().parents[2]


def flask(*args, timeout=120, **kw):
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=timeout, **kw)


def run_worker():
    done = flask("worker", "--burst")
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_enqueue_refuses_a_job_without_tenant(fresh):
    with pytest.raises(TenantContextMissing):
        jobs.enqueue(sample_jobs.visible_units, tenant_id=None)
    with pytest.raises(TenantContextMissing):
        jobs.run_job("tests.saas.sample_jobs:visible_units", None, None, [])
    assert jobs.queue().count == 0


def test_job_arguments_are_ids_not_personal_data(world):
    for bad in ("13800138000 王某", {"phone": "13800138000"}, world.units["140100-heating"]):
        with pytest.raises(TypeError):
            jobs.enqueue(sample_jobs.rename_unit, bad, tenant_id=world["140100"].id)
    assert jobs.queue().count == 0


def test_worker_restores_tenant_and_actor_context(world):
    job = jobs.enqueue(sample_jobs.visible_units, tenant_id=world["140105"].id, actor_id=7)
    hub_job = jobs.enqueue(sample_jobs.visible_units, tenant_id=world["140100"].id)
    run_worker()
    assert Job.fetch(job.id, connection=redis()).return_value() == [world["140105"].id, 7, ["140105-housing"]]
    tenant_id, actor, codes = Job.fetch(hub_job.id, connection=redis()).return_value()
    assert tenant_id == world["140100"].id and actor is None
    assert codes == sorted(["140100-heating", "140100-urban", "140105-housing", "140106-housing"])


def test_worker_commits_the_job_transaction(world):
    unit = world.units["140100-heating"]
    job = jobs.enqueue(sample_jobs.rename_unit, unit.id, "-ok", tenant_id=world["140100"].id)
    run_worker()
    assert Job.fetch(job.id, connection=redis()).get_status() == "finished"
    with as_tenant(system_context()):
        assert db.session.scalar(select(Unit.name).where(Unit.id == unit.id)).endswith("-ok")


def test_worker_refuses_a_job_smuggled_in_without_tenant(world):
    job = jobs.queue().enqueue(jobs.run_job, "tests.saas.sample_jobs:visible_units", None, None, [])
    run_worker()
    fetched = Job.fetch(job.id, connection=redis())
    assert fetched.get_status() == "failed"
    assert "TenantContextMissing" in fetched.latest_result().exc_string


def test_job_writes_to_another_tenant_are_refused(world):
    foreign = world.units["140106-housing"]
    current_app.config["JOB_RETRY_INTERVALS"] = [0]
    try:
        job = jobs.enqueue(sample_jobs.rename_unit, foreign.id, "-x", tenant_id=world["140105"].id)
    finally:
        current_app.config.pop("JOB_RETRY_INTERVALS")
    run_worker()
    assert Job.fetch(job.id, connection=redis()).get_status() == "failed"
    with as_tenant(system_context()):
        assert not db.session.scalar(select(Unit.name).where(Unit.id == foreign.id)).endswith("-x")


def test_failed_job_rolls_back_is_retried_then_visible_and_can_be_retried(world, login):
    unit = world.units["140100-heating"]
    current_app.config["JOB_RETRY_INTERVALS"] = [0, 0]
    try:
        job = jobs.enqueue(sample_jobs.rename_then_fail, unit.id, tenant_id=world["140100"].id)
    finally:
        current_app.config.pop("JOB_RETRY_INTERVALS")
    log = run_worker().stderr
    fetched = Job.fetch(job.id, connection=redis())
    assert fetched.get_status() == "failed"
    assert fetched.retries_left == 0 and log.count("RuntimeError: boom (test)") == 3  # first run + 2 retries
    with as_tenant(system_context()):
        assert "should-roll-back" not in db.session.scalar(select(Unit.name).where(Unit.id == unit.id))
    assert job.id in FailedJobRegistry("default", connection=redis()).get_job_ids()
    admin = login("ty_admin")
    page = admin.get("/t/140100/system/jobs")
    assert "rename_then_fail" in page.get_data(as_text=True)
    assert login("xd_admin").get("/t/140105/system/jobs").get_data(as_text=True).count("rename_then_fail") == 0
    assert admin.post(f"/t/140100/system/jobs/{job.id}/retry").status_code == 302
    assert job.id not in FailedJobRegistry("default", connection=redis()).get_job_ids()
    assert jobs.queue().count == 1


def test_periodic_job_runs_per_tenant_in_the_real_worker(world):
    with as_tenant(system_context()), transaction():
        m = db.session.scalar(select(Membership).join(Membership.user).where(Membership.role == "agent_12345",
                                                                              Membership.tenant_id == world["140100"].id))
        m.valid_until = utcnow() - timedelta(minutes=5)
    assert jobs.fan_out("modules.members.jobs:note_expired_memberships") == len(world.t)
    assert jobs.queue("low").count == len(world.t)
    run_worker()
    run_worker()  # a second pass changes nothing
    with as_tenant(system_context()):
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "membership.expired")).all()
        assert [(r.tenant_id, r.object_id) for r in rows] == [(world["140100"].id, str(m.id))]
        assert db.session.get(Membership, m.id).expiry_noted_at is not None


def test_scheduler_enqueues_the_periodic_jobs(world):
    assert "modules.members.jobs:note_expired_memberships" in jobs.PERIODIC
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"], cwd=ROOT,
                            env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and jobs.queue("low").count == 0:
            time.sleep(0.2)
        time.sleep(1)  # the interval jobs are all due at start
        queued = jobs.queue("low").jobs
        assert queued, "the scheduler enqueued nothing within 30 s"
        assert {j.func_name for j in queued} == {"saas.jobs.fan_out"}
        assert {j.args[0] for j in queued} >= {"modules.members.jobs:note_expired_memberships",
                                                "modules.dispatch.jobs:remind", "saas.outbox:sweep"}
    finally:
        proc.terminate()
        proc.wait(timeout=15)
