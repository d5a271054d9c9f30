"""Member unit rules. Takes (tenant, actor, data); never reads the request."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select

from saas import audit
from saas.auth import Actor
from saas.extensions import db
from saas.text import valid_phone
from modules.units.models import KINDS, Unit
from tenants.models import Tenant

CODE_WORD = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


class UnitError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class UnitData:
    code: str
    name: str
    kind: str
    liaison_name: str
    liaison_phone: str
    active: bool = True


def _validate(tenant: Tenant, data: UnitData, unit: Unit | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    prefix = f"{tenant.code}-"
    if unit is None:
        if not data.code.startswith(prefix) or not CODE_WORD.match(data.code[len(prefix):]):
            errors["code"] = f"单位编码应为“{prefix}”加小写字母、数字或连字符，例如 {prefix}heating"
        elif db.session.scalar(select(Unit.id).where(Unit.code == data.code)) is not None:
            errors["code"] = f"单位编码 {data.code} 已被使用"
    if not data.name.strip():
        errors["name"] = "请填写单位名称"
    elif len(data.name) > 128:
        errors["name"] = "单位名称不能超过128个字"
    else:
        same = select(Unit.id).where(Unit.tenant_id == tenant.id, Unit.name == data.name.strip())
        if unit is not None:
            same = same.where(Unit.id != unit.id)
        if db.session.scalar(same) is not None:
            errors["name"] = f"本地已有名为“{data.name.strip()}”的单位"
    if data.kind not in KINDS:
        errors["kind"] = "请选择单位类型"
    if not data.liaison_name.strip():
        errors["liaison_name"] = "请填写24小时联络员姓名"
    if not valid_phone(data.liaison_phone):
        errors["liaison_phone"] = "联络员电话应为11位手机号或带区号的固定电话"
    return errors


def create(tenant: Tenant, actor: Actor, data: UnitData) -> Unit:
    errors = _validate(tenant, data, None)
    if errors:
        raise UnitError(errors)
    unit = Unit(tenant_id=tenant.id, code=data.code, name=data.name.strip(), kind=data.kind,
                liaison_name=data.liaison_name.strip(), liaison_phone=data.liaison_phone.strip(), active=True)
    db.session.add(unit)
    db.session.flush()
    audit.record(actor, "unit.create", unit, detail={"code": unit.code, "name": unit.name})
    return unit


def update(tenant: Tenant, actor: Actor, unit: Unit, data: UnitData) -> Unit:
    errors = _validate(tenant, data, unit)
    if errors:
        raise UnitError(errors)
    unit.name, unit.kind = data.name.strip(), data.kind
    unit.liaison_name, unit.liaison_phone = data.liaison_name.strip(), data.liaison_phone.strip()
    unit.active = data.active
    audit.record(actor, "unit.update", unit, detail={"code": unit.code, "active": unit.active})
    return unit


def listing(tenant_ids, *, q: str = "", kind: str = ""):
    """Units of the given tenants (already limited by the scoped session), for lists."""
    stmt = select(Unit).where(Unit.tenant_id.in_(tenant_ids)).order_by(Unit.tenant_id, Unit.kind, Unit.code)
    if q:
        stmt = stmt.where(Unit.name.contains(q, autoescape=True) | Unit.code.contains(q, autoescape=True))
    if kind in KINDS:
        stmt = stmt.where(Unit.kind == kind)
    return stmt


def counts_by_kind(tenant: Tenant) -> dict[str, int]:
    rows = db.session.execute(
        select(Unit.kind, func.count()).where(Unit.tenant_id == tenant.id, Unit.active).group_by(Unit.kind)
    )
    return {kind: n for kind, n in rows}
