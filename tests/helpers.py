"""Helpers the tests share (import them; pytest's conftest is for fixtures)."""

import threading

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
