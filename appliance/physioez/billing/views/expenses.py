"""Expenses and petty cash."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for

from physioez.billing.api import schemas
from physioez.billing.models import EXPENSE_CATEGORIES, EXPENSE_MODES
from physioez.billing.request_policy import policy
from physioez.billing.services import expenses
from physioez.billing.services.expenses import receipts_dir
from physioez.billing.views import bp, refused, typed_in
from physioez.core.kernel.errors import ServiceError
from physioez.core.web.access import current_actor, requires
from physioez.core.web.boundary import parse_form
from physioez.core.web.branch import current_settings
from physioez.core.web.files import send_bytes

MODE_LABELS = {
    "cash": "Cash from the drawer",
    "petty_cash": "Petty cash",
    "bank": "Bank transfer",
    "card": "Clinic card",
    "upi": "UPI",
}


@bp.get("/expenses")
@requires("billing.expenses.manage")
def expense_list():
    return _expenses_page()


def _expenses_page(*, failed: str = "", refusal: ServiceError | None = None) -> str:
    today = policy().today()
    return render_template(
        "billing/expenses.html",
        expenses=expenses.recent(),
        categories=EXPENSE_CATEGORIES,
        modes={mode: MODE_LABELS[mode] for mode in EXPENSE_MODES},
        petty_cash=expenses.petty_cash_balance(),
        month=expenses.totals_by_category(today.replace(day=1), today),
        today=today,
        **typed_in(failed, refusal),
    )


@bp.post("/expenses")
@requires("billing.expenses.manage")
def expense_add():
    upload = request.files.get("receipt")
    try:
        wanted = parse_form(schemas.ExpenseIn)
        receipt = (
            (upload.filename or "receipt", upload.read()) if upload and upload.filename else None
        )
        expense = expenses.record_expense(
            current_actor(),
            policy(),
            **wanted.model_dump(),
            receipt=receipt,
            keyring=current_app.extensions["physioez_keyring"],
            receipts_dir=receipts_dir(current_settings()),
        )
    except ServiceError as exc:
        return refused(exc, _expenses_page, failed="expense")
    flash(f"Recorded {policy().money(expense.amount)} paid to {expense.vendor}.", "success")
    return redirect(url_for("billing.expense_list"))


@bp.get("/expenses/<expense_id>/receipt")
@requires("billing.expenses.manage")
def expense_receipt(expense_id: str):
    expense = expenses.get_expense(expense_id)
    data, content_type, filename = expenses.read_receipt(
        current_actor(),
        expense,
        current_app.extensions["physioez_keyring"],
        receipts_dir(current_settings()),
    )
    return send_bytes(data, filename, content_type)


@bp.post("/petty-cash")
@requires("billing.expenses.manage")
def petty_cash_top_up():
    try:
        wanted = parse_form(schemas.TopUpIn)
        expenses.top_up_petty_cash(current_actor(), policy(), wanted.amount)
    except ServiceError as exc:
        return refused(exc, _expenses_page, failed="top_up")
    flash(f"Moved {policy().money(wanted.amount)} from the drawer to petty cash.", "success")
    return redirect(url_for("billing.expense_list"))
