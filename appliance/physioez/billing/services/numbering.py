"""Gap-free numbers per branch, series and fiscal year: invoices, credit notes, receipts.

The next number is taken inside the caller's write transaction, so a document that is rolled
back gives its number back, and the one write lock means two checkouts never share a number.
"""

from __future__ import annotations

from datetime import date

from physioez.core.kernel.db import database, require_transaction

PREFIXES = {"invoice": "", "credit_note": "CN/", "receipt": "R/", "refund": "RF/"}


def fiscal_year(day: date, start_month: int) -> int:
    """The calendar year the fiscal year containing ``day`` starts in."""
    return day.year if day.month >= start_month else day.year - 1


def fiscal_label(year: int, start_month: int) -> str:
    """``2026-27`` for a year starting in April, ``2026`` for one starting in January."""
    if start_month == 1:
        return str(year)
    return f"{year}-{(year + 1) % 100:02d}"


def next_number(series: str, branch: str, day: date, start_month: int) -> tuple[str, int]:
    """Take the next number of ``series``; returns (printed number, fiscal year)."""
    require_transaction("A document number")
    year = fiscal_year(day, start_month)
    # One statement: insert the series' first number or bump the last one, and read it back.
    row = database.execute_sql(
        "INSERT INTO billing_number_series (series, fiscal_year, last_number) VALUES (?, ?, 1) "
        "ON CONFLICT (series, fiscal_year) DO UPDATE SET last_number = last_number + 1 "
        "RETURNING last_number",
        (series, year),
    ).fetchone()
    number = int(row[0])
    return f"{branch}/{PREFIXES[series]}{fiscal_label(year, start_month)}/{number:05d}", year
