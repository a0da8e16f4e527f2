"""The accounts desk: price list, invoices, payments, packages, dues, day-end close, ledger."""

from __future__ import annotations

from physioez.billing.migrations import MIGRATIONS
from physioez.billing.settings import BillingSettings
from physioez.core.kernel.modules import Module
from physioez.core.kernel.permissions import Permission

_ACCOUNTS = ("branch_manager", "billing")

MODULE = Module(
    name="billing",
    description="The accounts desk: invoices, payments, packages, dues, day-end close, ledger",
    permissions=(
        Permission(
            "billing.invoices.read",
            "See invoices, payments and dues",
            (*_ACCOUNTS, "receptionist", "finance_lead"),
        ),
        # The desk checks patients out: bills sessions, takes money, prints receipts.
        Permission(
            "billing.checkout",
            "Check out patients: bill attended sessions, take payments",
            (*_ACCOUNTS, "receptionist"),
        ),
        Permission(
            "billing.invoices.write",
            "Raise invoices by hand and cancel them by credit note",
            _ACCOUNTS,
        ),
        Permission("billing.writeoff", "Write off dues and refund patients' credit", _ACCOUNTS),
        Permission("billing.ledger.read", "Open the ledger and the trial balance", _ACCOUNTS),
        Permission("billing.expenses.manage", "Record expenses and petty cash", _ACCOUNTS),
        Permission(
            "billing.prices.manage", "Change the price list and patients' concessions", _ACCOUNTS
        ),
        Permission(
            "billing.exports.download",
            "Export invoices, receipts, expenses and reports",
            _ACCOUNTS,
        ),
        Permission("billing.dayend.close", "Close the day and lock the cash drawer", _ACCOUNTS),
    ),
    settings=BillingSettings,
    policies={"discount_limit_percent": "Largest discount each role may give, in percent"},
    migrations=MIGRATIONS,
    web="physioez.billing.web:WEB",
    jobs="physioez.billing.jobs:jobs",
    start="physioez.billing.services:start",
    demo="physioez.demo.billing:seed",
)
