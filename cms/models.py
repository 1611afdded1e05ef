
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page, Site
from wagtail.search import index

from campaigns.selectors import campaign_totals, fundraiser_leaderboard
from cms.blocks import StoryBlock
from donations.form_context import donate_context


@register_setting(icon="site")
class CharitySettings(BaseSiteSetting):
    """What every page's footer says, editable by staff."""

    charity_number = models.CharField(max_length=40, default="1000000 (demo)")
    registered_office = models.CharField(max_length=255, default="1 Example Street, London SW1A 1AA")
    footer_text = models.CharField(
        max_length=255, default="helps children leave orphanages and grow up in loving families."
    )
    contact_email = models.EmailField(default="supporters@brightwell.example")
    contact_phone = models.CharField(max_length=40, default="020 7946 0000")
    privacy_page = models.ForeignKey(
        "wagtailcore.Page", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name="Privacy notice", help_text="Linked from every page's footer and from the donation form.")
    terms_page = models.ForeignKey(
        "wagtailcore.Page", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name="Terms of giving", help_text="Linked from every page's footer and from the donation form.")

    panels = [FieldPanel("footer_text"), FieldPanel("charity_number"), FieldPanel("registered_office"),
              FieldPanel("contact_email"), FieldPanel("contact_phone"),
              MultiFieldPanel([FieldPanel("privacy_page"), FieldPanel("terms_page")], heading="Policy pages")]

    class Meta:
        verbose_name = "Charity details"


def charity_email_footer() -> list[str]:
    """The charity's registration and address, at the foot of every email
    (cached for a minute: a mailing renders it once per message)."""
    lines = cache.get("charity-email-footer")
    if lines is None:
        site = Site.objects.filter(is_default_site=True).first()
        details = CharitySettings.for_site(site) if site else CharitySettings()
        lines = [f"{settings.CHARITY_NAME} is a registered charity, number {details.charity_number}.",
                 f"{details.registered_office} · {details.contact_phone} · {details.contact_email}"]
        cache.set("charity-email-footer", lines, 60)
    return lines


class SocialImageMixin(models.Model):
    """The picture shown when a page is shared (Open Graph)."""

    social_image = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Shown when the page is shared on social media. 1200×630 works best.",
    )

    promote_panels = Page.promote_panels + [FieldPanel("social_image")]

    class Meta:
        abstract = True

    def get_social_image(self):
        return self.social_image or getattr(self, "hero_image", None)


class HomePage(SocialImageMixin, Page):
    """The front door: what the charity does and a way to give."""

    intro = RichTextField(blank=True, features=["bold", "italic", "link"])
    body = RichTextField(blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("body")]
    parent_page_types = ["wagtailcore.Page"]
    max_count = 1

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        campaigns = CampaignPage.objects.live().public().child_of(self).select_related("campaign", "hero_image")
        context["campaigns"] = [(page, campaign_totals(campaign=page.campaign)) for page in campaigns[:3]]
        context["stories"] = StoryPage.objects.live().public().order_by("-date")[:3]
        return context


class StandardPage(SocialImageMixin, Page):
    """About us, privacy notice, contact and the like."""

    body = RichTextField(blank=True)

    content_panels = Page.content_panels + [FieldPanel("body")]
    search_fields = Page.search_fields + [index.SearchField("body")]


class CampaignPage(SocialImageMixin, Page):
    """A campaign or appeal: its story, its progress and the donation form."""

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.PROTECT, related_name="pages")
    hero_image = models.ForeignKey("wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    hero_alt = models.CharField("Hero image description", max_length=255, blank=True,
                                help_text="Describe the picture for people who cannot see it.")
    intro = models.TextField(help_text="One or two sentences under the title.")
    body = StreamField(StoryBlock(), blank=True, use_json_field=True)
    preset_amounts = models.CharField(
        max_length=60, blank=True, help_text="Amounts offered on the form, in pounds, e.g. “15, 30, 60, 120”. "
                                             "Blank: the site's usual amounts.")

    content_panels = Page.content_panels + [
        FieldPanel("campaign"),
        MultiFieldPanel([FieldPanel("hero_image"), FieldPanel("hero_alt")], heading="Hero"),
        FieldPanel("intro"),
        FieldPanel("body"),
        FieldPanel("preset_amounts"),
    ]
    search_fields = Page.search_fields + [index.SearchField("intro"), index.SearchField("body")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = []

    def preset_pence(self) -> list[int]:
        amounts = []
        for part in self.preset_amounts.replace("£", "").split(","):
            try:
                pence = int(round(float(part.strip()) * 100))
            except ValueError:
                continue
            if pence > 0:
                amounts.append(pence)
        return amounts[:4]

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["totals"] = campaign_totals(campaign=self.campaign)
        if self.campaign.kind == self.campaign.Kind.PEER_TO_PEER:
            context["leaderboard"] = fundraiser_leaderboard(campaign=self.campaign)
        context.update(donate_context(request, campaign=self.campaign, presets=self.preset_pence()))
        return context


class StoryIndexPage(Page):
    intro = RichTextField(blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]
    subpage_types = ["cms.StoryPage"]
    max_count = 1

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["stories"] = StoryPage.objects.live().public().child_of(self).order_by("-date")
        return context


class StoryPage(SocialImageMixin, Page):
    """A story or news item: how children came home."""

    date = models.DateField("Date published")
    hero_image = models.ForeignKey("wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    hero_alt = models.CharField("Hero image description", max_length=255, blank=True)
    summary = models.CharField(max_length=255)
    body = StreamField(StoryBlock(), blank=True, use_json_field=True)

    content_panels = Page.content_panels + [
        FieldPanel("date"), MultiFieldPanel([FieldPanel("hero_image"), FieldPanel("hero_alt")], heading="Hero"),
        FieldPanel("summary"), FieldPanel("body"),
    ]
    search_fields = Page.search_fields + [index.SearchField("summary"), index.SearchField("body")]
    parent_page_types = ["cms.StoryIndexPage"]
    subpage_types = []


# --- Mailings: an appeal email to a segment of supporters -------------------------

class Mailing(models.Model):
    """An appeal email that fundraising staff write, aim at a segment and send.
    Only supporters with current email consent receive it (it is marketing);
    each gets one MailingRecipient row, so a resumed send never mails anyone twice."""
    wagtail_reference_index_ignore = True

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"

    class Giving(models.TextChoices):
        ANY = "any", "Everyone in the segment"
        MONTHLY = "monthly", "Monthly givers only"
        NOT_MONTHLY = "not_monthly", "Not monthly givers"

    name = models.CharField(max_length=120, help_text="For staff only, e.g. “Christmas appeal, lapsed donors”.")
    subject = models.CharField(max_length=200, help_text="May use {{ first_name }}.")
    body = models.TextField(
        help_text="Paragraphs separated by a blank line. Placeholders: {{ first_name }}, {{ full_name }}, "
                  "{{ charity_name }}. The sign-off (“With warm thanks, the team at …”), the charity's details "
                  "and an unsubscribe link are added below.")
    button_label = models.CharField(max_length=60, blank=True, default="Give now")
    button_url = models.URLField("Button link", blank=True, help_text="Where the button leads, e.g. the campaign page.")
    # The segment: every condition set must hold.
    tags = models.ManyToManyField("taggit.Tag", blank=True, related_name="+",
                                  help_text="Supporters with any of these tags.")
    campaign = models.ForeignKey("campaigns.Campaign", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", help_text="Supporters who have given to this campaign.")
    last_gift_from = models.DateField(null=True, blank=True, help_text="Whose most recent gift was on or after…")
    last_gift_to = models.DateField(null=True, blank=True, help_text="…and on or before (e.g. lapsed donors).")
    giving = models.CharField("Monthly giving", max_length=12, choices=Giving.choices, default=Giving.ANY)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    send_started_at = models.DateTimeField(null=True, blank=True)
    send_finished_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveIntegerField(default=0, help_text="Supporters chosen when sending began.")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("send_mailing", "Can send a mailing")]

    def __str__(self):
        return self.name

    def clean(self):
        from supporters.email_wording import COMMON, check_placeholders

        check_placeholders(self, fields=("subject", "body"), allowed=COMMON)
        if self.last_gift_from and self.last_gift_to and self.last_gift_from > self.last_gift_to:
            raise ValidationError({"last_gift_to": "This date is before the “on or after” date."})
        if self.button_url and not self.button_label.strip():
            raise ValidationError({"button_label": "Give the button a label, or leave its link empty."})


class MailingRecipient(models.Model):
    """One supporter's place in a mailing. Written for everyone when sending
    begins; a worker claims a batch of pending rows (`claimed`), marks each
    `sending` just before the provider is called and `sent` after. When a worker
    dies, its `claimed` rows go back to `pending` (they were never tried) and a
    row left `sending` becomes `unknown` and is never sent again: a missed
    appeal is better than a second copy."""
    wagtail_reference_index_ignore = True

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        CLAIMED = "claimed", "Taken by a worker"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not sent (consent withdrawn, suppressed or erased)"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Interrupted (not sent again)"

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="recipients")
    supporter = models.ForeignKey("supporters.Supporter", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    message = models.OneToOneField("supporters.EmailMessage", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mailing", "supporter"], name="one_message_per_supporter")]
        indexes = [models.Index(fields=["mailing", "status"], name="mailing_recipient_status_idx"),
                   models.Index(fields=["mailing", "updated_at"], name="mailing_recipient_activity_idx")]
