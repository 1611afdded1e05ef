"""Annual giving statements: what a supporter's statement for a UK tax year
lists and adds up to, the page staff and the supporter see, the email and the
command that sends them, once each."""

import datetime
import html
import io
import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign

from donations.models import Donation, GiftKind
from donations import tax_years
from donations.services import gift_aid_claims, statements
from supporters import services as supporter_services
from supporters.models import EmailMessage, GiftAidDeclaration
from tests.helpers import run_at_once, log_in_verified
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2026, 11, 25)
YEAR = tax_years.TaxYear(2025)  # 6 April 2025 to 5 April 2026


def when(day: datetime.date, hour: int = 12, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def gift(supporter, pence: int, on: datetime.date, **extra) -> Donation:
    moment = extra.pop("at", None) or when(on)
    extra.setdefault("status", Donation.Status.SUCCEEDED)
    extra.setdefault("paid_at", moment)
    return Donation.objects.create(supporter=supporter, amount_pence=pence, channel=Donation.Channel.OFFLINE,
                                   created_at=moment, **extra)


def declare(supporter, on: datetime.date, scope="all_gifts"):
    return supporter_services.gift_aid_declaration_record(
        supporter=supporter, method="online", wording=supporter_services.gift_aid_wording(),
        wording_version=supporter_services.GIFT_AID_WORDING_VERSION, declared_on=on, scope=scope)


def statement_for(supporter, year=YEAR):
    return statements.annual_statement(supporter=supporter, tax_year=year, today=TODAY)


def text_of(page: str) -> str:
    """What a reader sees of a page: its text, without markup or styles."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


# --- the tax year -------------------------------------------------------------------

def test_a_tax_year_runs_from_6_april_to_5_april():
    assert (YEAR.first_day, YEAR.last_day, YEAR.label) == (D(2025, 4, 6), D(2026, 4, 5), "2025–26")
    assert YEAR.period == "6 April 2025 to 5 April 2026"
    assert tax_years.TaxYear.containing(D(2026, 4, 5)) == YEAR
    assert tax_years.TaxYear.containing(D(2026, 4, 6)) == tax_years.TaxYear(2026)
    assert tax_years.TaxYear(2099).label == "2099–00"


# --- what the statement lists ---------------------------------------------------------

def test_the_statement_lists_the_gifts_kept_in_the_tax_year_and_adds_them_up():
    donor = SupporterFactory()
    winter = Campaign.objects.create(name="Home for Christmas", code="christmas-2025")
    # 5 April late at night (British Summer Time) is still the year before; 6 April just after midnight is in.
    before = gift(donor, 1111, D(2025, 4, 5), at=when(D(2025, 4, 5), 23, 30))
    first = gift(donor, 2500, D(2025, 4, 6), at=when(D(2025, 4, 6), 0, 15))
    refunded_in_part = gift(donor, 10000, D(2025, 12, 1), campaign=winter, refunded_pence=4000,
                            status=Donation.Status.PARTLY_REFUNDED)
    last = gift(donor, 1000, D(2026, 4, 5), at=when(D(2026, 4, 5), 23, 45))
    after = gift(donor, 2222, D(2026, 4, 6), at=when(D(2026, 4, 6), 0, 5))
    left_out = [
        gift(donor, 3000, D(2025, 6, 1), refunded_pence=3000, status=Donation.Status.REFUNDED),
        gift(donor, 3000, D(2025, 6, 2), status=Donation.Status.FAILED),
        gift(donor, 3000, D(2025, 6, 3), status=Donation.Status.PENDING, paid_at=None),
        gift(donor, 3000, D(2025, 6, 4), status=Donation.Status.DISPUTED, dispute_status="needs_response"),
        gift(donor, 3000, D(2025, 6, 5), status=Donation.Status.PARTLY_REFUNDED, refunded_pence=1000,
             dispute_status="lost"),
        gift(donor, 3000, D(2025, 6, 6), gift_kind=GiftKind.COMPANY),
        gift(donor, 3000, D(2025, 6, 7), gift_kind=GiftKind.TICKET),
        gift(SupporterFactory(), 3000, D(2025, 6, 8)),  # someone else's
    ]

    statement = statement_for(donor)

    assert [line.reference for line in statement.lines] == [first.reference, refunded_in_part.reference,
                                                            last.reference]
    assert before.reference not in [line.reference for line in statement.lines]
    assert after.reference not in [line.reference for line in statement.lines]
    assert not {d.reference for d in left_out} & {line.reference for line in statement.lines}
    assert [line.amount_pence for line in statement.lines] == [2500, 6000, 1000]
    assert [line.given_on for line in statement.lines] == [D(2025, 4, 6), D(2025, 12, 1), D(2026, 4, 5)]
    partly = statement.lines[1]
    assert (partly.purpose, partly.note) == ("Home for Christmas", "£100.00 given, £40.00 refunded")
    assert statement.lines[0].purpose == "Where it's needed most"
    assert statement.total_pence == 9500 == sum(line.amount_pence for line in statement.lines)
    assert statement.total_display == "£95.00"
    assert statement_for(donor, tax_years.TaxYear(2024)).total_pence == 1111
    assert statement_for(donor, tax_years.TaxYear(2026)).total_pence == 2222


def test_gift_aid_is_claimed_once_sent_to_hmrc_and_expected_until_then():
    donor = SupporterFactory()
    declare(donor, D(2025, 1, 1))
    sent = gift(donor, 2000, D(2025, 5, 1))
    in_draft = gift(donor, 3000, D(2025, 6, 10))
    not_yet = gift(donor, 4001, D(2025, 12, 24))
    by_platform = gift(donor, 1000, D(2026, 2, 1), gift_aid_claimed_by="JustGiving")
    first = gift_aid_claims.gift_aid_claim_build(period_start=D(2025, 4, 6), period_end=D(2025, 5, 31),
                                          include_earlier=False, today=TODAY)
    gift_aid_claims.gift_aid_claim_submit(claim=first)
    # Refunded in part after the claim went to HMRC: the tax on the refund goes back in a later claim.
    Donation.objects.filter(pk=sent.pk).update(refunded_pence=800, status=Donation.Status.PARTLY_REFUNDED)
    gift_aid_claims.gift_aid_claim_build(period_start=D(2025, 6, 1), period_end=D(2025, 6, 30), include_earlier=False,
                                  today=TODAY)  # left as a draft: not yet sent

    statement = statement_for(donor)

    by_reference = {line.reference: line for line in statement.lines}
    assert (by_reference[sent.reference].gift_aid_status, by_reference[sent.reference].gift_aid_pence) == (
        "claimed", 300)  # 25% of the £12 kept, not of the £20 claimed on
    assert (by_reference[in_draft.reference].gift_aid_status, by_reference[in_draft.reference].gift_aid_pence) == (
        "expected", 750)
    assert (by_reference[not_yet.reference].gift_aid_status, by_reference[not_yet.reference].gift_aid_pence) == (
        "expected", 1000)  # 25% of £40.01, rounded down
    platform = by_reference[by_platform.reference]
    assert (platform.gift_aid_status, platform.gift_aid_pence) == ("none", 0)
    assert platform.gift_aid_reason == "Gift Aid already claimed by JustGiving"
    assert (statement.claimed_pence, statement.expected_pence) == (300, 1750)
    assert statement.gift_aid_total_pence == 2050 == sum(line.gift_aid_pence for line in statement.lines)
    assert statement.total_pence == 1200 + 3000 + 4001 + 1000


def test_gifts_without_a_declaration_or_with_one_missing_details_carry_no_gift_aid():
    donor = SupporterFactory()
    undeclared = gift(donor, 5000, D(2025, 7, 1))
    assert statement_for(donor).lines[0].gift_aid_status == "none"

    GiftAidDeclaration.objects.create(supporter=donor, first_name="Ann", last_name="Lee", address_house="",
                                      postcode="N16 8AA", declared_on=D(2025, 8, 1), method="imported",
                                      wording="(imported)", wording_version="legacy")
    line = statement_for(donor).lines[0]
    assert line.reference == undeclared.reference
    assert (line.gift_aid_status, line.gift_aid_pence) == ("needs_data", 0)
    assert line.gift_aid_reason == "The declaration has no house name or number"
    assert statement_for(donor).gift_aid_total_pence == 0


# --- the staff page ---------------------------------------------------------------------

@pytest.fixture
def donor():
    supporter = SupporterFactory(title="Mrs", first_name="Amara", last_name="Okafor", address_house="7",
                                 address_street="Orchard Lane", address_town="Leeds", postcode="LS6 2AB",
                                 email="amara@example.org")
    declare(supporter, D(2025, 1, 1))
    gift(supporter, 2500, D(2025, 5, 1))
    gift(supporter, 10000, D(2025, 11, 20), refunded_pence=2500, status=Donation.Status.PARTLY_REFUNDED)
    gift(supporter, 999, D(2024, 12, 1))  # the tax year before
    return supporter


@pytest.mark.parametrize("who", ["fundraiser_client", "finance_client"])
def test_staff_open_the_statement_from_the_supporters_record_and_choose_the_year(request, who, donor):
    client = request.getfixturevalue(who)
    record = client.get(f"/admin/supporter/inspect/{donor.pk}/").content.decode()
    assert f'href="/admin/donation/statement/{donor.pk}/"' in record and "Giving statement" in record

    response = client.get(f"/admin/donation/statement/{donor.pk}/", {"tax_year": "2025"})
    assert response.status_code == 200
    page = text_of(response.content.decode())
    assert "Your giving in the 2025–26 tax year" in page and "6 April 2025 to 5 April 2026" in page
    assert "Mrs Amara Okafor 7 Orchard Lane Leeds LS6 2AB" in page
    assert "Brightwell Children's Trust" in page and "Registered charity number" in page
    assert "Total £100.00 £25.00" in page  # £25 + £75 kept; Gift Aid £6.25 + £18.75
    assert "£9.99" not in page
    assert "2024–25" in page, "the toolbar offers the other years given in"

    earlier = text_of(client.get(f"/admin/donation/statement/{donor.pk}/", {"tax_year": "2024"}).content.decode())
    assert "Your giving in the 2024–25 tax year" in earlier and "Total £9.99 £2.49" in earlier


def test_staff_who_cannot_see_supporters_cannot_see_a_statement(client, django_user_model, donor):
    role = Group.objects.create(name="Gifts only")
    role.permissions.add(Permission.objects.get(codename="access_admin"),
                         Permission.objects.get(codename="view_donation"))
    user = django_user_model.objects.create_user(username="gifts", password="pass-word-123")
    user.groups.add(role)
    log_in_verified(client, user)
    response = client.get(f"/admin/donation/statement/{donor.pk}/", {"tax_year": "2025"})
    assert (response.status_code, response.url) == (302, "/admin/")

    client.logout()
    response = client.get(f"/admin/donation/statement/{donor.pk}/", {"tax_year": "2025"})
    assert response.status_code == 302 and "/admin/login/" in response.url


# --- the supporter's link ---------------------------------------------------------------

def test_the_signed_link_shows_the_supporter_their_statement_without_a_login(client, donor):
    url = statements.statement_url(supporter=donor, tax_year=YEAR)
    response = client.get(url)
    assert response.status_code == 200
    assert response["X-Robots-Tag"].startswith("noindex")
    page = text_of(response.content.decode())
    assert "Your giving in the 2025–26 tax year" in page and "Total £100.00 £25.00" in page
    assert "Back to" not in page, "no staff toolbar"

    token = url.rstrip("/").rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/giving/statement/{tampered}/").status_code == 404
    other_year = statements.statement_url(supporter=donor, tax_year=tax_years.TaxYear(2024))
    assert "Total £9.99" in text_of(client.get(other_year).content.decode())

    supporter_services.supporter_erase(supporter=donor, reason="Asked to be forgotten")
    assert client.get(url).status_code == 404, "nothing shown once their details are erased"


# --- the email --------------------------------------------------------------------------

def test_the_statement_email_lists_the_gifts_and_links_to_the_page(client, donor, mailoutbox):
    message = statements.annual_statement_send(supporter=donor, tax_year=2025)
    assert message.status == EmailMessage.Status.SENT
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["amara@example.org"]
    assert email.subject == "Your giving in the 2025–26 tax year"
    assert "£100.00 in all. Gift Aid added £25.00 more, at no cost to you." in email.body
    html = email.alternatives[0][0]
    assert "£100.00" in html and "£75.00" in html and "See your statement" in html
    link = re.search(r"See your statement: (\S+)", email.body).group(1)
    page = client.get(link.removeprefix("http://testserver"))
    assert page.status_code == 200 and "Total £100.00 £25.00" in text_of(page.content.decode())
    assert donor.interactions.filter(summary__contains="Your giving in the 2025–26 tax year").exists()


def test_a_donor_without_gift_aid_is_told_how_a_declaration_would_help(mailoutbox):
    plain = SupporterFactory(email="ben@example.org")
    gift(plain, 3500, D(2025, 6, 1))
    statements.annual_statement_send(supporter=plain, tax_year=2025)
    body = mailoutbox[0].body
    assert "£35.00 in all. If you pay UK income tax, a Gift Aid declaration would let us claim 25p" in body
    assert "£0.00" not in body


def test_sending_the_statement_twice_sends_one_email(donor, mailoutbox):
    first = statements.annual_statement_send(supporter=donor, tax_year=2025)
    again = statements.annual_statement_send(supporter=donor, tax_year=tax_years.TaxYear(2025))
    assert again.pk == first.pk
    assert len(mailoutbox) == 1
    assert EmailMessage.objects.filter(category="annual_statement").count() == 1
    statements.annual_statement_send(supporter=donor, tax_year=2024)
    assert len(mailoutbox) == 2, "another tax year is another statement"


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server down")


def test_a_statement_that_failed_to_send_is_sent_on_the_next_try(donor, mailoutbox, settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    with pytest.raises(ConnectionRefusedError):
        statements.annual_statement_send(supporter=donor, tax_year=2025)
    assert EmailMessage.objects.get(category="annual_statement").status == EmailMessage.Status.FAILED

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = statements.annual_statement_send(supporter=donor, tax_year=2025)
    statements.annual_statement_send(supporter=donor, tax_year=2025)
    assert message.status == EmailMessage.Status.SENT and len(mail.outbox) == 1
    assert EmailMessage.objects.filter(category="annual_statement").count() == 1


def test_no_statement_is_sent_for_a_year_without_gifts(donor, mailoutbox):
    assert statements.annual_statement_send(supporter=donor, tax_year=2023) is None
    assert mailoutbox == [] and not EmailMessage.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keep the roles and pages that migrations made
def test_two_workers_sending_the_same_statement_at_once_send_one_email(mailoutbox):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    donor = SupporterFactory()
    gift(donor, 2500, D(2025, 9, 1))
    results = run_at_once(lambda: statements.annual_statement_send(supporter=donor, tax_year=2025), workers=4)
    assert len(mail.outbox) == 1
    assert len({message.pk for message in results}) == 1


# --- the command ------------------------------------------------------------------------

def test_the_command_sends_each_giver_their_statement_once(donor, mailoutbox):
    other = SupporterFactory(email="bo@example.org")
    gift(other, 500, D(2026, 1, 1))
    no_email = SupporterFactory(email="")
    gift(no_email, 500, D(2026, 1, 1))
    erased = SupporterFactory()
    gift(erased, 500, D(2026, 1, 1))
    supporter_services.supporter_erase(supporter=erased, reason="Asked to be forgotten")
    refunded = SupporterFactory()
    gift(refunded, 500, D(2026, 1, 1), refunded_pence=500, status=Donation.Status.REFUNDED)
    gift(SupporterFactory(), 500, D(2026, 4, 6))  # the next tax year

    out = io.StringIO()
    call_command("send_annual_statements", "--tax-year", "2025", stdout=out)
    assert out.getvalue().strip() == "Tax year 2025–26: queued 2 statements; 0 already sent."
    assert sorted(m.to[0] for m in mailoutbox) == ["amara@example.org", "bo@example.org"]
    assert all(m.subject == "Your giving in the 2025–26 tax year" for m in mailoutbox)

    out = io.StringIO()
    call_command("send_annual_statements", "--tax-year", "2025", stdout=out)
    assert out.getvalue().strip() == "Tax year 2025–26: queued 0 statements; 2 already sent."
    assert len(mailoutbox) == 2


def test_the_command_will_not_send_before_the_tax_year_is_over():
    current = tax_years.TaxYear.containing(timezone.localdate())
    with pytest.raises(CommandError, match="is not over"):
        call_command("send_annual_statements", "--tax-year", str(current.start_year))
