from django import template

from supporters.email_wording import allowed_placeholders

register = template.Library()


@register.filter
def email_placeholders(instance):
    return sorted(allowed_placeholders(getattr(instance, "key", "") or "").items())
