"""Expenses and petty cash."""

from __future__ import annotations

from datetime import date

from flask import current_app, flash, redirect, render_template, request, url_for

from physioez.billing.models import EXPENSE_CATEGORIES, EXPENSE_MODES
from physioez.billing.services import expenses
from physioez.billing.views import bp, form_amount, policy
from physioez.core.kernel.errors import InvalidInput, ServiceError
from physioez.core.web.access import current_actor, requires
from physioez.core.web.files import send_bytes

MODE_LABELS = {
    "cash": "Cash from the drawer",
    "petty_cash": "Petty cash",
    "bank": "Bank transfer",
    "card": "Clinic card",
    "upi": "UPI",
}


def _receipts_dir():
    return current_app.config["PHYSIOEZ"].paths.data_dir / "expense-receipts"


@bp.get("/expenses")
@requires("billing.expenses.manage")
def expense_list():
    today = policy().today()
    return render_template(
        "billing/expenses.html",
        expenses=expenses.recent(),
        categories=EXPENSE_CATEGORIES,
        modes={mode: MODE_LABELS[mode] for mode in EXPENSE_MODES},
        petty_cash=expenses.petty_cash_balance(),
        month=expenses.totals_by_category(today.replace(day=1), today),
        today=today,
    )


@bp.post("/expenses")
@requires("billing.expenses.manage")
def expense_add():
    form = request.form
    upload = request.files.get("receipt")
    try:
        day_text = form.get("day") or ""
        try:
            day = date.fromisoformat(day_text) if day_text else None
        except ValueError:
            raise InvalidInput("Give the date as YYYY-MM-DD.", field="day") from None
        receipt = (
            (upload.filename or "receipt", upload.read()) if upload and upload.filename else None
        )
        expense = expenses.record_expense(
            current_actor(),
            policy(),
            category=form.get("category", ""),
            vendor=form.get("vendor", ""),
            amount=form_amount(form, "amount", required=True),
            mode=form.get("mode", ""),
            notes=form.get("notes", ""),
            receipt=receipt,
            keyring=current_app.extensions["physioez_keyring"],
            receipts_dir=_receipts_dir(),
            day=day,
        )
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("billing.expense_list"))
    flash(f"Recorded {policy().money(expense.amount)} paid to {expense.vendor}.", "success")
    return redirect(url_for("billing.expense_list"))


@bp.get("/expenses/<expense_id>/receipt")
@requires("billing.expenses.manage")
def expense_receipt(expense_id: str):
    expense = expenses.get_expense(expense_id)
    data, content_type, filename = expenses.read_receipt(
        current_actor(), expense, current_app.extensions["physioez_keyring"], _receipts_dir()
    )
    return send_bytes(data, filename, content_type)


@bp.post("/petty-cash")
@requires("billing.expenses.manage")
def petty_cash_top_up():
    try:
        amount = form_amount(request.form, "amount", required=True)
        expenses.top_up_petty_cash(current_actor(), policy(), amount)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("billing.expense_list"))
    flash(f"Moved {policy().money(amount)} from the drawer to petty cash.", "success")
    return redirect(url_for("billing.expense_list"))
