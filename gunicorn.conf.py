"""gunicorn's settings for the site. gunicorn reads this file from the folder it
starts in, so `gunicorn config.wsgi` is the whole command; each value below can
be changed by the environment variable named beside it (README, Production).

Before any worker starts, the master runs `manage.py check --deploy` in a
separate process and stops if it reports an error (a missing Stripe key, no
shared cache, …: donations/checks.py), so a half-configured site never serves."""

import os
import subprocess
import sys
from pathlib import Path


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Threads serve the waits on Stripe and PostgreSQL; processes use the cores.
worker_class = "gthread"
workers = _int("WEB_CONCURRENCY", max(2, os.cpu_count() or 1))
threads = _int("GUNICORN_THREADS", 4)
# Longer than the load balancer's idle timeout (60 s on most), so that the balancer,
# not gunicorn, closes idle connections: otherwise a request can meet a closing socket (502).
keepalive = _int("GUNICORN_KEEPALIVE", 75)
# A request still running after this is killed: Stripe's own calls time out well before.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Each worker is replaced after about this many requests, at different moments (jitter),
# so slow memory growth never builds up and workers never all restart at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Only the load balancer may tell gunicorn the scheme and client (X-Forwarded-*).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
backlog = _int("GUNICORN_BACKLOG", 2048)
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# The usual combined format, plus the time taken in milliseconds.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
errorlog = "-"
# The workers' heartbeat files in memory, not on a disk that may stall (containers).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "brightwell"
# gunicorn's control socket (one path per machine) is not used: one thing fewer listening.
control_socket_disable = True


def on_starting(server):
    # In its own process: importing Django here would leave the old code in the
    # master, and every worker forked after a reload (HUP) would inherit it.
    env = {**os.environ}
    env["DJANGO_SETTINGS_MODULE"] = env.get("DJANGO_SETTINGS_MODULE") or "config.settings.production"  # as wsgi.py
    if env["DJANGO_SETTINGS_MODULE"] in ("config.settings.test", "config.settings.local"):
        return  # the tests' and development's own gunicorns: the deploy checks are for production's settings
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
                            cwd=Path(__file__).resolve().parent, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr + result.stdout)
        sys.stderr.write("gunicorn: not starting: the site's start-up checks failed (above).\n")
        sys.stderr.flush()
        os._exit(1)
