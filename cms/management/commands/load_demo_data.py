"""Fill the site with a believable data set: supporters with consent histories,
past gifts and monthly givers (on their timelines, as the giving services put
them), a few campaigns with their appeals, staff logins for each role. Two tax
years of giving (the last whole, this one to date) follow the year's seasons,
for the fundraising dashboard (cms/demo_giving.py).

    python manage.py load_demo_data                  # 500 supporters
    python manage.py load_demo_data --supporters 100000
    python manage.py load_demo_data --if-empty       # what `make run` calls

Supporters are written with bulk_create in batches (100,000 in well under a
minute); their current consent is derived from the generated history with the
same function the consent service uses."""

import datetime
import random
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from campaigns.models import Campaign, FundraiserPage
from cms import demo_giving
from cms.demo_imports import write_demo_import_files
from cms.demo_images import demo_image
from cms.models import CampaignPage, HomePage, Mailing, StandardPage, StoryIndexPage, StoryPage
from cms.services import staff_two_factor
from config.errors import ApplicationError
from donations.models import Donation, GiftAidClaim, GiftKind
from donations.services import (
    campaign_totals_rebuild,
    income_rollups_rebuild,
    donation_record_offline,
    donations_import,
    gift_aid_claims,
    gift_aid_rules,
)
from finance.demo import load_finance_demo
from supporters.models import (
    AcquisitionSource,
    Channel,
    ConsentEvent,
    ConsentMethod,
    GiftAidDeclaration,
    Interaction,
    Supporter,
    SupporterTag,
)
from supporters.services import GIFT_AID_WORDING_VERSION, consent_state_from_events, gift_aid_wording

WOMEN = (
    "Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Ella Evie Charlotte Florence Poppy "
    "Zoë Chloé Niamh Siobhán Aoife Priya Aisha Fatima Maryam Hannah Ruth Margaret Susan Jean Patricia Helen"
).split()
MEN = (
    "Noah Oliver George Arthur Leo Muhammad Harry Oscar Archie Henry Theo Jack Freddie Charlie Thomas James "
    "William David John Peter Michael Robert Stephen Andrew Rajesh Arjun Kwame Tomás Seán Dafydd Rhys Callum"
).split()
FIRST_NAMES = WOMEN + MEN
LAST_NAMES = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright "
    "Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill "
    "Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker "
    "Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller "
    "Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell "
    "O'Brien O'Connor McDonald MacLeod Smith-Jones Lloyd-Webber Nowak Kowalski Okafor Mensah Ahmed"
).split() + ["Ní Bhriain", "de la Cruz"]
TITLES_WOMEN = ["Mrs", "Ms", "Miss", "Dr", "", ""]
TITLES_MEN = ["Mr", "Mr", "Dr", "", ""]
STREETS = (
    "High Street|Station Road|Church Lane|Victoria Road|Green Lane|Manor Road|Park Road|Queens Road|"
    "The Crescent|Mill Lane|Kings Road|New Road|Grange Road|School Lane|Orchard Close|Elm Grove|"
    "Willow Way|Chapel Street|North Street|Albert Road|York Road|Springfield Road|Main Street|Castle Street"
).split("|")
HOUSE_NAMES = ["Rose Cottage", "The Old Rectory", "Ivy House", "Flat 2", "Flat 14", "The Laurels", "Mill House"]
UK_PLACES = [
    ("SW1A", "London", "Greater London"), ("N16", "London", "Greater London"), ("E8", "London", "Greater London"),
    ("SE15", "London", "Greater London"), ("M1", "Manchester", "Greater Manchester"), ("B15", "Birmingham", "West Midlands"),
    ("LS6", "Leeds", "West Yorkshire"), ("EH3", "Edinburgh", ""), ("CF10", "Cardiff", ""), ("BS8", "Bristol", ""),
    ("NE1", "Newcastle upon Tyne", "Tyne and Wear"), ("L8", "Liverpool", "Merseyside"), ("G12", "Glasgow", ""),
    ("OX4", "Oxford", "Oxfordshire"), ("CB2", "Cambridge", "Cambridgeshire"), ("BN1", "Brighton", "East Sussex"),
    ("NR2", "Norwich", "Norfolk"), ("YO1", "York", "North Yorkshire"), ("PL4", "Plymouth", "Devon"),
    ("EX4", "Exeter", "Devon"), ("BT9", "Belfast", "County Antrim"), ("AB10", "Aberdeen", ""), ("SA1", "Swansea", ""),
]
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
ABROAD = [
    ("IE", "Dublin", "D04 X2T5"), ("IE", "Cork", "T12 K8AF"), ("FR", "Lyon", "69002"), ("US", "Boston, MA", "02118"),
    ("DE", "Berlin", "10115"), ("ES", "Madrid", "28013"),
]
EMAIL_DOMAINS = ["example.com", "example.org", "example.net", "mail.example", "post.example"]
TAGS = ["major donor", "volunteer", "event: marathon 2026", "trustee contact", "legacy pledger", "church group",
        "school fundraiser", "corporate contact", "lapsed"]
SOURCES = [s.value for s in AcquisitionSource if s != AcquisitionSource.IMPORT] + [AcquisitionSource.IMPORT.value] * 3
WEB_WORDING = {
    Channel.EMAIL: "Yes, I'd like to hear by email how my gift helps children grow up in families, and about appeals and events.",
    Channel.POST: "Yes, you can send me news and appeals by post.",
    Channel.PHONE: "Yes, you can call me about your work and ways I can help.",
    Channel.SMS: "Yes, you can text me about urgent appeals.",
}
NOTES = [
    ("call", "Thank-you call after first gift", "Very pleased to hear about the Moldova programme."),
    ("letter", "Sent welcome pack", ""),
    ("note", "Prefers to be contacted in the evening", ""),
    ("meeting", "Met at the London supporter evening", "Asked about leaving a gift in their will."),
    ("call", "Asked to update address", "Moving house next month; will send new address."),
]
DEMO_PASSWORD = "brightwell-demo"
DEMO_LOGINS = ["admin", "fundraiser", "finance"]


def demo_sign_in_help(key_hex: str) -> str:
    return (
        "Their second sign-in step (development only): add this key to any authenticator app\n"
        f"  {staff_two_factor.two_factor_secret_text(device=None, key_hex=key_hex)}  (time-based, 6 digits, 30 s)\n"
        "or, with no phone, print the code now:  .venv/bin/python manage.py demo_sign_in_code\n"
    )
CAMPAIGN_PAGES = [
    ("home-for-christmas-2026", "Home for Christmas", "home-for-christmas",
     "This Christmas, help 200 children leave orphanages and wake up in a family of their own.", 1),
    ("london-marathon-2027", "Run the London Marathon for families", "london-marathon",
     "Take on 26.2 miles in April 2027 and help bring children home from orphanages.", 2),
]
CAMPAIGN_BODY = [
    ("paragraph", "<p>Across Europe and beyond, tens of thousands of children still grow up in institutions. "
                  "Most have a parent or relative who could care for them with the right support.</p>"
                  "<h2>How your gift helps</h2><p>Our social workers help families overcome poverty and "
                  "stigma, train foster carers, and support young people as they leave care.</p>"),
    ("quote", {"quote": "I didn't think I could give him a home. Now he laughs at breakfast every day.",
               "attribution": "Elena, a mother in Moldova"}),
    ("impact", {"heading": "What your gift does", "items": [
        {"amount": "15", "pays_for": "a family's first week of food after their child comes home"},
        {"amount": "30", "pays_for": "a social worker's visit to keep a family together"},
        {"amount": "60", "pays_for": "training for a foster carer"},
        {"amount": "120", "pays_for": "a young care leaver's first month in their own home"},
    ]}),
]
STORIES = [
    ("Andrei comes home", "After four years in an institution, Andrei is back with his grandmother.",
     ("He asks me every night if he can stay. I tell him: always.", "Maria, Andrei's grandmother")),
    ("The last orphanage in the region closes", "A milestone, reached with the regional government and local partners.",
     ("Every child who lived here now has a family or a small home in the community.", "The regional social services director")),
    ("Meet our foster carers", "Three families who opened their homes this year.",
     ("We had room in our house and in our hearts.", "Ion and Natalia, foster carers")),
]
FUNDRAISERS = [
    ("{name} runs 26.2 miles for families", "I've never run further than 10k, but every child deserves a home."),
    ("{name}'s first marathon", "My mum fostered three children. This one's for them."),
    ("Team {name}: London or bust", "Running with my colleagues to help close orphanages for good."),
]
STORY_TEXT = ("With support from our social workers, the family found a way through: help with housing, school "
              "and the day-to-day. It takes patience and time, and it works.")
HOME_BODY = (
    "<h2>Why families, not orphanages</h2>"
    "<p>Eight in ten children in orphanages have a living parent. Poverty, disability and discrimination put "
    "them there, and decades of research show that institutions harm children's development. A family, with "
    "the right support, does not.</p>"
    "<h2>What your gift does</h2>"
    "<ul><li><b>£25</b> pays for a social worker's visit to help a family stay together.</li>"
    "<li><b>£60</b> trains a foster carer to welcome a child leaving an orphanage.</li>"
    "<li><b>£150</b> helps a young person leaving care set up their first home.</li></ul>"
)
ABOUT_BODY = (
    "<p>Brightwell Children's Trust works with governments, local charities and communities to close "
    "orphanages and build the family and community services that replace them.</p>"
    "<p>We never fund orphanages or orphanage volunteering. Every pound goes to helping children grow up "
    "in families.</p>"
)


class Command(BaseCommand):
    help = "Load believable demo data: supporters with consent histories, campaigns, staff logins."

    def add_arguments(self, parser):
        parser.add_argument("--supporters", type=int, default=500, help="How many supporters to add (default 500).")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if there are supporters already.")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed, for a repeatable data set.")
        parser.add_argument("--no-users", action="store_true", help="Do not create the demo staff logins.")

    def handle(self, *args, supporters, if_empty, seed, no_users, **options):
        if if_empty and Supporter.objects.exists():
            self.stdout.write("Demo data already loaded; nothing to do.")
            if settings.DEMO_STAFF_TOTP_KEY and not no_users:  # a demo database made before two-factor sign-in
                for user in get_user_model().objects.filter(username__in=DEMO_LOGINS):
                    staff_two_factor.two_factor_give_demo_device(user=user, key_hex=settings.DEMO_STAFF_TOTP_KEY)
                self.stdout.write(demo_sign_in_help(settings.DEMO_STAFF_TOTP_KEY))
            return
        rng = random.Random(seed)
        self.gift_aid_wording = gift_aid_wording()
        started = time.monotonic()
        self.create_campaigns()
        demo_giving.create_appeal_campaigns(today=timezone.localdate())
        self.seasons = demo_giving.GivingSeasons(today=timezone.localdate(), now=timezone.now())
        self.create_pages()
        created = self.create_supporters(rng, supporters)
        self.create_fundraisers(rng)
        self.create_collections(rng)
        self.create_past_gift_aid_claim()
        load_finance_demo(rng=rng)
        self.create_draft_mailing()
        campaign_totals_rebuild()  # the gifts were bulk-loaded, past the services that keep totals
        income_rollups_rebuild()  # and past those that keep the dashboard's rollups
        demo_giving.set_targets(rng, today=timezone.localdate())
        files = write_demo_import_files(rng=rng, today=timezone.localdate())
        self.stdout.write("Files to try the imports with: " + ", ".join(str(path) for path in files))
        elapsed = time.monotonic() - started
        self.stdout.write(f"Created {created:,} supporters with consent histories in {elapsed:.1f} s.")
        if not no_users:
            self.create_staff_logins()

    def create_campaigns(self):
        today = timezone.localdate()
        Campaign.objects.get_or_create(
            code="home-for-christmas-2026",
            defaults=dict(
                name="Home for Christmas 2026", kind=Campaign.Kind.APPEAL, status=Campaign.Status.LIVE,
                target_pence=25_000_000, budget_pence=1_800_000, starts_on=today - datetime.timedelta(days=20),
                ends_on=today + datetime.timedelta(days=40),
            ),
        )
        Campaign.objects.get_or_create(
            code="london-marathon-2027",
            defaults=dict(
                name="London Marathon 2027: run for families", kind=Campaign.Kind.PEER_TO_PEER,
                status=Campaign.Status.LIVE, target_pence=8_000_000, budget_pence=450_000,
                starts_on=today - datetime.timedelta(days=5), ends_on=today + datetime.timedelta(days=150),
            ),
        )
        Campaign.objects.get_or_create(
            code="families-not-orphanages",
            defaults=dict(
                name="Families, not orphanages: monthly giving", kind=Campaign.Kind.REGULAR_GIVING,
                status=Campaign.Status.LIVE, target_pence=0, budget_pence=300_000,
                starts_on=today - datetime.timedelta(days=1200),  # before its longest-standing givers began
            ),
        )

    def create_pages(self):
        home = HomePage.objects.first()
        if home is None:
            return
        if not home.body:
            home.body = HOME_BODY
            home.save_revision().publish()
        if not StandardPage.objects.filter(slug="about-us").exists():
            home.add_child(instance=StandardPage(title="About us", slug="about-us", show_in_menus=True, body=ABOUT_BODY))
        for code, title, slug, intro, seed in CAMPAIGN_PAGES:
            if CampaignPage.objects.filter(slug=slug).exists():
                continue
            image = demo_image(title, seed, "An illustration of homes on a hillside with a family walking together")
            home.add_child(instance=CampaignPage(
                title=title, slug=slug, campaign=Campaign.objects.get(code=code), hero_image=image,
                hero_alt="An illustration of homes on a hillside at sunset, with a family walking together",
                intro=intro, search_description=intro, body=CAMPAIGN_BODY,
                preset_amounts="15, 30, 60, 120" if code.startswith("home") else "",
            ))
        if not StoryIndexPage.objects.exists():
            index = home.add_child(instance=StoryIndexPage(title="Stories", slug="stories", show_in_menus=True,
                                                           intro="<p>How children came home.</p>"))
            for number, (title, summary, quote) in enumerate(STORIES):
                image = demo_image(title, 10 + number, "An illustration of a family home")
                index.add_child(instance=StoryPage(
                    title=title, summary=summary, date=timezone.localdate() - datetime.timedelta(days=9 * number + 3),
                    hero_image=image, hero_alt="An illustration of a small house with warm lit windows",
                    body=[("paragraph", f"<p>{summary}</p><p>{STORY_TEXT}</p>"),
                          ("quote", {"quote": quote[0], "attribution": quote[1]})],
                ))

    def create_supporters(self, rng: random.Random, count: int, batch_size: int = 5000) -> int:
        now = timezone.now()
        campaigns = list(Campaign.objects.all())
        monthly_campaign = Campaign.objects.filter(code="families-not-orphanages").first()
        monthly_appeals = list(monthly_campaign.appeals.all()) if monthly_campaign else []
        tag_objects = {name: SupporterTag.tag_model().objects.get_or_create(name=name)[0] for name in TAGS}
        made = 0
        while made < count:
            size = min(batch_size, count - made)
            with transaction.atomic():
                people = [self.make_supporter(rng, now) for _ in range(size)]
                # A few likely duplicates, so that the duplicates screen has work to show.
                for i in range(0, size - 1, 97):
                    twin = people[i + 1]
                    source = people[i]
                    twin.first_name, twin.last_name = source.first_name, source.last_name
                    if rng.random() < 0.5:
                        twin.email = source.email
                    else:
                        twin.postcode, twin.country, twin.email = source.postcode, source.country, ""
                histories = [self.make_consent_history(rng, person, now) for person in people]
                for person, history in zip(people, histories):
                    for channel, granted in consent_state_from_events(history).items():
                        setattr(person, f"consent_{channel}", granted)
                    if not person.phone and any(e.channel in (Channel.PHONE, Channel.SMS) for e in history):
                        person.phone = self.make_mobile(rng)  # the form asks for a number with those boxes
                Supporter.objects.bulk_create(people, batch_size=1000)
                declarations = [self.make_declaration(rng, person) for person in people]
                GiftAidDeclaration.objects.bulk_create([d for d in declarations if d], batch_size=2000)
                events, interactions, tagged = [], [], []
                for person, history in zip(people, histories):
                    for event in history:
                        event.supporter = person
                        events.append(event)
                        interactions.append(Interaction(
                            supporter=person, kind=Interaction.Kind.CONSENT, occurred_at=event.occurred_at,
                            summary=f"{event.get_channel_display()} consent {'given' if event.granted else 'withdrawn'} "
                                    f"({event.get_method_display().lower()})",
                        ))
                    if rng.random() < 0.25:
                        kind, summary, detail = rng.choice(NOTES)
                        interactions.append(Interaction(
                            supporter=person, kind=kind, summary=summary, detail=detail,
                            occurred_at=person.created_at + datetime.timedelta(days=rng.randint(1, 300)),
                        ))
                    if rng.random() < 0.3:
                        for name in rng.sample(TAGS, rng.randint(1, 2)):
                            tagged.append(SupporterTag(content_object=person, tag=tag_objects[name]))
                ConsentEvent.objects.bulk_create(events, batch_size=2000)
                # Through the services that record gifts, so each gift is on its giver's timeline.
                gifts = [gift for person, declaration in zip(people, declarations)
                         for gift in (self.make_past_gifts(rng, person, campaigns, declared=declaration is not None)
                                      + self.seasons.gifts_of(rng, person, declared=declaration is not None))]
                donations_import(donations=gifts)
                demo_giving.record_refunds(gifts=gifts)
                monthly = [gift for person, declaration in zip(people, declarations)
                           if (gift := demo_giving.monthly_gift(rng, person, campaign=monthly_campaign,
                                                                 appeals=monthly_appeals, now=now,
                                                                 declared=declaration is not None))]
                demo_giving.monthly_this_month(rng, monthly, now=now)
                demo_giving.import_monthly_gifts(rng, monthly, now=now)
                Interaction.objects.bulk_create(interactions, batch_size=2000)
                SupporterTag.objects.bulk_create(tagged, batch_size=2000)
            made += size
        return made

    def make_supporter(self, rng: random.Random, now: datetime.datetime) -> Supporter:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        title = rng.choice(TITLES_WOMEN if first in WOMEN else TITLES_MEN)
        local = f"{first}.{last}".lower().replace("'", "").replace(" ", "").replace("ë", "e").replace("é", "e") \
            .replace("á", "a").replace("í", "i")
        email = f"{local}{rng.randint(1, 9999)}@{rng.choice(EMAIL_DOMAINS)}" if rng.random() < 0.9 else ""
        created = now - datetime.timedelta(days=rng.randint(0, 3650), seconds=rng.randint(0, 86400))
        person = Supporter(
            title=title, first_name=first, last_name=last, email=email,
            source=rng.choice(SOURCES), created_at=created,
            phone=self.make_mobile(rng) if rng.random() < 0.4 else "",
            date_of_birth=datetime.date(rng.randint(1935, 2004), rng.randint(1, 12), rng.randint(1, 28))
            if rng.random() < 0.2 else None,
        )
        if rng.random() < 0.03:
            country, town, postcode = rng.choice(ABROAD)
            person.country, person.address_town, person.postcode = country, town, postcode
            person.address_house, person.address_street = str(rng.randint(1, 120)), rng.choice(STREETS)
        elif rng.random() < 0.92:
            outward, town, county = rng.choice(UK_PLACES)
            person.postcode = f"{outward} {rng.randint(1, 9)}{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"
            person.address_town, person.address_county = town, county
            person.address_house = rng.choice(HOUSE_NAMES) if rng.random() < 0.1 else str(rng.randint(1, 240))
            person.address_street = rng.choice(STREETS)
        self.seasons.plan(rng, person)  # may move `created_at` to their first gift
        return person

    @staticmethod
    def make_mobile(rng) -> str:
        return f"+447{rng.choice((400, 500, 800, 900))}{rng.randint(100000, 999999)}"

    def create_fundraisers(self, rng):
        """A few approved fundraising pages under the marathon, with sponsorship gifts."""
        marathon = Campaign.objects.filter(code="london-marathon-2027").first()
        if marathon is None or FundraiserPage.objects.filter(campaign=marathon).exists():
            return
        people = list(Supporter.objects.order_by("?")[:3 + 12])
        if len(people) < 15:
            return
        runners, sponsors = people[:3], people[3:]
        for index, (runner, (title, story)) in enumerate(zip(runners, FUNDRAISERS)):
            page = FundraiserPage.objects.create(
                campaign=marathon, supporter=runner, slug=slugify(f"{runner.first_name} {runner.last_name} marathon {index}"),
                title=title.format(name=runner.first_name), story=story,
                target_pence=50_000 * (index + 1), status=FundraiserPage.Status.APPROVED, reviewed_at=timezone.now())
            # Sponsors gave online over the weeks since the page went up (not all at the moment the demo loaded).
            opened = timezone.make_aware(datetime.datetime.combine(marathon.starts_on, datetime.time(9)))
            moments = sorted(opened + (timezone.now() - opened) * rng.random() for _ in range(4))
            donations_import(donations=[
                Donation(supporter=sponsor, amount_pence=rng.choice((1000, 2000, 2500, 5000)),
                         status=Donation.Status.SUCCEEDED, channel=Donation.Channel.WEB, campaign=marathon,
                         fundraiser_page=page, is_sponsorship=True, created_at=moment, paid_at=moment)
                for sponsor, moment in zip(sponsors[index * 4:(index + 1) * 4], moments)
            ])

    def make_declaration(self, rng, person) -> GiftAidDeclaration | None:
        """About half of those with a home address have declared Gift Aid; a few
        old declarations came from the previous database without a postcode, and
        are held as "needs data" until finance completes them."""
        if not person.address_house or rng.random() >= 0.5:
            return None
        legacy = rng.random() < 0.02
        method = "imported" if legacy else rng.choice(("online", "online", "online", "written", "written", "oral"))
        declared_on = min(timezone.localdate(person.created_at + datetime.timedelta(days=rng.randint(0, 30))),
                          timezone.localdate())
        return GiftAidDeclaration(
            supporter=person, title=person.title, first_name=person.first_name, last_name=person.last_name,
            address_house=person.address_house, address_street=person.address_street,
            address_town=person.address_town, postcode="" if legacy else person.postcode, country=person.country,
            declared_on=declared_on, method=method, scope="all_gifts", wording=self.gift_aid_wording,
            wording_version=GIFT_AID_WORDING_VERSION, source_detail="Demo data",
            confirmation_sent_on=declared_on if method == "oral" else None,
        )

    def make_past_gifts(self, rng, person, campaigns, declared: bool) -> list[Donation]:
        """Gifts from before the two tax years the dashboard compares, of those who
        gave then: imported from the old database, or given offline. Status and
        amounts only; no Stripe ids (these never went through it). Some came
        through JustGiving, which claimed their Gift Aid itself; some were event
        tickets, which carry none."""
        profile, first_here = person.demo_giving
        if first_here or profile not in ("older", "lapsed", "retained"):
            return []
        before = timezone.make_aware(datetime.datetime.combine(self.seasons.first_day, datetime.time()))
        gifts = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            when = person.created_at + (before - person.created_at) * rng.random()
            amount = rng.choice((500, 1000, 1000, 2000, 2500, 2500, 5000, 10000, 25000))
            channel = rng.choice((Donation.Channel.IMPORT, Donation.Channel.IMPORT, Donation.Channel.OFFLINE,
                                  Donation.Channel.POST, Donation.Channel.EVENT))
            # A one-off gift goes to a campaign that was running that day, never to monthly giving.
            running = [c for c in campaigns if c.kind != Campaign.Kind.REGULAR_GIVING
                       and (c.starts_on is None or c.starts_on <= when.date())
                       and (c.ends_on is None or when.date() <= c.ends_on)]
            gifts.append(Donation(
                supporter=person, amount_pence=amount, status=Donation.Status.SUCCEEDED, channel=channel,
                campaign=rng.choice(running) if running and rng.random() < 0.4 else None,
                gift_aid_declared=declared, created_at=when, paid_at=when,
                gift_aid_claimed_by="JustGiving" if channel == Donation.Channel.IMPORT and rng.random() < 0.2 else "",
                gift_kind=GiftKind.TICKET if channel == Donation.Channel.EVENT and rng.random() < 0.3 else GiftKind.OWN_GIFT,
            ))
        return gifts

    def create_collections(self, rng):
        """Street and event bucket collections of the last year, recorded as small
        donations (GASDS) through the offline-gift service, as finance records them."""
        christmas = Campaign.objects.filter(code="home-for-christmas-2026").first()
        today = timezone.localdate()
        for days_ago, where in ((320, "Street collection, York"), (250, "Bucket collection, Leeds summer fair"),
                                (180, "Street collection, Manchester Piccadilly"),
                                (90, "Contactless terminal, autumn concert"), (12, "Carol singing, King's Cross")):
            donation_record_offline(
                supporter=None, amount_pence=rng.randint(80, 450) * 100 + rng.choice((0, 25, 50, 72)),
                received_on=today - datetime.timedelta(days=days_ago), channel=Donation.Channel.EVENT,
                campaign=christmas if days_ago < 30 else None, small_donation=True, description=where)

    def create_past_gift_aid_claim(self):
        """Last accounting year's Gift Aid, already claimed and repaid, so that
        finance starts from where a real charity would: the months since."""
        year_end = gift_aid_rules.accounting_period_end(timezone.localdate())
        last_year_end = year_end.replace(year=year_end.year - 1)
        if GiftAidClaim.objects.exists() or not Donation.objects.filter(paid_at__date__lte=last_year_end).exists():
            return
        try:
            claim = gift_aid_claims.gift_aid_claim_build(
                period_start=last_year_end.replace(year=last_year_end.year - 1) + datetime.timedelta(days=1),
                period_end=last_year_end)
        except ApplicationError:
            return  # nothing eligible in a tiny data set
        claim = gift_aid_claims.gift_aid_claim_submit(claim=claim, hmrc_reference="DEMO-2026-0001")
        gift_aid_claims.gift_aid_claim_record_repayment(claim=claim, amount_pence=claim.repayment_due_pence,
                                                 received_on=last_year_end + datetime.timedelta(days=40),
                                                 reference="HMRC CHARITIES REPAYMENT")
        # As finance did it then: built and sent a few days after the year end, paid weeks later.
        built = timezone.make_aware(datetime.datetime.combine(last_year_end + datetime.timedelta(days=6),
                                                              datetime.time(10, 30)))
        GiftAidClaim.objects.filter(pk=claim.pk).update(
            built_at=built, submitted_at=built + datetime.timedelta(hours=2),
            outcome_at=built + datetime.timedelta(days=34))

    def make_consent_history(self, rng, person, now) -> list[ConsentEvent]:
        events = []
        when = person.created_at
        for channel in Channel.values:
            if rng.random() < {"email": 0.6, "post": 0.5, "phone": 0.2, "sms": 0.1}[channel]:
                method = rng.choice([ConsentMethod.WEB_FORM, ConsentMethod.WEB_FORM, ConsentMethod.PAPER, ConsentMethod.PHONE])
                events.append(ConsentEvent(
                    channel=channel, granted=True, method=method, occurred_at=when, recorded_at=when,
                    wording=WEB_WORDING[channel], source_detail="donation form" if method == ConsentMethod.WEB_FORM else "",
                ))
                if rng.random() < 0.15:
                    later = when + (now - when) * rng.random()
                    events.append(ConsentEvent(
                        channel=channel, granted=False,
                        method=ConsentMethod.UNSUBSCRIBE if channel == Channel.EMAIL else ConsentMethod.PHONE,
                        occurred_at=later, recorded_at=later, wording="Asked not to be contacted this way.",
                    ))
        return events

    def create_draft_mailing(self):
        """An appeal ready to send (Mailings in the admin): to everyone who gave
        before this year's appeal began, to bring them back."""
        if Mailing.objects.exists():
            return
        appeal = Campaign.objects.get(code="home-for-christmas-2026")
        Mailing.objects.create(
            name="Home for Christmas: supporters who gave before", subject="{{ first_name }}, will you help bring a child home this Christmas?",
            body="Dear {{ first_name }},\n\nLast time you gave, you helped a child leave an orphanage for a loving family. "
                 "This Christmas, 40 more children are waiting.\n\n£25 pays for a social worker's visit that keeps a "
                 "family together. Will you give again today?",
            button_label="Give now", button_url=settings.WAGTAILADMIN_BASE_URL.rstrip("/") + "/home-for-christmas/",
            last_gift_to=appeal.starts_on - datetime.timedelta(days=1) if appeal.starts_on else None)

    def create_staff_logins(self):
        User = get_user_model()
        logins = [("admin", "Ada", "Admin", None), ("fundraiser", "Femi", "Fundraiser", "Fundraising"),
                  ("finance", "Fran", "Finance", "Finance")]
        for username, first, last, group in logins:
            user, created = User.objects.get_or_create(
                username=username,
                defaults=dict(first_name=first, last_name=last, email=f"{username}@brightwell.example",
                              is_staff=group is None, is_superuser=group is None),
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            if group:
                user.groups.add(Group.objects.get(name=group))
            if settings.DEMO_STAFF_TOTP_KEY:
                staff_two_factor.two_factor_give_demo_device(user=user, key_hex=settings.DEMO_STAFF_TOTP_KEY)
        base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
        self.stdout.write(self.style.SUCCESS(
            f"\nStaff logins at {base}/admin/ (password for each: {DEMO_PASSWORD}):\n"
            "  admin       superuser\n  fundraiser  Fundraising role\n  finance     Finance role\n"
        ))
        if settings.DEMO_STAFF_TOTP_KEY:
            self.stdout.write(demo_sign_in_help(settings.DEMO_STAFF_TOTP_KEY))
