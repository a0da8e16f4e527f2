"""The appointment book through its services: booking, clashes, overrides, the day."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from physioez.core.kernel.errors import Conflict, InvalidInput
from physioez.core.kernel.events import DomainEvent, bus
from physioez.core.kernel.models import AuditEvent, OutboxEntry
from physioez.reception.models import Appointment
from physioez.reception.services import appointments, book_queries, schedule_setup
from physioez.reception.services.clash import Rule
from physioez.reception.services.slots import ClashRefused, Slot
from tests.reception_fixtures import MONDAY, ZONE, at


def slot(c, patient=None, practitioner=None, when="10:00", type_=None, day=MONDAY, **kw):
    return Slot(
        patient_id=(patient or c.asha).id,
        practitioner_id=(practitioner or c.rao).id,
        type_id=(type_ or c.physio).id,
        start=at(day, when),
        **kw,
    )


def test_booking_writes_row_audit_outbox_and_event(clinic, system_actor):
    seen = []
    bus.subscribe(DomainEvent, seen.append)
    appointment = appointments.book(system_actor, slot(clinic), ZONE)
    assert appointment.status == "booked"
    assert appointment.end_at - appointment.start_at == timedelta(minutes=45)
    assert appointment.resource_ids == [clinic.room1.id]
    assert AuditEvent.select().where(AuditEvent.entity_id == appointment.id).count() == 1
    assert OutboxEntry.select().where(OutboxEntry.row_key == appointment.id).count() == 1
    assert [e.name for e in seen if e.name.startswith("appointment")] == ["appointment.changed"]


def test_practitioner_double_booking_is_blocked_and_named(clinic, system_actor):
    appointments.book(system_actor, slot(clinic), ZONE)
    with pytest.raises(ClashRefused) as refused:
        appointments.book(system_actor, slot(clinic, patient=clinic.ravi, when="10:30"), ZONE)
    rules = {c.rule for c in refused.value.clashes}
    assert Rule.PRACTITIONER_BUSY in rules and not refused.value.needs_override
    assert "Asha Test with" in refused.value.message
    assert Appointment.select().count() == 1


def test_back_to_back_is_fine(clinic, system_actor):
    appointments.book(system_actor, slot(clinic), ZONE)
    appointments.book(system_actor, slot(clinic, patient=clinic.ravi, when="10:45"), ZONE)


def test_room_capacity_and_patient_elsewhere(clinic, system_actor):
    appointments.book(system_actor, slot(clinic), ZONE)
    with pytest.raises(ClashRefused) as refused:  # Room 1 holds one, and Asha is busy.
        appointments.book(system_actor, slot(clinic, practitioner=clinic.iyer), ZONE)
    assert {c.rule for c in refused.value.clashes} == {Rule.RESOURCE_FULL, Rule.PATIENT_BUSY}
    appointments.book(
        system_actor,
        slot(clinic, practitioner=clinic.iyer, patient=clinic.ravi, resource_ids=()),
        ZONE,
    )


def test_outside_hours_warns_and_override_is_recorded(clinic, system_actor):
    with pytest.raises(ClashRefused) as refused:
        appointments.book(system_actor, slot(clinic, when="13:15"), ZONE)
    assert refused.value.needs_override
    assert "Book anyway by giving a reason" in refused.value.message
    booked = appointments.book(
        system_actor,
        slot(clinic, when="13:15"),
        ZONE,
        override_reason="Only lunchtime works for her",
    )
    assert booked.override_reason.startswith("Only lunchtime works for her [overrode: ")
    after = json.loads(AuditEvent.get(AuditEvent.entity_id == booked.id).after)
    assert "outside_availability" in after["override_reason"]


def test_leave_blocks_and_clinic_can_soften_a_rule(clinic, system_actor):
    schedule_setup.add_exception(
        system_actor, clinic.rao, day=MONDAY, kind="leave", reason="Conference"
    )
    with pytest.raises(ClashRefused) as refused:
        appointments.book(system_actor, slot(clinic), ZONE, override_reason="please")
    assert {c.rule for c in refused.value.clashes} == {Rule.ON_LEAVE}
    schedule_setup.set_clash_rule(system_actor, "on_leave", "warn")
    booked = appointments.book(system_actor, slot(clinic), ZONE, override_reason="Coming in")
    assert "on_leave" in booked.override_reason
    assert AuditEvent.select().where(AuditEvent.action == "clash_rule.changed").count() == 1


def test_extra_shift_opens_hours(clinic, system_actor):
    saturday = MONDAY + timedelta(days=5)
    with pytest.raises(ClashRefused):
        appointments.book(system_actor, slot(clinic, day=saturday), ZONE)
    schedule_setup.add_exception(
        system_actor, clinic.rao, day=saturday, kind="extra", start_time="09:00", end_time="12:00"
    )
    appointments.book(system_actor, slot(clinic, day=saturday), ZONE)


def test_group_class_fills_to_capacity(clinic, system_actor):
    people = [clinic.asha, clinic.ravi, clinic.meena]
    for person in people:
        appointments.book(system_actor, slot(clinic, patient=person, type_=clinic.class_type), ZONE)
    from physioez.reception.services import patients
    from physioez.reception.services.patients import PatientDetails

    fourth = patients.register(
        system_actor, PatientDetails(first_name="Zoya", phone="9811111111"), MONDAY
    )
    with pytest.raises(ClashRefused) as refused:
        appointments.book(system_actor, slot(clinic, patient=fourth, type_=clinic.class_type), ZONE)
    assert {c.rule for c in refused.value.clashes} == {Rule.CLASS_FULL}


def test_reschedule_ignores_itself_and_checks_the_new_slot(clinic, system_actor):
    first = appointments.book(system_actor, slot(clinic), ZONE)
    appointments.reschedule(system_actor, first, start=at(MONDAY, "10:15"), timezone=ZONE)
    assert first.start_at == at(MONDAY, "10:15")
    other = appointments.book(system_actor, slot(clinic, patient=clinic.ravi, when="11:00"), ZONE)
    with pytest.raises(ClashRefused):
        appointments.reschedule(system_actor, other, start=at(MONDAY, "10:30"), timezone=ZONE)
    assert AuditEvent.select().where(AuditEvent.action == "appointment.rescheduled").count() == 1


def test_attendance_flow_and_events(clinic, system_actor):
    seen = []
    bus.subscribe(DomainEvent, lambda e: seen.append(e.name))
    appointment = appointments.book(system_actor, slot(clinic), ZONE)
    for status in ("confirmed", "arrived", "in_session", "completed"):
        appointments.set_status(system_actor, appointment, status)
    assert appointment.arrived_at and appointment.started_at and appointment.completed_at
    assert "appointment.arrived" in seen and "appointment.attended" in seen
    with pytest.raises(Conflict, match="cannot become"):
        appointments.set_status(system_actor, appointment, "arrived")


def test_cancel_needs_a_reason_flags_late_and_frees_the_slot(clinic, system_actor):
    appointment = appointments.book(system_actor, slot(clinic), ZONE)
    with pytest.raises(InvalidInput, match="why"):
        appointments.cancel(system_actor, appointment, "  ", late_cancel_hours=24)
    appointments.cancel(system_actor, appointment, "Feeling better", late_cancel_hours=24 * 365)
    assert appointment.status == "cancelled" and appointment.late_cancel
    appointments.book(system_actor, slot(clinic, patient=clinic.ravi), ZONE)
    with pytest.raises(Conflict):
        appointments.cancel(system_actor, appointment, "again", late_cancel_hours=24)


def test_day_end_no_shows(clinic, system_actor):
    appointments.book(system_actor, slot(clinic), ZONE)
    arrived = appointments.book(system_actor, slot(clinic, patient=clinic.ravi, when="11:00"), ZONE)
    appointments.set_status(system_actor, arrived, "arrived")
    assert appointments.mark_day_no_shows(system_actor, MONDAY, ZONE) == 1
    statuses = sorted(a.status for a in Appointment.select())
    assert statuses == ["arrived", "no_show"]


def test_input_rules(clinic, system_actor):
    with pytest.raises(InvalidInput, match="5-minute"):
        appointments.book(system_actor, slot(clinic, when="10:02"), ZONE)
    with pytest.raises(InvalidInput, match="patient"):
        appointments.book(
            system_actor,
            slot(clinic).__class__(
                patient_id="nobody",
                practitioner_id=clinic.rao.id,
                type_id=clinic.physio.id,
                start=at(MONDAY, "10:00"),
            ),
            ZONE,
        )


def test_day_entries(clinic, system_actor):
    appointments.book(system_actor, slot(clinic), ZONE)
    appointments.book(
        system_actor,
        slot(clinic, patient=clinic.ravi, practitioner=clinic.iyer, when="09:00", resource_ids=()),
        ZONE,
    )
    start, end = book_queries.local_day_span(MONDAY, ZONE)
    entries = book_queries.entries_between(start, end)
    assert [e.patient.first_name for e in entries] == ["Ravi", "Asha"]
    assert book_queries.entries_between(start, end, [clinic.rao.id])[0].patient.first_name == (
        "Asha"
    )


def test_check_in_waits_for_the_day(clinic, system_actor):
    from datetime import date

    future = date.today() + timedelta(days=14)
    future -= timedelta(days=future.weekday())  # a Monday, inside the fixture's hours
    appointment = appointments.book(system_actor, slot(clinic, day=future), ZONE)
    with pytest.raises(Conflict, match="check the patient in on the day"):
        appointments.set_status(system_actor, appointment, "arrived")
    appointments.set_status(system_actor, appointment, "confirmed")
