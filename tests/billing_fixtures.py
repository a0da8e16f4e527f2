"""Shared set-up for billing tests: a price list on top of the reception clinic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from physioez.billing.models import BillingService, Visit
from physioez.billing.services import pricing
from physioez.billing.services.policy import BillingPolicy
from physioez.reception.services import appointments, slots
from tests.reception_fixtures import MONDAY, ZONE, Clinic, at

PRICES_FROM = date(2026, 1, 1)


@dataclass
class Books:
    clinic: Clinic
    policy: BillingPolicy
    session: BillingService  # PT45 at 800.00, tax free (health service)
    band: BillingService  # a product at 350.00 + 18 % tax
    pack: BillingService  # 10 x PT45 for 7,000.00, valid 90 days


@pytest.fixture
def books(clinic, settings, system_actor) -> Books:
    policy = BillingPolicy.from_settings(settings)
    session = pricing.create_service(
        system_actor,
        code="PT45",
        name="Physiotherapy session",
        price=80000,
        valid_from=PRICES_FROM,
        tax_code="999312",
    )
    band = pricing.create_service(
        system_actor,
        code="BAND",
        name="Resistance band",
        kind="product",
        price=35000,
        tax_rate_bp=1800,
        tax_code="9506",
        valid_from=PRICES_FROM,
    )
    pack = pricing.create_service(
        system_actor,
        code="PT45X10",
        name="Ten physiotherapy sessions",
        kind="package",
        price=700000,
        valid_from=PRICES_FROM,
        package_service_code="PT45",
        package_sessions=10,
        package_validity_days=90,
    )
    return Books(clinic, policy, session, band, pack)


def attend(clinic: Clinic, patient, when: str = "10:00", day: date = MONDAY, actor=None) -> Visit:
    """Book, check in, start and finish a session: reception's real path, events and all."""
    from physioez.core.kernel.audit import Actor

    actor = actor or Actor.system("tests")
    slot = slots.Slot(
        patient_id=patient.id,
        practitioner_id=clinic.rao.id,
        type_id=clinic.physio.id,
        start=at(day, when),
    )
    appointment = appointments.book(actor, slot, ZONE)
    for status in ("arrived", "in_session", "completed"):
        appointments.set_status(actor, appointment, status)
    return Visit.get(Visit.appointment_id == appointment.id)


def next_day(day: date) -> date:
    return day + timedelta(days=1)
