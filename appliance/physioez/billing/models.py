"""Billing's tables. Amounts are integer minor units of the branch currency; times are UTC.

An issued invoice is never edited: its lines live in the row as JSON, written once, and it is
cancelled by a credit note. What happens to an invoice afterwards (payments, credit, write-offs)
are settlements; what an invoice still owes is its total less its settlements.
"""

from __future__ import annotations

from peewee import BooleanField, CompositeKey, IntegerField, TextField

from physioez.core.kernel.models import (
    BaseModel,
    IsoDateField,
    JsonField,
    ReplicatedModel,
    UtcDateTimeField,
)

SERVICE_KINDS = ("service", "product", "package")
# How money reaches the desk. Prepaid packs are not a mode: a session from a pack is never invoiced.
TENDER_MODES = ("cash", "card", "upi", "bank", "insurance")
MODE_LABELS = {
    "cash": "Cash",
    "card": "Card",
    "upi": "UPI",
    "bank": "Bank transfer",
    "insurance": "Insurance",
}


class BillingService(ReplicatedModel):
    """A line of the price list: a service (session), a product, or a pack of sessions."""

    audit_entity = "billing_service"
    ownership = "hq"  # head office sets the chain's price list

    code = TextField(unique=True)
    name = TextField()
    kind = TextField(default="service")
    tax_rate_bp = IntegerField(default=0)  # basis points: 1800 = 18 %
    tax_code = TextField(default="")  # HSN/SAC printed on tax invoices
    active = BooleanField(default=True)
    # Packs only: how many sessions of which service, valid for how long.
    package_service_code = TextField(default="")
    package_sessions = IntegerField(default=0)
    package_validity_days = IntegerField(default=0)


class BillingPrice(ReplicatedModel):
    """A dated price; ``category`` '' is the standard price, others are concessions."""

    audit_entity = "billing_price"
    ownership = "hq"

    service_id = TextField()
    category = TextField(default="")
    amount = IntegerField()
    valid_from = IsoDateField()


class PatientCategory(ReplicatedModel):
    """The concession category a patient is billed under (senior, staff, child, ...)."""

    audit_entity = "billing_patient_category"

    patient_id = TextField(unique=True)
    category = TextField()


class Invoice(ReplicatedModel):
    """An invoice or a credit note (``kind``), numbered gap-free per branch and fiscal year."""

    audit_entity = "invoice"

    kind = TextField(default="invoice")
    number = TextField(unique=True)
    fiscal_year = IntegerField()
    patient_id = TextField()
    issued_at = UtcDateTimeField()
    business_day = IsoDateField()
    currency = TextField()
    lines = JsonField()
    subtotal = IntegerField()
    discount_total = IntegerField(default=0)
    discount_reason = TextField(default="")
    tax_total = IntegerField(default=0)
    total = IntegerField()
    visit_ids = JsonField(default=list)
    cancels_id = TextField(null=True)  # credit notes: the invoice they cancel
    reason = TextField(default="")  # credit notes: why
    issued_by = TextField()


class Payment(ReplicatedModel):
    """A receipt: money received (``kind`` payment) or handed back (refund), numbered gap-free.

    One receipt can be tendered in several modes (part cash, part UPI): ``tenders`` lists them.
    """

    audit_entity = "payment"

    kind = TextField(default="payment")
    number = TextField(unique=True)
    fiscal_year = IntegerField()
    patient_id = TextField()
    received_at = UtcDateTimeField()
    business_day = IsoDateField()
    tenders = JsonField()  # [{"mode": "cash", "amount": 50000, "reference": ""}, ...]
    amount = IntegerField()
    currency = TextField()
    notes = TextField(default="")
    received_by = TextField()


class Settlement(ReplicatedModel):
    """Part of an invoice paid, met from credit, written off, or cancelled by a credit note."""

    audit_entity = "settlement"

    invoice_id = TextField()
    kind = TextField()
    amount = IntegerField()
    payment_id = TextField(null=True)
    credit_note_id = TextField(null=True)
    reason = TextField(default="")
    business_day = IsoDateField()


class Package(ReplicatedModel):
    """Prepaid sessions of one service, bought on an invoice, used one per attended session."""

    audit_entity = "package"

    patient_id = TextField()
    service_code = TextField()
    name = TextField()
    sessions_total = IntegerField()
    sessions_used = IntegerField(default=0)
    value = IntegerField()  # what was paid for the sessions, before tax
    valid_until = IsoDateField()
    invoice_id = TextField()
    status = TextField(default="active")  # active, used_up, expired, cancelled


class PackageUse(ReplicatedModel):
    """One session taken from a pack; an appointment can use a pack only once."""

    audit_entity = "package_use"

    package_id = TextField()
    appointment_id = TextField(unique=True)
    session_number = IntegerField()
    value = IntegerField()
    business_day = IsoDateField()


class Visit(ReplicatedModel):
    """An attended session waiting at checkout (from reception's attendance event)."""

    audit_entity = "billing_visit"

    appointment_id = TextField(unique=True)
    patient_id = TextField()
    practitioner_id = TextField()
    service_code = TextField()
    attended_at = UtcDateTimeField()
    business_day = IsoDateField()
    invoice_id = TextField(null=True)
    package_use_id = TextField(null=True)

    class Meta:
        table_name = "billing_visit"


class JournalEntry(ReplicatedModel):
    """One balanced double-entry posting; its lines are also kept in ``journal_line`` to sum."""

    audit_entity = "journal_entry"

    posted_at = UtcDateTimeField()
    business_day = IsoDateField()
    kind = TextField()
    ref_id = TextField()
    memo = TextField(default="")
    lines = JsonField()


class JournalLine(BaseModel):
    """Projection of journal entries' lines for balances; rebuilt from entries if ever needed."""

    entry_id = TextField()
    line_no = IntegerField()
    account = TextField()
    patient_id = TextField(null=True)
    debit = IntegerField(default=0)
    credit = IntegerField(default=0)
    business_day = IsoDateField()

    class Meta:
        table_name = "journal_line"
        primary_key = CompositeKey("entry_id", "line_no")


class DayClose(ReplicatedModel):
    """A closed business day: takings expected and counted per mode, and the Z-report."""

    audit_entity = "day_close"

    business_day = IsoDateField(unique=True)
    closed_at = UtcDateTimeField()
    closed_by = TextField()
    expected = JsonField()
    counted = JsonField()
    difference_reason = TextField(default="")
    z_report = JsonField()


EXPENSE_CATEGORIES = {
    "rent": "Rent",
    "salaries": "Salaries",
    "utilities": "Electricity, water, internet",
    "consumables": "Consumables (tape, gel, linen)",
    "equipment": "Equipment",
    "maintenance": "Repairs and maintenance",
    "marketing": "Marketing",
    "travel": "Travel and conveyance",
    "other": "Other",
}
# Where the money for an expense came from; petty cash is a float kept apart from the drawer.
EXPENSE_MODES = ("cash", "petty_cash", "bank", "card", "upi")


class Expense(ReplicatedModel):
    """Money the clinic spent, with its receipt kept encrypted like patients' documents."""

    audit_entity = "expense"

    business_day = IsoDateField()
    category = TextField()
    vendor = TextField()
    amount = IntegerField()
    mode = TextField()
    notes = TextField(default="")
    receipt_filename = TextField(null=True)
    receipt_content_type = TextField(null=True)
    recorded_by = TextField()
