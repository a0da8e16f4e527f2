"""Expenses: categories, petty cash float, receipts encrypted at rest, ledger postings."""

from __future__ import annotations

import io

import pytest

from physioez.billing.models import Expense
from physioez.billing.services import expenses, ledger
from physioez.core.kernel.errors import InvalidInput
from physioez.core.kernel.models import AuditEvent
from physioez.core.platform.attachments import stored_path

PDF = b"%PDF-1.7 Receipt from Sharma Medical Stores total 1,240.00"


def test_expense_with_receipt_is_encrypted_posted_and_downloadable(books, client_for, settings):
    accounts = client_for("billing")
    answer = accounts.post(
        "/billing/expenses",
        data={
            "category": "consumables",
            "vendor": "Sharma Medical Stores",
            "amount": "1240",
            "mode": "cash",
            "receipt": (io.BytesIO(PDF), "bill.pdf"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert b"Recorded" in answer.data and "₹1,240.00".encode() in answer.data
    expense = Expense.get()
    folder = settings.paths.data_dir / "expense-receipts"
    sealed = stored_path(folder, expense.id).read_bytes()
    assert b"Sharma" not in sealed
    assert ledger.balance(ledger.EXPENSE_PREFIX + "consumables") == 124000
    assert ledger.balance(ledger.CASH) == -124000
    download = accounts.get(f"/billing/expenses/{expense.id}/receipt")
    assert download.data == PDF and download.mimetype == "application/pdf"
    assert (
        AuditEvent.select()
        .where((AuditEvent.entity_id == expense.id) & (AuditEvent.kind == "read"))
        .exists()
    )


def test_petty_cash_must_hold_enough_and_is_topped_up_from_the_drawer(books, system_actor):
    policy = books.policy
    with pytest.raises(InvalidInput, match="Petty cash holds only"):
        expenses.record_expense(
            system_actor, policy, category="travel", vendor="Auto", amount=5000, mode="petty_cash"
        )
    expenses.top_up_petty_cash(system_actor, policy, 200000)
    expenses.record_expense(
        system_actor, policy, category="travel", vendor="Auto", amount=5000, mode="petty_cash"
    )
    assert expenses.petty_cash_balance() == 195000
    rows = ledger.trial_balance()
    assert sum(dr for _, dr, _ in rows) == sum(cr for _, _, cr in rows)


def test_a_wrong_file_type_is_refused_and_nothing_is_written(books, client_for):
    answer = client_for("billing").post(
        "/billing/expenses",
        data={
            "category": "rent",
            "vendor": "Landlord",
            "amount": "30000",
            "mode": "bank",
            "receipt": (io.BytesIO(b"MZ not a receipt"), "bill.pdf"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert b"Upload a PDF, JPEG or PNG file." in answer.data
    assert Expense.select().count() == 0


def test_the_desk_cannot_open_expenses(books, client_for):
    assert client_for("receptionist").get("/billing/expenses").status_code == 403
