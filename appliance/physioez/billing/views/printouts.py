"""Invoices and receipts as PDF: downloaded, or printed through CUPS to the printer chosen in
settings. The browser's own print stays the fallback when no printer is set or it fails."""

from __future__ import annotations

from typing import cast

from flask import Response, flash, redirect, render_template, request, url_for

from physioez.billing.services import invoicing
from physioez.billing.views import bp
from physioez.billing.views.checkout import invoice_document, receipt_document
from physioez.core.kernel.errors import InvalidInput, ServiceError
from physioez.core.platform import printing
from physioez.core.web.access import requires
from physioez.core.web.branch import current_settings
from physioez.core.web.files import send_bytes


def _printing_settings():
    return current_settings().printing


def _paper(default: str) -> printing.Paper:
    paper = request.values.get("paper", default)
    if paper in ("a4", "receipt80"):
        return cast(printing.Paper, paper)
    raise InvalidInput("Choose A4 or the 80 mm receipt paper.", field="paper")


def _receipt_pdf(payment_id: str, paper: printing.Paper) -> tuple[bytes, str]:
    context = receipt_document(payment_id)
    number = context["payment"].number
    html = render_template("billing/print_document.html", title=number, paper=paper, **context)
    return printing.render_pdf(html, paper=paper), number


def _invoice_pdf(invoice_id: str) -> tuple[bytes, str]:
    invoice = invoicing.get_invoice(invoice_id)
    html = render_template(
        "billing/print_document.html",
        title=invoice.number,
        paper="a4",
        payment=None,
        **invoice_document(invoice),
    )
    return printing.render_pdf(html, paper="a4"), invoice.number


def _pdf_answer(pdf: bytes, number: str) -> Response:
    name = number.replace("/", "-") + ".pdf"
    return send_bytes(pdf, name, "application/pdf", inline=True)


@bp.get("/receipts/<payment_id>/pdf")
@requires("billing.invoices.read")
def receipt_pdf(payment_id: str):
    return _pdf_answer(*_receipt_pdf(payment_id, _paper(_printing_settings().receipt_paper)))


@bp.get("/invoices/<invoice_id>/pdf")
@requires("billing.invoices.read")
def invoice_pdf(invoice_id: str):
    return _pdf_answer(*_invoice_pdf(invoice_id))


def _send(pdf: bytes, number: str, printer: str, kind: str) -> None:
    settings = _printing_settings()
    job = printing.print_pdf(
        pdf, printer=printer, title=number, server=settings.cups_server or None, kind=kind
    )
    flash(f"{number} sent to the {kind} (job {job}).", "success")


@bp.post("/receipts/<payment_id>/print")
@requires("billing.checkout")
def receipt_print(payment_id: str):
    settings = _printing_settings()
    back = url_for("billing.receipt_page", payment_id=payment_id)
    if not settings.receipt_printer:
        flash("No receipt printer is set up on this box: use Print in the browser.", "error")
        return redirect(back)
    try:
        pdf, number = _receipt_pdf(payment_id, settings.receipt_paper)
        _send(pdf, number, settings.receipt_printer, "receipt printer")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(back)


@bp.post("/invoices/<invoice_id>/print")
@requires("billing.checkout")
def invoice_print(invoice_id: str):
    settings = _printing_settings()
    back = url_for("billing.invoice_page", invoice_id=invoice_id)
    if not settings.invoice_printer:
        flash("No invoice printer is set up on this box: use Print in the browser.", "error")
        return redirect(back)
    try:
        _send(*_invoice_pdf(invoice_id), settings.invoice_printer, "invoice printer")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(back)
