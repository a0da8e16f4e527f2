"""Money and dated entries at the boundary: the payment and expense pages and their API."""

from __future__ import annotations

from datetime import date

from physioez.billing.models import Expense, Payment
from physioez.core.kernel.models import AuditEvent


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
