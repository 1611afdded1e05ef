from django import template

from config.money import format_pence

register = template.Library()


@register.filter
def money(pence):
    """Pence as people read money: "£8,500" for whole pounds, "£85.50" otherwise; exact, never rounded."""
    return format_pence(pence, drop_zero_pence=True)
