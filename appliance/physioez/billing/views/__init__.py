"""Accounts-desk pages: one blueprint, a module per area."""

from __future__ import annotations

from flask import Blueprint, current_app

from physioez.billing.services.policy import BillingPolicy
from physioez.core.web.nav import NavItem

bp = Blueprint("billing", __name__, url_prefix="/billing")

NAV = (
    NavItem("Billing", "Checkout", "billing.checkout", "billing.checkout"),
    NavItem("Billing", "Dues", "billing.dues_page", "billing.invoices.read"),
    NavItem("Billing", "Day end", "billing.day_end", "billing.dayend.close"),
    NavItem("Billing", "Expenses", "billing.expense_list", "billing.expenses.manage"),
    NavItem("Billing", "Price list", "billing.price_list", "billing.prices.manage"),
    NavItem("Billing", "Ledger", "billing.ledger_page", "billing.ledger.read"),
)


def policy() -> BillingPolicy:
    return BillingPolicy.from_settings(current_app.config["PHYSIOEZ"])


@bp.app_template_filter("money")
def money_filter(minor: int | None) -> str:
    """Amounts as the branch's people write them (₹1,25,000.00)."""
    return "" if minor is None else policy().money(int(minor))


# Importing the area modules registers their routes on ``bp``.
from physioez.billing.views import checkout, dayend, expenses, prices  # noqa: E402, F401
