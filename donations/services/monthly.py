"""Monthly gifts on our own schedule: a card saved once with a SetupIntent, then
one off-session PaymentIntent a month.

Each month's charge is a MonthlyCharge row written before Stripe is called
(unique per gift and month); its id and attempt number are the idempotency key.
A worker claims a charge with SELECT ... FOR UPDATE SKIP LOCKED, so two
schedulers at once, a rerun or a crash mid-call never charge anyone twice."""

import datetime
import logging
import uuid

import stripe
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from config.errors import ApplicationError
from config.formats import long_date
from config.money import format_pence
from donations import stripe_gateway
from donations.links import monthly_manage_url
from donations.models import Donation, MonthlyCharge, RecurringGift
from donations.services.gifts import (
    Gift,
    check_amount,
    donation_apply_payment_intent,
    donation_record_failure,
    donations_import,
    gift_row_for_form,
)
from supporters import services as supporter_services
from supporters.models import EmailMessage, Interaction
from supporters.services import email as email_services

logger = logging.getLogger(__name__)

# A charge left "processing" this long was interrupted (a crash, a lost
# connection); it is retried with the same idempotency key, which Stripe
# answers with the first result rather than a second payment.
STALE_PROCESSING = datetime.timedelta(minutes=15)


def _month_of(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def recurring_gift_start(*, gift: Gift) -> tuple[RecurringGift, str]:
    """Begin a monthly gift: supporter, consent and declaration as for a one-off
    gift; a RecurringGift awaiting its card; a Stripe Customer and a SetupIntent
    for the browser to confirm. Idempotent on gift.form_token. Returns the gift
    and the SetupIntent's client secret."""
    def build(**common) -> RecurringGift:
        recurring = RecurringGift(**common, day_of_month=min(timezone.localdate().day, 28),
                                  gift_aid_declared=gift.gift_aid, appeal_code=gift.appeal_code,
                                  utm_source=gift.utm_source, form_token=gift.form_token)
        recurring.full_clean()
        return recurring

    recurring = gift_row_for_form(gift=gift, model=RecurringGift, build=build)
    if recurring.status != RecurringGift.Status.PENDING:
        return recurring, ""
    if not recurring.stripe_customer_id:
        supporter = recurring.supporter
        customer = stripe_gateway.customer_create(
            email=supporter.email, name=f"{supporter.first_name} {supporter.last_name}",
            idempotency_key=f"recurring-gift-{recurring.uid}-customer",
            metadata={"supporter": supporter.reference, "recurring_gift_id": str(recurring.pk)},
        )
        RecurringGift.objects.filter(pk=recurring.pk).update(stripe_customer_id=customer["id"])
        recurring.stripe_customer_id = customer["id"]
    setup = stripe_gateway.setup_intent_create(
        customer_id=recurring.stripe_customer_id, idempotency_key=f"recurring-gift-{recurring.uid}-setup",
        metadata={"recurring_gift_id": str(recurring.pk)},
    )
    if recurring.stripe_setup_intent_id != setup["id"]:
        RecurringGift.objects.filter(pk=recurring.pk).update(stripe_setup_intent_id=setup["id"])
        recurring.stripe_setup_intent_id = setup["id"]
    return recurring, setup["client_secret"]


def recurring_gift_apply_setup(*, setup_intent) -> RecurringGift | None:
    """A SetupIntent succeeded (the browser's return or the webhook): save the
    card on the gift, make it active and take the first month now. Idempotent;
    a cancelled gift stays cancelled."""
    metadata = setup_intent.get("metadata") or {}
    with transaction.atomic():
        recurring = (
            RecurringGift.objects.select_for_update()
            .filter(stripe_setup_intent_id=setup_intent["id"]).first()
            or RecurringGift.objects.select_for_update().filter(pk=int(metadata.get("recurring_gift_id") or 0)).first()
        )
        if recurring is None or setup_intent.get("status") != "succeeded":
            return recurring
        if recurring.status != RecurringGift.Status.PENDING and recurring.stripe_setup_intent_id == setup_intent["id"]:
            # The sign-up's own SetupIntent, arriving late or again: the gift has
            # started, and any card saved since (a new-card setup) must stay.
            return recurring
        method = setup_intent.get("payment_method")
        method_id = method if isinstance(method, str) else method["id"]
        if recurring.stripe_payment_method_id != method_id:
            _save_card(recurring, method if not isinstance(method, str) else stripe_gateway.payment_method_retrieve(method))
        if recurring.status != RecurringGift.Status.PENDING:
            recurring.save()
            return recurring
        recurring.status = RecurringGift.Status.ACTIVE
        recurring.started_on = timezone.localdate()
        recurring.save()
        supporter_services.timeline_add(**_started_entry(recurring))
        if recurring.supporter.email:
            recurring_id = recurring.pk
            # Through the task queue, as receipts are: the mail provider's answer is not the donor's wait.
            transaction.on_commit(lambda: _enqueue_welcome(recurring_id))
        charge, _ = MonthlyCharge.objects.get_or_create(
            recurring_gift=recurring, month=_month_of(timezone.localdate()),
            defaults={"amount_pence": recurring.amount_pence, "next_attempt_at": timezone.now()},
        )
    monthly_charge_attempt(charge_id=charge.pk)
    recurring.refresh_from_db()
    return recurring


def _started_entry(recurring: RecurringGift, *, occurred_at: datetime.datetime | None = None) -> dict:
    return {"supporter": recurring.supporter, "kind": Interaction.Kind.DONATION,
            "summary": f"Started a monthly gift of {format_pence(recurring.amount_pence)}",
            "occurred_at": occurred_at, "source_ref": f"recurring-gift:{recurring.pk}:started"}


def _cancelled_entry(recurring: RecurringGift) -> dict:
    return {"supporter": recurring.supporter, "kind": Interaction.Kind.DONATION,
            "summary": f"Cancelled their monthly gift of {format_pence(recurring.amount_pence)}",
            "detail": recurring.cancellation_reason, "occurred_at": recurring.cancelled_at,
            "source_ref": f"recurring-gift:{recurring.pk}:cancelled"}


def recurring_gifts_import(*, recurring_gifts: list[RecurringGift], through: datetime.date) -> list[RecurringGift]:
    """Monthly gifts brought over from a previous system, in bulk (unsaved, each
    active or cancelled, its card already saved at Stripe), with the history they
    would have here: the first month taken on the day it started, then a paid
    charge and gift for each month whose day came by `through` (or by its
    cancellation), and the timeline entries that taking them writes. Later months
    are charged by the monthly run as any other. Campaign totals are not moved:
    call campaign_totals_rebuild() and income_rollups_rebuild() once the load is done."""
    RecurringGift.objects.bulk_create(recurring_gifts, batch_size=2000)
    charges, gifts, entries = [], [], []
    for recurring in recurring_gifts:
        started = timezone.make_aware(datetime.datetime.combine(recurring.started_on, datetime.time(10, 0)))
        entries.append(_started_entry(recurring, occurred_at=started))
        last_day = timezone.localdate(recurring.cancelled_at) if recurring.cancelled_at else through
        month, day = _month_of(recurring.started_on), recurring.started_on
        while day <= last_day:
            # At ten in the morning, as the monthly run takes them; today's, before ten, is taken by now.
            taken = min(timezone.make_aware(datetime.datetime.combine(day, datetime.time(10, 0))), timezone.now())
            gift = Donation(
                supporter=recurring.supporter, amount_pence=recurring.amount_pence,
                fee_cover_pence=recurring.fee_cover_pence, currency=recurring.currency,
                status=Donation.Status.SUCCEEDED, channel=Donation.Channel.MONTHLY,
                gift_aid_declared=recurring.gift_aid_declared, campaign=recurring.campaign, appeal=recurring.appeal,
                appeal_code=recurring.appeal_code, recurring_gift=recurring, stripe_customer_id=recurring.stripe_customer_id,
                stripe_payment_method_id=recurring.stripe_payment_method_id, created_at=taken, paid_at=taken,
            )
            gifts.append(gift)
            charges.append(MonthlyCharge(recurring_gift=recurring, month=month, amount_pence=recurring.amount_pence,
                                         status=MonthlyCharge.Status.SUCCEEDED, attempts=1, donation=gift,
                                         created_at=taken))
            month = recurring.payment_day_after(month).replace(day=1)
            day = month.replace(day=recurring.day_of_month)
        if recurring.status == RecurringGift.Status.CANCELLED:
            entries.append(_cancelled_entry(recurring))
    donations_import(donations=gifts)
    MonthlyCharge.objects.bulk_create(charges, batch_size=2000)
    supporter_services.timeline_add_many(entries=entries)
    return recurring_gifts


def _save_card(recurring: RecurringGift, method) -> None:
    card = method.get("card") or {}
    recurring.stripe_payment_method_id = method["id"]
    recurring.card_brand = card.get("brand") or ""
    recurring.card_last4 = card.get("last4") or ""
    recurring.card_exp_month = card.get("exp_month")
    recurring.card_exp_year = card.get("exp_year")
    recurring.needs_new_card = False


def monthly_charges_schedule(*, today: datetime.date | None = None) -> int:
    """Write this month's charge for every active gift whose day has come.
    Idempotent: the unique (gift, month) constraint makes a rerun write nothing."""
    today = today or timezone.localdate()
    month = _month_of(today)
    due = RecurringGift.objects.filter(
        status__in=[RecurringGift.Status.ACTIVE, RecurringGift.Status.PAST_DUE],
        day_of_month__lte=today.day, started_on__lt=month,
    ).exclude(charges__month=month)
    created = 0
    for recurring in due.iterator():
        try:
            with transaction.atomic():
                MonthlyCharge.objects.create(
                    recurring_gift=recurring, month=month, amount_pence=recurring.amount_pence,
                    next_attempt_at=timezone.now(),
                )
            created += 1
        except IntegrityError:
            pass  # another scheduler wrote it first
    return created


def monthly_charges_due(*, now: datetime.datetime | None = None):
    now = now or timezone.now()
    return MonthlyCharge.objects.filter(
        status__in=[MonthlyCharge.Status.SCHEDULED, MonthlyCharge.Status.FAILED, MonthlyCharge.Status.INTERRUPTED],
        next_attempt_at__lte=now,
    ) | MonthlyCharge.objects.filter(
        status=MonthlyCharge.Status.PROCESSING, next_attempt_at__lte=now - STALE_PROCESSING,
    )


def recurring_gifts_flag_expired_cards(*, today: datetime.date | None = None) -> int:
    """Flag live gifts whose saved card will have expired by their next charge, so
    that the supporter can be asked for a new one before a payment fails."""
    today = today or timezone.localdate()
    next_month = (today.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    return RecurringGift.objects.filter(
        status__in=[RecurringGift.Status.ACTIVE, RecurringGift.Status.PAST_DUE], needs_new_card=False,
        card_exp_year__isnull=False,
    ).filter(
        models.Q(card_exp_year__lt=next_month.year)
        | models.Q(card_exp_year=next_month.year, card_exp_month__lt=next_month.month)
    ).update(needs_new_card=True)


def monthly_charges_run(*, today: datetime.date | None = None) -> dict:
    """The monthly job: schedule what is due, then attempt every due charge.
    Safe to run often and from several workers at once. Raises
    ImproperlyConfigured, having written nothing, if Stripe is not set up."""
    stripe_gateway.check_configured()
    scheduled = monthly_charges_schedule(today=today)
    results = {"scheduled": scheduled, "succeeded": 0, "failed": 0, "skipped": 0,
               "cards_expiring": recurring_gifts_flag_expired_cards(today=today)}
    for charge_id in monthly_charges_due().values_list("pk", flat=True).order_by("pk"):
        outcome = monthly_charge_attempt(charge_id=charge_id)
        results[outcome] = results.get(outcome, 0) + 1
    return results


def _claim(charge_id: int):
    """Lock the charge for this worker, or return None if another has it or it is
    not due. Increments the attempt (so the idempotency key) unless it resumes
    an interrupted attempt."""
    with transaction.atomic():
        charge = (
            MonthlyCharge.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("recurring_gift__supporter").filter(pk=charge_id).first()
        )
        if charge is None:
            return None
        now = timezone.now()
        recurring = charge.recurring_gift
        resuming = charge.status in (MonthlyCharge.Status.PROCESSING, MonthlyCharge.Status.INTERRUPTED)
        if (charge.status == MonthlyCharge.Status.PROCESSING
                and charge.next_attempt_at and charge.next_attempt_at > now - STALE_PROCESSING):
            return None  # another worker's call may still be under way
        if charge.status not in (MonthlyCharge.Status.SCHEDULED, MonthlyCharge.Status.FAILED) and not resuming:
            return None
        if charge.next_attempt_at and charge.next_attempt_at > now and not resuming:
            return None
        if recurring.status in (RecurringGift.Status.CANCELLED, RecurringGift.Status.PAUSED) or not recurring.stripe_payment_method_id:
            charge.status = MonthlyCharge.Status.SKIPPED
            charge.last_error = f"Gift {recurring.get_status_display().lower()}" if recurring.stripe_payment_method_id else "No card"
            charge.save()
            return "skipped"
        if not resuming:
            charge.attempts += 1
            donation = Donation.objects.create(
                supporter=recurring.supporter, amount_pence=charge.amount_pence,
                fee_cover_pence=min(recurring.fee_cover_pence, charge.amount_pence), currency=recurring.currency,
                gift_aid_declared=recurring.gift_aid_declared, campaign=recurring.campaign,
                appeal=recurring.appeal, appeal_code=recurring.appeal_code, channel=Donation.Channel.MONTHLY, utm_source=recurring.utm_source,
                recurring_gift=recurring, stripe_customer_id=recurring.stripe_customer_id,
                stripe_payment_method_id=recurring.stripe_payment_method_id,
            )
            charge.donation = donation
        charge.status = MonthlyCharge.Status.PROCESSING
        charge.next_attempt_at = now
        charge.save()
        return charge


def monthly_charge_attempt(*, charge_id: int) -> str:
    """Attempt one month's charge. Returns 'succeeded', 'failed', 'skipped',
    'interrupted' (Stripe was not reached or did not answer; the next run
    resumes it) or 'busy' (another worker has it, or it is not due)."""
    charge = _claim(charge_id)
    if charge is None:
        return "busy"
    if charge == "skipped":
        return "skipped"
    recurring, donation = charge.recurring_gift, charge.donation
    try:
        intent = stripe_gateway.payment_intent_create_and_confirm(
            amount_pence=charge.amount_pence, currency=recurring.currency,
            payment_method_id=recurring.stripe_payment_method_id, customer_id=recurring.stripe_customer_id,
            off_session=True, idempotency_key=charge.idempotency_key,
            metadata={"donation_id": str(donation.pk), "donation_uid": str(donation.uid),
                      "monthly_charge_id": str(charge.pk)},
            description=f"Monthly gift to {settings.CHARITY_NAME}, {charge.month:%B %Y}",
        )
    except stripe.CardError as error:
        intent_id = ((error.json_body or {}).get("error") or {}).get("payment_intent", {}) or {}
        return monthly_charge_record_result(
            charge_id=charge.pk, succeeded=False, reason=error.user_message or "Card declined",
            payment_intent_id=intent_id.get("id") if isinstance(intent_id, dict) else None,
        )
    except stripe.InvalidRequestError as error:
        if error.code != "resource_missing" and error.http_status != 404:
            logger.exception("Stripe refused monthly charge %s", charge.pk)
            return monthly_charge_record_interrupted(charge_id=charge.pk, reason=_why_not_completed(error))
        # The saved card (or its customer) is no longer at Stripe: no retry with this
        # key can succeed, so it fails as a decline does, and the supporter is asked for a card.
        return monthly_charge_record_result(
            charge_id=charge.pk, succeeded=False,
            reason=f"The saved card is no longer at Stripe ({error.user_message or 'not found'})")
    except stripe.StripeError as error:
        reason = _why_not_completed(error)
        logger.warning("Monthly charge %s interrupted, to be resumed: %s (%s)", charge.pk, reason, error)
        return monthly_charge_record_interrupted(charge_id=charge.pk, reason=reason)
    donation = donation_apply_payment_intent(payment_intent=intent)
    return monthly_charge_record_result(
        charge_id=charge.pk, succeeded=donation.status in Donation.INCOME_STATUSES,
        reason=donation.failure_reason, payment_intent_id=intent["id"],
        pending=donation.status in (Donation.Status.PENDING, Donation.Status.REQUIRES_ACTION),
    )


def _why_not_completed(error: stripe.StripeError) -> str:
    """A failed call to Stripe, in words for the staff who read the charge."""
    if isinstance(error, stripe.APIConnectionError):
        return "Stripe could not be reached (a network error or timeout)"
    if isinstance(error, stripe.AuthenticationError):
        return f"Stripe did not accept our key: {error.user_message or error}"
    if isinstance(error, stripe.RateLimitError):
        return "Stripe asked us to slow down (too many requests)"
    return error.user_message or " ".join(str(error).split())


@transaction.atomic
def monthly_charge_record_interrupted(*, charge_id: int, reason: str) -> str:
    """A claimed charge's call to Stripe did not complete (no key, no connection,
    an error at Stripe): say why on the charge and leave it due, keeping its
    attempt, so the next run resumes it with the same idempotency key (Stripe
    answers a repeat with the first result, never a second payment). Returns
    'interrupted', or 'busy' if a webhook settled the charge meanwhile."""
    charge = MonthlyCharge.objects.select_for_update().get(pk=charge_id)
    if charge.status != MonthlyCharge.Status.PROCESSING:
        return "busy"
    charge.status = MonthlyCharge.Status.INTERRUPTED
    charge.last_error = f"Stripe call did not complete: {reason}"[:255]
    charge.next_attempt_at = timezone.now()
    charge.save()
    return "interrupted"


@transaction.atomic
def monthly_charge_record_result(*, charge_id: int, succeeded: bool, reason: str = "",
                                 payment_intent_id: str | None = None, pending: bool = False) -> str:
    """Record how a charge attempt ended: success; or a failure that is retried
    after settings.MONTHLY_RETRY_DAYS and then marks the gift past due. A
    cancelled gift is never revived by a late result."""
    charge = MonthlyCharge.objects.select_for_update().get(pk=charge_id)
    recurring = RecurringGift.objects.select_for_update().get(pk=charge.recurring_gift_id)
    if charge.status in (MonthlyCharge.Status.SUCCEEDED, MonthlyCharge.Status.ABANDONED):
        return "succeeded" if charge.status == MonthlyCharge.Status.SUCCEEDED else "failed"
    if payment_intent_id and not charge.stripe_payment_intent_id:
        charge.stripe_payment_intent_id = payment_intent_id
    if pending:
        charge.save()
        return "busy"
    if succeeded:
        charge.status = MonthlyCharge.Status.SUCCEEDED
        charge.last_error = ""
        if recurring.status == RecurringGift.Status.PAST_DUE:
            recurring.status = RecurringGift.Status.ACTIVE
            recurring.save()
        charge.save()
        return "succeeded"
    if charge.donation_id:
        donation_record_failure(donation_id=charge.donation_id, reason=reason or "Card declined",
                                payment_intent_id=payment_intent_id)
    charge.last_error = (reason or "Card declined")[:255]
    retry_days = settings.MONTHLY_RETRY_DAYS
    if charge.attempts <= len(retry_days):
        charge.status = MonthlyCharge.Status.FAILED
        charge.next_attempt_at = timezone.now() + datetime.timedelta(days=retry_days[charge.attempts - 1])
    else:
        charge.status = MonthlyCharge.Status.ABANDONED
        charge.next_attempt_at = None
        if recurring.status == RecurringGift.Status.ACTIVE:
            recurring.status = RecurringGift.Status.PAST_DUE
            recurring.save()
    charge.stripe_payment_intent_id = None  # the next attempt is a new PaymentIntent
    charge.save()
    supporter_services.timeline_add(
        supporter=recurring.supporter, kind=Interaction.Kind.DONATION,
        summary=f"Monthly gift for {charge.month:%B %Y} failed (attempt {charge.attempts}): {charge.last_error}",
        source_ref=f"monthly-charge:{charge.pk}:attempt:{charge.attempts}:failed",
    )
    if recurring.status != RecurringGift.Status.CANCELLED and recurring.supporter.email:
        charge_id, attempt = charge.pk, charge.attempts
        # Through the task queue, after commit: the mail provider's answer is not the charge run's wait.
        transaction.on_commit(lambda: _enqueue_failure_notice(charge_id, attempt))
    return "failed"


def _enqueue_failure_notice(charge_id: int, attempt: int) -> None:
    from donations.tasks import send_monthly_payment_failed

    send_monthly_payment_failed.enqueue(charge_id=charge_id, attempt=attempt)


def monthly_charge_send_failure_notice(*, charge_id: int, attempt: int) -> EmailMessage | None:
    """Email the supporter that attempt `attempt` of a month's charge failed: the
    amount, the month, when we will try again, and the signed link to update
    their card. Once per attempt (the message's once-key), so a retried task or
    a rerun sends nothing more. Nothing for a cancelled gift, nor for an attempt
    the charge has moved on from (a later attempt, a success). Returns the
    message recorded (sent, or skipped for a suppressed address), or None."""
    charge = MonthlyCharge.objects.select_related("recurring_gift__supporter").get(pk=charge_id)
    recurring, supporter = charge.recurring_gift, charge.recurring_gift.supporter
    if (recurring.status == RecurringGift.Status.CANCELLED or charge.attempts != attempt
            or charge.status not in (MonthlyCharge.Status.FAILED, MonthlyCharge.Status.ABANDONED)):
        return None
    amount, month = format_pence(charge.amount_pence, recurring.currency), f"{charge.month:%B %Y}"
    if charge.status == MonthlyCharge.Status.FAILED and charge.next_attempt_at:
        next_day = long_date(timezone.localtime(charge.next_attempt_at).date())
        next_try, next_detail = f"We will try again on {next_day}.", next_day
    else:
        next_try, next_detail = "We will not try again this month.", "None this month"
    details = [("Monthly gift", amount), ("For", month)]
    if recurring.card_last4:
        details.append(("Card", f"ending {recurring.card_last4}"))
    details.append(("Next attempt", next_detail))
    return email_services.email_send_template(
        supporter=supporter, key="monthly_payment_failed", details=details,
        values={"amount": amount, "month": month, "next_try": next_try},
        action=("Update my card", email_services.site_url() + monthly_manage_url(recurring)),
        extra_text="The link lets you update your card, change the amount or stop your gift. "
                   "Please don't share it.",
        extra_html='<p style="font-size:14px;color:#4f5d62">This private link lets you update your card, '
                   "change the amount or stop your gift. Please don't share it.</p>",
        once_key=f"monthly-payment-failed:{charge.pk}:{attempt}")


def monthly_charge_apply_donation(*, donation: Donation) -> None:
    """A webhook moved a monthly gift's donation: carry that to its charge."""
    charge = MonthlyCharge.objects.filter(donation=donation).first()
    if charge is None:
        return
    if donation.status in Donation.INCOME_STATUSES or donation.status == Donation.Status.REFUNDED:
        monthly_charge_record_result(charge_id=charge.pk, succeeded=True, payment_intent_id=donation.stripe_payment_intent_id)
    elif donation.status == Donation.Status.FAILED and charge.status in (MonthlyCharge.Status.PROCESSING,
                                                                          MonthlyCharge.Status.INTERRUPTED):
        monthly_charge_record_result(charge_id=charge.pk, succeeded=False, reason=donation.failure_reason,
                                     payment_intent_id=donation.stripe_payment_intent_id)


@transaction.atomic
def recurring_gift_cancel(*, recurring_gift: RecurringGift, reason: str, by=None) -> RecurringGift:
    """Stop a monthly gift. Charges not yet taken are skipped, nothing revives it,
    and the saved card is detached at Stripe once the cancellation is committed."""
    recurring = RecurringGift.objects.select_for_update().get(pk=recurring_gift.pk)
    if recurring.status == RecurringGift.Status.CANCELLED:
        return recurring
    recurring.status = RecurringGift.Status.CANCELLED
    recurring.cancelled_at = timezone.now()
    recurring.cancellation_reason = (reason or "")[:255]
    recurring.save()
    recurring.charges.filter(status__in=[MonthlyCharge.Status.SCHEDULED, MonthlyCharge.Status.FAILED]).update(
        status=MonthlyCharge.Status.SKIPPED, last_error="Gift cancelled", next_attempt_at=None,
    )
    supporter_services.timeline_add(**_cancelled_entry(recurring), by=by)
    if recurring.stripe_payment_method_id:
        transaction.on_commit(lambda: _detach_quietly(recurring.stripe_payment_method_id))
    return recurring


def _detach_quietly(payment_method_id: str) -> None:
    try:
        stripe_gateway.payment_method_detach(payment_method_id)
    except stripe.StripeError:
        # The gift is cancelled on our side, which is what stops charges; log and move on.
        logger.warning("Could not detach %s at Stripe", payment_method_id, exc_info=True)


def recurring_gift_new_card_setup(*, recurring_gift: RecurringGift) -> str:
    """A SetupIntent for the supporter to save a new card; returns its client secret."""
    if recurring_gift.status == RecurringGift.Status.CANCELLED:
        raise ApplicationError("This monthly gift has been cancelled.")
    setup = stripe_gateway.setup_intent_create(
        customer_id=recurring_gift.stripe_customer_id,
        idempotency_key=f"recurring-gift-{recurring_gift.uid}-card-{uuid.uuid4()}",
        metadata={"recurring_gift_id": str(recurring_gift.pk), "purpose": "new_card"},
    )
    return setup["client_secret"]


@transaction.atomic
def recurring_gift_apply_new_card(*, recurring_gift: RecurringGift, setup_intent) -> RecurringGift:
    """Save the card from a succeeded SetupIntent on the gift. A gift that was
    past due for want of a working card becomes active again."""
    recurring = RecurringGift.objects.select_for_update().get(pk=recurring_gift.pk)
    if setup_intent.get("status") != "succeeded" or setup_intent.get("customer") != recurring.stripe_customer_id:
        raise ApplicationError("The new card could not be saved. Please try again.")
    method = setup_intent["payment_method"]
    _save_card(recurring, method if isinstance(method, dict) else stripe_gateway.payment_method_retrieve(method))
    if recurring.status == RecurringGift.Status.PAST_DUE:
        recurring.status = RecurringGift.Status.ACTIVE
    recurring.save()
    supporter_services.timeline_add(
        supporter=recurring.supporter, kind=Interaction.Kind.DONATION,
        summary=f"Updated the card for their monthly gift (now ending {recurring.card_last4})",
    )
    return recurring


@transaction.atomic
def recurring_gift_change_amount(*, recurring_gift: RecurringGift, amount_pence: int, by=None) -> RecurringGift:
    check_amount(amount_pence)
    recurring = RecurringGift.objects.select_for_update().get(pk=recurring_gift.pk)
    if recurring.status == RecurringGift.Status.CANCELLED:
        raise ApplicationError("This monthly gift has been cancelled.")
    old = recurring.amount_pence
    recurring.amount_pence = amount_pence
    recurring.fee_cover_pence = 0
    recurring.save()
    recurring.charges.filter(status=MonthlyCharge.Status.SCHEDULED).update(amount_pence=amount_pence)
    supporter_services.timeline_add(
        supporter=recurring.supporter, kind=Interaction.Kind.DONATION,
        summary=f"Changed their monthly gift from {format_pence(old)} to {format_pence(amount_pence)}", by=by,
    )
    return recurring


def recurring_gift_card_changed(*, payment_method_id: str, detached: bool, method=None) -> int:
    """A saved card was detached, expired or updated by the card network: the
    gift keeps the new details, or is flagged as needing a new card."""
    count = 0
    with transaction.atomic():
        for recurring in RecurringGift.objects.select_for_update().filter(stripe_payment_method_id=payment_method_id):
            if detached:
                recurring.needs_new_card = True
            elif method is not None:
                _save_card(recurring, method)
            recurring.save()
            count += 1
    return count


def _enqueue_welcome(recurring_gift_id: int) -> None:
    from donations.tasks import send_monthly_welcome

    send_monthly_welcome.enqueue(recurring_gift_id=recurring_gift_id)


def recurring_gift_send_welcome(*, recurring_gift_id: int) -> None:
    """Welcome a new monthly giver, with the signed link to manage their gift."""
    recurring = RecurringGift.objects.select_related("supporter").get(pk=recurring_gift_id)
    day = f"{recurring.day_of_month}{recurring.day_suffix}"
    details = [("Monthly gift", recurring.amount_display), ("Taken on", f"the {day} of each month")]
    if recurring.card_last4:
        details.append(("Card", f"ending {recurring.card_last4}"))
    email_services.email_send_template(
        supporter=recurring.supporter, key="monthly_welcome", details=details,
        values={"amount": recurring.amount_display, "day": day},
        action=("Manage my monthly gift", email_services.site_url() + monthly_manage_url(recurring)),
        extra_text="The link lets you change the amount, update your card or stop your gift. Please don't share it.",
        extra_html='<p style="font-size:14px;color:#4f5d62">This private link lets you change the amount, update '
                   "your card or stop your gift. Please don't share it.</p>")