"""`make loadtest`, small: the load file and the reconciliation run end to end
against the production shape (gunicorn, db_worker, the local Stripe, Redis,
PostgreSQL), so that neither rots; and every process it starts is stopped."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _redis_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.postgres
def test_a_short_tv_appeal_night_loses_and_doubles_no_gift():
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        pytest.skip("the load test runs the production shape, on PostgreSQL")
    if not _redis_answers():
        pytest.skip("the production shape needs Redis on 127.0.0.1:6379")
    load_database = urlparse(database_url)._replace(path="/brightwell_load_test").geturl()
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    result = subprocess.run(
        [sys.executable, "-m", "tests.load", "--users", "4", "--seconds", "20", "--supporters", "100"],
        cwd=ROOT, env={**env, "LOAD_DATABASE_URL": load_database}, capture_output=True, text=True, timeout=900)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-5000:]
    # The table: endpoint, requests, errors, p50, p95, p99, requests a second.
    rows = {line[:58].strip(): line[58:].split() for line in out.splitlines() if len(line[58:].split()) == 6}
    for endpoint in ("GET campaign page", "POST /donate/", "POST /stripe/webhook/ (burst)",
                     "staff: GET /admin/supporter/?q="):
        requests, errors = int(rows[endpoint][0].replace(",", "")), int(rows[endpoint][1])
        assert requests > 0 and errors == 0, (endpoint, out[-5000:])
    assert re.search(r"matched [1-9][\d,]*; lost 0; doubled 0; state or amount differs 0; unknown to Stripe 0; "
                     r"no PaymentIntent 0", out), out[-5000:]
    assert "Stripe and our gifts agree" in out
    # Stopped: nothing answers on the site's port any more.
    port = int(re.search(r"on 127\.0\.0\.1:(\d+)", out).group(1))
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    workdir = Path(re.search(r"logs in (\S+)", out).group(1))
    assert not (workdir / ".serve-stripe.env").exists()  # the local Stripe removes it as it stops
