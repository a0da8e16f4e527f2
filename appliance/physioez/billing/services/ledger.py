"""The double-entry journal behind every financial event.

Every service that moves money posts one balanced entry here, inside its own transaction, so
the books can never disagree with the invoices and payments they describe. Accounts that are
kept per patient (what they owe, what they paid in advance, their unused packs) carry the
patient's id on the line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from physioez.billing.models import JournalEntry, JournalLine
from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import database, require_transaction
from physioez.core.kernel.models import insert_row, utcnow

# Assets
CASH = "cash"
CARD = "card_clearing"
UPI = "upi_clearing"
BANK = "bank"
INSURANCE = "insurance_receivable"
PETTY_CASH = "petty_cash"
RECEIVABLE = "patient_receivable"  # per patient: what they owe
# Liabilities
PATIENT_CREDIT = "patient_credit"  # per patient: paid in advance, not yet used
PACKAGE_LIABILITY = "package_liability"  # per patient: sessions paid for, not yet taken
TAX_PAYABLE = "tax_payable"
# Income
REVENUE_SERVICES = "revenue_services"
REVENUE_PRODUCTS = "revenue_products"
CASH_OVER_SHORT = "cash_over_short"  # counted against expected at day end
# Expenses
BAD_DEBTS = "bad_debts"
EXPENSE_PREFIX = "expense:"

MODE_ACCOUNTS = {
    "cash": CASH,
    "card": CARD,
    "upi": UPI,
    "bank": BANK,
    "insurance": INSURANCE,
    "petty_cash": PETTY_CASH,
}

ACCOUNT_NAMES = {
    CASH: "Cash in drawer",
    CARD: "Card payments to settle",
    UPI: "UPI payments to settle",
    BANK: "Bank",
    INSURANCE: "Insurance claims receivable",
    PETTY_CASH: "Petty cash",
    RECEIVABLE: "Patients' dues",
    PATIENT_CREDIT: "Patients' advance credit",
    PACKAGE_LIABILITY: "Unused package sessions",
    TAX_PAYABLE: "Tax payable",
    REVENUE_SERVICES: "Revenue: services",
    REVENUE_PRODUCTS: "Revenue: products",
    CASH_OVER_SHORT: "Cash over / short",
    BAD_DEBTS: "Bad debts written off",
}


def account_name(account: str) -> str:
    if account.startswith(EXPENSE_PREFIX):
        return f"Expense: {account.removeprefix(EXPENSE_PREFIX).replace('_', ' ')}"
    return ACCOUNT_NAMES.get(account, account)


@dataclass(frozen=True)
class Line:
    account: str
    debit: int = 0
    credit: int = 0
    patient_id: str | None = None


def debit(account: str, amount: int, patient_id: str | None = None) -> Line:
    return Line(account, debit=amount, patient_id=patient_id)


def credit(account: str, amount: int, patient_id: str | None = None) -> Line:
    return Line(account, credit=amount, patient_id=patient_id)


class Unbalanced(ValueError):
    """A posting whose debits and credits differ: a programming error, never a person's."""


def post(
    actor: Actor,
    *,
    kind: str,
    ref_id: str,
    business_day: date,
    lines: Iterable[Line],
    memo: str = "",
) -> JournalEntry | None:
    """Post one balanced entry; zero lines are dropped, an entry of nothing is not written."""
    require_transaction("A journal entry")
    kept = [line for line in lines if line.debit or line.credit]
    for line in kept:
        if line.debit < 0 or line.credit < 0 or (line.debit and line.credit):
            raise Unbalanced(f"{kind}: a line must be a positive debit or credit: {line}")
    debits = sum(line.debit for line in kept)
    credits = sum(line.credit for line in kept)
    if debits != credits:
        raise Unbalanced(f"{kind} {ref_id}: debits {debits} != credits {credits}")
    if not kept:
        return None
    entry = records.create(
        JournalEntry,
        actor,
        posted_at=utcnow(),
        business_day=business_day,
        kind=kind,
        ref_id=ref_id,
        memo=memo,
        lines=[
            {
                "account": line.account,
                "debit": line.debit,
                "credit": line.credit,
                "patient_id": line.patient_id,
            }
            for line in kept
        ],
    )
    for number, line in enumerate(kept, start=1):
        insert_row(
            JournalLine(
                entry_id=entry.id,
                line_no=number,
                account=line.account,
                patient_id=line.patient_id,
                debit=line.debit,
                credit=line.credit,
                business_day=business_day,
            )
        )
    return entry


def balance(account: str, patient_id: str | None = None) -> int:
    """Debits less credits of ``account`` (for one patient when given)."""
    if patient_id is None:
        row = database.execute_sql(
            "SELECT COALESCE(SUM(debit - credit), 0) FROM journal_line WHERE account = ?",
            (account,),
        ).fetchone()
    else:
        row = database.execute_sql(
            "SELECT COALESCE(SUM(debit - credit), 0) FROM journal_line "
            "WHERE account = ? AND patient_id = ?",
            (account, patient_id),
        ).fetchone()
    return int(row[0])


def patient_credit(patient_id: str) -> int:
    """What the patient has paid in advance and not yet used (a liability: credit side)."""
    return -balance(PATIENT_CREDIT, patient_id)


def trial_balance(until: date | None = None) -> list[tuple[str, int, int]]:
    """(account, total debits, total credits) for every account, up to a business day."""
    sql = "SELECT account, SUM(debit), SUM(credit) FROM journal_line"
    params: tuple = ()
    if until is not None:
        sql += " WHERE business_day <= ?"
        params = (until.isoformat(),)
    rows = database.execute_sql(sql + " GROUP BY account ORDER BY account", params).fetchall()
    return [(account, int(dr), int(cr)) for account, dr, cr in rows]


def entries(limit: int = 100, before: str | None = None) -> list[JournalEntry]:
    query = JournalEntry.select().order_by(JournalEntry.id.desc()).limit(limit)
    if before:
        query = query.where(JournalEntry.id < before)
    return list(query)
