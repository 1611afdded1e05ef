"""Finance's records: Stripe payouts and their balance transactions, the bank's
statement lines, paying-in batches of offline gifts, the chart of accounts,
closed months and a log of every download.

Finance stands above donations: it reads gifts and refunds, and links to them,
but changes them only through donations' services. Money is integer pence,
signed as the bank and Stripe sign it (money in positive)."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting

from campaigns.models import Campaign
from config.money import format_pence


class Payout(models.Model):
    """Money Stripe sent to the charity's bank account: one per Stripe payout
    (unique by its id), whether it came by webhook, sync or Stripe's report."""

    wagtail_reference_index_ignore = True

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_TRANSIT = "in_transit", "In transit"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Cancelled"

    class Source(models.TextChoices):
        STRIPE = "stripe", "Stripe (webhook or sync)"
        REPORT = "report", "Stripe's payout reconciliation report"

    stripe_payout_id = models.CharField(max_length=255, unique=True)
    amount_pence = models.BigIntegerField(help_text="What Stripe sent to the bank.")
    currency = models.CharField(max_length=3, default="gbp")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    arrival_date = models.DateField(help_text="When Stripe expects it in the bank.")
    stripe_created_at = models.DateTimeField(null=True, blank=True)
    automatic = models.BooleanField(default=True)
    statement_descriptor = models.CharField(max_length=255, blank=True)
    failure_code = models.CharField(max_length=60, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STRIPE)
    # Set when every balance transaction of the payout has been fetched (webhooks
    # say only that a payout exists; its lines come from a sync).
    lines_fetched_at = models.DateTimeField(null=True, blank=True)
    bank_line = models.OneToOneField("BankLine", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="payout")
    matched_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    matched_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-arrival_date", "-id"]

    def __str__(self):
        return f"Stripe payout {self.stripe_payout_id} of {format_pence(self.amount_pence, self.currency)}"

    @property
    def amount_display(self) -> str:
        return format_pence(self.amount_pence, self.currency)

    def amount(self) -> str:
        return self.amount_display

    amount.short_description = "Amount"


class PayoutLine(models.Model):
    """One of Stripe's balance transactions in a payout: a charge, a refund, a
    dispute or its reversal, a fee (Radar's), an adjustment. Unique by Stripe's
    id; linked to the gift, refund or dispute it is about once matched."""

    wagtail_reference_index_ignore = True

    class Resolution(models.TextChoices):
        NONE = "", "—"
        GIFT_CREATED = "gift_created", "Gift recorded from the line"
        NOT_A_GIFT = "not_a_gift", "Not a gift (explained)"

    payout = models.ForeignKey(Payout, on_delete=models.CASCADE, related_name="lines")
    stripe_balance_transaction_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=40)
    reporting_category = models.CharField(max_length=40, db_index=True)
    amount_pence = models.BigIntegerField()
    fee_pence = models.BigIntegerField(default=0)
    net_pence = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="gbp")
    stripe_created_at = models.DateTimeField()
    available_on = models.DateField(null=True, blank=True)
    description = models.CharField(max_length=500, blank=True)
    source_id = models.CharField(max_length=255, blank=True, db_index=True)
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    # From Stripe's report only: who paid, for a gift taken outside this system.
    customer_email = models.CharField(max_length=254, blank=True)
    customer_name = models.CharField(max_length=255, blank=True)
    donation = models.ForeignKey("donations.Donation", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    refund = models.ForeignKey("donations.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True, default="")
    resolution_note = models.CharField(max_length=255, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["stripe_created_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(net_pence=models.F("amount_pence") - models.F("fee_pence")),
                                              name="payout_line_net_is_amount_less_fee")]

    def __str__(self):
        return f"{self.reporting_category} {format_pence(self.net_pence, self.currency)} ({self.stripe_balance_transaction_id})"


class BankAccount(models.Model):
    """The charity's bank account that statements come from, with its code in
    the accounts and, for a bank whose export we do not recognise, Finance's
    column map (remembered once given)."""

    name = models.CharField(max_length=120)
    code = models.CharField("Ledger account code", max_length=20, unique=True,
                            help_text="The bank account's code in the chart of accounts, e.g. 090.")
    sort_code = models.CharField(max_length=8, blank=True)
    account_number = models.CharField(max_length=8, blank=True)
    column_map = models.JSONField(null=True, blank=True, help_text="Finance's mapping of this bank's columns.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class BankStatement(models.Model):
    """One statement file imported: what it held, and who imported it."""

    account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="statements")
    filename = models.CharField(max_length=255)
    layout = models.CharField(max_length=60)
    first_date = models.DateField()
    last_date = models.DateField()
    lines_added = models.PositiveIntegerField()
    lines_already_held = models.PositiveIntegerField()
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-imported_at", "-id"]

    def __str__(self):
        return f"{self.account.name}: {self.first_date:%d %b %Y} to {self.last_date:%d %b %Y}"


class BankLine(models.Model):
    """A line of the bank statement, held once however often its statement is
    imported (`identity`: account, date, amounts, description, balance and its
    place among identical lines of that day). A credit is matched to a Stripe
    payout or a paying-in batch, or explained by Finance; debits are not gifts
    and stay out of the donation reconciliation."""

    wagtail_reference_index_ignore = True

    class Status(models.TextChoices):
        UNMATCHED = "unmatched", "Not matched"
        MATCHED = "matched", "Matched"
        OTHER_INCOME = "other_income", "Other income"
        OFFLINE_GIFTS = "offline_gifts", "Offline gifts recorded"
        NOT_A_CREDIT = "debit", "Money out"

    account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="lines")
    statement = models.ForeignKey(BankStatement, on_delete=models.PROTECT, related_name="lines")
    identity = models.CharField(max_length=64, unique=True)
    date = models.DateField(db_index=True)
    description = models.CharField(max_length=500)
    paid_in_pence = models.BigIntegerField(default=0)
    paid_out_pence = models.BigIntegerField(default=0)
    balance_pence = models.BigIntegerField(null=True, blank=True)
    file_line = models.PositiveIntegerField(help_text="Its line in the file it first came in.")
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.UNMATCHED, db_index=True)
    note = models.CharField(max_length=255, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(paid_in_pence__gte=0, paid_out_pence__gte=0), name="bank_line_amounts_not_negative"),
            models.CheckConstraint(condition=Q(paid_in_pence=0) | Q(paid_out_pence=0), name="bank_line_in_or_out"),
        ]

    def __str__(self):
        money = format_pence(self.paid_in_pence) if self.paid_in_pence else f"−{format_pence(self.paid_out_pence)}"
        return f"{self.date:%d/%m/%Y} {money} {self.description}"

    @property
    def amount_pence(self) -> int:
        return self.paid_in_pence - self.paid_out_pence


class PayingInBatch(models.Model):
    """Offline gifts banked together: cheques on one paying-in slip, a cash
    count, a month's standing orders, a CAF or voucher payment, another
    platform's payout. It closes only when its gifts add up to its total, and a
    closed batch matches one bank credit."""

    wagtail_reference_index_ignore = True

    class Method(models.TextChoices):
        CHEQUE = "cheque", "Cheques"
        CASH = "cash", "Cash"
        BANK_TRANSFER = "bank_transfer", "Bank transfers"
        STANDING_ORDER = "standing_order", "Standing orders"
        CAF = "caf", "CAF (Charities Aid Foundation)"
        VOUCHER = "voucher", "Other charity vouchers"
        PLATFORM = "platform", "Another platform's payout (e.g. JustGiving)"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    number = models.PositiveIntegerField(unique=True)
    banking_date = models.DateField(help_text="The day it was paid in (or is expected in the bank).")
    method = models.CharField(max_length=16, choices=Method.choices)
    reference = models.CharField(max_length=120, blank=True, help_text="Paying-in slip number, or the platform's payout reference.")
    expected_count = models.PositiveIntegerField(help_text="How many gifts the batch holds.")
    expected_total_pence = models.PositiveBigIntegerField(help_text="What the paying-in slip (or payout) totals.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    bank_line = models.OneToOneField(BankLine, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="paying_in_batch")

    class Meta:
        ordering = ["-number"]
        verbose_name_plural = "paying-in batches"
        constraints = [models.CheckConstraint(condition=Q(expected_total_pence__gt=0), name="batch_total_positive")]

    def __str__(self):
        return f"Batch {self.number} ({self.get_method_display()}, {format_pence(self.expected_total_pence)})"


class PayingInBatchGift(models.Model):
    """A gift in a batch: each gift is in one batch at most."""

    batch = models.ForeignKey(PayingInBatch, on_delete=models.PROTECT, related_name="gifts")
    donation = models.OneToOneField("donations.Donation", on_delete=models.PROTECT, related_name="paying_in_batch")
    position = models.PositiveIntegerField(help_text="Its place in the batch, as keyed.")

    class Meta:
        ordering = ["batch", "position"]


@register_setting(icon="list-ul")
class ChartOfAccounts(BaseGenericSetting):
    """The codes journals post to, set once by Finance. A campaign with no code
    of its own posts to the default income code (and is flagged)."""

    bank_code = models.CharField("Bank account", max_length=20, default="090",
                                 help_text="Where Stripe payouts and paying-in batches arrive.")
    income_code = models.CharField("Donations income (default)", max_length=20, default="200",
                                   help_text="For gifts to a campaign without a code of its own, and to none.")
    restricted_income_code = models.CharField("Restricted donations income (default)", max_length=20, default="210")
    gift_aid_income_code = models.CharField("Gift Aid income", max_length=20, default="220")
    other_income_code = models.CharField("Other income", max_length=20, default="260",
                                         help_text="Bank credits Finance marks as other income.")
    stripe_fees_code = models.CharField("Stripe fees", max_length=20, default="404")
    refunds_code = models.CharField("Refunds", max_length=20, default="205")
    disputes_code = models.CharField("Disputes (chargebacks)", max_length=20, default="206")
    adjustments_code = models.CharField("Stripe adjustments", max_length=20, default="405")
    tax_rate = models.CharField("Tax rate name", max_length=40, default="No VAT",
                                help_text="As your accounts package names it (Xero: No VAT; Sage 50: T9).")
    tracking_name = models.CharField("Tracking category", max_length=60, default="Campaign", blank=True,
                                     help_text="Xero's tracking category for campaigns (blank for none).")

    class Meta:
        verbose_name = "Chart of accounts"


class CampaignLedgerCode(models.Model):
    """A campaign's income code and fund."""

    class Fund(models.TextChoices):
        UNRESTRICTED = "unrestricted", "Unrestricted"
        RESTRICTED = "restricted", "Restricted"

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="ledger_code")
    income_code = models.CharField(max_length=20, blank=True,
                                   help_text="Blank: the default code of its fund.")
    fund = models.CharField(max_length=12, choices=Fund.choices, default=Fund.UNRESTRICTED)

    def __str__(self):
        return f"{self.campaign}: {self.income_code or 'default'} ({self.get_fund_display().lower()})"


class ClosedMonth(models.Model):
    """A month whose books are closed: its gifts, refunds and batches can no
    longer be changed (donations' services refuse)."""

    month = models.DateField(unique=True, help_text="The month's first day.")
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month"]
        permissions = [("close_month", "Can close and reopen a month's books")]
        constraints = [models.CheckConstraint(condition=Q(month__day=1), name="closed_month_is_first_day")]

    def __str__(self):
        return f"{self.month:%B %Y}"

    @staticmethod
    def first_day(day: datetime.date) -> datetime.date:
        return day.replace(day=1)


class MonthReopening(models.Model):
    """That a closed month was reopened: who, when and why (kept for the auditors)."""

    month = models.DateField()
    reopened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reopened_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=255)

    class Meta:
        ordering = ["-reopened_at"]


class FinanceDownload(models.Model):
    """Every download Finance takes (journals, reconciliation files): who, what, when."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    what = models.CharField(max_length=255)
    exporter = models.CharField(max_length=60)
    file_format = models.CharField(max_length=10)
    rows = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
