"""Staff two-factor sign-in: every login that reaches the admin proves, after its
password, that it holds the authenticator app enrolled for it (a TOTP device of
django-otp's). These services enrol, check and reset those devices."""

import base64

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.errors import ApplicationError

DEVICE_NAME = "Authenticator app"


def two_factor_enrolled(*, user) -> bool:
    return user_has_device(user, confirmed=True)


def two_factor_device_for_check(*, user) -> TOTPDevice | None:
    """The enrolled device a sign-in code is checked against, locked for the check
    (django-otp counts wrong codes on it and makes each retry wait longer)."""
    return TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk").first()


def two_factor_enrolment_device(*, user) -> TOTPDevice:
    """The device being enrolled: made once and kept until it is confirmed, so a
    reloaded page shows the same QR code the person may already have scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice(user=user, name=DEVICE_NAME, confirmed=False)
        device.full_clean()
        device.save()
    return device


def two_factor_secret_text(*, device: TOTPDevice | None, key_hex: str = "") -> str:
    """The secret (a device's, or a hex key's) as an authenticator app asks for it
    when typed: base32, in groups of four."""
    key = device.bin_key if device is not None else bytes.fromhex(key_hex)
    secret = base64.b32encode(key).decode().rstrip("=")
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


@transaction.atomic
def two_factor_enrol_confirm(*, request, token: str) -> TOTPDevice:
    """Confirms the signed-in person's new device with a code it shows, and marks
    this session verified. Raises ApplicationError if the code is wrong (each wrong
    code makes the next try wait longer: django-otp's throttling)."""
    user = request.user
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        raise ApplicationError("Start again: this enrolment has expired.", field="otp_token")
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        raise ApplicationError("After a wrong code the next try must wait a little: wait a moment, then enter "
                               "the newest code.", field="otp_token")
    if not device.verify_token(token.replace(" ", "")):
        raise ApplicationError("That code is not right. Enter the 6 digits the app shows now.", field="otp_token")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    otp_login(request, device)
    return device


@transaction.atomic
def two_factor_reset(*, username: str) -> int:
    """Removes every device of this login, e.g. after a lost phone: at their next
    sign-in they enrol a new one. Returns how many were removed; raises
    ApplicationError for an unknown username."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ApplicationError(f"There is no login called {username!r}.")
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def two_factor_give_demo_device(*, user, key_hex: str) -> TOTPDevice:
    """Development only: the demo login gets a confirmed device with a fixed,
    published key, so the demo works from any authenticator (or no phone)."""
    device, _ = TOTPDevice.objects.update_or_create(
        user=user, name="Demo authenticator", defaults={"key": key_hex, "confirmed": True},
    )
    return device
