"""Accounts-desk pages: one blueprint, a module per area."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, request, url_for
from werkzeug.datastructures import MultiDict

from physioez.billing.request_policy import policy
from physioez.core.kernel.directory import PatientFact
from physioez.core.kernel.errors import ServiceError
from physioez.core.web.nav import NavItem

bp = Blueprint("billing", __name__, url_prefix="/billing")

NAV = (
    NavItem("Billing", "Checkout", "billing.checkout", "billing.checkout"),
    NavItem("Billing", "Dues", "billing.dues_page", "billing.invoices.read"),
    NavItem("Billing", "Day end", "billing.day_end", "billing.dayend.close"),
    NavItem("Billing", "Expenses", "billing.expense_list", "billing.expenses.manage"),
    NavItem("Billing", "Price list", "billing.price_list", "billing.prices.manage"),
    NavItem("Billing", "Ledger", "billing.ledger_page", "billing.ledger.read"),
    NavItem("Billing", "Exports", "billing.export_page", "billing.exports.download"),
)


def refused(
    exc: ServiceError, page: Callable[..., str], *, at_boxes: bool = False, **context
) -> tuple[str, int]:
    """``page`` again with the refusal's 4xx and the form as typed. The message is flashed at
    the top of the page, unless the form shows each problem under its own box (``at_boxes``:
    the payment form's amount and reference boxes, ``billing/_payment.html``)."""
    if not at_boxes:
        flash(exc.message, "error")
    return page(refusal=exc, **context), exc.status


def typed_in(failed: str, refusal: ServiceError | None) -> dict[str, Any]:
    """What a page needs to show a refused form again: which one was sent (``failed``; the
    page's other forms start empty), what it held, the message and each problem by field."""
    if refusal is None:
        return {"failed": "", "values": MultiDict(), "error": None, "problems": {}}
    return {
        "failed": failed,
        "values": request.form,
        "error": refusal.message,
        "problems": refusal.fields,
    }


@bp.app_template_filter("money")
def money_filter(minor: int | None) -> str:
    """Amounts as the branch's people write them (₹1,25,000.00)."""
    return "" if minor is None else policy().money(int(minor))


def patient_facts(patient_id: str, permissions: frozenset[str]) -> list[PatientFact]:
    """Dues, credit and packs, wherever reception shows the patient (to those who may see)."""
    if "billing.invoices.read" not in permissions:
        return []
    from physioez.billing.services import dues, ledger, visits

    account = url_for("billing.patient_account", patient_id=patient_id)
    facts = []
    owed = dues.patient_dues(patient_id)
    if owed:
        facts.append(PatientFact("Owes", policy().money(owed), account, warn=True))
    credit = ledger.patient_credit(patient_id)
    if credit:
        facts.append(PatientFact("Credit", policy().money(credit), account))
    for package in visits.packages_of(patient_id):
        if package.status == "active":
            left = package.sessions_total - package.sessions_used
            facts.append(
                PatientFact(
                    package.name,
                    f"{left} of {package.sessions_total} sessions left, "
                    f"valid to {package.valid_until:%d %b %Y}",
                    account,
                )
            )
    return facts


# Importing the area modules registers their routes on ``bp``.
from physioez.billing.views import (  # noqa: E402, F401
    checkout,
    dayend,
    expenses,
    exports,
    prices,
    printouts,
)
