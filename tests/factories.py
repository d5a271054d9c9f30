"""Factories that build real rows through the services, and the world most tests stand on."""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from saas import auth
from saas.db import as_tenant, system_context, transaction, utcnow
from saas.extensions import db
from saas.models import ApiToken, AuditLog, Membership, User
from saas.idempotency import IdempotencyRecord
from saas.outbox import OutboxMessage
from modules.cases.models import Case, CaseCounter, CaseEvent
from modules.deadlines.models import CasePolicy
from modules.dispatch.models import Assignment, Attachment, ExtensionRequest
from modules.notifications.models import Notification, SmsMessage
from modules.units.models import Unit
from modules.transfers.models import Seat, Transfer, TransferHop
from modules.exchange.models import Webhook
from modules.triage.models import ListChange, ListItem, ListVersion, TransferList, TriageModel, UnitMapping
from tenants import service as tenants
from tenants.models import Tenant

PASSWORD = "ceshi2026pw"


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return auth.hash_password(PASSWORD)


def tenant(code, name, level, parent=None, is_hub=False) -> Tenant:
    return tenants.create(code=code, name=name, level=level, parent=parent, is_hub=is_hub)


def unit(t: Tenant, word: str, name: str | None = None, kind: str = "department") -> Unit:
    u = Unit(tenant_id=t.id, code=f"{t.code}-{word}", name=name or f"{t.name}{word}局", kind=kind,
             liaison_name="测试联络员（演示）", liaison_phone="19900001234")
    db.session.add(u)
    db.session.flush()
    return u


def user(username: str, *posts, display_name: str | None = None) -> User:
    """posts: (tenant, role) or (tenant, role, unit) or (tenant, role, unit, valid_until)."""
    u = User(username=username, display_name=display_name or f"{username}（演示）", password_hash=_password_hash())
    db.session.add(u)
    db.session.flush()
    for post in posts:
        t, role, un, until = (*post, None, None)[:4]
        db.session.add(Membership(user_id=u.id, tenant_id=t.id, role=role, unit_id=un.id if un else None,
                                  valid_from=utcnow() - timedelta(minutes=1), valid_until=until))
    db.session.flush()
    return u


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, valid PNG image (red pixels) for attachment tests."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def token(t: Tenant, role: str, un: Unit | None = None, name: str = "测试令牌") -> str:
    _, secret = auth.issue_token(tenant=t, role=role, unit_id=un.id if un else None, name=name, created_by=None)
    return secret


# One factory per TenantOwned model: the generic isolation test requires every model to be here.
def _membership(t: Tenant):
    u = User(username=f"m{t.code}{utcnow().timestamp():.0f}", display_name="成员（演示）", password_hash=_password_hash())
    db.session.add(u)
    db.session.flush()
    m = Membership(tenant_id=t.id, user_id=u.id, role="agent_12345")
    db.session.add(m)
    return m


def _audit(t: Tenant):
    row = AuditLog(tenant_id=t.id, actor_label="测试", action="test.event", result="ok", detail={})
    db.session.add(row)
    return row


def _token(t: Tenant):
    token(t, "agent_12345")
    return None


def case_row(t: Tenant, text: str = "小区暖气不热，室温只有十二度（演示）", **fields) -> Case:
    """A case row written directly (for isolation tests); real flows go through the services."""
    c = Case(tenant_id=t.id, received_tenant_id=t.id, place_tenant_id=t.id, platform="12345", received_by="12345",
             channel="phone", text=text, kind="求助", number=f"{t.code}-T-{utcnow().timestamp():.6f}", **fields)
    db.session.add(c)
    db.session.flush()
    return c


def _assignment(t: Tenant):
    c = case_row(t)
    a = Assignment(tenant_id=t.id, case_id=c.id, case_tenant_id=t.id, unit_id=unit(t, "asg").id, role="lead",
                   deadline=utcnow() + timedelta(days=5), deadline_label="5个工作日")
    db.session.add(a)
    db.session.flush()
    return a


def _extension(t: Tenant):
    a = _assignment(t)
    row = ExtensionRequest(tenant_id=t.id, assignment_id=a.id, case_id=a.case_id, working_days=3, reason="测试")
    db.session.add(row)
    return row


def _attachment(t: Tenant):
    a = _assignment(t)
    row = Attachment(tenant_id=t.id, assignment_id=a.id, case_id=a.case_id, filename="a.pdf",
                     content_type="application/pdf", size=5, sha256="0" * 64)
    db.session.add(row)
    return row


def _notification(t: Tenant):
    m = _membership(t)
    db.session.flush()
    row = Notification(tenant_id=t.id, user_id=m.user_id, title="测试通知")
    db.session.add(row)
    return row


def _idempotency(t: Tenant):
    tok, _ = auth.issue_token(tenant=t, role="agent_12345", unit_id=None, name="幂等", created_by=None)
    row = IdempotencyRecord(tenant_id=t.id, token_id=tok.id, key=f"k{t.code}", request_hash="0" * 64)
    db.session.add(row)
    return row


def _transfer(t: Tenant) -> Transfer:
    c = case_row(t)
    row = Transfer(tenant_id=t.id, case_id=c.id, from_platform="12345", to_tenant_id=t.id, to_platform="110",
                   reason="测试", actor_label="测试", hops=[
                       TransferHop(tenant_id=t.id, case_id=c.id, seq=0, platform="12345", status="origin"),
                       TransferHop(tenant_id=t.id, case_id=c.id, seq=1, platform="110", status="pending")])
    db.session.add(row)
    db.session.flush()
    return row


def _list_version(t: Tenant) -> ListVersion:
    lst = TransferList(tenant_id=t.id, name="测试清单")
    db.session.add(lst)
    db.session.flush()
    version = ListVersion(tenant_id=t.id, list_id=lst.id, number=1, created_by_label="测试")
    db.session.add(version)
    db.session.flush()
    return version


def _list_item(t: Tenant) -> None:
    db.session.add(ListItem(tenant_id=t.id, version_id=_list_version(t).id, key="m-test", category="求助",
                            matter="测试事项", phrases=["测试"], platform="12345", kind="求助"))


TENANT_OWNED_FACTORIES = {
    Unit: lambda t: unit(t, "iso"),
    Membership: _membership,
    ApiToken: _token,
    AuditLog: _audit,
    Case: case_row,
    CaseEvent: lambda t: db.session.add(CaseEvent(tenant_id=t.id, case_id=case_row(t).id, type="intake",
                                                  actor_label="测试")),
    CaseCounter: lambda t: db.session.add(CaseCounter(tenant_id=t.id, day=utcnow().date(), last=1)),
    CasePolicy: lambda t: db.session.add(CasePolicy(
        tenant_id=t.id, days_by_kind={}, urgent_hours=24, complex_days=15, max_extension_days=10,
        return_window_days=2, remind_percent=80, followup_max_tries=3, duplicate_window_days=30, negotiation_hours=8)),
    Assignment: _assignment,
    ExtensionRequest: _extension,
    Attachment: _attachment,
    OutboxMessage: lambda t: db.session.add(OutboxMessage(tenant_id=t.id, kind="notify", payload={})),
    Notification: _notification,
    SmsMessage: lambda t: db.session.add(SmsMessage(tenant_id=t.id, phone="19900001234", recipient="测试",
                                                    text="测试", provider="record")),
    IdempotencyRecord: _idempotency,
    Transfer: _transfer,
    TransferHop: lambda t: _transfer(t).hops[1],
    Seat: lambda t: db.session.add(Seat(tenant_id=t.id, user_id=_membership(t).user_id, platform="12345")),
    TransferList: lambda t: db.session.add(TransferList(tenant_id=t.id, name="测试清单")),
    ListVersion: _list_version,
    ListItem: _list_item,
    ListChange: lambda t: db.session.add(ListChange(tenant_id=t.id, version_id=_list_version(t).id, action="drafted",
                                                    actor_label="测试")),
    UnitMapping: lambda t: db.session.add(UnitMapping(tenant_id=t.id, item_key="m-test", unit_codes=[],
                                                      updated_by_label="测试")),
    TriageModel: lambda t: db.session.add(TriageModel(tenant_id=t.id, weights=b"x")),
    Webhook: lambda t: db.session.add(Webhook(tenant_id=t.id, name="测试", platform="110", url="http://127.0.0.1:9/x",
                                              secret="whsec_test")),
}


@dataclass
class World:
    t: dict[str, Tenant] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)

    def __getitem__(self, code: str) -> Tenant:
        return self.t[code]


def build_world() -> World:
    """山西省 → 太原市 (hub) → 小店区, 迎泽区; 福建省 → 泉州市 → 德化县 (own hub); 重庆市 (hub) → 渝中区.

    Users (password PASSWORD): sx_admin, sx_supervisor, ty_admin, ty_agent, xd_admin, xd_110,
    yz_admin, dh_admin, cq_admin, ty_heating (unit handler), multi (太原 agent + 迎泽 county admin),
    ty_dispatcher, ty_supervisor, ty_110, ty_urban (unit handler), xd_housing (unit handler of
    小店区), xd_agent, xd_dispatcher, cq_agent, cq_110, yzq_110 (渝中区 desk), dh_agent, dh_110.
    """
    w = World()
    with as_tenant(system_context()), transaction():
        sx = tenant("140000", "山西省", "province")
        ty = tenant("140100", "太原市", "city", sx, is_hub=True)
        xd = tenant("140105", "小店区", "county", ty)
        yz = tenant("140106", "迎泽区", "county", ty)
        fj = tenant("350000", "福建省", "province")
        qz = tenant("350500", "泉州市", "city", fj, is_hub=True)
        dh = tenant("350526", "德化县", "county", qz, is_hub=True)
        cq = tenant("500000", "重庆市", "province", is_hub=True)
        yzq = tenant("500103", "渝中区", "county", cq)
        for t in (sx, ty, xd, yz, fj, qz, dh, cq, yzq):
            w.t[t.code] = t
        for t, word in ((ty, "heating"), (ty, "urban"), (xd, "housing"), (yz, "housing"), (dh, "housing"),
                        (cq, "urban"), (yzq, "housing")):
            w.units[f"{t.code}-{word}"] = unit(t, word, kind="utility" if word == "heating" else "department")
        user("sx_admin", (sx, "province_admin"))
        user("sx_supervisor", (sx, "province_supervisor"))
        user("ty_admin", (ty, "hub_admin"))
        user("ty_agent", (ty, "agent_12345"))
        user("ty_heating", (ty, "unit_handler", w.units["140100-heating"]))
        user("xd_admin", (xd, "county_admin"))
        user("xd_110", (xd, "desk_110"))
        user("yz_admin", (yz, "county_admin"))
        user("dh_admin", (dh, "hub_admin"))
        user("cq_admin", (cq, "hub_admin"))
        user("multi", (ty, "agent_12345"), (yz, "county_admin"))
        user("ty_dispatcher", (ty, "dispatcher"))
        user("ty_supervisor", (ty, "supervisor"))
        user("ty_110", (ty, "desk_110"))
        user("ty_urban", (ty, "unit_handler", w.units["140100-urban"]))
        user("xd_housing", (xd, "unit_handler", w.units["140105-housing"]))
        user("xd_agent", (xd, "agent_12345"))
        user("xd_dispatcher", (xd, "dispatcher"))
        user("cq_agent", (cq, "agent_12345"))
        user("cq_110", (cq, "desk_110"))
        user("yzq_110", (yzq, "desk_110"))
        user("dh_agent", (dh, "agent_12345"))
        user("dh_110", (dh, "desk_110"))
    return w


def context_of(username: str, code: str):
    """The tenant context a user's membership in `code` gives (for service-level tests)."""
    from sqlalchemy import select

    from saas.auth import actor_for_membership

    m = db.session.scalar(select(Membership).join(User, Membership.user_id == User.id)
                          .join(Tenant, Membership.tenant_id == Tenant.id)
                          .where(User.username == username, Tenant.code == code)
                          .execution_options(all_tenants=True))
    return actor_for_membership(m)


def snapshot(fn):
    """Run `fn` on a fresh snapshot (requests commit in their own sessions), then end the read
    transaction so no lock is held while the next request runs."""
    db.session.rollback()
    try:
        return fn()
    finally:
        db.session.rollback()


def as_system(fn):
    """Run `fn` as the system on a fresh snapshot (requests and workers commit in their own
    sessions), then end the read transaction."""
    db.session.rollback()
    try:
        with as_tenant(system_context()):
            return fn()
    finally:
        db.session.rollback()


def count_rows(model, *where) -> int:
    """Rows of `model` in every tenant (for "nothing was written" checks)."""
    from sqlalchemy import func, select

    return snapshot(lambda: db.session.scalar(select(func.count()).select_from(model).where(*where)
                                              .execution_options(all_tenants=True)))
