"""What the billing API answers (the shapes also generate its OpenAPI); what it reads is in
``schemas.py``.

Amounts are integers in minor units of the branch currency (paise: 80000 is ₹800.00).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from physioez.billing.models import Invoice, Payment


class InvoiceLineOut(BaseModel):
    service_code: str
    description: str
    kind: str
    tax_code: str
    tax_rate_bp: int
    quantity: int
    unit_price: int
    concession: str
    gross: int
    discount: int
    taxable: int
    tax: int
    total: int
    visit_id: str | None
    practitioner_id: str | None


class InvoiceOut(BaseModel):
    id: str
    kind: str
    number: str
    patient_id: str
    issued_at: datetime
    business_day: date
    currency: str
    lines: list[InvoiceLineOut]
    subtotal: int
    discount_total: int
    tax_total: int
    total: int
    due: int = Field(description="What the invoice still owes")
    cancels_id: str | None

    @classmethod
    def of(cls, invoice: Invoice, due: int) -> InvoiceOut:
        return cls(
            id=invoice.id,
            kind=invoice.kind,
            number=invoice.number,
            patient_id=invoice.patient_id,
            issued_at=invoice.issued_at,
            business_day=invoice.business_day,
            currency=invoice.currency,
            lines=[InvoiceLineOut.model_validate(line) for line in invoice.lines],
            subtotal=invoice.subtotal,
            discount_total=invoice.discount_total,
            tax_total=invoice.tax_total,
            total=invoice.total,
            due=due,
            cancels_id=invoice.cancels_id,
        )


class ExpenseOut(BaseModel):
    id: str
    business_day: date
    category: str
    vendor: str
    amount: int
    mode: str
    notes: str
    has_receipt: bool

    @classmethod
    def of(cls, expense) -> ExpenseOut:
        return cls(
            id=expense.id,
            business_day=expense.business_day,
            category=expense.category,
            vendor=expense.vendor,
            amount=expense.amount,
            mode=expense.mode,
            notes=expense.notes,
            has_receipt=expense.receipt_filename is not None,
        )


class TenderOut(BaseModel):
    mode: str
    amount: int
    reference: str


class SettledOut(BaseModel):
    invoice_id: str
    amount: int


class PaymentOut(BaseModel):
    id: str
    number: str
    patient_id: str
    received_at: datetime
    business_day: date
    currency: str
    amount: int
    tenders: list[TenderOut]
    settled: list[SettledOut] = Field(description="What the payment paid, invoice by invoice")
    credit: int = Field(description="The patient's advance credit after this payment")

    @classmethod
    def of(cls, payment: Payment, settled: list[SettledOut], credit: int) -> PaymentOut:
        return cls(
            id=payment.id,
            number=payment.number,
            patient_id=payment.patient_id,
            received_at=payment.received_at,
            business_day=payment.business_day,
            currency=payment.currency,
            amount=payment.amount,
            tenders=[TenderOut.model_validate(t) for t in payment.tenders],
            settled=settled,
            credit=credit,
        )


class OpenInvoiceOut(BaseModel):
    id: str
    number: str
    business_day: date
    total: int
    owing: int


class PackageOut(BaseModel):
    id: str
    name: str
    service_code: str
    sessions_total: int
    sessions_used: int
    valid_until: date
    status: str


class AccountOut(BaseModel):
    """What a patient owes, holds in credit and has left in packs."""

    patient_id: str
    owing: int
    credit: int
    open_invoices: list[OpenInvoiceOut]
    packages: list[PackageOut]


class DuesRowOut(BaseModel):
    patient_id: str
    name: str
    mrn: str
    phone: str
    total: int
    oldest_day: date | None
    buckets: dict[str, int] = Field(description="Owed by age of the invoice: 0-30 … 90+ days")


class DuesOut(BaseModel):
    as_of: date
    totals: dict[str, int]
    patients: list[DuesRowOut]


class PriceOut(BaseModel):
    code: str
    name: str
    kind: str
    tax_rate_bp: int
    tax_code: str
    price: int = Field(description="Standard price on the day, before tax")
    concessions: dict[str, int] = Field(description="Category -> price, where one is set")


class PriceListOut(BaseModel):
    day: date
    items: list[PriceOut]
