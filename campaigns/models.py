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
