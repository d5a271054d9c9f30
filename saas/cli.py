"""Command line: tokens, demo data, worker, scheduler."""
from __future__ import annotations

import sys

import click
from flask import Flask
from sqlalchemy import select

from saas.db import as_tenant, system_context, transaction


def init_app(app: Flask) -> None:
    from modules.triage import cli as triage_cli

    triage_cli.init_app(app)

    @app.cli.group()
    def tokens():
        """API tokens (service accounts)."""

    @tokens.command("create")
    @click.option("--tenant", "tenant_code", required=True, help="division code, e.g. 140100")
    @click.option("--role", required=True)
    @click.option("--unit", "unit_code", default=None, help="member unit code")
    @click.option("--name", default="命令行签发", help="label")
    def tokens_create(tenant_code, role, unit_code, name):
        """Create a token and print it alone on standard output."""
        from modules.members import service
        from tenants.service import by_code

        with as_tenant(system_context()), transaction():
            tenant = by_code(tenant_code)
            if tenant is None:
                raise click.ClickException(f"没有代码为 {tenant_code} 的租户")
            try:
                _, secret = service.create_token(None, tenant=tenant, role=role, unit_code=unit_code, name=name)
            except service.MemberError as exc:
                raise click.ClickException(str(exc)) from exc
        click.echo(secret)

    @tokens.command("revoke")
    @click.argument("prefix")
    def tokens_revoke(prefix):
        """Revoke the token whose printed prefix (first 10 characters) is PREFIX."""
        from modules.members import service
        from saas.models import ApiToken

        with as_tenant(system_context()), transaction() as session:
            token = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix[:10]))
            if token is None:
                raise click.ClickException("没有这个令牌")
            service.revoke_token(None, token)
        click.echo(f"revoked {prefix[:10]}")

    @app.cli.group()
    def demo():
        """Demo data (marked 演示)."""

    @demo.command("load")
    @click.option("--if-empty", is_flag=True, help="do nothing when tenants exist")
    def demo_load(if_empty):
        from tenants import demo as demo_data

        with as_tenant(system_context()), transaction():
            if not demo_data.is_empty():
                if if_empty:
                    click.echo("database already has data: demo not loaded")
                    return
                raise click.ClickException("数据库已有数据，演示数据只能装入空库")
            demo_data.load()
        click.echo("demo data loaded")

    @demo.command("logins")
    def demo_logins():
        from tenants import demo as demo_data

        click.echo(f"password for every demo login: {demo_data.DEMO_PASSWORD}")
        for username, what in demo_data.logins():
            click.echo(f"  {username:<14} {what}")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="exit when the queues are empty")
    @click.option("--log-level", default="INFO", help="INFO logs every job; WARNING only problems")
    def worker(burst, log_level):
        """Run an RQ worker on every queue (run as many as needed, on any host)."""
        from saas import jobs

        jobs.worker(burst=burst, logging_level=log_level)

    @app.cli.command("scheduler")
    def scheduler():
        """Run the periodic-job scheduler (run exactly one)."""
        from saas import jobs

        jobs.scheduler()
        sys.exit(0)
