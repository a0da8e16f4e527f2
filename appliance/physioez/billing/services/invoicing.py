"""Invoices: priced from the price list, discounted within the person's limit, taxed per line,
numbered gap-free, posted to the ledger; cancelled only by a credit note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from physioez.billing.models import Invoice, Package, Settlement, Visit
from physioez.billing.services import ledger, pricing
from physioez.billing.services.policy import BillingPolicy, ensure_day_open
from physioez.core.kernel import directory, records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput, NotFound
from physioez.core.kernel.models import fetch_by_id
from physioez.core.kernel.money import percent_of

MAX_LINES = 50
MAX_QUANTITY = 999


@dataclass(frozen=True)
class LineRequest:
    service_code: str
    quantity: int = 1
    visit_id: str | None = None


@dataclass(frozen=True)
class Discount:
    """Either a percentage (basis points: 1000 = 10 %) or an amount, with a reason."""

    percent_bp: int = 0
    amount: int = 0
    reason: str = ""


def _revenue_account(kind: str) -> str:
    if kind == "package":
        return ledger.PACKAGE_LIABILITY
    return ledger.REVENUE_PRODUCTS if kind == "product" else ledger.REVENUE_SERVICES


def _spread(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights``, in whole units that add up exactly."""
    whole = sum(weights)
    if not whole or not total:
        return [0] * len(weights)
    shares = [total * weight // whole for weight in weights]
    remainders = sorted(
        range(len(weights)), key=lambda i: (total * weights[i]) % whole, reverse=True
    )
    for index in remainders[: total - sum(shares)]:
        shares[index] += 1
    return shares


def _discount_total(discount: Discount | None, subtotal: int, actor: Actor, policy) -> int:
    if discount is None or (not discount.percent_bp and not discount.amount):
        return 0
    if discount.percent_bp and discount.amount:
        raise InvalidInput("Give the discount as a percentage or an amount, not both.", "discount")
    if discount.percent_bp < 0 or discount.amount < 0:
        raise InvalidInput("A discount cannot be negative.", field="discount")
    amount = discount.amount or percent_of(subtotal, discount.percent_bp)
    if amount > subtotal:
        raise InvalidInput("The discount is larger than the invoice.", field="discount")
    if not discount.reason.strip():
        raise InvalidInput("Say why the discount is given.", field="discount_reason")
    limit = policy.discount_limit_percent(actor)
    if amount * 100 > subtotal * limit:
        raise InvalidInput(
            f"You can give at most {limit} % discount ({policy.money(subtotal * limit // 100)} "
            "here). Ask a manager to raise this invoice.",
            field="discount",
        )
    return amount


def _price_lines(
    requests: Sequence[LineRequest], patient_id: str, day: date, visits: dict[str, Visit]
) -> list[dict]:
    if not requests:
        raise InvalidInput("Add at least one service or product.", field="lines")
    if len(requests) > MAX_LINES:
        raise InvalidInput(f"An invoice holds at most {MAX_LINES} lines.", field="lines")
    lines = []
    for request in requests:
        if not 1 <= request.quantity <= MAX_QUANTITY:
            raise InvalidInput(f"Quantity is 1 to {MAX_QUANTITY}.", field="quantity")
        priced = pricing.quote(request.service_code, day, patient_id)
        service = priced.service
        visit = visits.get(request.visit_id) if request.visit_id else None
        lines.append(
            {
                "service_code": service.code,
                "description": service.name,
                "kind": service.kind,
                "tax_code": service.tax_code,
                "tax_rate_bp": service.tax_rate_bp,
                "quantity": request.quantity,
                "unit_price": priced.unit_price,
                "concession": priced.category,
                "gross": priced.unit_price * request.quantity,
                "visit_id": visit.id if visit else None,
                "practitioner_id": visit.practitioner_id if visit else None,
            }
        )
    return lines


def _finish_lines(lines: list[dict], discount_total: int) -> None:
    for line, share in zip(
        lines, _spread(discount_total, [line["gross"] for line in lines]), strict=True
    ):
        line["discount"] = share
        line["taxable"] = line["gross"] - share
        line["tax"] = percent_of(line["taxable"], line["tax_rate_bp"])
        line["total"] = line["taxable"] + line["tax"]


def _open_visits(visit_ids: Sequence[str], patient_id: str) -> dict[str, Visit]:
    visits: dict[str, Visit] = {}
    for visit_id in dict.fromkeys(visit_ids):
        visit = fetch_by_id(Visit, visit_id)
        if visit is None or visit.deleted_at is not None:
            raise NotFound("That visit is not waiting at checkout.", field="visit_id")
        if visit.patient_id != patient_id:
            raise InvalidInput("That visit belongs to another patient.", field="visit_id")
        if visit.invoice_id or visit.package_use_id:
            raise Conflict("That visit is already billed.", field="visit_id")
        visits[visit.id] = visit
    return visits


def issue_invoice(
    actor: Actor,
    policy: BillingPolicy,
    patient_id: str,
    requests: Sequence[LineRequest],
    discount: Discount | None = None,
    *,
    today: date | None = None,
) -> Invoice:
    """Issue an invoice now: priced, taxed, numbered, posted. Visits on it are marked billed.

    ``today`` (here and in the other services that date an entry) dates it on another business
    day than the branch's today, as the demo data does for past days."""
    patient = directory.patient_card(patient_id)
    if patient is None:
        raise InvalidInput("Choose a patient.", field="patient_id")
    if patient.merged_into:
        raise InvalidInput("This record was merged; bill the record it was merged into.")
    day = policy.today() if today is None else today
    with write_transaction():
        ensure_day_open(day)
        visits = _open_visits([r.visit_id for r in requests if r.visit_id], patient_id)
        lines = _price_lines(requests, patient_id, day, visits)
        subtotal = sum(line["gross"] for line in lines)
        discount_total = _discount_total(discount, subtotal, actor, policy)
        _finish_lines(lines, discount_total)
        number, year = policy.next_number("invoice", day)
        invoice = records.create(
            Invoice,
            actor,
            kind="invoice",
            number=number,
            fiscal_year=year,
            patient_id=patient_id,
            issued_at=policy.issued_at(day, back_dated=today is not None),
            business_day=day,
            currency=policy.currency,
            lines=lines,
            subtotal=subtotal,
            discount_total=discount_total,
            discount_reason=(
                discount.reason.strip()[:300] if discount is not None and discount_total else ""
            ),
            tax_total=sum(line["tax"] for line in lines),
            total=sum(line["total"] for line in lines),
            visit_ids=list(visits),
            issued_by=actor.label,
        )
        for visit in visits.values():
            records.update(visit, actor, action="billing_visit.invoiced", invoice_id=invoice.id)
        _post_invoice(actor, invoice)
        _open_packages(actor, invoice, day)
    return invoice


def _post_invoice(actor: Actor, invoice: Invoice, reverse: bool = False) -> None:
    """Dr the patient's dues, Cr revenue (or unused packs) and tax; a credit note mirrors it."""
    lines = [ledger.debit(ledger.RECEIVABLE, invoice.total, invoice.patient_id)]
    for line in invoice.lines:
        lines.append(
            ledger.credit(
                _revenue_account(line["kind"]),
                line["taxable"],
                _per_patient(line["kind"], invoice.patient_id),
            )
        )
        lines.append(ledger.credit(ledger.TAX_PAYABLE, line["tax"]))
    if reverse:
        lines = [ledger.Line(x.account, x.credit, x.debit, x.patient_id) for x in lines]
    ledger.post(
        actor,
        kind="credit_note" if reverse else "invoice",
        ref_id=invoice.id,
        business_day=invoice.business_day,
        lines=lines,
        memo=invoice.number,
    )


def _per_patient(kind: str, patient_id: str) -> str | None:
    # Unused pack sessions are owed to a patient; revenue is the clinic's, whoever paid it.
    return patient_id if kind == "package" else None


def _open_packages(actor: Actor, invoice: Invoice, day: date) -> None:
    for line in invoice.lines:
        if line["kind"] != "package":
            continue
        service = pricing.get_service(line["service_code"])
        for _ in range(line["quantity"]):
            records.create(
                Package,
                actor,
                patient_id=invoice.patient_id,
                service_code=service.package_service_code,
                name=service.name,
                sessions_total=service.package_sessions,
                value=line["taxable"] // line["quantity"],
                valid_until=day + timedelta(days=service.package_validity_days),
                invoice_id=invoice.id,
            )


# --- what an invoice still owes ----------------------------------------------------------------


def settled(invoice_id: str) -> int:
    row = database.execute_sql(
        "SELECT COALESCE(SUM(amount), 0) FROM settlement WHERE invoice_id = ? "
        "AND deleted_at IS NULL",
        (invoice_id,),
    ).fetchone()
    return int(row[0])


def due(invoice: Invoice) -> int:
    if invoice.kind != "invoice":
        return 0
    return invoice.total - settled(invoice.id)


def get_invoice(invoice_id: str) -> Invoice:
    invoice = fetch_by_id(Invoice, invoice_id)
    if invoice is None or invoice.deleted_at is not None:
        raise NotFound("No such invoice.")
    return invoice


def credit_note_for(invoice: Invoice) -> Invoice | None:
    return Invoice.get_or_none(Invoice.cancels_id == invoice.id)


def settle(
    actor: Actor,
    invoice: Invoice,
    kind: str,
    amount: int,
    day: date,
    *,
    payment_id: str | None = None,
    credit_note_id: str | None = None,
    reason: str = "",
) -> Settlement:
    return records.create(
        Settlement,
        actor,
        invoice_id=invoice.id,
        kind=kind,
        amount=amount,
        payment_id=payment_id,
        credit_note_id=credit_note_id,
        reason=reason,
        business_day=day,
    )


def cancel_invoice(
    actor: Actor,
    policy: BillingPolicy,
    invoice: Invoice,
    reason: str,
    *,
    today: date | None = None,
) -> Invoice:
    """Cancel ``invoice`` with a credit note dated today. What was paid becomes patient credit;
    a write-off is undone; unused packs bought on it are cancelled; its visits return to checkout.
    """
    if not reason.strip():
        raise InvalidInput("Say why the invoice is cancelled.", field="reason")
    if invoice.kind != "invoice":
        raise Conflict("A credit note cannot itself be cancelled.")
    day = policy.today() if today is None else today
    with write_transaction():
        ensure_day_open(day)
        if credit_note_for(invoice) is not None:
            raise Conflict(f"Invoice {invoice.number} is already cancelled.")
        packages = list(Package.select().where(Package.invoice_id == invoice.id))
        if any(package.sessions_used for package in packages):
            raise Conflict(
                "Sessions of a package on this invoice were already used; "
                "refund the unused part instead of cancelling the invoice."
            )
        number, year = policy.next_number("credit_note", day)
        note = records.create(
            Invoice,
            actor,
            kind="credit_note",
            number=number,
            fiscal_year=year,
            patient_id=invoice.patient_id,
            issued_at=policy.issued_at(day, back_dated=today is not None),
            business_day=day,
            currency=invoice.currency,
            lines=invoice.lines,
            subtotal=invoice.subtotal,
            discount_total=invoice.discount_total,
            tax_total=invoice.tax_total,
            total=invoice.total,
            cancels_id=invoice.id,
            reason=reason.strip()[:500],
            issued_by=actor.label,
        )
        _post_invoice(actor, note, reverse=True)
        rows = database.execute_sql(
            "SELECT kind, COALESCE(SUM(amount), 0) FROM settlement WHERE invoice_id = ? "
            "AND deleted_at IS NULL GROUP BY kind",
            (invoice.id,),
        ).fetchall()
        by_kind = {kind: int(amount) for kind, amount in rows}
        paid = by_kind.get("payment", 0) + by_kind.get("credit", 0)
        written_off = by_kind.get("write_off", 0)
        outstanding = invoice.total - paid - written_off
        if outstanding:
            settle(actor, invoice, "credit_note", outstanding, day, credit_note_id=note.id)
        # The credit note took the whole total off the patient's dues; what they had paid
        # is now owed back to them as credit, and a write-off of the rest is undone.
        ledger.post(
            actor,
            kind="credit_note_settlement",
            ref_id=note.id,
            business_day=day,
            memo=note.number,
            lines=[
                ledger.debit(ledger.RECEIVABLE, paid + written_off, invoice.patient_id),
                ledger.credit(ledger.PATIENT_CREDIT, paid, invoice.patient_id),
                ledger.credit(ledger.BAD_DEBTS, written_off),
            ],
        )
        for package in packages:
            records.update(package, actor, action="package.cancelled", status="cancelled")
        for visit in Visit.select().where(Visit.invoice_id == invoice.id):
            records.update(visit, actor, action="billing_visit.returned", invoice_id=None)
    return note


def write_off(
    actor: Actor,
    policy: BillingPolicy,
    invoice: Invoice,
    amount: int,
    reason: str,
    *,
    today: date | None = None,
) -> Settlement:
    """Give up on what ``invoice`` still owes (all or part), with a reason."""
    if not reason.strip():
        raise InvalidInput("Say why this is written off.", field="reason")
    day = policy.today() if today is None else today
    with write_transaction():
        ensure_day_open(day)
        owing = due(invoice)
        if credit_note_for(invoice) is not None:
            raise Conflict(f"Invoice {invoice.number} is cancelled.")
        if not 0 < amount <= owing:
            raise InvalidInput(
                f"Write off between {policy.money(1)} and {policy.money(owing)}.", field="amount"
            )
        settlement = settle(actor, invoice, "write_off", amount, day, reason=reason.strip()[:300])
        ledger.post(
            actor,
            kind="write_off",
            ref_id=settlement.id,
            business_day=day,
            memo=f"{invoice.number}: {reason.strip()[:200]}",
            lines=[
                ledger.debit(ledger.BAD_DEBTS, amount),
                ledger.credit(ledger.RECEIVABLE, amount, invoice.patient_id),
            ],
        )
    return settlement


def open_invoices(patient_id: str) -> list[tuple[Invoice, int]]:
    """The patient's invoices that still owe something, oldest first, with what each owes."""
    rows = database.execute_sql(
        "SELECT i.id, i.total - COALESCE((SELECT SUM(s.amount) FROM settlement s "
        "WHERE s.invoice_id = i.id AND s.deleted_at IS NULL), 0) AS owing "
        "FROM invoice i WHERE i.patient_id = ? AND i.kind = 'invoice' AND i.deleted_at IS NULL "
        "AND owing > 0 ORDER BY i.issued_at",
        (patient_id,),
    ).fetchall()
    if not rows:
        return []
    found = {
        invoice.id: invoice
        for invoice in Invoice.select().where(
            Invoice.id.in_([invoice_id for invoice_id, _ in rows])
        )
    }
    return [(found[invoice_id], int(owing)) for invoice_id, owing in rows]
