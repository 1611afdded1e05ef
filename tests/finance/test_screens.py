"""Finance's screens: for Finance and superusers only; Fundraising is refused,
anonymous visitors are sent to log in. Through the admin as staff use it."""


import pytest
from django.test import Client
from django.urls import reverse

from finance.models import BankAccount, BankLine, ClosedMonth, MonthReopening, Payout
from tests.finance.builders import D, lloyds
from tests.helpers import log_in_verified

pytestmark = pytest.mark.django_db

SCREENS = ["reconciliation:index", "reconciliation:months", "payout:index", "bank_line:index", "bank_line:import",
           "bank_account:index", "paying_in_batch:index", "stripe_report:index", "journals:index",
           "campaign_ledger_code:index", "finance_download:index"]


def _as(user) -> Client:
    client = Client()
    if user is not None:
        log_in_verified(client, user)
    return client


@pytest.mark.parametrize("name", SCREENS)
def test_each_screen_is_finances_alone(name, fundraiser, finance_user, admin_user):
    url = reverse(name)
    assert _as(None).get(url).status_code == 302  # to the login page
    refused = _as(fundraiser).get(url)  # Wagtail sends a logged-in user without the permission to the dashboard
    assert refused.status_code == 302 and refused.url == "/admin/"
    assert _as(finance_user).get(url).status_code == 200
    assert _as(admin_user).get(url).status_code == 200


def test_the_menu_shows_finance_to_finance_only(fundraiser, finance_user):
    assert "Reconciliation" in _as(finance_user).get(reverse("wagtailadmin_home")).content.decode()
    assert "Reconciliation" not in _as(fundraiser).get(reverse("wagtailadmin_home")).content.decode()


def test_fundraising_cannot_act(fundraiser_client):
    for name, data in [("reconciliation:confirm", {"match": "payout-1"}), ("reconciliation:month_close",
                                                                          {"month": "2026-10-01"})]:
        response = fundraiser_client.post(reverse(name), data)
        assert response.status_code == 403 or (response.status_code == 302 and response.url == "/admin/")
    assert not ClosedMonth.objects.exists()


def test_finance_imports_a_statement_confirms_the_match_and_closes_the_month(finance_client, month_of_payout):
    account = BankAccount.objects.create(name="Current account", code="090")
    data = lloyds((D(2026, 11, 10), "STRIPE BRIGHTWELL", 0, month_of_payout["net"] / 100),
                  (D(2026, 11, 12), "INTEREST", 0, 1.23))
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = finance_client.post(reverse("bank_line:import"), {
        "account": account.pk, "file": SimpleUploadedFile("nov.csv", data, content_type="text/csv")}, follow=True)
    page = response.content.decode()
    assert "2 lines added, 0 already held" in page
    assert "Matches to confirm" in page and "po_1" in page
    response = finance_client.post(reverse("reconciliation:confirm"),
                                   {"match": f"payout-{month_of_payout['payout'].pk}"}, follow=True)
    assert "1 match confirmed." in response.content.decode()
    credit = Payout.objects.get().bank_line
    assert credit.description == "STRIPE BRIGHTWELL"
    page = finance_client.get(reverse("bank_line:inspect", args=[credit.pk])).content.decode()
    assert "Stripe payout po_1" in page and "Undo this match" in page
    finance_client.post(reverse("reconciliation:unmatch", args=[credit.pk]))
    assert Payout.objects.get().bank_line is None
    assert BankLine.objects.get(pk=credit.pk).status == BankLine.Status.UNMATCHED
    finance_client.post(reverse("reconciliation:confirm"), {"match": f"payout-{month_of_payout['payout'].pk}"})
    assert Payout.objects.get().bank_line == credit
    interest = BankLine.objects.get(description="INTEREST")
    finance_client.post(reverse("reconciliation:other_income", args=[interest.pk]), {"note": "Bank interest"})
    assert BankLine.objects.get(pk=interest.pk).status == BankLine.Status.OTHER_INCOME
    response = finance_client.post(reverse("reconciliation:month_close"), {"month": "2026-10-01"}, follow=True)
    assert "October 2026 is closed" in response.content.decode()
    response = finance_client.post(reverse("reconciliation:month_reopen"), {"month": "2026-10-01", "reason": ""},
                                   follow=True)
    assert "Say why the month is reopened" in response.content.decode() and ClosedMonth.objects.exists()
    finance_client.post(reverse("reconciliation:month_reopen"), {"month": "2026-10-01", "reason": "Late cheques"})
    assert not ClosedMonth.objects.exists() and MonthReopening.objects.get().reason == "Late cheques"


def test_a_bad_statement_names_the_line_and_column_and_saves_nothing(finance_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    account = BankAccount.objects.create(name="Current account", code="090")
    bad = ("Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,"
           "Credit Amount,Balance\n02/11/2026,BGC,'30-94-12,12345678,X,,ten,1010.00\n").encode()
    response = finance_client.post(reverse("bank_line:import"), {
        "account": account.pk, "file": SimpleUploadedFile("bad.csv", bad)})
    assert response.status_code == 200
    assert "Line 2, column G" in response.content.decode()
    assert not BankLine.objects.exists()
    unknown = b"When,What,Money\n02/11/2026,Gift,10.00\n03/11/2026,Gift,5.00\n"
    response = finance_client.post(reverse("bank_line:import"), {
        "account": account.pk, "file": SimpleUploadedFile("other.csv", unknown)})
    assert "We don" in response.content.decode() and "recognise this bank" in response.content.decode()
    response = finance_client.post(reverse("bank_line:import"), {
        "account": account.pk, "file": SimpleUploadedFile("other.csv", unknown), "map_date": "When",
        "map_description": "What", "map_amount": "Money"}, follow=True)
    assert "2 lines added" in response.content.decode()
    assert BankAccount.objects.get().column_map["date"] == "When"
    response = finance_client.post(reverse("bank_line:import"), {
        "account": account.pk, "file": SimpleUploadedFile("other-2.csv", unknown)}, follow=True)
    assert "0 lines added, 2 already held" in response.content.decode()  # the remembered map read it


def test_the_downloads_log_says_who_took_which_journal(finance_user, month_of_payout):
    client = _as(finance_user)
    response = client.get(reverse("journals:download"), {"journal_for": "payout", "payout": "po_1", "format": "xero"})
    assert response.status_code == 200
    page = client.get(reverse("finance_download:index")).content.decode()
    assert "po_1" in page and "finance" in page.lower()


def test_the_xero_preview_warns_when_journals_post_to_a_bank_account(finance_user, month_of_payout):
    client = _as(finance_user)
    query = {"journal_for": "payout", "payout": "po_1", "format": "xero"}
    assert "Xero takes no manual journal on a bank account" not in client.get(reverse("journals:index"), query).content.decode()
    BankAccount.objects.create(name="Current account", code="090")  # the chart's bank code, by default
    page = client.get(reverse("journals:index"), query).content.decode()
    assert "Xero takes no manual journal on a bank account" in page
