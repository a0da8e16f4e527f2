"""Arbitrary input at the accounts desk's forms, through the pages and the API: never a 5xx,
and a refused request writes no row (the helpers and the tables watched are
``test_boundary_properties``')."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from physioez.billing.services import invoicing
from physioez.billing.services.invoicing import LineRequest
from tests.test_boundary_properties import (
    PROPERTY,
    drive,
    drive_each,
    fields,
    json_value,
    send,
    text,
)


@pytest.fixture
def accounts(books, client_for):
    return client_for("owner")


def test_invoice_by_hand_page(books, accounts):
    form = {
        "service_code": "PT45",
        "quantity": "1",
        "discount_kind": "percent",
        "discount_value": "",
        "discount_reason": "",
    }

    @PROPERTY
    @given(fields(form, text), st.sampled_from([books.clinic.asha.id, "no-such-patient"]))
    def run(changed, patient):
        send(accounts.post, f"/billing/patients/{patient}/invoices", data=changed)

    run()


def test_invoice_api(books, accounts):
    line = st.fixed_dictionaries(
        {"service_code": st.one_of(st.just("PT45"), text)},
        optional={"quantity": json_value, "visit_id": json_value},
    )
    discount = st.fixed_dictionaries(
        {"reason": json_value}, optional={"percent_bp": json_value, "amount": json_value}
    )
    body = st.fixed_dictionaries(
        {"lines": st.one_of(st.lists(line, max_size=3), json_value)},
        optional={"discount": st.one_of(discount, json_value)},
    )

    url = f"/api/v1/billing/patients/{books.clinic.asha.id}/invoices"
    drive(accounts.post, url, body, body=True)


def test_refund_write_off_and_top_up_pages(books, accounts, system_actor):
    patient = books.clinic.asha.id
    invoice = invoicing.issue_invoice(
        system_actor, books.policy, patient, [LineRequest("BAND", 1)], None
    )
    forms = {
        f"/billing/patients/{patient}/refunds": {
            "amount": "100",
            "mode": "cash",
            "reference": "",
            "reason": "Moved",
        },
        f"/billing/invoices/{invoice.id}/write-off": {"amount": "10", "reason": "Bad debt"},
        f"/billing/invoices/{invoice.id}/cancel": {"reason": "Wrong patient"},
        "/billing/petty-cash": {"amount": "200"},
    }

    drive_each(accounts.post, forms)


def test_price_list_and_day_end_pages(books, accounts):
    forms = {
        "/billing/prices": {
            "code": "ICE",
            "name": "Ice pack",
            "kind": "product",
            "price": "120",
            "tax_rate": "12",
            "valid_from": "",
            "package_sessions": "",
        },
        "/billing/prices/PT45": {"price": "900", "category": "", "valid_from": "2027-01-01"},
        "/billing/day-end": {"day": "", "counted_cash": "", "reason": ""},
    }

    drive_each(accounts.post, forms)
