"""The billing API: checkout at a counter or from another system (invoice, then payment)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from physioez.billing.api import responses, schemas
from physioez.billing.request_policy import policy
from physioez.billing.services import (
    dues,
    expenses,
    invoicing,
    ledger,
    payments,
    pricing,
    visits,
)
from physioez.core.kernel import directory
from physioez.core.kernel.db import database
from physioez.core.kernel.errors import InvalidInput, NotFound
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
    response=responses.InvoiceOut,
    status=201,
    errors=(409,),
)
def create_invoice(patient_id: str, body: schemas.InvoiceIn):
    with patient_in_path():
        invoice = invoicing.issue_invoice(
            current_actor(), policy(), patient_id, body.requests(), body.discount_given()
        )
    return responses.InvoiceOut.of(invoice, invoice.total)


@api.route(
    "/billing/invoices/<invoice_id>",
    "GET",
    permission="billing.invoices.read",
    summary="An invoice or credit note, with what it still owes",
    response=responses.InvoiceOut,
)
def get_invoice(invoice_id: str):
    invoice = invoicing.get_invoice(invoice_id)
    return responses.InvoiceOut.of(invoice, invoicing.due(invoice))


@api.route(
    "/billing/patients/<patient_id>/payments",
    "POST",
    permission="billing.checkout",
    summary="Take a payment (split across modes); it pays the invoices named, or the oldest "
    "dues, and keeps the rest as the patient's credit",
    body=schemas.PaymentIn,
    response=responses.PaymentOut,
    status=201,
    errors=(409,),
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
    settled = [responses.SettledOut(invoice_id=invoice, amount=amount) for invoice, amount in rows]
    return responses.PaymentOut.of(payment, settled, ledger.patient_credit(patient_id))


@api.route(
    "/billing/patients/<patient_id>/account",
    "GET",
    permission="billing.invoices.read",
    summary="A patient's account: what they owe (open invoices), their credit, their packs",
    response=responses.AccountOut,
)
def patient_account(patient_id: str):
    if directory.patient_card(patient_id) is None:
        raise NotFound("No such patient.", field="patient_id")
    open_ones = invoicing.open_invoices(patient_id)
    return responses.AccountOut(
        patient_id=patient_id,
        owing=sum(owing for _, owing in open_ones),
        credit=ledger.patient_credit(patient_id),
        open_invoices=[
            responses.OpenInvoiceOut(
                id=invoice.id,
                number=invoice.number,
                business_day=invoice.business_day,
                total=invoice.total,
                owing=owing,
            )
            for invoice, owing in open_ones
        ],
        packages=[
            responses.PackageOut(
                id=package.id,
                name=package.name,
                service_code=package.service_code,
                sessions_total=package.sessions_total,
                sessions_used=package.sessions_used,
                valid_until=package.valid_until,
                status=package.status,
            )
            for package in visits.packages_of(patient_id)
        ],
    )


@api.route(
    "/billing/dues",
    "GET",
    permission="billing.invoices.read",
    summary="Everyone who owes, most first, aged 0-30, 31-60, 61-90 and 90+ days",
    response=responses.DuesOut,
)
def dues_list():
    today = policy().today()
    rows = dues.dues_by_patient(today)
    return responses.DuesOut(
        as_of=today,
        totals=dues.ageing_totals(rows),
        patients=[
            responses.DuesRowOut(
                patient_id=row.patient_id,
                name=row.name,
                mrn=row.mrn,
                phone=row.phone,
                total=row.total,
                oldest_day=row.oldest_day,
                buckets=row.buckets,
            )
            for row in rows
        ],
    )


@api.route(
    "/billing/prices",
    "GET",
    permission="billing.invoices.read",
    summary="The price list in force today, with concession prices",
    response=responses.PriceListOut,
)
def price_list():
    today = policy().today()
    return responses.PriceListOut(
        day=today,
        items=[
            responses.PriceOut(
                code=service.code,
                name=service.name,
                kind=service.kind,
                tax_rate_bp=service.tax_rate_bp,
                tax_code=service.tax_code,
                price=price,
                concessions=concessions,
            )
            for service, price, concessions in pricing.price_list(today)
        ],
    )


@api.route(
    "/billing/expenses",
    "POST",
    permission="billing.expenses.manage",
    summary="Record money the clinic spent (the receipt is added on the page)",
    body=schemas.ExpenseIn,
    response=responses.ExpenseOut,
    status=201,
)
def record_expense(body: schemas.ExpenseIn):
    return responses.ExpenseOut.of(
        expenses.record_expense(current_actor(), policy(), **body.model_dump())
    )
