"""The roles as README.md states them, through the real admin: every list export
(download) and every action, for anonymous visitors, Fundraising, Finance and a
superuser. Fundraising: supporters, campaigns, pages, mailings; gifts read-only
(it may cancel a monthly gift when the supporter asks); no finance exports.
Finance: donations, refunds, offline gifts, Stripe events, Gift Aid; supporters
read-only, with no list of people to download. The export log: superusers. Each role's attempt runs in its own savepoint, so what one role does
cannot change what the next one meets."""

import datetime

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from campaigns.models import Appeal, Campaign, FundraiserPage
from cms.models import Mailing
from donations.models import GiftAidClaim, RecurringGift, StripeEvent
from donations.services import gift_aid_claims
from supporters.models import DataImport, EmailTemplate
from tests.donations.test_gift_aid import declare, gift
from tests.supporters.factories import SupporterFactory
from tests.helpers import log_in_verified

pytestmark = pytest.mark.django_db

F, M, S = "fundraising", "finance", "superuser"  # M for money
ALL = {F, M, S}
LAST_MONTH_END = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
LAST_MONTH_START = LAST_MONTH_END.replace(day=1)

# (what, method, url, data, who may): downloads first, then actions.
EXPORTS = [
    ("supporter list CSV", "get", "/admin/supporter/?export=csv", None, {F, S}),
    ("supporter list XLSX", "get", "/admin/supporter/?export=xlsx", None, {F, S}),
    *[(f"mailing list {channel} {fmt}", "get", f"/admin/supporter/mailing-list/{channel}/?format={fmt}", None, {F, S})
      for channel in ("email", "post", "phone", "sms") for fmt in ("csv", "xlsx")],
    ("subject access page", "get", "/admin/supporter/{supporter}/personal-data/", None, {F, S}),
    ("subject access JSON", "get", "/admin/supporter/{supporter}/personal-data/?format=json", None, {F, S}),
    ("import template", "get", "/admin/imports/template/gifts/", None, ALL),
    ("gifts CSV", "get", "/admin/donation/?export=csv", None, {M, S}),
    ("gifts XLSX", "get", "/admin/donation/?export=xlsx", None, {M, S}),
    ("giving statement", "get", "/admin/donation/statement/{supporter}/", None, ALL),
    ("claim schedule CSV", "get", "/admin/gift_aid_claim/{claim}/schedule-1.csv", None, {M, S}),
    ("claim schedule ODS", "get", "/admin/gift_aid_claim/{claim}/schedule-1.ods", None, {M, S}),
    ("claim R68 XML", "get", "/admin/gift_aid_claim/{claim}/r68-1.xml", None, {M, S}),
    ("claim gifts CSV", "get", "/admin/gift_aid_claim/{claim}/gifts.csv", None, {M, S}),
    *[(f"mail-house file {fmt}", "get", f"/admin/supporter/mail-house/?format={fmt}", None, {F, S})
      for fmt in ("csv", "xlsx")],
    # Every other admin list's download: personal data for Fundraising, money and Gift Aid for Finance,
    # campaigns' figures for both, the export log for superusers (and whoever they grant it).
    *[(f"{what} {fmt}", "get", f"{url}{fmt}", None, allowed) for what, url, allowed in [
        ("Gift Aid declarations", "/admin/gift-aid-declarations/?export=", {M, S}),
        ("sent emails", "/admin/email-messages/?export=", {F, S}),
        ("suppressed addresses", "/admin/email-suppressions/?export=", {F, S}),
        ("campaigns", "/admin/campaign/?export=", ALL),
        ("appeals", "/admin/appeal/?export=", ALL),
        ("fundraising pages", "/admin/fundraiser_page/?export=", {F, S}),
        ("mailings", "/admin/mailing/?export=", {F, S}),
        ("monthly gifts", "/admin/recurring_gift/?export=", {M, S}),
        ("Stripe events", "/admin/stripe_event/?export=", {M, S}),
        ("Gift Aid claims", "/admin/gift_aid_claim/?export=", {M, S}),
        ("income targets", "/admin/income_target/?export=", {M, S}),
        ("Stripe payouts", "/admin/payout/?export=", {M, S}),
        ("bank lines", "/admin/bank_line/?export=", {M, S}),
        ("bank accounts", "/admin/bank_account/?export=", {M, S}),
        ("Finance's downloads log", "/admin/finance_download/?export=", {M, S}),
        ("paying-in batches", "/admin/paying_in_batch/download/?format=", {M, S}),
        ("campaigns' income codes", "/admin/campaign-income-codes/download/?format=", {M, S}),
        ("export log", "/admin/export-log/?export=", {S}),
    ] for fmt in ("csv", "xlsx")],
]
ACTIONS = [
    # supporters
    ("add a supporter", "get", "/admin/supporter/new/", None, {F, S}),
    ("edit a supporter", "get", "/admin/supporter/edit/{supporter}/", None, {F, S}),
    ("delete a supporter", "get", "/admin/supporter/delete/{supporter}/", None, {S}),
    ("change consent", "get", "/admin/supporter/{supporter}/consent/", None, {F, S}),
    ("add to the timeline", "get", "/admin/supporter/{supporter}/timeline/", None, {F, S}),
    ("list duplicates", "get", "/admin/supporter/duplicates/", None, {F, S}),
    ("merge", "get", "/admin/supporter/{supporter}/merge/", None, {F, S}),
    ("erase", "post", "/admin/supporter/{supporter}/erase/", {"reason": "SAR-1", "confirm": "on"}, {F, S}),
    ("record a declaration", "get", "/admin/supporter/{supporter}/gift-aid/new/", None, ALL),
    ("cancel a declaration", "get", "/admin/supporter/{supporter}/gift-aid/{declaration}/cancel/", None, {M, S}),
    ("complete a declaration", "get", "/admin/supporter/{supporter}/gift-aid/{declaration}/complete/", None, {M, S}),
    ("declaration letter", "get", "/admin/supporter/{supporter}/gift-aid/{declaration}/letter/", None, ALL),
    ("import declarations", "get", "/admin/gift-aid-import/", None, ALL),
    ("list imports", "get", "/admin/imports/", None, ALL),
    ("start an import", "get", "/admin/imports/new/", None, ALL),
    ("read an import's report", "get", "/admin/imports/{data_import}/", None, ALL),
    ("roll back an import (form)", "get", "/admin/imports/{data_import}/roll-back/", None, ALL),
    # money
    ("add a gift by hand", "get", "/admin/donation/new/", None, set()),
    ("edit a gift", "get", "/admin/donation/edit/{gift}/", None, set()),
    ("delete a gift", "get", "/admin/donation/delete/{gift}/", None, set()),
    ("record an offline gift (form)", "get", "/admin/donation/offline/", None, {M, S}),
    ("record an offline gift", "post", "/admin/donation/offline/",
     {"supporter": "{supporter_ref}", "amount": "10", "received_on": "{today}", "channel": "offline"}, {M, S}),
    ("refund (form)", "get", "/admin/donation/{gift}/refund/", None, {M, S}),
    ("refund", "post", "/admin/donation/{gift}/refund/", {"amount": "1", "reason": "x"}, {M, S}),
    ("cancel a monthly gift", "post", "/admin/recurring_gift/{recurring}/cancel/", {"reason": "Asked by phone"}, ALL),
    ("retry a Stripe event", "post", "/admin/stripe_event/{event}/retry/", None, {M, S}),
    ("build a claim", "get", "/admin/gift_aid_claim/build/", None, {M, S}),
    ("submit a claim", "get", "/admin/gift_aid_claim/{claim}/submit/", None, {M, S}),
    ("discard a claim", "post", "/admin/gift_aid_claim/{claim}/discard/", None, {M, S}),
    ("gifts to follow up", "get", "/admin/gift_aid_claim/follow-ups/", None, {M, S}),
    # campaigns, pages, email
    ("add a campaign", "get", "/admin/campaign/new/", None, {F, S}),
    ("edit a campaign", "get", "/admin/campaign/edit/{campaign}/", None, {F, S}),
    ("add an appeal", "get", "/admin/appeal/new/", None, {F, S}),
    ("approve a fundraising page", "post", "/admin/fundraiser_page/{fundraiser_page}/review/", {"status": "approved"},
     {F, S}),
    ("add a mailing", "get", "/admin/mailing/new/", None, {F, S}),
    ("edit a mailing", "get", "/admin/mailing/edit/{mailing}/", None, {F, S}),
    ("send a mailing", "get", "/admin/mailing/send/{mailing}/", None, {F, S}),
    ("copy a mailing", "post", "/admin/mailing/copy/{mailing}/", None, {F, S}),
    ("stop an address", "get", "/admin/email-suppressions/new/", None, {F, S}),
    ("edit email wording", "get", "/admin/snippets/supporters/emailtemplate/edit/{template}/", None, {F, S}),
    # the record of downloads
    ("read the export log", "get", "/admin/export-log/", None, {S}),
]


@pytest.fixture
def world(django_user_model):
    supporter = SupporterFactory()
    declaration = declare(supporter, LAST_MONTH_START)
    paid = gift(supporter, 2500, LAST_MONTH_START + datetime.timedelta(days=2))
    claim = gift_aid_claims.gift_aid_claim_build(period_start=LAST_MONTH_START, period_end=LAST_MONTH_END)
    assert claim.row_count == 1 and claim.status == GiftAidClaim.Status.DRAFT
    campaign = Campaign.objects.create(name="Winter appeal", code="winter", target_pence=100_000,
                                       kind=Campaign.Kind.PEER_TO_PEER)
    Appeal.objects.create(campaign=campaign, code="WIN-EMAIL", name="Winter email", channel="email")
    users = {
        F: django_user_model.objects.create_user(username="f", password="x"),
        M: django_user_model.objects.create_user(username="m", password="x"),
        S: django_user_model.objects.create_user(username="s", password="x", is_superuser=True, is_staff=True),
    }
    from django.contrib.auth.models import Group

    users[F].groups.add(Group.objects.get(name="Fundraising"))
    users[M].groups.add(Group.objects.get(name="Finance"))
    values = {
        "supporter": supporter.pk, "supporter_ref": supporter.reference, "declaration": declaration.pk,
        "gift": paid.pk, "claim": claim.pk, "campaign": campaign.pk, "today": timezone.localdate().isoformat(),
        "recurring": RecurringGift.objects.create(supporter=supporter, amount_pence=1000, day_of_month=5,
                                                  status=RecurringGift.Status.ACTIVE).pk,
        "event": StripeEvent.objects.create(stripe_id="evt_1", type="customer.created", status="failed",
                                            payload={"id": "evt_1", "type": "customer.created",
                                                     "data": {"object": {"id": "cus_1"}}}).pk,
        "fundraiser_page": FundraiserPage.objects.create(campaign=campaign, supporter=supporter, slug="run",
                                                         title="Run", story="For the children").pk,
        "mailing": Mailing.objects.create(name="Winter", subject="Hello", body="Dear {{ first_name }}").pk,
        "template": EmailTemplate.objects.get(key="receipt").pk,
        "data_import": DataImport.objects.create(kind="gifts", format_name="Standard gifts file", source="gifts",
                                                 file_name="gifts.csv", file="imports/gifts.csv",
                                                 status=DataImport.Status.IMPORTED).pk,
    }
    return users, values


def _attempt(user, method, url, data):
    client = Client(raise_request_exception=False)
    if user is not None:
        log_in_verified(client, user)
    return getattr(client, method)(url, data) if data is not None else getattr(client, method)(url)


def _refused(response) -> bool:
    # Wagtail answers a logged-in user's permission failure with a redirect to the dashboard.
    return response.status_code == 403 or (response.status_code == 302 and response.url == "/admin/")


@pytest.mark.parametrize("what, method, url, data, allowed", EXPORTS + ACTIONS,
                         ids=[entry[0] for entry in EXPORTS + ACTIONS])
def test_each_role_can_do_exactly_what_readme_says(world, what, method, url, data, allowed):
    users, values = world
    url = url.format(**values)
    data = {key: value.format(**values) for key, value in data.items()} if data else data
    is_export = any(what == entry[0] for entry in EXPORTS)
    for role, user in [(None, None), *users.items()]:
        with transaction.atomic():
            response = _attempt(user, method, url, data)
            if role is None:
                assert response.status_code == 302 and "/admin/login/" in response.url, (what, role)
            elif role in allowed:
                assert not _refused(response) and response.status_code < 500, (what, role, response.status_code)
                if is_export:
                    assert response.status_code == 200, (what, role, response.status_code)
            else:
                assert _refused(response), (what, role, response.status_code)
            transaction.set_rollback(True)


def test_only_finance_sees_the_buttons_for_finance_exports_and_offline_gifts(world):
    users, _values = world
    for role, user in users.items():
        page = _attempt(user, "get", "/admin/donation/", None).content.decode()
        assert ("Download CSV" in page) is (role != F), role
        assert ("Record an offline gift" in page) is (role != F), role
