"""Expenses and petty cash: what the clinic spent, from which money, with the receipt kept
encrypted; each one posted to the ledger against its category."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from physioez.billing.models import EXPENSE_CATEGORIES, EXPENSE_MODES, Expense
from physioez.billing.services import ledger
from physioez.billing.services.policy import (
    BillingPolicy,
    ensure_day_open,
    ensure_fiscal_year_open,
)
from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor, record_read
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.errors import InvalidInput, NotFound
from physioez.core.kernel.models import fetch_by_id
from physioez.core.platform import attachments
from physioez.core.platform.crypto import Keyring

MAX_RECEIPT_BYTES = 10 * 1024 * 1024


def receipts_dir(settings) -> Path:
    """Where expense receipts are kept (encrypted), under the box's data folder."""
    return settings.paths.data_dir / "expense-receipts"


def record_expense(
    actor: Actor,
    policy: BillingPolicy,
    *,
    category: str,
    vendor: str,
    amount: int,
    mode: str,
    notes: str = "",
    receipt: tuple[str, bytes] | None = None,
    keyring: Keyring | None = None,
    receipts_dir: Path | None = None,
    day: date | None = None,
) -> Expense:
    if category not in EXPENSE_CATEGORIES:
        raise InvalidInput("Choose a category.", field="category")
    if not vendor.strip():
        raise InvalidInput("Who was paid? Enter the vendor.", field="vendor")
    if amount <= 0:
        raise InvalidInput("Enter the amount spent.", field="amount")
    if mode not in EXPENSE_MODES:
        raise InvalidInput("Choose how it was paid.", field="mode")
    day = day or policy.today()
    if day > policy.today():
        raise InvalidInput("An expense cannot be dated in the future.", field="day")
    ensure_fiscal_year_open(day, policy)
    content_type = filename = None
    if receipt is not None:
        filename, data = receipt
        content_type = attachments.check_upload(data, MAX_RECEIPT_BYTES)
        filename = attachments.safe_filename(filename, "receipt")
    expense = Expense(category=category)  # for its id: the receipt is sealed before the row
    path = None
    if receipt is not None:
        if keyring is None or receipts_dir is None:
            raise RuntimeError("a receipt needs the keyring and the receipts folder")
        path = attachments.store_encrypted(keyring, receipts_dir, expense.id, receipt[1])
    try:
        with write_transaction():
            ensure_day_open(day)
            if mode == "petty_cash" and ledger.balance(ledger.PETTY_CASH) < amount:
                raise InvalidInput(
                    f"Petty cash holds only {policy.money(ledger.balance(ledger.PETTY_CASH))}. "
                    "Top it up from the drawer first.",
                    field="amount",
                )
            saved = records.create(
                Expense,
                actor,
                id=expense.id,
                business_day=day,
                category=category,
                vendor=vendor.strip()[:120],
                amount=amount,
                mode=mode,
                notes=notes.strip()[:500],
                receipt_filename=filename,
                receipt_content_type=content_type,
                recorded_by=actor.label,
            )
            ledger.post(
                actor,
                kind="expense",
                ref_id=saved.id,
                business_day=day,
                memo=f"{EXPENSE_CATEGORIES[category]}: {vendor.strip()[:80]}",
                lines=[
                    ledger.debit(ledger.EXPENSE_PREFIX + category, amount),
                    ledger.credit(ledger.MODE_ACCOUNTS[mode], amount),
                ],
            )
    except Exception:
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    return saved


def top_up_petty_cash(actor: Actor, policy: BillingPolicy, amount: int) -> None:
    """Move money from the drawer into the petty-cash float."""
    if amount <= 0:
        raise InvalidInput("Enter the amount moved to petty cash.", field="amount")
    day = policy.today()
    with write_transaction():
        ensure_day_open(day)
        ledger.post(
            actor,
            kind="petty_cash_top_up",
            ref_id=f"petty-cash-{day.isoformat()}",
            business_day=day,
            memo="Petty cash top-up from the drawer",
            lines=[ledger.debit(ledger.PETTY_CASH, amount), ledger.credit(ledger.CASH, amount)],
        )


def petty_cash_balance() -> int:
    return ledger.balance(ledger.PETTY_CASH)


def recent(limit: int = 100) -> list[Expense]:
    return list(
        Expense.select()
        .where(Expense.deleted_at.is_null())
        .order_by(Expense.business_day.desc(), Expense.created_at.desc())
        .limit(limit)
    )


def totals_by_category(first: date, last: date) -> dict[str, int]:
    rows = database.execute_sql(
        "SELECT category, SUM(amount) FROM expense WHERE deleted_at IS NULL "
        "AND business_day BETWEEN ? AND ? GROUP BY category",
        (first.isoformat(), last.isoformat()),
    ).fetchall()
    return {category: int(amount) for category, amount in rows}


def get_expense(expense_id: str) -> Expense:
    expense = fetch_by_id(Expense, expense_id)
    if expense is None or expense.deleted_at is not None:
        raise NotFound("No such expense.")
    return expense


def read_receipt(
    actor: Actor, expense: Expense, keyring: Keyring, receipts_dir: Path
) -> tuple[bytes, str, str]:
    """The receipt's bytes, type and name; the opening is audited."""
    if not expense.receipt_filename:
        raise NotFound("This expense has no receipt attached.")
    data = attachments.read_encrypted(keyring, receipts_dir, expense.id)
    record_read(actor, "expense", expense.id, purpose="receipt opened")
    return data, expense.receipt_content_type, expense.receipt_filename
