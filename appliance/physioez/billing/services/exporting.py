"""Billing's tables for the accountant: invoices, receipts, expenses, dues and day-end reports
as CSV or XLSX, and a month's pack of all of them as one zip built in the background."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from physioez.billing.models import EXPENSE_CATEGORIES, MODE_LABELS
from physioez.billing.services import dues
from physioez.billing.services.policy import BillingPolicy
from physioez.core.kernel import directory
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import database
from physioez.core.kernel.errors import InvalidInput
from physioez.core.platform import background
from physioez.core.platform.exports import Column, Sheet, build_zip, csv_part, xlsx_part

# Patient names are looked up this many rows at a time, so a year of invoices streams.
_BATCH = 500


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: Callable[[], Iterator[tuple]]


def month_span(month: str) -> tuple[date, date]:
    """``2026-10`` as (first day, first day of the next month)."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise InvalidInput("Choose a month as YYYY-MM.", field="month") from None
    after = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, after


def _with_names(rows: Iterator[tuple], patient_at: int) -> Iterator[tuple]:
    """Add the patient's name and MRN after the patient id column, in batches."""
    batch: list[tuple] = []

    def flush() -> Iterator[tuple]:
        cards = directory.patient_cards([row[patient_at] for row in batch])
        for row in batch:
            card = cards.get(row[patient_at])
            yield (
                *row[:patient_at],
                card.mrn if card else "",
                card.name if card else "",
                *row[patient_at + 1 :],
            )
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) == _BATCH:
            yield from flush()
    yield from flush()


def _query(sql: str, params: tuple) -> Iterator[tuple]:
    """Rows one at a time from SQLite's cursor, never the whole result in a list."""
    yield from database.execute_sql(sql, params)


def tables(policy: BillingPolicy, month: str) -> dict[str, Table]:
    first, after = month_span(month)
    span = (first.isoformat(), after.isoformat())
    money = lambda title: Column(title, "money", currency=policy.currency)  # noqa: E731

    def invoices() -> Iterator[tuple]:
        rows = _query(
            "SELECT number, kind, business_day, issued_at, patient_id, subtotal, discount_total, "
            "tax_total, total, discount_reason, reason FROM invoice WHERE business_day >= ? "
            "AND business_day < ? AND deleted_at IS NULL ORDER BY number",
            span,
        )
        for row in _with_names(rows, 4):
            yield (*row[:2], date.fromisoformat(row[2]), *row[3:])

    def receipts() -> Iterator[tuple]:
        rows = _query(
            "SELECT number, kind, business_day, received_at, patient_id, tenders, amount, notes "
            "FROM payment WHERE business_day >= ? AND business_day < ? AND deleted_at IS NULL "
            "ORDER BY number",
            span,
        )
        for row in _with_names(rows, 4):
            number, kind, day, received_at, mrn, name, tenders_json, amount, notes = row
            tenders = json.loads(tenders_json)
            modes = ", ".join(
                f"{MODE_LABELS.get(t['mode'], t['mode'])}"
                + (f" ({t['reference']})" if t.get("reference") else "")
                for t in tenders
            )
            yield (
                number,
                kind,
                date.fromisoformat(day),
                received_at,
                mrn,
                name,
                modes,
                amount,
                notes,
            )

    def expenses() -> Iterator[tuple]:
        for day, category, vendor, mode, amount, notes in _query(
            "SELECT business_day, category, vendor, mode, amount, notes FROM expense "
            "WHERE business_day >= ? AND business_day < ? AND deleted_at IS NULL "
            "ORDER BY business_day, created_at",
            span,
        ):
            yield (
                date.fromisoformat(day),
                EXPENSE_CATEGORIES.get(category, category),
                vendor,
                mode,
                amount,
                notes,
            )

    def owed() -> Iterator[tuple]:
        today = policy.today()
        for row in dues.dues_by_patient(today):
            yield (
                row.mrn,
                row.name,
                row.phone,
                row.oldest_day,
                *(row.buckets[bucket] for bucket in dues.BUCKETS),
                row.total,
            )

    def day_ends() -> Iterator[tuple]:
        for day, closed_at, expected, counted, reason, report in _query(
            "SELECT business_day, closed_at, expected, counted, difference_reason, z_report "
            "FROM day_close WHERE business_day >= ? AND business_day < ? ORDER BY business_day",
            span,
        ):
            expected, counted, report = (
                json.loads(expected),
                json.loads(counted),
                json.loads(report),
            )
            yield (
                date.fromisoformat(day),
                closed_at,
                report.get("invoices", 0),
                report.get("invoiced", 0),
                report.get("credited", 0),
                report.get("tax", 0),
                *(expected.get(mode, 0) for mode in MODE_LABELS),
                *(counted.get(mode, 0) for mode in MODE_LABELS),
                reason,
            )

    return {
        "invoices": Table(
            "invoices",
            "Invoices and credit notes",
            [
                Column("Number", width=22),
                Column("Kind"),
                Column("Day", "date"),
                Column("Issued", "datetime"),
                Column("MRN"),
                Column("Patient", width=24),
                money("Subtotal"),
                money("Discount"),
                money("Tax"),
                money("Total"),
                Column("Discount reason"),
                Column("Credit-note reason"),
            ],
            invoices,
        ),
        "receipts": Table(
            "receipts",
            "Receipts and refunds",
            [
                Column("Number", width=22),
                Column("Kind"),
                Column("Day", "date"),
                Column("Received", "datetime"),
                Column("MRN"),
                Column("Patient", width=24),
                Column("Modes", width=30),
                money("Amount"),
                Column("Notes"),
            ],
            receipts,
        ),
        "expenses": Table(
            "expenses",
            "Expenses",
            [
                Column("Day", "date"),
                Column("Category", width=24),
                Column("Paid to", width=24),
                Column("From"),
                money("Amount"),
                Column("Notes"),
            ],
            expenses,
        ),
        "dues": Table(
            "dues",
            "Dues today",
            [
                Column("MRN"),
                Column("Patient", width=24),
                Column("Phone"),
                Column("Oldest invoice", "date"),
                *(money(f"{bucket} days") for bucket in dues.BUCKETS),
                money("Total"),
            ],
            owed,
        ),
        "day_ends": Table(
            "day_ends",
            "Day-end closes",
            [
                Column("Day", "date"),
                Column("Closed", "datetime"),
                Column("Invoices", "integer"),
                money("Invoiced"),
                money("Credited"),
                money("Tax"),
                *(money(f"Expected {label}") for label in MODE_LABELS.values()),
                *(money(f"Counted {label}") for label in MODE_LABELS.values()),
                Column("Difference reason", width=30),
            ],
            day_ends,
        ),
    }


def start_month_pack(actor: Actor, policy: BillingPolicy, month: str) -> str:
    """Build the month's pack (every table as CSV, and one workbook) in the background."""
    month_span(month)  # refuse a bad month now, not in the job

    def work(progress: background.Progress):
        listed = tables(policy, month)
        parts = [
            csv_part(f"{table.name}-{month}.csv", table.columns, table.rows(), zone=policy.timezone)
            for table in listed.values()
        ]
        parts.append(
            xlsx_part(
                f"accounts-{month}.xlsx",
                [Sheet(table.title[:31], table.columns, table.rows()) for table in listed.values()],
                zone=policy.timezone,
            )
        )
        return build_zip(parts, progress.output(".zip"), progress.update)

    return background.start(
        actor,
        "billing.month_pack",
        f"Accountant's pack for {month}",
        work,
        download_name=f"{policy.branch_id}-accounts-{month}.zip",
    )
