"""gunicorn settings for `make bench`: each worker writes, per request, its wall
time, the part of it spent waiting on Stripe, and its CPU time, to
$BENCH_TIMINGS_DIR/<pid>.tsv. So the benchmark can tell our own time from Stripe's.

Instrumentation only: each Stripe call in donations/stripe_gateway.py is wrapped
with a timer; nothing else changes."""

import functools
import os
import time
from pathlib import Path

# Calls that leave the process for Stripe (event_construct is local: it stays ours).
_NOT_STRIPE_CALLS = {"client", "event_construct"}

_log = None
_stripe_wait = 0.0
_started = (0.0, 0.0)


def _timed(call):
    @functools.wraps(call)
    def wrapper(*args, **kwargs):
        global _stripe_wait
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            _stripe_wait += time.perf_counter() - started
    return wrapper


def post_worker_init(worker):
    global _log
    import inspect

    from donations import stripe_gateway

    for name, call in inspect.getmembers(stripe_gateway, inspect.isfunction):
        if call.__module__ == stripe_gateway.__name__ and not name.startswith("_") and name not in _NOT_STRIPE_CALLS:
            setattr(stripe_gateway, name, _timed(call))
    _log = open(Path(os.environ["BENCH_TIMINGS_DIR"]) / f"{os.getpid()}.tsv", "a", buffering=1)


def pre_request(worker, req):
    global _stripe_wait, _started
    _stripe_wait = 0.0
    _started = (time.perf_counter(), time.process_time())


def post_request(worker, req, environ, resp):
    wall = time.perf_counter() - _started[0]
    cpu = time.process_time() - _started[1]
    _log.write(f"{req.method} {req.path}\t{wall:.6f}\t{_stripe_wait:.6f}\t{cpu:.6f}\n")
