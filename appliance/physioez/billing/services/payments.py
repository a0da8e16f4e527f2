"""Payments and receipts: split across modes, applied to invoices oldest first, the rest kept
as the patient's credit; credit applied later, refunds from credit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from physioez.billing.models import MODE_LABELS, TENDER_MODES, Invoice, Payment
from physioez.billing.services import invoicing, ledger
from physioez.billing.services.policy import BillingPolicy, ensure_day_open
from physioez.core.kernel import directory, records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput, NotFound
from physioez.core.kernel.models import fetch_by_id

MAX_REFERENCE = 80


@dataclass(frozen=True)
class Tender:
    mode: str
    amount: int
    reference: str = ""


def _clean_tenders(tenders: Sequence[Tender]) -> list[dict]:
    kept = [tender for tender in tenders if tender.amount]
    if not kept:
        raise InvalidInput("Enter the amount received.", field="amount")
    cleaned = []
    for tender in kept:
        if tender.mode not in TENDER_MODES:
            raise InvalidInput(
                f"Choose how it was paid: {', '.join(MODE_LABELS.values())}.", field="mode"
            )
        if tender.amount < 0:
            raise InvalidInput("An amount received cannot be negative.", field="amount")
        cleaned.append(
            {
                "mode": tender.mode,
                "amount": tender.amount,
                "reference": tender.reference.strip()[:MAX_REFERENCE],
            }
        )
    return cleaned


def _patient(patient_id: str) -> None:
    card = directory.patient_card(patient_id)
    if card is None:
        raise InvalidInput("Choose a patient.", field="patient_id")


# Receipts are numbered in the "receipt" series, refunds in their own.
_SERIES = {"payment": "receipt", "refund": "refund"}


def _new_payment(
    actor: Actor,
    policy: BillingPolicy,
    kind: str,
    patient_id: str,
    day: date,
    back_dated: bool,
    tenders: list[dict],
    amount: int,
    notes: str,
) -> Payment:
    """A numbered payment or refund record; inside the caller's transaction."""
    number, year = policy.next_number(_SERIES[kind], day)
    return records.create(
        Payment,
        actor,
        kind=kind,
        number=number,
        fiscal_year=year,
        patient_id=patient_id,
        received_at=policy.issued_at(day, back_dated=back_dated),
        business_day=day,
        tenders=tenders,
        amount=amount,
        currency=policy.currency,
        notes=notes.strip()[:300],
        received_by=actor.label,
    )


def take_payment(
    actor: Actor,
    policy: BillingPolicy,
    patient_id: str,
    tenders: Sequence[Tender],
    invoice_ids: Sequence[str] = (),
    notes: str = "",
    *,
    today: date | None = None,
) -> Payment:
    """Receive money. It pays ``invoice_ids`` in order (or the patient's oldest dues when none
    are named); anything left over is kept as the patient's credit. One receipt number.
    """
    _patient(patient_id)
    cleaned = _clean_tenders(tenders)
    amount = sum(tender["amount"] for tender in cleaned)
    day = policy.today() if today is None else today
    with write_transaction():
        ensure_day_open(day)
        targets = _targets(patient_id, invoice_ids)
        payment = _new_payment(
            actor, policy, "payment", patient_id, day, today is not None, cleaned, amount, notes
        )
        left = amount
        applied = 0
        for invoice, owing in targets:
            if not left:
                break
            part = min(left, owing)
            invoicing.settle(actor, invoice, "payment", part, day, payment_id=payment.id)
            left -= part
            applied += part
        ledger.post(
            actor,
            kind="payment",
            ref_id=payment.id,
            business_day=day,
            memo=payment.number,
            lines=[
                *(
                    ledger.debit(ledger.MODE_ACCOUNTS[tender["mode"]], tender["amount"])
                    for tender in cleaned
                ),
                ledger.credit(ledger.RECEIVABLE, applied, patient_id),
                ledger.credit(ledger.PATIENT_CREDIT, left, patient_id),
            ],
        )
    return payment


def _targets(patient_id: str, invoice_ids: Sequence[str]) -> list[tuple[Invoice, int]]:
    open_ones = invoicing.open_invoices(patient_id)
    if not invoice_ids:
        return open_ones
    owing = {invoice.id: (invoice, due) for invoice, due in open_ones}
    chosen = []
    for invoice_id in dict.fromkeys(invoice_ids):
        if invoice_id not in owing:
            raise Conflict(
                "That invoice is paid, cancelled, or not this patient's.", field="invoice_id"
            )
        chosen.append(owing[invoice_id])
    return chosen


def apply_credit(
    actor: Actor,
    policy: BillingPolicy,
    invoice: Invoice,
    amount: int | None = None,
    *,
    today: date | None = None,
) -> int:
    """Pay ``invoice`` from the patient's advance credit; returns the amount applied."""
    day = policy.today() if today is None else today
    with write_transaction():
        ensure_day_open(day)
        available = ledger.patient_credit(invoice.patient_id)
        owing = invoicing.due(invoice)
        if invoicing.credit_note_for(invoice) is not None or owing <= 0:
            raise Conflict(f"Invoice {invoice.number} owes nothing.")
        if available <= 0:
            raise Conflict("This patient has no credit to use.")
        part = min(available, owing) if amount is None else amount
        if not 0 < part <= min(available, owing):
            raise InvalidInput(
                f"Use between {policy.money(1)} and {policy.money(min(available, owing))}.",
                field="amount",
            )
        settlement = invoicing.settle(actor, invoice, "credit", part, day)
        ledger.post(
            actor,
            kind="credit_applied",
            ref_id=settlement.id,
            business_day=day,
            memo=invoice.number,
            lines=[
                ledger.debit(ledger.PATIENT_CREDIT, part, invoice.patient_id),
                ledger.credit(ledger.RECEIVABLE, part, invoice.patient_id),
            ],
        )
    return part


def refund(
    actor: Actor,
    policy: BillingPolicy,
    patient_id: str,
    tender: Tender,
    reason: str,
    *,
    today: date | None = None,
) -> Payment:
    """Hand back part or all of a patient's credit; the refund has its own numbered receipt."""
    if not reason.strip():
        raise InvalidInput("Say why the money is refunded.", field="reason")
    _patient(patient_id)
    cleaned = _clean_tenders([tender])
    day = policy.today() if today is None else today
    with write_transaction():
        ensure_day_open(day)
        available = ledger.patient_credit(patient_id)
        if not 0 < tender.amount <= available:
            raise InvalidInput(
                f"Refund at most the patient's credit, {policy.money(max(available, 0))}.",
                field="amount",
            )
        payment = _new_payment(
            actor,
            policy,
            "refund",
            patient_id,
            day,
            today is not None,
            cleaned,
            tender.amount,
            reason,
        )
        ledger.post(
            actor,
            kind="refund",
            ref_id=payment.id,
            business_day=day,
            memo=payment.number,
            lines=[
                ledger.debit(ledger.PATIENT_CREDIT, tender.amount, patient_id),
                ledger.credit(ledger.MODE_ACCOUNTS[tender.mode], tender.amount),
            ],
        )
    return payment


def get_payment(payment_id: str) -> Payment:
    payment = fetch_by_id(Payment, payment_id)
    if payment is None or payment.deleted_at is not None:
        raise NotFound("No such receipt.")
    return payment
