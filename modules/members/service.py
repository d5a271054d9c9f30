"""Staffing rules: who may grant which role where; accounts, memberships and API tokens."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from saas import audit, auth, permissions
from saas.auth import Actor
from saas.db import utcnow
from saas.extensions import db
from saas.models import ApiToken, Membership, User
from modules.units.models import Unit
from tenants.models import Tenant

USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,31}$")


class MemberError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class MemberData:
    username: str
    display_name: str = ""
    password: str = ""
    role: str = ""
    tenant_code: str = ""
    unit_code: str = ""
    valid_from: datetime | None = None
    valid_until: datetime | None = None


def grantable_roles(actor: Actor) -> list[str]:
    return sorted(permissions.GRANTABLE.get(actor.role, frozenset()), key=list(permissions.ROLES).index)


def target_tenants(actor: Actor) -> list[Tenant]:
    """Tenants where the actor may staff people: its own, and every descendant for a province admin."""
    ids = actor.context.write_ids
    return list(db.session.scalars(select(Tenant).where(Tenant.id.in_(ids)).order_by(Tenant.path)))


def _resolve_target(actor: Actor, data: MemberData, errors: dict) -> tuple[Tenant | None, Unit | None]:
    tenant = next((t for t in target_tenants(actor) if t.code == data.tenant_code), None)
    if tenant is None:
        errors["tenant_code"] = "请选择您有权管理的地区"
        return None, None
    if data.role not in grantable_roles(actor):
        errors["role"] = "您无权授予该岗位"
        return tenant, None
    unit = None
    if permissions.role(data.role).needs_unit:
        unit = db.session.scalar(select(Unit).where(Unit.code == data.unit_code, Unit.tenant_id == tenant.id))
        if unit is None:
            errors["unit_code"] = "承办单位经办人须选择本地区的承办单位"
    if data.valid_until and data.valid_until <= (data.valid_from or utcnow()):
        errors["valid_until"] = "结束时间须晚于开始时间"
    return tenant, unit


def add_member(actor: Actor, data: MemberData) -> Membership:
    """Grant a post to an existing account, or create the account with an initial password."""
    errors: dict[str, str] = {}
    username = data.username.strip().lower()
    user = db.session.scalar(select(User).where(func.lower(User.username) == username))
    if user is None:
        if not USERNAME.match(username):
            errors["username"] = "用户名为3-32位小写字母、数字、点、下划线或连字符，以字母开头"
        if not data.display_name.strip():
            errors["display_name"] = "新建账号须填写姓名"
        if problem := auth.password_problem(data.password, username):
            errors["password"] = f"初始密码不符合要求：{problem}"
    tenant, unit = _resolve_target(actor, data, errors)
    if not errors and user is not None:
        same_unit = (Membership.unit_id == unit.id) if unit else Membership.unit_id.is_(None)
        duplicate = db.session.scalar(select(Membership.id).where(
            Membership.user_id == user.id, Membership.tenant_id == tenant.id, Membership.role == data.role,
            same_unit, (Membership.valid_until.is_(None)) | (Membership.valid_until > utcnow())))
        if duplicate is not None:
            errors["role"] = "该人员在此地区已有相同岗位"
    if errors:
        raise MemberError(errors)
    if user is None:
        user = User(username=username, display_name=data.display_name.strip(),
                    password_hash=auth.hash_password(data.password))
        db.session.add(user)
        db.session.flush()
        audit.record(actor, "user.create", user, tenant_id=tenant.id, detail={"username": username})
    membership = Membership(user_id=user.id, tenant_id=tenant.id, role=data.role, unit_id=unit.id if unit else None,
                            valid_from=data.valid_from or utcnow(), valid_until=data.valid_until,
                            created_by_id=actor.user.id if actor.user else None)
    db.session.add(membership)
    db.session.flush()
    audit.record(actor, "membership.grant", membership,
                 detail={"username": username, "role": data.role, "unit": unit.code if unit else None,
                         "valid_until": data.valid_until.isoformat() if data.valid_until else None})
    return membership


def end_membership(actor: Actor, membership: Membership) -> None:
    if not _within_reach(actor, membership):
        raise permissions.PermissionDenied("members.manage")
    if actor.user is not None and membership.user_id == actor.user.id:
        raise MemberError({"membership": "不能结束自己的岗位，请联系其他管理员"})
    now = utcnow()
    if membership.valid_until is None or membership.valid_until > now:
        membership.valid_until = now
    membership.expiry_noted_at = now  # ended by a person: the expiry job has nothing to add
    audit.record(actor, "membership.end", membership, detail={"username": membership.user.username,
                                                             "role": membership.role})


def _within_reach(actor: Actor, membership: Membership) -> bool:
    return membership.tenant_id in actor.context.write_ids and membership.role in grantable_roles(actor)


def reset_password(actor: Actor, membership: Membership, password: str) -> None:
    """An admin sets a new initial password; every session of that person ends.

    Allowed only when every current post of that person is within the admin's reach: otherwise a
    hub admin could take over an account that also holds posts elsewhere.
    """
    user = membership.user
    if not all(_within_reach(actor, m) for m in auth.memberships_of(user)) or not _within_reach(actor, membership):
        raise permissions.PermissionDenied("members.manage")
    if problem := auth.password_problem(password, user.username):
        raise MemberError({"password": problem})
    user.password_hash = auth.hash_password(password)
    auth.end_all_sessions(user)
    audit.record(actor, "user.password_reset", membership, detail={"username": user.username})


def listing(tenant_ids, *, q: str = "", include_ended: bool = False):
    stmt = (select(Membership).join(User, Membership.user_id == User.id)
            .where(Membership.tenant_id.in_(tenant_ids)).order_by(Membership.tenant_id, Membership.role, User.username))
    if q:
        stmt = stmt.where(User.username.contains(q.lower(), autoescape=True) | User.display_name.contains(q, autoescape=True))
    if not include_ended:
        now = utcnow()
        stmt = stmt.where((Membership.valid_until.is_(None)) | (Membership.valid_until > now))
    return stmt


# ---- API tokens -------------------------------------------------------------------------------

def create_token(actor: Actor | None, *, tenant: Tenant, role: str, unit_code: str | None, name: str) -> tuple[ApiToken, str]:
    errors: dict[str, str] = {}
    if role not in permissions.ROLES:
        errors["role"] = f"未知岗位：{role}"
    elif actor is not None and role not in grantable_roles(actor):
        errors["role"] = "您无权为该岗位签发令牌"
    unit = None
    if unit_code:
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code, Unit.tenant_id == tenant.id))
        if unit is None:
            errors["unit_code"] = f"本地区没有编码为 {unit_code} 的承办单位"
    elif role in permissions.ROLES and permissions.role(role).needs_unit:
        errors["unit_code"] = "承办单位经办人令牌须指定承办单位"
    if not name.strip():
        errors["name"] = "请填写令牌名称（用途或对接系统）"
    if errors:
        raise MemberError(errors)
    token, secret = auth.issue_token(tenant=tenant, role=role, unit_id=unit.id if unit else None,
                                     name=name.strip()[:64], created_by=actor.user if actor else None)
    audit.record(actor, "token.create", token, tenant_id=tenant.id, detail={"name": token.name, "role": role},
                 label=None if actor else "命令行")
    return token, secret


def revoke_token(actor: Actor | None, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    audit.record(actor, "token.revoke", token, detail={"name": token.name}, label=None if actor else "命令行")
