"""The front desk's set-up, inquiry, consent and waitlist forms on the one boundary: the page
and its API twin read by one model, a refusal re-rendering the form with the message, a 4xx
and what was typed, and nothing written."""

from __future__ import annotations

from physioez.core.kernel.models import AuditEvent
from physioez.reception.models import (
    AppointmentType,
    AvailabilityException,
    Inquiry,
    InquiryTask,
    Patient,
    PatientConsent,
    Resource,
    WaitlistEntry,
)
from tests.reception_fixtures import MONDAY


def audit_count() -> int:
    return AuditEvent.select().count()


def test_leave_in_a_three_digit_year_is_refused_on_the_page_and_the_api_alike(clinic, client_for):
    admin = client_for("clinic_admin")
    leave = {"practitioner_id": clinic.rao.id, "day": "0202-12-25", "kind": "leave"}
    page = admin.post("/reception/setup/exception", data={**leave, "reason": "Family wedding"})
    assert page.status_code == 422 and b"use a four-digit year" in page.data
    assert b'value="Family wedding"' in page.data and b'value="0202-12-25"' in page.data
    api = admin.post(
        f"/api/v1/practitioners/{clinic.rao.id}/exceptions",
        json={"day": "0202-12-25", "kind": "leave"},
    )
    assert api.status_code == 422
    assert api.get_json()["fields"]["day"].startswith("The year 0202 looks mistyped")
    assert AvailabilityException.select().count() == 0


def test_whole_day_leave_from_the_page_leaves_its_hours_blank(clinic, client_for):
    admin = client_for("clinic_admin")
    response = admin.post(
        "/reception/setup/exception",
        data={
            "practitioner_id": clinic.rao.id,
            "day": "2026-12-25",
            "kind": "leave",
            "start_time": "",
            "end_time": "",
        },
    )
    assert response.status_code == 302
    leave = AvailabilityException.get()
    assert leave.start_time is None and leave.end_time is None


def test_a_type_off_the_five_minute_grid_keeps_what_was_typed(clinic, client_for):
    admin = client_for("clinic_admin")
    types = AppointmentType.select().count()
    page = admin.post(
        "/reception/setup/type",
        data={"name": "Hydrotherapy", "duration_minutes": "47", "resource_ids": [clinic.gym.id]},
    )
    assert page.status_code == 422 and b"Enter a multiple of 5." in page.data
    assert b'value="Hydrotherapy"' in page.data and b'value="47"' in page.data
    assert f'value="{clinic.gym.id}" selected'.encode() in page.data
    unknown = admin.post(
        "/reception/setup/type",
        data={"name": "Hydrotherapy", "duration_minutes": "45", "resource_ids": "no-such-room"},
    )
    assert unknown.status_code == 422 and b"no-such-room" in unknown.data
    assert AppointmentType.select().count() == types


def test_a_room_left_without_a_capacity_takes_one(clinic, client_for):
    admin = client_for("clinic_admin")
    response = admin.post("/reception/setup/resource", data={"kind": "room", "name": "Room 9"})
    assert response.status_code == 302
    assert Resource.get(Resource.name == "Room 9").capacity == 1
    refused = admin.post(
        "/reception/setup/resource", data={"kind": "room", "name": "Room 10", "capacity": "x"}
    )
    assert refused.status_code == 422 and b"Enter a whole number." in refused.data
    assert b'value="Room 10"' in refused.data


def test_saving_a_clash_rule_as_it_already_is_writes_nothing(clinic, client_for):
    admin = client_for("clinic_admin")
    form = {"rule": "patient_busy", "severity": "warn"}
    assert admin.post("/reception/setup/rule", data=form).status_code == 302
    before = audit_count()
    assert admin.post("/reception/setup/rule", data=form).status_code == 302
    assert audit_count() == before
    refused = admin.post("/reception/setup/rule", data={**form, "severity": "maybe"})
    assert refused.status_code == 422 and audit_count() == before


LEAD = {"name": "Kiran Das", "phone": "98111 22333", "source": "walk_in"}


def test_an_inquiry_follow_up_in_year_9999_is_refused_on_the_page_and_the_api(clinic, client_for):
    desk = client_for("receptionist")
    page = desk.post(
        "/reception/inquiries/new",
        data={**LEAD, "complaint": "Stiff neck", "follow_up_on": "9999-01-01"},
    )
    assert page.status_code == 422 and b"The follow-up date must be between" in page.data
    assert b'value="Kiran Das"' in page.data and b"Stiff neck" in page.data
    api = desk.post("/api/v1/inquiries", json={**LEAD, "follow_up_on": "9999-01-01"})
    assert api.status_code == 422
    assert api.get_json()["fields"]["follow_up_on"].startswith("The follow-up date must be")
    assert Inquiry.select().count() == 0
    assert desk.post("/reception/inquiries/new", data={**LEAD, "assigned_to": ""}).status_code == (
        302
    )


def test_an_inquiry_task_and_status_are_read_by_the_apis_models(clinic, client_for):
    desk = client_for("receptionist")
    inquiry_id = desk.post("/api/v1/inquiries", json=LEAD).get_json()["id"]
    base = f"/reception/inquiries/{inquiry_id}"
    task = desk.post(f"{base}/tasks", data={"title": "Call back", "due_on": "0202-01-01"})
    assert task.status_code == 422 and b"use a four-digit year" in task.data
    assert InquiryTask.select().count() == 0
    status = desk.post(f"{base}/status", data={"status": "closed"})
    assert status.status_code == 422 and b"Choose one of the offered options." in status.data
    assert Inquiry.get_by_id(inquiry_id).status == "new"


def convert_form(clinic, **changes) -> dict:
    return {
        "first_name": "Kiran",
        "last_name": "Das",
        "sex": "male",
        "phone": "98111 22333",
        "book": "yes",
        "practitioner_id": clinic.rao.id,
        "type_id": clinic.physio.id,
        "date": MONDAY.isoformat(),
        "time": "10:00",
        **changes,
    }


def test_converting_with_a_slip_shows_it_at_the_field_it_was_typed_in(clinic, client_for):
    desk = client_for("receptionist")
    inquiry_id = desk.post("/api/v1/inquiries", json=LEAD).get_json()["id"]
    url = f"/reception/inquiries/{inquiry_id}/convert"
    patients = Patient.select().count()
    response = desk.post(url, data=convert_form(clinic, date="0202-11-16"))
    assert response.status_code == 422 and b'id="date-error"' in response.data
    assert b"use a four-digit year" in response.data and b'value="Kiran"' in response.data
    response = desk.post(url, data=convert_form(clinic, first_name=""))
    assert response.status_code == 422 and b'id="first_name-error"' in response.data
    response = desk.post(url, data=convert_form(clinic, practitioner_id=""))
    assert response.status_code == 422 and b'id="practitioner_id-error"' in response.data
    api = desk.post(
        f"/api/v1/inquiries/{inquiry_id}/convert",
        json={
            "patient": {"first_name": "Kiran", "phone": "98111 22333"},
            "appointment": {
                "practitioner_id": clinic.rao.id,
                "type_id": clinic.physio.id,
                "start": "0001-01-01T10:00:00+05:30",
            },
        },
    )
    assert api.status_code == 422 and "appointment.start" in api.get_json()["fields"]
    assert Patient.select().count() == patients
    assert Inquiry.get_by_id(inquiry_id).status == "new"


def test_a_consent_without_a_yes_or_no_keeps_the_note(clinic, client_for):
    desk = client_for("receptionist")
    url = f"/reception/patients/{clinic.asha.id}/consents"
    page = desk.post(url, data={"kind": "reminders_sms", "given": "maybe", "note": "Ask son"})
    assert page.status_code == 422 and b"Answer yes or no." in page.data
    assert b'value="Ask son"' in page.data
    assert b'value="reminders_sms" selected' in page.data
    unknown = desk.post(url, data={"kind": "telepathy", "given": "yes"})
    assert unknown.status_code == 422 and PatientConsent.select().count() == 0
    assert desk.post(url, data={"kind": "reminders_sms", "given": "no"}).status_code == 302
    assert PatientConsent.get().given is False


def test_a_waitlist_priority_that_is_not_a_number_is_refused_not_a_server_error(clinic, client_for):
    desk = client_for("receptionist")
    wanted = {
        "q": "Asha",
        "patient_id": clinic.asha.id,
        "type_id": clinic.physio.id,
        "priority": "1",
        "weekdays": ["MO", "TH"],
        "earliest_time": "16:00",
        "note": "After school run",
    }
    events = audit_count()
    page = desk.post("/reception/waitlist", data={**wanted, "priority": "soon"})
    assert page.status_code == 422 and b"Enter a whole number." in page.data
    # The form comes back with its patient found and what was typed.
    assert f'value="{clinic.asha.id}" checked'.encode() in page.data
    assert b'value="After school run"' in page.data and b'value="16:00"' in page.data
    assert b'value="TH" checked' in page.data and b'value="TU" checked' not in page.data
    assert WaitlistEntry.select().count() == 0 and audit_count() == events
    assert desk.post("/reception/waitlist", data={**wanted, "priority": "7"}).status_code == 422
    assert desk.post("/reception/waitlist", data={**wanted, "weekdays": "XX"}).status_code == 422
    gone = {"patient_id": b"not on file", "type_id": b"type from", "practitioner_id": b"or Anyone"}
    for field, words in gone.items():  # removed since the page was opened: a 422, not a 500
        refused = desk.post("/reception/waitlist", data={**wanted, field: "gone"})
        assert refused.status_code == 422 and words in refused.data
    assert WaitlistEntry.select().count() == 0
    added = desk.post("/reception/waitlist", data=wanted)
    assert added.status_code == 302
    entry = WaitlistEntry.get()
    assert (entry.priority, entry.preferred_weekdays) == (1, ["MO", "TH"])
