from django import forms
from django.utils import timezone

from supporters.models import Channel, ConsentMethod, GiftAidDeclaration, Interaction, Supporter


class ConsentChangeForm(forms.Form):
    """Staff record a consent change they took by phone, on paper or in person."""

    channel = forms.ChoiceField(choices=Channel.choices)
    granted = forms.TypedChoiceField(
        label="Consent",
        choices=[("yes", "Granted"), ("no", "Withdrawn")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    method = forms.ChoiceField(
        label="How it was given",
        choices=[(v, label) for v, label in ConsentMethod.choices if v in {"phone", "paper", "staff"}],
    )
    occurred_at = forms.DateTimeField(
        label="When", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="When the supporter said it, not when you typed it.",
    )
    wording = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The exact words read to the supporter or printed on the form.",
    )
    source_detail = forms.CharField(
        label="Source", required=False, max_length=255, help_text="E.g. the call reference or the form's code."
    )


class InteractionForm(forms.ModelForm):
    class Meta:
        model = Interaction
        fields = ["kind", "occurred_at", "summary", "detail"]
        widgets = {"occurred_at": forms.DateTimeInput(attrs={"type": "datetime-local"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        staff_kinds = {Interaction.Kind.NOTE, Interaction.Kind.CALL, Interaction.Kind.LETTER, Interaction.Kind.MEETING}
        self.fields["kind"].choices = [(v, label) for v, label in Interaction.Kind.choices if v in staff_kinds]


class MergeForm(forms.Form):
    duplicate = forms.ModelChoiceField(
        queryset=Supporter.objects.filter(erased_at__isnull=True),
        widget=forms.HiddenInput,
    )
    confirm = forms.BooleanField(
        label="I have checked these are the same person",
        required=True,
    )


class EraseForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        help_text="Why, e.g. “Erasure request received 3 Nov 2026, ref SAR-118”. Do not type the person's name.",
    )
    confirm = forms.BooleanField(label="I understand this cannot be undone", required=True)


# --- Gift Aid declarations ----------------------------------------------------------

_DECLARED_FIELDS = ["title", "first_name", "last_name", "address_house", "address_street", "address_town",
                    "postcode", "country"]
_DECLARED_LABELS = {"address_street": "Street", "address_town": "Town or city"}


def _date_widget():
    # A browser's date picker takes (and shows in its own locale) only ISO dates.
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _declared_fields() -> dict:
    """The name and home address fields of a declaration. Not required here: the
    service says what HMRC needs, on the right field, and keeps names as typed."""
    fields = forms.fields_for_model(GiftAidDeclaration, fields=_DECLARED_FIELDS, labels=_DECLARED_LABELS)
    for field in fields.values():
        field.required = False
        field.help_text = ""  # the form says once what HMRC needs of the address
    return fields


class GiftAidDeclarationForm(forms.Form):
    """Staff record a declaration taken by phone or in person, or on a paper form."""

    method = forms.ChoiceField(
        label="How it was made",
        choices=[(m.value, m.label) for m in (GiftAidDeclaration.Method.ORAL, GiftAidDeclaration.Method.WRITTEN)],
        widget=forms.RadioSelect,
    )
    scope = forms.ChoiceField(label="Gifts it covers", choices=GiftAidDeclaration.Scope.choices,
                              widget=forms.RadioSelect)
    declared_on = forms.DateField(
        label="Date of the declaration", widget=_date_widget(),
        help_text="The day the supporter said yes or signed the form; not in the future.",
    )
    send_confirmation = forms.BooleanField(
        label="Send the written confirmation by email", required=False,
        help_text="HMRC requires a written record of an oral declaration. If you untick this, print the letter "
                  "from the declaration and post it.",
    )
    source_detail = forms.CharField(
        label="Call or form reference", required=False, max_length=200,
        help_text="Optional, e.g. the call reference or the paper form's number.",
    )

    field_order = ["method", "scope", "declared_on", *_DECLARED_FIELDS, "source_detail", "send_confirmation"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(_declared_fields())
        self.order_fields(self.field_order)
        self.fields["declared_on"].widget.attrs["max"] = timezone.localdate().isoformat()


class GiftAidCancelForm(forms.Form):
    cancelled_on = forms.DateField(
        label="Cancelled from", widget=_date_widget(),
        help_text="The date the supporter asked, or the date the letter came back undelivered. Gifts before "
                  "this date stay claimable.",
    )
    reason = forms.CharField(
        max_length=255,
        help_text="E.g. “Phoned: no longer pays UK tax” or “Confirmation letter returned undelivered”.",
        error_messages={"required": "Give the reason for the cancellation."},
    )


class GiftAidCompleteForm(forms.Form):
    note = forms.CharField(
        label="How the details were confirmed", required=False, max_length=150,
        help_text="E.g. “Phoned the supporter on 3 December”. Recorded with the new declaration.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        note = self.fields.pop("note")
        self.fields.update(_declared_fields())
        self.fields["note"] = note


class GiftAidConfirmationPostedForm(forms.Form):
    posted_on = forms.DateField(label="Posted on", widget=_date_widget())
