"""Checkout: bill attended sessions, take payment (split across modes), print the receipt;
a patient's account; invoices, credit notes and write-offs."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from physioez.billing.api import schemas
from physioez.billing.models import MODE_LABELS, Invoice, Payment, Settlement
from physioez.billing.request_policy import policy
from physioez.billing.services import dues, invoicing, ledger, payments, pricing, visits
from physioez.billing.services.invoicing import LineRequest
from physioez.billing.views import bp, refused, typed_in
from physioez.core.kernel import directory
from physioez.core.kernel.errors import InvalidInput, NotFound, ServiceError
from physioez.core.web.access import current_actor, requires
from physioez.core.web.boundary import parse_form


def _patient_or_404(patient_id: str) -> directory.PatientCard:
    card = directory.patient_card(patient_id)
    if card is None:
        raise NotFound("No such patient.")
    return card


@bp.get("/")
@requires("billing.checkout")
def checkout():
    return _checkout_page()


def _checkout_page(*, refusal: ServiceError | None = None) -> str:
    waiting = visits.waiting()
    cards = directory.patient_cards([v.patient_id for v in waiting])
    names = directory.practitioner_cards([v.practitioner_id for v in waiting])
    query = request.args.get("q", "").strip()
    return render_template(
        "billing/checkout.html",
        waiting=waiting,
        cards=cards,
        practitioners=names,
        query=query,
        found=directory.search_patients(query, 10) if query else [],
        **typed_in("checkout", refusal),
    )


@bp.post("/checkout")
@requires("billing.checkout")
def checkout_visits():
    patient_id = request.form.get("patient_id", "")
    try:
        if not request.form.getlist("visit_id"):
            raise InvalidInput("Tick the sessions to bill.", field="visit_id")
        wanted = parse_form(schemas.CheckoutIn)
        chosen = {v.id: v for v in visits.waiting(patient_id=wanted.patient_id)}
        requests = []
        for visit_id in wanted.visit_ids:
            if visit_id not in chosen:
                raise InvalidInput("That session is already billed.", field="visit_id")
            requests.append(LineRequest(chosen[visit_id].service_code, 1, visit_id))
        invoice = invoicing.issue_invoice(
            current_actor(), policy(), wanted.patient_id, requests, wanted.discount_given()
        )
    except ServiceError as exc:
        if directory.patient_card(patient_id) is None:
            return refused(exc, _checkout_page)
        return refused(exc, _account_page, patient_id=patient_id, failed="checkout")
    return redirect(url_for("billing.invoice_page", invoice_id=invoice.id))


@bp.get("/patients/<patient_id>")
@requires("billing.invoices.read")
def patient_account(patient_id: str):
    return _account_page(patient_id)


def _account_page(patient_id: str, *, failed: str = "", refusal: ServiceError | None = None) -> str:
    card = _patient_or_404(patient_id)
    invoices = list(
        Invoice.select()
        .where((Invoice.patient_id == patient_id) & Invoice.deleted_at.is_null())
        .order_by(Invoice.issued_at.desc())
        .limit(50)
    )
    receipts = list(
        Payment.select()
        .where((Payment.patient_id == patient_id) & Payment.deleted_at.is_null())
        .order_by(Payment.received_at.desc())
        .limit(50)
    )
    return render_template(
        "billing/patient_account.html",
        patient=card,
        waiting=visits.waiting(patient_id=patient_id),
        invoices=invoices,
        owing={inv.id: owed for inv, owed in invoicing.open_invoices(patient_id)},
        receipts=receipts,
        packages=visits.packages_of(patient_id),
        credit=ledger.patient_credit(patient_id),
        total_due=dues.patient_dues(patient_id),
        services=pricing.price_list(policy().today()),
        category=pricing.category_of(patient_id),
        modes=MODE_LABELS,
        **typed_in(failed, refusal),
    )


@bp.post("/patients/<patient_id>/invoices")
@requires("billing.invoices.write")
def invoice_by_hand(patient_id: str):
    try:
        wanted = parse_form(schemas.InvoiceIn)
        invoice = invoicing.issue_invoice(
            current_actor(), policy(), patient_id, wanted.requests(), wanted.discount_given()
        )
    except ServiceError as exc:
        return refused(exc, _account_page, patient_id=patient_id, failed="invoice")
    return redirect(url_for("billing.invoice_page", invoice_id=invoice.id))


@bp.post("/patients/<patient_id>/payments")
@requires("billing.checkout")
def take_payment(patient_id: str):
    back = request.form.get("back_invoice")
    try:
        wanted = parse_form(schemas.PaymentIn)
        payment = payments.take_payment(
            current_actor(),
            policy(),
            patient_id,
            wanted.tenders_given(),
            invoice_ids=wanted.invoice_ids,
            notes=wanted.notes,
        )
    except ServiceError as exc:
        if back:
            invoice = invoicing.get_invoice(back)
            return refused(exc, _invoice_page, invoice=invoice, failed="pay", at_boxes=True)
        return refused(exc, _account_page, patient_id=patient_id, failed="pay", at_boxes=True)
    flash(f"Received {policy().money(payment.amount)}. Receipt {payment.number}.", "success")
    return redirect(url_for("billing.receipt_page", payment_id=payment.id))


@bp.post("/patients/<patient_id>/refunds")
@requires("billing.writeoff")
def refund(patient_id: str):
    try:
        wanted = parse_form(schemas.RefundIn)
        payment = payments.refund(
            current_actor(), policy(), patient_id, wanted.tender(), wanted.reason
        )
    except ServiceError as exc:
        return refused(exc, _account_page, patient_id=patient_id, failed="refund")
    flash(f"Refunded {policy().money(payment.amount)}. Refund {payment.number}.", "success")
    return redirect(url_for("billing.receipt_page", payment_id=payment.id))


@bp.post("/patients/<patient_id>/category")
@requires("billing.prices.manage")
def set_category(patient_id: str):
    _patient_or_404(patient_id)
    try:
        pricing.set_category(current_actor(), patient_id, request.form.get("category", ""))
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for("billing.patient_account", patient_id=patient_id))


@bp.get("/invoices/<invoice_id>")
@requires("billing.invoices.read")
def invoice_page(invoice_id: str):
    return _invoice_page(invoicing.get_invoice(invoice_id))


def _invoice_page(invoice, *, failed: str = "", refusal: ServiceError | None = None) -> str:
    settlements = list(
        Settlement.select()
        .where((Settlement.invoice_id == invoice.id) & Settlement.deleted_at.is_null())
        .order_by(Settlement.created_at)
    )
    return render_template(
        "billing/invoice.html",
        **invoice_document(invoice),
        settlements=settlements,
        credit_note=invoicing.credit_note_for(invoice),
        cancels=invoicing.get_invoice(invoice.cancels_id) if invoice.cancels_id else None,
        credit=ledger.patient_credit(invoice.patient_id),
        modes=MODE_LABELS,
        **typed_in(failed, refusal),
    )


def invoice_document(invoice) -> dict:
    """What ``_invoice_document.html`` shows, for the page and for the PDF alike."""
    return {
        "invoice": invoice,
        "patient": directory.patient_card(invoice.patient_id),
        "practitioners": directory.practitioner_cards(
            [line.get("practitioner_id") for line in invoice.lines if line.get("practitioner_id")]
        ),
        "owing": invoicing.due(invoice),
        "policy": policy(),
    }


@bp.post("/invoices/<invoice_id>/cancel")
@requires("billing.invoices.write")
def cancel_invoice(invoice_id: str):
    invoice = invoicing.get_invoice(invoice_id)
    try:
        wanted = parse_form(schemas.CancelInvoiceIn)
        note = invoicing.cancel_invoice(current_actor(), policy(), invoice, wanted.reason)
    except ServiceError as exc:
        return refused(exc, _invoice_page, invoice=invoice, failed="cancel")
    flash(f"Invoice {invoice.number} cancelled by credit note {note.number}.", "success")
    return redirect(url_for("billing.invoice_page", invoice_id=note.id))


@bp.post("/invoices/<invoice_id>/write-off")
@requires("billing.writeoff")
def write_off(invoice_id: str):
    invoice = invoicing.get_invoice(invoice_id)
    try:
        wanted = parse_form(schemas.WriteOffIn)
        invoicing.write_off(current_actor(), policy(), invoice, wanted.amount, wanted.reason)
    except ServiceError as exc:
        return refused(exc, _invoice_page, invoice=invoice, failed="write_off")
    return redirect(url_for("billing.invoice_page", invoice_id=invoice_id))


@bp.post("/invoices/<invoice_id>/use-credit")
@requires("billing.checkout")
def use_credit(invoice_id: str):
    invoice = invoicing.get_invoice(invoice_id)
    try:
        used = payments.apply_credit(current_actor(), policy(), invoice)
        flash(f"Used {policy().money(used)} of the patient's credit.", "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for("billing.invoice_page", invoice_id=invoice_id))


@bp.get("/receipts/<payment_id>")
@requires("billing.invoices.read")
def receipt_page(payment_id: str):
    return render_template("billing/receipt.html", **receipt_document(payment_id))


def receipt_document(payment_id: str) -> dict:
    """What ``_receipt_document.html`` shows, for the page and for the PDF alike."""
    payment = payments.get_payment(payment_id)
    settlements = list(
        Settlement.select().where(
            (Settlement.payment_id == payment.id) & Settlement.deleted_at.is_null()
        )
    )
    return {
        "payment": payment,
        "patient": directory.patient_card(payment.patient_id),
        "settlements": settlements,
        "invoices": {s.invoice_id: invoicing.get_invoice(s.invoice_id) for s in settlements},
        "policy": policy(),
        "modes": MODE_LABELS,
    }
