"""The appointment-book API: booking, clashes and overrides, series, attendance, availability."""

from __future__ import annotations

from datetime import timedelta

from physioez.core.kernel.models import AuditEvent, Staff
from physioez.reception.models import Appointment
from tests.conftest import sign_in_client
from tests.reception_fixtures import MONDAY, at


def body(c, when="10:00", day=MONDAY, patient=None, practitioner=None, **extra):
    return {
        "patient_id": (patient or c.asha).id,
        "practitioner_id": (practitioner or c.rao).id,
        "type_id": c.physio.id,
        "start": at(day, when).isoformat(),
        **extra,
    }


def test_book_and_read(clinic, client_for):
    desk = client_for("receptionist")
    response = desk.post("/api/v1/appointments", json=body(clinic))
    assert response.status_code == 201
    booked = response.get_json()
    assert booked["status"] == "booked" and booked["resource_ids"] == [clinic.room1.id]
    day = desk.get(f"/api/v1/appointments?day={MONDAY.isoformat()}").get_json()
    assert [a["id"] for a in day["appointments"]] == [booked["id"]]
    assert desk.get(f"/api/v1/appointments/{booked['id']}").get_json()["id"] == booked["id"]


def test_clash_answer_names_the_conflict_and_writes_nothing(clinic, client_for):
    desk = client_for("receptionist")
    first = desk.post("/api/v1/appointments", json=body(clinic)).get_json()
    events = AuditEvent.select().count()
    response = desk.post(
        "/api/v1/appointments", json=body(clinic, when="10:30", patient=clinic.ravi)
    )
    assert response.status_code == 409
    answer = response.get_json()
    assert answer["needs_override"] is False
    busy = [c for c in answer["clashes"] if c["rule"] == "practitioner_busy"]
    assert busy and busy[0]["conflicting_id"] == first["id"]
    assert "Asha Test" in busy[0]["message"]
    assert Appointment.select().count() == 1 and AuditEvent.select().count() == events


def test_warning_needs_a_reason_then_books(clinic, client_for):
    desk = client_for("receptionist")
    check = desk.post("/api/v1/appointments/check", json=body(clinic, when="13:15")).get_json()
    assert check["needs_override"] and not check["bookable"]
    response = desk.post("/api/v1/appointments", json=body(clinic, when="13:15"))
    assert response.status_code == 409 and response.get_json()["needs_override"] is True
    response = desk.post(
        "/api/v1/appointments", json=body(clinic, when="13:15", override_reason="Lunch only")
    )
    assert response.status_code == 201
    assert response.get_json()["override_reason"].startswith("Lunch only")


def test_bad_input_is_422_and_writes_nothing(clinic, client_for):
    desk = client_for("receptionist")
    bad = body(clinic)
    bad["start"] = "2026-11-30T10:00:00"  # no offset
    response = desk.post("/api/v1/appointments", json=bad)
    assert response.status_code == 422 and "start" in response.get_json()["fields"]
    response = desk.post("/api/v1/appointments", json=body(clinic, when="10:07"))
    assert response.status_code == 422 and "5-minute" in response.get_json()["error"]
    response = desk.post("/api/v1/appointments", json={**body(clinic), "patient_id": "nope"})
    assert response.status_code == 422 and response.get_json()["fields"] == {
        "patient_id": "Choose a patient."
    }
    response = desk.post("/api/v1/appointments", json={**body(clinic), "type_id": "nope"})
    assert response.status_code == 404
    assert Appointment.select().count() == 0


def test_permissions(app, clinic, client_for):
    billing = client_for("billing")
    assert billing.post("/api/v1/appointments", json=body(clinic)).status_code == 403
    assert billing.get(f"/api/v1/appointments?day={MONDAY}").status_code == 403
    therapist = client_for("therapist")
    assert therapist.post("/api/v1/appointments", json=body(clinic)).status_code == 403
    booked = client_for("receptionist").post("/api/v1/appointments", json=body(clinic))
    appointment_id = booked.get_json()["id"]
    # A therapist checks in their own patients only (see test_scope.py for every role).
    refused = therapist.put(
        f"/api/v1/appointments/{appointment_id}/status", json={"status": "arrived"}
    )
    assert (
        refused.status_code == 403 and "only appointments with you" in refused.get_json()["error"]
    )
    rao = sign_in_client(app.test_client(), Staff.get_by_id(clinic.rao.staff_id))
    assert (
        rao.put(
            f"/api/v1/appointments/{appointment_id}/status", json={"status": "arrived"}
        ).status_code
        == 200
    )
    hours = {"weekday": 5, "start_time": "09:00", "end_time": "12:00"}
    desk = client_for("receptionist")
    assert desk.post(f"/api/v1/practitioners/{clinic.rao.id}/hours", json=hours).status_code == 403
    admin = client_for("clinic_admin")
    assert admin.post(f"/api/v1/practitioners/{clinic.rao.id}/hours", json=hours).status_code == 201


def test_attendance_cancel_reschedule(clinic, client_for):
    desk = client_for("receptionist")
    one = desk.post("/api/v1/appointments", json=body(clinic)).get_json()
    url = f"/api/v1/appointments/{one['id']}"
    assert desk.put(f"{url}/status", json={"status": "completed"}).status_code == 409
    for status in ("arrived", "in_session", "completed"):
        assert desk.put(f"{url}/status", json={"status": status}).status_code == 200
    assert desk.post(f"{url}/cancel", json={"reason": "x"}).status_code == 409
    two = desk.post("/api/v1/appointments", json=body(clinic, when="11:00")).get_json()
    moved = desk.post(
        f"/api/v1/appointments/{two['id']}/reschedule",
        json={"start": at(MONDAY, "14:00").isoformat()},
    )
    assert moved.status_code == 200 and moved.get_json()["version"] == 2
    clash = desk.post(
        f"/api/v1/appointments/{two['id']}/reschedule",
        json={"start": at(MONDAY, "10:15").isoformat()},
    )
    assert clash.status_code == 409
    cancelled = desk.post(f"/api/v1/appointments/{two['id']}/cancel", json={"reason": "Unwell"})
    assert cancelled.get_json()["status"] == "cancelled"
    assert (
        desk.post(f"/api/v1/appointments/{two['id']}/cancel", json={"reason": ""}).status_code
        == 422
    )


def test_series_preview_and_booking(clinic, client_for):
    desk = client_for("receptionist")
    desk.post(
        "/api/v1/appointments",
        json=body(clinic, day=MONDAY + timedelta(days=2), patient=clinic.ravi),
    )
    series = {**body(clinic), "weekdays": ["MO", "WE", "FR"], "count": 6}
    preview = desk.post("/api/v1/appointments/series/preview", json=series).get_json()
    blocked = [o["index"] for o in preview["occurrences"] if o["clashes"]]
    assert len(preview["occurrences"]) == 6 and blocked == [1]
    refused = desk.post("/api/v1/appointments/series", json=series)
    assert refused.status_code == 409 and refused.get_json()["error"].startswith("Session 2")
    assert Appointment.select().count() == 1  # all or nothing
    booked = desk.post("/api/v1/appointments/series", json={**series, "skip": [1]})
    assert booked.status_code == 201 and len(booked.get_json()["appointments"]) == 5
    third = booked.get_json()["appointments"][2]
    response = desk.post(
        f"/api/v1/appointments/{third['id']}/cancel",
        json={"reason": "Travelling", "scope": "following"},
    )
    assert response.status_code == 200
    statuses = sorted(
        a.status for a in Appointment.select().where(Appointment.series.is_null(False))
    )
    assert statuses == ["booked", "booked", "cancelled", "cancelled", "cancelled"]
    bad = desk.post("/api/v1/appointments/series", json={**series, "weekdays": []})
    assert bad.status_code == 422


def test_availability_and_exceptions(clinic, client_for):
    admin = client_for("clinic_admin")
    response = admin.post(
        f"/api/v1/practitioners/{clinic.rao.id}/exceptions",
        json={"day": MONDAY.isoformat(), "kind": "leave", "reason": "Course"},
    )
    assert response.status_code == 201
    found = admin.get(
        f"/api/v1/availability?practitioner_id={clinic.rao.id}&start_day={MONDAY}&end_day={MONDAY}"
    ).get_json()
    assert len(found["working"]) == 2 and len(found["leave"]) == 1
    response = admin.post(
        f"/api/v1/practitioners/{clinic.rao.id}/exceptions",
        json={"day": MONDAY.isoformat(), "kind": "extra"},
    )
    assert response.status_code == 422
    listed = admin.get("/api/v1/practitioners").get_json()["practitioners"]
    assert {p["id"] for p in listed} == {clinic.rao.id, clinic.iyer.id}


def test_days_and_starts_beyond_what_the_book_can_count_are_422(clinic, client_for):
    # Found by tests/test_api_fuzz.py: year 1 overflowed the day's span and the clash window.
    desk = client_for("receptionist")
    booked = desk.post("/api/v1/appointments", json=body(clinic)).get_json()
    for day in ("0001-01-01", "9999-12-31"):
        response = desk.get(f"/api/v1/appointments?day={day}")
        assert response.status_code == 422, day
        assert "day" in response.get_json()["fields"]
    for start in ("0001-01-01T00:00:00Z", "9999-12-31T23:55:00+05:30"):
        moved = desk.post(f"/api/v1/appointments/{booked['id']}/reschedule", json={"start": start})
        assert moved.status_code == 422, start
        booking = desk.post("/api/v1/appointments", json=body(clinic) | {"start": start})
        assert booking.status_code == 422, start
    assert desk.get(f"/api/v1/appointments/{booked['id']}").get_json()["start"] == booked["start"]
    assert Appointment.select().count() == 1
