import logging
import uuid

import stripe
from django import forms
from django.conf import settings
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited

from config.client_address import client_ip
from config.errors import ApplicationError
from donations import links, services, stripe_gateway, webhooks
from donations.services import statements
from donations.form_context import donate_context
from donations.forms import PostedDonationForm, parse_amount_pence
from donations.models import Donation, RecurringGift
from donations.services import monthly
from supporters.models import Channel

logger = logging.getLogger(__name__)


def _mailbox(email: str) -> str:
    """The mailbox an address reaches: "Card+7@X.org" and "card@x.org" are one
    card tester, who must not get a fresh allowance per +tag or capital."""
    local, _at, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def _too_many(request, email: str) -> bool:
    by_ip = is_ratelimited(request, group="donate-ip", key=lambda group, req: client_ip(req),
                           rate=settings.DONATION_RATE_LIMIT_PER_IP, increment=True)
    by_email = is_ratelimited(request, group="donate-email", key=lambda group, req: _mailbox(email),
                              rate=settings.DONATION_RATE_LIMIT_PER_EMAIL, increment=True) if email else False
    return by_ip or by_email


def _errors_json(form) -> JsonResponse:
    return JsonResponse({
        "error": "Please check the form: " + "; ".join(
            f"{form.fields[f].label or f.replace('_', ' ')}: {' '.join(e)}" if f != "__all__" else " ".join(e)
            for f, e in form.errors.items()),
        "fields": {f: " ".join(e) for f, e in form.errors.items()},
    }, status=400)


@never_cache
@ensure_csrf_cookie
def donation_session(request):
    """Per visitor, for a donation form on a page every visitor shares from the
    cache: a fresh one-time token, the CSRF cookie, and any gift made a few
    minutes ago from this browser."""
    return JsonResponse({"form_token": str(uuid.uuid4()), "recent_gift": _recent_gift(request)})


@require_http_methods(["GET", "POST"])
def donate(request):
    """GET: the donation form. POST (from the form's script): take the gift."""
    if request.method == "GET":
        return render(request, "donations/donate.html", donate_context(request))
    data, refusal = _checked_form(request)
    if refusal:
        return refusal
    gift = _gift_from(request, data)
    try:
        outcome = services.donation_start(gift=gift, payment_method_id=data["payment_method_id"])
    except ApplicationError as error:
        return _application_error_json(error)
    response = _outcome_json(outcome)
    if not outcome.error:
        # Remembered by this browser for a while, so that coming back to the form says so
        # (see _recent_gift): in a signed cookie, which costs a gift no database session.
        response.set_signed_cookie(_RECENT_GIFT, outcome.donation.amount_display, salt=_RECENT_GIFT,
                                   max_age=_RECENT_GIFT_SECONDS, httponly=True, samesite="Lax",
                                   secure=settings.SESSION_COOKIE_SECURE)
    return response


_RECENT_GIFT = "recent_gift"
_RECENT_GIFT_SECONDS = 15 * 60


def _recent_gift(request):
    """A gift from this browser in the last 15 minutes: the form says so, so that
    the back button or a second tab does not lead to an unintended second gift."""
    return request.get_signed_cookie(_RECENT_GIFT, default=None, salt=_RECENT_GIFT, max_age=_RECENT_GIFT_SECONDS)


def _application_error_json(error: ApplicationError) -> JsonResponse:
    return JsonResponse({"error": error.message, "fields": {error.field: error.message} if error.field else {}},
                        status=400)


def _checked_form(request):
    """The posted form, validated, with bots and floods turned away: returns
    (cleaned data, None) or (None, an error response)."""
    form = PostedDonationForm(request.POST)
    if not form.is_valid():
        return None, _errors_json(form)
    data = form.cleaned_data
    if data["website"]:
        # A bot filled the hidden field: answer as a decline would, take nothing.
        logger.warning("Donation honeypot tripped from %s", request.META.get("REMOTE_ADDR"))
        return None, JsonResponse({"error": "Sorry, we could not take this payment."}, status=400)
    if _too_many(request, data["email"]):
        return None, JsonResponse({"error": "We have had several attempts to give from you in a short time, so we "
                                            "have paused online giving for you for a while. Please try again later, "
                                            "or call us and we will gladly take your gift by phone."}, status=429)
    return data, None


def _gift_from(request, data) -> services.Gift:
    # The campaign and the fundraiser's page are looked up by whoever records the gift (gift_resolved).
    return services.Gift(
        campaign_code=data["campaign"], fundraiser_slug=data["fundraiser"],
        amount_pence=data["amount"], first_name=data["first_name"], last_name=data["last_name"], email=data["email"],
        form_token=data["form_token"], title=data["title"], address_house=data["address_house"],
        address_street=data["address_street"], address_town=data["address_town"], postcode=data["postcode"],
        country=str(data["country"]), phone=data["phone"].as_e164 if data["phone"] else "",
        gift_aid=data["gift_aid"], cover_fee=data["cover_fee"],
        consents={c: data[f"consent_{c}"] for c in Channel.values},
        appeal_code=data["appeal_code"], utm_source=data["utm_source"], utm_medium=data["utm_medium"],
        utm_campaign=data["utm_campaign"], source_detail=request.path + (f" ({data['campaign']})" if data["campaign"] else ""),
    )


def _outcome_json(outcome: services.GiftOutcome) -> JsonResponse:
    donation = outcome.donation
    if outcome.error:
        return JsonResponse({"error": outcome.error, "status": donation.status, **_retry_token(donation)}, status=402)
    if outcome.needs_action:
        return JsonResponse({"status": "requires_action", "client_secret": outcome.client_secret,
                             "confirm_url": reverse("donation_confirm")})
    return JsonResponse({"status": donation.status,
                         "redirect": reverse("donation_thanks", args=[donation.form_token])})


def _retry_token(donation: Donation) -> dict:
    # A failed payment is finished; trying again is a new gift with a new token.
    return {"new_form_token": str(uuid.uuid4())} if donation.status == Donation.Status.FAILED else {}


@require_POST
def monthly_start(request):
    """Begin a monthly gift: the browser then saves the card with the SetupIntent."""
    data, refusal = _checked_form(request)
    if refusal:
        return refusal
    try:
        recurring, client_secret = monthly.recurring_gift_start(gift=_gift_from(request, data))
    except ApplicationError as error:
        return _application_error_json(error)
    except stripe.StripeError:
        logger.exception("Stripe error starting a monthly gift")
        return JsonResponse({"error": "We could not reach our card processor. Please try again in a moment."}, status=502)
    if recurring.status != RecurringGift.Status.PENDING:
        return JsonResponse({"redirect": reverse("monthly_thanks", args=[recurring.form_token])})
    return JsonResponse({"setup": True, "client_secret": client_secret, "confirm_url": reverse("monthly_confirm")})


@require_POST
def monthly_confirm(request):
    """After the browser confirmed the SetupIntent: save the card, take the first month."""
    try:
        token = uuid.UUID(request.POST.get("form_token", ""))
    except ValueError:
        return JsonResponse({"error": "This form has expired. Please start again."}, status=400)
    recurring = get_object_or_404(RecurringGift, form_token=token)
    if recurring.status == RecurringGift.Status.PENDING and recurring.stripe_setup_intent_id:
        setup = stripe_gateway.setup_intent_retrieve(recurring.stripe_setup_intent_id)
        recurring = monthly.recurring_gift_apply_setup(setup_intent=setup)
    if recurring.status == RecurringGift.Status.PENDING:
        return JsonResponse({"error": "Your card could not be saved. Please check the details and try again."}, status=402)
    first = recurring.charges.order_by("month").first()
    if first and first.status in ("failed", "abandoned"):
        # A gift whose first payment fails never started: no retries on that card.
        monthly.recurring_gift_cancel(recurring_gift=recurring, reason="First payment declined at sign-up")
        return JsonResponse({"error": f"Your bank declined the first payment ({first.last_error}). "
                                      "Please try another card.", "new_form_token": str(uuid.uuid4())}, status=402)
    return JsonResponse({"redirect": reverse("monthly_thanks", args=[recurring.form_token])})


@never_cache
def monthly_thanks(request, form_token):
    recurring = RecurringGift.objects.select_related("supporter").filter(form_token=form_token).first()
    if recurring is None or recurring.status == RecurringGift.Status.PENDING:
        raise Http404
    first = recurring.charges.select_related("donation").filter(month=recurring.started_on.replace(day=1)).first()
    return render(request, "donations/thank_you.html", {
        "recurring": recurring, "first_charge": first, "today": timezone.localdate(),
        "next_payment_on": recurring.payment_day_after(recurring.started_on),
    })


@require_POST
def donation_confirm(request):
    """After 3-D Secure in the browser: look at the payment again. The webhook
    records the same result; whichever comes first wins."""
    try:
        token = uuid.UUID(request.POST.get("form_token", ""))
    except ValueError:
        return JsonResponse({"error": "This payment has expired. Please start again."}, status=400)
    donation = get_object_or_404(Donation, form_token=token)
    if donation.stripe_payment_intent_id and donation.status in (Donation.Status.CREATED, Donation.Status.REQUIRES_ACTION):
        try:
            donation = services.donation_refresh_from_stripe(payment_intent_id=donation.stripe_payment_intent_id)
        except stripe.StripeError:
            logger.exception("Could not refresh donation %s", donation.pk)
    if donation.status == Donation.Status.FAILED:
        return JsonResponse({"error": "Your bank did not confirm the payment, so you have not been charged. "
                                      "Please try again or use another card.", "status": donation.status,
                             **_retry_token(donation)}, status=402)
    return JsonResponse({"status": donation.status, "redirect": reverse("donation_thanks", args=[donation.form_token])})


@never_cache
def donation_thanks(request, form_token):
    donation = Donation.objects.select_related("supporter", "campaign").filter(form_token=form_token).first()
    if donation is None or donation.status in (Donation.Status.CREATED, Donation.Status.FAILED):
        raise Http404
    return render(request, "donations/thank_you.html", {"donation": donation})


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's webhook endpoint: 400 for a bad or missing signature (nothing
    stored); 200 once the event is stored (or was stored before). The task
    worker applies it (see donations.webhooks), so Stripe has its answer at once
    and a burst of events never queues behind our work."""
    try:
        event = stripe_gateway.event_construct(payload=request.body,
                                               signature_header=request.headers.get("Stripe-Signature", ""))
    except stripe.SignatureVerificationError:
        return HttpResponseBadRequest("Invalid signature")
    except ValueError as error:  # signed, but not JSON or not an event: nothing to store or retry
        return HttpResponseBadRequest(str(error), content_type="text/plain")
    new = webhooks.stripe_event_store(event=event)
    return JsonResponse({"received": True, "stored": "new" if new else "already"})


def _recurring_from_token(token: str) -> RecurringGift:
    try:
        uid = links.monthly_manage_uid(token)
    except links.LinkExpired:
        raise Http404("This link has expired. Please ask us for a new one.") from None
    except links.LinkInvalid:
        raise Http404 from None
    return get_object_or_404(RecurringGift.objects.select_related("supporter"), uid=uid)


# A supporter manages their monthly gift through the signed link we emailed them:
# the page, and one view for each thing they can do there.
_STRIPE_UNREACHABLE = "We could not reach our card processor. Please try again."


def _manage_page(request, token, recurring, *, message="", error="", status=200):
    context = {"recurring": recurring, "token": token, "message": message, "error": error,
               "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY, "stripe_js_url": settings.STRIPE_JS_URL}
    return render(request, "donations/manage_monthly.html", context, status=status)


@never_cache
def monthly_manage(request, token):
    return _manage_page(request, token, _recurring_from_token(token))


@never_cache
@require_POST
def monthly_manage_amount(request, token):
    recurring = _recurring_from_token(token)
    try:
        try:
            amount = parse_amount_pence(request.POST.get("amount", ""))
        except forms.ValidationError as error:
            raise ApplicationError(" ".join(error.messages), field="amount") from None
        recurring = monthly.recurring_gift_change_amount(recurring_gift=recurring, amount_pence=amount)
    except ApplicationError as error:
        return _manage_page(request, token, recurring, error=error.message, status=400)
    except stripe.StripeError:
        logger.exception("Stripe error changing monthly gift %s", recurring.pk)
        return _manage_page(request, token, recurring, error=_STRIPE_UNREACHABLE, status=502)
    return _manage_page(request, token, recurring,
                        message=f"Thank you. From now on you will give {recurring.amount_display} a month.")


@never_cache
@require_POST
def monthly_manage_cancel(request, token):
    recurring = _recurring_from_token(token)
    try:
        recurring = monthly.recurring_gift_cancel(
            recurring_gift=recurring,
            reason=("Cancelled by the supporter online: " + request.POST.get("reason", "")).strip()[:255])
    except ApplicationError as error:
        return _manage_page(request, token, recurring, error=error.message, status=400)
    except stripe.StripeError:
        logger.exception("Stripe error cancelling monthly gift %s", recurring.pk)
        return _manage_page(request, token, recurring, error=_STRIPE_UNREACHABLE, status=502)
    return _manage_page(request, token, recurring, message="Your monthly gift is cancelled. No further payments "
                                                           "will be taken. Thank you for all you have given.")


def _card_answer(recurring, act):
    """The card form's two steps answer the page's script in JSON."""
    try:
        return JsonResponse(act())
    except ApplicationError as error:
        return JsonResponse({"error": error.message}, status=400)
    except stripe.StripeError:
        logger.exception("Stripe error updating the card of monthly gift %s", recurring.pk)
        return JsonResponse({"error": _STRIPE_UNREACHABLE}, status=502)


@never_cache
@require_POST
def monthly_manage_card(request, token):
    recurring = _recurring_from_token(token)
    return _card_answer(recurring, lambda: {
        "client_secret": monthly.recurring_gift_new_card_setup(recurring_gift=recurring)})


@never_cache
@require_POST
def monthly_manage_card_saved(request, token):
    recurring = _recurring_from_token(token)

    def save():
        setup = stripe_gateway.setup_intent_retrieve(request.POST.get("setup_intent", ""))
        saved = monthly.recurring_gift_apply_new_card(recurring_gift=recurring, setup_intent=setup)
        return {"message": f"Thank you. Your gift will now use your card ending {saved.card_last4}."}

    return _card_answer(recurring, save)


# The supporter's own giving statement, through the signed link in their email: no login.
@never_cache
@require_GET
def annual_statement(request, token):
    found = statements.statement_from_token(token)
    if found is None:
        raise Http404("This statement link is not valid or has expired. Please ask us for a new one.")
    supporter, tax_year = found
    statement = statements.annual_statement(supporter=supporter, tax_year=tax_year)
    response = render(request, "donations/annual_statement.html",
                      {"statement": statement, "staff": False, "charity_name": settings.CHARITY_NAME})
    # The link is the key to the page: keep it out of search engines and other sites' logs.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
