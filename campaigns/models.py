from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Campaign(models.Model):
    """What money is raised for. Amounts are whole pence."""

    class Kind(models.TextChoices):
        APPEAL = "appeal", "Appeal"
        EVENT = "event", "Event"
        PEER_TO_PEER = "peer_to_peer", "Peer-to-peer"
        REGULAR_GIVING = "regular_giving", "Regular-giving drive"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=40, unique=True, help_text="Short code used on links and reports, e.g. winter-2026.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.APPEAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    target_pence = models.PositiveBigIntegerField("Target (pence)", default=0, validators=[MinValueValidator(0)])
    budget_pence = models.PositiveBigIntegerField("Budget (pence)", default=0, help_text="What the campaign costs to run.")
    starts_on = models.DateField(default=timezone.localdate)
    ends_on = models.DateField(null=True, blank=True)
    charity_pays_event_costs = models.BooleanField(
        default=True,
        help_text="For a sponsored event: the charity pays the event's costs (entry, travel). Then HMRC allows no "
                  "Gift Aid on sponsorship from the participant's family (spouse, sibling, parent, child).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-starts_on", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")), name="campaign_ends_after_start"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def target_display(self):
        return f"£{self.target_pence // 100:,}" + (f".{self.target_pence % 100:02d}" if self.target_pence % 100 else "")


class Appeal(models.Model):
    """A source code under a campaign (a mailing, an email, an advert), so that
    every gift is attributed to campaign, appeal and channel."""

    class Channel(models.TextChoices):
        WEB = "web", "Website"
        EMAIL = "email", "Email"
        POST = "post", "Direct mail"
        SOCIAL = "social", "Social media"
        TV = "tv", "TV or radio"
        EVENT = "event", "Event"
        PHONE = "phone", "Phone"
        OTHER = "other", "Other"

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="appeals")
    code = models.CharField(max_length=40, unique=True, help_text="The code on the mailing or in the link, e.g. XMAS26-EMAIL.")
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["campaign", "code"]

    def __str__(self):
        return f"{self.code}: {self.name}"


class TotalShard(models.Model):
    """Running totals of a campaign or an appeal, split over a few rows so that a
    TV appeal's hundreds of gifts a second do not all queue for one row lock.
    Kept up to date in the same transaction as each gift; read by summing."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track

    SHARDS = 8

    key = models.CharField(max_length=40)  # TotalShard.key_for(...): "campaign:<id>", "appeal:<id>", "fundraiser:<id>"
    shard = models.PositiveSmallIntegerField()
    raised_pence = models.BigIntegerField(default=0)
    gift_aid_pence = models.BigIntegerField(default=0)
    gifts = models.BigIntegerField(default=0)
    donors = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "shard"], name="one_total_row_per_shard")]

    @staticmethod
    def key_for(kind: str, pk: int | str) -> str:
        """The totals' key of a campaign, an appeal or a fundraising page ("campaign", "appeal", "fundraiser")."""
        return f"{kind}:{pk}"


class CampaignSupporter(models.Model):
    """That a supporter has given to a campaign: counts each donor once."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track


    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    supporter = models.ForeignKey("supporters.Supporter", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "supporter"], name="one_row_per_campaign_donor")]


class FundraiserPage(models.Model):
    """A supporter's own page under a peer-to-peer campaign ("I'm running the
    marathon for the children"). Staff approve it before it is public."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Live"
        HIDDEN = "hidden", "Hidden by staff"

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="fundraiser_pages")
    supporter = models.ForeignKey("supporters.Supporter", on_delete=models.PROTECT, related_name="fundraiser_pages")
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=120)
    story = models.TextField()
    photo = models.ForeignKey("wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target_pence = models.PositiveBigIntegerField("Target (pence)", default=50_000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reviewed_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    editable=False)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("moderate_fundraiserpage", "Can approve or hide fundraiser pages")]

    def __str__(self):
        return self.title

    @property
    def is_public(self):
        return self.status == self.Status.APPROVED
