"""The billing API: checkout at a counter or from another system (invoice, then payment)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from physioez.billing import schemas
from physioez.billing.services import invoicing, ledger, payments
from physioez.billing.views import policy
from physioez.core.db import database
from physioez.core.errors import InvalidInput, NotFound
from physioez.core.web.access import current_actor
from physioez.core.web.api import Api

api = Api("billing", tag="Billing")


@contextmanager
def patient_in_path() -> Iterator[None]:
    """The services refuse an unknown patient as a bad field; in a path it is a 404. (Looking
    the patient up first would cost a second lookup of the same card on every checkout.)"""
    try:
        yield
    except InvalidInput as exc:
        if exc.field != "patient_id":
            raise
        raise NotFound("No such patient.", field="patient_id") from None


@api.route(
    "/billing/patients/<patient_id>/invoices",
    "POST",
    permission="billing.invoices.write",
    summary="Invoice a patient: price-list lines, attended sessions (visit_id), a discount",
    body=schemas.InvoiceIn,
    response=schemas.InvoiceOut,
    status=201,
)
def create_invoice(patient_id: str, body: schemas.InvoiceIn):
    with patient_in_path():
        invoice = invoicing.issue_invoice(
            current_actor(), policy(), patient_id, body.requests(), body.discount_given()
        )
    return schemas.InvoiceOut.of(invoice, invoice.total)


@api.route(
    "/billing/invoices/<invoice_id>",
    "GET",
    permission="billing.invoices.read",
    summary="An invoice or credit note, with what it still owes",
    response=schemas.InvoiceOut,
)
def get_invoice(invoice_id: str):
    invoice = invoicing.get_invoice(invoice_id)
    return schemas.InvoiceOut.of(invoice, invoicing.due(invoice))


@api.route(
    "/billing/patients/<patient_id>/payments",
    "POST",
    permission="billing.checkout",
    summary="Take a payment (split across modes); it pays the invoices named, or the oldest "
    "dues, and keeps the rest as the patient's credit",
    body=schemas.PaymentIn,
    response=schemas.PaymentOut,
    status=201,
)
def take_payment(patient_id: str, body: schemas.PaymentIn):
    with patient_in_path():
        payment = payments.take_payment(
            current_actor(),
            policy(),
            patient_id,
            body.tenders_given(),
            invoice_ids=body.invoice_ids,
            notes=body.notes,
        )
    # Its settlements were made right after it, so their ids (UUIDv7) follow its id: a short
    # range of the primary key instead of a scan (settlement has no payment_id index).
    rows = database.execute_sql(
        "SELECT invoice_id, amount FROM settlement WHERE id > ? AND payment_id = ? ORDER BY id",
        (payment.id, payment.id),
    ).fetchall()
    settled = [schemas.SettledOut(invoice_id=invoice, amount=amount) for invoice, amount in rows]
    return schemas.PaymentOut.of(payment, settled, ledger.patient_credit(patient_id))
