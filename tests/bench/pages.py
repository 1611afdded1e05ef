"""Campaign-page figures for `make bench`: requests per second through the real
server with page caching on (goal: at least 1,000/s per core for a cached page),
and the cost of one uncached render.

The load comes from wrk (Debian's package; `make bench` installs it), for a
fixed 10 seconds from 2 connections per core, on 127.0.0.1 only."""

import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tests.bench import servers


def uncached_render_ms(path: str, runs: int = 50) -> tuple[float, float]:
    """Median and worst time for Django to render the page with no cache, in-process."""
    from django.test import Client, override_settings

    client = Client()
    timings = []
    with override_settings(CACHE_MIDDLEWARE_SECONDS=0):
        client.get(path)  # warm imports and templates
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
    return statistics.median(timings), max(timings)


def cached_requests_per_second(path: str, database_url: str) -> dict:
    cores = os.cpu_count() or 1
    workdir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false", "DATABASE_URL": database_url,
           "PAGE_CACHE_SECONDS": "300", "CACHE_URL": "redis://127.0.0.1:6379/7",
           "ALLOWED_HOSTS": "127.0.0.1,localhost",
           # Threads with keep-alive, as a production deployment would run (sync workers close every connection).
           "GUNICORN_CMD_ARGS": "--worker-class gthread --threads 4 --keep-alive 5"}
    with servers.gunicorn(workdir, env=env, workers=cores) as (port, _timings):
        url = f"http://127.0.0.1:{port}{path}"
        subprocess.run(["wrk", "-t1", "-c2", "-d2s", url], capture_output=True, check=True)  # fill the cache
        result = subprocess.run(["wrk", f"-t{cores}", f"-c{2 * cores}", "-d10s", "--latency", url],
                                capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", result).group(1))
    p50 = re.search(r"50%\s+([\d.]+\w+)", result).group(1)
    p99 = re.search(r"99%\s+([\d.]+\w+)", result).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result)
    return {"rps": rps, "per_core": rps / cores, "cores": cores, "p50": p50, "p99": p99,
            "errors": int(errors.group(1)) if errors else 0}


def run(database_url: str) -> None:
    from cms.models import CampaignPage

    page = CampaignPage.objects.live().first()
    if page is None:
        print("campaign page: no campaign page in the demo data; skipped")
        return
    path = page.url
    median, worst = uncached_render_ms(path)
    print(f"campaign page {path}: one uncached render median {median:.1f} ms, worst {worst:.1f} ms "
          f"(Django test client, in-process)")
    figures = cached_requests_per_second(path, database_url)
    verdict = "OK" if figures["per_core"] >= 1000 else "BELOW GOAL"
    print(f"campaign page {path} with page caching (Redis): {figures['rps']:,.0f} requests/s on "
          f"{figures['cores']} cores = {figures['per_core']:,.0f}/s per core (goal >= 1,000/s per core: {verdict}); "
          f"latency p50 {figures['p50']}, p99 {figures['p99']}; non-2xx {figures['errors']} "
          f"(gunicorn gthread workers, one per core with 4 threads and keep-alive; wrk on the same machine shares the cores)")
