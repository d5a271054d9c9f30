"""Roles and permissions as data, and the one check: require("module.verb").

A role grants a set of `module.verb` permissions and a scope: which tenants a member may read
(their own; plus the counties their hub serves; plus every descendant for oversight roles) and
write (their own; every descendant for the province admin). Nothing reaches siblings or ancestors.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import abort, g

# Scopes: how far a role reaches from its tenant.
OWN = "own"            # read and write the own tenant
SERVED = "served"      # also read the tenants this hub serves
OVERSIGHT = "oversight"  # also read every descendant, read-only
TREE = "tree"          # read and write every descendant


@dataclass(frozen=True)
class Role:
    name: str
    label: str
    scope: str
    permissions: frozenset[str]
    needs_unit: bool = False
    platform: str | None = None  # the platform whose cases the role works: "12345", "110" or both


_VIEW = {"home.view", "units.view", "cases.view", "policy.view", "lists.view"}
_ADMIN = _VIEW | {"units.manage", "members.view", "members.manage", "tokens.manage", "audit.view", "jobs.view",
                  "policy.manage", "sms.view"}
_AGENT = _VIEW | {"cases.intake", "cases.close", "cases.reveal", "transfers.send", "transfers.handle", "triage.use"}

ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        Role("province_admin", "省级管理员", TREE,
             frozenset(_ADMIN | {"tenants.view", "tenants.manage", "calendar.manage", "lists.manage", "triage.use"})),
        Role("province_supervisor", "省级督查", OVERSIGHT,
             frozenset(_VIEW | {"tenants.view", "members.view", "audit.view", "cases.supervise", "transfers.view"})),
        Role("hub_admin", "枢纽管理员", SERVED, frozenset(_ADMIN | {"tenants.view", "cases.supervise", "transfers.view",
                                                                "seats.manage", "webhooks.manage", "lists.manage",
                                                                "triage.use", "triage.train"})),
        # A county's own 110 system; a county maps its own units to its hub's list.
        Role("county_admin", "县级管理员", OWN, frozenset(_ADMIN | {"webhooks.manage", "lists.units", "triage.use"})),
        Role("agent_12345", "12345话务员", SERVED, frozenset(_AGENT | {"cases.followup"}), platform="12345"),
        Role("desk_110", "110接警员", SERVED, frozenset(_AGENT), platform="110"),
        Role("dispatcher", "派单员", SERVED,
             frozenset(_VIEW | {"cases.dispatch", "cases.close", "cases.reveal", "cases.followup", "transfers.send",
                                "transfers.handle", "triage.use"}), platform="12345"),
        Role("supervisor", "督办员", SERVED,
             frozenset(_VIEW | {"cases.supervise", "cases.reveal", "cases.followup", "transfers.view"})),
        Role("unit_handler", "承办单位经办人", OWN,
             frozenset({"home.view", "assignments.handle", "cases.reveal", "transfers.police"}), needs_unit=True),
        Role("auditor", "审计员", OVERSIGHT,
             frozenset({"home.view", "audit.view", "members.view", "units.view", "cases.view", "sms.view"})),
    )
}

# Which roles an admin may grant: a province admin names the admins below it; a hub or county
# admin staffs its own tenant.
GRANTABLE: dict[str, frozenset[str]] = {
    "province_admin": frozenset(ROLES),
    "hub_admin": frozenset({"hub_admin", "agent_12345", "desk_110", "dispatcher", "supervisor", "unit_handler",
                           "auditor"}),
    "county_admin": frozenset({"county_admin", "agent_12345", "desk_110", "dispatcher", "supervisor", "unit_handler",
                              "auditor"}),
}


class PermissionDenied(Exception):
    def __init__(self, permission: str):
        super().__init__(permission)
        self.permission = permission


def role(name: str) -> Role:
    return ROLES[name]


def has(role_name: str | None, permission: str) -> bool:
    return role_name in ROLES and permission in ROLES[role_name].permissions


def check(role_name: str | None, permission: str) -> None:
    """Raise PermissionDenied unless the role grants the permission (services call this)."""
    if not has(role_name, permission):
        raise PermissionDenied(permission)


def require(permission: str):
    """View decorator: the acting membership or token must grant `permission`."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            actor = g.get("actor")
            if actor is None:
                abort(401)
            check(actor.role, permission)
            return view(*args, **kwargs)

        wrapper.permission = permission
        return wrapper

    return decorator
