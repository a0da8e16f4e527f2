"""Billing pages: checkout at the desk, payment split across modes, receipts, permissions."""

from __future__ import annotations

import re

from physioez.billing.models import Invoice, Payment
from physioez.billing.services import ledger
from physioez.core.kernel.audit import Actor
from tests.billing_fixtures import attend

ACCOUNTS = Actor(staff_id="acct-1", roles=("billing",))


def test_desk_checks_out_a_session_and_takes_a_split_payment(books, client_for):
    visit = attend(books.clinic, books.clinic.asha)
    desk = client_for("receptionist")
    page = desk.get("/billing/")
    assert page.status_code == 200 and b"Asha Test" in page.data
    account = desk.get(f"/billing/patients/{books.clinic.asha.id}")
    assert b"Make the invoice" in account.data
    made = desk.post(
        "/billing/checkout", data={"patient_id": books.clinic.asha.id, "visit_id": visit.id}
    )
    invoice = Invoice.get()
    assert made.status_code == 302 and made.location.endswith(f"/billing/invoices/{invoice.id}")
    shown = desk.get(made.location)
    assert "₹800.00".encode() in shown.data and invoice.number.encode() in shown.data
    paid = desk.post(
        f"/billing/patients/{books.clinic.asha.id}/payments",
        data={
            "invoice_id": invoice.id,
            "amount_cash": "500",
            "amount_upi": "300.00",
            "reference_upi": "UPI-42",
        },
    )
    payment = Payment.get()
    assert paid.location.endswith(f"/billing/receipts/{payment.id}")
    receipt = desk.get(paid.location).data.decode()
    assert payment.number in receipt and "₹800.00" in receipt and "UPI-42" in receipt
    assert ledger.balance(ledger.RECEIVABLE, books.clinic.asha.id) == 0


def test_bad_amount_is_explained_and_nothing_is_written(books, client_for):
    desk = client_for("receptionist")
    answer = desk.post(
        f"/billing/patients/{books.clinic.asha.id}/payments",
        data={"amount_cash": "12.345"},
    )
    assert answer.status_code == 422 and b"at most 2 decimal places" in answer.data
    assert b'value="12.345"' in answer.data  # the form comes back as typed
    assert Payment.select().count() == 0


def test_discount_beyond_the_desk_limit_is_refused_with_the_limit(books, client_for):
    visit = attend(books.clinic, books.clinic.asha)
    desk = client_for("receptionist")
    answer = desk.post(
        "/billing/checkout",
        data={
            "patient_id": books.clinic.asha.id,
            "visit_id": visit.id,
            "discount_kind": "percent",
            "discount_value": "25",
            "discount_reason": "Friend",
        },
        follow_redirects=True,
    )
    assert re.search(rb"at most 10 %", answer.data)
    assert Invoice.select().count() == 0


def test_the_desk_cannot_write_off_or_open_the_ledger(books, client_for):
    desk = client_for("receptionist")
    accounts = client_for("billing")
    invoice_page = accounts.post(
        f"/billing/patients/{books.clinic.asha.id}/invoices",
        data={"service_code": "PT45", "quantity": "1"},
    )
    invoice = Invoice.get()
    assert invoice_page.location.endswith(invoice.id)
    refused = desk.post(
        f"/billing/invoices/{invoice.id}/write-off", data={"amount": "800", "reason": "x"}
    )
    assert refused.status_code == 403
    assert desk.get("/billing/ledger").status_code == 403
    assert desk.get("/billing/day-end").status_code == 403
    assert accounts.get("/billing/ledger").status_code == 200
    written = accounts.post(
        f"/billing/invoices/{invoice.id}/write-off",
        data={"amount": "800", "reason": "Charity case"},
        follow_redirects=True,
    )
    assert b"Charity case" in written.data


def test_day_end_page_closes_with_a_reason_for_the_difference(books, client_for):
    accounts = client_for("billing")
    accounts.post(
        f"/billing/patients/{books.clinic.asha.id}/payments", data={"amount_cash": "1000"}
    )
    page = accounts.get("/billing/day-end")
    assert "₹1,000.00".encode() in page.data
    missing = accounts.post("/billing/day-end", data={"counted_cash": "990"}, follow_redirects=True)
    assert b"Say why" in missing.data
    closed = accounts.post(
        "/billing/day-end",
        data={"counted_cash": "990", "reason": "Ten short, counted twice"},
        follow_redirects=True,
    )
    assert b"is closed" in closed.data and b"Ten short" in closed.data


def test_price_list_page_adds_and_reprices(books, client_for):
    manager = client_for("branch_manager")
    added = manager.post(
        "/billing/prices",
        data={
            "code": "ice",
            "name": "Ice pack",
            "kind": "product",
            "price": "120",
            "tax_rate": "12",
        },
        follow_redirects=True,
    )
    assert b"Ice pack (ICE) is on the price list" in added.data
    repriced = manager.post(
        "/billing/prices/ICE",
        data={"price": "150"},
        follow_redirects=True,
    )
    assert "₹150.00".encode() in repriced.data
    assert client_for("receptionist").get("/billing/prices").status_code == 403


def test_reception_sees_dues_credit_and_packs_on_the_patient_page(books, client_for):
    from physioez.billing.services import invoicing
    from physioez.billing.services.invoicing import LineRequest

    invoicing.issue_invoice(
        ACCOUNTS, books.policy, books.clinic.asha.id, [LineRequest("PT45"), LineRequest("PT45X10")]
    )
    page = client_for("receptionist").get(f"/reception/patients/{books.clinic.asha.id}")
    facts = page.data.decode()
    assert "Owes" in facts and "₹7,800.00" in facts
    assert "10 of 10 sessions left" in facts
    # The same facts wherever the desk looks at the patient: booking them, their appointment.
    booking = client_for("receptionist").get(
        f"/reception/appointments/new?patient_id={books.clinic.asha.id}"
    )
    assert "10 of 10 sessions left" in booking.data.decode()
    # A therapist may see the patient but not their money.
    therapist_view = client_for("therapist").get(f"/reception/patients/{books.clinic.asha.id}")
    assert therapist_view.status_code == 200 and b"Owes" not in therapist_view.data
