"""The billing demo: real entries through billing's services, on their own days, books balanced."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from physioez.app import create_app
from physioez.billing.models import (
    BillingService,
    DayClose,
    Invoice,
    JournalEntry,
    Package,
    Payment,
    Settlement,
    Visit,
)
from physioez.billing.services import dues, ledger, pricing
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import close_database, write_transaction
from physioez.core.kernel.models import AuditEvent, OutboxEntry
from physioez.demo import seed_demo
from physioez.demo.billing import seed_billing
from physioez.demo.reception import seed_reception
from tests.conftest import make_settings


def seed(settings, today):
    """What `physioez seed-demo` does: accounts, then front desk and billing in one go."""
    actor = Actor.system("tests:seed-demo")
    with write_transaction():
        made = seed_reception(actor, today, settings.branch.timezone, patients_count=150)
        billed = seed_billing(actor, today, settings)
    return made, billed


def table_counts() -> dict[str, int]:
    return {
        model.__name__: model.select().count()
        for model in (BillingService, Invoice, Payment, Settlement, JournalEntry, Visit, DayClose)
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One seeded app for the module: the seed is the slow part, the tests only read."""
    settings = make_settings(tmp_path_factory.mktemp("demo"))
    create_app(settings)
    seed_demo(settings.auth.password_min_length)
    today = datetime.now(ZoneInfo(settings.branch.timezone)).date()
    made, billed = seed(settings, today)
    assert made["appointments"] and billed["invoices"]
    yield today, billed, settings
    close_database()


def test_demo_books_balance_and_receivables_are_the_dues(demo):
    today, _, _ = demo
    rows = ledger.trial_balance()
    debits = sum(dr for _, dr, _ in rows)
    assert debits > 0 and debits == sum(cr for _, _, cr in rows)
    owed = dues.owed_by_invoice()
    assert ledger.balance(ledger.RECEIVABLE) == sum(owing for *_, owing in owed) > 0
    ageing = dues.ageing_totals(dues.dues_by_patient(today))
    assert all(ageing[bucket] > 0 for bucket in dues.BUCKETS), ageing
    assert -ledger.balance(ledger.PATIENT_CREDIT) > 0  # the advance, partly used


def test_demo_has_every_kind_of_entry_on_its_own_day(demo):
    today, billed, _ = demo
    days = {invoice.business_day for invoice in Invoice.select()}
    assert len(days) >= 10 and min(days) < today
    # Attended sessions are billed on the day they were attended, not on the day of the seed.
    for invoice in Invoice.select().where(Invoice.kind == "invoice"):
        for visit_id in invoice.visit_ids:
            assert Visit.get_by_id(visit_id).business_day == invoice.business_day
    assert Visit.select().where(Visit.business_day < today).count() > 50
    modes = {
        t["mode"] for p in Payment.select().where(Payment.kind == "payment") for t in p.tenders
    }
    assert modes == {"cash", "card", "upi", "bank", "insurance"}
    assert all(
        t["reference"] for p in Payment.select() for t in p.tenders if t["mode"] in ("upi", "card")
    )
    assert Invoice.select().where(Invoice.kind == "credit_note").count() == 1
    assert Payment.select().where(Payment.kind == "refund").count() == 1
    kinds = {s.kind for s in Settlement.select()}
    assert {"payment", "credit", "write_off"} <= kinds
    assert Package.select().where(Package.sessions_used > 0).count() >= 1
    assert Visit.select().where(Visit.package_use_id.is_null(False)).count() >= 1
    # Concessions and taxes: seniors pay the senior price; products carry their HSN and tax.
    senior = [
        (invoice.patient_id, line)
        for invoice in Invoice.select()
        for line in invoice.lines
        if line["concession"] == "senior"
    ]
    assert senior and all(line["service_code"] == "PT45" for _, line in senior)
    assert all(pricing.category_of(patient_id) == "senior" for patient_id, _ in senior)
    assert {line["unit_price"] for _, line in senior} == {60000}
    assert {
        s.tax_rate_bp for s in BillingService.select().where(BillingService.kind == "product")
    } == {
        1200,
        1800,
    }
    closed = list(DayClose.select())
    assert closed and all(c.business_day < today for c in closed)
    assert any(c.difference_reason for c in closed)
    assert billed["days_closed"] == len(closed)


def test_demo_entries_are_audited_and_queued_for_head_office(demo):
    for model, entity in ((Invoice, "invoice"), (Payment, "payment")):
        ids = [row.id for row in model.select(model.id)]
        audited = AuditEvent.select().where(AuditEvent.entity_id.in_(ids)).count()
        queued = OutboxEntry.select().where(OutboxEntry.row_key.in_(ids)).count()
        assert audited == queued == len(ids), entity


def test_seeding_again_changes_nothing(demo):
    today, _, settings = demo
    before = table_counts()
    made, billed = seed(settings, today)
    assert not any(made.values()) and not any(billed.values())
    assert table_counts() == before
