from collections.abc import Mapping

from django import template

register = template.Library()


@register.filter
def is_mapping(value):
    return isinstance(value, Mapping)


@register.filter
def is_list(value):
    return isinstance(value, (list, tuple))


@register.filter
def humanise_key(value):
    return str(value).replace("_", " ").capitalize()
