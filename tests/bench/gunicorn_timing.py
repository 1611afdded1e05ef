"""gunicorn settings for `make bench`: each worker writes, per request, its wall
time, the part of it spent waiting on Stripe, and its CPU time, to
$BENCH_TIMINGS_DIR/<pid>.tsv, with the number of SQL queries it made. So the
benchmark can tell our own time from Stripe's.

Instrumentation only: each Stripe call in donations/stripe_gateway.py is wrapped
with a timer, and each database connection with a query counter; nothing else changes."""

import functools
import os
import threading
import time
from pathlib import Path

# Calls that leave the process for Stripe (event_construct is local: it stays ours).
_NOT_STRIPE_CALLS = {"client", "event_construct"}

_log = None
_request = threading.local()  # per thread, should a threaded worker class be used


def _timed(call):
    @functools.wraps(call)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            _request.stripe_wait = getattr(_request, "stripe_wait", 0.0) + time.perf_counter() - started
    return wrapper


def _count_query(execute, sql, params, many, context):
    _request.queries = getattr(_request, "queries", 0) + 1
    return execute(sql, params, many, context)


def _counted(connection, **kwargs):
    if _count_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_query)


def post_worker_init(worker):
    global _log
    import inspect

    from django.db import connections
    from django.db.backends.signals import connection_created

    connection_created.connect(_counted, weak=False)
    for connection in connections.all(initialized_only=True):
        _counted(connection)

    from donations import stripe_gateway

    for name, call in inspect.getmembers(stripe_gateway, inspect.isfunction):
        if call.__module__ == stripe_gateway.__name__ and not name.startswith("_") and name not in _NOT_STRIPE_CALLS:
            setattr(stripe_gateway, name, _timed(call))
    _log = open(Path(os.environ["BENCH_TIMINGS_DIR"]) / f"{os.getpid()}.tsv", "a", buffering=1)


def pre_request(worker, req):
    _request.stripe_wait = 0.0
    _request.queries = 0
    _request.started = (time.perf_counter(), time.process_time())


def post_request(worker, req, environ, resp):
    # (CPU time is the whole process's: exact for sync workers, one request at a time.)
    wall = time.perf_counter() - _request.started[0]
    cpu = time.process_time() - _request.started[1]
    _log.write(f"{req.method} {req.path}\t{wall:.6f}\t{_request.stripe_wait:.6f}\t{cpu:.6f}\t{_request.queries}\n")
