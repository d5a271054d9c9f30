"""Learning from agents: a hub's model is retrained from the corpus's training part plus the hub's
closed cases, labelled by where they really ended (the platform that closed them; a case closed by
guidance is "neither"), and scored on the held-out part of the corpus before it is kept."""
from __future__ import annotations

from sqlalchemy import delete, func, select

from modules.cases.models import Case
from modules.triage import corpus, service
from modules.triage.corpus import Example
from modules.triage.engine import Engine
from modules.triage.evaluation import evaluate
from modules.triage.model import KINDS, train
from modules.triage.models import TriageModel
from saas.db import current_context
from saas.extensions import db
from tenants.models import Tenant

MAX_CASES = 20_000
KEEP_MODELS = 5  # a hub's newest models kept (each holds its weights, about 3.3 MB)
GUIDED = "引导解释"


def _hub() -> Tenant | None:
    tenant = db.session.get(Tenant, current_context().tenant_id)
    return tenant if tenant is not None and tenant.is_hub else None


def _closed(hub: Tenant):
    ids = select(Tenant.id).where(Tenant.hub_id == hub.id)
    return select(Case).where(Case.status == "closed", Case.tenant_id.in_(ids))


def case_examples(hub: Tenant) -> list[Example]:
    rows = db.session.execute(
        _closed(hub).with_only_columns(Case.number, Case.text, Case.platform, Case.emergency, Case.kind,
                                       Case.close_reason)
        .order_by(Case.closed_at.desc()).limit(MAX_CASES)).all()
    examples = []
    for row in rows:
        guided = (row.close_reason or "").startswith(GUIDED)
        kind = row.kind if row.kind in KINDS else "求助"
        examples.append(Example(text=row.text, platform="other" if guided else row.platform,
                                emergency=bool(row.emergency) and not guided, kind=kind, id=row.number))
    return examples


def retrain() -> int | None:
    """A new model for the job's tenant when it is a hub; its id."""
    hub = _hub()
    if hub is None:
        return None
    cases = case_examples(hub)
    training = corpus.training()
    model = train([*training, *cases])
    report = evaluate(Engine(model, None), corpus.testing())
    row = TriageModel(tenant_id=hub.id, corpus_examples=len(training), case_examples=len(cases),
                      metrics=report.as_json(), weights=model.dump())
    db.session.add(row)
    db.session.flush()
    old = db.session.scalars(select(TriageModel.id).where(TriageModel.tenant_id == hub.id)
                             .order_by(TriageModel.trained_at.desc(), TriageModel.id.desc()).offset(KEEP_MODELS))
    db.session.execute(delete(TriageModel).where(TriageModel.id.in_(list(old))))
    service.forget(hub)
    return row.id


def retrain_if_new_cases() -> int | None:
    hub = _hub()
    if hub is None:
        return None
    last = service.newest_model(hub)
    closed = _closed(hub).with_only_columns(func.count(Case.id))
    if last is not None:
        closed = closed.where(Case.closed_at > last.trained_at)
    if not db.session.scalar(closed):
        return None
    return retrain()

