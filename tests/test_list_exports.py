"""Every admin list of the charity's records downloads as CSV and XLSX, each for
the role it belongs to (tests/test_roles.py checks each role at each URL):
the lists are found from Wagtail's registry, so a new list without a named
download permission fails here; and each file holds the list's rows, made and
logged by config.exports."""

import csv
import datetime
import io

import openpyxl
import pytest
from django.urls import get_resolver
from django.utils import timezone
from wagtail.admin.viewsets import viewsets
from wagtail.admin.viewsets.model import ModelViewSet

from campaigns.models import Appeal, Campaign, FundraiserPage
from cms.models import Mailing
from config.exports import ExportPermissionMixin
from donations.models import IncomeTarget, RecurringGift, StripeEvent
from donations.services import gift_aid_claims
from finance.models import BankAccount
from finance.services import bank, batches, payouts
from supporters.models import EmailMessage, EmailSuppression, ExportRecord
from tests.donations.test_gift_aid import declare, gift
from tests.finance.builders import lloyds, payout_data
from tests.helpers import log_in_verified

pytestmark = pytest.mark.django_db

OUR_APPS = {"supporters", "campaigns", "donations", "finance", "cms"}
# Lists that are not records to take away, each with why.
NOT_RECORDS = {"supporters.emailtemplate": "the wording of our emails, edited in place"}

LAST_MONTH_END = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
LAST_MONTH_START = LAST_MONTH_END.replace(day=1)

# (list, its download's URL without the format, a heading the file has, rows the fixture gives it)
LISTS = [
    ("supporters", "/admin/supporter/?export=", "Reference", 1),
    ("Gift Aid declarations", "/admin/gift-aid-declarations/?export=", "Declaration", 1),
    ("sent emails", "/admin/email-messages/?export=", "Subject", 1),
    ("suppressed addresses", "/admin/email-suppressions/?export=", "Reason", 1),
    ("campaigns", "/admin/campaign/?export=", "Raised (pence)", 1),
    ("appeals", "/admin/appeal/?export=", "Campaign", 1),
    ("fundraising pages", "/admin/fundraiser_page/?export=", "Supporter", 1),
    ("mailings", "/admin/mailing/?export=", "Recipients", 1),
    ("gifts", "/admin/donation/?export=", "Supporter", 2),  # the claimed gift, the batch's cheque
    ("monthly gifts", "/admin/recurring_gift/?export=", "Monthly gift", 1),
    ("Stripe events", "/admin/stripe_event/?export=", "Status", 1),
    ("Gift Aid claims", "/admin/gift_aid_claim/?export=", "Gift Aid (pence)", 1),
    ("income targets", "/admin/income_target/?export=", "Tax year (starting)", 1),
    ("Stripe payouts", "/admin/payout/?export=", "Amount (pence)", 1),
    ("bank lines", "/admin/bank_line/?export=", "Paid in (pence)", 2),
    ("bank accounts", "/admin/bank_account/?export=", "Sort code", 1),
    ("Finance's downloads log", "/admin/finance_download/?export=", "What", 0),
    ("paying-in batches", "/admin/paying_in_batch/download/?format=", "Slip total", 1),
    ("campaigns' income codes", "/admin/campaign-income-codes/download/?format=", "Income code", 1),
    ("export log", "/admin/export-log/?export=", "What", 0),
]


@pytest.fixture
def records(finance_user, supporter_factory):
    """One of each record the lists show."""
    supporter = supporter_factory(first_name="=SUM(1)")
    declare(supporter, LAST_MONTH_START)
    gift(supporter, 2500, LAST_MONTH_START + datetime.timedelta(days=2))
    gift_aid_claims.gift_aid_claim_build(period_start=LAST_MONTH_START, period_end=LAST_MONTH_END)
    campaign = Campaign.objects.create(name="Winter appeal", code="winter", kind=Campaign.Kind.PEER_TO_PEER)
    Appeal.objects.create(campaign=campaign, code="WIN-EMAIL", name="Winter email", channel="email")
    FundraiserPage.objects.create(campaign=campaign, supporter=supporter, slug="run", title="Run", story="Go")
    Mailing.objects.create(name="Winter", subject="Hello", body="Dear {{ first_name }}")
    EmailMessage.objects.create(supporter=supporter, to_email=supporter.email, category="receipt", subject="Thanks")
    EmailSuppression.objects.create(email="gone@example.org", reason="bounced")
    RecurringGift.objects.create(supporter=supporter, amount_pence=1000, day_of_month=5, status="active")
    StripeEvent.objects.create(stripe_id="evt_1", type="customer.created", status="failed", payload={})
    IncomeTarget.objects.create(tax_year=2026, target_pence=100_000_00)
    payouts.payout_record(payout=payout_data("po_1", 12_345))
    account = BankAccount.objects.create(name="Current account", code="090", sort_code="30-94-12",
                                         account_number="12345678")
    day = LAST_MONTH_START + datetime.timedelta(days=3)
    bank.bank_statement_import(account=account, filename="statement.csv", data=lloyds(
        (day, "STRIPE PAYMENTS UK BRIGHTWELL", 0, 123.45), (day, "+CHEQUES PAID IN 000041", 0, 25.00)))
    batch = batches.batch_open(banking_date=day, method="cheque", expected_count=1, expected_total_pence=2500,
                               reference="000041", by=finance_user)
    batches.batch_gift_add(batch=batch, supporter=supporter, amount_pence=2500, by=finance_user)


def _our_list_viewsets():
    get_resolver().url_patterns  # the admin's URLs register its viewsets
    return [viewset for viewset in viewsets.viewsets
            if isinstance(viewset, ModelViewSet) and viewset.model._meta.app_label in OUR_APPS
            and viewset.model._meta.label_lower not in NOT_RECORDS]


def test_every_list_of_records_downloads_for_a_named_permission():
    found = _our_list_viewsets()
    assert len(found) >= 17
    for viewset in found:
        view = viewset.index_view_class
        name = viewset.model._meta.label_lower
        assert viewset.list_export, f"{name}: no CSV or XLSX download"
        assert issubclass(view, ExportPermissionMixin), f"{name}: its download is not guarded"
        permission = getattr(viewset, "export_permission", "") or view.export_permission
        assert permission.count(".") == 1, f"{name}: no permission named for its download"


@pytest.mark.parametrize("what, url, heading, rows", LISTS, ids=[entry[0] for entry in LISTS])
def test_each_list_downloads_its_rows_as_csv_and_xlsx(client, admin_user, records, what, url, heading, rows):
    log_in_verified(client, admin_user)
    response = client.get(url + "csv")
    assert response.status_code == 200, what
    table = list(csv.reader(io.StringIO(response.getvalue().decode("utf-8"))))
    assert heading in table[0], table[0]
    assert len(table) - 1 >= rows, table
    # Text from outside (a supporter's name, a bank's description) is never a formula.
    assert not any(cell.startswith(("=", "+")) for row in table[1:] for cell in row), table

    response = client.get(url + "xlsx")
    assert response.status_code == 200, what
    sheet = openpyxl.load_workbook(io.BytesIO(response.getvalue())).active
    assert [cell.value for cell in next(sheet.iter_rows(max_row=1))] == table[0]
    # The export log's second file also lists the first download.
    assert sheet.max_row == len(table) + (1 if what == "export log" else 0)
    records = ExportRecord.objects.order_by("-pk")[:2]
    assert [record.file_format for record in records] == ["xlsx", "csv"]
    assert records[1].rows == len(table) - 1


def test_the_download_buttons_show_for_the_role_that_may_use_them(fundraiser, finance_user):
    from django.test import Client

    shown = {  # list: (shown to Fundraising, shown to Finance), where both may see the list
        "/admin/supporter/": (True, False),
        "/admin/gift-aid-declarations/": (False, True),
        "/admin/email-messages/": (True, False),
        "/admin/campaign/": (True, True),
        "/admin/fundraiser_page/": (True, False),
        "/admin/donation/": (False, True),
        "/admin/recurring_gift/": (False, True),
        "/admin/income_target/": (False, True),
    }
    for url, (for_fundraising, for_finance) in shown.items():
        for user, expected in ((fundraiser, for_fundraising), (finance_user, for_finance)):
            client = Client()
            log_in_verified(client, user)
            page = client.get(url)
            assert page.status_code == 200, (url, user)
            assert ("Download CSV" in page.content.decode()) is expected, (url, user)
    client = Client()
    log_in_verified(client, finance_user)
    for url in ("/admin/paying_in_batch/", "/admin/campaign-income-codes/", "/admin/payout/"):
        page = client.get(url).content.decode()
        assert "Download CSV" in page and "Download XLSX" in page, url
