"""Triage for a tenant: the engine with its hub's model and list (units resolved for the tenant),
what agents did with suggestions, and how often they overrode them.

Engines are kept per process and rebuilt when the list version in force, the hub's model or a
county's mapping changes; a tenant's lookup of those is cached for `LOOKUP_SECONDS`, so a
publication reaches every process within that time.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import defer

from modules.cases.models import MAX_TEXT, Case
from modules.triage import corpus, lists
from modules.triage.engine import Engine, Suggestion
from modules.triage.matcher import Matcher, Matter
from modules.triage.model import LinearModel, train
from modules.triage.models import ListVersion, TriageModel, UnitMapping
from modules.units.models import Unit
from saas.db import crossing, utcnow
from saas.extensions import db
from tenants.models import Tenant
from tenants.service import served_ids

LOOKUP_SECONDS = 30
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
            path = Path(current_app.instance_path) / "triage" / f"base-{_base_digest()}.bin"
            if path.exists():
                model = LinearModel.load(path.read_bytes())
            else:
                model = train(corpus.training())
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # processes may train at once
                tmp.write_bytes(model.dump())
                tmp.replace(path)
            _base.append(model)
    return _base[0]


def _base_digest() -> str:
    """What the base model depends on: the corpus and the code that turns text into features and
    trains (a change to either trains anew instead of loading a model made for other features)."""
    digest = hashlib.sha256()
    for e in corpus.load():
        digest.update(f"{e.id}\t{e.text}\t{e.platform}\t{e.emergency}\t{e.kind}\n".encode())
    for module in ("cues.py", "features.py", "model.py"):
        digest.update((Path(__file__).with_name(module)).read_bytes())
    return digest.hexdigest()[:16]


def newest_model(hub: Tenant) -> TriageModel | None:
    """The hub's newest model, without its weights (loaded only when an engine is built)."""
    with crossing(read=[hub.id]):
        return db.session.scalar(select(TriageModel).where(TriageModel.tenant_id == hub.id)
                                 .options(defer(TriageModel.weights))
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
    newest = newest_model(hub)
    model_id = newest.id if newest else None
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
    hub = lists.holder(tenant)
    county = hub.id != tenant.id
    units: list[Unit] = [] if own_list else lists.units_of(tenant)
    mapped = lists.mappings(tenant) if county else {}
    matters = []
    for item in lists.items(version):
        codes = item.unit_codes if own_list else []
        if item.platform == "12345" and not own_list:
            codes = mapped.get(item.key) or lists.resolve_units(units, item.departments) or (
                item.unit_codes if version.tenant_id == hub.id else [])
        matters.append(Matter(key=item.key, matter=item.matter, category=item.category, platform=item.platform,
                              channel=item.channel, units=tuple(codes),
                              deadline_working_days=item.deadline_working_days, phrases=tuple(item.phrases),
                              covers=item.covers))
    return matters


def engine_for(tenant: Tenant) -> Engine:
    key = _lookup(tenant)
    engine = _engines.get(key)
    if engine is None:
        _tenant_id, version_id, model_id, _stamp = key
        hub = lists.holder(tenant)
        # A hub's model serves its counties too: weights are read and decompressed once a process.
        model = base_model() if model_id is None else next(
            (e.model for k, e in list(_engines.items()) if k[2] == model_id), None)
        if model is None:
            with crossing(read=[hub.id]):
                model = LinearModel.load(db.session.get(TriageModel, model_id).weights)
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
    """Names of the units the actor may read (a suggestion only names units of the asking tenant's list)."""
    if not codes:
        return {}
    return dict(db.session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(codes))).all())


# ---- what agents did with suggestions ---------------------------------------------------------------
# The case records it: `case.triage` is the suggestion for its text, with "decision" (intake) and
# "dispatch" (the lead unit) saying what was accepted or overridden. Written with the case's own
# INSERT or UPDATE, so learning costs intake no statement of its own.

def _compare(suggested: dict, chosen: dict, fields: tuple[str, ...]) -> list[str]:
    return [f for f in fields if f in chosen and suggested.get(f) != chosen[f]]


def intake_record(suggestion: Suggestion, *, platform: str, chosen_platform: str, kind: str,
                  emergency: bool) -> dict:
    """The suggestion as the case keeps it, with the agent's intake against it: same platform, kind
    and emergency flag is an acceptance; any difference is an override of those fields. The kind
    is compared as the receiving desk records it (a 110 报警 taken by 12345 is its 举报)."""
    suggested = {"platform": suggestion.platform, "emergency": suggestion.emergency,
                 "kind": local_kind(suggestion.kind, platform)}
    chosen = {"platform": chosen_platform, "emergency": emergency, "kind": kind}
    fields = _compare(suggested, chosen, ("platform", "emergency", "kind"))
    return {**suggestion.as_json(), "decision": _decision(suggested, chosen, fields, _intake_label(
        suggested, chosen, fields))}


def record_dispatch(case: Case, lead_code: str) -> None:
    """The dispatcher's lead unit against the suggested units, when there were any."""
    triage = case.triage or {}
    units = triage.get("suggested_units") or []
    if units:
        fields = [] if lead_code in units else ["unit"]
        case.triage = {**triage, "dispatch": _decision({"unit": units}, {"unit": lead_code}, fields,
                                                       "派单时改选承办单位" if fields else None)}


def _decision(suggested: dict, chosen: dict, fields: list[str], label: str | None) -> dict:
    return {"outcome": "overridden" if fields else "accepted", "fields": fields, "suggested": suggested,
            "chosen": chosen, "label": label}


def _intake_label(s: dict, c: dict, fields: list[str]) -> str | None:
    parts = []
    if "platform" in fields:
        parts.append(f"平台 {s['platform']}→{c['platform']}")
    if "emergency" in fields:
        parts.append("改为紧急" if c["emergency"] else "改为非紧急")
    if "kind" in fields:
        parts.append(f"类型 {s['kind']}→{c['kind']}")
    return "，".join(parts) or None


def override_stats(hub: Tenant, days: int = 30) -> dict:
    """Over the cases received in the last `days` at the hub and the counties it serves: how many
    suggestions were decided on (intake and dispatch), how many overridden, what the agents changed
    them to, and which matter types were overridden most. One grouped query over JSON fields."""
    ids = served_ids(hub) or [hub.id]
    since = utcnow() - timedelta(days=days)
    t = Case.triage
    columns = (t[("decision", "outcome")].as_string(), t[("decision", "label")].as_string(),
               t[("dispatch", "outcome")].as_string(), t[("matter", "key")].as_string())
    with crossing(read=ids):
        rows = db.session.execute(
            select(*columns, func.count()).where(Case.received_tenant_id.in_(ids), Case.created_at >= since,
                                                 Case.triage.is_not(None))
            .group_by(*columns)).all()
    total = overridden = 0
    changes: dict[str, int] = {}
    by_item: dict[str, list[int]] = {}
    for intake, label, dispatch, key, n in rows:
        for outcome, change in ((intake, label), (dispatch, "派单时改选承办单位")):
            if outcome is None:
                continue
            total += n
            counts = by_item.setdefault(key, [0, 0]) if key else [0, 0]
            counts[0] += n
            if outcome == "overridden":
                overridden += n
                counts[1] += n
                changes[change] = changes.get(change, 0) + n
    return {
        "days": days, "total": total, "overridden": overridden, "rate": overridden / total if total else None,
        "changes": sorted(changes.items(), key=lambda kv: -kv[1])[:8], "by_item": by_item,
    }
