"""Retraining a hub's model from its closed cases, run by a real RQ worker (a forking
`flask worker --burst` process) against the real database and Redis; the engine then uses it."""
from __future__ import annotations

import re

from pathlib import Path

from sqlalchemy import select

from saas import jobs
from saas.db import as_tenant, system_context, transaction
from saas.extensions import db
from modules.cases import service as cases
from modules.triage import corpus, jobs as triage_jobs, service, training
from modules.triage.engine import Engine
from modules.triage.model import LinearModel
from modules.triage.models import TriageModel
from tests.conftest import run_worker, text_of
from tests.modules.triage.steps import KNIFE, STREET_LIGHT, acting, system, taiyuan_list

ROOT = Path(__file__).resolve().parents[3]
CLOSED = [("我们小区门口的路灯坏了好几天了（测试）", "求助"), ("楼上装修电钻声从早到晚停不下来（测试）", "投诉"),
          ("想问一下社保卡丢了怎么补办（测试）", "咨询")]




def _close_cases(world):
    """Three closed 太原 cases and one still open (not a training example)."""
    with acting("ty_agent", "140100") as agent:
        for text, kind in CLOSED:
            case = cases.intake(agent.tenant, agent, cases.IntakeData(text=text, kind=kind))
            cases.close(case, agent, "重复来电，已合并处理（测试）")
        cases.intake(agent.tenant, agent, cases.IntakeData(text="小区暖气不热（测试）", kind="求助"))


def _models():
    return system(lambda: list(db.session.scalars(select(TriageModel).order_by(TriageModel.id))))


def test_the_worker_retrains_the_hubs_model_and_the_engine_then_uses_it(app, world, login):
    taiyuan_list(world)
    _close_cases(world)
    with acting("ty_agent", "140100") as agent:
        assert service.engine_for(agent.tenant).model is service.base_model()
    job = jobs.enqueue(triage_jobs.retrain, tenant_id=world["140100"].id)
    run_worker()
    (row,) = _models()
    assert row.tenant.code == "140100"
    assert row.case_examples == len(CLOSED)  # the open case is no example
    assert row.corpus_examples == len(corpus.training())
    assert {"n", "accuracy", "emergency_recall", "confusion"} <= set(row.metrics)
    assert row.metrics["n"] == len(corpus.testing()) and 0.5 < row.metrics["accuracy"] <= 1
    assert jobs.job_state(job.id, {world["140100"].id}) == "finished"
    stored = LinearModel.load(row.weights)

    service.forget()
    with acting("ty_agent", "140100") as agent:
        engine = service.engine_for(agent.tenant)
        assert engine.model is not service.base_model()
        for text in (KNIFE, STREET_LIGHT, CLOSED[1][0]):
            assert Engine(engine.model).classify(text).as_json() == Engine(stored).classify(text).as_json()
        assert service.suggest(agent.tenant, STREET_LIGHT).units == ["140100-urban"]  # the list still applies
    with acting("xd_agent", "140105") as county_agent:  # its counties use the hub's model
        assert service.engine_for(county_agent.tenant).model is not service.base_model()
    with acting("cq_agent", "500000") as other:  # another hub keeps the base model
        assert service.engine_for(other.tenant).model is service.base_model()

    page = text_of(login("ty_admin").get("/t/140100/lists/"))
    assert f"本地已办结工单 {len(CLOSED)} 件" in page and "留出集平台准确率" in page

    # The nightly run retrains only when cases closed since: none did.
    with as_tenant(jobs.job_context(world["140100"].id, None)), transaction():
        assert training.retrain_if_new_cases() is None
    assert len(_models()) == 1


def test_a_county_job_trains_nothing(world):
    with as_tenant(jobs.job_context(world["140105"].id, None)), transaction():
        assert training.retrain() is None
    assert _models() == []


def test_the_train_button_enqueues_the_job_for_the_hub_only(world, login):
    taiyuan_list(world)
    admin = login("ty_admin")
    r = admin.post("/t/140100/lists/model/train")
    assert r.status_code == 302 and "job=" in r.headers["Location"]
    job_id = r.headers["Location"].split("job=")[1].split("#")[0]
    queued = jobs.queue().jobs
    assert [(j.id, j.meta["func"], j.meta["tenant_id"]) for j in queued] == [
        (job_id, "modules.triage.jobs:retrain", world["140100"].id)]
    status = text_of(admin.get(f"/t/140100/lists/model?job={job_id}"))
    assert "正在重新训练（排队中）" in status
    landed = admin.get(r.headers["Location"]).get_data(as_text=True)  # where the button's redirect lands
    assert "正在重新训练（排队中）" in re.sub(r'<[^>]+>', ' ', landed) and f"/lists/model?job={job_id}" in landed
    assert login("xd_admin").post("/t/140105/lists/model/train").status_code == 403
    assert login("ty_agent").post("/t/140100/lists/model/train").status_code == 403
    assert len(jobs.queue().jobs) == 1


def test_a_hub_keeps_only_its_newest_models(world):
    """Each model holds megabytes of weights: retraining drops all but the newest KEEP_MODELS."""
    blob = service.base_model().dump()
    with as_tenant(system_context()), transaction():
        for _ in range(training.KEEP_MODELS + 2):
            db.session.add(TriageModel(tenant_id=world["140100"].id, weights=blob))
        db.session.add(TriageModel(tenant_id=world["500000"].id, weights=blob))  # another hub's stays
    with as_tenant(jobs.job_context(world["140100"].id, None)), transaction():
        newest = training.retrain()
    kept = _models()
    assert len([m for m in kept if m.tenant_id == world["140100"].id]) == training.KEEP_MODELS
    assert newest in {m.id for m in kept} and any(m.tenant_id == world["500000"].id for m in kept)
