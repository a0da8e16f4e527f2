"""The billing API: invoice and payment over JSON, validated, permission-checked, documented."""

from __future__ import annotations

from physioez.billing.models import Invoice, Payment
from physioez.billing.services import dues, ledger
from tests.billing_fixtures import attend


def invoice_path(patient) -> str:
    return f"/api/v1/billing/patients/{patient.id}/invoices"


def payment_path(patient) -> str:
    return f"/api/v1/billing/patients/{patient.id}/payments"


def test_checkout_invoice_then_split_payment(books, client_for):
    asha = books.clinic.asha
    accounts = client_for("billing")
    made = accounts.post(
        invoice_path(asha), json={"lines": [{"service_code": "pt45"}, {"service_code": "BAND"}]}
    )
    assert made.status_code == 201, made.json
    invoice = made.json
    assert invoice["number"] == Invoice.get_by_id(invoice["id"]).number
    assert [line["service_code"] for line in invoice["lines"]] == ["PT45", "BAND"]
    assert invoice["tax_total"] == 6300 and invoice["total"] == 80000 + 35000 + 6300
    assert invoice["due"] == invoice["total"]
    paid = accounts.post(
        payment_path(asha),
        json={
            "tenders": [
                {"mode": "cash", "amount": 50000},
                {"mode": "upi", "amount": invoice["total"] - 50000, "reference": "UPI 4312"},
            ],
            "invoice_ids": [invoice["id"]],
        },
    )
    assert paid.status_code == 201, paid.json
    receipt = paid.json
    assert receipt["amount"] == invoice["total"] and receipt["credit"] == 0
    assert receipt["settled"] == [{"invoice_id": invoice["id"], "amount": invoice["total"]}]
    assert receipt["tenders"][1] == {
        "mode": "upi",
        "amount": invoice["total"] - 50000,
        "reference": "UPI 4312",
    }
    assert Payment.get_by_id(receipt["id"]).number == receipt["number"]
    shown = accounts.get(f"/api/v1/billing/invoices/{invoice['id']}")
    assert shown.status_code == 200 and shown.json["due"] == 0
    assert dues.patient_dues(asha.id) == 0 and ledger.balance(ledger.RECEIVABLE, asha.id) == 0


def test_attended_session_is_billed_once_and_overpayment_becomes_credit(books, client_for):
    asha = books.clinic.asha
    visit = attend(books.clinic, asha)
    accounts = client_for("billing")
    body = {"lines": [{"service_code": "PT45", "visit_id": visit.id}]}
    first = accounts.post(invoice_path(asha), json=body)
    assert first.status_code == 201
    assert first.json["lines"][0]["practitioner_id"] == books.clinic.rao.id
    again = accounts.post(invoice_path(asha), json=body)
    assert again.status_code == 409 and "already billed" in again.json["error"]
    # No invoice named: the oldest dues are paid, the rest kept as credit.
    paid = accounts.post(payment_path(asha), json={"tenders": [{"mode": "card", "amount": 100000}]})
    assert paid.status_code == 201
    assert paid.json["settled"] == [{"invoice_id": first.json["id"], "amount": 80000}]
    assert paid.json["credit"] == 20000 == ledger.patient_credit(asha.id)


def test_bad_input_is_refused_and_nothing_is_written(books, client_for):
    asha = books.clinic.asha
    accounts = client_for("billing")
    refusals = [
        (invoice_path(asha), {"lines": []}, 422, "lines"),
        (invoice_path(asha), {"lines": [{"service_code": "PT45", "quantity": 0}]}, 422, None),
        (invoice_path(asha), {"lines": [{"service_code": "PT45"}], "extra": 1}, 422, "extra"),
        (
            invoice_path(asha),
            {
                "lines": [{"service_code": "PT45"}],
                "discount": {"percent_bp": 1000, "amount": 500, "reason": "Both"},
            },
            422,
            None,
        ),
        (invoice_path(asha), {"lines": [{"service_code": "NOPE"}]}, 404, "service_code"),
        (
            "/api/v1/billing/patients/no-such-patient/invoices",
            {"lines": [{"service_code": "PT45"}]},
            404,
            "patient_id",
        ),
        (payment_path(asha), {"tenders": [{"mode": "cheque", "amount": 100}]}, 422, None),
        (payment_path(asha), {"tenders": [{"mode": "cash", "amount": -5}]}, 422, None),
        (
            payment_path(asha),
            {"tenders": [{"mode": "cash", "amount": 1}], "invoice_ids": ["x"]},
            409,
            "invoice_id",
        ),
    ]
    for path, body, status, field in refusals:
        answer = accounts.post(path, json=body)
        assert answer.status_code == status, (body, answer.json)
        assert answer.json["error"]
        if field:
            assert any(name.startswith(field) for name in answer.json["fields"]), answer.json
    assert accounts.post(invoice_path(asha), data="not json").status_code == 400
    assert Invoice.select().count() == 0 and Payment.select().count() == 0


def test_discount_limit_of_the_role_applies(books, client_for):
    asha = books.clinic.asha
    body = {
        "lines": [{"service_code": "PT45"}],
        "discount": {"percent_bp": 3000, "reason": "Friend of the owner"},
    }
    refused = client_for("billing").post(invoice_path(asha), json=body)
    assert refused.status_code == 422 and "at most 25 %" in refused.json["error"]
    given = client_for("branch_manager").post(invoice_path(asha), json=body)
    assert given.status_code == 201 and given.json["total"] == 56000


def test_desk_takes_payments_but_does_not_invoice_by_hand(books, client_for):
    asha = books.clinic.asha
    desk = client_for("receptionist")
    refused = desk.post(invoice_path(asha), json={"lines": [{"service_code": "PT45"}]})
    assert refused.status_code == 403
    assert refused.headers["X-Refused-Permission"] == "billing.invoices.write"
    taken = desk.post(payment_path(asha), json={"tenders": [{"mode": "cash", "amount": 5000}]})
    assert taken.status_code == 201 and taken.json["credit"] == 5000
    assert client_for("therapist").get("/api/v1/billing/invoices/x").status_code == 403


def test_billing_routes_are_in_the_openapi_document(app, client_for):
    document = client_for("billing").get("/api/v1/openapi.json").json
    paths = document["paths"]
    assert set(paths["/api/v1/billing/patients/{patient_id}/invoices"]) == {"post"}
    assert set(paths["/api/v1/billing/patients/{patient_id}/payments"]) == {"post"}
    assert set(paths["/api/v1/billing/invoices/{invoice_id}"]) == {"get"}
    assert {"InvoiceIn", "InvoiceOut", "PaymentIn", "PaymentOut"} <= set(
        document["components"]["schemas"]
    )


def test_account_dues_and_price_list_read_back_what_was_billed(books, client_for):
    from physioez.billing.services import invoicing
    from physioez.billing.services.invoicing import LineRequest
    from physioez.core.kernel.audit import Actor

    accounts = Actor(staff_id="acct", roles=("billing",))
    patient = books.clinic.asha.id
    invoicing.issue_invoice(
        accounts, books.policy, patient, [LineRequest("PT45"), LineRequest("PT45X10")]
    )
    desk = client_for("receptionist")
    account = desk.get(f"/api/v1/billing/patients/{patient}/account").json
    assert account["owing"] == 780000 and account["credit"] == 0
    assert account["packages"][0]["sessions_total"] == 10
    assert desk.get("/api/v1/billing/patients/nobody/account").status_code == 404
    owed = desk.get("/api/v1/billing/dues").json
    assert owed["totals"]["0-30"] == 780000 and owed["patients"][0]["name"] == "Asha Test"
    prices = {item["code"]: item for item in desk.get("/api/v1/billing/prices").json["items"]}
    assert prices["PT45"]["price"] == 80000 and prices["BAND"]["tax_rate_bp"] == 1800
    assert client_for("therapist").get("/api/v1/billing/dues").status_code == 403
    paths = desk.get("/api/v1/openapi.json").json["paths"]
    for path in ("account", "dues", "prices"):
        assert any(p.endswith(path) for p in paths), path
