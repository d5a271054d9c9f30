"""Demo linkage for 太原市: invented matters (marked 演示) taken through the real transfer services, so
that the 110 and 12345 queues, a linked case and a negotiation are there to look at after `make run`."""
from __future__ import annotations

from sqlalchemy import select

from saas.extensions import db
from modules.cases import service as cases
from modules.cases.demo import _actor
from modules.dispatch import service as dispatch
from modules.transfers import negotiation, service as transfers
from tenants.models import Tenant


def _tenant(code: str) -> Tenant:
    return db.session.scalar(select(Tenant).where(Tenant.code == code))


def load() -> int:
    """Run under system_context() inside transaction(), after the demo cases."""
    xd110, ty110 = _actor("xd_110", "140105"), _actor("ty_110", "140100")
    agent, dispatcher = _actor("ty_agent", "140100"), _actor("ty_dispatch", "140100")
    # 1. A county 110 hands a non-police matter up: waiting at the hub 110.
    noise = cases.intake(_tenant("140105"), xd110, cases.IntakeData(
        text="楼上邻居装修，每天早上七点就开始电钻施工，协商无果（演示）", kind="报警", caller_name="孙女士（演示）",
        caller_phone="19900020001", address="小店区（演示地址）"))
    transfers.send(noise, xd110, transfers.TransferData(to="12345", reason="装修噪音属住建、城管职责，非警务类（演示）"))
    # 2. An emergency reported to 12345: passes the hub 110 at once, waits at 小店区 110, cannot be refused.
    fight = cases.intake(_tenant("140100"), agent, cases.IntakeData(
        text="小区门口两伙人正在打架，有人头部流血（演示）", kind="求助", urgency="urgent", emergency=True,
        caller_name="周先生（演示）", caller_phone="19900020002", place_tenant="140105", address="小店区（演示地址）"))
    transfers.send(fight, agent, transfers.TransferData(to="110", reason="正在发生的斗殴，有人受伤（演示）"))
    # 3. Joint handling: 110 settled a dispute on scene and hands the rest to 12345, which dispatches it.
    dispute = cases.intake(_tenant("140100"), ty110, cases.IntakeData(
        text="两户因楼道堆放杂物发生争吵，民警已到场调解（演示）", kind="报警", caller_name="吴女士（演示）",
        caller_phone="19900020003", place_tenant="140105", address="小店区（演示地址）"))
    joint = transfers.send(dispute, ty110, transfers.TransferData(
        to="12345", reason="现场已调解，楼道杂物需社区和物业清理（演示）", purpose="joint",
        text="楼道长期堆放杂物，存在消防隐患，请社区督促物业清理（演示）", officer_name="民警刘强（演示）",
        officer_phone="19900020009"))
    transfers.accept(joint, agent)
    linked = cases.linked_case(dispute)
    dispatch.dispatch(linked, dispatcher, dispatch.DispatchData(units=[dispatch.UnitChoice("140105-housing")]))
    # 4. Unclear responsibility: 110 refused, 12345 opened a negotiation.
    bikes = cases.intake(_tenant("140100"), agent, cases.IntakeData(
        text="共享单车堆满小区消防通道，物业说管不了（演示）", kind="投诉", caller_name="郑先生（演示）",
        caller_phone="19900020004", place_tenant="140100", address="太原市（演示地址）"))
    sent = transfers.send(bikes, agent, transfers.TransferData(to="110", reason="堵塞消防通道，请公安处置（演示）"))
    transfers.reject(sent, ty110, "共享单车停放由城管和运营企业负责，非警务类（演示）")
    negotiation.open_(sent, agent, "消防通道堵塞涉及消防安全，请共同确认受理主体（演示）")
    return 4
