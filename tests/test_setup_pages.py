"""Setting up the book from the browser: hours, leave, rooms, types, clash rules."""

from __future__ import annotations

from physioez.reception.models import (
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Practitioner,
    Resource,
)
from physioez.reception.services import schedule_setup


def test_setup_flow(clinic, client_for, make_staff):
    admin = client_for("clinic_admin")
    newcomer = make_staff("therapist", username="dr.new")
    page = admin.get("/reception/setup")
    assert page.status_code == 200 and b"Test Therapist" in page.data
    assert (
        admin.post("/reception/setup/practitioner", data={"staff_id": newcomer.id}).status_code
        == 302
    )
    practitioner = Practitioner.get(Practitioner.staff_id == newcomer.id)
    response = admin.post(
        "/reception/setup/hours",
        data={
            "practitioner_id": practitioner.id,
            "weekday": "0",
            "start_time": "10:00",
            "end_time": "09:00",
        },
    )
    assert response.status_code == 422 and b"end must be after the start" in response.data
    assert (
        admin.post(
            "/reception/setup/hours",
            data={
                "practitioner_id": practitioner.id,
                "weekday": "0",
                "start_time": "09:00",
                "end_time": "12:00",
            },
        ).status_code
        == 302
    )
    assert (
        admin.post(
            "/reception/setup/exception",
            data={
                "practitioner_id": practitioner.id,
                "day": "2026-12-25",
                "kind": "leave",
                "reason": "Christmas",
            },
        ).status_code
        == 302
    )
    assert (
        admin.post(
            "/reception/setup/resource",
            data={"kind": "equipment", "name": "TENS unit", "capacity": "2"},
        ).status_code
        == 302
    )
    tens = Resource.get(Resource.name == "TENS unit")
    assert (
        admin.post(
            "/reception/setup/type",
            data={"name": "TENS session", "duration_minutes": "20", "resource_ids": [tens.id]},
        ).status_code
        == 302
    )
    assert AppointmentType.get(AppointmentType.name == "TENS session").resource_ids == [tens.id]
    assert (
        admin.post(
            "/reception/setup/type", data={"name": "Odd", "duration_minutes": "7"}
        ).status_code
        == 422
    )
    assert (
        admin.post(
            "/reception/setup/rule", data={"rule": "patient_busy", "severity": "warn"}
        ).status_code
        == 302
    )
    assert schedule_setup.clash_policy().patient_busy.value == "warn"
    hours = AvailabilityRule.get(AvailabilityRule.practitioner == practitioner.id)
    assert admin.post(f"/reception/setup/hours/{hours.id}/remove").status_code == 302
    assert AvailabilityRule.get_by_id(hours.id).deleted_at is not None
    assert AvailabilityException.select().count() == 1
    page = admin.get("/reception/setup").data
    assert b"Christmas" in page and b"TENS unit" in page


def test_setup_is_for_schedule_managers(clinic, client_for):
    desk = client_for("receptionist")
    assert desk.get("/reception/setup").status_code == 403
    assert (
        desk.post(
            "/reception/setup/rule", data={"rule": "on_leave", "severity": "warn"}
        ).status_code
        == 403
    )


def test_a_room_in_use_by_a_type_cannot_be_removed(clinic, client_for):
    admin = client_for("clinic_admin")
    response = admin.post(f"/reception/setup/resource/{clinic.room1.id}/remove")
    assert response.status_code == 409 and b"still needed by: Physiotherapy session" in (
        response.data
    )
