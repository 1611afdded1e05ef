"""`make serve`: the production shape on this machine, on plain HTTP at 127.0.0.1.

    python -m tests.serve [--port 8000] [--workers 2] [--supporters 500]

Starts, each in its own process group: the local Stripe (signing its webhooks to
the site, as `make run` starts it), gunicorn with gunicorn.conf.py (several
workers, config.settings.serve: production's settings and start-up checks), and
one `db_worker`; on PostgreSQL (SERVE_DATABASE_URL, created, migrated and given
demo data if empty) and Redis (SERVE_CACHE_URL). Ctrl-C (or SIGTERM) stops all of it.

`stack()` is the same, for `make loadtest` and its test."""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from tests.bench import servers

PROJECT = servers.PROJECT
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/brightwell_serve"
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/13"
WEBHOOK_SECRET = "whsec_serve_local"
STAFF_LOGINS = "admin / fundraiser / finance, password brightwell-demo"


def database_create_if_missing(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _manage(*args: str, env: dict, log) -> None:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed (exit {result.returncode})")


@contextlib.contextmanager
def stack(*, port: int, workers: int, database_url: str = DEFAULT_DATABASE_URL, cache_url: str = DEFAULT_CACHE_URL,
          supporters: int = 500, workdir: Path | None = None, env: dict | None = None, quiet: bool = True):
    """Everything `make serve` runs, until the block ends; yields the environment
    that points manage.py at it (config.settings.serve, the local Stripe's keys).
    quiet: the processes' output goes to files in workdir, else to this terminal."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="brightwell-serve-"))
    site = f"http://127.0.0.1:{port}"
    stripe_env = workdir / ".serve-stripe.env"
    site_env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.serve", "SERVE_DATABASE_URL": database_url,
        "SERVE_CACHE_URL": cache_url, "SERVE_STRIPE_ENV": str(stripe_env), "WAGTAILADMIN_BASE_URL": site,
        "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers), **(env or {}),
    }
    site_env.pop("DATABASE_URL", None)
    site_env.pop("CACHE_URL", None)

    def log(name: str) -> Path | None:
        return workdir / f"{name}.log" if quiet else None

    database_create_if_missing(database_url)
    stripe_port = servers.free_port()
    with contextlib.ExitStack() as running:
        # The indexed local Stripe (tests/bench/local_stripe.py): lists stay fast at thousands of gifts.
        stripe_process = running.enter_context(servers.process(
            [sys.executable, "-m", "tests.bench.local_stripe", "--port", str(stripe_port), "--env-file",
             str(stripe_env), "--site-url", site, "--webhook-url", f"{site}/stripe/webhook/",
             "--webhook-secret", WEBHOOK_SECRET], env=site_env, log=log("stripe")))
        servers.wait_until(lambda: stripe_env.exists() and servers.answers(stripe_port), stripe_process,
                           log("stripe"), "the local Stripe")
        # These run the start-up checks too: with the local Stripe's keys they pass.
        with open(log("prepare") or os.devnull, "ab") if quiet else contextlib.nullcontext() as out:
            for args in (["migrate", "--no-input"], ["load_demo_data", "--if-empty", "--supporters", str(supporters)],
                         ["collectstatic", "--no-input"]):
                _manage(*args, env=site_env, log=out)
        web = running.enter_context(servers.process([sys.executable, "-m", "gunicorn", "config.wsgi"],
                                                    env=site_env, log=log("gunicorn")))
        running.enter_context(servers.process([sys.executable, "manage.py", "db_worker"], env=site_env,
                                              log=log("db_worker")))
        servers.wait_until(lambda: servers.answers(port, "/healthz"), web, log("gunicorn"), "gunicorn", timeout=120)
        yield {key: value for key, value in site_env.items() if key.startswith(("DJANGO_", "SERVE_"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("SERVE_PORT", 8000)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("SERVE_WORKERS", 2)))
    parser.add_argument("--supporters", type=int, default=int(os.environ.get("DEMO_SUPPORTERS", 500)))
    args = parser.parse_args()
    database_url = os.environ.get("SERVE_DATABASE_URL", DEFAULT_DATABASE_URL)
    cache_url = os.environ.get("SERVE_CACHE_URL", DEFAULT_CACHE_URL)
    # SIGTERM unwinds like Ctrl-C, so every process below is stopped either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"Preparing {urlparse(database_url).path.lstrip('/')} (migrate, demo data if empty, collectstatic)...",
          flush=True)
    try:
        with stack(port=args.port, workers=args.workers, database_url=database_url, cache_url=cache_url,
                   supporters=args.supporters, workdir=PROJECT, quiet=False):
            print(f"\nServing http://127.0.0.1:{args.port}/ (gunicorn, {args.workers} workers, "
                  f"config.settings.serve on {database_url}, cache {cache_url}), one db_worker, the local Stripe.\n"
                  f"Staff logins: {STAFF_LOGINS}, at http://127.0.0.1:{args.port}/admin/\n"
                  f"Test card 4242 4242 4242 4242. In another shell: "
                  f"DJANGO_SETTINGS_MODULE=config.settings.serve .venv/bin/python manage.py ...\n"
                  f"Ctrl-C stops everything.", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    print("Stopped: gunicorn, db_worker and the local Stripe.", flush=True)


if __name__ == "__main__":
    main()
