"""Gifts: taking them online (one-off), recording what Stripe says of them,
receipts, offline gifts and the daily re-sync.

The donation form, the browser's return, webhooks, admin actions and commands
all call these functions, so a gift is recorded the same way whichever of them
arrives first; the others find it done."""

import dataclasses
import datetime
import functools
import logging
import uuid

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from campaigns import selectors as campaign_selectors
from campaigns.models import Campaign
from config.db import apply_in_locked_batches, bulk_set, copy_rows, insert_unless_present, save_fields
from config.errors import ApplicationError
from config.money import format_pence
from config.tasks import enqueue_once, run_started
from donations import stripe_gateway
from donations.models import Donation, GiftAidClaim, GiftAidClaimedGift
from donations.services import books, rollups
from donations.services.rollups import donor_years_recount, income_rollups_add_gifts
from supporters.audit import disable_auditlog
from donations.services.totals import NOTHING, _move_totals, _worth, campaign_totals_add_gifts
from supporters import services as supporter_services
from supporters.models import Channel, ConsentMethod, Interaction, Supporter
from supporters.services import email as email_services

logger = logging.getLogger(__name__)

# The words beside each consent box on the donation form, stored with each consent.
FORM_CONSENT_WORDING = {
    Channel.EMAIL: "Yes, email me news of how my gift helps children grow up in families, and about appeals and events.",
    Channel.POST: "Yes, send me news and appeals by post.",
    Channel.PHONE: "Yes, you may phone me about your work and ways I can help.",
    Channel.SMS: "Yes, you may text me about urgent appeals.",
}

# How far along a payment is. A PaymentIntent's state only moves a gift forward,
# so events applied in any order, any number of times, end in the same place.
_PAYMENT_RANK = {
    Donation.Status.CREATED: 0,
    Donation.Status.REQUIRES_ACTION: 1,
    Donation.Status.PENDING: 2,
    Donation.Status.FAILED: 3,
    Donation.Status.SUCCEEDED: 4,
    Donation.Status.PARTLY_REFUNDED: 4,
    Donation.Status.REFUNDED: 4,
    Donation.Status.DISPUTED: 4,
}
_INTENT_STATUS = {
    "requires_action": Donation.Status.REQUIRES_ACTION,
    "requires_confirmation": Donation.Status.CREATED,
    "processing": Donation.Status.PENDING,
    "succeeded": Donation.Status.SUCCEEDED,
    "requires_payment_method": Donation.Status.FAILED,
    "canceled": Donation.Status.FAILED,
}


@dataclasses.dataclass
class Gift:
    """A validated gift from the donation form."""

    amount_pence: int
    first_name: str
    last_name: str
    email: str
    form_token: uuid.UUID
    title: str = ""
    address_house: str = ""
    address_street: str = ""
    address_town: str = ""
    postcode: str = ""
    country: str = "GB"
    phone: str = ""  # E.164, given when the donor agreed to calls or texts
    gift_aid: bool = False
    consents: dict = dataclasses.field(default_factory=dict)
    cover_fee: bool = False
    campaign: Campaign | None = None
    appeal_code: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    source_detail: str = ""
    fundraiser_page: object = None  # campaigns.models.FundraiserPage
    # As the form gave them: gift_resolved() looks up the campaign and the page.
    campaign_code: str = ""
    fundraiser_slug: str = ""


def gift_resolved(gift: Gift) -> Gift:
    """The gift with its campaign and fundraiser's page looked up from the codes
    the form gave (where not already given)."""
    campaign, page = gift.campaign, gift.fundraiser_page
    if campaign is None and gift.campaign_code:
        campaign = Campaign.objects.filter(code=gift.campaign_code).first()
    if page is None and gift.fundraiser_slug:
        page = campaign_selectors.fundraiser_page_public(slug=gift.fundraiser_slug)
    return dataclasses.replace(gift, campaign=campaign, fundraiser_page=page)


@dataclasses.dataclass
class GiftOutcome:
    donation: Donation
    client_secret: str = ""  # for the browser to complete 3-D Secure
    error: str = ""

    @property
    def needs_action(self):
        return self.donation.status == Donation.Status.REQUIRES_ACTION and bool(self.client_secret)


def fee_cover_pence(amount_pence: int) -> int:
    """What to add so that the charity receives the whole gift after Stripe's
    fee: the fee on the total, rounded up to the penny."""
    bp, fixed = settings.STRIPE_FEE_BASIS_POINTS, settings.STRIPE_FEE_FIXED_PENCE
    # total - fee(total) >= amount, fee(total) = ceil(total*bp/10000) + fixed
    total = -(-((amount_pence + fixed) * 10000) // (10000 - bp))
    return total - amount_pence


def check_amount(amount_pence: int) -> None:
    minimum, maximum = settings.DONATION_MINIMUM_PENCE, settings.DONATION_MAXIMUM_PENCE
    if amount_pence < minimum:
        raise ApplicationError(f"The smallest gift we can take online is {format_pence(minimum)}.", field="amount")
    if amount_pence > maximum:
        raise ApplicationError(
            f"For a gift over {format_pence(maximum)}, please call us so that we can thank you properly.",
            field="amount",
        )


def attribution_for(gift: Gift):
    """The campaign and appeal a gift counts towards: a fundraiser's page names
    its campaign; an appeal code names both; else the campaign the page or link gave."""
    return _attributed(gift, campaign_selectors.appeal_for_code(gift.appeal_code))


def _attributed(gift: Gift, appeal):
    if gift.fundraiser_page is not None:
        return gift.fundraiser_page.campaign, appeal if appeal and appeal.campaign_id == gift.fundraiser_page.campaign_id else None
    return (appeal.campaign if appeal else gift.campaign), appeal


@transaction.atomic(savepoint=False)  # inside the caller's transaction, which fails whole
def _supporter_for_gift(gift: Gift, *, source: str, given_at: datetime.datetime | None = None) -> Supporter:
    """The gift's donor, found or made, with the consent and Gift Aid declaration
    they gave on the form (`given_at`: when they gave it; default now)."""
    supporter, created = supporter_services.supporter_find_or_create(email=gift.email, **_donor_fields(gift, source))
    if not created:
        supporter = _known_donor_updated(supporter, gift)
    for channel, granted in gift.consents.items():
        if granted:
            supporter_services.consent_record(
                supporter=supporter, channel=channel, granted=True, method=ConsentMethod.WEB_FORM,
                wording=FORM_CONSENT_WORDING[channel], source_detail=gift.source_detail, occurred_at=given_at,
            )
    if gift.gift_aid:
        # The declaration holds the name and home address the donor gave with it,
        # whatever the supporter's record says.
        supporter_services.gift_aid_declaration_record(
            supporter=supporter, method="online", wording=supporter_services.gift_aid_wording(),
            wording_version=supporter_services.GIFT_AID_WORDING_VERSION, source_detail=gift.source_detail,
            declared_on=timezone.localdate(given_at) if given_at else None, declared=_declared(gift),
        )
    return supporter


def _donor_fields(gift: Gift, source: str) -> dict:
    return {**_declared(gift), "phone": gift.phone, "source": source}


def _declared(gift: Gift) -> dict:
    return {"title": gift.title, "first_name": gift.first_name, "last_name": gift.last_name,
            "address_house": gift.address_house, "address_street": gift.address_street,
            "address_town": gift.address_town, "postcode": gift.postcode, "country": gift.country}


def _known_donor_updated(supporter: Supporter, gift: Gift) -> Supporter:
    """A donor we know already, given a gift: a phone number or an address
    they lacked is filled in from the form; one that differs is never
    overwritten (anyone can type anyone's email), but noted for staff."""
    if gift.phone and str(supporter.phone or "") != gift.phone:
        if not supporter.phone:
            supporter = supporter_services.supporter_update(supporter=supporter, phone=gift.phone)
        else:
            supporter_services.timeline_add(
                supporter=supporter, kind=Interaction.Kind.RECORD,
                summary=f"Gave a different phone number on the donation form: {gift.phone}",
                detail=f"The record keeps {supporter.phone}. {gift.source_detail}".strip(),
            )
    if not supporter.address_street and not supporter.postcode and gift.postcode:
        supporter = supporter_services.supporter_update(
            supporter=supporter, address_house=gift.address_house, address_street=gift.address_street,
            address_town=gift.address_town, postcode=gift.postcode, country=gift.country,
        )
    return supporter


def gift_row_for_form(*, gift: Gift, model, build):
    """The opening steps of every online gift, one-off or monthly, once per
    form: check the amount; find the row this form already wrote (by its form
    token); or else, in one transaction, find or create the supporter (with
    their consent and Gift Aid declaration), resolve the attribution and save
    the row that `build(supporter=, amount_pence=, fee_cover_pence=, campaign=,
    appeal=)` returns, checked but unsaved. The same form submitted twice at
    once: the second finds the first's row (the form token is unique). Raises
    ApplicationError for a bad amount. Returns the row."""
    check_amount(gift.amount_pence)
    row = model.objects.filter(form_token=gift.form_token).first()
    if row is not None:
        return row
    gift = gift_resolved(gift)
    cover = fee_cover_pence(gift.amount_pence) if gift.cover_fee else 0
    try:
        with transaction.atomic():
            supporter = _supporter_for_gift(gift, source="web_donation")
            campaign, appeal = attribution_for(gift)
            row = build(supporter=supporter, amount_pence=gift.amount_pence + cover, fee_cover_pence=cover,
                        campaign=campaign, appeal=appeal)
            row.save()
            return row
    except IntegrityError:
        return model.objects.get(form_token=gift.form_token)


def donation_start(*, gift: Gift, payment_method_id: str) -> GiftOutcome:
    """Take a one-off gift: write the donation with what the donor gave on the
    form, then make exactly one Stripe call that creates and confirms the
    payment, and record Stripe's answer. The donor waits for nothing else: the
    task worker records the rest a moment later (online_gifts_record: the
    supporter, their consent and Gift Aid declaration, the campaign, the
    totals, the receipt).

    Idempotent on gift.form_token: a second submission of the same form (Pay
    pressed twice, a refresh, the back button) returns the first gift's outcome,
    and repeats the Stripe call only with the same idempotency key, so the
    donor is charged once. Raises ApplicationError for bad input."""
    check_amount(gift.amount_pence)
    cover = fee_cover_pence(gift.amount_pence) if gift.cover_fee else 0
    donation = Donation(
        amount_pence=gift.amount_pence + cover, fee_cover_pence=cover, gift_aid_declared=gift.gift_aid,
        appeal_code=gift.appeal_code, channel=Donation.Channel.WEB, utm_source=gift.utm_source,
        utm_medium=gift.utm_medium, utm_campaign=gift.utm_campaign, form_token=gift.form_token,
        stripe_payment_method_id=payment_method_id, form_details=_form_details(gift),
    )
    # The form checked the input; the database holds the rules (constraints, keys).
    if not insert_unless_present(donation, unique=["form_token"]):
        donation = Donation.objects.get(form_token=gift.form_token)  # this form's first submission
        if donation.status != Donation.Status.CREATED:
            return _outcome_of(donation)
    outcome = _charge(donation)
    online_gifts_record_soon()
    return outcome


# What a gift's form_details hold: the Gift's own fields that have no column on the donation.
_FORM_DETAILS = ("first_name", "last_name", "email", "title", "address_house", "address_street", "address_town",
                 "postcode", "country", "phone", "gift_aid", "consents", "campaign_code", "fundraiser_slug",
                 "source_detail")


def _form_details(gift: Gift) -> dict:
    details = {name: getattr(gift, name) for name in _FORM_DETAILS}
    # A caller that looked them up already (a test, a script) gives the rows, not the codes.
    details["campaign_code"] = gift.campaign.code if gift.campaign else gift.campaign_code
    details["fundraiser_slug"] = gift.fundraiser_page.slug if gift.fundraiser_page else gift.fundraiser_slug
    return details


def _gift_of(donation: Donation) -> Gift:
    """The gift as the form gave it, from a donation awaiting its record."""
    return Gift(amount_pence=donation.amount_pence - donation.fee_cover_pence, form_token=donation.form_token,
                cover_fee=bool(donation.fee_cover_pence), appeal_code=donation.appeal_code,
                utm_source=donation.utm_source, utm_medium=donation.utm_medium, utm_campaign=donation.utm_campaign,
                **donation.form_details)


_RECORD_QUEUED = "online-gifts:record-queued"
# A gift Stripe has not answered for (still `created`) stays the form's to finish
# while the donor may press Give again; after this long it is recorded anyway.
_UNANSWERED_FOR = datetime.timedelta(minutes=10)


def online_gifts_record_soon() -> None:
    """Queue a run of online_gifts_record: one for a burst of gifts."""
    from donations import tasks

    enqueue_once(tasks.record_online_gifts, key=_RECORD_QUEUED)


def online_gifts_record(*, batch_size: int = 50, now: datetime.datetime | None = None) -> dict[str, int]:
    """Record the gifts taken online and not recorded yet (see donation_start):
    a batch at a time, each batch in one transaction and each gift in a
    savepoint of its own, so that one that fails stays waiting (logged, and
    tried again by the next run) while the rest are recorded. Workers running at
    once take different gifts (SKIP LOCKED). Returns counts by outcome."""
    run_started(_RECORD_QUEUED)  # gifts taken from now on queue another run
    now = now or timezone.now()
    waiting = Q(form_details__isnull=False) & (~Q(status=Donation.Status.CREATED)
                                               | Q(created_at__lt=now - _UNANSWERED_FOR))
    # A donor's own gift is not staff work: the audit log keeps out of it, as on the form.
    with disable_auditlog():
        return apply_in_locked_batches(Donation.objects.filter(waiting), apply_together=_record_online_gifts,
                                       apply=_record_online_gift, failed=_not_recorded, batch_size=batch_size)


def _not_recorded(donation: Donation, error: Exception) -> None:
    logger.error("Gift %s, taken online, could not be recorded: it waits for the next run", donation.pk,
                 exc_info=error)


def _record_online_gifts(donations: list[Donation]) -> dict[str, int]:
    """online_gifts_record's work for a batch at once: what _record_online_gift
    does gift by gift (which takes over should this fail), in a few statements
    of each kind for the batch rather than a few for each gift."""
    gifts = [_gift_of(donation) for donation in donations]
    campaigns = Campaign.objects.in_bulk({gift.campaign_code for gift in gifts if gift.campaign_code},
                                         field_name="code")
    pages = {page.slug: page for page in campaign_selectors.fundraiser_pages_public(
        slugs={gift.fundraiser_slug for gift in gifts if gift.fundraiser_slug})}
    appeals = campaign_selectors.appeals_for_codes({gift.appeal_code for gift in gifts if gift.appeal_code})
    gifts = [dataclasses.replace(gift, campaign=campaigns.get(gift.campaign_code),
                                 fundraiser_page=pages.get(gift.fundraiser_slug)) for gift in gifts]

    # Their donors: the oldest record with each email, or one made from the first of its gifts.
    emails = {gift.email.strip().lower() for gift in gifts if gift.email}
    donors = {}
    for supporter in Supporter.objects.filter(email__in=emails, erased_at__isnull=True).order_by("-created_at", "-pk"):
        donors[supporter.email] = supporter
    known = set(donors)
    new = {}
    for gift in gifts:
        email = gift.email.strip().lower()
        if email not in donors:
            new[email] = donors[email] = Supporter(email=email, **_donor_fields(gift, "web_donation"))
    supporter_services.supporters_add(supporters=list(new.values()))
    consents, declarations, first_of_new = [], [], set()
    for donation, gift in zip(donations, gifts):
        email = gift.email.strip().lower()
        if email in known or email in first_of_new:
            donors[email] = _known_donor_updated(donors[email], gift)
        first_of_new.add(email)
        donation.supporter = donors[email]
        donation.campaign, donation.appeal = _attributed(gift, appeals.get(gift.appeal_code.strip().upper()))
        donation.fundraiser_page = gift.fundraiser_page
        donation.is_sponsorship = gift.fundraiser_page is not None
        consents += [{"supporter": donation.supporter, "channel": channel, "granted": True,
                      "method": ConsentMethod.WEB_FORM, "wording": FORM_CONSENT_WORDING[channel],
                      "occurred_at": donation.created_at, "source_detail": gift.source_detail}
                     for channel, granted in gift.consents.items() if granted]
        if gift.gift_aid:
            declarations.append({"supporter": donation.supporter, "declared": _declared(gift),
                                 "declared_on": timezone.localdate(donation.created_at),
                                 "source_detail": gift.source_detail})
    supporter_services.consents_record_many(events=consents)
    supporter_services.gift_aid_declarations_add(
        declarations=declarations, method="online", wording=supporter_services.gift_aid_wording(),
        wording_version=supporter_services.GIFT_AID_WORDING_VERSION)

    # The gifts themselves, then what they add: timeline, receipts, totals and rollups.
    now = timezone.now()
    paid = [donation for donation in donations if donation.paid_at is not None]
    thanked = [donation for donation in paid if _receipt_due(donation)]
    for donation in thanked:
        donation.receipt_sent_at = now
    recorded = ["supporter_id", "campaign_id", "appeal_id", "fundraiser_page_id", "is_sponsorship", "receipt_sent_at"]
    bulk_set(Donation, [(donation.pk, *(getattr(donation, name) for name in recorded)) for donation in donations],
             recorded)
    ids = [donation.pk for donation in donations]
    # update(): None must be SQL's NULL here, not JSON's null.
    Donation.objects.filter(pk__in=ids).update(form_details=None, updated_at=now)
    supporter_services.timeline_add_many(entries=[gift_timeline_entry(donation) for donation in paid])
    for donation in thanked:
        transaction.on_commit(functools.partial(_enqueue_receipt, donation.pk))
    gifts_recorded = Q(pk__in=ids)
    campaign_totals_add_gifts(gifts_recorded)
    income_rollups_add_gifts(gifts_recorded)
    donor_years_recount(Donation.objects.filter(gifts_recorded, supporter__isnull=False).values("supporter_id"))
    return {"recorded": len(donations)}


def _record_online_gift(donation: Donation) -> str:
    gift = gift_resolved(_gift_of(donation))
    supporter = _supporter_for_gift(gift, source="web_donation", given_at=donation.created_at)
    donation.campaign, donation.appeal = attribution_for(gift)
    donation.supporter, donation.fundraiser_page = supporter, gift.fundraiser_page
    donation.is_sponsorship = gift.fundraiser_page is not None
    donation.form_details = None
    fields = ["supporter", "campaign", "appeal", "fundraiser_page", "is_sponsorship", "form_details", "updated_at"]
    if donation.paid_at is not None:
        _on_first_success(donation)
        fields.append("receipt_sent_at")
    donation.save(update_fields=fields)
    _move_totals(donation, NOTHING)  # from now it counts, as it stands (paid, refunded, failed…)
    return "recorded"


def _charge(donation: Donation) -> GiftOutcome:
    try:
        intent = stripe_gateway.payment_intent_create_and_confirm(
            amount_pence=donation.amount_pence,
            currency=donation.currency,
            # The first submission's card: a retry must repeat the request exactly.
            payment_method_id=donation.stripe_payment_method_id,
            idempotency_key=f"donation-{donation.uid}",
            # Only what never changes: a retry repeats these exactly, as the idempotency key needs.
            metadata={"donation_id": str(donation.pk), "donation_uid": str(donation.uid)},
            description=f"Gift to {settings.CHARITY_NAME}",
            receipt_email="",  # our own receipt is sent; Stripe's would be a second one
        )
    except stripe.CardError as error:
        message = error.user_message or "Your card was declined."
        donation = donation_record_failure(donation_id=donation.pk, reason=message,
                                           payment_intent_id=_intent_id_from_error(error))
        return GiftOutcome(donation=donation, error=f"{message} You have not been charged. Please try another card.")
    except stripe.APIConnectionError:
        # No answer in time, or none at all: the payment may or may not have been
        # made. The gift stays `created` (counted nowhere); the same form tries
        # again with the same idempotency key, and Stripe's webhook or the daily
        # sync records it if it was made.
        logger.warning("Stripe did not answer for donation %s", donation.pk, exc_info=True)
        return GiftOutcome(donation=donation, error=STRIPE_NO_ANSWER)
    except stripe.StripeError:
        logger.exception("Stripe error on donation %s", donation.pk)
        return GiftOutcome(
            donation=donation,
            error="We could not reach our card processor. Please try again in a moment; you will not be charged twice.",
        )
    donation = _apply_form_answer(donation, intent)
    return GiftOutcome(donation=donation, client_secret=intent["client_secret"] if donation.status == Donation.Status.REQUIRES_ACTION else "")


STRIPE_NO_ANSWER = ("Our card processor is slow to answer just now, so your gift has not been confirmed. "
                    "Please press Give again in a minute: if the first try did go through, you will not be "
                    "charged twice.")


def _intent_id_from_error(error: stripe.StripeError) -> str | None:
    body = error.json_body or {}
    intent = (body.get("error") or {}).get("payment_intent") or {}
    return intent.get("id") if isinstance(intent, dict) else None


def _outcome_of(donation: Donation) -> GiftOutcome:
    if donation.status == Donation.Status.FAILED:
        return GiftOutcome(donation=donation, error=donation.failure_reason or "The payment did not go through.")
    return GiftOutcome(donation=donation)


@transaction.atomic
def donation_record_failure(*, donation_id: int, reason: str, payment_intent_id: str | None = None) -> Donation:
    donation = Donation.objects.select_for_update().get(pk=donation_id)
    if _PAYMENT_RANK[donation.status] >= _PAYMENT_RANK[Donation.Status.FAILED]:
        return donation
    donation.status = Donation.Status.FAILED
    donation.failure_reason = reason[:255]
    if payment_intent_id and not donation.stripe_payment_intent_id:
        donation.stripe_payment_intent_id = payment_intent_id
    donation.save()
    return donation


def _donation_for_intent(intent) -> Donation | None:
    """Our donation for a PaymentIntent, locked: by its id, or by the never-reused
    uid we put in its metadata (the webhook can arrive before we record the id)."""
    match = Q(stripe_payment_intent_id=intent["id"])
    try:
        uid = uuid.UUID(str((intent.get("metadata") or {}).get("donation_uid")))
    except ValueError:
        uid = None
    if uid is not None:
        match |= Q(uid=uid, stripe_payment_intent_id__isnull=True)
    return Donation.objects.select_for_update().filter(match).order_by("pk").first()


def _apply_form_answer(donation: Donation, intent) -> Donation:
    """Stripe's answer to the form's own call, on the form's own copy of its gift:
    while nobody has touched the gift since the form wrote it (still `created`,
    its donor not recorded), it counts nowhere yet, so the answer is written in
    one statement that checks just that, with no lock held (optimistic). Else,
    as any news of the payment: donation_apply_payment_intent."""
    if donation.status == Donation.Status.CREATED and donation.awaiting_record:
        changed = _bring_up_to_date(donation, intent)
        if not changed or save_fields(donation, [*changed, "updated_at"],
                                      expect={"status": Donation.Status.CREATED, "supporter": None}):
            return donation
    return donation_apply_payment_intent(payment_intent=intent)


@transaction.atomic(savepoint=False)  # all or nothing with the caller's transaction: no rollback of its own
def donation_apply_payment_intent(*, payment_intent) -> Donation | None:
    """Bring our donation up to date with a PaymentIntent (from a webhook, a
    re-fetch or Stripe's answer at checkout). Locks the donation row. Moves the
    gift only forward, so repeats and reordered events are harmless. Returns
    None for a PaymentIntent that is not one of our gifts."""
    donation = _donation_for_intent(payment_intent)
    if donation is None:
        return None
    before = _worth(donation)
    changed = _bring_up_to_date(donation, payment_intent)
    if changed:  # else a repeat: nothing to write
        save_fields(donation, [*changed, "updated_at"])
        _move_totals(donation, before)
        if donation.awaiting_record:  # a run may have passed it by while this held its row
            transaction.on_commit(online_gifts_record_soon)
    return donation


def _bring_up_to_date(donation: Donation, payment_intent) -> list[str]:
    """What a PaymentIntent says of the gift, on our copy, only ever forward: the
    names of the fields it changed. A first success puts the gift on its donor's
    timeline and queues the receipt (once its donor is recorded)."""
    unchanged = _snapshot(donation)
    target = _INTENT_STATUS.get(payment_intent["status"], donation.status)
    if not donation.stripe_payment_intent_id:
        donation.stripe_payment_intent_id = payment_intent["id"]
    if _PAYMENT_RANK[target] > _PAYMENT_RANK[donation.status]:
        donation.status = target
        if target == Donation.Status.FAILED:
            error = payment_intent.get("last_payment_error") or {}
            donation.failure_reason = (error.get("message") or "The payment did not go through.")[:255]
    charge = payment_intent.get("latest_charge")
    if donation.status in Donation.INCOME_STATUSES or donation.status == Donation.Status.REFUNDED:
        if charge:
            donation.stripe_charge_id = charge if isinstance(charge, str) else charge["id"]
            transaction_ = charge.get("balance_transaction") if isinstance(charge, dict) else None
            if isinstance(transaction_, dict) and donation.fee_pence is None:
                donation.stripe_balance_transaction_id = transaction_["id"]
                donation.fee_pence = transaction_["fee"]
                donation.net_pence = transaction_["net"]
        if donation.paid_at is None:
            donation.paid_at = timezone.now()
            if not donation.awaiting_record:  # else online_gifts_record does it
                _on_first_success(donation)
    return [name for name, was, now in zip(_TRACKED, unchanged, _snapshot(donation)) if was != now]


def donations_record_stripe_fees(*, fees: list[tuple[int, str, int, int]]) -> int:
    """Stripe's fee and net on each gift, from its charge's balance transaction
    (donation id, balance transaction id, fee, net), as finance's payout lines
    carry them. Only gifts whose figures differ are written; returns how many."""
    wanted = {donation_id: (transaction_id, fee, net) for donation_id, transaction_id, fee, net in fees}
    changed, moved = [], []
    for start in range(0, len(fees), 5000):
        ids = [donation_id for donation_id, *_ in fees[start:start + 5000]]
        for gift in Donation.objects.filter(pk__in=ids).only(
                "pk", "stripe_balance_transaction_id", "fee_pence", "net_pence", "status", "paid_at", "created_at",
                "campaign_id", "appeal_id", "channel", "gift_aid_claimed_by", "payment_method", "recurring_gift_id",
                "form_details"):
            if (gift.stripe_balance_transaction_id, gift.fee_pence, gift.net_pence) != wanted[gift.pk]:
                changed.append((gift.pk, *wanted[gift.pk]))
                if not gift.awaiting_record:  # else counted, fee and all, when recorded
                    moved.append((gift, wanted[gift.pk][1]))  # the income rollups' fees move with the gifts'
    with transaction.atomic():
        bulk_set(Donation, changed, ["stripe_balance_transaction_id", "fee_pence", "net_pence"])
        rollups.income_rollups_move_fees(fees=moved)
    return len(changed)


_TRACKED = ("status", "stripe_payment_intent_id", "stripe_charge_id", "stripe_balance_transaction_id", "fee_pence",
            "net_pence", "paid_at", "failure_reason", "receipt_sent_at")


def _snapshot(donation: Donation) -> tuple:
    return tuple(getattr(donation, name) for name in _TRACKED)


# How a gift came, on the timeline; online and monthly gifts need no word.
_GIFT_CAME = {Donation.Channel.IMPORT: " (imported)", Donation.Channel.OFFLINE: " (cash, cheque or bank transfer)",
              Donation.Channel.POST: " (by post)", Donation.Channel.PHONE: " (by phone)",
              Donation.Channel.EVENT: " (at an event)"}


def gift_timeline_entry(donation: Donation, *, supporter=None) -> dict:
    """The supporter's timeline entry for a gift, however it came (arguments for
    supporters' timeline_add): once per gift, by its source_ref. A bulk writer
    passes `supporter` (a Supporter or an id) to spare a query per gift."""
    return {"supporter": supporter or donation.supporter, "kind": Interaction.Kind.DONATION,
            "summary": _gift_summary(donation.amount_pence, donation.currency, donation.channel, donation.campaign),
            "occurred_at": donation.paid_at, "source_ref": f"donation:{donation.pk}"}


def _gift_summary(amount_pence: int, currency: str, channel: str, campaign) -> str:
    return (f"Gave {format_pence(amount_pence, currency)}{_GIFT_CAME.get(channel, '')}"
            + (f" to {campaign}" if campaign else ""))


def _refuse_closed_months(moments) -> None:
    """ApplicationError, naming the earliest such day, if a gift would fall in a closed month."""
    firsts = {}  # month -> its earliest day among the gifts: months are closed whole, so one question each
    for day in sorted({timezone.localdate(moment) for moment in set(moments)}):  # an import's gifts share their noons
        firsts.setdefault(day.replace(day=1), day)
    for day in firsts.values():
        books.refuse_if_month_closed(day, what="a gift")


def donations_import(*, donations: list[Donation], details: list[str] | None = None) -> list[Donation]:
    """Gifts from before this system or from a file (the previous database, a
    platform's report, post, events), written in bulk and each put on its
    supporter's timeline as a gift recorded one by one is (`details`: a note for
    each, such as the donor's message). Campaign totals and income rollups are
    not moved: call imported_gifts_count() for an import's gifts, or
    campaign_totals_rebuild() and income_rollups_rebuild() after a bulk load."""
    _refuse_closed_months(d.paid_at or d.created_at for d in donations)
    Donation.objects.bulk_create(donations, batch_size=2000)
    details = details or [""] * len(donations)
    supporter_services.timeline_add_many(entries=[
        {**gift_timeline_entry(d, supporter=d.supporter_id), "detail": detail} for d, detail in zip(donations, details, strict=True)
        if d.status in Donation.INCOME_STATUSES and d.supporter_id])
    return donations


def donations_import_values(*, gifts: list[dict], details: list[str]) -> list[int]:
    """donations_import for an import file's gifts, each given as a dict of
    Donation's fields (the same keys in every one, among them supporter_id,
    amount_pence, status, channel, campaign (an object or None) and paid_at;
    the rest take their defaults) rather than a Donation: a file's 100,000
    gifts are written by COPY without a model instance each. Returns the new
    gifts' ids, in order."""
    if not gifts:
        return []
    _refuse_closed_months(gift.get("paid_at") or gift["created_at"] for gift in gifts)
    names = list(gifts[0])
    ids = copy_rows(Donation, names, [[gift[name] for name in names] for gift in gifts])
    currency = Donation._meta.get_field("currency").default
    supporter_services.timeline_add_many(entries=[
        {"supporter": gift["supporter_id"], "kind": Interaction.Kind.DONATION,
         "summary": _gift_summary(gift["amount_pence"], gift.get("currency", currency), gift["channel"],
                                  gift.get("campaign")),
         "occurred_at": gift["paid_at"], "source_ref": f"donation:{pk}", "detail": detail}
        for gift, pk, detail in zip(gifts, ids, details, strict=True)
        if gift["status"] in Donation.INCOME_STATUSES and gift["supporter_id"]])
    return ids


def imported_gifts_count(*, data_import) -> None:
    """An import's gifts, once written, counted in their campaigns' totals and
    the income rollups, and their donors' years recounted: a few statements for
    the lot, in the import's transaction."""
    gifts = Q(data_import=data_import)
    campaign_totals_add_gifts(gifts)
    income_rollups_add_gifts(gifts)
    donor_years_recount(Donation.objects.filter(gifts, supporter__isnull=False).values("supporter_id"))


def _on_first_success(donation: Donation) -> None:
    """Once per gift, in the transaction that first records its success."""
    supporter_services.timeline_add(**gift_timeline_entry(donation))
    if _receipt_due(donation):
        donation.receipt_sent_at = timezone.now()
        donation_id = donation.pk
        # Through the task queue: the mail provider's answer is not the donor's wait.
        transaction.on_commit(lambda: _enqueue_receipt(donation_id))


def _receipt_due(donation: Donation) -> bool:
    # Monthly gifts are thanked when they start and in the annual statement, not every month.
    return (donation.receipt_sent_at is None and bool(donation.supporter.email)
            and donation.channel != Donation.Channel.MONTHLY)


def _enqueue_receipt(donation_id: int) -> None:
    from donations.tasks import send_receipt

    send_receipt.enqueue(donation_id=donation_id)


def donation_send_receipt(*, donation_id: int) -> None:
    """Email the donor their receipt (transactional: no marketing consent needed),
    in the wording staff keep in the admin; recorded on their timeline."""
    donation = Donation.objects.select_related("supporter", "campaign").get(pk=donation_id)
    amount = donation.amount_display
    if donation.fee_cover_pence:
        amount += f" (including {donation.fee_cover_display} to cover card fees)"
    given = f"{timezone.localtime(donation.paid_at or donation.created_at):%-d %B %Y}"
    details = [("Amount", amount), ("Date", given), ("Reference", donation.reference)]
    if donation.campaign:
        details.insert(1, ("For", str(donation.campaign)))
    if donation.gift_aid_declared:
        details.append(("Gift Aid", "Thank you for declaring: we will claim 25p from HMRC for every £1 you gave."))
    email_services.email_send_template(
        supporter=donation.supporter, key="receipt", details=details,
        values={"amount": donation.amount_display, "date": given, "reference": donation.reference,
                "campaign": str(donation.campaign or "")})


def donation_refresh_from_stripe(*, payment_intent_id: str) -> Donation | None:
    """Re-fetch a PaymentIntent (with its balance transaction) and apply it:
    used by webhooks that need the fee, by the browser's return page, and by the
    daily re-sync."""
    intent = stripe_gateway.payment_intent_retrieve(payment_intent_id)
    return donation_apply_payment_intent(payment_intent=intent)


SMALL_DONATION_MAX_PENCE = 3_000  # HMRC: a small donation under GASDS is £30 or less


@transaction.atomic
def donation_record_offline(*, supporter: Supporter | None, amount_pence: int, received_on: datetime.date,
                            channel: str, campaign: Campaign | None = None, appeal=None,
                            gift_aid_declared: bool = False, gift_kind: str = "own_gift", benefit_pence: int = 0,
                            small_donation: bool = False, description: str = "", note: str = "",
                            gift_aid_claimed_by: str = "", by=None) -> Donation:
    """A gift that did not come through Stripe (cash, cheque, bank transfer, an
    event's takings), recorded by staff. It counts in the campaign's totals at once.
    `gift_aid_claimed_by` names the platform (JustGiving…) that took the gift and
    claims its Gift Aid itself, so that no claim of ours ever includes it.

    `small_donation` marks cash or contactless taken under the Gift Aid Small
    Donations Scheme (GASDS): one supporter's gift of £30 or less with no Gift
    Aid declaration, or, with no supporter, a collection of such gifts (a bucket,
    a contactless terminal's takings) described by `description`. Raises
    ApplicationError, saving nothing, for what HMRC or the form would refuse."""
    description = " ".join((description or "").split())
    if amount_pence <= 0:
        raise ApplicationError("Enter an amount above zero.", field="amount")
    if received_on > timezone.localdate():
        raise ApplicationError("The date received cannot be in the future.", field="received_on")
    books.refuse_if_month_closed(received_on, what="a gift", field="received_on")
    if channel not in (Donation.Channel.OFFLINE, Donation.Channel.POST, Donation.Channel.PHONE, Donation.Channel.EVENT):
        raise ApplicationError("Choose how the gift came in.", field="channel")
    if benefit_pence < 0 or benefit_pence > amount_pence:
        raise ApplicationError("The benefit's value must be between nothing and the gift itself.", field="benefit")
    if small_donation:
        _check_small_donation(supporter=supporter, amount_pence=amount_pence, channel=channel,
                              gift_aid_declared=gift_aid_declared, gift_kind=gift_kind, benefit_pence=benefit_pence,
                              description=description)
    elif supporter is None:
        raise ApplicationError("Give the supporter's reference: only a collection of small donations has no donor.",
                               field="supporter")
    if appeal is not None and campaign is None:
        campaign = appeal.campaign
    when = timezone.make_aware(datetime.datetime.combine(received_on, datetime.time(12, 0)))
    donation = Donation(supporter=supporter, amount_pence=amount_pence, status=Donation.Status.SUCCEEDED,
                        channel=channel, campaign=campaign, appeal=appeal, gift_aid_declared=gift_aid_declared,
                        gift_kind=gift_kind, benefit_pence=benefit_pence, small_donation=small_donation,
                        description=description, gift_aid_claimed_by=gift_aid_claimed_by[:60], created_at=when,
                        paid_at=when)
    donation.full_clean()
    donation.save()
    _move_totals(donation, NOTHING)
    if supporter is not None:  # a collection has no timeline to go on
        supporter_services.timeline_add(**gift_timeline_entry(donation), detail=note, by=by)
    return donation


@transaction.atomic
def donation_record_from_stripe_report(*, supporter: Supporter, amount_pence: int, fee_pence: int, net_pence: int,
                                       currency: str, paid_at: datetime.datetime, charge_id: str,
                                       payment_intent_id: str | None, balance_transaction_id: str,
                                       campaign: Campaign | None = None, by=None) -> Donation:
    """A card gift Stripe took that this system never saw (on Stripe's dashboard,
    or before the system went live), recorded by finance from the line of
    Stripe's payout report: channel "import", succeeded when Stripe charged it,
    with Stripe's charge, PaymentIntent and balance transaction ids (so it
    reconciles like any card gift) and the fee and net the line gives. It counts
    in its campaign's totals at once and goes on the supporter's timeline; no
    receipt is sent (the gift is history). Raises ApplicationError, saving
    nothing, when a gift already carries one of its Stripe ids."""
    if amount_pence <= 0:
        raise ApplicationError("Only a payment to the charity (an amount above zero) can be a gift.", field="amount")
    if not charge_id:
        raise ApplicationError("The line names no Stripe charge, so a gift recorded from it could never be matched.")
    if paid_at > timezone.now():
        raise ApplicationError("The payment's date is in the future.", field="paid_at")
    books.refuse_if_month_closed(timezone.localdate(paid_at), what="a gift", field="paid_at")
    same = Q(stripe_charge_id=charge_id) | Q(stripe_balance_transaction_id=balance_transaction_id)
    if payment_intent_id:
        same |= Q(stripe_payment_intent_id=payment_intent_id)
    existing = Donation.objects.filter(same).first()
    if existing is not None:
        raise ApplicationError(f"Gift {existing.reference} already carries this Stripe payment ({charge_id}).")
    donation = Donation(supporter=supporter, amount_pence=amount_pence, currency=currency.lower(), fee_pence=fee_pence,
                        net_pence=net_pence, status=Donation.Status.SUCCEEDED, channel=Donation.Channel.IMPORT,
                        campaign=campaign, stripe_charge_id=charge_id, stripe_payment_intent_id=payment_intent_id or None,
                        stripe_balance_transaction_id=balance_transaction_id, created_at=paid_at, paid_at=paid_at)
    donation.full_clean()
    donation.save()
    _move_totals(donation, NOTHING)
    supporter_services.timeline_add(**gift_timeline_entry(donation), detail="Recorded from Stripe's payout report.",
                                    by=by)
    return donation


_OFFLINE_CHANNELS = (Donation.Channel.OFFLINE, Donation.Channel.POST, Donation.Channel.PHONE, Donation.Channel.EVENT)


@transaction.atomic
def donation_offline_withdraw(*, donation: Donation, reason: str, by=None) -> Donation:
    """Take back an offline gift recorded in error (a mistyped amount, the wrong
    donor): it stops counting as income and in its campaign's totals, and is kept,
    marked as withdrawn with the reason, for the audit trail; the supporter's
    timeline says so. Only a gift recorded by hand (no Stripe payment), with no
    refund and in no Gift Aid claim can be withdrawn. Locks the gift; raises
    ApplicationError for anything else, changing nothing."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ApplicationError("Say why the gift is withdrawn.", field="reason")
    donation = Donation.objects.select_for_update().get(pk=donation.pk)
    books.refuse_if_month_closed(donation.given_on, what="a gift")
    if donation.channel not in _OFFLINE_CHANNELS or donation.stripe_payment_intent_id or donation.stripe_charge_id:
        raise ApplicationError(f"{donation.reference} was not recorded by hand: only an offline gift can be withdrawn.")
    if donation.status != Donation.Status.SUCCEEDED or donation.refunded_pence:
        raise ApplicationError(f"{donation.reference} is {donation.get_status_display().lower()}: only a gift "
                               f"recorded and not since changed can be withdrawn.")
    if donation.gift_aid_claims.filter(active=True).exists():
        raise ApplicationError(f"{donation.reference} is in a Gift Aid claim: it can no longer be withdrawn.")
    before = _worth(donation)
    donation.status, donation.failure_reason = Donation.Status.FAILED, f"Withdrawn: {reason}"[:255]
    donation.save(update_fields=["status", "failure_reason", "updated_at"])
    _move_totals(donation, before)
    if donation.supporter_id:
        supporter_services.timeline_add(
            supporter=donation.supporter, kind=Interaction.Kind.DONATION,
            summary=f"Gift of {donation.amount_display} withdrawn ({donation.reference}): {reason}",
            source_ref=f"donation-withdrawn:{donation.pk}", by=by)
    return donation


def _check_small_donation(*, supporter, amount_pence: int, channel: str, gift_aid_declared: bool, gift_kind: str,
                          benefit_pence: int, description: str) -> None:
    """HMRC's conditions for GASDS that can be known when the gift is recorded."""
    if channel not in (Donation.Channel.OFFLINE, Donation.Channel.EVENT):
        raise ApplicationError("Small donations are cash or contactless taken in person: choose cash or an event's "
                               "takings.", field="channel")
    if gift_aid_declared:
        raise ApplicationError("A gift with a Gift Aid declaration is claimed as Gift Aid, not as a small donation.",
                               field="small_donation")
    if gift_kind != "own_gift" or benefit_pence:
        raise ApplicationError("Only a donation with nothing in return can be a small donation (no ticket, raffle, "
                               "goods or benefit).", field="small_donation")
    if supporter is not None and amount_pence > SMALL_DONATION_MAX_PENCE:
        raise ApplicationError("A small donation from one person is £30 or less: record this as an ordinary gift.",
                               field="amount")
    if supporter is None and not description:
        raise ApplicationError("Say where and when the collection was taken (e.g. “Street collection, York”).",
                               field="description")


def imported_gifts_remove(*, data_import) -> dict[str, int]:
    """Take an import's gifts away again (its rollback), with what they added to
    the totals, the rollups and the donors' timelines. Raises ApplicationError,
    removing nothing, when a gift is in a Gift Aid claim or a closed month, or
    has been refunded or matched since, naming which."""
    gifts = Donation.objects.filter(data_import=data_import)
    claims = sorted(set(GiftAidClaimedGift.objects.filter(donation__data_import=data_import)
                        .values_list("claim__pk", "claim__status")))
    if claims:
        named = ", ".join(f"#{pk} ({GiftAidClaim.Status(status).label.lower()})" for pk, status in claims)
        raise ApplicationError(f"Gifts of this import are in Gift Aid claim {named}: a submitted claim cannot lose "
                               "them, and a draft claim must be rebuilt without them first.")
    months = sorted({day.replace(day=1) for day in gifts.annotate(day=TruncDate("paid_at")).values_list("day", flat=True)
                     .distinct() if books.month_is_closed(day)})
    if months:
        raise ApplicationError("Gifts of this import are dated in closed months (" +
                               ", ".join(f"{month:%B %Y}" for month in months) +
                               "): ask Finance to reopen them first.")
    if gifts.exclude(refunded_pence=0).exists() or gifts.exclude(status=Donation.Status.SUCCEEDED).exists():
        raise ApplicationError("Some gifts of this import have been refunded or changed since: they cannot be "
                               "rolled back.")
    which = Q(data_import=data_import)
    campaign_totals_add_gifts(which, sign=-1)
    income_rollups_add_gifts(which, sign=-1)
    donor_years_recount(gifts.filter(supporter__isnull=False).values("supporter_id"), leaving_out=which)
    ids = list(gifts.values_list("pk", flat=True))
    for start in range(0, len(ids), 2000):
        Interaction.objects.filter(kind=Interaction.Kind.DONATION, source_ref__in=[
            f"donation:{pk}" for pk in ids[start:start + 2000]]).delete()
    try:
        with transaction.atomic():
            for start in range(0, len(ids), 2000):
                # No signals or cascades: nothing of ours hangs on an imported gift but what the
                # database refuses to lose (a payout's line, a batch), which stops the rollback.
                Donation.objects.filter(pk__in=ids[start:start + 2000])._raw_delete(using="default")
    except IntegrityError as error:
        raise ApplicationError("A gift of this import is now matched to a payout or a paying-in batch: it cannot be "
                               "rolled back.") from error
    return {"gifts": len(ids)}
