"""Queuing one run of a batch task for a burst of work (Stripe's events, the
gifts taken online): the run takes everything that waits when it starts, so
the first piece of work queues it and the rest of the burst need not."""

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)


def enqueue_once(task, *, key: str) -> None:
    """Queue `task` unless a run is queued and not yet started (the cache
    remembers it under `key` for a minute). Should the cache forget or be
    down, a second run is queued, which is harmless; should a run never come,
    the task's scheduled command takes what waits."""
    try:
        # True: added, so no run was queued. False: one is. None: a cache that is down
        # and ignores it (settings.cache_optional) could not say.
        added = cache.add(key, True, timeout=60)
    except Exception:  # the cache is optional: better a second run than none
        logger.warning("Cache unavailable: queuing %s", key, exc_info=True)
        added = None
    if added is not False:
        task.enqueue()


def run_started(key: str) -> None:
    """At the start of a run: work arriving from now on queues another."""
    try:
        cache.delete(key)
    except Exception:
        logger.warning("Cache unavailable at the start of %s", key, exc_info=True)
