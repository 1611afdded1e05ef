"""Money: gifts, monthly gifts and their charges, and what Stripe told us.

Amounts are integer pence with a currency code. Every Stripe id we store is
unique, so a repeated webhook or a retried call can never make a second record."""

import datetime
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from campaigns.models import Appeal, Campaign, FundraiserPage
from config.money import format_pence
from supporters.models import Supporter


class GiftKind(models.TextChoices):
    OWN_GIFT = "own_gift", "The donor's own gift"
    COMPANY = "company", "A company's or organisation's money"
    ON_BEHALF = "on_behalf", "Given on behalf of others (a collection, someone else's money)"
    PURCHASE = "purchase", "Payment for goods or services"
    TICKET = "ticket", "Admission or event ticket"
    RAFFLE = "raffle", "Raffle or lottery ticket"


class PaymentMethod(models.TextChoices):
    """How a gift that did not come through our own card form was paid."""
    CARD = "card", "Card"
    CASH = "cash", "Cash"
    CHEQUE = "cheque", "Cheque"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    STANDING_ORDER = "standing_order", "Standing order"
    CAF = "caf", "CAF (Charities Aid Foundation)"
    VOUCHER = "voucher", "Charity voucher"
    PLATFORM = "platform", "A giving platform (JustGiving…)"
    OTHER = "other", "Other"


class SponsorRelationship(models.TextChoices):
    OTHER = "", "Not the participant or a close relative"
    PARTICIPANT = "participant", "The participant"
    CONNECTED = "connected", "A close relative of the participant"


class Donation(models.Model):
    wagtail_reference_index_ignore = True  # records, not content: nothing to track

    class Status(models.TextChoices):
        CREATED = "created", "Created"  # our row exists; Stripe not yet answered
        REQUIRES_ACTION = "requires_action", "Awaiting card authentication"
        PENDING = "pending", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUNDED = "refunded", "Refunded"
        PARTLY_REFUNDED = "partly_refunded", "Partly refunded"
        DISPUTED = "disputed", "Disputed"

    class Channel(models.TextChoices):
        WEB = "web", "Website"
        MONTHLY = "monthly", "Monthly gift"
        PHONE = "phone", "Phone"
        POST = "post", "Post"
        EVENT = "event", "Event"
        IMPORT = "import", "Import"
        OFFLINE = "offline", "Offline (cash, cheque, bank transfer)"

    # Statuses in which the money is (still) with the charity, in whole or part.
    INCOME_STATUSES = (Status.SUCCEEDED, Status.PARTLY_REFUNDED, Status.DISPUTED)

    # Our permanent, never-reused name for the gift: Stripe's idempotency keys derive from it.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Blank only for a collection of small cash or contactless gifts (GASDS): a bucket has no donor.
    supporter = models.ForeignKey(Supporter, null=True, blank=True, on_delete=models.PROTECT, related_name="donations")
    amount_pence = models.PositiveBigIntegerField(help_text="What the donor paid, including any fee cover.")
    fee_cover_pence = models.PositiveBigIntegerField(default=0, help_text="The part added to cover card fees.")
    currency = models.CharField(max_length=3, default="gbp")
    fee_pence = models.BigIntegerField(null=True, blank=True, help_text="Stripe's fee, from the balance transaction.")
    net_pence = models.BigIntegerField(null=True, blank=True)
    refunded_pence = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED, db_index=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    dispute_status = models.CharField(max_length=30, blank=True, help_text="Stripe's status of a dispute, if any.")
    receipt_sent_at = models.DateTimeField(null=True, blank=True)

    gift_aid_declared = models.BooleanField(
        "Gift Aid declared", default=False, help_text="The donor made a Gift Aid declaration with this gift."
    )
    gift_aid_declaration = models.ForeignKey(
        "supporters.GiftAidDeclaration", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The declaration made with this gift (the only one a 'this gift only' declaration covers).")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="donations")
    appeal = models.ForeignKey(Appeal, null=True, blank=True, on_delete=models.PROTECT, related_name="donations")
    appeal_code = models.CharField(max_length=40, blank=True, help_text="As given in the link or on the form.")
    fundraiser_page = models.ForeignKey(FundraiserPage, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="donations")
    is_sponsorship = models.BooleanField(
        default=False, help_text="Sponsorship of someone's event: Gift Aid's sponsored-event rules apply.")
    sponsor_relationship = models.CharField(
        max_length=12, choices=SponsorRelationship.choices, blank=True,
        help_text="For sponsorship: the participant's own money, or a close relative's, is not eligible for Gift Aid.")
    gift_kind = models.CharField(
        max_length=12, choices=GiftKind.choices, default=GiftKind.OWN_GIFT,
        help_text="Only an individual's own gift can carry Gift Aid.")
    benefit_pence = models.PositiveBigIntegerField(
        default=0, help_text="The value of anything the donor received in return (a dinner, a gift).")
    gift_aid_claimed_by = models.CharField(
        max_length=60, blank=True,
        help_text="The platform (e.g. JustGiving) that already claimed this gift's Gift Aid for the charity.")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    # Database defaults too: bulk loads and imports in SQL need not name these columns.
    small_donation = models.BooleanField(
        "Small donation (GASDS)", default=False, db_default=False,
        help_text="Cash or contactless, £30 or less a gift, with no Gift Aid declaration: claimed under the Gift Aid "
                  "Small Donations Scheme. A collection (no supporter) counts as such gifts.")
    description = models.CharField(max_length=200, blank=True, default="", db_default="",
                                   help_text="For a collection: where and when, e.g. “Street collection, York”.")
    utm_source = models.CharField("UTM source", max_length=100, blank=True)
    utm_medium = models.CharField("UTM medium", max_length=100, blank=True)
    utm_campaign = models.CharField("UTM campaign", max_length=100, blank=True)
    recurring_gift = models.ForeignKey(
        "RecurringGift", null=True, blank=True, on_delete=models.PROTECT, related_name="donations"
    )

    stripe_payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_charge_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_balance_transaction_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # A charge has one dispute at most; its balance transactions name the dispute, not the charge.
    stripe_dispute_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_payment_method_id = models.CharField(max_length=255, blank=True)
    # The donation form's one-time token: pressing Pay twice finds this row again.
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # What the donor gave on the form (name, email, address, consent, Gift Aid,
    # where they came from), held for the few seconds until the task worker
    # records it: their supporter record, consent and declaration, the gift's
    # campaign, and only then its place in the totals. Empty once recorded. So
    # the donor waits on the payment, never on our bookkeeping.
    form_details = models.JSONField(null=True, blank=True, editable=False)
    # A gift brought in from a file: the system it came from (justgiving, old_crm…)
    # and its reference there, unique together, so the same row imported twice
    # (the same file again, an overlapping month) is found, not added.
    payment_method = models.CharField(max_length=16, choices=PaymentMethod.choices, blank=True, default="",
                                      db_default="", help_text="For a gift that did not come through our form.")
    import_source = models.CharField(max_length=40, blank=True, default="", db_default="", editable=False)
    import_ref = models.CharField(max_length=100, null=True, blank=True, editable=False)
    data_import = models.ForeignKey("supporters.DataImport", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", editable=False)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("refund_donation", "Can refund a donation through Stripe"),
                       ("add_offline_donation", "Can record a gift that did not come through Stripe"),
                       ("export_donation", "Can download gifts as CSV or XLSX")]
        constraints = [
            models.CheckConstraint(condition=Q(amount_pence__gt=0), name="donation_amount_positive"),
            models.CheckConstraint(condition=Q(refunded_pence__lte=F("amount_pence")), name="donation_refund_within_amount"),
            models.CheckConstraint(condition=Q(fee_cover_pence__lte=F("amount_pence")), name="donation_fee_cover_within_amount"),
            models.CheckConstraint(condition=Q(fee_pence__isnull=True) | Q(fee_pence__gte=0), name="donation_fee_not_negative"),
            # A gift has its donor, except a collection of small donations, or a
            # platform's gift from someone who gave anonymously.
            # (An online gift's donor is recorded a moment after it is taken: form_details.)
            models.CheckConstraint(condition=Q(supporter__isnull=False) | Q(small_donation=True)
                                   | Q(import_ref__isnull=False) | Q(form_details__isnull=False),
                                   name="donation_has_supporter_unless_collection"),
            models.UniqueConstraint(fields=["import_source", "import_ref"], condition=Q(import_ref__isnull=False),
                                    name="donation_imported_once"),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="donation_campaign_status_idx"),
            # The claim builder's look-up of small donations (GASDS), a few among a million gifts.
            models.Index(fields=["paid_at"], condition=Q(small_donation=True), name="donation_small_paid_idx"),
            # The task worker's look-up of online gifts still to record: a handful among them all.
            models.Index(fields=["id"], condition=Q(form_details__isnull=False), name="donation_to_record_idx"),
        ]

    def __str__(self):
        return f"{self.amount_display} from {self.donor_display} ({self.get_status_display().lower()})"

    @property
    def donor_display(self):
        """Who gave it, as staff read it: the supporter, or the collection."""
        if self.supporter_id:
            return str(self.supporter)
        if self.awaiting_record:
            details = self.form_details
            return f"{details.get('first_name', '')} {details.get('last_name', '')} (being recorded)".strip()
        return f"Collection: {self.description}" if self.description else "A collection"

    @property
    def awaiting_record(self) -> bool:
        """Taken online a moment ago; its donor and totals not recorded yet (form_details)."""
        return self.form_details is not None

    @property
    def donor_name_for_thanks(self) -> str:
        if self.supporter_id:
            return self.supporter.display_name
        return (self.form_details or {}).get("first_name", "")

    @property
    def donor_email(self) -> str:
        if self.supporter_id:
            return self.supporter.email
        return (self.form_details or {}).get("email", "")

    @property
    def amount_display(self):
        return format_pence(self.amount_pence, self.currency)

    @property
    def fee_cover_display(self):
        return format_pence(self.fee_cover_pence, self.currency)

    @property
    def reference(self):
        return f"D{self.pk:07d}" if self.pk else ""

    @property
    def kept_pence(self):
        """What the charity keeps of the gift after refunds (before fees)."""
        return self.amount_pence - self.refunded_pence if self.status in self.INCOME_STATUSES else 0

    @property
    def given_on(self):
        """The day the charity received the gift: the date Gift Aid goes by."""
        return timezone.localdate(self.paid_at or self.created_at)

    @property
    def gift_aid_expected_pence(self):
        """25p per £1 kept, for a gift declared for Gift Aid (rounded down to the
        penny). Eligibility rules refine this when a claim is built."""
        return self.kept_pence // 4 if self.gift_aid_declared else 0


class Refund(models.Model):
    """Money given back on a gift, one row per Stripe refund (unique by its id),
    whether staff made it here or in Stripe's dashboard. Gift Aid adjustments and
    reconciliation read these, with their dates."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track


    donation = models.ForeignKey(Donation, on_delete=models.PROTECT, related_name="refunds")
    stripe_refund_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_balance_transaction_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    amount_pence = models.PositiveBigIntegerField()
    status = models.CharField(max_length=20, default="succeeded")
    reason = models.CharField(max_length=255, blank=True)
    made_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount_pence__gt=0), name="refund_amount_positive")]

    def __str__(self):
        return f"Refund of {format_pence(self.amount_pence)} on {self.donation.reference}"


class RecurringGift(models.Model):
    """A monthly gift, charged on our own schedule (not Stripe Billing) against a
    card saved to a Stripe Customer with a SetupIntent."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track


    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting card set-up"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due"
        PAUSED = "paused", "Paused"
        CANCELLED = "cancelled", "Cancelled"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    supporter = models.ForeignKey(Supporter, on_delete=models.PROTECT, related_name="recurring_gifts")
    amount_pence = models.PositiveBigIntegerField()
    fee_cover_pence = models.PositiveBigIntegerField(default=0)
    currency = models.CharField(max_length=3, default="gbp")
    day_of_month = models.PositiveSmallIntegerField(help_text="1 to 28, so that every month has the day.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    gift_aid_declared = models.BooleanField("Gift Aid declared", default=False)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="recurring_gifts")
    appeal = models.ForeignKey(Appeal, null=True, blank=True, on_delete=models.PROTECT, related_name="recurring_gifts")
    appeal_code = models.CharField(max_length=40, blank=True)
    utm_source = models.CharField("UTM source", max_length=100, blank=True)

    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_payment_method_id = models.CharField(max_length=255, blank=True)
    stripe_setup_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    needs_new_card = models.BooleanField(default=False)
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    manage_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    started_on = models.DateField(default=timezone.localdate)
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("cancel_recurringgift", "Can cancel a monthly gift")]
        constraints = [
            models.CheckConstraint(condition=Q(amount_pence__gt=0), name="recurring_amount_positive"),
            models.CheckConstraint(condition=Q(day_of_month__gte=1, day_of_month__lte=28), name="recurring_day_in_every_month"),
        ]

    def __str__(self):
        return f"{self.amount_display} a month from {self.supporter}"

    @property
    def amount_display(self):
        return format_pence(self.amount_pence, self.currency)

    @property
    def amount_pounds(self):
        """The amount as a person would type it: "10" or "12.50"."""
        pounds, pence = divmod(self.amount_pence, 100)
        return f"{pounds}.{pence:02d}" if pence else str(pounds)

    @property
    def day_suffix(self):
        day = self.day_of_month
        return "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")

    def payment_day_after(self, day: datetime.date) -> datetime.date:
        """This gift's payment day in the month after `day`'s month."""
        first_of_next = (day.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
        return first_of_next.replace(day=self.day_of_month)


class MonthlyCharge(models.Model):
    """One month's charge of a recurring gift. Written before Stripe is called;
    unique per gift and month, and its uid (with the attempt number) is the
    idempotency key, so no crash, rerun or second scheduler charges twice."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track


    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        PROCESSING = "processing", "Processing"
        # The call to Stripe did not complete (a missing key, no connection, an
        # error at Stripe): last_error says why, and the next run retries it
        # with the same idempotency key.
        INTERRUPTED = "interrupted", "Interrupted, will retry"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed, will retry"
        ABANDONED = "abandoned", "Failed, no more retries"
        SKIPPED = "skipped", "Skipped"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recurring_gift = models.ForeignKey(RecurringGift, on_delete=models.PROTECT, related_name="charges")
    month = models.DateField(help_text="The first day of the month charged for.")
    amount_pence = models.PositiveBigIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.CharField(max_length=255, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    donation = models.OneToOneField(Donation, null=True, blank=True, on_delete=models.PROTECT, related_name="monthly_charge")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recurring_gift", "month"], name="one_charge_per_gift_and_month"),
        ]

    def __str__(self):
        return f"{self.month:%B %Y} charge of {self.recurring_gift}"

    @property
    def idempotency_key(self):
        return f"monthly-charge-{self.uid}-attempt-{self.attempts}"


class StripeEvent(models.Model):
    """Every webhook event Stripe sent us, stored once (unique by its id)."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track


    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (not ours or not needed)"
        FAILED = "failed", "Failed"

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        permissions = [("retry_stripeevent", "Can retry a failed Stripe event")]

    def __str__(self):
        return f"{self.type} {self.stripe_id}"


class GiftAidClaim(models.Model):
    """A Gift Aid repayment claim to HMRC: built as a draft from the eligible gifts
    not yet claimed, reviewed, then submitted and locked. Its rows are the
    schedule exactly as sent; its gifts say which donation is in which row."""
    wagtail_reference_index_ignore = True

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted by HMRC"
        REJECTED = "rejected", "Rejected by HMRC"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    gift_count = models.PositiveIntegerField(default=0)
    row_count = models.PositiveIntegerField(default=0)
    gifts_pence = models.PositiveBigIntegerField(default=0, help_text="The gifts claimed on.")
    tax_pence = models.PositiveBigIntegerField(default=0, help_text="25% of the gifts claimed on.")
    adjustment_pence = models.PositiveBigIntegerField(
        default=0, help_text="Tax over-claimed in earlier claims (gifts refunded since), deducted from this one.")
    earliest_gift_on = models.DateField(null=True, blank=True)
    small_donations_pence = models.PositiveBigIntegerField(
        default=0, help_text="Small donations (GASDS) claimed on, within the yearly limits.")
    small_donations_tax_pence = models.PositiveBigIntegerField(default=0, help_text="The top-up: 25% of them.")
    built_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    built_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    hmrc_reference = models.CharField("HMRC reference", max_length=100, blank=True,
                                      help_text="The correlation id or reference HMRC gave the submission.")
    outcome_recorded_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL,
                                            related_name="+")
    outcome_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    repayment_pence = models.PositiveBigIntegerField(null=True, blank=True)
    repayment_received_on = models.DateField(null=True, blank=True)
    repayment_reference = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-period_end", "-id"]
        permissions = [("submit_giftaidclaim", "Can submit Gift Aid claims and record HMRC's answer")]
        constraints = [
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="claim_period_in_order"),
            models.CheckConstraint(condition=Q(adjustment_pence__lte=F("tax_pence")) | Q(status="draft"),
                                   name="claim_adjustment_within_tax"),
        ]

    def __str__(self):
        return f"Gift Aid claim {self.reference}"

    @property
    def reference(self):
        return f"GA{self.pk:05d}" if self.pk else ""

    @property
    def is_locked(self):
        return self.status != self.Status.DRAFT

    @property
    def repayment_due_pence(self):
        """What HMRC should pay: the tax on the gifts and the small donations' top-up, less the adjustment."""
        return self.tax_pence + self.small_donations_tax_pence - self.adjustment_pence

    @property
    def repayment_difference_pence(self):
        return None if self.repayment_pence is None else self.repayment_pence - self.repayment_due_pence


class GiftAidClaimRow(models.Model):
    """One row of the claim's schedule, as sent: a donor's gifts in one
    accounting period, or an aggregate of small gifts. Kept for six years."""
    wagtail_reference_index_ignore = True

    # No database constraint (see GiftAidClaimedGift), and no index of its own: the
    # unique (claim, number) index serves every look-up by claim.
    claim = models.ForeignKey(GiftAidClaim, on_delete=models.CASCADE, related_name="rows", db_constraint=False,
                              db_index=False)
    number = models.PositiveIntegerField(help_text="1 upwards; every 1,000 rows make a schedule.")
    title = models.CharField(max_length=4, blank=True)
    first_name = models.CharField(max_length=35, blank=True)
    last_name = models.CharField(max_length=35, blank=True)
    house = models.CharField(max_length=40, blank=True)
    postcode = models.CharField(max_length=8, blank=True)
    overseas = models.BooleanField(default=False)
    aggregated = models.CharField("Aggregated donations", max_length=35, blank=True)
    sponsored = models.BooleanField(default=False)
    date = models.DateField(help_text="As HMRC asks: the date of the row's last gift.")
    first_gift_on = models.DateField(null=True, help_text="The row's earliest gift: a part's earliest gift date.")
    amount_pence = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["claim", "number"]
        constraints = [models.UniqueConstraint(fields=["claim", "number"], name="claim_row_number_unique")]

    @property
    def schedule_number(self):
        return (self.number - 1) // 1000 + 1


class GiftAidClaimedGift(models.Model):
    """A donation in a claim. The partial unique constraint is the rule that a
    gift is claimed at most once: only a rejected claim releases its gifts."""
    wagtail_reference_index_ignore = True

    # Of the database's foreign-key checks, only the one on `donation` is kept: each is
    # a look-up per gift, some 700,000 as a claim commits. Claimed gifts (and rows)
    # are written only by the claim builder, in the same transaction as their claim;
    # claims and rows are deleted only through Django (discarding a draft), which
    # deletes their gifts first; and declarations are never deleted (PROTECT).
    # Nothing looks claimed gifts up by declaration, so it has no index either.
    claim = models.ForeignKey(GiftAidClaim, on_delete=models.CASCADE, related_name="gifts", db_constraint=False)
    row = models.ForeignKey(GiftAidClaimRow, on_delete=models.CASCADE, related_name="gifts", db_constraint=False)
    donation = models.ForeignKey(Donation, on_delete=models.PROTECT, related_name="gift_aid_claims")
    declaration = models.ForeignKey("supporters.GiftAidDeclaration", on_delete=models.PROTECT, related_name="+",
                                    db_constraint=False, db_index=False)
    amount_pence = models.PositiveBigIntegerField(help_text="The gift as claimed (after any refund before the claim).")
    tax_pence = models.PositiveBigIntegerField()
    active = models.BooleanField(default=True, help_text="False once the claim was rejected: the gift is free again.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["donation"], condition=Q(active=True), name="gift_in_one_claim"),
        ]


class GiftAidSmallDonation(models.Model):
    """A small donation (or a collection of them) in a claim's GASDS part. The
    partial unique constraint claims each at most once; a rejected claim
    releases it, as it does its Gift Aid gifts."""
    wagtail_reference_index_ignore = True

    claim = models.ForeignKey(GiftAidClaim, on_delete=models.CASCADE, related_name="small_donations")
    donation = models.ForeignKey(Donation, on_delete=models.PROTECT, related_name="small_donation_claims")
    tax_year_end = models.PositiveSmallIntegerField(help_text="The tax year it was received in, by the year it ends.")
    amount_pence = models.PositiveBigIntegerField()
    active = models.BooleanField(default=True, help_text="False once the claim was rejected: the gift is free again.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["donation"], condition=Q(active=True), name="small_donation_in_one_claim"),
        ]


class GiftAidDirectRepayment(models.Model):
    """Tax over-claimed that finance repaid to HMRC directly, outside a claim:
    when there is no claim to deduct it from, or it is more than the next one."""
    wagtail_reference_index_ignore = True

    repaid_on = models.DateField()
    amount_pence = models.PositiveBigIntegerField()
    reference = models.CharField(max_length=100, help_text="The payment's reference, as HMRC will see it.")
    recorded_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-repaid_on", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount_pence__gt=0), name="direct_repayment_positive")]

    def __str__(self):
        return f"{format_pence(self.amount_pence)} repaid to HMRC on {self.repaid_on:%d %b %Y}"


class GiftAidAdjustment(models.Model):
    """Tax over-claimed on a gift after its claim was submitted (refunded, lost in
    a dispute, or its declaration void or cancelled before it), repaid to HMRC by
    deducting it from a later claim, or directly."""
    wagtail_reference_index_ignore = True

    claim = models.ForeignKey(GiftAidClaim, null=True, blank=True, on_delete=models.CASCADE, related_name="adjustments")
    direct_repayment = models.ForeignKey(GiftAidDirectRepayment, null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="adjustments")
    claimed_gift = models.ForeignKey(GiftAidClaimedGift, on_delete=models.PROTECT, related_name="adjustments")
    tax_pence = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["claim", "claimed_gift"], name="one_adjustment_per_gift_and_claim"),
            models.CheckConstraint(condition=Q(tax_pence__gt=0), name="adjustment_positive"),
            # Deducted from a claim, or repaid directly: one or the other.
            models.CheckConstraint(condition=Q(claim__isnull=False, direct_repayment__isnull=True)
                                   | Q(claim__isnull=True, direct_repayment__isnull=False),
                                   name="adjustment_repaid_one_way"),
        ]


class IncomeSource(models.TextChoices):
    """How a gift came in, as the dashboard groups channels."""
    ONLINE = "online", "Online"
    MONTHLY = "monthly", "Monthly"
    OFFLINE = "offline", "Offline"
    PLATFORM = "platform", "Platforms"


class DailyIncome(models.Model):
    """The gifts of one day, summed by campaign, appeal, source and kind: what the
    dashboard reads instead of the gifts. Kept in each gift's own transaction by
    the donations services (a refund or a dispute moves the row of the gift's day),
    rebuilt from the gifts by `manage.py rebuild_income_rollups`. A few shards per
    key, so a TV appeal's gifts do not all queue for one row lock; read by summing.

    The donor columns count each donor once: on the day of their first gift ever
    (new), of their first gift of the tax year (year's donors) and of that gift
    again when they also gave in the tax year before (retained)."""
    wagtail_reference_index_ignore = True  # figures, not content: nothing to track

    SHARDS = 4

    day = models.DateField()
    campaign_id = models.IntegerField(default=0)  # 0: no campaign (a plain integer: 0 keeps the key unique)
    appeal_id = models.IntegerField(default=0)
    source = models.CharField(max_length=8, choices=IncomeSource.choices)
    monthly = models.BooleanField()
    shard = models.PositiveSmallIntegerField(default=0)
    gifts = models.BigIntegerField(default=0)
    donor_gifts = models.BigIntegerField(default=0)  # of them, gifts with a supporter (not collections)
    received_pence = models.BigIntegerField(default=0)
    refunded_pence = models.BigIntegerField(default=0)
    kept_pence = models.BigIntegerField(default=0)
    disputed_pence = models.BigIntegerField(default=0)
    fee_pence = models.BigIntegerField(default=0)
    gift_aid_pence = models.BigIntegerField(default=0)
    new_donors = models.BigIntegerField(default=0)
    year_donors = models.BigIntegerField(default=0)
    year_retained = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "campaign_id", "appeal_id", "source", "monthly", "shard"],
                                               name="one_income_row_per_day_and_key")]
        indexes = [models.Index(fields=["campaign_id", "day"], name="income_campaign_day_idx")]


class DailyGiftSizes(models.Model):
    """How many gifts of each size (what was kept of them) a day brought, by
    campaign: the median gift without reading the gifts."""
    wagtail_reference_index_ignore = True  # figures, not content: nothing to track

    day = models.DateField()
    campaign_id = models.IntegerField(default=0)
    kept_pence = models.BigIntegerField()
    gifts = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "campaign_id", "kept_pence"],
                                               name="one_size_row_per_day_and_campaign")]
        indexes = [models.Index(fields=["campaign_id", "day"], name="sizes_campaign_day_idx")]


class MonthlyGiftSizes(models.Model):
    """DailyGiftSizes summed by month: a median over months reads a month's row
    for each size instead of one for each day."""
    wagtail_reference_index_ignore = True  # figures, not content: nothing to track

    month = models.DateField(help_text="The first day of the month.")
    campaign_id = models.IntegerField(default=0)
    kept_pence = models.BigIntegerField()
    gifts = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "campaign_id", "kept_pence"],
                                               name="one_size_row_per_month_and_campaign")]
        indexes = [models.Index(fields=["campaign_id", "month"], name="sizes_campaign_month_idx")]


class DonorYear(models.Model):
    """That a supporter gave in a tax year (named by the year it starts), with the
    first gift of that year: where DailyIncome's donor counts were added."""
    wagtail_reference_index_ignore = True  # figures, not content: nothing to track
    merged_by_its_app = True  # a merge folds two donors' years: donations.services.rollups.donor_years_merge

    # Derived rows, rebuilt whole: no database-level foreign keys, whose row-by-row
    # checks were most of a rebuild's time at ten million gifts (Django still cascades and protects).
    supporter = models.ForeignKey(Supporter, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    tax_year = models.PositiveSmallIntegerField()
    gifts = models.PositiveIntegerField(default=0)
    kept_pence = models.BigIntegerField(default=0)  # what their gifts of the year brought: the top donors
    first_gift = models.ForeignKey(Donation, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    first_gift_on = models.DateField()
    first_campaign_id = models.IntegerField(default=0)
    first_appeal_id = models.IntegerField(default=0)
    first_source = models.CharField(max_length=8, choices=IncomeSource.choices)
    first_monthly = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["supporter", "tax_year"], name="one_row_per_donor_and_tax_year")]
        indexes = [models.Index(fields=["tax_year", "first_gift_on"], name="donor_year_first_gift_idx"),
                   models.Index(fields=["tax_year", "-kept_pence"], name="donor_year_top_idx")]


class IncomeTarget(models.Model):
    """What the charity means to raise in a tax year; the dashboard sets each
    period's income against its share of it (by days)."""

    tax_year = models.PositiveSmallIntegerField(unique=True, help_text="The year it starts: 2026 for 2026–27.",
                                                validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    target_pence = models.PositiveBigIntegerField("Target (pence)")

    class Meta:
        ordering = ["-tax_year"]

    def __str__(self):
        return f"Tax year {self.tax_year}–{(self.tax_year + 1) % 100:02d}: {format_pence(self.target_pence)}"
