"""Arbitrary input at the desk's forms, through the pages and the API alike: every
answer is a success, a redirect or a 4xx, never a 5xx, and a refused request leaves every
table it could touch, and the audit log, exactly as they were."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from physioez.billing.models import (
    BillingPrice,
    BillingService,
    DayClose,
    Expense,
    Invoice,
    JournalEntry,
    Payment,
    Settlement,
)
from physioez.core.kernel.models import AuditEvent, OutboxEntry, Role, Staff
from physioez.reception.models import (
    Appointment,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Inquiry,
    InquiryTask,
    Patient,
    PatientConsent,
    Resource,
    WaitlistEntry,
)
from physioez.reception.services import appointments
from physioez.reception.services.slots import Slot
from tests.reception_fixtures import MONDAY, ZONE, at

ODD_TEXT = [
    "",
    " ",
    "\x00",
    "A\x00sha",
    "\u202eahsA",
    "\u2066x\u2069\u200e\u200f",
    "रिपोर्ट",
    "ವರದಿ",
    "9" * 40,
    "-1",
    "1e309",
    "NaN",
    "0202-01-01",
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "24:00",
    "10:07",
    "no-such-id",
    "01a249a8-0000-7000-8000-000000000000",
]
text = st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=40))
json_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    text,
    st.lists(text, max_size=3),
)
# A generous number of examples for a few seconds a form; the database is shared by them.
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TABLES = (
    Appointment,
    Patient,
    PatientConsent,
    AvailabilityRule,
    AvailabilityException,
    Resource,
    AppointmentType,
    Inquiry,
    InquiryTask,
    Payment,
    Settlement,
    Invoice,
    JournalEntry,
    BillingService,
    BillingPrice,
    DayClose,
    Expense,
    WaitlistEntry,
    Staff,
    Role,
    AuditEvent,
    OutboxEntry,
)


def snapshot() -> tuple[int, ...]:
    return tuple(table.select().count() for table in TABLES)


def send(post, *args, **kwargs):
    before = snapshot()
    response = post(*args, **kwargs)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert snapshot() == before, f"a refused request ({response.status_code}) wrote rows"
    return response


LEFT_OUT = object()


def fields(valid: dict[str, object], values) -> st.SearchStrategy[dict[str, object]]:
    """A valid form or body with up to three fields changed to arbitrary values or left
    out: a form wrong everywhere at once never gets past the first check."""

    def changed(wrong: dict[str, object]) -> dict[str, object]:
        merged = {**valid, **wrong}
        return {name: value for name, value in merged.items() if value is not LEFT_OUT}

    wrong = st.dictionaries(
        st.sampled_from(sorted(valid)), st.one_of(values, st.just(LEFT_OUT)), max_size=3
    )
    return wrong.map(changed)


def one_of(forms: dict[str, dict[str, object]]) -> st.SearchStrategy[tuple[str, dict]]:
    """One of several forms (by where it is sent), changed as ``fields`` changes one."""
    return st.sampled_from(sorted(forms)).flatmap(
        lambda where: fields(forms[where], text).map(lambda form: (where, form))
    )


def drive(post, url: str, sent: st.SearchStrategy, *, body: bool = False) -> None:
    """Send each of ``sent`` to ``url`` (a form, or JSON with ``body``) as ``send`` checks."""

    @PROPERTY
    @given(sent)
    def run(one):
        send(post, url, **{"json" if body else "data": one})

    run()


def drive_each(post, forms: dict[str, dict[str, object]]) -> None:
    """``drive`` over several forms at once, each changed by ``fields``."""

    @PROPERTY
    @given(one_of(forms))
    def run(chosen):
        url, form = chosen
        send(post, url, data=form)

    run()


@pytest.fixture
def desk(books, client_for):
    return client_for("owner")


def booking_form(clinic) -> dict[str, object]:
    return {
        "patient_id": clinic.asha.id,
        "practitioner_id": clinic.rao.id,
        "type_id": clinic.physio.id,
        "date": MONDAY.isoformat(),
        "time": "10:00",
        "notes": "",
        "override_reason": "",
        "repeat": "weekly",
        "weekdays": "MO",
        "count": "3",
        "step": "confirm_series",
    }


def test_booking_page(books, desk):
    drive(desk.post, "/reception/appointments/new", fields(booking_form(books.clinic), text))


def test_booking_api(books, desk):
    clinic = books.clinic
    valid = {
        "patient_id": clinic.asha.id,
        "practitioner_id": clinic.rao.id,
        "type_id": clinic.physio.id,
        "start": f"{MONDAY.isoformat()}T11:00:00+05:30",
        "resource_ids": [clinic.room1.id],
        "notes": "",
        "override_reason": "",
    }

    drive(desk.post, "/api/v1/appointments", fields(valid, json_value), body=True)


PATIENT = {
    "first_name": "Asha",
    "last_name": "Menon",
    "sex": "female",
    "date_of_birth": "1988-04-12",
    "age_years": "",
    "phone": "98450 12345",
    "email": "",
    "alerts": "Falls risk",
    "consent_treatment": "yes",
    "confirm_new": "1",
}


def test_registration_page(desk):
    drive(desk.post, "/reception/patients/new", fields(PATIENT, text))


def test_registration_api(desk):
    valid = {k: v for k, v in PATIENT.items() if not k.startswith(("consent_", "confirm"))}
    valid.update(alerts=["Falls risk"], age_years=None, allow_duplicate=True)

    drive(desk.post, "/api/v1/patients", fields(valid, json_value), body=True)


def test_payment_page(books, desk):
    valid = {"amount_cash": "500", "amount_upi": "", "reference_upi": "", "notes": ""}

    @PROPERTY
    @given(fields(valid, text), st.sampled_from([books.clinic.asha.id, "no-such-patient"]))
    def run(form, patient):
        send(desk.post, f"/billing/patients/{patient}/payments", data=form)

    run()


def test_payment_api(books, desk):
    tender = st.fixed_dictionaries(
        {"mode": st.one_of(st.just("cash"), text), "amount": st.one_of(st.just(500), json_value)}
    )
    body = st.fixed_dictionaries(
        {"tenders": st.one_of(st.lists(tender, max_size=3), json_value)},
        optional={"invoice_ids": st.lists(text, max_size=3), "notes": text},
    )

    @PROPERTY
    @given(body, st.sampled_from([books.clinic.asha.id, "no-such-patient"]))
    def run(payload, patient):
        send(desk.post, f"/api/v1/billing/patients/{patient}/payments", json=payload)

    run()


EXPENSE = {
    "category": "consumables",
    "vendor": "Tape & Co",
    "amount": "450",
    "mode": "cash",
    "notes": "",
    "day": "",
}


def test_expense_page(books, desk):
    drive(desk.post, "/billing/expenses", fields(EXPENSE, text))


def test_expense_api(books, desk):
    drive(
        desk.post,
        "/api/v1/billing/expenses",
        fields({**EXPENSE, "amount": 45000, "day": None}, json_value),
        body=True,
    )


# --- the book's set-up ----------------------------------------------------------------------


def test_leave_page(books, desk):
    leave = {
        "practitioner_id": books.clinic.rao.id,
        "day": "2026-12-25",
        "kind": "leave",
        "start_time": "",
        "end_time": "",
        "reason": "",
    }

    drive(desk.post, "/reception/setup/exception", fields(leave, text))


def test_leave_api(books, desk):
    leave = {"day": "2026-12-25", "kind": "extra", "start_time": "09:00", "end_time": "12:00"}

    drive(
        desk.post,
        f"/api/v1/practitioners/{books.clinic.rao.id}/exceptions",
        fields(leave, json_value),
        body=True,
    )


def test_set_up_pages(books, desk):
    forms = {
        "hours": {
            "practitioner_id": books.clinic.rao.id,
            "weekday": "2",
            "start_time": "14:00",
            "end_time": "18:00",
        },
        "resource": {"kind": "room", "name": "Room 7", "capacity": "2"},
        "type": {
            "name": "Dry needling",
            "duration_minutes": "30",
            "service_code": "",
            "group_capacity": "",
            "resource_ids": books.clinic.room1.id,
        },
        "rule": {"rule": "patient_busy", "severity": "warn"},
    }

    @PROPERTY
    @given(one_of(forms))
    def run(chosen):
        what, form = chosen
        send(desk.post, f"/reception/setup/{what}", data=form)

    run()


# --- inquiries and consents -----------------------------------------------------------------

INQUIRY = {
    "name": "Kiran Das",
    "phone": "98111 22333",
    "source": "phone",
    "complaint": "",
    "assigned_to": "",
    "follow_up_on": "2026-12-20",
}


def test_inquiry_page(desk):
    drive(desk.post, "/reception/inquiries/new", fields(INQUIRY, text))


def test_inquiry_api(desk):
    drive(
        desk.post,
        "/api/v1/inquiries",
        fields({**INQUIRY, "assigned_to": None}, json_value),
        body=True,
    )


def test_inquiry_convert_page(books, desk):
    clinic = books.clinic
    lead = desk.post("/api/v1/inquiries", json={**INQUIRY, "assigned_to": None}).get_json()
    form = {
        "first_name": "Kiran",
        "last_name": "Das",
        "sex": "male",
        "phone": "98111 22333",
        "date_of_birth": "",
        "book": "yes",
        "practitioner_id": clinic.rao.id,
        "type_id": clinic.physio.id,
        "date": MONDAY.isoformat(),
        "time": "15:00",
        "existing_patient_id": "",
        "confirm_new": "1",
    }

    drive(desk.post, f"/reception/inquiries/{lead['id']}/convert", fields(form, text))


def test_consent_page(books, desk):
    consent = {"kind": "reminders_sms", "given": "yes", "note": ""}

    drive(desk.post, f"/reception/patients/{books.clinic.asha.id}/consents", fields(consent, text))


def test_waitlist_page(books, desk):
    clinic = books.clinic
    valid = {
        "patient_id": clinic.asha.id,
        "type_id": clinic.physio.id,
        "practitioner_id": clinic.rao.id,
        "priority": "2",
        "weekdays": "MO",
        "earliest_time": "09:00",
        "latest_time": "12:00",
        "note": "",
    }
    drive(desk.post, "/reception/waitlist", fields(valid, text))


def test_appointment_status_and_cancel_pages(books, desk, system_actor):
    clinic = books.clinic
    slot = Slot(clinic.asha.id, clinic.rao.id, clinic.physio.id, at(MONDAY, "16:00"))
    url = f"/reception/appointments/{appointments.book(system_actor, slot, ZONE).id}"
    # Both forms at once: a status change can make the cancel refused and the other way round.
    forms = {f"{url}/status": {"status": "confirmed"}, f"{url}/cancel": {"reason": "Unwell"}}

    drive_each(desk.post, forms)
