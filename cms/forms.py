from django import forms
from wagtail.images.fields import WagtailImageField

from donations.forms import parse_amount_pence


class FundraiserSignupForm(forms.Form):
    first_name = forms.CharField(max_length=100, error_messages={"required": "Enter your first name."})
    last_name = forms.CharField(max_length=100, error_messages={"required": "Enter your last name."})
    email = forms.EmailField(error_messages={"required": "Enter your email address.",
                                             "invalid": "Enter an email address like name@example.com."})
    title = forms.CharField(label="Your page's title", max_length=120,
                            help_text="E.g. “Sam runs the London Marathon for families”.")
    story = forms.CharField(label="Why you're fundraising", widget=forms.Textarea(attrs={"rows": 6}), max_length=4000)
    target = forms.CharField(label="Your target (£)", max_length=12, initial="500")
    photo = WagtailImageField(label="A photo of you (optional)", required=False)
    consent_email = forms.BooleanField(
        required=False, label="Yes, email me news of how my fundraising helps, and about appeals and events.")

    def clean_target(self):
        return parse_amount_pence(self.cleaned_data["target"])
