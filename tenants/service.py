"""Tenant tree rules: paths, hubs, scopes. Tenants are not tenant-owned, so no context is needed."""
from __future__ import annotations

from functools import cache

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import aliased

from saas import permissions
from saas.db import TenantContext
from saas.extensions import db
from tenants.models import LEVELS, Tenant

PREFIX_DIGITS = {"province": 2, "city": 4}  # GB/T 2260: a child repeats its parent's leading digits
CHILD_LEVEL = {"province": ("city", "county"), "city": ("county",), "county": ()}


class TenantError(ValueError):
    """A tenant change that breaks the tree's rules; the message is for people."""


def by_code(code: str) -> Tenant | None:
    return db.session.scalar(select(Tenant).where(Tenant.code == code))


def descendants_query(tenant: Tenant):
    return select(Tenant).where(Tenant.path.like(f"{tenant.path}/%"))


def served_query(hub: Tenant):
    """Tenants whose 12345/110 linkage runs at `hub` (itself included)."""
    return select(Tenant).where(Tenant.hub_id == hub.id)


def served_ids(hub: Tenant) -> list[int]:
    """The hub and the counties whose linkage runs at it."""
    return list(db.session.scalars(served_query(hub).with_only_columns(Tenant.id)))


@cache
def scope_lists():
    """scope_ids's two lookups as scalar subqueries (comma-joined ids) of the `Tenant` in the
    caller's query, so that a request resolves its actor and its scope in one statement."""
    other = aliased(Tenant)
    ids = func.aggregate_strings(cast(other.id, String), ",")
    served = select(ids).where(other.hub_id == Tenant.id).scalar_subquery()
    below = select(ids).where(other.path.like(Tenant.path + "/%")).scalar_subquery()
    return served, below


def scope_ids(tenant: Tenant, scope: str, lists: tuple[str | None, str | None] | None = None
              ) -> tuple[frozenset[int], frozenset[int]]:
    """(read, write) tenant ids for a member of `tenant` whose role has `scope`; `lists` are the
    values of scope_lists() when the caller already read them."""
    own = frozenset({tenant.id})
    if scope == permissions.OWN:
        return own, own
    if scope == permissions.SERVED:
        served = _ids(lists[0]) if lists else frozenset(
            db.session.scalars(served_query(tenant).with_only_columns(Tenant.id)))
        return own | served, own
    below = _ids(lists[1]) if lists else frozenset(
        db.session.scalars(descendants_query(tenant).with_only_columns(Tenant.id)))
    if scope == permissions.OVERSIGHT:
        return own | below, own
    return own | below, own | below  # TREE


def _ids(joined: str | None) -> frozenset[int]:
    return frozenset(int(i) for i in joined.split(",")) if joined else frozenset()


def context_for(tenant: Tenant, role_name: str, actor_id: int | None,
                lists: tuple[str | None, str | None] | None = None) -> TenantContext:
    read, write = scope_ids(tenant, permissions.role(role_name).scope, lists)
    return TenantContext(tenant_id=tenant.id, read_ids=read, write_ids=write, actor_id=actor_id)


def recompute_hubs(root: Tenant) -> None:
    """Set path and hub_id for `root` and everything below it (after a tree or hub change)."""
    def walk(node: Tenant, parent_path: str | None, parent_hub: int | None) -> None:
        node.path = f"{parent_path}/{node.code}" if parent_path else node.code
        node.hub_id = node.id if node.is_hub else parent_hub
        for child in db.session.scalars(select(Tenant).where(Tenant.parent_id == node.id)):
            walk(child, node.path, node.hub_id)

    parent = root.parent
    walk(root, parent.path if parent else None, parent.hub_id if parent else None)


def create(*, code: str, name: str, level: str, parent: Tenant | None, is_hub: bool = False,
           runs_12345: bool = True, runs_110: bool = True) -> Tenant:
    code, name = code.strip(), name.strip()
    if not (len(code) == 6 and code.isdigit()):
        raise TenantError("行政区划代码应为6位数字")
    if not name:
        raise TenantError("请填写名称")
    if level not in LEVELS:
        raise TenantError("层级无效")
    if by_code(code) is not None:
        raise TenantError(f"行政区划代码 {code} 已存在")
    if parent is None and level != "province":
        raise TenantError("只有省级租户可以没有上级")
    if parent is not None and level not in CHILD_LEVEL[parent.level]:
        raise TenantError(f"{parent.level_label}租户下不能设立{LEVELS[level]}租户")
    if parent is not None:
        prefix = parent.code[: PREFIX_DIGITS[parent.level]]
        if not code.startswith(prefix) or code == parent.code:
            raise TenantError(f"{parent.name}的下级行政区划代码应以 {prefix} 开头")
    tenant = Tenant(code=code, name=name, level=level, parent=parent, is_hub=is_hub,
                    runs_12345=runs_12345, runs_110=runs_110, path="")
    db.session.add(tenant)
    db.session.flush()
    recompute_hubs(tenant)
    return tenant


def update(tenant: Tenant, *, name: str, is_hub: bool, runs_12345: bool, runs_110: bool, active: bool) -> Tenant:
    name = name.strip()
    if not name:
        raise TenantError("请填写名称")
    if not (runs_12345 or runs_110):
        raise TenantError("至少运行12345热线或110报警服务台之一")
    hub_changed = tenant.is_hub != is_hub
    tenant.name, tenant.is_hub = name, is_hub
    tenant.runs_12345, tenant.runs_110, tenant.active = runs_12345, runs_110, active
    if hub_changed:
        recompute_hubs(tenant)
    return tenant


def subtree(root: Tenant) -> list[Tenant]:
    """`root` and its descendants, in tree order."""
    rows = db.session.scalars(
        select(Tenant).where(or_(Tenant.id == root.id, Tenant.path.like(f"{root.path}/%"))).order_by(Tenant.path)
    )
    return list(rows)
