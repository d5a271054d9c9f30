"""County 110 → hub 110 → hub 12345, dispatched, answered; the county desk sees the result."""
from __future__ import annotations

from sqlalchemy import select

from saas.db import as_tenant, transaction
from saas.extensions import db
from modules.cases import service as cases
from modules.cases.models import Case
from modules.dispatch import service as dispatch
from modules.dispatch.models import Assignment
from modules.transfers import service as transfers
from tests.factories import context_of


def _as(username, code):
    actor = context_of(username, code)
    return actor, as_tenant(actor.context)


def test_county_110_to_hub_12345_and_result_back(world):
    actor, ctx = _as("xd_110", "140105")
    with ctx, transaction():
        case = cases.intake(world["140105"], actor, cases.IntakeData(
            text="楼上邻居装修噪音，白天持续施工（演示）", kind="报警", caller_phone="13800005678"))
        t = transfers.send(case, actor, transfers.TransferData(to="12345", reason="非警务类，属城管职责（演示）"))
        case_id, transfer_id = case.id, t.id
        assert [(h.tenant_id, h.platform, h.status) for h in t.hops] == [
            (world["140105"].id, "110", "origin"), (world["140100"].id, "110", "pending"),
            (world["140100"].id, "12345", "waiting")]
        assert case.status == "transferring"
    hub110, ctx = _as("ty_110", "140100")
    with ctx, transaction():
        t = transfers.readable_transfer(transfer_id)
        assert [x.id for x in transfers.waiting_for(hub110)] == [transfer_id]
        transfers.accept(t, hub110)
        assert t.current.platform == "12345"
    agent, ctx = _as("ty_agent", "140100")
    with ctx, transaction():
        t = transfers.readable_transfer(transfer_id)
        transfers.accept(t, agent)
        case = transfers.readable_case(case_id)
        assert (case.tenant_id, case.platform, case.status) == (world["140100"].id, "12345", "new")
        assert case.kind == "求助"  # 12345 works it with its own kinds (and deadlines): not as a 报警
    disp, ctx = _as("ty_dispatcher", "140100")
    with ctx, transaction():
        case = db.session.scalar(select(Case).where(Case.id == case_id))
        lead = dispatch.dispatch(case, disp, dispatch.DispatchData(units=[dispatch.UnitChoice("140105-housing")]))[0]
        lead_id = lead.id
    handler, ctx = _as("xd_housing", "140105")
    with ctx, transaction():
        a = db.session.scalar(select(Assignment).where(Assignment.id == lead_id))
        dispatch.accept(a, handler)
        dispatch.reply(a, handler, dispatch.ReplyData(result="已责令施工方错峰施工（演示）", resolved=True))
    desk, ctx = _as("xd_110", "140105")
    with ctx, transaction():
        assert db.session.scalar(select(Case).where(Case.id == case_id)) is None  # not its case any more
        case = transfers.readable_case(case_id)
        assert case.status == "replied" and "错峰" in case.answer
        assert transfers.transfers_of(case)[0].status == "accepted"
    yz, ctx = _as("yz_admin", "140106")
    with ctx, transaction():
        assert transfers.readable_case(case_id) is None
        assert transfers.readable_transfer(transfer_id) is None
