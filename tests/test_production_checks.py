"""Production refuses to run without what it needs, each missing piece with its
own message: through `manage.py check` (every managed command checks) and at
gunicorn's start (gunicorn.conf.py). And /healthz, as a load balancer calls it."""

import http.client
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.test_settings import PRODUCTION_ENV, ROOT, manage


@pytest.mark.parametrize("variable, value, error_id, message", [
    ("STRIPE_SECRET_KEY", None, "donations.E001", "STRIPE_SECRET_KEY is not set: it must hold Stripe's secret"),
    ("STRIPE_SECRET_KEY", "pk_live_x", "donations.E001", "STRIPE_SECRET_KEY does not look like Stripe's secret"),
    ("STRIPE_PUBLISHABLE_KEY", None, "donations.E002", "STRIPE_PUBLISHABLE_KEY is not set"),
    ("STRIPE_WEBHOOK_SECRET", None, "donations.E003", "STRIPE_WEBHOOK_SECRET is not set"),
    ("STRIPE_WEBHOOK_SECRET", "", "donations.E003", "STRIPE_WEBHOOK_SECRET is not set"),
    ("RATELIMIT_IP_META_KEY", None, "donations.E004", "RATELIMIT_IP_META_KEY is not set: name the request header"),
    ("CACHE_URL", None, "donations.E005", "The cache (LocMemCache) is not shared between workers: set CACHE_URL"),
    ("CACHE_URL", "locmemcache://", "donations.E005", "The cache (LocMemCache) is not shared between workers"),
])
def test_production_refuses_to_run_without_it(variable, value, error_id, message):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != variable}
    if value is not None:
        env[variable] = value
    result = manage("migrate", "--check", env=env)  # any command that checks refuses, not only `check`
    assert result.returncode != 0
    assert f"({error_id}) {message}" in result.stderr
    others = {"donations.E001", "donations.E002", "donations.E003", "donations.E004", "donations.E005"} - {error_id}
    assert not [other for other in others if other in result.stderr]


def test_rate_limits_may_read_remote_addr_when_chosen():
    env = {**PRODUCTION_ENV, "RATELIMIT_IP_META_KEY": "REMOTE_ADDR"}
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn(env: dict, port: int) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items()
             if k not in PRODUCTION_ENV and k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi"], cwd=ROOT, start_new_session=True,
                            env={**clean, **env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return output


def _healthz(port: int, deadline: float, process: subprocess.Popen) -> tuple[int, bytes]:
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            # As a load balancer asks: plain HTTP, the site's host name.
            conn.request("GET", "/healthz", headers={"Host": "give.brightwell.example"})
            response = conn.getresponse()
            return response.status, response.read()
        except ConnectionRefusedError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("gunicorn did not start:\n" + _stop(process)[-3000:])
            time.sleep(0.2)


def test_gunicorn_will_not_start_without_the_webhook_secret():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "STRIPE_WEBHOOK_SECRET"}
    process = _gunicorn(env, _free_port())
    try:
        process.wait(timeout=90)
    finally:
        output = _stop(process)
    assert process.returncode != 0
    assert "(donations.E003) STRIPE_WEBHOOK_SECRET is not set" in output
    assert "not starting: the site's start-up checks failed" in output


def test_gunicorn_serves_production_and_the_health_check_asks_the_database(tmp_path):
    port = _free_port()
    process = _gunicorn({**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}"}, port)
    try:
        status, body = _healthz(port, time.monotonic() + 90, process)
    finally:
        output = _stop(process)
    assert (status, body) == (200, b"ok\n"), output
    assert '"GET /healthz HTTP/1.1" 200' in output  # the access log


def test_the_health_check_fails_when_the_database_does_not_answer():
    port = _free_port()
    # Nothing listens on port 1: the worker cannot reach its database.
    process = _gunicorn({**PRODUCTION_ENV, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/brightwell"}, port)
    try:
        status, body = _healthz(port, time.monotonic() + 90, process)
    finally:
        _stop(process)
    assert (status, body) == (503, b"database unavailable\n")


def test_make_serves_settings_keep_productions_checks(tmp_path):
    """config.settings.serve is production on plain HTTP: without its local Stripe's
    keys it refuses to start, as production would."""
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.serve", "SERVE_STRIPE_ENV": str(tmp_path / "absent.env"),
           "SERVE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "(donations.E001) STRIPE_SECRET_KEY is not set" in result.stderr
    (tmp_path / "stripe.env").write_text("STRIPE_SECRET_KEY=sk_test_localstripe\nSTRIPE_PUBLISHABLE_KEY=pk_test_x\n"
                                         "STRIPE_WEBHOOK_SECRET=whsec_serve_local\n")
    result = manage("check", env={**env, "SERVE_STRIPE_ENV": str(tmp_path / "stripe.env")})
    assert result.returncode == 0, result.stdout + result.stderr
