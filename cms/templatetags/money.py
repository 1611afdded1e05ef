from django import template

register = template.Library()


@register.filter
def money(pence):
    """Pence as people read money: "£8,500" for whole pounds, "£85.50" otherwise;
    exact to the penny, never rounded."""
    pence = int(pence or 0)
    sign = "-" if pence < 0 else ""
    pounds, rest = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}" + (f".{rest:02d}" if rest else "")
