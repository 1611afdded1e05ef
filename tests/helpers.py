"""Helpers the tests share (import them; pytest's conftest is for fixtures)."""

import threading

import requests
from django.db import connection

from config.errors import ApplicationError


def run_at_once(*works, workers: int = 1) -> list:
    """Run each of `works` (each `workers` times) in its own thread, all let go
    at the same moment, each thread with its own database connection: the
    PostgreSQL concurrency tests. Returns what each returned, or the
    ApplicationError it was refused with; any other error fails the test."""
    tasks = [work for work in works for _ in range(workers)]
    start = threading.Barrier(len(tasks))
    results, errors = [], []

    def worker(work):
        try:
            start.wait()
            results.append(work())
        except ApplicationError as refusal:
            results.append(refusal)
        except Exception as error:  # pragma: no cover - raised below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(work,)) for work in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def refusals(results: list) -> list[str]:
    """The messages of the ApplicationErrors among run_at_once's results."""
    return [result.message for result in results if isinstance(result, ApplicationError)]


def local_stripe_route(local_stripe: str, path: str, **data) -> dict:
    """POST to one of the local Stripe's test-only routes (a dispute, a payout,
    a Radar fee…), failing the test if it refuses."""
    from tests.stripe_server import SECRET_KEY  # as conftest does: the local Stripe's modules load when used

    response = requests.post(f"{local_stripe}{path}", data=data, auth=(SECRET_KEY, ""), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()
