"""StreamField blocks for the charity's pages: one small StructBlock each, with
its own template under templates/blocks/."""

from wagtail import blocks
from wagtail.embeds.blocks import EmbedBlock
from wagtail.images.blocks import ImageChooserBlock


class ImageBlock(blocks.StructBlock):
    image = ImageChooserBlock()
    alt_text = blocks.CharBlock(required=False, help_text="Describe the picture for people who cannot see it. "
                                                          "Leave blank only if it is decoration.")
    caption = blocks.CharBlock(required=False)

    class Meta:
        icon = "image"
        template = "blocks/image_block.html"


class QuoteBlock(blocks.StructBlock):
    quote = blocks.TextBlock()
    attribution = blocks.CharBlock(required=False, help_text="E.g. “Ana, foster carer in Moldova”.")

    class Meta:
        icon = "openquote"
        template = "blocks/quote_block.html"


class ImpactItemBlock(blocks.StructBlock):
    amount = blocks.DecimalBlock(min_value=1, decimal_places=2, help_text="In pounds.")
    pays_for = blocks.CharBlock(help_text="What it pays for, e.g. “a social worker's visit to a family”.")


class ImpactBlock(blocks.StructBlock):
    """“£25 pays for …”: what gifts of different sizes do."""

    heading = blocks.CharBlock(default="What your gift does")
    items = blocks.ListBlock(ImpactItemBlock(), min_num=1, max_num=6)

    class Meta:
        icon = "tick-inverse"
        template = "blocks/impact_block.html"


class VideoBlock(blocks.StructBlock):
    video = EmbedBlock(help_text="A YouTube or Vimeo address.")
    caption = blocks.CharBlock(required=False)

    class Meta:
        icon = "media"
        template = "blocks/video_block.html"


class StoryBlock(blocks.StreamBlock):
    paragraph = blocks.RichTextBlock(features=["h2", "h3", "bold", "italic", "link", "ol", "ul"],
                                     template="blocks/paragraph_block.html")
    image = ImageBlock()
    quote = QuoteBlock()
    impact = ImpactBlock()
    video = VideoBlock()
