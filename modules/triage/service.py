"""Triage for a tenant: the engine with its hub's model and list (units resolved for the tenant),
what agents did with suggestions, and how often they overrode them.

Engines are kept per process and rebuilt when the list version in force, the hub's model or a
county's mapping changes; a tenant's lookup of those is cached for `LOOKUP_SECONDS`, so a
publication reaches every process within that time.
"""
from __future__ import annotations

import hashlib
import threading
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from modules.cases.models import Case
from modules.triage import corpus, lists
from modules.triage.engine import Engine, Suggestion
from modules.triage.matcher import Matcher, Matter
from modules.triage.model import LinearModel, train
from modules.triage.models import ListVersion, TriageDecision, TriageModel, UnitMapping
from modules.units.models import Unit
from saas.auth import Actor
from saas.db import crossing, utcnow
from saas.extensions import db
from tenants.models import Tenant
from tenants.service import served_query

LOOKUP_SECONDS = 30
MAX_TEXT = 4000
_lock = threading.Lock()
_lookups: dict[int, tuple[float, tuple]] = {}
_engines: dict[tuple, Engine] = {}
_base: list[LinearModel] = []


# ---- models -------------------------------------------------------------------------------------

def base_model() -> LinearModel:
    """The model trained on the corpus's training part only; trained once and kept on disk by the
    corpus's digest, so a process starts scoring without scikit-learn."""
    if _base:
        return _base[0]
    with _lock:
        if not _base:
            digest = hashlib.sha256("\n".join(f"{e.id}\t{e.text}\t{e.platform}\t{e.emergency}\t{e.kind}"
                                              for e in corpus.load()).encode()).hexdigest()[:16]
            path = Path(current_app.instance_path) / "triage" / f"base-{digest}.bin"
            if path.exists():
                model = LinearModel.load(path.read_bytes())
            else:
                model = train(corpus.training())
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(model.dump())
                tmp.replace(path)
            _base.append(model)
    return _base[0]


def newest_model(hub: Tenant) -> TriageModel | None:
    with crossing(read=[hub.id]):
        return db.session.scalar(select(TriageModel).where(TriageModel.tenant_id == hub.id)
                                 .order_by(TriageModel.trained_at.desc(), TriageModel.id.desc()).limit(1))


# ---- the engine for a tenant --------------------------------------------------------------------------

def _mapping_stamp(tenant: Tenant):
    with crossing(read=[tenant.id]):
        return db.session.execute(select(func.count(UnitMapping.id), func.max(UnitMapping.updated_at))
                                  .where(UnitMapping.tenant_id == tenant.id)).one()


def _lookup(tenant: Tenant) -> tuple:
    now = time.monotonic()
    cached = _lookups.get(tenant.id)
    if cached and cached[0] > now:
        return cached[1]
    hub = lists.holder(tenant)
    version = lists.effective_version(tenant)
    with crossing(read=[hub.id]):
        model_id = db.session.scalar(select(TriageModel.id).where(TriageModel.tenant_id == hub.id)
                                     .order_by(TriageModel.trained_at.desc(), TriageModel.id.desc()).limit(1))
    stamp = tuple(_mapping_stamp(tenant)) if hub.id != tenant.id else ()
    key = (tenant.id, version.id if version else None, model_id, stamp)
    _lookups[tenant.id] = (now + LOOKUP_SECONDS, key)
    return key


def forget(tenant: Tenant | None = None) -> None:
    """Drop cached lookups (after a publication or a retraining in this process); with no tenant,
    the engines too (a database was replaced: tests, a restore)."""
    if tenant is None:
        _lookups.clear()
        _engines.clear()
    else:
        _lookups.pop(tenant.id, None)


def matters_for(tenant: Tenant, version: ListVersion) -> list[Matter]:
    """The version's items with the units that `tenant` dispatches to."""
    own_list = version.tenant_id == tenant.id
    county = lists.holder(tenant).id != tenant.id
    units: list[Unit] = [] if own_list else lists.units_of(tenant)
    mapped = lists.mappings(tenant) if county else {}
    matters = []
    for item in lists.items(version):
        codes = item.unit_codes if own_list else []
        if item.platform == "12345" and not own_list:
            codes = mapped.get(item.key) or lists.resolve_units(units, item.departments) or (
                item.unit_codes if version.tenant_id == lists.holder(tenant).id else [])
        matters.append(Matter(key=item.key, matter=item.matter, category=item.category, platform=item.platform,
                              kind=item.kind, emergency=item.emergency, channel=item.channel, units=tuple(codes),
                              deadline_working_days=item.deadline_working_days, phrases=tuple(item.phrases),
                              covers=item.covers))
    return matters


def engine_for(tenant: Tenant) -> Engine:
    key = _lookup(tenant)
    engine = _engines.get(key)
    if engine is None:
        _tenant_id, version_id, model_id, _stamp = key
        if model_id is not None:
            with crossing(read=[lists.holder(tenant).id]):
                model = LinearModel.load(db.session.get(TriageModel, model_id).weights)
        else:
            model = base_model()
        hub = lists.holder(tenant)
        with crossing(read=[hub.id, lists.province_of(hub).id]):  # lists are read down the tree
            version = db.session.get(ListVersion, version_id) if version_id else None
            matcher = Matcher(matters_for(tenant, version)) if version else None
        engine = Engine(model, matcher)
        with _lock:
            for old in [k for k in _engines if k[0] == tenant.id]:
                del _engines[old]
            _engines[key] = engine
    return engine


def base_engine() -> Engine:
    """The corpus model with no list: for a batch line that names no tenant."""
    return Engine(base_model())


def draft_engine(tenant: Tenant, version: ListVersion) -> Engine:
    """An engine over a draft, for the list page's try-it box (not cached: the draft changes)."""
    return Engine(engine_for(tenant).model, Matcher(matters_for(tenant, version)))


# A suggested kind as the receiving desk records it when the matter is the other side's (it is
# then sent on, and the receiving side's kind is chosen there).
_LOCAL_KINDS = {"12345": {"报警": "举报", "紧急求助": "求助", "警务投诉": "投诉"},
                "110": {"咨询": "报警", "求助": "报警", "投诉": "报警", "举报": "报警", "意见建议": "报警"}}


def local_kind(kind: str, platform: str) -> str:
    return _LOCAL_KINDS.get(platform, {}).get(kind, kind)


def suggest(tenant: Tenant, text: str) -> Suggestion:
    return engine_for(tenant).classify((text or "")[:MAX_TEXT])


def unit_names(codes: list[str]) -> dict[str, str]:
    if not codes:
        return {}
    """Names of the units the actor may read (a suggestion only names units of the asking tenant's list)."""
    return dict(db.session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(codes))).all())


# ---- what agents did with suggestions ---------------------------------------------------------------

def _compare(suggested: dict, chosen: dict, fields: tuple[str, ...]) -> list[str]:
    return [f for f in fields if f in chosen and suggested.get(f) != chosen[f]]


def record_intake(case: Case, actor: Actor, suggestion: Suggestion, chosen_platform: str) -> TriageDecision:
    """The agent's intake against the suggestion for the saved text: same platform, kind and
    emergency flag is an acceptance; any difference is an override of those fields. A kind is only
    compared on the same platform (a 110 kind cannot be chosen on a 12345 intake)."""
    # The kind is compared as the receiving desk records it (a 110 报警 taken by 12345 is its 举报).
    suggested = {"platform": suggestion.platform, "emergency": suggestion.emergency,
                 "kind": local_kind(suggestion.kind, case.platform)}
    chosen = {"platform": chosen_platform, "emergency": case.emergency, "kind": case.kind}
    fields = _compare(suggested, chosen, ("platform", "emergency", "kind"))
    return _decision(case, actor, "intake", suggestion.match.matter.key if suggestion.match else None,
                     suggested, chosen, fields)


def record_dispatch(case: Case, actor: Actor, lead_code: str) -> TriageDecision | None:
    """The dispatcher's lead unit against the suggested units, when there were any."""
    triage = case.triage or {}
    units = triage.get("suggested_units") or []
    if not units:
        return None
    fields = [] if lead_code in units else ["unit"]
    matter = triage.get("matter") or {}
    return _decision(case, actor, "dispatch", matter.get("key"), {"unit": units}, {"unit": lead_code}, fields)


def _decision(case, actor, stage, item_key, suggested, chosen, fields) -> TriageDecision:
    decision = TriageDecision(tenant_id=actor.tenant.id, case_id=case.id, stage=stage, item_key=item_key,
                              outcome="overridden" if fields else "accepted", suggested=suggested, chosen=chosen,
                              fields=fields, actor_id=actor.user.id if actor.user else None)
    db.session.add(decision)
    return decision


def override_stats(hub: Tenant, days: int = 30) -> dict:
    """Over the last `days`, at the hub and the counties it serves: how many suggestions, how many
    overridden, what the agents changed them to, and which matter types were overridden most."""
    ids = list(db.session.scalars(served_query(hub).with_only_columns(Tenant.id))) or [hub.id]
    since = utcnow() - timedelta(days=days)
    with crossing(read=ids):
        rows = db.session.execute(
            select(TriageDecision.stage, TriageDecision.outcome, TriageDecision.item_key, TriageDecision.suggested,
                   TriageDecision.chosen, TriageDecision.fields)
            .where(TriageDecision.tenant_id.in_(ids), TriageDecision.at >= since)).all()
    total = len(rows)
    overridden = [r for r in rows if r.outcome == "overridden"]
    changes: dict[str, int] = {}
    by_item: dict[str, list[int]] = {}
    for row in rows:
        counts = by_item.setdefault(row.item_key or "", [0, 0])
        counts[0] += 1
        if row.outcome == "overridden":
            counts[1] += 1
            label = _change_label(row)
            changes[label] = changes.get(label, 0) + 1
    return {
        "days": days, "total": total, "overridden": len(overridden),
        "rate": len(overridden) / total if total else None,
        "changes": sorted(changes.items(), key=lambda kv: -kv[1])[:8],
        "by_item": {k: v for k, v in by_item.items() if k},
    }


def _change_label(row) -> str:
    s, c = row.suggested, row.chosen
    if row.stage == "dispatch":
        return "派单时改选承办单位"
    parts = []
    if "platform" in row.fields:
        parts.append(f"平台 {s['platform']}→{c['platform']}")
    if "emergency" in row.fields:
        parts.append("改为紧急" if c.get("emergency") else "改为非紧急")
    if "kind" in row.fields:
        parts.append(f"类型 {s['kind']}→{c['kind']}")
    return "，".join(parts)
