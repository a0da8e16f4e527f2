"""Revenue reports from the invoices' lines and the packs' used sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from physioez.core.kernel.db import database


@dataclass
class MonthlyRevenue:
    month: str  # YYYY-MM
    invoiced: int = 0  # net of discounts, before tax, credit notes taken off
    tax: int = 0
    from_packages: int = 0  # value of pack sessions used this month
    by_service: dict[str, int] = field(default_factory=dict)
    by_practitioner: dict[str, int] = field(default_factory=dict)

    @property
    def revenue(self) -> int:
        """Earned this month: services and products invoiced (packs excluded, they are earned
        as used) plus the pack sessions used."""
        return sum(self.by_service.values()) + self.from_packages


def monthly_revenue(month_start: date) -> MonthlyRevenue:
    """Revenue of the calendar month starting ``month_start`` (business days, branch time)."""
    first = month_start.replace(day=1)
    after = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    span = (first.isoformat(), after.isoformat())
    report = MonthlyRevenue(first.strftime("%Y-%m"))
    # One pass in SQLite over the month's lines (invoice_day index), grouped in SQL.
    for kind, code, line_kind, practitioner, taxable, tax in database.execute_sql(
        "SELECT i.kind, json_extract(l.value, '$.service_code'), json_extract(l.value, '$.kind'), "
        "json_extract(l.value, '$.practitioner_id'), "
        "SUM(json_extract(l.value, '$.taxable')), SUM(json_extract(l.value, '$.tax')) "
        "FROM invoice i, json_each(i.lines) l "
        "WHERE i.business_day >= ? AND i.business_day < ? AND i.deleted_at IS NULL "
        "GROUP BY 1, 2, 3, 4",
        span,
    ).fetchall():
        sign = 1 if kind == "invoice" else -1
        report.invoiced += sign * int(taxable)
        report.tax += sign * int(tax)
        if line_kind == "package":
            continue
        report.by_service[code] = report.by_service.get(code, 0) + sign * int(taxable)
        if practitioner:
            report.by_practitioner[practitioner] = report.by_practitioner.get(
                practitioner, 0
            ) + sign * int(taxable)
    for practitioner, value in database.execute_sql(
        "SELECT v.practitioner_id, SUM(u.value) FROM package_use u "
        "JOIN billing_visit v ON v.appointment_id = u.appointment_id "
        "WHERE u.business_day >= ? AND u.business_day < ? AND u.deleted_at IS NULL "
        "GROUP BY 1",
        span,
    ).fetchall():
        report.from_packages += int(value)
        report.by_practitioner[practitioner] = report.by_practitioner.get(practitioner, 0) + int(
            value
        )
    return report
