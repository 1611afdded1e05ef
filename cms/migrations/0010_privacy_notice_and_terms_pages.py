"""A privacy notice and terms of giving, so that a fresh site has both from its
first start (UK GDPR asks for a privacy notice where personal data is collected,
and the donation form promises terms). They are ordinary pages that staff edit;
Settings → Charity details says which pages the footer and the form link to."""

from django.db import migrations
from django.utils import timezone

PRIVACY_BODY = """
<p>Brightwell Children's Trust (“we”, “us”) is the controller of the personal data you give us. This notice
explains what we collect, why, who sees it, how long we keep it and the rights you have. We never sell or swap
your details.</p>
<h2>Who we are and how to reach us</h2>
<p>Brightwell Children's Trust is a registered charity in England and Wales. The charity number and our
registered office are at the foot of every page. For anything about your data, write to our data protection
lead at <a href="mailto:supporters@brightwell.example">supporters@brightwell.example</a>, call us on
020 7946 0000, or write to us at our registered office.</p>
<h2>What we collect</h2>
<ul>
<li><b>When you give:</b> your name, email address, home address, the gift itself (amount, date, the appeal you
gave to), whether you have made a Gift Aid declaration, and a phone number if you give us one so that we can
call or text you.</li>
<li><b>Card details</b> go straight from your browser to our payment processor, Stripe: we never see or store
your full card number. For a monthly gift we keep the card's type, last four digits and expiry date, so that we
can tell you when it needs updating.</li>
<li><b>How you would like to hear from us:</b> which ways (email, post, phone, text) you have agreed to, and when
and how you told us, including when you change your mind.</li>
<li><b>When you fundraise for us:</b> your fundraising page's story, target and any photo you add.</li>
<li><b>When you are in touch:</b> notes of calls, letters, emails and meetings, so that we remember what you
told us.</li>
<li><b>Emails we send you:</b> whether each one was delivered and, where your email app reports it, opened.</li>
</ul>
<h2>Why we use it, and the law that allows it</h2>
<ul>
<li><b>To take your gift, send your receipt and run your monthly gift</b> (including telling you if a payment
fails): because you asked us to (performing our agreement with you) and our legitimate interest in running the
charity well.</li>
<li><b>To claim Gift Aid</b> and keep the records HMRC requires: a legal obligation.</li>
<li><b>To send you news and appeals by email or post, phone you or text you:</b> only if you have said yes to
that channel. You can withdraw your consent at any time, with the unsubscribe link in any email or by
contacting us, and we will stop.</li>
<li><b>To thank you, keep our records accurate, prevent fraud</b> (for example stopping stolen cards being
tested on our donation form) <b>and understand how our supporters give:</b> our legitimate interests, which we
balance against your rights. You can object at any time.</li>
</ul>
<h2>Who we share it with</h2>
<ul>
<li><b>Stripe</b>, which processes card payments for us.</li>
<li><b>Our email provider</b>, which delivers our emails for us.</li>
<li><b>HMRC</b>, when we claim Gift Aid on your gifts: your name, house name or number, postcode and the
gifts.</li>
<li><b>The companies that host and support our systems</b>, under contracts that let them use your data only
on our instructions.</li>
<li><b>The police, courts or regulators</b>, only where the law requires us to.</li>
</ul>
<p>Some of these providers, Stripe among them, may process data outside the UK. Where they do, it is protected
by the UK's adequacy regulations or by the International Data Transfer Agreement approved by the Information
Commissioner.</p>
<h2>How long we keep it</h2>
<ul>
<li>Records of gifts and Gift Aid declarations: six years after the end of the financial year they relate to,
as HMRC requires (for a declaration, six years after the last gift it covers).</li>
<li>Your contact preferences: while we hold your details. If you ask us not to contact you, we keep a short
record of that so that we never contact you by mistake.</li>
<li>If you ask us to erase your details, we remove them and keep only an anonymous record of your gifts for our
accounts.</li>
</ul>
<h2>Your rights</h2>
<p>You have the right to ask for a copy of the data we hold about you, to have it corrected, to have it erased,
to restrict or object to how we use it (including an absolute right to stop direct marketing), to receive it in
a portable form, and to withdraw any consent you have given. Contact us as above; we will answer within one
month, free of charge.</p>
<p>If you are unhappy with how we have used your data, please tell us first. You also have the right to
complain to the Information Commissioner's Office: <a href="https://ico.org.uk/make-a-complaint/">ico.org.uk/make-a-complaint</a>
or 0303 123 1113.</p>
<h2>Cookies</h2>
<p>We use only the cookies the site needs to work: one that keeps your donation form's session and one that
protects it against forged submissions. When you pay by card, Stripe sets its own cookies to prevent fraud. We
use no advertising or tracking cookies.</p>
<h2>Changes to this notice</h2>
<p>We will update this notice when what we do changes, and say so here. Last updated: {updated}.</p>
"""

TERMS_BODY = """
<p>Thank you for giving to Brightwell Children's Trust. These terms apply to gifts made on this website. Please
read them with our <a href="/privacy-notice/">privacy notice</a>, which explains how we use your details.</p>
<h2>Your gift</h2>
<ul>
<li>A gift is a voluntary donation to Brightwell Children's Trust, a registered charity in England and Wales.
</li>
<li>When you give to a particular campaign or appeal, we use your gift for that work. If it raises more than it
needs, or cannot go ahead, we use your gift where it is most needed in our work to help children grow up in
families.</li>
<li>If you choose to cover the card fee, the extra amount is added to your gift so that all of it reaches our
work.</li>
<li>Payments are taken in pounds sterling by our payment processor, Stripe. Your card details go straight to
Stripe and never reach us.</li>
</ul>
<h2>Monthly gifts</h2>
<ul>
<li>Your first monthly payment is taken when you set up your gift. Later payments are taken on the same day of
each month (on the 28th if you start on the 29th, 30th or 31st).</li>
<li>You can change the amount, update your card or stop your gift at any time with the link in your welcome
email, or by contacting us. A change made before a payment day applies to that payment.</li>
<li>If a payment does not go through, we try again 3 days and then 7 days later, and email you each time so that
you can update your card.</li>
</ul>
<h2>Mistakes and refunds</h2>
<p>If you gave by mistake, gave the wrong amount or gave twice, tell us within 30 days and we will refund the
gift in full to the card it came from. We may refund later gifts too where it is fair to. We will also cancel
any Gift Aid on a refunded gift.</p>
<h2>Gift Aid</h2>
<p>Gift Aid adds 25p to every £1 you give, at no cost to you, if you pay enough UK Income Tax or Capital Gains
Tax. If you pay less Income Tax and/or Capital Gains Tax than the amount of Gift Aid claimed on all your
donations in that tax year, it is your responsibility to pay any difference. Please tell us if you want to
cancel your declaration, change your name or home address, or no longer pay enough tax.</p>
<h2>Fundraising pages</h2>
<p>If you set up a fundraising page, please keep what you write on it true and kind. We check every page before
it goes live and may hide a page that breaks these terms. Gifts to a fundraising page come to us; sponsorship
from you, the fundraiser, or a close relative cannot carry Gift Aid.</p>
<h2>Our promise and complaints</h2>
<p>We follow the Code of Fundraising Practice. If you are unhappy with anything we have done, please contact us
at <a href="mailto:supporters@brightwell.example">supporters@brightwell.example</a> or on 020 7946 0000 and we
will put it right if we can. If you are still not satisfied, you can ask the Fundraising Regulator to look at
your complaint.</p>
<p>These terms are governed by the law of England and Wales. Last updated: {updated}.</p>
"""

PAGES = (
    ("privacy_page", "Privacy notice", "privacy-notice", PRIVACY_BODY,
     "How Brightwell Children's Trust uses your personal data, and your rights."),
    ("terms_page", "Terms of giving", "terms-of-giving", TERMS_BODY,
     "The terms that apply to gifts made on this website."),
)
_PATH_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # treebeard's, four characters a level


def _next_child_path(Page, parent) -> str:
    last = (Page.objects.filter(path__startswith=parent.path, depth=parent.depth + 1)
            .order_by("-path").values_list("path", flat=True).first())
    number = int(last[-4:], 36) + 1 if last else 1
    step = ""
    while number:
        number, digit = divmod(number, 36)
        step = _PATH_ALPHABET[digit] + step
    return parent.path + step.rjust(4, "0")


def create_pages(apps, schema_editor):
    # Historical models have no add_child(): the tree fields are set as treebeard would.
    ContentType = apps.get_model("contenttypes", "ContentType")
    Page = apps.get_model("wagtailcore", "Page")
    Site = apps.get_model("wagtailcore", "Site")
    StandardPage = apps.get_model("cms", "StandardPage")
    CharitySettings = apps.get_model("cms", "CharitySettings")
    site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
    if site is None:
        return
    home = site.root_page
    content_type, _ = ContentType.objects.get_or_create(app_label="cms", model="standardpage")
    now = timezone.now()
    updated = f"{timezone.localdate():%-d %B %Y}"
    links = {}
    for field, title, slug, body, description in PAGES:
        page = Page.objects.filter(path__startswith=home.path, depth=home.depth + 1, slug=slug).first()
        if page is None:
            page = StandardPage.objects.create(
                title=title, draft_title=title, slug=slug, content_type=content_type,
                path=_next_child_path(Page, home), depth=home.depth + 1, numchild=0,
                url_path=f"{home.url_path}{slug}/", body=body.strip().format(updated=updated),
                search_description=description, live=True, show_in_menus=False, locale_id=home.locale_id,
                first_published_at=now, last_published_at=now,
            )
            Page.objects.filter(pk=home.pk).update(numchild=Page.objects.filter(
                path__startswith=home.path, depth=home.depth + 1).count())
        links[field] = page.pk
    settings, _ = CharitySettings.objects.get_or_create(site=site)
    for field, page_id in links.items():
        if getattr(settings, f"{field}_id") is None:
            setattr(settings, f"{field}_id", page_id)
    settings.save()


class Migration(migrations.Migration):
    dependencies = [("cms", "0009_privacy_notice_and_terms")]

    operations = [migrations.RunPython(create_pages, migrations.RunPython.noop)]
