"""Where a transfer goes: transfers between 12345 and 110 happen at the hub.

From a county the case first climbs to the hub on its own platform (a county 110 reaches the hub
12345 through the hub 110); it crosses to the other platform at the hub; a police matter then goes
down to the 110 of the county where it happened. A tenant that is its own hub (德化县, 宝丰县, or a
city) crosses directly. Each stop is a hop with its own acceptance and time.
"""
from __future__ import annotations

from dataclasses import dataclass

from saas.extensions import db
from tenants.models import PLATFORMS, Tenant


class RouteError(ValueError):
    """No route: the message is for people."""


@dataclass(frozen=True)
class Stop:
    tenant: Tenant
    platform: str


def other(platform: str) -> str:
    return "110" if platform == "12345" else "12345"


def route(origin: Tenant, platform: str, to_platform: str, place: Tenant | None) -> list[Stop]:
    """The stops from (`origin`, `platform`) to `to_platform`, origin first."""
    if to_platform not in PLATFORMS or to_platform == platform:
        raise RouteError(f"只能转往另一平台（{PLATFORMS[other(platform)]}）")
    hub = db.session.get(Tenant, origin.hub_id) if origin.hub_id else None
    if hub is None or not hub.active:
        raise RouteError(f"{origin.name}尚未归属任何联动枢纽，不能转办；请联系省级管理员设置枢纽")
    stops = [Stop(origin, platform)]
    if hub.id != origin.id:
        _require(hub, platform)
        stops.append(Stop(hub, platform))
    _require(hub, to_platform)
    stops.append(Stop(hub, to_platform))
    if (to_platform == "110" and place is not None and place.id != hub.id and place.hub_id == hub.id
            and place.runs_110 and place.active):
        stops.append(Stop(place, "110"))  # the hub 110 pushes it to the county where it happened
    return stops


def _require(tenant: Tenant, platform: str) -> None:
    if platform not in tenant.platforms:
        raise RouteError(f"{tenant.name}未开通{PLATFORMS[platform]}，无法经其转办")
