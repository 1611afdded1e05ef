from django import forms

from supporters.models import Channel, ConsentMethod, Interaction, Supporter


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
