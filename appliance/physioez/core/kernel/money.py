"""Money: integer minor units with an ISO 4217 currency, formatted for the branch's locale.

Amounts never pass through floats. A price typed by a person ("1,250.50") is parsed into minor
units with the currency's own number of decimals (INR 2, JPY 0, KWD 3), and shown back with the
locale's grouping (``₹1,25,000.00`` in India, ``₹125,000.00`` in an English locale).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision

from physioez.core.kernel.errors import InvalidInput

_AMOUNT = re.compile(r"^\s*-?\d[\d,]*(\.\d+)?\s*$|^\s*-?\.\d+\s*$")


@lru_cache(maxsize=32)
def minor_digits(currency: str) -> int:
    """Decimals of ``currency``'s minor unit (2 for INR, 0 for JPY, 3 for KWD)."""
    return get_currency_precision(currency)


def to_decimal(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_digits(currency))


def format_money(minor: int, currency: str, locale: str) -> str:
    """``minor`` units of ``currency`` as a person in ``locale`` writes it."""
    return format_currency(to_decimal(minor, currency), currency, locale=locale)


def format_plain(minor: int, currency: str) -> str:
    """The amount without symbol or grouping, for form fields and exports: ``1250.50``."""
    return f"{to_decimal(minor, currency):.{minor_digits(currency)}f}"


def parse_money(text: str, currency: str, *, field: str = "amount") -> int:
    """A typed amount in minor units; commas are grouping. Refuses more decimals than exist."""
    cleaned = (text or "").strip()
    if not _AMOUNT.match(cleaned):
        raise InvalidInput("Enter an amount such as 1250 or 1250.50.", field=field)
    try:
        value = Decimal(cleaned.replace(",", ""))
    except InvalidOperation:
        raise InvalidInput("Enter an amount such as 1250 or 1250.50.", field=field) from None
    digits = minor_digits(currency)
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"{currency} amounts have at most {digits} decimal places.", field=field)
    return int(scaled)


def percent_of(minor: int, basis_points: int) -> int:
    """``basis_points`` / 100 percent of ``minor``, rounded half up to a whole minor unit."""
    exact = Decimal(minor) * Decimal(basis_points) / Decimal(10_000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
