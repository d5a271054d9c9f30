"""Transfer lists: the province template, a hub's copy, drafts, publishing, the change log, and a
county's own units. Takes (tenant, actor, data); never reads the request.

Whose list applies: a hub's own (its counties use it too); a hub that has none yet uses its
province's template. Lists are reference data for the tree below them, so reading the holder's and
the province's rows is a sanctioned crossing.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from modules.deadlines.calendar import local_day
from modules.triage.matcher import TEMPLATE
from modules.triage.models import (CATEGORIES, CHANNELS, KINDS, PLATFORMS, ListChange, ListItem, ListVersion,
                                   TransferList, UnitMapping)
from modules.units.models import Unit
from saas.auth import Actor
from saas.db import crossing, utcnow
from saas.extensions import db
from tenants.models import Tenant

FIELDS = ("category", "matter", "covers", "phrases", "platform", "kind", "emergency", "channel", "departments",
          "unit_codes", "deadline_working_days", "legal_basis")
_SPLIT = re.compile(r"[、，,；;\s]+")


class ListError(ValueError):
    def __init__(self, errors: dict[str, str] | str):
        self.errors = errors if isinstance(errors, dict) else {"_": errors}
        super().__init__("；".join(self.errors.values()))


@dataclass
class ItemData:
    category: str = ""
    matter: str = ""
    covers: str = ""
    phrases: list[str] = field(default_factory=list)
    platform: str = "12345"
    kind: str = ""
    emergency: bool = False
    channel: str | None = None
    departments: list[str] = field(default_factory=list)
    unit_codes: list[str] = field(default_factory=list)
    deadline_working_days: int | None = None
    legal_basis: str = ""

    @staticmethod
    def words(text: str) -> list[str]:
        """Phrases or department fragments typed in one box, separated by 、，; or spaces."""
        seen: list[str] = []
        for word in _SPLIT.split(text or ""):
            if word and word not in seen:
                seen.append(word)
        return seen


# ---- whose list -----------------------------------------------------------------------------------

def holder(tenant: Tenant) -> Tenant:
    """The tenant whose list applies to `tenant`: a county uses its hub's."""
    if tenant.level != "province" and tenant.hub_id and tenant.hub_id != tenant.id:
        return db.session.get(Tenant, tenant.hub_id)
    return tenant


def province_of(tenant: Tenant) -> Tenant:
    code = tenant.path.split("/")[0]
    return tenant if code == tenant.code else db.session.scalar(select(Tenant).where(Tenant.code == code))


def list_of(tenant: Tenant) -> TransferList | None:
    with crossing(read=[tenant.id]):
        return db.session.scalar(select(TransferList).where(TransferList.tenant_id == tenant.id))


def in_force(lst: TransferList, day: date | None = None) -> ListVersion | None:
    return in_force_of(versions(lst), day)


def in_force_of(numbered: list[ListVersion], day: date | None = None) -> ListVersion | None:
    """The newest published version whose effective date has come, among a list's versions."""
    day = day or local_day(utcnow())
    return max((v for v in numbered if v.status == "published" and v.effective_from <= day),
               key=lambda v: v.number, default=None)


def effective_version(tenant: Tenant, day: date | None = None) -> ListVersion | None:
    """The version in force for `tenant`: its holder's, else its province's template."""
    for owner in (holder(tenant), province_of(tenant)):
        lst = list_of(owner) if owner is not None else None
        version = in_force(lst, day) if lst else None
        if version is not None:
            return version
    return None


def draft_of(lst: TransferList) -> ListVersion | None:
    return db.session.scalar(select(ListVersion).where(ListVersion.list_id == lst.id, ListVersion.status == "draft"))


def versions(lst: TransferList) -> list[ListVersion]:
    with crossing(read=[lst.tenant_id]):
        return list(db.session.scalars(
            select(ListVersion).where(ListVersion.list_id == lst.id).order_by(ListVersion.number.desc())))


def version_by_number(lst: TransferList, number: int) -> ListVersion | None:
    with crossing(read=[lst.tenant_id]):
        return db.session.scalar(select(ListVersion).where(ListVersion.list_id == lst.id,
                                                           ListVersion.number == number))


def items(version: ListVersion) -> list[ListItem]:
    order = {c: i for i, c in enumerate(CATEGORIES)}
    with crossing(read=[version.tenant_id]):
        rows = list(db.session.scalars(select(ListItem).where(ListItem.version_id == version.id)))
    return sorted(rows, key=lambda item: (order.get(item.category, 9), item.position, item.id))


def changes(version: ListVersion) -> list[ListChange]:
    with crossing(read=[version.tenant_id]):
        return list(db.session.scalars(select(ListChange).where(ListChange.version_id == version.id)
                                       .order_by(ListChange.at.desc(), ListChange.id.desc())))


def units_of(tenant: Tenant) -> list[Unit]:
    with crossing(read=[tenant.id]):
        return list(db.session.scalars(select(Unit).where(Unit.tenant_id == tenant.id, Unit.active)
                                       .order_by(Unit.name)))


def resolve_units(units: list[Unit], departments: list[str]) -> list[str]:
    """The units the first department fragment that finds any finds (at most two)."""
    for fragment in departments:
        found = [u.code for u in units if fragment in u.name]
        if found:
            return found[:2]
    return []


# ---- writing ------------------------------------------------------------------------------------

def _log(version: ListVersion, actor: Actor | None, action: str, item: ListItem | None = None,
         changes: dict | None = None, label: str | None = None) -> None:
    db.session.add(ListChange(tenant_id=version.tenant_id, version_id=version.id, action=action,
                              item_key=item.key if item else None, matter=item.matter if item else None,
                              changes=changes or {}, actor_id=actor.user.id if actor and actor.user else None,
                              actor_label=label or (actor.label if actor else "系统")))


def _copy_items(source: ListVersion, target: ListVersion, units: list[Unit] | None = None) -> None:
    for item in items(source):
        values = {f: getattr(item, f) for f in FIELDS}
        if units is not None:  # a hub copying the template: find its own units
            values["unit_codes"] = resolve_units(units, item.departments) if item.platform == "12345" else []
        db.session.add(ListItem(tenant_id=target.tenant_id, version_id=target.id, key=item.key,
                                position=item.position, **values))


def load_template(province: Tenant, path: Path = TEMPLATE, label: str = "系统（省级模板）") -> TransferList:
    """The shipped province template as the province's list, version 1, in force from today."""
    existing = list_of(province)
    if existing is not None:
        return existing
    body = json.loads(path.read_text(encoding="utf-8"))
    lst = TransferList(tenant_id=province.id, name=body["name"], basis=body.get("basis", ""))
    db.session.add(lst)
    db.session.flush()
    today = local_day(utcnow())
    version = ListVersion(tenant_id=province.id, list_id=lst.id, number=1, status="published",
                          effective_from=today, note="依据五份联动文件整理的参考清单", created_by_label=label,
                          published_by_label=label, published_at=utcnow())
    db.session.add(version)
    db.session.flush()
    for position, row in enumerate(body["items"]):
        db.session.add(ListItem(tenant_id=province.id, version_id=version.id, key=row["key"], position=position,
                                **{f: row.get(f) if f != "unit_codes" else [] for f in FIELDS}))
    _log(version, None, "published", label=label)
    db.session.flush()
    return lst


def copy_template(hub: Tenant, actor: Actor) -> TransferList:
    """A hub's own list, drafted from its province's template with its own units found."""
    if list_of(hub) is not None:
        raise ListError("本地已有分流转办事项清单")
    template = list_of(province_of(hub))
    source = in_force(template) if template else None
    if source is None:
        raise ListError("省级模板尚未发布，暂不能复制")
    lst = TransferList(tenant_id=hub.id, name=f"{hub.name}12345与110分流转办事项清单", basis=template.basis,
                       source_list_id=template.id)
    db.session.add(lst)
    db.session.flush()
    draft = ListVersion(tenant_id=hub.id, list_id=lst.id, number=1, status="draft", based_on_id=source.id,
                        created_by_label=actor.label)
    db.session.add(draft)
    db.session.flush()
    _copy_items(source, draft, units_of(hub))
    _log(draft, actor, "copied", changes={"from": f"{template.name} {source.label}"})
    db.session.flush()
    return lst


def start_draft(lst: TransferList, actor: Actor) -> ListVersion:
    """The list's draft: the one being edited, or a new one copied from the newest published version."""
    draft = draft_of(lst)
    if draft is not None:
        return draft
    number = (db.session.scalar(select(func.max(ListVersion.number)).where(ListVersion.list_id == lst.id)) or 0) + 1
    latest = db.session.scalar(select(ListVersion).where(ListVersion.list_id == lst.id,
                                                         ListVersion.status == "published")
                               .order_by(ListVersion.number.desc()).limit(1))
    draft = ListVersion(tenant_id=lst.tenant_id, list_id=lst.id, number=number, status="draft",
                        based_on_id=latest.id if latest else None, created_by_label=actor.label)
    db.session.add(draft)
    db.session.flush()
    if latest is not None:
        _copy_items(latest, draft)
    _log(draft, actor, "drafted", changes={"from": latest.label} if latest else {})
    db.session.flush()
    return draft


def _require_draft(version: ListVersion) -> None:
    if version.status != "draft":
        raise ListError("已发布的版本不能修改，请新建修订草稿")


def validate_item(tenant: Tenant, data: ItemData) -> dict[str, str]:
    errors: dict[str, str] = {}
    if data.category not in CATEGORIES:
        errors["category"] = f"请选择类别（{'、'.join(CATEGORIES)}）"
    matter = data.matter.strip()
    if not matter:
        errors["matter"] = "请填写事项名称"
    elif len(matter) > 64:
        errors["matter"] = "事项名称不能超过64个字"
    if len(data.covers) > 1000:
        errors["covers"] = "适用情形不能超过1000个字"
    if not data.phrases:
        errors["phrases"] = "请至少填写一个常见说法，用顿号或空格分隔"
    elif len(data.phrases) > 30 or any(len(p) > 16 for p in data.phrases):
        errors["phrases"] = "常见说法最多30个，每个不超过16个字"
    if data.platform not in PLATFORMS:
        errors["platform"] = "请选择受理平台"
    elif data.kind not in KINDS[data.platform]:
        errors["kind"] = f"{PLATFORMS[data.platform]}的诉求类型应为{'、'.join(KINDS[data.platform])}"
    if data.platform == "other" and data.channel not in CHANNELS:
        errors["channel"] = f"不属于双方受理的事项请选择引导渠道（{'、'.join(CHANNELS)}）"
    if data.platform in ("119", "120") and not data.emergency:
        errors["emergency"] = "119、120事项均为紧急事项"
    if data.emergency and data.platform in ("12345", "other"):
        errors["emergency"] = "紧急事项应由110、119、120或122受理"
    if data.platform == "12345":
        if data.deadline_working_days is None or not 1 <= data.deadline_working_days <= 60:
            errors["deadline_working_days"] = "12345事项请填写办理时限（1至60个工作日）"
        known = {u.code for u in units_of(tenant)}
        unknown = [c for c in data.unit_codes if c not in known]
        if unknown:
            errors["unit_codes"] = f"承办单位不属于{tenant.name}：{'、'.join(unknown)}"
    if len(data.legal_basis) > 500:
        errors["legal_basis"] = "依据不能超过500个字"
    if len(data.departments) > 10 or any(len(d) > 16 for d in data.departments):
        errors["departments"] = "责任部门关键词最多10个，每个不超过16个字"
    return errors


def _clean(data: ItemData) -> dict:
    values = {f: getattr(data, f) for f in FIELDS}
    values["matter"] = data.matter.strip()
    values["covers"] = data.covers.strip()
    values["legal_basis"] = data.legal_basis.strip()
    if data.platform != "other":
        values["channel"] = None
    if data.platform != "12345":
        values["unit_codes"], values["deadline_working_days"] = [], None
    return values


def save_item(version: ListVersion, tenant: Tenant, actor: Actor, key: str | None, data: ItemData) -> ListItem:
    """Add an item to the draft (key None) or change one; the change log keeps every field's old value."""
    _require_draft(version)
    errors = validate_item(tenant, data)
    if errors:
        raise ListError(errors)
    values = _clean(data)
    if key is None:
        position = db.session.scalar(select(func.max(ListItem.position)).where(ListItem.version_id == version.id))
        item = ListItem(tenant_id=version.tenant_id, version_id=version.id, key=f"m-{uuid.uuid4().hex[:10]}",
                        position=(position or 0) + 1, **values)
        db.session.add(item)
        _log(version, actor, "created", item, {f: [None, v] for f, v in values.items() if v not in (None, "", [])})
    else:
        item = item_by_key(version, key)
        diff = {f: [getattr(item, f), v] for f, v in values.items() if getattr(item, f) != v}
        if not diff:
            return item
        for f, (_old, new) in diff.items():
            setattr(item, f, new)
        _log(version, actor, "edited", item, diff)
    db.session.flush()
    return item


def item_by_key(version: ListVersion, key: str) -> ListItem:
    item = db.session.scalar(select(ListItem).where(ListItem.version_id == version.id, ListItem.key == key))
    if item is None:
        raise ListError("该事项不在本版本中")
    return item


def remove_item(version: ListVersion, actor: Actor, key: str) -> None:
    _require_draft(version)
    item = item_by_key(version, key)
    _log(version, actor, "removed", item, {f: [getattr(item, f), None] for f in ("category", "matter", "platform")})
    db.session.delete(item)
    db.session.flush()


def publish(version: ListVersion, actor: Actor, effective_from: date | None, note: str) -> ListVersion:
    _require_draft(version)
    today = local_day(utcnow())
    errors = {}
    if effective_from is None:
        errors["effective_from"] = "请填写生效日期"
    elif effective_from < today:
        errors["effective_from"] = f"生效日期不能早于今天（{today:%Y-%m-%d}）"
    if not note.strip():
        errors["note"] = "请填写修订说明"
    elif len(note) > 500:
        errors["note"] = "修订说明不能超过500个字"
    if not errors and not items(version):
        errors["_"] = "清单没有事项，不能发布"
    if errors:
        raise ListError(errors)
    version.status, version.effective_from, version.note = "published", effective_from, note.strip()
    version.published_by_label, version.published_at = actor.label, utcnow()
    _log(version, actor, "published", changes={"effective_from": [None, effective_from.isoformat()]})
    db.session.flush()
    return version


def discard(version: ListVersion, actor: Actor) -> None:
    """Give a draft up: it stays readable as discarded, and the next draft starts from the version in force."""
    _require_draft(version)
    published = db.session.scalar(select(ListVersion.id).where(ListVersion.list_id == version.list_id,
                                                                ListVersion.status == "published").limit(1))
    if published is None:
        raise ListError("清单还没有发布过的版本，第一版草稿不能放弃，请修改后发布")
    version.status = "discarded"
    _log(version, actor, "discarded")
    db.session.flush()


def set_mapping(county: Tenant, actor: Actor, key: str, unit_codes: list[str]) -> UnitMapping | None:
    """A county's own units for a matter type of its hub's list; an empty choice falls back to the
    units found by the item's department fragments."""
    known = {u.code for u in units_of(county)}
    unknown = [c for c in unit_codes if c not in known]
    if unknown:
        raise ListError({"unit_codes": f"承办单位不属于{county.name}：{'、'.join(unknown)}"})
    mapping = db.session.scalar(select(UnitMapping).where(UnitMapping.tenant_id == county.id,
                                                          UnitMapping.item_key == key))
    if not unit_codes:
        if mapping is not None:
            db.session.delete(mapping)
        db.session.flush()
        return None
    if mapping is None:
        mapping = UnitMapping(tenant_id=county.id, item_key=key, unit_codes=unit_codes, updated_by_label=actor.label)
        db.session.add(mapping)
    else:
        mapping.unit_codes, mapping.updated_by_label = unit_codes, actor.label
    db.session.flush()
    return mapping


def mappings(county: Tenant) -> dict[str, list[str]]:
    with crossing(read=[county.id]):
        rows = db.session.scalars(select(UnitMapping).where(UnitMapping.tenant_id == county.id))
        return {m.item_key: m.unit_codes for m in rows}
