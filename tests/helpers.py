"""Helpers the tests share (import them; pytest's conftest is for fixtures)."""

import socket
import threading
import time

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


def staff_authenticator(user):
    """The user's enrolled authenticator (a confirmed TOTP device), made if they have none."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)


def authenticator_code(device) -> str:
    """The code the device's app would show now, as a person would type it. A code
    already used (django-otp refuses a replay) gives way to the next step's, which
    the check's tolerance of one step still accepts."""
    from django_otp.oath import TOTP

    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if device.last_t is not None and totp.t() <= device.last_t:
        totp.drift = device.last_t + 1 - totp.t() + device.drift
    return f"{totp.token():0{device.digits}d}"


def log_in_verified(client, user):
    """Sign `user` in on the test client as after both steps: their password
    (force_login) and their authenticator's code, recorded in the session the way
    django_otp.login records it. Staff need both to reach the admin."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device = staff_authenticator(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def wait_for_port(port: int, process, what: str, timeout: float = 20) -> None:
    """Wait until a server the test started answers on 127.0.0.1:port; RuntimeError
    (with what it wrote to a piped stderr) if it stops or takes longer than `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                said = process.stderr.read().decode()[-2000:] if process.stderr else ""
                raise RuntimeError(f"{what} did not start: {said}") from None
            time.sleep(0.05)


def staff_client(user):
    """A test client signed in as `user` through both steps (None: anonymous), whose
    server errors come back as 500 answers rather than exceptions."""
    from django.test import Client

    client = Client(raise_request_exception=False)
    if user is not None:
        log_in_verified(client, user)
    return client


def refused(response) -> bool:
    """A staff screen's refusal: 403, or Wagtail's redirect of a signed-in user to its dashboard."""
    return response.status_code == 403 or (response.status_code == 302 and response.url == "/admin/")


def recorded(outcome):
    """The gift of a donation_start outcome as recorded: donation_start's own copy
    is the row the form wrote, before the task worker (immediate in the tests)
    recorded its donor, campaign and totals."""
    donation = outcome.donation
    donation.refresh_from_db()
    return donation
