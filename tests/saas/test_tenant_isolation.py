"""Fail-closed tenant isolation, for every TenantOwned model (new models join automatically)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from saas.db import (TenantContextMissing, TenantWriteRefused, as_tenant, system_context, tenant_owned_models,
                     transaction)
from saas.extensions import db
from tests import factories
from tests.factories import TENANT_OWNED_FACTORIES, context_of

MODELS = tenant_owned_models()


def test_every_tenant_owned_model_has_a_factory():
    missing = [m.__name__ for m in MODELS if m not in TENANT_OWNED_FACTORIES]
    assert not missing, f"add a factory to tests/factories.py TENANT_OWNED_FACTORIES for {missing}"
    assert {m.__name__ for m in MODELS} >= {"Unit", "Membership", "ApiToken", "AuditLog"}


def _rows_in_both(world, model):
    """Create one row of `model` in 小店区 (A) and one in 迎泽区 (B); return their ids."""
    with as_tenant(system_context()), transaction():
        for code in ("140105", "140106"):
            TENANT_OWNED_FACTORIES[model](world[code])
    with as_tenant(system_context()):
        rows = db.session.execute(select(model.id, model.tenant_id)).all()
    a = {i for i, t in rows if t == world["140105"].id}
    b = {i for i, t in rows if t == world["140106"].id}
    assert a and b
    return a, b


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_rows_of_another_tenant_are_invisible(world, model):
    a, b = _rows_in_both(world, model)
    actor = context_of("xd_admin", "140105")
    with as_tenant(actor.context):
        seen = set(db.session.scalars(select(model.id)))
        assert seen & b == set()
        assert a <= seen
        for other in b:
            assert db.session.scalar(select(model).where(model.id == other)) is None
        assert db.session.scalar(select(func.count(model.id)).where(model.id.in_(b))) == 0


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_query_without_tenant_context_raises(world, model):
    _rows_in_both(world, model)
    db.session.expunge_all()
    with pytest.raises(TenantContextMissing):
        db.session.scalars(select(model)).all()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_writing_another_tenants_row_is_refused_at_flush(world, model):
    _, b = _rows_in_both(world, model)
    with as_tenant(system_context()):
        foreign = db.session.get(model, next(iter(b)))
    actor = context_of("xd_admin", "140105")
    with as_tenant(actor.context):
        db.session.add(foreign)
        db.session.delete(foreign)
        with pytest.raises(TenantWriteRefused):
            db.session.flush()
        db.session.rollback()


def test_creating_a_row_in_another_tenant_is_refused(world):
    actor = context_of("xd_admin", "140105")
    with as_tenant(actor.context):
        factories.unit(world["140105"], "mine")  # own tenant: fine
        with pytest.raises(TenantWriteRefused):
            factories.unit(world["140106"], "theirs")
        db.session.rollback()


def test_bulk_update_reaches_only_writable_tenants(world):
    from modules.units.models import Unit

    actor = context_of("xd_admin", "140105")
    with as_tenant(actor.context), transaction():
        db.session.execute(update(Unit).values(active=False))
    with as_tenant(system_context()):
        states = dict(db.session.execute(select(Unit.code, Unit.active)).all())
    assert states["140105-housing"] is False
    assert states["140106-housing"] is True and states["140100-heating"] is True


def test_session_get_does_not_hand_out_another_tenants_object_from_memory(world):
    from modules.units.models import Unit

    foreign = world.units["140106-housing"]  # still in this session's identity map
    with as_tenant(context_of("xd_admin", "140105").context):
        assert db.session.get(Unit, foreign.id) is None
        assert db.session.get(Unit, world.units["140105-housing"].id).code == "140105-housing"
    with pytest.raises(TenantContextMissing):
        db.session.get(Unit, foreign.id)


def test_all_tenants_is_the_one_explicit_way_across(world):
    from modules.units.models import Unit

    actor = context_of("xd_admin", "140105")
    with as_tenant(actor.context):
        scoped = db.session.scalar(select(func.count(Unit.id)))
        across = db.session.scalar(select(func.count(Unit.id)).execution_options(all_tenants=True))
    assert scoped == 1
    assert across == len(world.units)


def test_joined_tenant_owned_rows_are_filtered_too(world):
    from saas.models import Membership, User

    actor = context_of("xd_admin", "140105")
    with as_tenant(actor.context):
        names = set(db.session.scalars(select(User.username).join(Membership, Membership.user_id == User.id)))
    assert names == {"xd_admin", "xd_110", "xd_housing", "xd_agent", "xd_dispatcher"}


def test_lazy_relationship_loads_are_filtered(world):
    """A relationship loaded later is filtered by the context in force when it loads."""
    from saas.models import Membership, User
    from sqlalchemy.orm import lazyload

    query = (select(Membership).join(User, Membership.user_id == User.id)
             .where(User.username == "ty_heating").options(lazyload(Membership.unit)))
    with as_tenant(system_context()):
        handler = db.session.scalar(query)
    assert "unit" not in handler.__dict__  # not loaded yet
    for obj in [o for o in db.session.identity_map.values() if not isinstance(o, Membership)]:
        db.session.expunge(obj)  # so the load goes to the database, as in a fresh request
    with as_tenant(context_of("xd_admin", "140105").context):
        assert handler.unit is None  # 太原市's unit is out of 小店区's reach
    db.session.expire(handler, ["unit"])
    with as_tenant(context_of("ty_admin", "140100").context):
        assert handler.unit.code == "140100-heating"


def test_scopes_never_reach_siblings_or_ancestors(world):
    ids = {code: t.id for code, t in world.t.items()}
    hub = context_of("ty_admin", "140100").context
    assert hub.read_ids == {ids["140100"], ids["140105"], ids["140106"]}
    assert hub.write_ids == {ids["140100"]}
    county = context_of("xd_admin", "140105").context
    assert county.read_ids == county.write_ids == {ids["140105"]}
    supervisor = context_of("sx_supervisor", "140000").context
    assert supervisor.read_ids == {ids["140000"], ids["140100"], ids["140105"], ids["140106"]}
    assert supervisor.write_ids == {ids["140000"]}
    province = context_of("sx_admin", "140000").context
    assert province.write_ids == supervisor.read_ids
    assert ids["350526"] not in province.read_ids  # another province is not below
    dehua = context_of("dh_admin", "350526").context
    assert dehua.read_ids == {ids["350526"]}  # its own hub; 泉州市 (ancestor) is out of reach


def test_province_supervisor_reads_descendants_but_cannot_write(world, login):
    from modules.units.models import Unit

    supervisor = context_of("sx_supervisor", "140000")
    with as_tenant(supervisor.context):
        codes = set(db.session.scalars(select(Unit.code)))
        assert {"140100-heating", "140105-housing"} <= codes
        assert "350526-housing" not in codes
        heating = db.session.scalar(select(Unit).where(Unit.code == "140100-heating"))
        heating.name = "改名"
        with pytest.raises(TenantWriteRefused):
            db.session.flush()
        db.session.rollback()
    page = login("sx_supervisor").get("/t/140000/units/")
    assert page.status_code == 200 and "140100-heating" in page.get_data(as_text=True)
    assert "编辑" not in page.get_data(as_text=True)
    heating_id = world.units["140100-heating"].id
    assert login("sx_supervisor").get(f"/t/140000/units/{heating_id}/edit").status_code == 403


def test_sibling_county_gets_404_on_pages_and_api(world, login, app):
    from tests.conftest import api

    sibling_unit = world.units["140106-housing"].id
    xd = login("xd_admin")
    assert xd.get(f"/t/140105/units/{sibling_unit}/edit").status_code == 404
    assert xd.post(f"/t/140105/units/{sibling_unit}/edit", {"name": "x"}).status_code == 404
    assert xd.get("/t/140106/").status_code == 404  # no membership there: the tenant does not exist for them
    with as_tenant(system_context()), transaction():
        secret = factories.token(world["140105"], "county_admin")
    client = api(app, secret)
    response = client.get("/api/v1/units/140106-housing")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found", "message": "您访问的内容不存在或无权查看"}}
    assert client.get("/api/v1/units/140105-housing").status_code == 200
