"""Money is integer pence with a currency code: its one way to be shown, and to be read from what people write."""

import re
from decimal import Decimal, InvalidOperation

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


_SUFFIX = re.compile(r"\s*(CR|DR|OD)$", re.IGNORECASE)
_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+")


def parse_pence(text: str) -> int:
    """Signed pence from what a UK bank or spreadsheet writes: "£1,234.56", "-12.50", "£-12.50",
    "12.50 DR", "(12.50)", "GBP 3.00". Decimal, never a float; an amount finer
    than a penny is refused."""
    not_money = ValueError(f"“{text}” is not an amount of money.")
    number = text.strip().replace("\u2212", "-")
    marks = []  # each way this text says "negative" or "positive"
    if suffix := _SUFFIX.search(number):
        number = number[:suffix.start()].strip()
        marks.append(suffix.group(1).upper() != "CR")
    if number.startswith("(") and number.endswith(")"):
        number = number[1:-1].strip()
        marks.append(True)
    number = number.removeprefix("GBP").removesuffix("GBP").strip()
    for _ in range(2):  # "-£12.50" and "£-12.50" alike
        if number[:1] in ("+", "-"):
            marks.append(number[0] == "-")
            number = number[1:].strip()
        elif number[:1] == "£":
            number = number[1:].strip()
    if len(marks) > 1 or not _NUMBER.fullmatch(number):
        raise not_money  # "-12.50 DR" says its sign twice: which did the bank mean?
    try:
        value = Decimal(number.replace(",", ""))
    except InvalidOperation:
        raise not_money from None
    if value.as_tuple().exponent < -2:
        raise ValueError(f"“{text}” has more than two decimal places; amounts are in pounds and pence.")
    pence = int(value * 100)
    return -pence if marks and marks[0] else pence
