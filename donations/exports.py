"""The donations app's downloads (exporters: see config.exports). The gifts
list is Wagtail's listing download (donations.wagtail_hooks); the files HMRC
takes are written by donations.hmrc, and downloaded through exporters here."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.functional import cached_property

from config.exports import Column, Exporter
from donations import hmrc, selectors
from donations.models import GiftAidClaim


class ClaimGiftsExport(Exporter):
    """Every gift in a Gift Aid claim, with its row and declaration: the audit
    trail HMRC may ask for. A claim may hold a million gifts: the rows are read
    as plain values, and the file is written whole (to disk once large) before
    it is sent."""

    name = "gift_aid_claim_gifts"
    label = "Gifts in a Gift Aid claim"
    permission = "donations.view_giftaidclaim"
    formats = ("csv",)
    chunk_size = 5000
    columns = [
        Column("Gift", lambda gift: f"D{gift[0]:07d}"),
        Column("Supporter", lambda gift: f"S{gift[1]:07d}"),
        Column("Date received", lambda gift: timezone.localtime(gift[2]).date()),
        Column("Amount claimed", lambda gift: gift[3], money=True),
        Column("Gift Aid", lambda gift: gift[4], money=True),
        Column("Schedule", lambda gift: (gift[5] - 1) // hmrc.MAX_ROWS_PER_SCHEDULE + 1),
        Column("Row", lambda gift: gift[5]),
        Column("Declaration", lambda gift: f"GAD{gift[6]:06d}"),
        Column("Still in claim", lambda gift: "yes" if gift[7] else "no (claim rejected)"),
    ]

    def __init__(self, *, claim_id: int):
        self.claim_id = claim_id

    @cached_property
    def claim(self) -> GiftAidClaim:  # read once the role is checked: a 403 comes before a 404
        return get_object_or_404(GiftAidClaim, pk=self.claim_id)

    def items(self):
        return (self.claim.gifts.order_by("row__number", "donation_id")
                .values_list("donation_id", "donation__supporter_id", "donation__paid_at", "amount_pence",
                             "tax_pence", "row__number", "declaration_id", "active"))

    def filename(self) -> str:
        return f"gift-aid-{self.claim.reference}-gifts"

    def describe(self) -> str:
        return f"the gifts in Gift Aid claim {self.claim.reference}"


class _ClaimPartExport(Exporter):
    permission = "donations.view_giftaidclaim"

    def __init__(self, *, claim_id: int, number: int):
        self.claim_id, self.number = claim_id, number

    @cached_property
    def claim(self) -> GiftAidClaim:
        return get_object_or_404(GiftAidClaim, pk=self.claim_id)

    @cached_property
    def part(self) -> dict:
        part = selectors.claim_part(self.claim, self.number)
        if part is None:
            raise Http404("The claim has no such schedule.")
        return part

    def describe(self) -> str:
        return f"{self.label.lower()} {self.number} of Gift Aid claim {self.claim.reference}"


class ClaimScheduleExport(_ClaimPartExport):
    """A schedule of a claim (1,000 rows at most) as HMRC's .ods spreadsheet, or as CSV."""

    name = "gift_aid_schedule"
    label = "Schedule"
    formats = ("ods", "csv")

    def filename(self) -> str:
        return f"gift-aid-{self.claim.reference}-schedule-{self.number}"

    def make_file(self, file_format: str):
        part = self.part
        if file_format == "ods":
            return self.fixed_file(
                hmrc.schedule_ods(part["rows"], earliest_gift_date=part["earliest_gift_date"],
                                  adjustment_pence=part["adjustment_pence"]),
                extension="ods", content_type="application/vnd.oasis.opendocument.spreadsheet",
                count=len(part["rows"]))
        return self.fixed_file(hmrc.schedule_csv(part["rows"]), extension="csv",
                               content_type="text/csv; charset=utf-8", count=len(part["rows"]))


class ClaimXmlExport(_ClaimPartExport):
    """A part of the claim as Charities Online takes it (R68, GovTalk), with its IRmark."""

    name = "gift_aid_r68"
    label = "Claim file"
    formats = ("xml",)

    def filename(self) -> str:
        return f"gift-aid-{self.claim.reference}-r68-{self.number}"

    def make_file(self, file_format: str):
        content = hmrc.r68_xml(selectors.claim_header(self.claim, self.part), self.part["rows"])
        return self.fixed_file(content, extension="xml", content_type="application/xml", count=len(self.part["rows"]))
