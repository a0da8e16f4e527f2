"""Shared set-up for appointment-book tests: a small clinic with hours, rooms and types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from physioez.reception.models import AppointmentType, Patient, Practitioner, Resource
from physioez.reception.services import patients, schedule_setup
from physioez.reception.services.patients import PatientDetails

ZONE = "Asia/Kolkata"
# A Monday in the past, so check-in (allowed on or after the day) works whenever tests run.
MONDAY = date(2026, 11, 16)


def at(day: date, clock: str) -> datetime:
    """A branch-local wall time as an aware datetime."""
    return datetime.combine(day, datetime.strptime(clock, "%H:%M").time(), ZoneInfo(ZONE))


@dataclass
class Clinic:
    rao: Practitioner
    iyer: Practitioner
    gym: Resource
    room1: Resource
    physio: AppointmentType
    class_type: AppointmentType
    asha: Patient
    ravi: Patient
    meena: Patient


@pytest.fixture
def clinic(app, make_staff, system_actor) -> Clinic:
    actor = system_actor
    rao = schedule_setup.make_practitioner(actor, make_staff("therapist", username="dr.rao"))
    iyer = schedule_setup.make_practitioner(actor, make_staff("therapist", username="dr.iyer"))
    for practitioner in (rao, iyer):
        for weekday in range(5):
            schedule_setup.add_weekly_hours(actor, practitioner, weekday, "09:00", "13:00")
            schedule_setup.add_weekly_hours(actor, practitioner, weekday, "14:00", "18:00")
    gym = schedule_setup.create_resource(actor, kind="room", name="Gym", capacity=2)
    room1 = schedule_setup.create_resource(actor, kind="room", name="Room 1", capacity=1)
    physio = schedule_setup.create_appointment_type(
        actor,
        name="Physiotherapy session",
        duration_minutes=45,
        service_code="PT45",
        resource_ids=[room1.id],
    )
    class_type = schedule_setup.create_appointment_type(
        actor,
        name="Back-care class",
        duration_minutes=60,
        service_code="CLS60",
        group_capacity=3,
        resource_ids=[gym.id],
    )
    people = [
        patients.register(
            actor,
            PatientDetails(first_name=name, last_name="Test", phone=f"98000000{n:02d}"),
            MONDAY,
        )
        for n, name in enumerate(("Asha", "Ravi", "Meena"))
    ]
    return Clinic(rao, iyer, gym, room1, physio, class_type, *people)
