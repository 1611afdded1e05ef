from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page


class HomePage(Page):
    """The front door: what the charity does and a way to give."""

    intro = RichTextField(blank=True, features=["bold", "italic", "link"])
    body = RichTextField(blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("body")]
    parent_page_types = ["wagtailcore.Page"]
    max_count = 1


class StandardPage(Page):
    """About us, privacy notice, contact and the like."""

    body = RichTextField(blank=True)

    content_panels = Page.content_panels + [FieldPanel("body")]
