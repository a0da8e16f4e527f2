"""Inquiries (leads): the pipeline, follow-ups, conversion in one step, the report, API, pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput
from physioez.core.kernel.events import DomainEvent, bus
from physioez.core.kernel.models import AuditEvent, OutboxEntry
from physioez.reception.models import Appointment, Inquiry, InquiryTask, Patient
from physioez.reception.services import appointments, inquiries, inquiry_report
from physioez.reception.services.inquiries import InquiryDetails
from physioez.reception.services.patients import PatientDetails
from physioez.reception.services.slots import ClashRefused, Slot
from tests.reception_fixtures import MONDAY, ZONE, at


def lead(
    actor, name="Kiran Das", phone="98111 22333", source="phone", follow_up_on=None, **extra
) -> Inquiry:
    return inquiries.record_inquiry(
        actor, InquiryDetails(name=name, phone=phone, source=source, **extra), follow_up_on
    )


def first_slot(c, when="10:00", day=MONDAY, practitioner=None) -> Slot:
    return Slot(
        patient_id="",
        practitioner_id=(practitioner or c.rao).id,
        type_id=c.physio.id,
        start=at(day, when),
    )


def kiran() -> PatientDetails:
    return PatientDetails(first_name="Kiran", last_name="Das", sex="male", phone="98111 22333")


def written() -> tuple[int, int, int, int, int]:
    """Everything a conversion could write: nothing of it may survive a refusal."""
    return (
        Patient.select().count(),
        Appointment.select().count(),
        Inquiry.select().where(Inquiry.status == "converted").count(),
        AuditEvent.select().count(),
        OutboxEntry.select().count(),
    )


# --- services ------------------------------------------------------------------------------


def test_taking_an_inquiry_is_audited_and_queued(app, system_actor):
    inquiry = lead(system_actor, source="campaign", source_note="Diwali flyer")
    assert inquiry.status == "new" and inquiry.phone_key == "9811122333"
    assert AuditEvent.get(AuditEvent.entity_id == inquiry.id).action == "inquiry.create"
    assert OutboxEntry.select().where(OutboxEntry.row_key == inquiry.id).count() == 1
    with_task = lead(system_actor, name="Uma", follow_up_on=MONDAY)
    (task,) = InquiryTask.select().where(InquiryTask.inquiry == with_task.id)
    assert task.title == "Call back" and task.due_on == MONDAY


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"phone": "12-34"}, "phone"),
        ({"source": "fax"}, "source"),
        ({"complaint": "x" * 1001}, "complaint"),
        ({"assigned_to": "nobody"}, "assigned_to"),
    ],
)
def test_bad_inquiry_input_names_the_field_and_writes_nothing(app, system_actor, changes, field):
    details = {"name": "Kiran", "phone": "9811122333", "source": "phone", **changes}
    with pytest.raises(InvalidInput) as refused:
        inquiries.record_inquiry(system_actor, InquiryDetails(**details))
    assert refused.value.field == field
    assert Inquiry.select().count() == 0


def test_pipeline_moves_only_forward_and_losing_needs_a_reason(app, system_actor):
    inquiry = lead(system_actor)
    with pytest.raises(Conflict, match="A new inquiry cannot become booked"):
        inquiries.set_status(system_actor, inquiry, "booked")
    inquiries.set_status(system_actor, inquiry, "contacted")
    with pytest.raises(Conflict, match="already contacted"):
        inquiries.set_status(system_actor, inquiry, "contacted")
    inquiries.set_status(system_actor, inquiry, "booked")
    with pytest.raises(InvalidInput, match="Convert the inquiry instead"):
        inquiries.set_status(system_actor, inquiry, "converted")
    with pytest.raises(InvalidInput) as refused:
        inquiries.set_status(system_actor, inquiry, "lost", lost_reason="   ")
    assert refused.value.field == "lost_reason"
    inquiries.set_status(system_actor, inquiry, "lost", lost_reason="Went to a clinic nearer home")
    assert Inquiry.get_by_id(inquiry.id).lost_reason == "Went to a clinic nearer home"
    with pytest.raises(Conflict, match="A lost inquiry cannot become contacted"):
        inquiries.set_status(system_actor, inquiry, "contacted")
    inquiries.set_status(system_actor, inquiry, "new")
    reopened = Inquiry.get_by_id(inquiry.id)
    assert reopened.status == "new" and reopened.lost_reason == "" and reopened.version == 5
    actions = [
        e.action
        for e in AuditEvent.select()
        .where(AuditEvent.entity_id == inquiry.id)
        .order_by(AuditEvent.seq)
    ]
    assert actions == [
        "inquiry.create",
        "inquiry.contacted",
        "inquiry.booked",
        "inquiry.lost",
        "inquiry.reopened",
    ]


def test_follow_up_tasks_due_today_and_overdue(app, system_actor):
    today = MONDAY
    inquiry = lead(system_actor)
    late = inquiries.add_task(system_actor, inquiry, "Call back", today - timedelta(days=2))
    due = inquiries.add_task(system_actor, inquiry, "Send directions", today)
    inquiries.add_task(system_actor, inquiry, "Check in", today + timedelta(days=3))
    assert [t.id for t in inquiries.due_tasks(today)] == [late.id, due.id]
    assert late.is_overdue(today) and due.is_due_today(today)
    done = inquiries.complete_task(system_actor, late)
    assert done.done_at is not None and done.done_by is None  # the system actor has no staff id
    with pytest.raises(Conflict, match="already done"):
        inquiries.complete_task(system_actor, late)
    with pytest.raises(InvalidInput) as refused:
        inquiries.add_task(system_actor, inquiry, "", today)
    assert refused.value.field == "title"
    inquiries.set_status(system_actor, inquiry, "lost", lost_reason="No answer")
    assert inquiries.due_tasks(today) == []  # a lost lead is nobody's call any more
    with pytest.raises(Conflict, match="reopen it"):
        inquiries.add_task(system_actor, inquiry, "Try again", today)


def test_convert_without_an_appointment(clinic, system_actor):
    inquiry = lead(system_actor)
    result = inquiries.convert(system_actor, inquiry, kiran(), None, ZONE)
    stored = Inquiry.get_by_id(inquiry.id)
    assert stored.status == "converted" and stored.patient_id == result.patient.id
    assert stored.converted_at is not None and stored.first_appointment_id is None
    assert result.patient.mrn == "TEST-000004" and result.appointment is None
    assert AuditEvent.select().where(AuditEvent.action == "inquiry.converted").count() == 1
    with pytest.raises(Conflict, match="already converted"):
        inquiries.convert(system_actor, inquiry, kiran(), None, ZONE)


def test_convert_with_the_first_appointment(clinic, system_actor):
    inquiry = lead(system_actor)
    inquiries.set_status(system_actor, inquiry, "contacted")
    result = inquiries.convert(system_actor, inquiry, kiran(), first_slot(clinic), ZONE)
    appointment = result.appointment
    assert appointment is not None and appointment.patient_id == result.patient.id
    assert appointment.start_at == at(MONDAY, "10:00").astimezone(UTC)
    stored = Inquiry.get_by_id(inquiry.id)
    assert stored.first_appointment_id == appointment.id and stored.patient_id == result.patient.id


def test_a_clash_rolls_back_the_patient_too(clinic, system_actor):
    appointments.book(
        system_actor,
        Slot(clinic.asha.id, clinic.rao.id, clinic.physio.id, at(MONDAY, "10:00")),
        ZONE,
    )
    inquiry = lead(system_actor)
    before = written()
    seen: list[DomainEvent] = []
    bus.subscribe(DomainEvent, seen.append)
    with pytest.raises(ClashRefused) as refused:
        inquiries.convert(system_actor, inquiry, kiran(), first_slot(clinic, "10:15"), ZONE)
    assert not refused.value.needs_override
    assert written() == before
    assert Inquiry.get_by_id(inquiry.id).status == "new"
    assert seen == []  # not even "patient registered" escapes a rolled-back conversion
    # The MRN went back too: the next registration takes the number the clash would have.
    result = inquiries.convert(system_actor, inquiry, kiran(), first_slot(clinic, "11:00"), ZONE)
    assert result.patient.mrn == "TEST-000004"


def test_a_warning_needs_an_override_reason(clinic, system_actor):
    inquiry = lead(system_actor)
    with pytest.raises(ClashRefused) as refused:
        inquiries.convert(system_actor, inquiry, kiran(), first_slot(clinic, "13:15"), ZONE)
    assert refused.value.needs_override and Patient.select().count() == 3
    result = inquiries.convert(
        system_actor,
        inquiry,
        kiran(),
        first_slot(clinic, "13:15"),
        ZONE,
        override_reason="Lunchtime only",
    )
    assert result.appointment.override_reason.startswith("Lunchtime only")


def test_convert_links_an_existing_patient_and_checks_choices(clinic, system_actor):
    inquiry = lead(system_actor, phone=clinic.asha.phone)
    with pytest.raises(InvalidInput) as refused:
        inquiries.convert(
            system_actor, inquiry, None, None, ZONE, existing_patient_id="no-such-patient"
        )
    assert refused.value.field == "existing_patient_id"
    bad_type = Slot("", clinic.rao.id, "no-such-type", at(MONDAY, "10:00"))
    with pytest.raises(InvalidInput) as refused:
        inquiries.convert(system_actor, inquiry, kiran(), bad_type, ZONE)
    assert refused.value.field == "type_id"
    result = inquiries.convert(
        system_actor, inquiry, None, first_slot(clinic), ZONE, existing_patient_id=clinic.asha.id
    )
    assert result.patient.id == clinic.asha.id and Patient.select().count() == 3
    assert result.appointment.patient_id == clinic.asha.id


def test_a_lost_inquiry_must_be_reopened_before_converting(clinic, system_actor):
    inquiry = lead(system_actor)
    inquiries.set_status(system_actor, inquiry, "lost", lost_reason="Too far")
    with pytest.raises(Conflict, match="reopen it"):
        inquiries.convert(system_actor, inquiry, kiran(), None, ZONE)
    assert Patient.select().count() == 3


def test_conversion_summary_per_source(clinic, system_actor):
    phone_a = lead(system_actor, name="A One", phone="9000000101")
    lead(system_actor, name="A Two", phone="9000000102")
    web = lead(system_actor, name="W One", phone="9000000103", source="website")
    walk_in = lead(system_actor, name="K One", phone="9000000104", source="walk_in")
    old = lead(system_actor, name="Old One", phone="9000000105")
    inquiries.convert(
        system_actor,
        phone_a,
        PatientDetails(first_name="A", last_name="One", phone="9000000101"),
        None,
        ZONE,
    )
    inquiries.set_status(system_actor, web, "lost", lost_reason="Price")
    inquiries.convert(
        system_actor,
        walk_in,
        PatientDetails(first_name="K", last_name="One", phone="9000000104"),
        None,
        ZONE,
    )
    # Taken long ago: outside the period, whatever became of it.
    with write_transaction():
        Inquiry.update(created_at=datetime(2020, 1, 1, tzinfo=UTC)).where(
            Inquiry.id == old.id
        ).execute()
    today = datetime.now(UTC).date()
    summary = inquiry_report.conversion_summary(
        today - timedelta(days=7), today + timedelta(days=1)
    )
    assert summary["sources"]["phone"] == {
        "inquiries": 2,
        "converted": 1,
        "lost": 0,
        "conversion_rate": 0.5,
    }
    assert summary["sources"]["website"]["lost"] == 1
    assert summary["sources"]["website"]["conversion_rate"] == 0.0
    assert summary["sources"]["walk_in"]["conversion_rate"] == 1.0
    assert summary["sources"]["referral"]["inquiries"] == 0
    assert summary["total"] == {
        "inquiries": 4,
        "converted": 2,
        "lost": 1,
        "conversion_rate": 0.5,
    }
    assert (
        inquiry_report.conversion_summary(date(2020, 1, 1), date(2020, 1, 1))["total"]["inquiries"]
        == 1
    )


# --- API -----------------------------------------------------------------------------------

LEAD = {
    "name": "Kiran Das",
    "phone": "98111 22333",
    "source": "referral",
    "source_note": "Dr Kumar",
    "complaint": "Knee pain after running",
    "preferred_times": "Weekday mornings",
}
PATIENT = {"first_name": "Kiran", "last_name": "Das", "sex": "male", "phone": "98111 22333"}


def api_lead(client, **overrides) -> dict:
    response = client.post("/api/v1/inquiries", json={**LEAD, **overrides})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def appointment_body(c, when="10:00") -> dict:
    return {
        "practitioner_id": c.rao.id,
        "type_id": c.physio.id,
        "start": at(MONDAY, when).isoformat(),
    }


def test_api_pipeline_tasks_and_conversion(clinic, client_for):
    desk = client_for("receptionist")
    created = api_lead(desk, follow_up_on=MONDAY.isoformat())
    assert created["status"] == "new" and created["tasks"][0]["title"] == "Call back"
    iid = created["id"]
    listed = desk.get("/api/v1/inquiries?status=new").get_json()["inquiries"]
    assert [i["id"] for i in listed] == [iid]
    assert desk.get("/api/v1/inquiries?status=lost").get_json()["inquiries"] == []
    assert desk.get(f"/api/v1/inquiries/{iid}").get_json()["source_note"] == "Dr Kumar"
    moved = desk.put(f"/api/v1/inquiries/{iid}/status", json={"status": "contacted"})
    assert moved.status_code == 200 and moved.get_json()["status"] == "contacted"
    refused = desk.put(f"/api/v1/inquiries/{iid}/status", json={"status": "new"})
    assert refused.status_code == 409 and "cannot become new" in refused.get_json()["error"]
    task = desk.post(
        f"/api/v1/inquiries/{iid}/tasks", json={"title": "Send fees", "due_on": "2026-12-01"}
    )
    assert task.status_code == 201
    done = desk.post(f"/api/v1/inquiries/{iid}/tasks/{task.get_json()['id']}/done")
    assert done.status_code == 200 and done.get_json()["done_by"] == desk.staff.id
    response = desk.post(
        f"/api/v1/inquiries/{iid}/convert",
        json={"patient": PATIENT, "appointment": appointment_body(clinic)},
    )
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["inquiry"]["status"] == "converted"
    assert result["inquiry"]["patient_id"] == result["patient"]["id"]
    assert result["appointment"]["patient_id"] == result["patient"]["id"]
    assert result["inquiry"]["first_appointment_id"] == result["appointment"]["id"]
    assert desk.get(f"/api/v1/inquiries/{iid}").get_json()["converted_at"] is not None


def test_api_bad_input_is_422_and_writes_nothing(clinic, client_for):
    desk = client_for("receptionist")
    events = AuditEvent.select().count()
    response = desk.post("/api/v1/inquiries", json={"name": "", "source": "fax"})
    assert response.status_code == 422
    assert {"name", "phone", "source"} <= set(response.get_json()["fields"])
    response = desk.post("/api/v1/inquiries", json={**LEAD, "phone": "12"})
    assert response.status_code == 422
    assert response.get_json()["fields"] == {
        "phone": "Enter a phone number with at least 7 digits."
    }
    assert Inquiry.select().count() == 0 and AuditEvent.select().count() == events
    iid = api_lead(desk)["id"]
    events = AuditEvent.select().count()
    response = desk.put(f"/api/v1/inquiries/{iid}/status", json={"status": "lost"})
    assert response.status_code == 422 and "lost_reason" in response.get_json()["fields"]
    url = f"/api/v1/inquiries/{iid}/convert"
    response = desk.post(url, json={"patient": {**PATIENT, "first_name": ""}})
    assert response.status_code == 422 and "patient.first_name" in response.get_json()["fields"]
    response = desk.post(url, json={"override_reason": "x"})  # neither patient nor existing one
    assert response.status_code == 422
    response = desk.post(
        url,
        json={"patient": PATIENT, "appointment": {**appointment_body(clinic), "start": "10:00"}},
    )
    assert response.status_code == 422 and "appointment.start" in response.get_json()["fields"]
    assert Patient.select().count() == 3 and AuditEvent.select().count() == events


def test_api_clash_is_409_with_the_clashes_and_nothing_written(clinic, client_for, system_actor):
    booked = appointments.book(
        system_actor,
        Slot(clinic.asha.id, clinic.rao.id, clinic.physio.id, at(MONDAY, "10:00")),
        ZONE,
    )
    desk = client_for("receptionist")
    iid = api_lead(desk)["id"]
    before = written()
    url = f"/api/v1/inquiries/{iid}/convert"
    response = desk.post(
        url, json={"patient": PATIENT, "appointment": appointment_body(clinic, "10:30")}
    )
    assert response.status_code == 409
    answer = response.get_json()
    assert answer["needs_override"] is False
    busy = [c for c in answer["clashes"] if c["rule"] == "practitioner_busy"]
    assert busy and busy[0]["conflicting_id"] == booked.id
    assert {"rule", "severity", "message", "conflicting_id"} <= set(busy[0])
    assert written() == before
    response = desk.post(
        url, json={"patient": PATIENT, "appointment": appointment_body(clinic, "13:15")}
    )
    assert response.status_code == 409 and response.get_json()["needs_override"] is True
    assert written() == before
    response = desk.post(
        url,
        json={
            "patient": PATIENT,
            "appointment": appointment_body(clinic, "13:15"),
            "override_reason": "Lunch only",
        },
    )
    assert response.status_code == 200
    assert response.get_json()["appointment"]["override_reason"].startswith("Lunch only")


def test_api_duplicate_check_then_link_the_existing_patient(clinic, client_for):
    desk = client_for("receptionist")
    iid = api_lead(desk, phone=clinic.asha.phone)["id"]
    url = f"/api/v1/inquiries/{iid}/convert"
    response = desk.post(url, json={"patient": {**PATIENT, "phone": clinic.asha.phone}})
    assert response.status_code == 409
    assert response.get_json()["matches"][0]["patient"]["id"] == clinic.asha.id
    assert Patient.select().count() == 3
    response = desk.post(url, json={"existing_patient_id": clinic.asha.id})
    assert response.status_code == 200
    assert response.get_json()["patient"]["id"] == clinic.asha.id


def test_a_role_without_the_permission_is_refused(clinic, client_for, system_actor):
    inquiry = lead(system_actor)
    billing = client_for("billing")
    assert billing.get("/api/v1/inquiries").status_code == 403
    assert billing.post("/api/v1/inquiries", json=LEAD).status_code == 403
    assert billing.get(f"/api/v1/inquiries/{inquiry.id}").status_code == 403
    response = billing.post(f"/api/v1/inquiries/{inquiry.id}/convert", json={"patient": PATIENT})
    assert response.status_code == 403
    assert billing.get("/reception/inquiries").status_code == 403
    assert billing.post("/reception/inquiries/new", data=LEAD).status_code == 403
    assert Inquiry.select().count() == 1 and Patient.select().count() == 3
    assert b"Inquiries" not in billing.get("/").data


# --- pages ---------------------------------------------------------------------------------

FORM = {
    "name": "Kiran Das",
    "phone": "98111 22333",
    "source": "walk_in",
    "complaint": "Stiff neck",
    "preferred_times": "After 6 pm",
}


def convert_form(c, when="10:00", **extra) -> dict:
    return {
        "first_name": "Kiran",
        "last_name": "Das",
        "sex": "male",
        "phone": "98111 22333",
        "book": "yes",
        "practitioner_id": c.rao.id,
        "type_id": c.physio.id,
        "date": MONDAY.isoformat(),
        "time": when,
        **extra,
    }


def test_take_an_inquiry_and_work_it_through_the_pages(clinic, client_for):
    desk = client_for("receptionist")
    assert desk.get("/reception/inquiries").status_code == 200
    page = desk.get("/reception/inquiries/new")
    assert page.status_code == 200 and b'name="preferred_times"' in page.data
    response = desk.post("/reception/inquiries/new", data={**FORM, "phone": "12"})
    assert response.status_code == 422 and b'id="phone-error"' in response.data
    assert b'value="Kiran Das"' in response.data and Inquiry.select().count() == 0
    response = desk.post("/reception/inquiries/new", data=FORM)
    assert response.status_code == 302
    inquiry = Inquiry.get()
    assert response.location == f"/reception/inquiries/{inquiry.id}"
    detail = desk.get(response.location).data
    assert b"Kiran Das" in detail and b"Stiff neck" in detail and b"After 6 pm" in detail
    assert b"data-confirm=" in detail and b"Convert to patient" in detail
    assert b'value="Kiran"' in detail and b'value="Das"' in detail  # pre-filled registration
    base = f"/reception/inquiries/{inquiry.id}"
    response = desk.post(f"{base}/status", data={"status": "lost"})
    assert response.status_code == 422 and b"Say why the inquiry was lost" in response.data
    assert desk.post(f"{base}/status", data={"status": "contacted"}).status_code == 302
    assert Inquiry.get_by_id(inquiry.id).status == "contacted"
    response = desk.post(f"{base}/status", data={"status": "new"})
    assert response.status_code == 409 and b"cannot become new" in response.data
    today = datetime.now(ZoneInfo(ZONE)).date()
    response = desk.post(f"{base}/tasks", data={"title": "Send fees", "due_on": today.isoformat()})
    assert response.status_code == 302
    listing = desk.get("/reception/inquiries").data
    assert b"Follow-ups due" in listing and b"Send fees" in listing and b"row-warn" in listing
    task = InquiryTask.get()
    response = desk.post(f"{base}/tasks/{task.id}/done", data={"back": "list"})
    assert response.status_code == 302 and response.location == "/reception/inquiries"
    assert b"Follow-ups due" not in desk.get("/reception/inquiries").data
    response = desk.post(f"{base}/convert", data=convert_form(clinic))
    assert response.status_code == 302
    patient = Patient.get(Patient.first_name == "Kiran")
    assert response.location == f"/reception/patients/{patient.id}"
    assert (
        b"Converted: Kiran Das is TEST-000004, first appointment"
        in desk.get(response.location).data
    )
    stored = Inquiry.get_by_id(inquiry.id)
    assert stored.status == "converted" and stored.first_appointment_id is not None
    detail = desk.get(base).data
    assert b"Patient record" in detail and b"Convert to patient" not in detail
    assert b"Kiran Das" in desk.get("/reception/inquiries?status=converted").data
    assert b"Kiran Das" not in desk.get("/reception/inquiries").data  # no longer open


def test_overdue_follow_ups_are_highlighted(app, client_for, system_actor):
    inquiry = lead(system_actor)
    inquiries.add_task(system_actor, inquiry, "Call back", date(2020, 1, 1))
    page = client_for("receptionist").get("/reception/inquiries").data
    assert b"row-blocked" in page and b"Overdue" in page


def test_convert_page_shows_clashes_and_asks_for_an_override(clinic, client_for, system_actor):
    appointments.book(
        system_actor,
        Slot(clinic.asha.id, clinic.rao.id, clinic.physio.id, at(MONDAY, "10:00")),
        ZONE,
    )
    desk = client_for("receptionist")
    inquiry = lead(system_actor)
    url = f"/reception/inquiries/{inquiry.id}/convert"
    before = written()
    response = desk.post(url, data=convert_form(clinic, "10:15"))
    assert response.status_code == 409 and b"This slot cannot be booked" in response.data
    assert b"Asha Test with" in response.data and b'value="Kiran"' in response.data
    assert written() == before
    response = desk.post(url, data=convert_form(clinic, "13:15"))
    assert response.status_code == 409 and b"Book anyway?" in response.data
    assert b'name="override_reason"' in response.data and written() == before
    response = desk.post(url, data=convert_form(clinic, "13:15", override_reason="Lunch only"))
    assert response.status_code == 302
    assert Inquiry.get_by_id(inquiry.id).status == "converted"


def test_convert_page_offers_the_existing_patient(clinic, client_for, system_actor):
    desk = client_for("receptionist")
    inquiry = lead(system_actor, name="Asha Test", phone=clinic.asha.phone)
    url = f"/reception/inquiries/{inquiry.id}/convert"
    form = {**convert_form(clinic), "first_name": "Asha", "last_name": "Test", "book": ""}
    form["phone"] = clinic.asha.phone
    response = desk.post(url, data=form)
    assert response.status_code == 409
    assert b"This may be someone already registered" in response.data
    assert b"same phone number" in response.data and Patient.select().count() == 3
    response = desk.post(
        url, data={**form, "confirm_new": "1", "existing_patient_id": clinic.asha.id}
    )
    assert response.status_code == 302
    assert response.location == f"/reception/patients/{clinic.asha.id}"
    assert Patient.select().count() == 3
    assert Inquiry.get_by_id(inquiry.id).patient_id == clinic.asha.id
