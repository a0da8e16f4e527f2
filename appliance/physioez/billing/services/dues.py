"""What patients owe: per patient, aged by the invoice's day, for the follow-up list."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from physioez.core.kernel import directory
from physioez.core.kernel.db import database

BUCKETS = ("0-30", "31-60", "61-90", "90+")


def bucket_of(age_days: int) -> str:
    if age_days <= 30:
        return "0-30"
    if age_days <= 60:
        return "31-60"
    if age_days <= 90:
        return "61-90"
    return "90+"


@dataclass
class PatientDues:
    patient_id: str
    name: str
    mrn: str
    phone: str
    total: int = 0
    oldest_day: date | None = None
    buckets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))


def owed_by_invoice() -> list[tuple[str, str, date, int]]:
    """(invoice id, patient id, business day, still owed) for every invoice owing something."""
    rows = database.execute_sql(
        "SELECT i.id, i.patient_id, i.business_day, i.total - COALESCE(s.settled, 0) "
        "FROM invoice i LEFT JOIN (SELECT invoice_id, SUM(amount) AS settled FROM settlement "
        "WHERE deleted_at IS NULL GROUP BY invoice_id) s ON s.invoice_id = i.id "
        "WHERE i.kind = 'invoice' AND i.deleted_at IS NULL "
        "AND i.total - COALESCE(s.settled, 0) > 0"
    ).fetchall()
    return [(iid, pid, date.fromisoformat(day), int(owing)) for iid, pid, day, owing in rows]


def dues_by_patient(today: date) -> list[PatientDues]:
    """Everyone who owes, most owed first, with the ageing of what they owe."""
    per_patient: dict[str, PatientDues] = {}
    owed = owed_by_invoice()
    cards = directory.patient_cards([pid for _, pid, _, _ in owed])
    for _, patient_id, day, owing in owed:
        card = cards.get(patient_id)
        dues = per_patient.setdefault(
            patient_id,
            PatientDues(
                patient_id,
                card.name if card else "Unknown patient",
                card.mrn if card else "",
                card.phone if card else "",
            ),
        )
        dues.total += owing
        dues.buckets[bucket_of((today - day).days)] += owing
        if dues.oldest_day is None or day < dues.oldest_day:
            dues.oldest_day = day
    return sorted(per_patient.values(), key=lambda d: (-d.total, d.name))


def ageing_totals(rows: list[PatientDues]) -> dict[str, int]:
    totals = dict.fromkeys(BUCKETS, 0)
    for row in rows:
        for bucket, amount in row.buckets.items():
            totals[bucket] += amount
    return totals


def patient_dues(patient_id: str) -> int:
    row = database.execute_sql(
        "SELECT COALESCE(SUM(i.total), 0) - COALESCE((SELECT SUM(s.amount) FROM settlement s "
        "JOIN invoice j ON j.id = s.invoice_id WHERE j.patient_id = ? AND j.kind = 'invoice' "
        "AND s.deleted_at IS NULL), 0) FROM invoice i WHERE i.patient_id = ? "
        "AND i.kind = 'invoice' AND i.deleted_at IS NULL",
        (patient_id, patient_id),
    ).fetchone()
    return int(row[0])
