from django.db import models
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from cms.blocks import StoryBlock


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

    panels = [FieldPanel("footer_text"), FieldPanel("charity_number"), FieldPanel("registered_office"),
              FieldPanel("contact_email"), FieldPanel("contact_phone")]

    class Meta:
        verbose_name = "Charity details"


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
        from campaigns.selectors import campaign_totals

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
        from campaigns.selectors import campaign_totals
        from donations.views import donate_context

        context = super().get_context(request, *args, **kwargs)
        context["totals"] = campaign_totals(campaign=self.campaign)
        if self.campaign.kind == self.campaign.Kind.PEER_TO_PEER:
            from campaigns.selectors import fundraiser_leaderboard

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
