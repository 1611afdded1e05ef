"""Money is integer pence with a currency code; this is its one way to be shown."""

_SYMBOLS = {"gbp": "£", "eur": "€", "usd": "$"}


def format_pence(pence: int, currency: str = "gbp", *, drop_zero_pence: bool = False) -> str:
    """12345 -> "£123.45"; exact to the penny, never rounded. With
    drop_zero_pence, whole pounds read "£8,500" (headline figures)."""
    pence = int(pence or 0)
    symbol = _SYMBOLS.get(currency.lower(), currency.upper() + " ")
    sign = "-" if pence < 0 else ""
    pounds, rest = divmod(abs(pence), 100)
    if drop_zero_pence and not rest:
        return f"{sign}{symbol}{pounds:,}"
    return f"{sign}{symbol}{pounds:,}.{rest:02d}"


def pence_as_pounds_text(pence: int) -> str:
    """12345 -> "123.45": an amount as staff type it into a form, with no symbol or commas."""
    pounds, rest = divmod(int(pence), 100)
    return f"{pounds}.{rest:02d}"
