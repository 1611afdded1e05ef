import copy
from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings
from django_countries.fields import LazyTypedChoiceField
from django_countries import countries
from phonenumber_field.formfields import PhoneNumberField
from phonenumbers import PhoneNumberType, number_type

from config.money import format_pence
from supporters.addresses import UK_POSTCODE_COUNTRIES, normalise_postcode

PRESET_AMOUNTS_PENCE = {"once": [1000, 2500, 5000, 10000], "monthly": [500, 1000, 2000, 3000]}


def parse_staff_amount_pence(raw: str, *, example: str = "12.50") -> int:
    """An amount staff type in pounds ('£1,234.56') -> pence: above zero, at
    most two decimal places, none of the donation form's limits (a refund or an
    HMRC repayment is what it is). Raises forms.ValidationError for a person."""
    try:
        value = Decimal((raw or "").replace("£", "").replace(",", "").strip())
    except InvalidOperation:
        raise forms.ValidationError(f"Enter an amount in pounds, like {example}.") from None
    if not value.is_finite() or value.adjusted() > 12:  # "1e400" would overflow the rounding below
        raise forms.ValidationError(f"Enter an amount in pounds, like {example}.")
    if value != value.quantize(Decimal("0.01")) or value <= 0:
        raise forms.ValidationError("Enter an amount in pounds above zero, with at most two decimal places.")
    return int(value * 100)


def parse_amount_pence(raw: str) -> int:
    """'25', '£25.50', '1,000' -> pence. Raises forms.ValidationError with a
    message for a person."""
    text = (raw or "").strip().replace("£", "").replace(",", "").strip()
    if not text:
        raise forms.ValidationError("Enter an amount.")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise forms.ValidationError("Enter the amount in pounds, for example 25 or 12.50.") from None
    if not value.is_finite():
        raise forms.ValidationError("Enter the amount in pounds, for example 25 or 12.50.")
    if value <= 0:
        raise forms.ValidationError("Enter an amount above zero, in pounds, for example 25.")
    # The maximum first: rounding "1e400" to pence would overflow Decimal's precision.
    if value * 100 > settings.DONATION_MAXIMUM_PENCE:
        raise forms.ValidationError(
            f"For a gift over {format_pence(settings.DONATION_MAXIMUM_PENCE)}, please call us so that we can thank you properly."
        )
    if value != value.quantize(Decimal("0.01")):
        raise forms.ValidationError("Enter the amount in pounds and pence, with no more than two decimal places.")
    pence = int(value * 100)
    if pence < settings.DONATION_MINIMUM_PENCE:
        raise forms.ValidationError(f"The smallest gift we can take online is {format_pence(settings.DONATION_MINIMUM_PENCE)}.")
    return pence

class CountryField(LazyTypedChoiceField):
    """The list of countries, shared by every copy of the form: Django copies a
    form's fields for each request, and copying some 250 choices was a tenth of
    a gift's time. The list itself never changes."""

    def __deepcopy__(self, memo):
        result = copy.copy(self)
        memo[id(self)] = result
        result.widget = copy.copy(self.widget)
        result.widget.attrs = self.widget.attrs.copy()
        result.error_messages = self.error_messages.copy()
        result.validators = self.validators[:]
        return result


class DonationForm(forms.Form):
    frequency = forms.ChoiceField(choices=[("once", "Give once"), ("monthly", "Give monthly")], initial="once",
                                  widget=forms.RadioSelect)
    amount = forms.CharField(label="Amount (£)", max_length=20,
                             error_messages={"required": "Enter an amount, for example 25."})
    cover_fee = forms.BooleanField(required=False)

    title = forms.CharField(max_length=20, required=False)
    first_name = forms.CharField(max_length=100, error_messages={"required": "Enter your first name."})
    last_name = forms.CharField(max_length=100, error_messages={"required": "Enter your last name."})
    email = forms.EmailField(max_length=254, error_messages={
        "required": "Enter your email address, for your receipt.",
        "invalid": "Enter an email address like name@example.com."})
    address_house = forms.CharField(label="House name or number", max_length=100, required=False)
    address_street = forms.CharField(label="Street", max_length=200, required=False)
    address_town = forms.CharField(label="Town or city", max_length=100, required=False)
    postcode = forms.CharField(max_length=20, required=False)
    country = CountryField(choices=countries, initial="GB")

    gift_aid = forms.BooleanField(required=False)
    consent_email = forms.BooleanField(required=False)
    consent_post = forms.BooleanField(required=False)
    consent_phone = forms.BooleanField(required=False)
    consent_sms = forms.BooleanField(required=False)
    # Asked for (and sent) only when phone or text consent is ticked. A UK number, or +country code.
    phone = PhoneNumberField(label="Phone number", region="GB", required=False, error_messages={
        "invalid": "Enter a UK phone number, or an international one starting with + and the country code."})

    campaign = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    appeal_code = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    utm_source = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    utm_medium = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    utm_campaign = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    fundraiser = forms.SlugField(required=False, max_length=80, widget=forms.HiddenInput)
    form_token = forms.UUIDField(widget=forms.HiddenInput)
    payment_method_id = forms.CharField(required=False, max_length=255, widget=forms.HiddenInput)
    # A field people never see: bots fill it in.
    website = forms.CharField(required=False, max_length=200, label="Leave this empty")

    def clean_amount(self):
        return parse_amount_pence(self.cleaned_data["amount"])

    def clean(self):
        data = super().clean()
        country = str(data.get("country") or "GB")
        if data.get("postcode") is not None:
            try:
                data["postcode"] = normalise_postcode(data.get("postcode", ""), country=country)
            except ValueError as error:
                self.add_error("postcode", str(error))
        if (country in UK_POSTCODE_COUNTRIES and data.get("address_street") and not data.get("postcode")
                and "postcode" not in self.errors):
            # As a supporter's record requires: checked here, before the card is charged.
            self.add_error("postcode", "A UK address needs its postcode.")
        if data.get("gift_aid"):
            if not data.get("address_house"):
                self.add_error("address_house", "Gift Aid needs your house name or number.")
            if country in UK_POSTCODE_COUNTRIES and not data.get("postcode") and "postcode" not in self.errors:
                self.add_error("postcode", "Gift Aid needs your home postcode.")
        if (data.get("consent_phone") or data.get("consent_sms")) and not data.get("phone") and "phone" not in self.errors:
            self.add_error("phone", "Enter your phone number, so that we can call or text you as you asked.")
        elif data.get("consent_sms") and data.get("phone") and number_type(data["phone"]) == PhoneNumberType.FIXED_LINE:
            self.add_error("phone", "Texts need a mobile number. Enter a mobile, or untick the box for texts.")
        if data.get("frequency") == "once" and not data.get("payment_method_id"):
            self.add_error(None, "Enter your card details.")
        return data



class _FieldsAsTheyAre(dict):
    """A form's fields that each instance shares rather than deep-copies."""

    def __deepcopy__(self, memo):
        return self


class PostedDonationForm(DonationForm):
    """The donation form for checking a posted gift only, never rendered: each
    instance uses the class's own fields rather than a deep copy of them (as
    Django makes so that one instance may change its fields without the next
    seeing it), which was a sixth of a gift's CPU. Checking posted values
    changes no field, so the fields can be shared, between threads too."""


PostedDonationForm.base_fields = _FieldsAsTheyAre(PostedDonationForm.base_fields)
