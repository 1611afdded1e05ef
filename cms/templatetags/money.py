from django import template

from config.money import format_pence

register = template.Library()


@register.filter
def money(pence):
    """Pence as people read money: "£8,500" for whole pounds, "£85.50" otherwise; exact, never rounded."""
    return format_pence(pence, drop_zero_pence=True)


@register.filter
def pounds(pence):
    """Pence with the pence always shown ("£8,500.00"), for finance's figures."""
    return format_pence(pence)


@register.filter
def pounds_abs(pence):
    return format_pence(abs(int(pence or 0)))
