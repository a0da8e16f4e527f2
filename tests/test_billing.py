"""Billing services: invoices from attended sessions, discounts, taxes, payments, credit,
credit notes, write-offs, packages consumed by attendance events, day-end close."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from physioez.billing.models import Invoice, Package, PackageUse, Payment, Visit
from physioez.billing.services import dayend, dues, invoicing, ledger, numbering, payments, visits
from physioez.billing.services.invoicing import Discount, LineRequest
from physioez.billing.services.payments import Tender
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput
from physioez.core.kernel.events import bus
from physioez.core.kernel.models import AuditEvent, OutboxEntry
from physioez.reception.events import SessionAttended
from tests.billing_fixtures import attend

DESK = Actor(staff_id="desk-1", roles=("receptionist",))
ACCOUNTS = Actor(staff_id="acct-1", roles=("billing",))


def assert_books_balance() -> None:
    rows = ledger.trial_balance()
    assert sum(dr for _, dr, _ in rows) == sum(cr for _, _, cr in rows)


def test_attended_session_waits_at_checkout_and_is_invoiced_once(books):
    visit = attend(books.clinic, books.clinic.asha)
    assert visit.service_code == "PT45" and visits.waiting() == [visit]
    invoice = invoicing.issue_invoice(
        DESK, books.policy, books.clinic.asha.id, [LineRequest("PT45", 1, visit.id)]
    )
    assert invoice.number.startswith("TEST/2026-27/") or invoice.number.startswith("TEST/2025-26/")
    assert invoice.total == 80000 and invoice.tax_total == 0
    assert invoice.lines[0]["practitioner_id"] == books.clinic.rao.id
    assert visits.waiting() == []
    with pytest.raises(Conflict):
        invoicing.issue_invoice(
            DESK, books.policy, books.clinic.asha.id, [LineRequest("PT45", 1, visit.id)]
        )
    assert dues.patient_dues(books.clinic.asha.id) == 80000
    assert ledger.balance(ledger.RECEIVABLE, books.clinic.asha.id) == 80000
    assert_books_balance()


def test_taxes_per_line_and_a_discount_spread_over_lines(books):
    invoice = invoicing.issue_invoice(
        ACCOUNTS,
        books.policy,
        books.clinic.asha.id,
        [LineRequest("PT45"), LineRequest("BAND", 2)],
        Discount(percent_bp=1000, reason="Loyal patient"),
    )
    session, band = invoice.lines
    assert invoice.subtotal == 80000 + 70000
    assert invoice.discount_total == 15000
    assert session["discount"] + band["discount"] == 15000
    assert session["tax"] == 0
    assert band["tax"] == round(band["taxable"] * 0.18)
    assert invoice.total == invoice.subtotal - 15000 + band["tax"]
    assert_books_balance()


def test_discount_limit_per_role_and_reason_required(books):
    patient = books.clinic.asha.id
    with pytest.raises(InvalidInput, match="at most 10 %"):
        invoicing.issue_invoice(
            DESK, books.policy, patient, [LineRequest("PT45")], Discount(2000, reason="Friend")
        )
    with pytest.raises(InvalidInput, match="why"):
        invoicing.issue_invoice(DESK, books.policy, patient, [LineRequest("PT45")], Discount(500))
    assert Invoice.select().count() == 0
    invoicing.issue_invoice(
        DESK, books.policy, patient, [LineRequest("PT45")], Discount(1000, reason="Senior")
    )


def test_split_partial_payment_advance_credit_and_refund(books):
    patient = books.clinic.asha.id
    invoice = invoicing.issue_invoice(ACCOUNTS, books.policy, patient, [LineRequest("PT45")])
    payment = payments.take_payment(
        DESK,
        books.policy,
        patient,
        [Tender("cash", 30000), Tender("upi", 20000, "UPI-123")],
        [invoice.id],
    )
    assert payment.amount == 50000 and payment.number.startswith("TEST/R/")
    assert invoicing.due(invoice) == 30000
    # Paying more than owed keeps the rest as credit.
    payments.take_payment(DESK, books.policy, patient, [Tender("card", 50000)])
    assert invoicing.due(invoice) == 0
    assert ledger.patient_credit(patient) == 20000
    with pytest.raises(InvalidInput, match="at most"):
        payments.refund(ACCOUNTS, books.policy, patient, Tender("cash", 30000), "Moving away")
    refund = payments.refund(ACCOUNTS, books.policy, patient, Tender("cash", 20000), "Moving")
    assert refund.kind == "refund" and ledger.patient_credit(patient) == 0
    assert dayend.expected_takings(books.policy.today())["cash"] == 30000 - 20000
    assert_books_balance()


def test_credit_note_turns_what_was_paid_into_credit_and_returns_the_visit(books):
    patient = books.clinic.asha.id
    visit = attend(books.clinic, books.clinic.asha)
    invoice = invoicing.issue_invoice(
        DESK, books.policy, patient, [LineRequest("PT45", 1, visit.id)]
    )
    payments.take_payment(DESK, books.policy, patient, [Tender("cash", 50000)], [invoice.id])
    with pytest.raises(InvalidInput):
        invoicing.cancel_invoice(ACCOUNTS, books.policy, invoice, " ")
    note = invoicing.cancel_invoice(ACCOUNTS, books.policy, invoice, "Billed the wrong session")
    assert note.kind == "credit_note" and note.cancels_id == invoice.id
    assert invoicing.due(invoice) == 0 and dues.patient_dues(patient) == 0
    assert ledger.patient_credit(patient) == 50000
    assert ledger.balance(ledger.RECEIVABLE, patient) == 0
    assert Visit.get_by_id(visit.id).invoice_id is None
    with pytest.raises(Conflict):
        invoicing.cancel_invoice(ACCOUNTS, books.policy, invoice, "Again")
    assert_books_balance()


def test_write_off_needs_a_reason_and_settles_the_rest(books):
    patient = books.clinic.asha.id
    invoice = invoicing.issue_invoice(ACCOUNTS, books.policy, patient, [LineRequest("PT45")])
    with pytest.raises(InvalidInput):
        invoicing.write_off(ACCOUNTS, books.policy, invoice, 80000, "")
    with pytest.raises(InvalidInput):
        invoicing.write_off(ACCOUNTS, books.policy, invoice, 90000, "Too much")
    invoicing.write_off(ACCOUNTS, books.policy, invoice, 80000, "Patient passed away")
    assert invoicing.due(invoice) == 0
    assert ledger.balance(ledger.BAD_DEBTS) == 80000
    assert_books_balance()


def test_a_package_session_is_consumed_once_per_attendance_even_if_delivered_twice(books):
    patient = books.clinic.asha
    invoicing.issue_invoice(ACCOUNTS, books.policy, patient.id, [LineRequest("PT45X10")])
    package = Package.get(Package.patient_id == patient.id)
    assert package.sessions_total == 10 and package.value == 700000
    visit = attend(books.clinic, patient)
    event = SessionAttended(
        branch="TEST",
        payload={
            "appointment_id": visit.appointment_id,
            "patient_id": patient.id,
            "practitioner_id": books.clinic.rao.id,
            "service_code": "PT45",
            "start_at": "2026-11-16T04:30:00Z",
            "attended_at": "2026-11-16T05:15:00Z",
            "status": "completed",
        },
    )
    bus.publish(event)  # the same event, delivered again
    bus.publish(event)
    assert PackageUse.select().count() == 1
    assert Package.get_by_id(package.id).sessions_used == 1
    assert Visit.select().count() == 1 and visits.waiting() == []
    assert ledger.balance(ledger.PACKAGE_LIABILITY, patient.id) == -(700000 - 70000)
    assert_books_balance()


def test_an_expired_package_is_not_used(books, system_actor):
    patient = books.clinic.asha
    invoicing.issue_invoice(ACCOUNTS, books.policy, patient.id, [LineRequest("PT45X10")])
    package = Package.get(Package.patient_id == patient.id)
    with write_transaction():
        package.valid_until = date(2026, 11, 1)
        package.save()
    visit = attend(books.clinic, patient)
    assert visit.package_use_id is None and visits.waiting() == [visit]
    assert visits.expire_packages(system_actor, date(2026, 11, 20)) == 1


def test_closing_the_day_locks_it_and_posts_the_cash_difference(books):
    patient = books.clinic.asha.id
    invoice = invoicing.issue_invoice(DESK, books.policy, patient, [LineRequest("PT45")])
    payments.take_payment(
        DESK, books.policy, patient, [Tender("cash", 50000), Tender("upi", 30000)], [invoice.id]
    )
    today = books.policy.today()
    with pytest.raises(InvalidInput, match="Say why"):
        dayend.close_day(ACCOUNTS, books.policy, today, {"cash": 49000})
    closed = dayend.close_day(
        ACCOUNTS, books.policy, today, {"cash": 49000}, "Change given from the drawer"
    )
    assert closed.expected["cash"] == 50000 and closed.counted["upi"] == 30000
    assert closed.z_report["differences"] == {"cash": -1000}
    assert closed.z_report["by_service"]["PT45"]["amount"] == 80000
    assert ledger.balance(ledger.CASH_OVER_SHORT) == 1000
    with pytest.raises(Conflict, match="closed"):
        payments.take_payment(DESK, books.policy, patient, [Tender("cash", 100)])
    with pytest.raises(Conflict, match="closed"):
        invoicing.issue_invoice(DESK, books.policy, patient, [LineRequest("PT45")])
    assert_books_balance()


def test_every_financial_write_is_audited_and_queued_for_head_office(books):
    patient = books.clinic.asha.id
    invoice = invoicing.issue_invoice(DESK, books.policy, patient, [LineRequest("PT45")])
    payment = payments.take_payment(DESK, books.policy, patient, [Tender("cash", 80000)])
    for entity, key in (("invoice", invoice.id), ("payment", payment.id)):
        assert AuditEvent.select().where(AuditEvent.entity_id == key).count() == 1, entity
        assert OutboxEntry.select().where(OutboxEntry.row_key == key).count() == 1, entity


def test_fiscal_year_numbering():
    assert numbering.fiscal_year(date(2027, 3, 31), 4) == 2026
    assert numbering.fiscal_year(date(2027, 4, 1), 4) == 2027
    assert numbering.fiscal_label(2026, 4) == "2026-27"
    assert numbering.fiscal_label(2026, 1) == "2026"


def test_numbers_restart_each_fiscal_year_without_gaps(app):
    with write_transaction():
        first = numbering.next_number("invoice", "BR1", date(2027, 3, 31), 4)
        second = numbering.next_number("invoice", "BR1", date(2027, 4, 1), 4)
        third = numbering.next_number("invoice", "BR1", date(2027, 4, 2), 4)
    assert first == ("BR1/2026-27/00001", 2026)
    assert second == ("BR1/2027-28/00001", 2027)
    assert third[0] == "BR1/2027-28/00002"


def test_eight_concurrent_checkouts_number_without_gap_or_duplicate(books):
    patient = books.clinic.asha.id
    errors: list[BaseException] = []

    def checkout() -> None:
        try:
            for _ in range(5):
                invoice = invoicing.issue_invoice(
                    DESK, books.policy, patient, [LineRequest("PT45")]
                )
                payments.take_payment(
                    DESK, books.policy, patient, [Tender("cash", 80000)], [invoice.id]
                )
        except BaseException as exc:  # reported below, with the thread's numbers checked
            errors.append(exc)

    threads = [threading.Thread(target=checkout) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for model in (Invoice, Payment):
        numbers = sorted(int(row.number.rsplit("/", 1)[1]) for row in model.select())
        assert numbers == list(range(1, 41)), model.__name__
    assert dues.patient_dues(patient) == 0
    assert_books_balance()


def test_dues_are_aged_by_invoice_day(books):
    patient = books.clinic.asha.id
    invoice = invoicing.issue_invoice(DESK, books.policy, patient, [LineRequest("PT45")])
    today = books.policy.today()
    rows = dues.dues_by_patient(today + timedelta(days=45))
    assert len(rows) == 1 and rows[0].buckets["31-60"] == invoice.total
    assert dues.ageing_totals(rows)["0-30"] == 0


def test_monthly_revenue_counts_invoices_credit_notes_and_pack_sessions(books):
    from physioez.billing.services import reports

    patient = books.clinic.asha
    kept = invoicing.issue_invoice(DESK, books.policy, patient.id, [LineRequest("PT45")])
    cancelled = invoicing.issue_invoice(DESK, books.policy, patient.id, [LineRequest("BAND")])
    invoicing.cancel_invoice(ACCOUNTS, books.policy, cancelled, "Wrong patient")
    invoicing.issue_invoice(ACCOUNTS, books.policy, patient.id, [LineRequest("PT45X10")])
    month = reports.monthly_revenue(books.policy.today())
    assert month.by_service == {"PT45": kept.total, "BAND": 0}
    assert month.invoiced == 80000 + 700000 and month.tax == 0
    assert month.revenue == 80000  # the pack is earned as its sessions are used
