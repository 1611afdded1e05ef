import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from wagtail.models import PreviewableMixin
from django.db.models.functions import Lower
from django.utils import timezone
from django_countries import countries
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField
from taggit.managers import TaggableManager
from taggit.models import TaggedItemBase
from auditlog.models import AbstractLogEntry

from supporters.addresses import UK_POSTCODE_COUNTRIES, normalise_postcode


class AcquisitionSource(models.TextChoices):
    WEB_DONATION = "web_donation", "Online donation"
    CAMPAIGN_PAGE = "campaign_page", "Campaign page"
    EVENT = "event", "Event"
    FACE_TO_FACE = "face_to_face", "Face to face"
    TELEPHONE = "telephone", "Telephone"
    DIRECT_MAIL = "direct_mail", "Direct mail"
    PEER_TO_PEER = "peer_to_peer", "Peer-to-peer fundraising"
    LEGACY = "legacy", "Legacy"
    IMPORT = "import", "Imported"
    OTHER = "other", "Other"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    POST = "post", "Post"
    PHONE = "phone", "Phone"
    SMS = "sms", "SMS"


class ConsentMethod(models.TextChoices):
    WEB_FORM = "web_form", "Web form"
    PHONE = "phone", "Phone call"
    PAPER = "paper", "Paper form"
    IMPORT = "import", "Import"
    STAFF = "staff", "Entered by staff"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribe link"
    BOUNCE = "bounce", "Email bounced or complaint"


class PostalSuppression(models.TextChoices):
    GONE_AWAY = "gone_away", "Gone away (post returned)"
    NO_CONTACT = "no_contact", "Asked for no contact at all"
    MPS = "mps", "On the Mailing Preference Service"


class SupporterTag(TaggedItemBase):
    """A plain foreign-key through table, so tag filters are a join, not a generic lookup."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track


    content_object = models.ForeignKey(
        "Supporter", on_delete=models.CASCADE, related_name="tagged_items"
    )


class Supporter(models.Model):
    wagtail_reference_index_ignore = True  # records, not content: nothing to track

    title = models.CharField(max_length=20, blank=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True, help_text="What they like to be called.")
    email = models.EmailField(blank=True, help_text="Stored in lower case.")
    phone = PhoneNumberField(blank=True)
    date_of_birth = models.DateField(null=True, blank=True)

    # Postal address. The house name or number is its own field because Gift Aid
    # claims need it on its own.
    address_house = models.CharField("House name or number", max_length=100, blank=True)
    address_street = models.CharField("Street", max_length=200, blank=True)
    address_locality = models.CharField("Address line 2", max_length=200, blank=True)
    address_town = models.CharField("Town or city", max_length=100, blank=True)
    address_county = models.CharField("County, state or region", max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True, help_text="UK postcodes are checked and stored as “SW1A 1AA”.")
    country = CountryField(default="GB")

    source = models.CharField(
        "Source of acquisition", max_length=30, choices=AcquisitionSource.choices, default=AcquisitionSource.OTHER
    )
    tags = TaggableManager(through=SupporterTag, blank=True)
    notes = models.TextField(blank=True)

    # The current consent per channel, recomputed from ConsentEvent history by
    # supporters.services.consent_record, so that list filters and mailings
    # need no subquery per supporter.
    consent_email = models.BooleanField("Email consent", default=False, editable=False)
    consent_post = models.BooleanField("Post consent", default=False, editable=False)
    consent_phone = models.BooleanField("Phone consent", default=False, editable=False)
    consent_sms = models.BooleanField("SMS consent", default=False, editable=False)

    # Post is never sent to someone who has died, nor to an address that has
    # told us they are gone (returned mail) or whose owner asked for no post at all.
    deceased_on = models.DateField("Date of death", null=True, blank=True,
                                   help_text="Once known: no post, email or calls go to them.")
    postal_suppression = models.CharField(
        "Post suppressed", max_length=20, blank=True, choices=PostalSuppression.choices,
        help_text="Why no post goes to this address, whatever their consent.")

    # The import that made this record, so that rolling it back can remove them
    # again (only if nothing else of theirs is held by then).
    data_import = models.ForeignKey("DataImport", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", editable=False)

    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        permissions = [
            ("merge_supporter", "Can merge duplicate supporters"),
            ("export_supporter_data", "Can export all data held about a supporter (subject access)"),
            ("erase_supporter", "Can erase a supporter's personal data"),
            ("export_supporter_list", "Can export supporter lists and consented mailing lists"),
        ]
        indexes = [
            # Pattern operators so that "starts with" searches use the index on
            # PostgreSQL whatever the collation (other databases ignore opclasses).
            models.Index(fields=["email"], name="supporter_email_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["postcode"], name="supporter_postcode_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(Lower("last_name"), Lower("first_name"), name="supporter_name_idx"),
            models.Index(fields=["source"], name="supporter_source_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="supporter_email_lower_case"
            ),
        ]

    def clean_fields(self, exclude=None):
        # Tidy what people type before the fields are checked: "  Ann@X.org " is a valid email.
        self.email = (self.email or "").strip().lower()
        for name in ("title", "first_name", "last_name", "preferred_name", "address_house", "address_street",
                     "address_locality", "address_town", "address_county"):
            setattr(self, name, " ".join((getattr(self, name) or "").split()))
        with_country_checked(self, exclude, super().clean_fields)

    def clean(self):
        if self.erased_at:
            raise ValidationError("This supporter has been erased; the record can no longer be edited.")
        try:
            self.postcode = normalise_postcode(self.postcode, country=str(self.country))
        except ValueError as error:
            raise ValidationError({"postcode": str(error)}) from error
        if str(self.country) in UK_POSTCODE_COUNTRIES and self.address_street and not self.postcode:
            raise ValidationError({"postcode": "A UK address needs its postcode."})

    def __str__(self):
        if self.erased_at:
            return f"Erased supporter #{self.pk}"
        return " ".join(part for part in (self.title, self.first_name, self.last_name) if part)

    @property
    def display_name(self):
        return self.preferred_name or self.first_name

    @property
    def is_erased(self):
        return self.erased_at is not None

    @property
    def reference(self):
        return f"S{self.pk:07d}" if self.pk else ""

    def address_lines(self):
        street = " ".join(part for part in (self.address_house, self.address_street) if part)
        lines = [street, self.address_locality, self.address_town, self.address_county, self.postcode]
        if self.country and self.country.code != "GB":
            lines.append(self.country.name)
        return [line for line in lines if line]

    def current_consent(self):
        return {
            Channel.EMAIL: self.consent_email,
            Channel.POST: self.consent_post,
            Channel.PHONE: self.consent_phone,
            Channel.SMS: self.consent_sms,
        }


class ConsentEvent(models.Model):
    """One change of a supporter's wish to hear from us on one channel. Never edited:
    the history is the record, and the supporter's current consent is derived from it."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track


    supporter = models.ForeignKey(Supporter, on_delete=models.CASCADE, related_name="consent_events")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    granted = models.BooleanField(help_text="Granted (ticked) or withdrawn.")
    occurred_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=20, choices=ConsentMethod.choices)
    wording = models.TextField(help_text="The exact words the supporter saw or heard.")
    source_detail = models.CharField(
        max_length=255, blank=True, help_text="Where: the page, the form's code, the import file."
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    data_import = models.ForeignKey("DataImport", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["supporter", "channel", "occurred_at"], name="consent_latest_idx")]

    def __str__(self):
        return f"{self.get_channel_display()} {'granted' if self.granted else 'withdrawn'}"


class Interaction(models.Model):
    """The supporter's timeline: notes, calls and letters from staff, and entries
    that other apps add (donations, emails) through supporters.services.timeline_add."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track


    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        CALL = "call", "Phone call"
        LETTER = "letter", "Letter"
        MEETING = "meeting", "Meeting"
        EMAIL = "email", "Email"
        DONATION = "donation", "Donation"
        CONSENT = "consent", "Consent change"
        RECORD = "record", "Record change"

    supporter = models.ForeignKey(Supporter, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.NOTE)
    occurred_at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=255)
    detail = models.TextField(blank=True)
    # Lets another app add "its" entry once however often it is told (a replayed
    # webhook, say): e.g. "donation:42". Blank for entries staff write.
    source_ref = models.CharField(max_length=100, blank=True, editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["supporter", "occurred_at"], name="interaction_timeline_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["supporter", "source_ref"],
                condition=~models.Q(source_ref=""),
                name="interaction_source_ref_once",
            )
        ]

    def __str__(self):
        return self.summary


class ErasureRecord(models.Model):
    """Proof that a supporter was erased, holding no personal data of its own."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track


    supporter = models.OneToOneField(Supporter, on_delete=models.PROTECT, related_name="erasure")
    erased_at = models.DateTimeField(default=timezone.now)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=255)

    def __str__(self):
        return f"Erasure of supporter #{self.supporter_id}"


class ExportRecord(models.Model):
    """One download taken from the system (a list, a mail-house file, a claim's
    schedule, a journal): who took what, when, in which format and how many rows.
    Written by config.exports for every exporter; never edited."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    # Kept apart from the link, so the record still says who once their login is deleted.
    user_name = models.CharField("Who", max_length=150, blank=True)
    exporter = models.CharField(max_length=100, db_index=True)
    what = models.CharField(max_length=255)
    file_format = models.CharField("Format", max_length=10)
    rows = models.PositiveIntegerField()
    at = models.DateTimeField("When", default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.what} ({self.file_format}, {self.rows} row{'' if self.rows == 1 else 's'})"


class AuditEntry(AbstractLogEntry):
    """Who viewed, exported, changed or erased personal data, and when.

    django-auditlog writes the changes (AUDITLOG_LOGENTRY_MODEL points here) for
    the models supporters.audit registers; supporters.services.audit adds the
    views, downloads and erasures. An erasure scrubs the person's earlier
    entries, so the log keeps who did what to which record id, never who they were."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track

    class Event(models.TextChoices):
        VIEWED = "viewed", "Viewed"
        EXPORTED = "exported", "Exported"
        CREATED = "created", "Created"
        CHANGED = "changed", "Changed"
        DELETED = "deleted", "Deleted"
        ERASED = "erased", "Erased"

    event = models.CharField(max_length=10, choices=Event.choices, db_index=True)
    # A download's own record (rows, filters, format) stays in the export log: this only points at it.
    export_record = models.ForeignKey(ExportRecord, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        ordering = ["-timestamp", "-id"]

    # auditlog writes only the action; the event follows from it unless we set one.
    _EVENT_OF_ACTION = {0: Event.CREATED, 1: Event.CHANGED, 2: Event.DELETED, 3: Event.VIEWED}

    def save(self, *args, **kwargs):
        if not self.event:
            self.event = self._EVENT_OF_ACTION[self.action]
        super().save(*args, **kwargs)

    @property
    def who(self) -> str:
        if self.actor_id:
            return self.actor.get_username()
        return self.actor_email or "the system"

    def __str__(self):
        return f"{self.get_event_display()} {self.object_repr}"


# "12", "12A", "12-14": a house number, written before the street.
_HOUSE_NUMBER = re.compile(r"\d+[A-Za-z]?(\s*[-/]\s*\d+[A-Za-z]?)?")


def with_country_checked(instance, exclude, clean_fields) -> None:
    """`clean_fields(exclude=…)` with the country checked against a set of the
    codes: the field's own check walks its ~250 choices, built again for each
    check, a third of the CPU of recording a batch of gifts' donors. The same
    message for a code that is not a country."""
    exclude = set(exclude or ())
    errors = {}
    if "country" not in exclude and instance.country:
        exclude.add("country")
        if str(instance.country) not in _COUNTRY_CODES:
            field = type(instance)._meta.get_field("country")
            errors["country"] = [ValidationError(field.error_messages["invalid_choice"], code="invalid_choice",
                                                 params={"value": str(instance.country)})]
    try:
        clean_fields(exclude=exclude)
    except ValidationError as error:
        errors = {**error.error_dict, **errors}
    if errors:
        raise ValidationError(errors)


_COUNTRY_CODES = frozenset(code for code, _name in countries)


class GiftAidDeclaration(models.Model):
    """A supporter's Gift Aid declaration, as HMRC requires it to be kept: the name
    and home address as declared, the date, how it was made, which gifts it
    covers and the exact wording shown. Never overwritten: a change is a new
    declaration; a cancellation is recorded on it, with its date and reason."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track


    class Method(models.TextChoices):
        ONLINE = "online", "Online"
        ORAL = "oral", "Oral (by phone or in person)"
        WRITTEN = "written", "Written (paper form)"
        IMPORTED = "imported", "Imported"

    class Scope(models.TextChoices):
        THIS_GIFT = "this_gift", "This gift only"
        FUTURE_GIFTS = "future_gifts", "This gift and all future gifts"
        ALL_GIFTS = "all_gifts", "This gift, gifts in the past four years and all future gifts"

    # An oral declaration cancelled within this many days of the written
    # confirmation counts as never made (HMRC).
    ORAL_COOLING_OFF_DAYS = 30

    supporter = models.ForeignKey(Supporter, on_delete=models.PROTECT, related_name="gift_aid_declarations")
    title = models.CharField(max_length=20, blank=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    address_house = models.CharField("House name or number", max_length=100)
    address_street = models.CharField(max_length=200, blank=True)
    address_town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True, help_text="Blank only for an address outside the UK.")
    country = CountryField(default="GB")
    declared_on = models.DateField()
    method = models.CharField(max_length=10, choices=Method.choices)
    scope = models.CharField(max_length=12, choices=Scope.choices, default=Scope.ALL_GIFTS)
    wording = models.TextField()
    wording_version = models.CharField(max_length=20)
    source_detail = models.CharField(max_length=255, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    cancelled_on = models.DateField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=255, blank=True)
    confirmation_sent_on = models.DateField(
        null=True, blank=True, help_text="When the written record of an oral declaration was sent."
    )
    data_import = models.ForeignKey("DataImport", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", editable=False)
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by",
        help_text="A declaration whose missing details this one completes.",
    )

    class Meta:
        ordering = ["-declared_on", "-id"]
        indexes = [models.Index(fields=["supporter", "declared_on"], name="declaration_supporter_date_idx")]
        permissions = [("export_giftaiddeclaration", "Can download Gift Aid declarations as CSV or XLSX")]

    def clean_fields(self, exclude=None):
        with_country_checked(self, exclude, super().clean_fields)

    def __str__(self):
        return f"Gift Aid declaration of {self.declared_on:%d %b %Y}"

    @property
    def reference(self):
        return f"GAD{self.pk:06d}" if self.pk else ""

    @property
    def is_void(self) -> bool:
        """Cancelled within 30 days of the written confirmation of an oral
        declaration (or of the declaration itself, before any was sent): HMRC
        treats it as never made."""
        if self.method != self.Method.ORAL or not self.cancelled_on:
            return False
        start = self.confirmation_sent_on or self.declared_on
        return (self.cancelled_on - start).days <= self.ORAL_COOLING_OFF_DAYS

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.title, self.first_name, self.last_name) if part)

    def address_lines(self) -> list[str]:
        """The home address as declared, one line each, for letters and screens:
        a house number shares the street's line ("12 Mill Lane"), a house name
        has its own ("Flat 2, Rose Court" / "Mill Lane")."""
        if _HOUSE_NUMBER.fullmatch(self.address_house.strip()):
            lines = [" ".join(part for part in (self.address_house, self.address_street) if part)]
        else:
            lines = [self.address_house, self.address_street]
        lines += [self.address_town, self.postcode]
        if self.country and self.country.code != "GB":
            lines.append(self.country.name)
        return [line for line in lines if line]

    def missing_details(self) -> list[str]:
        """What HMRC needs that this declaration lacks (empty when nothing): a
        first name and last name, a house name or number and, for a UK address,
        a valid postcode."""
        missing = []
        if not self.first_name.strip() or not self.last_name.strip():
            missing.append("first and last name")
        if not self.address_house.strip():
            missing.append("house name or number")
        if str(self.country) in UK_POSTCODE_COUNTRIES:
            if not self.postcode.strip():
                missing.append("postcode")
            else:
                try:
                    normalise_postcode(self.postcode, country=str(self.country))
                except ValueError:
                    missing.append("a valid postcode")
        return missing

    @property
    def replacement(self) -> "GiftAidDeclaration | None":
        """The declaration that completed this one's missing details, if any
        (prefetch `superseded_by` when listing many)."""
        replacements = list(self.superseded_by.all())
        return min(replacements, key=lambda declaration: declaration.pk) if replacements else None

    @property
    def status(self) -> str:
        """One of void, cancelled, superseded or active, in that order of precedence."""
        if self.is_void:
            return "void"
        if self.cancelled_on:
            return "cancelled"
        if self.replacement is not None:
            return "superseded"
        return "active"


# --- Email: the wording staff edit, what was sent, what came back ------------------

class EmailTemplate(PreviewableMixin, models.Model):
    """The wording of one transactional message (a receipt, a welcome…), edited
    by staff in the admin. Subject and body take placeholders such as
    {{ first_name }}; the figures (amounts, dates, references) and the branding
    are added by the code that sends it, so a wording change cannot break them."""
    wagtail_reference_index_ignore = True

    class Key(models.TextChoices):
        RECEIPT = "receipt", "Receipt for a one-off gift"
        MONTHLY_WELCOME = "monthly_welcome", "Welcome to monthly giving"
        MONTHLY_PAYMENT_FAILED = "monthly_payment_failed", "Monthly payment failed"
        GIFT_AID_CONFIRMATION = "gift_aid_confirmation", "Gift Aid oral declaration: written confirmation"
        FUNDRAISER_PAGE_APPROVED = "fundraiser_page_approved", "Fundraising page approved"
        ANNUAL_STATEMENT = "annual_statement", "Annual giving statement"

    key = models.CharField(max_length=40, choices=Key.choices, unique=True)
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="Paragraphs separated by a blank line. Placeholders are listed below the form.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        verbose_name = verbose_name_plural = "email wording"

    def __str__(self):
        return self.get_key_display()

    def clean(self):
        from supporters.email_wording import allowed_placeholders, check_placeholders

        check_placeholders(self, fields=("subject", "body"), allowed=allowed_placeholders(self.key))

    def get_preview_template(self, request, mode_name):
        return "emails/preview.html"

    def get_preview_context(self, request, mode_name):
        from supporters.services import email as email_services

        message = email_services.email_sample(template=self)
        return {"subject": message.subject, "html": message.html, "text": message.text}


class EmailSuppression(models.Model):
    """An address we must not send to: it bounced for good, or its owner marked
    our mail as spam. Receipts are not sent to it either; the record stays."""
    wagtail_reference_index_ignore = True

    class Reason(models.TextChoices):
        BOUNCED = "bounced", "Bounced (the address does not exist)"
        COMPLAINED = "complained", "Marked as spam"
        MANUAL = "manual", "Stopped by staff"

    email = models.EmailField(unique=True)
    reason = models.CharField(max_length=12, choices=Reason.choices)
    detail = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.email} ({self.get_reason_display().lower()})"


class EmailMessage(models.Model):
    """One email to one person, as sent: what, to whom, and what the provider
    later told us of it (delivered, opened, bounced…)."""
    wagtail_reference_index_ignore = True

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        OPENED = "opened", "Opened"
        CLICKED = "clicked", "Clicked"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Marked as spam"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        FAILED = "failed", "Not sent"
        SKIPPED = "skipped", "Not sent (no consent or suppressed)"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    supporter = models.ForeignKey(Supporter, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="email_messages")
    to_email = models.EmailField(blank=True)
    category = models.CharField(max_length=40, help_text="The template key, or 'mailing'.")
    is_marketing = models.BooleanField(default=False)
    subject = models.CharField(max_length=255)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    esp_message_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    # Set by a sender that must send at most once (an annual statement): a second try finds this row.
    once_key = models.CharField(max_length=100, null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.subject} to {self.to_email}"


class EmailEvent(models.Model):
    """What the email provider's tracking webhook told us, stored once: a
    replayed webhook finds its event here and changes nothing."""
    wagtail_reference_index_ignore = True

    dedupe_key = models.CharField(max_length=255, unique=True, help_text="The provider's event id, or a digest.")
    message = models.ForeignKey(EmailMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    event_type = models.CharField(max_length=20, db_index=True)
    recipient = models.EmailField(blank=True)
    occurred_at = models.DateTimeField()
    description = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at"]


def _private_files():
    """Uploaded files that hold personal data: kept outside MEDIA_ROOT, never served."""
    from django.core.files.storage import FileSystemStorage

    return FileSystemStorage(location=settings.PRIVATE_FILES_ROOT)


class DataImport(models.Model):
    """One file brought in (supporters, gifts, declarations, a platform's report):
    who uploaded it, what the dry run found, what the import made, and whether
    it was rolled back. The rows it made point back here, so it can be undone."""
    wagtail_reference_index_ignore = True  # records, not content: nothing to track

    class Status(models.TextChoices):
        CHECKED = "checked", "Checked, not imported"
        IMPORTED = "imported", "Imported"
        ROLLED_BACK = "rolled_back", "Rolled back"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=30)
    format_name = models.CharField("Format", max_length=60)
    source = models.CharField(max_length=40, help_text="Where the rows' own references come from: justgiving, old_crm…")
    file = models.FileField(storage=_private_files, upload_to="imports/%Y/%m/", max_length=255)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    file_bytes = models.PositiveBigIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0, help_text="Rows under the headings.")
    mapping = models.JSONField(default=dict, help_text="Each of our fields: the file's heading that holds it.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CHECKED, db_index=True)
    skip_bad_rows = models.BooleanField(default=False)
    # A large file is checked or imported by the task worker: what it was asked to do, and when.
    working_on = models.CharField(max_length=10, blank=True, choices=[("check", "Checking"), ("import", "Importing")])
    working_since = models.DateTimeField(null=True, blank=True)
    consent_wording = models.TextField(
        blank=True, help_text="The words the supporters in the file agreed to, recorded with each consent.")
    summary = models.JSONField(default=dict, help_text="What the last run (dry or real) counted.")
    problems = models.JSONField(default=list, help_text="The first problems found: row, column, value, message.")
    problem_count = models.PositiveIntegerField(default=0)
    preview = models.JSONField(default=list, help_text="A sample of what each row will do.")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    imported_at = models.DateTimeField(null=True, blank=True)
    rolled_back_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        permissions = [("import_data", "Can import supporters, gifts and declarations from files"),
                       ("rollback_dataimport", "Can roll back an import")]

    def __str__(self):
        return f"{self.file_name} ({self.format_name}, {self.uploaded_at:%d/%m/%Y})"


class ImportMapping(models.Model):
    """How a format's columns map to ours, remembered so the next month's file
    from the same platform needs no mapping."""
    wagtail_reference_index_ignore = True

    kind = models.CharField(max_length=30)
    format_name = models.CharField(max_length=60)
    source = models.CharField(max_length=40)
    mapping = models.JSONField(default=dict)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "format_name"], name="import_mapping_once")]

    def __str__(self):
        return self.format_name


class SupporterExternalId(models.Model):
    """A supporter's id in another system (a platform's donor id, the old CRM's
    record number): an import finds them by it first."""
    wagtail_reference_index_ignore = True

    supporter = models.ForeignKey(Supporter, on_delete=models.CASCADE, related_name="external_ids")
    source = models.CharField(max_length=40)
    external_id = models.CharField(max_length=100)
    data_import = models.ForeignKey(DataImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="external_id_once_per_source")]

    def __str__(self):
        return f"{self.source}:{self.external_id}"


class LikelyDuplicate(models.Model):
    """A record an import made that may be someone already held (the same name
    in another town): for staff to merge or dismiss, never merged by itself."""
    wagtail_reference_index_ignore = True

    supporter = models.ForeignKey(Supporter, on_delete=models.CASCADE, related_name="+")
    may_be = models.ForeignKey(Supporter, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=200)
    data_import = models.ForeignKey(DataImport, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["supporter", "may_be"], name="likely_duplicate_once")]
