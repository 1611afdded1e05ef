"""Gifts from files: cheques, cash and transfers kept elsewhere, the CRM a
charity is leaving, and the giving platforms' reports (JustGiving's donations
report ready-made; Enthuse, Facebook, PayPal Giving Fund and others mapped
once and remembered). Registered with supporters' import flow at start-up.

Each gift keeps the source and its reference there (unique together in the
database), so importing the same file twice, or an overlapping month, finds
the gifts already held and adds nothing."""

import datetime
import re

from django.db.models import F
from django.utils import timezone

from campaigns.models import Appeal, Campaign
from config.db import AnyOf
from config.formats import long_date
from config.money import format_pence
from donations.models import Donation, PaymentMethod
from donations.services import books
from donations.services import gifts as gift_services
from supporters.imports import people
from supporters.imports.engine import ImportResource, kind_register
from supporters.imports.fields import ImportField, Pounds, Text, UKDate, YesNo, heading_key
from supporters.imports.kinds import person_fields
from supporters.models import Channel, Supporter

_METHODS = {
    **{heading_key(label): value for value, label in PaymentMethod.choices},
    **{heading_key(value): value for value in PaymentMethod.values},
    "check": PaymentMethod.CHEQUE, "cheques": PaymentMethod.CHEQUE, "bacs": PaymentMethod.BANK_TRANSFER,
    "transfer": PaymentMethod.BANK_TRANSFER, "banktransfer": PaymentMethod.BANK_TRANSFER,
    "fasterpayment": PaymentMethod.BANK_TRANSFER, "so": PaymentMethod.STANDING_ORDER,
    "standingorder": PaymentMethod.STANDING_ORDER, "creditcard": PaymentMethod.CARD,
    "debitcard": PaymentMethod.CARD, "cafvoucher": PaymentMethod.CAF, "cafcheque": PaymentMethod.CAF,
    "justgiving": PaymentMethod.PLATFORM, "enthuse": PaymentMethod.PLATFORM, "facebook": PaymentMethod.PLATFORM,
    "paypal": PaymentMethod.PLATFORM, "paypalgivingfund": PaymentMethod.PLATFORM, "online": PaymentMethod.CARD,
}
_REFERENCE = re.compile(r"S?0*(\d+)", re.IGNORECASE)


class Method(Text):
    def clean(self, value, row=None, **kwargs):
        text = super().clean(value)
        if not text:
            return ""
        try:
            return _METHODS[heading_key(text)]
        except KeyError:
            raise ValueError(f"“{text}” is not a way of paying we know: use cash, cheque, bank transfer, standing "
                             "order, card, CAF, voucher or platform.") from None


class GiftsResource(ImportResource):
    """A gift per row: its reference in the source, date, amount, how it was
    paid, campaign or appeal, and who gave it (our supporter reference, or the
    person's details, found or added as people.py does)."""

    kind = "gifts"
    label = "Gifts"
    locals().update(person_fields(external_id_help="The donor's id in the system the file comes from."))
    external_ref = ImportField("external_ref", "The gift's reference", required=True, widget=Text(100),
                               help="Unique in the system the file comes from: importing it again finds the gift.",
                               aliases=("reference", "gift id", "donation id", "donation ref", "donation reference",
                                        "transaction id", "receipt number", "gift reference"))
    supporter_reference = ImportField("supporter_reference", "Our supporter reference", widget=Text(20),
                                      help="S0000042: the gift is theirs, whatever the other columns say.",
                                      aliases=("supporter ref", "our reference", "brightwell reference"))
    given_on = ImportField("given_on", "Date given", required=True, widget=UKDate(),
                           help="DD/MM/YYYY (3 April is 03/04/2026), or 2026-04-03.",
                           aliases=("date", "donation date", "gift date", "date received", "received on",
                                    "payment date", "date paid"))
    amount = ImportField("amount", "Amount (£)", required=True, widget=Pounds(),
                         help="In pounds: £1,250.00, 1250 or 12.50.",
                         aliases=("amount", "gift amount", "donation amount", "donation auth amount", "value",
                                  "amount gbp", "gross amount"))
    method = ImportField("method", "How it was paid", widget=Method(40),
                         aliases=("payment method", "payment type", "method", "type"))
    campaign = ImportField("campaign", "Campaign", widget=Text(200),
                           help="The campaign's name or code, as in Campaigns.", aliases=("campaign name",
                                                                                         "campaign code", "fund"))
    appeal = ImportField("appeal", "Appeal", widget=Text(200), help="The appeal's code or name, as in Appeals.",
                         aliases=("appeal code", "appeal name", "source code", "appeal"))
    gift_aid = ImportField("gift_aid", "Gift Aid declared (yes/no)", widget=YesNo(),
                           help="Yes if the donor has a Gift Aid declaration covering the gift; we claim it.",
                           aliases=("gift aid", "gift aid declared", "giftaid", "gift aid eligible"))
    gift_aid_claimed_by = ImportField("gift_aid_claimed_by", "Gift Aid already claimed by", widget=Text(60),
                                      help="The platform or system that claimed its Gift Aid: we never claim it.",
                                      aliases=("gift aid claimed by", "claimed by"))
    message = ImportField("message", "Message or note", widget=Text(2000),
                          aliases=("donation message", "message", "comment", "notes", "note", "donor message"))

    formats = {"Standard gifts file": {"source": "gifts", "mapping": {}}}
    platform = ""  # a platform's report: its gifts' Gift Aid is the platform's to claim

    def __init__(self, run=None):
        super().__init__(run)
        self._closed_months: dict = {}
        self._noons: dict = {}
        self._today: datetime.date | None = None
        self._appeals: dict | None = None
        self._campaigns: dict | None = None

    # -- per row ---------------------------------------------------------------

    def check_row(self, row):
        values = row.values
        people.check_person(row, required=False)
        given_on = values.get("given_on")
        if given_on is None:
            pass  # its own cell's problem is reported
        elif self._after_today(given_on):
            row.errors["given_on"] = f"{long_date(given_on)} is in the future."
        elif self._month_closed(given_on):
            row.errors["given_on"] = (f"{given_on:%B %Y} is closed in the books: ask Finance to reopen it, or leave "
                                      "this row out.")
        if values.get("campaign") and not self._campaign(values["campaign"]):
            row.errors["campaign"] = f"No campaign is called or coded “{values['campaign']}”: add it, or correct it."
        if values.get("appeal") and not self._appeal(values["appeal"]):
            row.errors["appeal"] = (f"No appeal is coded or called “{values['appeal']}”: add it in Campaigns → "
                                    "Appeals, or correct it.")
        if values.get("supporter_reference") and not _REFERENCE.fullmatch(values["supporter_reference"]):
            row.errors["supporter_reference"] = "Our references look like S0000042."
        if values.get("gift_aid") and not self.platform:
            if (values.get("country") or "GB") != "GB":
                row.errors["gift_aid"] = "Gift Aid is not claimed for a donor living outside the UK."
            named = values.get("first_name") and values.get("last_name")
            if not (values.get("supporter_reference") or (named and values.get("address_line_1"))):
                row.errors["gift_aid"] = "Gift Aid needs the donor's name and home address (or our reference)."

    def _after_today(self, day: datetime.date) -> bool:
        """Whether `day` is still to come. Today is asked again only for a day after the
        one last known (asking costs more than the rest of a row's checks)."""
        if self._today is None or day > self._today:
            self._today = timezone.localdate()
        return day > self._today

    def _month_closed(self, day: datetime.date) -> bool:
        month = day.replace(day=1)
        if month not in self._closed_months:
            self._closed_months[month] = books.month_is_closed(day)
        return self._closed_months[month]

    def _appeal(self, text: str):
        if self._appeals is None:
            self._appeals = {}
            for appeal in Appeal.objects.select_related("campaign"):
                self._appeals.setdefault(appeal.name.casefold(), appeal)
                self._appeals[appeal.code.casefold()] = appeal
        return self._appeals.get(text.casefold())

    def _campaign(self, text: str):
        if self._campaigns is None:
            self._campaigns = {}
            for campaign in Campaign.objects.all():
                self._campaigns.setdefault(campaign.name.casefold(), campaign)
                self._campaigns[campaign.code.casefold()] = campaign
        return self._campaigns.get(text.casefold())

    # -- a chunk ---------------------------------------------------------------

    def save_rows(self, rows):
        run = self.run
        held = dict(Donation.objects.filter(AnyOf(F("import_ref"), {row.values["external_ref"] for row in rows}),
                                            import_source=run.source)
                    .values_list("import_ref", "pk"))
        fresh, seen = [], {}
        for row in rows:
            ref = row.values["external_ref"]
            if ref in held:
                run.done(row, "already imported", f"{ref}: gift D{held[ref]:07d}", counted_as="gifts already imported")
            elif ref in seen:
                run.done(row, "already imported", f"{ref}: the same as row {seen[ref]}",
                         counted_as="gifts already imported")
            else:
                seen[ref] = row.number
                fresh.append(row)
        if not fresh:
            return
        donors = self._donors(fresh)
        fresh = [row for row in fresh if row.ok]  # a supporter reference no one has
        gifts = [self._gift(row, donors.get(row.number)) for row in fresh]
        gift_services.donations_import_values(gifts=gifts, details=[row.values.get("message") or "" for row in fresh])
        for row, gift in zip(fresh, gifts, strict=True):
            who = str(donors[row.number][1]) if donors.get(row.number) else "anonymous"
            run.done(row, "gift created", f"{format_pence(gift['amount_pence'])} on {row.values['given_on']:%d/%m/%Y} "
                                          f"from {who}", counted_as="gifts created")

    def _donors(self, rows) -> dict[int, tuple[int, str]]:
        """Row number -> (supporter id, name) for each row with a donor."""
        by_reference = {}
        references = {int(_REFERENCE.fullmatch(r.values["supporter_reference"]).group(1)): r for r in rows
                      if r.values.get("supporter_reference")}
        if references:
            found = dict(Supporter.objects.filter(pk__in=references, erased_at__isnull=True)
                         .values_list("pk", "last_name"))
            for pk, row in references.items():
                if pk in found:
                    by_reference[row.number] = (pk, f"S{pk:07d}")
        persons = [people.person_of(row, consents=self.consents_of(row)) for row in rows
                   if row.number not in by_reference]
        people.people_find_or_add(self.run, persons)
        donors = dict(by_reference)
        for person in persons:
            if person.supporter_id:
                donors[person.row.number] = (person.supporter_id,
                                             f"{person.first_name} {person.last_name}".strip() or person.email)
        missing = [row for row in rows if row.values.get("supporter_reference") and row.number not in donors]
        for row in missing:
            row.errors["supporter_reference"] = "No supporter has this reference."
            self.run.problem(row.number, "supporter_reference", row.values["supporter_reference"],
                             row.errors["supporter_reference"])
        return donors

    def consents_of(self, row) -> dict:
        return {}

    def gift_aid_of(self, row, donor) -> tuple[bool, str]:
        """(declared, claimed by): whether the gift carries Gift Aid, and who
        claims it (blank: us, through our claims)."""
        return bool(row.values.get("gift_aid")), row.values.get("gift_aid_claimed_by") or ""

    def _gift(self, row, donor) -> dict:
        """The gift's fields (gift_services.donations_import_values)."""
        values = row.values
        appeal = self._appeal(values["appeal"]) if values.get("appeal") else None
        campaign = self._campaign(values["campaign"]) if values.get("campaign") else getattr(appeal, "campaign", None)
        declared, claimed_by = self.gift_aid_of(row, donor)
        when = self._noon(values["given_on"])
        return {
            "supporter_id": donor[0] if donor else None, "amount_pence": values["amount"],
            "status": Donation.Status.SUCCEEDED, "channel": Donation.Channel.IMPORT,
            "payment_method": values.get("method") or self.default_method, "campaign": campaign, "appeal": appeal,
            "gift_aid_declared": declared, "gift_aid_claimed_by": claimed_by[:60],
            "description": "" if donor else f"Anonymous gift{' through ' + self.platform if self.platform else ''}",
            "import_source": self.run.source, "import_ref": values["external_ref"],
            "data_import_id": self.run.data_import.pk, "created_at": when, "paid_at": when}

    def _noon(self, day: datetime.date) -> datetime.datetime:
        """Noon, UK time, on the day given: when an imported gift is taken to have been paid."""
        if day not in self._noons:  # a year's file has 365 days: each made aware once
            self._noons[day] = timezone.make_aware(datetime.datetime.combine(day, datetime.time(12, 0)))
        return self._noons[day]

    default_method = PaymentMethod.OTHER

    def finish(self):
        gift_services.imported_gifts_count(data_import=self.run.data_import)


class JustGivingResource(GiftsResource):
    """JustGiving's donations report (DonationsReport-….csv), its columns as
    JustGiving writes them. JustGiving claims Gift Aid itself on gifts made
    through it: each gift is marked as claimed by JustGiving and never enters
    our claims. A donor who ticked 'further contact' agreed to hear from the
    charity by email and post; one who did not is recorded without consent."""

    kind = "justgiving"
    label = "JustGiving donations report"
    platform = "JustGiving"
    default_method = PaymentMethod.PLATFORM
    gift_aid_status = ImportField("gift_aid_status", "Gift Aid status", widget=Text(60),
                                  aliases=("gift aid status", "gift aid eligible", "giftaid status"))
    gift_aid_amount = ImportField("gift_aid_amount", "Gift Aid amount", widget=Pounds(positive=False),
                                  aliases=("gift aid amount", "estimated gift aid", "gift aid value"))
    further_contact = ImportField("further_contact", "Further contact (yes/no)", widget=YesNo(),
                                  aliases=("donor further contact", "further contact", "charity contact"))
    currency = ImportField("currency", "Currency", widget=Text(3), aliases=("currency code", "donation currency",
                                                                          "currency"))
    formats = {"JustGiving donations report": {"source": "justgiving", "mapping": {
        "external_ref": "Donation Ref", "given_on": "Donation Date", "amount": "Donation Auth Amount",
        "external_id": "Donor User Id", "title": "Donor Title", "first_name": "Donor FirstName",
        "last_name": "Donor LastName", "email": "Donor E-mail", "address_line_1": "Donor Address Line 1",
        "address_line_2": "Donor Address Line 2", "town": "Donor Town", "county": "Donor County",
        "postcode": "Donor Postcode", "country": "Donor Country", "further_contact": "Donor Further Contact",
        "appeal": "Appeal Name", "gift_aid_status": "Gift Aid Status", "gift_aid_amount": "Gift Aid Amount",
        "message": "Donation Message", "currency": "Currency Code"}}}
    consent_wording = ("JustGiving asked the donor whether the charity may keep them updated about its work; "
                       "they said yes (“Donor Further Contact” in JustGiving's donations report).")

    def check_row(self, row):
        if row.values.get("currency") and row.values["currency"].upper() != "GBP":
            row.errors["currency"] = "Only gifts in pounds (GBP) are imported."
        if row.values.get("appeal") and not self._appeal(row.values["appeal"]) \
                and self._campaign(row.values["appeal"]):
            row.values["campaign"], row.values["appeal"] = row.values["appeal"], ""  # JustGiving's appeal is our campaign
        super().check_row(row)

    def consents_of(self, row) -> dict:
        if row.values.get("further_contact"):
            return {Channel.EMAIL: True, Channel.POST: True}
        return {}

    def gift_aid_of(self, row, donor) -> tuple[bool, str]:
        values = row.values
        status = heading_key(values.get("gift_aid_status") or "")
        eligible = (status in {"eligible", "claimed", "yes", "pending", "giftaidclaimed", "true"}
                    or (values.get("gift_aid_amount") or 0) > 0) and not status.startswith("not")
        if eligible and (values.get("country") or "GB") != "GB":
            self.run.note(row.number, "country", values.get("country") or "",
                          "An address outside the UK: recorded without Gift Aid.")
            eligible = False
        if eligible and not (values.get("first_name") and values.get("last_name") and values.get("address_line_1")
                             and (values.get("postcode") or (values.get("country") or "GB") != "GB")):
            self.run.note(row.number, "gift_aid_status", values.get("gift_aid_status") or "",
                          "JustGiving marks the gift eligible for Gift Aid, but the row lacks the donor's name or "
                          "address: recorded without Gift Aid.")
            eligible = False
        return eligible, self.platform


def register() -> None:
    """Called from DonationsConfig.ready()."""
    kind_register(GiftsResource)
    kind_register(JustGivingResource)
