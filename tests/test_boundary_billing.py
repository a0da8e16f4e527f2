"""Money and dated entries at the boundary: the payment and expense pages and their API."""

from __future__ import annotations

from datetime import date

from physioez.billing.models import (
    BillingService,
    Expense,
    Invoice,
    JournalEntry,
    Payment,
    Settlement,
)
from physioez.core.kernel.models import AuditEvent
from tests.billing_fixtures import attend


def test_a_payment_beyond_the_cap_is_refused_with_the_cap_on_the_page_and_the_api(
    books, client_for
):
    desk = client_for("billing")
    patient = books.clinic.asha.id
    events = AuditEvent.select().count()
    page = desk.post(f"/billing/patients/{patient}/payments", data={"amount_cash": "9" * 20})
    assert page.status_code == 422
    assert "at most 1,00,00,000 INR" in page.get_data(as_text=True)
    api = desk.post(
        f"/api/v1/billing/patients/{patient}/payments",
        json={"tenders": [{"mode": "cash", "amount": 10**25}]},
    )
    assert api.status_code == 422
    assert "at most 1,00,00,000 INR" in api.get_json()["fields"]["tenders.0.amount"]
    assert Payment.select().count() == 0 and AuditEvent.select().count() == events
    taken = desk.post(f"/billing/patients/{patient}/payments", data={"amount_upi": "1,250.50"})
    assert taken.status_code == 302 and Payment.get().amount == 125050


def expense(**changes) -> dict:
    base = {"category": "consumables", "vendor": "Tape & Co", "amount": "450", "mode": "cash"}
    return base | changes


def test_expenses_through_the_page_and_the_api_share_their_bounds(books, client_for):
    accounts = client_for("billing")
    assert accounts.post("/billing/expenses", data=expense()).status_code == 302
    assert Expense.get().amount == 45000
    api = accounts.post("/api/v1/billing/expenses", json={**expense(), "amount": 45000})
    assert api.status_code == 201 and api.get_json()["amount"] == 45000
    for day, words in (("0202-01-01", "four-digit year"), ("9999-12-31", "between")):
        page = accounts.post("/billing/expenses", data=expense(day=day))
        assert page.status_code == 422 and words in page.get_data(as_text=True)
        api = accounts.post("/api/v1/billing/expenses", json={**expense(day=day), "amount": 45000})
        assert api.status_code == 422 and words in api.get_json()["fields"]["day"]
    assert Expense.select().count() == 2


def test_an_expense_in_an_ended_fiscal_year_is_refused_with_the_reason(books, client_for, settings):
    accounts = client_for("billing")
    today = books.policy.today()
    # The last day of the previous fiscal year (April to March): at most 365 days back, so
    # inside the expenses window of 400 days.
    start = date(today.year if today.month >= 4 else today.year - 1, 4, 1)
    last_year = date.fromordinal(start.toordinal() - 1)
    response = accounts.post(
        "/api/v1/billing/expenses", json={**expense(day=last_year.isoformat()), "amount": 100}
    )
    assert response.status_code == 409
    assert "which has ended" in response.get_json()["fields"]["day"]
    page = accounts.post("/billing/expenses", data=expense(day=last_year.isoformat()))
    assert page.status_code == 409 and b"which has ended" in page.data
    assert Expense.select().count() == 0


# --- the accounts desk's other forms: a refusal shows the page again, 4xx, what was typed ---


def rows() -> tuple[int, ...]:
    return (
        Invoice.select().count(),
        Payment.select().count(),
        Settlement.select().count(),
        JournalEntry.select().count(),
        AuditEvent.select().count(),
    )


def test_an_invoice_by_hand_with_a_slip_keeps_its_lines_and_discount(books, client_for):
    accounts = client_for("billing")
    url = f"/billing/patients/{books.clinic.asha.id}/invoices"
    before = rows()
    lines = {"service_code": ["PT45", "BAND"], "quantity": ["2", "0"]}
    page = accounts.post(url, data=lines)
    assert page.status_code == 422 and b"Enter a number at least 1." in page.data
    assert b'value="BAND" selected' in page.data and b'value="2"' in page.data
    discount = {"discount_kind": "percent", "discount_value": "150", "discount_reason": "Staff"}
    page = accounts.post(url, data={"service_code": "PT45", "quantity": "1", **discount})
    assert page.status_code == 422 and b"a percentage from 0 to 100" in page.data
    assert b'value="Staff"' in page.data and b'value="150"' in page.data
    api = accounts.post(
        f"/api/v1/billing/patients/{books.clinic.asha.id}/invoices",
        json={"lines": [{"service_code": "PT45", "quantity": 0}]},
    )
    assert api.status_code == 422 and "lines.0.quantity" in api.get_json()["fields"]
    assert rows() == before
    fine = accounts.post(url, data={**discount, "discount_value": "12.5", "service_code": "PT45"})
    assert fine.status_code == 302 and Invoice.get().discount_total == 10000


def test_checkout_with_an_amount_discount_beyond_the_cap_keeps_the_ticks(books, client_for):
    visit = attend(books.clinic, books.clinic.asha)
    desk = client_for("billing")
    before = rows()
    page = desk.post(
        "/billing/checkout",
        data={
            "patient_id": books.clinic.asha.id,
            "visit_id": visit.id,
            "discount_kind": "amount",
            "discount_value": "9" * 20,
            "discount_reason": "Typo",
        },
    )
    assert page.status_code == 422 and b"at most 1,00,00,000 INR" in page.data
    assert f'value="{visit.id}" checked'.encode() in page.data
    assert b'value="amount" selected' in page.data and rows() == before
    nobody = desk.post("/billing/checkout", data={"visit_id": visit.id})
    assert nobody.status_code == 422 and rows() == before


def test_refund_and_write_off_refusals_show_the_page_again(books, client_for):
    accounts = client_for("billing")
    patient = books.clinic.asha.id
    accounts.post(f"/billing/patients/{patient}/payments", data={"amount_cash": "500"})
    before = rows()
    refund = {"amount": "five hundred", "mode": "upi", "reason": "Moved away"}
    page = accounts.post(f"/billing/patients/{patient}/refunds", data=refund)
    assert page.status_code == 422 and b'value="Moved away"' in page.data
    assert b'value="upi" selected' in page.data and rows() == before
    accounts.post(f"/billing/patients/{patient}/invoices", data={"service_code": "BAND"})
    invoice = Invoice.get(Invoice.patient_id == patient)
    before = rows()
    page = accounts.post(
        f"/billing/invoices/{invoice.id}/write-off", data={"amount": "0", "reason": "Bad debt"}
    )
    assert page.status_code == 422 and b"more than zero" in page.data
    assert b'<details class="card" open>' in page.data and b'value="Bad debt"' in page.data
    pay = accounts.post(
        f"/billing/patients/{patient}/payments",
        data={"amount_card": "-5", "back_invoice": invoice.id, "invoice_id": invoice.id},
    )
    assert pay.status_code == 422 and b'data-testid="pay-form"' in pay.data
    assert b'value="-5"' in pay.data and rows() == before


def test_price_list_top_up_and_day_end_refusals_keep_what_was_typed(books, client_for):
    manager = client_for("branch_manager")
    before = BillingService.select().count()
    service = {"code": "ICE", "name": "Ice pack", "kind": "product", "price": "120"}
    page = manager.post("/billing/prices", data={**service, "tax_rate": "18.125"})
    assert page.status_code == 422 and b"at most two decimal places" in page.data
    assert b'value="Ice pack"' in page.data and BillingService.select().count() == before
    page = manager.post("/billing/prices/PT45", data={"price": "900", "valid_from": "0202-01-01"})
    assert page.status_code == 422 and b"use a four-digit year" in page.data
    assert b'value="900"' in page.data
    assert manager.post("/billing/prices", data={**service, "price": ""}).status_code == 422
    accounts = client_for("billing")
    before = rows()
    page = accounts.post("/billing/petty-cash", data={"amount": "0"})
    assert page.status_code == 422 and b"more than zero" in page.data
    page = accounts.post("/billing/day-end", data={"counted_cash": "lots", "reason": "Recount"})
    assert page.status_code == 422 and b'value="lots"' in page.data
    assert b'value="Recount"' in page.data and rows() == before
