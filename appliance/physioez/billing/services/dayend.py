"""Day-end close: what the drawer and the other modes should hold, what was counted, the
difference with its reason, a Z-report; then the day is locked.
"""

from __future__ import annotations

import json
from datetime import date

from physioez.billing.models import TENDER_MODES, DayClose
from physioez.billing.services import ledger
from physioez.billing.services.policy import BillingPolicy
from physioez.core.kernel import directory, records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput
from physioez.core.kernel.models import utcnow


def expected_takings(day: date) -> dict[str, int]:
    """Per mode: money received less refunds handed back on ``day``."""
    totals = dict.fromkeys(TENDER_MODES, 0)
    rows = database.execute_sql(
        "SELECT p.kind, json_extract(t.value, '$.mode'), SUM(json_extract(t.value, '$.amount')) "
        "FROM payment p, json_each(p.tenders) t WHERE p.business_day = ? AND p.deleted_at IS NULL "
        "GROUP BY p.kind, json_extract(t.value, '$.mode')",
        (day.isoformat(),),
    ).fetchall()
    for kind, mode, amount in rows:
        totals[mode] = totals.get(mode, 0) + (int(amount) if kind == "payment" else -int(amount))
    return totals


def z_report(day: date) -> dict:
    """Totals of ``day`` by payment mode, by service and by practitioner, and the day's counts."""
    by_service: dict[str, dict] = {}
    by_practitioner: dict[str, int] = {}
    invoices = credit_notes = 0
    invoiced = credited = tax = 0
    for kind, lines_json, total, tax_total in database.execute_sql(
        "SELECT kind, lines, total, tax_total FROM invoice WHERE business_day = ? "
        "AND deleted_at IS NULL",
        (day.isoformat(),),
    ).fetchall():
        sign = 1 if kind == "invoice" else -1
        if kind == "invoice":
            invoices += 1
            invoiced += total
        else:
            credit_notes += 1
            credited += total
        tax += sign * tax_total
        for line in json.loads(lines_json):
            entry = by_service.setdefault(
                line["service_code"],
                {"description": line["description"], "quantity": 0, "amount": 0},
            )
            entry["quantity"] += sign * line["quantity"]
            entry["amount"] += sign * line["taxable"]
            if line.get("practitioner_id"):
                by_practitioner[line["practitioner_id"]] = (
                    by_practitioner.get(line["practitioner_id"], 0) + sign * line["taxable"]
                )
    for practitioner_id, value in database.execute_sql(
        "SELECT v.practitioner_id, SUM(u.value) FROM package_use u "
        "JOIN billing_visit v ON v.appointment_id = u.appointment_id "
        "WHERE u.business_day = ? GROUP BY v.practitioner_id",
        (day.isoformat(),),
    ).fetchall():
        by_practitioner[practitioner_id] = by_practitioner.get(practitioner_id, 0) + int(value)
    names = directory.practitioner_cards(list(by_practitioner))
    return {
        "day": day.isoformat(),
        "by_mode": expected_takings(day),
        "by_service": by_service,
        "by_practitioner": {
            (names[pid].name if pid in names else pid): amount
            for pid, amount in sorted(by_practitioner.items())
        },
        "invoices": invoices,
        "credit_notes": credit_notes,
        "invoiced": invoiced,
        "credited": credited,
        "tax": tax,
    }


def close_day(
    actor: Actor,
    policy: BillingPolicy,
    day: date,
    counted: dict[str, int],
    reason: str = "",
) -> DayClose:
    """Lock ``day`` after comparing counted takings with expected; a difference needs a reason
    and is posted to cash over/short so the books show what the drawer really held."""
    if day > policy.today():
        raise InvalidInput("A day can be closed only once it has started.", field="day")
    unknown = set(counted) - set(TENDER_MODES)
    if unknown:
        raise InvalidInput(f"Unknown payment mode {sorted(unknown)}.", field="counted")
    if any(amount < 0 for amount in counted.values()):
        raise InvalidInput("A counted amount cannot be negative.", field="counted")
    with write_transaction():
        if DayClose.select().where(DayClose.business_day == day).exists():
            raise Conflict(f"{day:%d %b %Y} is already closed.")
        expected = expected_takings(day)
        full_count = {mode: counted.get(mode, expected[mode]) for mode in TENDER_MODES}
        differences = {
            mode: full_count[mode] - expected[mode]
            for mode in TENDER_MODES
            if full_count[mode] != expected[mode]
        }
        if differences and not reason.strip():
            raise InvalidInput(
                "The count differs from what was expected. Say why before closing.",
                field="reason",
            )
        report = z_report(day)
        report["differences"] = differences
        closed = records.create(
            DayClose,
            actor,
            business_day=day,
            closed_at=utcnow(),
            closed_by=actor.label,
            expected=expected,
            counted=full_count,
            difference_reason=reason.strip()[:500],
            z_report=report,
        )
        lines = []
        for mode, difference in differences.items():
            account = ledger.MODE_ACCOUNTS[mode]
            if difference > 0:
                lines += [
                    ledger.debit(account, difference),
                    ledger.credit(ledger.CASH_OVER_SHORT, difference),
                ]
            else:
                lines += [
                    ledger.debit(ledger.CASH_OVER_SHORT, -difference),
                    ledger.credit(account, -difference),
                ]
        ledger.post(
            actor,
            kind="day_close",
            ref_id=closed.id,
            business_day=day,
            memo=f"Day end {day.isoformat()}: {reason.strip()[:200]}",
            lines=lines,
        )
    return closed


def closed_days(limit: int = 30) -> list[DayClose]:
    return list(DayClose.select().order_by(DayClose.business_day.desc()).limit(limit))
