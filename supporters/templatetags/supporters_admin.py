import datetime
from collections.abc import Mapping

from django import template
from django.utils import timezone
from django.utils.formats import date_format

register = template.Library()


@register.filter
def is_mapping(value):
    return isinstance(value, Mapping)


@register.filter
def is_list(value):
    return isinstance(value, (list, tuple))


_KEY_WORDS = {"sms": "SMS"}


@register.filter
def humanise_key(value):
    text = str(value).replace("_", " ").capitalize()
    return _KEY_WORDS.get(text.lower(), text)


@register.filter
def readable(value):
    """ISO timestamps from the export, shown as people write dates."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
        return date_format(timezone.localtime(moment) if timezone.is_aware(moment) else moment, "j F Y, H:i")
    return value
