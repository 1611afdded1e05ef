"""Staff sign-in resists attack: a password alone opens nothing of the admin,
codes are checked, repeated failures lock a username out from that address,
sessions end when idle (and in production after a working day), and passwords
must be strong. Everything through the real sign-in pages."""

import base64
import datetime
import io
import re

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from supporters.models import Supporter
from tests.helpers import authenticator_code, staff_authenticator
from tests.test_settings import PRODUCTION_ENV, manage

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"  # tests/conftest.py's staff fixtures
LOGIN, CODE, ENROL = "/admin/login/", "/admin/sign-in/code/", "/admin/sign-in/enrol/"


def sign_in_with_password(client, user, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": user.username, "password": password}, **extra)


def admin_reachable(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 200 and b"Dashboard" in response.content


def test_a_password_alone_opens_nothing_of_the_admin(client, fundraiser):
    staff_authenticator(fundraiser)
    response = sign_in_with_password(client, fundraiser)
    assert response.status_code == 302  # the password was right

    # Every admin URL, whatever the method, sends the session to the code step.
    for url in ["/admin/", "/admin/supporter/", "/admin/supporter/?export=csv", "/admin/supporter/mail-house/?format=csv",
                "/admin/dashboard/", "/admin/users/", "/admin/reports/site-history/"]:
        answer = client.get(url)
        assert answer.status_code == 302, url
        assert answer["Location"].startswith(CODE + "?next="), url
    before = Supporter.objects.count()
    answer = client.post("/admin/supporter/add/", {"first_name": "Eve", "last_name": "Intruder"})
    assert answer.status_code == 302 and answer["Location"].startswith(CODE)
    assert Supporter.objects.count() == before
    # Outside the admin the half-signed-in session is nobody: no editing bar on the public site.
    assert b"wagtail-userbar" not in client.get("/").content


def test_the_right_code_opens_the_admin_and_a_wrong_one_is_refused(client, fundraiser):
    device = staff_authenticator(fundraiser)
    sign_in_with_password(client, fundraiser)
    page = client.get(CODE + "?next=/admin/supporter/")
    assert b"Enter your sign-in code" in page.content

    wrong = f"{(int(authenticator_code(device)) + 1) % 1_000_000:06d}"
    refused = client.post(CODE, {"otp_token": wrong, "next": "/admin/supporter/"})
    assert refused.status_code == 200
    assert b"That code is not right" in refused.content
    assert not admin_reachable(client)

    device.refresh_from_db()
    device.throttling_failure_count = 0  # django-otp makes the next try wait after a wrong one
    device.throttling_failure_timestamp = None
    device.save()
    accepted = client.post(CODE, {"otp_token": authenticator_code(device), "next": "/admin/supporter/"})
    assert accepted.status_code == 302 and accepted["Location"] == "/admin/supporter/"
    assert admin_reachable(client)
    assert client.get("/admin/supporter/").status_code == 200


def test_wrong_codes_make_the_next_try_wait(client, fundraiser):
    device = staff_authenticator(fundraiser)
    sign_in_with_password(client, fundraiser)
    client.post(CODE, {"otp_token": "000000"})
    # Straight after a wrong code even the right one is refused for a while (django-otp's throttling).
    refused = client.post(CODE, {"otp_token": authenticator_code(device)})
    assert b"After a wrong code the next try must wait a little" in refused.content
    assert not admin_reachable(client)


def test_a_code_once_used_is_not_accepted_again(client, fundraiser):
    device = staff_authenticator(fundraiser)
    sign_in_with_password(client, fundraiser)
    code = authenticator_code(device)
    assert client.post(CODE, {"otp_token": code}).status_code == 302

    other = Client()
    sign_in_with_password(other, fundraiser)
    assert b"That code is not right" in other.post(CODE, {"otp_token": code}).content
    assert not admin_reachable(other)


def test_staff_without_an_authenticator_enrol_after_their_password(client, finance_user):
    sign_in_with_password(client, finance_user)
    to_code = client.get("/admin/donation/")
    assert to_code["Location"].startswith(CODE)
    to_enrol = client.get(to_code["Location"])
    assert to_enrol.status_code == 302 and to_enrol["Location"].startswith(ENROL + "?next=")

    page = client.get(to_enrol["Location"])
    html = page.content.decode()
    assert "Set up two-factor sign-in" in html and "<svg" in html  # the QR code, inline
    secret = re.search(r'class="two-factor-secret"><code>([A-Z2-7 ]+)</code>', html).group(1)
    assert client.get(to_enrol["Location"]).content.decode().count(secret) == 1  # a reload shows the same key
    key = base64.b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    assert not admin_reachable(client)  # nothing else of the admin until it is confirmed

    refused = client.post(ENROL, {"otp_token": "12345", "next": "/admin/donation/"})
    assert b"That code is not right" in refused.content
    assert not TOTPDevice.objects.filter(user=finance_user, confirmed=True).exists()

    device = TOTPDevice.objects.get(user=finance_user)
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.save()
    code = f"{TOTP(key).token():06d}"
    done = client.post(ENROL, {"otp_token": code, "next": "/admin/donation/"})
    assert done.status_code == 302 and done["Location"] == "/admin/donation/"
    assert client.get("/admin/donation/").status_code == 200
    assert TOTPDevice.objects.get(user=finance_user).confirmed

    # Next time: password, then a code from the same app.
    again = Client()
    sign_in_with_password(again, finance_user)
    assert again.get("/admin/")["Location"].startswith(CODE)


def test_enrolment_is_not_a_way_round_an_existing_authenticator(client, fundraiser):
    staff_authenticator(fundraiser)
    sign_in_with_password(client, fundraiser)
    assert client.get(ENROL)["Location"].startswith(CODE)
    assert client.post(ENROL, {"otp_token": "123456"})["Location"].startswith(CODE)
    assert TOTPDevice.objects.filter(user=fundraiser).count() == 1


def test_a_verified_session_goes_only_to_a_safe_next_address(client, fundraiser):
    device = staff_authenticator(fundraiser)
    sign_in_with_password(client, fundraiser)
    response = client.post(CODE, {"otp_token": authenticator_code(device), "next": "https://evil.example/"})
    assert response["Location"] == "/admin/"


# Lockout (django-axes)

def test_five_failures_lock_the_username_out_from_that_address_with_a_clear_message(client, fundraiser):
    for _ in range(4):
        refused = sign_in_with_password(client, fundraiser, password="wrong-password")
        assert refused.status_code == 200 and b"didn&#x27;t match" in refused.content
    fifth = sign_in_with_password(client, fundraiser, password="wrong-password")
    locked = sign_in_with_password(client, fundraiser)  # even the right password, now
    for response in (fifth, locked):
        assert response.status_code == 429
        html = response.content.decode()
        assert "Too many failed sign-in attempts" in html and "locked for 30 minutes" in html
        assert 'name="password"' in html  # the sign-in page itself, in the admin's look

    # Someone else at another address is not locked out by it.
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    assert sign_in_with_password(elsewhere, fundraiser).status_code == 302

    call_command("axes_reset_username", fundraiser.username)
    assert sign_in_with_password(client, fundraiser).status_code == 302


def test_the_lockout_ends_after_its_cool_off(client, fundraiser):
    for _ in range(5):
        sign_in_with_password(client, fundraiser, password="wrong-password")
    assert sign_in_with_password(client, fundraiser).status_code == 429
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=31)):
        assert sign_in_with_password(client, fundraiser).status_code == 302


def test_behind_a_proxy_lockouts_count_the_address_the_rate_limits_read(client, fundraiser, settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
    for _ in range(5):
        sign_in_with_password(client, fundraiser, password="wrong-password", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert sign_in_with_password(client, fundraiser, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    # Every request comes from the proxy's own address; a different visitor behind it is not locked out.
    assert sign_in_with_password(Client(), fundraiser, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 302


# Sessions

def signed_in(client, user):
    device = staff_authenticator(user)
    sign_in_with_password(client, user)
    client.post(CODE, {"otp_token": authenticator_code(device)})
    assert admin_reachable(client)


def test_the_session_cookie_ends_with_the_browser(client, fundraiser):
    staff_authenticator(fundraiser)
    response = sign_in_with_password(client, fundraiser)
    cookie = response.cookies["sessionid"]
    assert not cookie["expires"] and not cookie["max-age"]
    assert b"Remember me" not in Client().get(LOGIN).content


def test_an_idle_session_ends_after_30_minutes_and_a_busy_one_does_not(client, fundraiser):
    signed_in(client, fundraiser)
    start = timezone.now()
    for minutes in (20, 40, 60):  # a request every 20 minutes keeps it open
        with time_machine.travel(start + datetime.timedelta(minutes=minutes)):
            assert admin_reachable(client)
    with time_machine.travel(start + datetime.timedelta(minutes=60 + 31)):
        response = client.get("/admin/supporter/")
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_a_session_ends_at_the_cap_however_busy(client, fundraiser, settings):
    settings.STAFF_SESSION_MAX_HOURS = 8  # production's
    signed_in(client, fundraiser)
    start = timezone.now()
    for minutes in range(20, 8 * 60, 20):
        with time_machine.travel(start + datetime.timedelta(minutes=minutes)):
            assert client.get("/admin/supporter/").status_code == 200
    with time_machine.travel(start + datetime.timedelta(hours=8, minutes=5)):
        response = client.get("/admin/supporter/")
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
        assert not admin_reachable(client)


def test_production_caps_sessions_and_never_has_the_demo_authenticator():
    env = {**PRODUCTION_ENV, "DEMO_STAFF_TOTP_KEY": "62726967687477656c6c2d64656d6f2d32666121"}
    result = manage("shell", "-c", "from django.conf import settings as s; print(repr(s.DEMO_STAFF_TOTP_KEY), "
                    "s.STAFF_SESSION_MAX_HOURS, s.SESSION_COOKIE_AGE, s.SESSION_EXPIRE_AT_BROWSER_CLOSE, "
                    "s.AXES_FAILURE_LIMIT)", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["''", "8", "1800", "True", "5"]


# Passwords

def test_staff_passwords_must_be_long_uncommon_and_unlike_the_person(admin_client):
    def create(password):
        return admin_client.post("/admin/users/new/", {
            "username": "newstaff", "email": "new.staff@example.org", "first_name": "Newstaff", "last_name": "Person",
            "password1": password, "password2": password, "is_active": "on",
            "groups": [Group.objects.get(name="Fundraising").pk],
        })

    assert "too short" in create("Tr0ub4dor&3").content.decode()  # 11 characters
    assert "too common" in create("password12345").content.decode()
    assert "entirely numeric" in create("739184627391846").content.decode()
    assert "too similar" in create("newstaff.person").content.decode()
    assert create("correct horse battery staple").status_code == 302


# Resetting someone's authenticator, and the demo's

def test_the_reset_command_makes_them_enrol_again(client, fundraiser):
    staff_authenticator(fundraiser)
    out = io.StringIO()
    call_command("reset_staff_two_factor", "fundraiser", stdout=out)
    assert "1 authenticator(s) removed" in out.getvalue()
    sign_in_with_password(client, fundraiser)
    assert client.get(CODE)["Location"].startswith(ENROL)


def test_a_superuser_resets_someones_authenticator_in_the_admin(admin_client, fundraiser, finance_user):
    staff_authenticator(fundraiser)
    users = admin_client.get("/admin/users/").content.decode()
    assert f"/admin/sign-in/reset/{fundraiser.pk}/" in users
    page = admin_client.get(f"/admin/sign-in/reset/{fundraiser.pk}/")
    assert b"Reset two-factor sign-in" in page.content
    done = admin_client.post(f"/admin/sign-in/reset/{fundraiser.pk}/")
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=fundraiser).exists()

    # Nobody else may.
    staff_authenticator(fundraiser)
    other = Client()
    signed_in(other, finance_user)
    refused = other.post(f"/admin/sign-in/reset/{fundraiser.pk}/", follow=True)
    assert b"do not have permission" in refused.content  # Wagtail's refusal: back to the admin's home
    assert TOTPDevice.objects.filter(user=fundraiser).exists()


def test_the_demo_logins_share_a_published_authenticator_in_development(settings, django_user_model):
    from cms.management.commands.load_demo_data import DEMO_PASSWORD

    settings.DEMO_STAFF_TOTP_KEY = "62726967687477656c6c2d64656d6f2d32666121"
    from tests.supporters.factories import SupporterFactory

    SupporterFactory()  # a demo database made before two-factor sign-in: --if-empty gives the devices only
    admin = django_user_model.objects.create_superuser("admin", "admin@brightwell.example", DEMO_PASSWORD)
    out = io.StringIO()
    call_command("load_demo_data", "--if-empty", stdout=out)
    assert "MJZG SZ3I OR3W K3DM FVSG K3LP FUZG MYJB" in out.getvalue()

    code = io.StringIO()
    call_command("demo_sign_in_code", stdout=code)
    client = Client()
    sign_in_with_password(client, admin, password=DEMO_PASSWORD)
    assert client.post(CODE, {"otp_token": code.getvalue().split()[0]}).status_code == 302
    assert admin_reachable(client)


def test_the_sign_in_page_sends_a_half_signed_in_session_on_to_its_code(client, fundraiser):
    staff_authenticator(fundraiser)
    sign_in_with_password(client, fundraiser)
    response = client.get(LOGIN + "?next=/documents/1/private.pdf")
    assert response.status_code == 302 and response["Location"] == CODE + "?next=%2Fdocuments%2F1%2Fprivate.pdf"


def test_after_the_cap_a_new_sign_in_starts_a_new_working_day(client, fundraiser, settings):
    settings.STAFF_SESSION_MAX_HOURS = 8
    settings.SESSION_COOKIE_AGE = 24 * 3600  # not idle: the cap alone is tested
    signed_in(client, fundraiser)
    start = timezone.now()
    with time_machine.travel(start + datetime.timedelta(hours=7, minutes=50)):
        client.post(LOGIN, {"username": fundraiser.username, "password": PASSWORD})  # no way to extend it
    with time_machine.travel(start + datetime.timedelta(hours=8, minutes=5)):
        assert not admin_reachable(client)
        signed_in(client, fundraiser)
    with time_machine.travel(start + datetime.timedelta(hours=15)):
        assert admin_reachable(client)
