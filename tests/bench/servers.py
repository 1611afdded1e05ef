"""The processes the giving benchmark needs: the local Stripe and the site under
gunicorn, each on a free port of 127.0.0.1, stopped (with their children) on exit."""

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(ready, process: subprocess.Popen, log: Path | None, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start" + (":\n" + log.read_text()[-3000:] if log else " (see above)"))
        time.sleep(0.1)


def answers(port: int, path: str | None = None) -> bool:
    try:
        if path is None:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@contextlib.contextmanager
def process(args: list[str], *, env: dict, log: Path | None):
    """args running in their own process group, output to log (or this terminal: None),
    stopped with every child when the block ends."""
    with open(log, "wb") if log else contextlib.nullcontext() as out:
        # Its own process group, so that stopping it also stops any worker it forked.
        child = subprocess.Popen(args, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


@contextlib.contextmanager
def local_stripe(workdir: Path):
    """localstripe through the tests' launcher (with the store indexed: see
    tests/bench/local_stripe.py); yields its base URL."""
    port = free_port()
    log = workdir / "stripe.log"
    with process([sys.executable, "-m", "tests.bench.local_stripe", "--port", str(port)], env=dict(os.environ),
                 log=log) as started:
        wait_until(lambda: answers(port), started, log, "the local Stripe")
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def gunicorn(workdir: Path, *, env: dict, workers: int):
    """The site under gunicorn, with tests/bench/gunicorn_timing.py timing each
    request in its worker; yields (port, directory of the workers' timings)."""
    port = free_port()
    timings = Path(tempfile.mkdtemp(prefix="timings-", dir=workdir))
    log = workdir / "gunicorn.log"
    args = [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", str(workers),
            "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "-c", "python:tests.bench.gunicorn_timing"]
    with process(args, env={**os.environ, **env, "BENCH_TIMINGS_DIR": str(timings)}, log=log) as started:
        # Every worker has loaded Django once each has written its timings file.
        wait_until(lambda: len(list(timings.glob("*.tsv"))) >= workers and answers(port, "/donate/"),
                   started, log, "gunicorn")
        yield port, timings
