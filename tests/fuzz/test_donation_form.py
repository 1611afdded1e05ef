"""The donation form's endpoints take any posted values: an answer a person can
read (or a payment outcome), never a server error, and a refused form writes
nothing at all."""

import uuid

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from donations.models import Donation
from tests.donations.test_giving import form_data
from tests.fuzz.helpers import changed, row_counts

pytestmark = pytest.mark.django_db

FIELDS = list(form_data(payment_method_id="pm", gift_aid="on", consent_email="on", consent_phone="on",
                        consent_sms="on", phone="07700900123", cover_fee="on", fundraiser="x").keys())
ODD = ["", " ", "0", "-1", "1e400", "NaN", "Infinity", "0.001", "£1,000,000.00", "99999999999999999999",
       "=cmd|' /C calc'!A0", "<script>alert(1)</script>", "' OR 1=1 --", "\x00", "\u202e", "ZZ", "XX",
       "not-a-uuid", str(uuid.uuid4()), "pm_card_visa", "on", "off", "true", "GB", "IE", "SW1A 1AA", "ls6 2aa",
       "+447700900123", "+1", "a@b", "x" * 300, "😀" * 30, "once", "monthly", "yearly"]
value = st.one_of(st.sampled_from(ODD), st.text(max_size=40))


@given(fields=st.dictionaries(st.sampled_from(FIELDS), st.one_of(value, st.lists(value, max_size=3)), max_size=12),
       keep=st.booleans(), path=st.sampled_from(["/donate/", "/donate/monthly/", "/donate/confirm/",
                                                 "/donate/monthly/confirm/"]))
def test_any_posted_values_are_answered_without_a_server_error_or_a_partial_write(
        stripe_settings, card, fields, keep, path):
    stripe_settings.DONATION_RATE_LIMIT_PER_IP = stripe_settings.DONATION_RATE_LIMIT_PER_EMAIL = "100000/h"
    # Half the time the arbitrary values land on an otherwise good form, so that they reach the deeper checks.
    data = {**(form_data(payment_method_id="pm_card_visa") if keep else {}), **fields}
    before = row_counts()
    response = Client(raise_request_exception=False).post(path, data)
    assert response.status_code in (200, 400, 402, 404, 429), (response.status_code, response.content[:500])
    if response.status_code in (400, 404, 429):
        assert changed(before, row_counts()) == {}, data
    # What the form took, its donor's record can hold: the task worker (immediate here) recorded
    # every gift Stripe answered for, none left failing to record.
    assert not Donation.objects.filter(form_details__isnull=False).exclude(status=Donation.Status.CREATED).exists()
