"""Paying-in batches: opened with what the slip says, gifts keyed in (recorded
through donations' service), closed only when they add up exactly, reopened
while not matched to the bank, and opened from a bank credit; the screens for
each role; two people keying into one batch at once (PostgreSQL)."""

import datetime
import json

import pytest
from django.utils import timezone

from campaigns.models import Appeal, Campaign
from campaigns.selectors import campaign_totals
from config.errors import ApplicationError
from donations.models import Donation
from finance.models import BankAccount, BankLine, BankStatement, ClosedMonth, PayingInBatch, PayingInBatchGift
from finance.services import bank
from finance.services import batches as services
from supporters.models import Interaction
from tests.donations.test_gift_aid import declare
from tests.helpers import log_in_verified
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
BANKED = TODAY - datetime.timedelta(days=2)


def open_batch(count=2, total=5_000, method=PayingInBatch.Method.CHEQUE, by=None, **extra):
    return services.batch_open(banking_date=extra.pop("banking_date", BANKED), method=method, expected_count=count,
                               expected_total_pence=total, by=by, **extra)


def add(batch, pence, supporter=None, **extra):
    return services.batch_gift_add(batch=batch, supporter=supporter or SupporterFactory(), amount_pence=pence, **extra)


def credit(pence=5_000, on=BANKED, description="CAF BANK LTD 123456"):
    account = BankAccount.objects.get_or_create(code="090", defaults={"name": "Current account"})[0]
    statement = BankStatement.objects.create(account=account, filename="st.csv", layout="test", first_date=on,
                                             last_date=on, lines_added=1, lines_already_held=0)
    count = BankLine.objects.count()
    return BankLine.objects.create(account=account, statement=statement, identity=f"line-{count}", date=on,
                                   description=description, paid_in_pence=pence, file_line=count + 1)


@pytest.fixture
def campaign():
    return Campaign.objects.create(name="Winter appeal", code="winter", status=Campaign.Status.LIVE)


# --- opening -----------------------------------------------------------------------

def test_batches_are_numbered_in_turn_and_say_who_entered_them(finance_user):
    first = open_batch(by=finance_user, reference="  Slip   004512 ")
    second = open_batch(method=PayingInBatch.Method.CASH)
    assert (first.number, second.number) == (1, 2)
    assert first.entered_by == finance_user and first.reference == "Slip 004512"
    assert first.status == PayingInBatch.Status.OPEN


@pytest.mark.parametrize("details, field", [
    ({"count": 0}, "expected_count"),
    ({"total": 0}, "expected_total"),
    ({"method": "bitcoin"}, "method"),
    ({"banking_date": TODAY + datetime.timedelta(days=40)}, "banking_date"),
])
def test_a_batch_is_refused_with_its_field_named(details, field):
    with pytest.raises(ApplicationError) as refused:
        open_batch(**details)
    assert refused.value.field == field
    assert not PayingInBatch.objects.exists()


# --- gifts ---------------------------------------------------------------------------

def test_each_gift_is_recorded_as_an_offline_gift_and_takes_the_next_place(campaign, finance_user):
    batch = open_batch(count=2, total=3_550)
    donor = SupporterFactory(first_name="Ada")
    first = add(batch, 2_500, supporter=donor, campaign=campaign, by=finance_user)
    second = add(batch, 1_050, campaign=campaign)
    assert (first.position, second.position) == (1, 2)
    gift = first.donation
    assert (gift.supporter, gift.amount_pence, gift.status, gift.channel) == (
        donor, 2_500, Donation.Status.SUCCEEDED, Donation.Channel.OFFLINE)
    assert gift.given_on == BANKED  # received on the banking date
    assert campaign_totals(campaign=campaign)["raised_pence"] == 3_550
    entry = Interaction.objects.get(supporter=donor, source_ref=f"donation:{gift.pk}")
    assert "Gave £25.00" in entry.summary and entry.detail == "Paying-in batch 1 (Cheques)"
    assert entry.recorded_by == finance_user


def test_a_batch_banked_ahead_records_its_gifts_as_received_today():
    batch = open_batch(banking_date=TODAY + datetime.timedelta(days=5))
    assert add(batch, 100).donation.given_on == TODAY


def test_an_appeal_gives_its_campaign_and_must_agree_with_the_one_chosen(campaign):
    appeal = Appeal.objects.create(campaign=campaign, code="WIN26-POST", name="Winter letter")
    other = Campaign.objects.create(name="Summer fair", code="summer")
    batch = open_batch()
    assert add(batch, 1_000, appeal=appeal).donation.campaign == campaign
    with pytest.raises(ApplicationError) as refused:
        add(batch, 1_000, appeal=appeal, campaign=other)
    assert refused.value.field == "appeal" and "part of Winter appeal, not Summer fair" in refused.value.message
    assert batch.gifts.count() == 1


def test_gift_aid_is_as_on_any_offline_gift_and_the_page_says_when_no_declaration_covers_it(finance_client):
    batch = open_batch(count=2, total=2_000)
    declared, undeclared = SupporterFactory(), SupporterFactory()
    declare(declared, BANKED - datetime.timedelta(days=30))
    covered = add(batch, 1_000, supporter=declared, gift_aid_declared=True).donation
    uncovered = add(batch, 1_000, supporter=undeclared, gift_aid_declared=True).donation
    assert covered.gift_aid_declared and uncovered.gift_aid_declared
    page = finance_client.get(f"/admin/paying_in_batch/{batch.pk}/").content.decode()
    assert page.count("No Gift Aid declaration covers this gift") == 1
    assert f"/admin/supporter/{undeclared.pk}/gift-aid/new/" in page


@pytest.mark.parametrize("supporter, extra, field", [
    (None, {}, "supporter"),
    ("erased", {}, "supporter"),
    ("someone", {"amount_pence": 0}, "amount"),
])
def test_a_gift_is_refused_with_its_field_named(supporter, extra, field):
    batch = open_batch()
    person = SupporterFactory() if supporter else None
    if supporter == "erased":
        person.erased_at = timezone.now()
        person.save()
    with pytest.raises(ApplicationError) as refused:
        services.batch_gift_add(batch=batch, supporter=person, **{"amount_pence": 500, **extra})
    assert refused.value.field == field
    assert not Donation.objects.exists() and not batch.gifts.exists()


def test_a_platform_claims_its_own_gift_aid():
    batch = open_batch(method=PayingInBatch.Method.PLATFORM, reference="JG payout 991")
    with pytest.raises(ApplicationError) as refused:
        add(batch, 1_000, gift_aid_declared=True)
    assert refused.value.field == "gift_aid_declared"
    assert add(batch, 1_000).donation.gift_aid_declared is False


def test_a_gift_keyed_in_error_is_withdrawn_and_the_places_close_up(campaign, finance_user):
    batch = open_batch(count=3, total=3_000)
    gifts = [add(batch, pence, campaign=campaign) for pence in (1_000, 1_200, 1_000)]
    wrong = gifts[1]
    donation = services.batch_gift_remove(gift=wrong, reason="amount mistyped", by=finance_user)
    assert donation.status == Donation.Status.FAILED
    assert donation.failure_reason == "Withdrawn: amount mistyped (paying-in batch 1, gift 2)"
    assert list(batch.gifts.order_by("position").values_list("donation__amount_pence", "position")) == [
        (1_000, 1), (1_000, 2)]
    assert campaign_totals(campaign=campaign)["raised_pence"] == 2_000
    assert Interaction.objects.filter(supporter=donation.supporter, source_ref=f"donation-withdrawn:{donation.pk}",
                                      summary__contains="withdrawn").exists()
    add(batch, 1_000, campaign=campaign)
    services.batch_close(batch=batch)
    with pytest.raises(ApplicationError, match="is closed: reopen it"):
        services.batch_gift_remove(gift=gifts[0])


def test_only_a_gift_recorded_by_hand_and_unchanged_since_can_be_withdrawn():
    from donations.services import donation_offline_withdraw
    card_gift = Donation.objects.create(supporter=SupporterFactory(), amount_pence=1_000, channel=Donation.Channel.WEB,
                                        status=Donation.Status.SUCCEEDED, stripe_charge_id="ch_withdraw")
    with pytest.raises(ApplicationError, match="not recorded by hand"):
        donation_offline_withdraw(donation=card_gift, reason="keyed in error")
    batch = open_batch()
    keyed = add(batch, 1_000).donation
    with pytest.raises(ApplicationError) as refused:
        donation_offline_withdraw(donation=keyed, reason="  ")
    assert refused.value.field == "reason"
    Donation.objects.filter(pk=keyed.pk).update(refunded_pence=500, status=Donation.Status.PARTLY_REFUNDED)
    with pytest.raises(ApplicationError, match="is partly refunded"):
        services.batch_gift_remove(gift=batch.gifts.get())
    assert batch.gifts.count() == 1


# --- closing and reopening ---------------------------------------------------------------

def test_closing_is_refused_one_penny_short_saying_so():
    batch = open_batch(count=2, total=5_000)
    add(batch, 2_500)
    add(batch, 2_499)
    with pytest.raises(ApplicationError) as refused:
        services.batch_close(batch=batch)
    assert refused.value.message == ("Batch 1 does not add up yet: it holds £49.99, £0.01 less than the £50.00 "
                                     "expected.")
    add(batch, 1)
    with pytest.raises(ApplicationError, match="3 gifts, 1 more than the 2 expected"):
        services.batch_close(batch=batch)
    batch.refresh_from_db()
    assert batch.status == PayingInBatch.Status.OPEN


def test_closing_is_refused_when_the_count_is_off_even_if_the_total_is_right():
    batch = open_batch(count=3, total=5_000)
    add(batch, 2_500)
    add(batch, 2_500)
    with pytest.raises(ApplicationError, match=r"it holds 2 gifts, 1 fewer than the 3 expected\.$"):
        services.batch_close(batch=batch)


def test_a_batch_that_adds_up_closes_and_then_takes_no_more_gifts(finance_user):
    batch = open_batch(count=2, total=5_000)
    add(batch, 2_500)
    add(batch, 2_500)
    closed = services.batch_close(batch=batch, by=finance_user)
    assert (closed.status, closed.closed_by) == (PayingInBatch.Status.CLOSED, finance_user)
    assert closed.closed_at is not None
    with pytest.raises(ApplicationError, match="Batch 1 is closed"):
        add(batch, 100)
    with pytest.raises(ApplicationError, match="is closed"):
        services.batch_close(batch=batch)


def test_reopening_only_while_not_matched_to_the_bank():
    batch = open_batch(count=1, total=5_000)
    with pytest.raises(ApplicationError, match="already open"):
        services.batch_reopen(batch=batch)
    add(batch, 5_000)
    services.batch_close(batch=batch)
    reopened = services.batch_reopen(batch=batch)
    assert (reopened.status, reopened.closed_by, reopened.closed_at) == (PayingInBatch.Status.OPEN, None, None)
    services.batch_close(batch=batch)
    line = credit(5_000, description="PAYING IN 004512")
    bank.bank_match_confirm(line=line, batch=batch)
    with pytest.raises(ApplicationError) as refused:
        services.batch_reopen(batch=batch)
    assert "matched to the bank credit of" in refused.value.message and "undo the match" in refused.value.message
    bank.bank_line_unmatch(line=line)
    assert services.batch_reopen(batch=batch).status == PayingInBatch.Status.OPEN


def test_a_closed_month_keeps_its_batches_as_they_are():
    batch = open_batch(count=1, total=1_000)
    ClosedMonth.objects.create(month=ClosedMonth.first_day(BANKED))
    with pytest.raises(ApplicationError, match="are closed"):
        add(batch, 1_000)
    with pytest.raises(ApplicationError, match="are closed"):
        open_batch()


# --- from a bank credit ----------------------------------------------------------------

def test_offline_gifts_recorded_from_a_bank_credit(finance_user):
    line = credit(7_500, description="CAF BANK LTD 778899")
    batch = services.batch_from_bank_credit(line=line, method=PayingInBatch.Method.CAF, expected_count=2,
                                            by=finance_user)
    line.refresh_from_db()
    assert (batch.banking_date, batch.expected_total_pence, batch.reference, batch.bank_line) == (
        line.date, 7_500, "CAF BANK LTD 778899", line)
    # Off the exceptions list while its gifts are keyed; no payout or batch can take it.
    assert (line.status, line.note, line.resolved_by) == (BankLine.Status.OFFLINE_GIFTS, "Paying-in batch 1",
                                                           finance_user)
    assert bank.unmatched_credits_between(line.date, line.date).count() == 0
    add(batch, 5_000)
    add(batch, 2_500)
    services.batch_close(batch=batch)
    line.refresh_from_db()
    assert line.status == BankLine.Status.MATCHED
    with pytest.raises(ApplicationError, match="already matched"):
        services.batch_from_bank_credit(line=line, method=PayingInBatch.Method.CAF)
    with pytest.raises(ApplicationError, match="matched to the bank credit"):
        services.batch_reopen(batch=batch)


def test_a_batch_from_a_credit_keeps_its_date_and_amount_and_an_empty_one_gives_it_back():
    line = credit(2_000)
    batch = services.batch_from_bank_credit(line=line, method=PayingInBatch.Method.BANK_TRANSFER)
    with pytest.raises(ApplicationError) as refused:
        services.batch_update(batch=batch, banking_date=batch.banking_date, method=batch.method, expected_count=1,
                              expected_total_pence=2_100)
    assert refused.value.field == "expected_total"
    services.batch_discard(batch=batch)
    line.refresh_from_db()
    assert line.status == BankLine.Status.UNMATCHED and not PayingInBatch.objects.exists()


def test_money_out_holds_no_gifts():
    line = credit(0)
    BankLine.objects.filter(pk=line.pk).update(paid_out_pence=500, status=BankLine.Status.NOT_A_CREDIT)
    line.refresh_from_db()
    with pytest.raises(ApplicationError, match="only a credit"):
        services.batch_from_bank_credit(line=line, method=PayingInBatch.Method.BANK_TRANSFER)


# --- the screens ----------------------------------------------------------------------

def test_a_new_batch_from_the_form_and_its_errors_name_the_field(finance_client):
    page = finance_client.get("/admin/paying_in_batch/new/")
    assert page.status_code == 200 and b"Banking date" in page.content
    refused = finance_client.post("/admin/paying_in_batch/new/", {
        "banking_date": "31/02/2026", "method": "cheque", "expected_count": "50", "expected_total": "ten"})
    assert refused.status_code == 200 and not PayingInBatch.objects.exists()
    assert "Enter an amount in pounds, like 1234.56." in refused.content.decode()
    assert "Enter the date as day/month/year, like 05/03/2026." in refused.content.decode()
    done = finance_client.post("/admin/paying_in_batch/new/", {
        "banking_date": f"{BANKED:%-d/%-m/%y}", "method": "cheque", "reference": "004512", "expected_count": "50",
        "expected_total": "£1,234.56"})
    batch = PayingInBatch.objects.get()
    assert done.url == f"/admin/paying_in_batch/{batch.pk}/"
    assert (batch.banking_date, batch.expected_count, batch.expected_total_pence, batch.reference) == (
        BANKED, 50, 123_456, "004512")


def test_a_mistyped_slip_total_is_corrected_while_the_batch_is_open(finance_client):
    batch = open_batch(count=2, total=5_000)
    page = finance_client.get(f"/admin/paying_in_batch/{batch.pk}/details/").content.decode()
    assert 'value="50.00"' in page and f'value="{BANKED:%d/%m/%Y}"' in page
    finance_client.post(f"/admin/paying_in_batch/{batch.pk}/details/", {
        "banking_date": f"{BANKED:%d/%m/%Y}", "method": "cheque", "reference": "004512", "expected_count": "3",
        "expected_total": "50.50"})
    batch.refresh_from_db()
    assert (batch.expected_count, batch.expected_total_pence, batch.reference) == (3, 5_050, "004512")


def test_keying_a_gift_by_reference_keeps_the_campaign_and_appeal_for_the_next(finance_client, campaign):
    Appeal.objects.create(campaign=campaign, code="WIN26", name="Winter letter")
    batch = open_batch()
    donor = SupporterFactory()
    saved = finance_client.post(f"/admin/paying_in_batch/{batch.pk}/", {
        "supporter": donor.reference.lower(), "amount": "25", "campaign": campaign.pk, "appeal": "win26",
        "gift_aid_declared": "on"})
    assert saved.status_code == 302
    assert saved.url == f"/admin/paying_in_batch/{batch.pk}/?campaign={campaign.pk}&appeal=WIN26"
    gift = batch.gifts.get().donation
    assert (gift.supporter, gift.amount_pence, gift.appeal.code, gift.gift_aid_declared) == (donor, 2_500, "WIN26", True)
    page = finance_client.get(saved.url).content.decode()
    assert f'<option value="{campaign.pk}" selected>' in page and 'value="WIN26"' in page
    assert "Gift 1 saved: £25.00 from" in page


def test_a_name_is_searched_and_the_supporter_chosen_from_the_matches(finance_client):
    batch = open_batch()
    ann = SupporterFactory(first_name="Ann", last_name="Okafor", postcode="LS6 2AA")
    SupporterFactory(first_name="Anna", last_name="Okafor")
    asked = finance_client.post(f"/admin/paying_in_batch/{batch.pk}/", {"supporter": "okafor", "amount": "10"})
    page = asked.content.decode()
    assert asked.status_code == 200 and not batch.gifts.exists()
    assert "Choose which supporter you mean by “okafor”" in page and page.count('name="supporter_pick"') == 2
    assert '<a href="#id_supporter">Supporter</a>' in page
    finance_client.post(f"/admin/paying_in_batch/{batch.pk}/", {
        "supporter": "okafor", "supporter_searched": "okafor", "supporter_pick": ann.pk, "amount": "10"})
    assert batch.gifts.get().donation.supporter == ann
    # The picker's own wording ("S0000042 Name, postcode") is the reference; a Sheffield postcode is a search.
    finance_client.post(f"/admin/paying_in_batch/{batch.pk}/", {"supporter": f"{ann.reference} Ann Okafor, LS6 2AA",
                                                                 "amount": "5"})
    assert batch.gifts.count() == 2
    missing = finance_client.post(f"/admin/paying_in_batch/{batch.pk}/", {"supporter": "S1 2AB", "amount": "5"})
    assert "No supporter matches “S1 2AB”" in missing.content.decode()


def test_errors_name_the_field_and_nothing_is_saved(finance_client):
    batch = open_batch()
    refused = finance_client.post(f"/admin/paying_in_batch/{batch.pk}/", {"supporter": "S9999999", "amount": "1.234",
                                                                          "appeal": "NOPE"})
    page = refused.content.decode()
    assert "Gift not saved." in page
    assert '<a href="#id_supporter">Supporter</a>: No supporter has the reference S9999999.' in page
    assert '<a href="#id_amount">Amount (£)</a>: Enter an amount in pounds above zero' in page
    assert '<a href="#id_appeal">Appeal code</a>: No appeal has the code “NOPE”.' in page
    assert not Donation.objects.exists()


def test_saving_from_the_script_answers_with_the_parts_of_the_page(finance_client):
    batch = open_batch(count=1, total=1_500)
    donor = SupporterFactory()
    headers = {"X-Requested-With": "paying-in-batch"}
    refused = finance_client.post(f"/admin/paying_in_batch/{batch.pk}/", {"supporter": donor.reference}, headers=headers)
    result = json.loads(refused.content)
    assert result["saved"] is False and "Enter the amount." in result["form"]
    saved = json.loads(finance_client.post(f"/admin/paying_in_batch/{batch.pk}/",
                                           {"supporter": donor.reference, "amount": "15"}, headers=headers).content)
    assert saved["saved"] is True and saved["adds_up"] is True and saved["message"].startswith("Gift 1 saved: £15.00")
    assert "Close the batch" in saved["status"] and donor.reference in saved["gifts"]


def test_the_supporter_picker_finds_by_name_postcode_and_email_but_never_the_erased(finance_client):
    ann = SupporterFactory(first_name="Ann", last_name="Quill", postcode="LS6 2AA", email="ann@example.org")
    gone = SupporterFactory(first_name="Ann", last_name="Quillby", erased_at=timezone.now())
    for query in ("ann qu", "ls6", "LS6 2AA", "ann@ex"):
        results = finance_client.get("/admin/paying_in_batch/supporters/", {"q": query}).json()["results"]
        assert [r["reference"] for r in results] == [ann.reference], query
        assert results[0]["value"] == f"{ann.reference} Ann Quill, LS6 2AA"
    assert gone.reference not in finance_client.get("/admin/paying_in_batch/supporters/", {"q": "ann"}).content.decode()


def test_the_batch_closes_from_its_page_when_it_adds_up(finance_client):
    batch = open_batch(count=1, total=1_000)
    add(batch, 999)
    page = finance_client.get(f"/admin/paying_in_batch/{batch.pk}/").content.decode()
    assert "Close the batch" not in page and "£0.01" in page
    refused = finance_client.post(f"/admin/paying_in_batch/{batch.pk}/close/", follow=True)
    assert "£0.01 less than the £10.00 expected" in refused.content.decode()
    services.batch_gift_remove(gift=batch.gifts.get())
    add(batch, 1_000)
    page = finance_client.get(f"/admin/paying_in_batch/{batch.pk}/").content.decode()
    assert 'id="close-batch" autofocus' in page
    finance_client.post(f"/admin/paying_in_batch/{batch.pk}/close/")
    batch.refresh_from_db()
    assert batch.status == PayingInBatch.Status.CLOSED
    page = finance_client.get(f"/admin/paying_in_batch/{batch.pk}/").content.decode()
    assert "Reopen the batch" in page and 'id="gift-entry"' not in page


def test_removing_a_gift_is_confirmed_first(finance_client):
    batch = open_batch()
    gift = add(batch, 1_000)
    url = f"/admin/paying_in_batch/{batch.pk}/gifts/{gift.pk}/remove/"
    assert "Remove the gift" in finance_client.get(url).content.decode()
    assert batch.gifts.exists()
    finance_client.post(url, {"reason": "wrong donor"})
    assert not batch.gifts.exists()
    assert Donation.objects.get().failure_reason.startswith("Withdrawn: wrong donor")


def test_the_list_shows_open_batches_first(finance_client):
    older = open_batch(count=1, total=100)
    add(older, 100)
    services.batch_close(batch=older)
    newer_closed = open_batch(count=1, total=200)
    add(newer_closed, 200)
    services.batch_close(batch=newer_closed)
    still_open = open_batch(count=1, total=300)
    page = finance_client.get("/admin/paying_in_batch/").content.decode()
    places = [page.index(f"<strong>Batch {batch.number}</strong>") for batch in (still_open, newer_closed, older)]
    assert places == sorted(places)
    assert "£0.00 of £3.00" in page


def test_the_from_credit_screen_opens_a_batch_for_the_credit(finance_client):
    line = credit(12_000, description="JUSTGIVING PAYOUT 4411")
    assert "JUSTGIVING PAYOUT 4411" in finance_client.get("/admin/paying_in_batch/new/").content.decode()
    page = finance_client.get(f"/admin/paying_in_batch/from-credit/{line.pk}/").content.decode()
    assert "£120.00" in page
    finance_client.post(f"/admin/paying_in_batch/from-credit/{line.pk}/", {
        "method": "platform", "expected_count": "4", "reference": "JG 4411"})
    batch = PayingInBatch.objects.get()
    assert (batch.method, batch.expected_count, batch.expected_total_pence, batch.bank_line_id) == (
        "platform", 4, 12_000, line.pk)


# --- who may -----------------------------------------------------------------------------

def _urls():
    batch = open_batch(count=1, total=1_000)
    gift = add(batch, 1_000)
    line = credit(700)
    base = f"/admin/paying_in_batch/{batch.pk}"
    return [
        ("get", "/admin/paying_in_batch/", None),
        ("get", "/admin/paying_in_batch/new/", None),
        ("post", "/admin/paying_in_batch/new/", {"banking_date": BANKED.isoformat(), "method": "cash",
                                                 "expected_count": "1", "expected_total": "5"}),
        ("get", f"/admin/paying_in_batch/from-credit/{line.pk}/", None),
        ("get", f"{base}/", None),
        ("post", f"{base}/", {"supporter": gift.donation.supporter.reference, "amount": "1"}),
        ("get", f"{base}/details/", None),
        ("get", f"{base}/gifts/{gift.pk}/remove/", None),
        ("post", f"{base}/close/", None),
        ("post", f"{base}/reopen/", None),
        ("get", "/admin/paying_in_batch/supporters/?q=jane", None),
    ]


@pytest.mark.parametrize("who", ["anonymous", "fundraising", "finance", "superuser"])
def test_batches_are_finance_s_alone(who, client, fundraiser, finance_user, admin_user):
    urls = _urls()
    user = {"anonymous": None, "fundraising": fundraiser, "finance": finance_user, "superuser": admin_user}[who]
    if user:
        log_in_verified(client, user)
    for method, url, data in urls:
        response = getattr(client, method)(url, data or {})
        if who == "anonymous":
            assert response.status_code == 302 and "/admin/login/" in response.url, url
        elif who == "fundraising":  # the admin answers a refusal with 403, or back home with its message
            assert response.status_code == 403 or (response.status_code, response.url) == (302, "/admin/"), url
        else:
            assert response.status_code in (200, 302), (url, response.status_code)
    menu = client.get("/admin/").content.decode() if user else ""
    assert ("Paying-in batches" in menu) == (who in ("finance", "superuser"))
    if who == "fundraising":
        assert PayingInBatch.objects.count() == 1 and Donation.objects.count() == 1


# --- two people at once --------------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_gifts_keyed_into_one_batch_at_once_take_two_places():
    from django.db import connection

    from tests.helpers import run_at_once

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    batch = open_batch(count=4, total=4_000)
    donors = [SupporterFactory() for _ in range(4)]
    results = run_at_once(*[lambda donor=donor: add(batch, 1_000, supporter=donor) for donor in donors])
    assert all(isinstance(result, PayingInBatchGift) for result in results)
    assert sorted(batch.gifts.values_list("position", flat=True)) == [1, 2, 3, 4]
    assert services.batch_close(batch=batch).status == PayingInBatch.Status.CLOSED
    numbers = run_at_once(lambda: open_batch().number, workers=3)
    assert sorted(numbers) == [2, 3, 4]


def test_a_platforms_gifts_are_never_in_a_gift_aid_claim_of_ours(finance_user):
    """JustGiving claims Gift Aid on the gifts it takes: a donor's all-gifts
    declaration with us must not bring those gifts into our claim too."""
    from donations.services import gift_aid_rules

    donor = SupporterFactory(first_name="Ada", last_name="Byron")
    declare(donor, datetime.date(2020, 1, 1))
    batch = services.batch_open(banking_date=timezone.localdate(), method="platform", expected_count=1,
                               expected_total_pence=2000, reference="JustGiving payout JG1", by=finance_user)
    gift = services.batch_gift_add(batch=batch, supporter=donor, amount_pence=2000, by=finance_user).donation
    assert gift.gift_aid_claimed_by == "JustGiving payout JG1"
    assert gift_aid_rules.gift_aid_verdict_for(gift).status == gift_aid_rules.NOT_ELIGIBLE


def test_a_batch_from_a_justgiving_credit_starts_as_a_platform_payout(finance_client):
    from django.urls import reverse

    account = BankAccount.objects.create(name="Current account", code="090")
    statement = BankStatement.objects.create(account=account, filename="s.csv", layout="Lloyds Bank",
                                             first_date=timezone.localdate(), last_date=timezone.localdate(),
                                             lines_added=1, lines_already_held=0)
    line = BankLine.objects.create(account=account, statement=statement, identity="jg", date=timezone.localdate(),
                                   description="JUSTGIVING PAYOUT REF JG77812", paid_in_pence=48_650, file_line=2)
    page = finance_client.get(reverse("paying_in_batch:from_credit", args=[line.pk])).content.decode()
    assert '<option value="platform" selected>' in page
    assert '<option value="bank_transfer" selected>' not in page
