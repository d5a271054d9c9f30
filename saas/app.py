"""create_app(): configuration, then a list of register_* calls."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from saas import config
from saas.extensions import csrf, db, htmx, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("INSTANCE_PATH") or str(ROOT / "instance"),
        static_folder=str(ROOT / "static"),
        template_folder="templates",
    )
    app.config.update(config.load(app.instance_path))
    app.config.update(overrides or {})
    register_extensions(app)
    register_request_pipeline(app)
    register_modules(app)
    register_errors(app)
    register_templates(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from saas import redis

    if app.config["PROXY_FIX_HOPS"]:
        n = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    redis.init_app(app)
    limiter.init_app(app)
    _import_models()


def _import_models() -> None:
    """Every model module, so that metadata, migrations and the isolation tests see all tables."""
    import saas.models  # noqa: F401
    import tenants.models  # noqa: F401
    import modules.units.models  # noqa: F401
    import saas.outbox  # noqa: F401
    import saas.idempotency  # noqa: F401
    import modules.deadlines.models  # noqa: F401
    import modules.cases.models  # noqa: F401
    import modules.dispatch.models  # noqa: F401
    import modules.notifications.models  # noqa: F401
    import modules.notifications.service  # noqa: F401  (registers the outbox handler)
    import modules.transfers.models  # noqa: F401
    import modules.transfers.negotiation  # noqa: F401  (declares the negotiation expiry job)
    import modules.exchange.models  # noqa: F401
    import modules.exchange.service  # noqa: F401  (registers the webhook outbox handler)
    import modules.triage.models  # noqa: F401
    import modules.triage.jobs  # noqa: F401  (declares the nightly retraining)
    import modules.members.jobs  # noqa: F401  (declares periodic jobs)
    import modules.dispatch.jobs  # noqa: F401


def register_request_pipeline(app: Flask) -> None:
    from saas import security
    from saas.db import register_transaction_boundary
    from tenants import resolve

    security.init_app(app)
    resolve.init_app(app)
    register_transaction_boundary(app)


def register_modules(app: Flask) -> None:
    from modules.home.views import bp as home_bp
    from modules.members.views import bp as members_bp
    from modules.units.views import bp as units_bp
    from modules.audit.views import bp as audit_bp
    from modules.system.views import bp as system_bp
    from modules.cases.views import bp as cases_bp
    from modules.deadlines.views import bp as policy_bp
    from modules.dispatch.views import bp as inbox_bp
    from modules.notifications.views import bp as notifications_bp
    from modules.transfers.views import bp as transfers_bp
    from modules.transfers.overview import bp as overview_bp
    from modules.exchange.views import bp as exchange_bp
    from modules.triage.views import bp as triage_bp
    from saas.api import bp as api_bp
    from saas.views import bp as auth_bp
    from tenants.views import bp as tenants_bp

    app.register_blueprint(auth_bp)
    for bp in (home_bp, cases_bp, inbox_bp, transfers_bp, overview_bp, exchange_bp, triage_bp, notifications_bp,
               policy_bp, units_bp, members_bp, tenants_bp, audit_bp, system_bp):
        app.register_blueprint(bp, url_prefix=f"/t/<tenant_code>{bp.url_prefix or ''}")
    import modules.units.api  # noqa: F401  (adds its routes to the API blueprint)
    import modules.cases.api  # noqa: F401
    import modules.dispatch.api  # noqa: F401
    import modules.transfers.api  # noqa: F401
    import modules.triage.api  # noqa: F401
    import saas.api_me  # noqa: F401
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)


def register_errors(app: Flask) -> None:
    from saas import errors

    errors.init_app(app)


def register_templates(app: Flask) -> None:
    from saas import templating

    templating.init_app(app)


def register_cli(app: Flask) -> None:
    from saas import cli

    cli.init_app(app)
