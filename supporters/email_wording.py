"""The starting wording of each transactional email, and the placeholders each
may use, and how placeholders are checked and filled. Staff change the wording in the admin (Snippets → Email wording); the
figures, links and branding around it come from the code that sends it."""

import re

from django.core.exceptions import ValidationError

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


COMMON = {
    "first_name": "The supporter's first name (or preferred name)",
    "full_name": "Title and full name",
    "charity_name": "The charity's name",
}

PLACEHOLDERS = {
    "receipt": {"amount": "The gift, e.g. £25.00", "date": "The day it was given", "reference": "The gift's reference",
                "campaign": "What it was given to (may be empty)"},
    "monthly_welcome": {"amount": "The monthly amount", "day": "The day of the month, e.g. 5th"},
    "monthly_payment_failed": {"amount": "The monthly amount", "month": "The month, e.g. December 2026",
                               "next_try": "When we will try again (or empty)"},
    "gift_aid_confirmation": {"declared_on": "The date of the declaration", "letter_date": "Today's date"},
    "fundraiser_page_approved": {"page_title": "The fundraising page's title", "campaign": "The campaign"},
    "annual_statement": {"tax_year": "e.g. 2025–26", "total": "The gifts in the tax year",
                         "gift_aid_total": "The Gift Aid claimed or to claim on them",
                         "gift_aid_sentence": "What Gift Aid added, or (with none) how a declaration would help"},
}

DEFAULTS = {
    "receipt": (
        "Thank you for your gift of {{ amount }}",
        "Dear {{ first_name }},\n\n"
        "Thank you for your gift of {{ amount }}. Because of you, more children can leave orphanages and grow up "
        "in loving families.\n\n"
        "£25 pays for a social worker's visit to help a family stay together. Your receipt is below.",
    ),
    "monthly_welcome": (
        "Welcome to monthly giving: thank you",
        "Dear {{ first_name }},\n\n"
        "Thank you for choosing to give {{ amount }} every month. Regular gifts let us plan ahead: they keep "
        "social workers beside families for as long as each child needs.\n\n"
        "We will take your gift on the {{ day }} of each month. You can change the amount, update your card or "
        "stop at any time with the link below.",
    ),
    "monthly_payment_failed": (
        "Your monthly gift for {{ month }} did not go through",
        "Dear {{ first_name }},\n\n"
        "We tried to take your monthly gift of {{ amount }} for {{ month }}, but your bank did not accept the "
        "payment. This often happens when a card expires or is replaced.\n\n"
        "If you would like to carry on giving, please update your card with the link below. {{ next_try }}",
    ),
    "gift_aid_confirmation": (
        "Your Gift Aid declaration: our written record",
        "Dear {{ first_name }},\n\n"
        "Thank you for agreeing, on {{ declared_on }}, that we may claim Gift Aid on your donations. This is our "
        "written record of what you told us, as HMRC asks us to send.",
    ),
    "fundraiser_page_approved": (
        "Your fundraising page is live",
        "Dear {{ first_name }},\n\n"
        "Good news: your page “{{ page_title }}” for {{ campaign }} is approved and live. Share the link with "
        "family, friends and colleagues: every sponsor helps a child grow up in a family.",
    ),
    "annual_statement": (
        "Your giving in the {{ tax_year }} tax year",
        "Dear {{ first_name }},\n\n"
        "Thank you for everything you gave in the {{ tax_year }} tax year: {{ total }} in all. "
        "{{ gift_aid_sentence }} Your statement lists every gift.",
    ),
}

SAMPLE_VALUES = {
    "first_name": "Amara", "full_name": "Ms Amara Okafor", "amount": "£25.00", "date": "25 November 2026",
    "reference": "D0000042", "campaign": "Home for Christmas", "day": "5th", "month": "December 2026",
    "next_try": "We will try again on 8 December.", "declared_on": "25 November 2026",
    "letter_date": "25 November 2026", "page_title": "Amara runs the London Marathon", "tax_year": "2025–26",
    "total": "£300.00", "gift_aid_total": "£75.00",
    "gift_aid_sentence": "Gift Aid added £75.00 more, at no cost to you.",
}


def allowed_placeholders(key: str) -> dict[str, str]:
    return {**COMMON, **PLACEHOLDERS.get(key, {})}


def gift_aid_sentence(gift_aid_total: str, *, has_gift_aid: bool) -> str:
    """The annual statement's line on Gift Aid: what it added, or how it would help."""
    if has_gift_aid:
        return f"Gift Aid added {gift_aid_total} more, at no cost to you."
    return ("If you pay UK income tax, a Gift Aid declaration would let us claim 25p more on every £1 you give, "
            "at no cost to you: just reply to this email.")


def fill(text: str, values: dict) -> str:
    """The text with each {{ placeholder }} replaced by its value (unknown ones by nothing)."""
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), text)


def check_placeholders(instance, *, fields: tuple[str, ...], allowed) -> None:
    """ValidationError naming the field and the placeholders it may not use."""
    for field in fields:
        unknown = sorted({name for name in PLACEHOLDER.findall(getattr(instance, field)) if name not in allowed})
        if unknown:
            raise ValidationError({field: f"Unknown placeholder: {', '.join(unknown)}. "
                                          f"Use: {', '.join(sorted(allowed))}."})
