"""Access scoped inside a permission, role by role: whose appointments a person may change,
and which of a patient's documents they may open; pages and the API alike."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from physioez.core.kernel import records
from physioez.core.kernel.models import Role
from physioez.core.kernel.permissions import DEFAULT_ROLES
from physioez.reception.models import Appointment
from physioez.reception.services import appointments, patients, schedule_setup
from physioez.reception.services.scope import ANY_PRACTITIONER, DOCUMENT_PERMISSIONS
from physioez.reception.services.slots import Slot
from tests.conftest import sign_in_client
from tests.reception_fixtures import MONDAY, ZONE, at

ROLES = {role.code: frozenset(role.permissions) for role in DEFAULT_ROLES}
ATTENDANCE = "reception.attendance.write"


def _book(actor, clinic, practitioner, patient, clock):
    # No room: the person's own and their colleague's sessions run side by side.
    slot = Slot(patient.id, practitioner.id, clinic.physio.id, at(MONDAY, clock), resource_ids=())
    return appointments.book(actor, slot, ZONE)


@pytest.fixture(autouse=True)
def _colleague_named(clinic, system_actor):
    # The fixture's staff are all "Test Therapist"; a refusal must name whose diary it is.
    records.update(clinic.iyer, system_actor, display_name="Dr Iyer")


@pytest.fixture
def in_the_book(app, clinic, make_staff, system_actor):
    """A signed-in person of ``role`` who is in the appointment book, with a client."""

    def make(role: str):
        staff = make_staff(role)
        mine = schedule_setup.make_practitioner(system_actor, staff)
        schedule_setup.add_weekly_hours(system_actor, mine, MONDAY.weekday(), "09:00", "18:00")
        return mine, sign_in_client(app.test_client(), staff)

    return make


def _status(appointment_id: str) -> str:
    return Appointment.get_by_id(appointment_id).status


@pytest.mark.parametrize("role", sorted(ROLES))
def test_status_changes_are_scoped_to_own_appointments(role, clinic, in_the_book, system_actor):
    mine, client = in_the_book(role)
    held = ROLES[role]
    own = [_book(system_actor, clinic, mine, clinic.asha, c) for c in ("10:00", "11:00")]
    other = [_book(system_actor, clinic, clinic.iyer, clinic.ravi, c) for c in ("10:00", "11:00")]

    def attempt(appointment, via_api):
        if via_api:
            url = f"/api/v1/appointments/{appointment.id}/status"
            return client.put(url, json={"status": "arrived"})
        url = f"/reception/appointments/{appointment.id}/status"
        return client.post(url, data={"status": "arrived"})

    for via_api, (mine_one, theirs) in ((True, (own[0], other[0])), (False, (own[1], other[1]))):
        own_answer, other_answer = attempt(mine_one, via_api), attempt(theirs, via_api)
        if ATTENDANCE not in held:
            assert own_answer.status_code == other_answer.status_code == 403
            assert own_answer.headers.get("X-Refused-Permission") == ATTENDANCE
            continue
        assert own_answer.status_code in (200, 302) and _status(mine_one.id) == "arrived"
        if ANY_PRACTITIONER in held:
            assert other_answer.status_code in (200, 302) and _status(theirs.id) == "arrived"
        else:
            assert other_answer.status_code == 403 and _status(theirs.id) == "booked"
            message = other_answer.get_json()["error"] if via_api else other_answer.data.decode()
            assert "only appointments with you" in message
            assert "Dr Iyer&#39;s diary" in message or "Dr Iyer's diary" in message


@pytest.mark.parametrize("role", sorted(r for r in ROLES if ATTENDANCE in ROLES[r]))
def test_pages_offer_only_what_the_person_may_do(role, clinic, in_the_book, system_actor):
    mine, client = in_the_book(role)
    scoped = ANY_PRACTITIONER not in ROLES[role]
    own = _book(system_actor, clinic, mine, clinic.asha, "10:00")
    other = _book(system_actor, clinic, clinic.iyer, clinic.ravi, "10:00")

    def offers_check_in(page: str, appointment) -> bool:
        return f"/reception/appointments/{appointment.id}/status" in page

    own_page = client.get(f"/reception/appointments/{own.id}").data.decode()
    other_page = client.get(f"/reception/appointments/{other.id}").data.decode()
    assert offers_check_in(own_page, own)
    assert offers_check_in(other_page, other) is not scoped
    assert ("you can change only appointments with you" in other_page) is scoped
    # The today board shows today's appointments: put both on today to see their buttons.
    ten = datetime.now(ZoneInfo(ZONE)).replace(hour=10, minute=0, second=0, microsecond=0)
    for appointment in (own, other):
        records.update(appointment, system_actor, start_at=ten, end_at=ten + timedelta(minutes=45))
    board = client.get("/reception/today").data.decode()
    assert offers_check_in(board, own)
    assert offers_check_in(board, other) is not scoped


def test_a_role_that_books_but_not_for_everyone_keeps_to_its_own_diary(
    app, clinic, make_staff, system_actor
):
    """A custom role: booking rights without any-practitioner (a senior therapist's, say)."""
    records.create(
        Role,
        system_actor,
        code="senior_therapist",
        name="Senior therapist",
        permissions=[
            "core.shell.use",
            "reception.appointments.read",
            "reception.appointments.write",
            ATTENDANCE,
        ],
    )
    staff = make_staff("senior_therapist")
    mine = schedule_setup.make_practitioner(system_actor, staff)
    schedule_setup.add_weekly_hours(system_actor, mine, MONDAY.weekday(), "09:00", "18:00")
    client = sign_in_client(app.test_client(), staff)

    def booking(practitioner, clock):
        return {
            "patient_id": clinic.asha.id,
            "practitioner_id": practitioner.id,
            "type_id": clinic.physio.id,
            "start": at(MONDAY, clock).isoformat(),
            "resource_ids": [],
        }

    assert client.post("/api/v1/appointments", json=booking(mine, "10:00")).status_code == 201
    refused = client.post("/api/v1/appointments", json=booking(clinic.iyer, "12:00"))
    assert refused.status_code == 403 and "Dr Iyer's diary" in refused.get_json()["error"]
    own = Appointment.get(Appointment.practitioner == mine.id)
    moved = client.post(
        f"/api/v1/appointments/{own.id}/reschedule",
        json={"start": at(MONDAY, "15:00").isoformat(), "practitioner_id": clinic.iyer.id},
    )
    assert moved.status_code == 403 and Appointment.get_by_id(own.id).practitioner_id == mine.id
    theirs = _book(system_actor, clinic, clinic.iyer, clinic.ravi, "11:00")
    cancel = client.post(f"/api/v1/appointments/{theirs.id}/cancel", json={"reason": "ill"})
    assert cancel.status_code == 403 and _status(theirs.id) == "booked"
    assert (
        client.post(
            f"/api/v1/appointments/{own.id}/cancel", json={"reason": "patient unwell"}
        ).status_code
        == 200
    )
    # The forms offer only the person's own diary.
    form = client.get("/reception/appointments/new").data.decode()
    assert mine.id in form and clinic.iyer.id not in form
    day = client.get(f"/reception/book?day={MONDAY.isoformat()}").data.decode()
    assert f"practitioner_id={mine.id}" in day and f"practitioner_id={clinic.iyer.id}" not in day


@pytest.fixture
def documents(app, clinic, system_actor):
    """One document of each kind for Asha."""
    return {
        kind: patients.add_document(
            system_actor,
            clinic.asha,
            kind=kind,
            filename=f"{kind}.pdf",
            data=b"%PDF-1.7 " + kind.encode(),
            max_bytes=10_000,
            keyring=app.extensions["physioez_keyring"],
            documents_dir=app.config["PHYSIOEZ"].paths.data_dir / "documents",
        )
        for kind in ("id", "report", "referral_letter", "insurance")
    }


@pytest.mark.parametrize("role", sorted(r for r in ROLES if "reception.patients.read" in ROLES[r]))
def test_sensitive_documents_are_listed_but_open_only_with_their_permission(
    role, clinic, client_for, documents
):
    client = client_for(role)
    held = ROLES[role]
    patient_page = client.get(f"/reception/patients/{clinic.asha.id}").data.decode()
    for kind, document in documents.items():
        needed = DOCUMENT_PERMISSIONS.get(kind)
        allowed = needed is None or needed in held
        page_url = f"/reception/patients/{clinic.asha.id}/documents/{document.id}"
        api_url = f"/api/v1/patients/{clinic.asha.id}/documents/{document.id}/content"
        assert f"{kind}.pdf" in patient_page  # listed either way: it is on file
        assert (page_url in patient_page) is allowed
        for answer in (client.get(page_url), client.get(api_url)):
            if allowed:
                assert answer.status_code == 200 and answer.data.endswith(kind.encode())
            else:
                assert answer.status_code == 403 and b"PDF" not in answer.data
                assert b"Your role cannot open" in answer.data


def test_who_opens_what_by_default():
    """The rule docs/security.md states: the desk opens ID scans, clinicians open reports and
    referral letters, billing opens neither; therapists change only their own appointments."""

    def holders(code):
        return {role for role, held in ROLES.items() if code in held}

    assert holders("reception.documents.identity.read") == {
        "owner",
        "branch_manager",
        "clinic_admin",
        "receptionist",
    }
    assert holders("reception.documents.clinical.read") == {
        "owner",
        "branch_manager",
        "therapist",
        "junior_therapist",
    }
    assert holders(ANY_PRACTITIONER) == {"owner", "branch_manager", "clinic_admin", "receptionist"}
