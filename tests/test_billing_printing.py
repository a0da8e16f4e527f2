"""Receipts and invoices as PDF, printed through the test's own CUPS with a cups-pdf queue."""

from __future__ import annotations

import pytest

from physioez.billing.models import Invoice, Payment
from tests.conftest import make_settings
from tests.cups_support import CupsServer, pdftotext


@pytest.fixture
def receipt_printer(cups_server: CupsServer) -> str:
    return cups_server.add_pdf_printer("Front desk")


@pytest.fixture
def settings(request, tmp_path):
    """The clinic's settings; tests that print point them at the fixture's CUPS."""
    if "cups_server" not in request.fixturenames:
        return make_settings(tmp_path, **{"billing.tax_number": "27ABCDE1234F1Z5"})
    cups_server = request.getfixturevalue("cups_server")
    printer = request.getfixturevalue("receipt_printer")
    return make_settings(
        tmp_path,
        **{
            "printing.cups_server": cups_server.server,
            "printing.receipt_printer": printer,
            "billing.legal_name": "Sunrise Physio LLP",
        },
    )


def _paid_invoice(books, client) -> tuple[Invoice, Payment]:
    client.post(
        f"/billing/patients/{books.clinic.asha.id}/invoices",
        data={"service_code": ["PT45", "BAND"], "quantity": ["1", "1"]},
    )
    invoice = Invoice.get()
    client.post(
        f"/billing/patients/{books.clinic.asha.id}/payments",
        data={"invoice_id": invoice.id, "amount_cash": "500", "amount_upi": "713"},
    )
    return invoice, Payment.get()


@pytest.mark.slow
def test_receipt_prints_to_the_configured_printer(books, client_for, cups_server, receipt_printer):
    accounts = client_for("billing")
    invoice, payment = _paid_invoice(books, accounts)
    page = accounts.get(f"/billing/receipts/{payment.id}")
    assert b"Print receipt" in page.data
    sent = accounts.post(f"/billing/receipts/{payment.id}/print", follow_redirects=True)
    assert b"sent to the receipt printer" in sent.data
    text = pdftotext(cups_server.wait_for_output())
    assert payment.number in text and invoice.number in text
    assert "1,213.00" in text and "Sunrise Physio LLP" in text


def test_invoice_pdf_is_a_tax_invoice_with_what_the_law_asks(books, client_for, tmp_path):
    accounts = client_for("billing")
    invoice, _ = _paid_invoice(books, accounts)
    answer = accounts.get(f"/billing/invoices/{invoice.id}/pdf")
    assert answer.mimetype == "application/pdf" and answer.data.startswith(b"%PDF-")
    path = tmp_path / "invoice.pdf"
    path.write_bytes(answer.data)
    text = pdftotext(path)
    for expected in ("Tax invoice", invoice.number, "27ABCDE1234F1Z5", "Asha Test", "9506"):
        assert expected in text, expected
    assert "1,213.00" in text  # 800 + 350 + 18 % of 350


def test_without_a_receipt_printer_the_desk_is_sent_to_the_browser_print(books, client_for):
    accounts = client_for("billing")
    _, payment = _paid_invoice(books, accounts)
    page = accounts.get(f"/billing/receipts/{payment.id}")
    assert b"Print receipt" not in page.data and b"Print in the browser" in page.data
    answer = accounts.post(f"/billing/receipts/{payment.id}/print", follow_redirects=True)
    assert b"No receipt printer is set up" in answer.data
