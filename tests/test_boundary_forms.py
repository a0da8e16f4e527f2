"""The last forms read field by field moved onto the one boundary: the appointment's status
and cancel forms and the staff pages. A refusal re-renders the form with the message, a 4xx
and what was typed, and writes nothing."""

from __future__ import annotations

import pytest

from physioez.core.kernel.models import AuditEvent, Staff
from physioez.reception.models import Appointment
from physioez.reception.services import appointments
from physioez.reception.services.slots import Slot
from tests.reception_fixtures import MONDAY, ZONE, at


def audit_count() -> int:
    return AuditEvent.select().count()


@pytest.fixture
def booked(clinic, system_actor) -> Appointment:
    slot = Slot(clinic.asha.id, clinic.rao.id, clinic.physio.id, at(MONDAY, "10:00"))
    return appointments.book(system_actor, slot, ZONE)


def test_an_unknown_status_re_renders_the_appointment_page(booked, client_for):
    desk = client_for("receptionist")
    before = audit_count()
    page = desk.post(f"/reception/appointments/{booked.id}/status", data={"status": "gone"})
    assert page.status_code == 422
    assert "Choose one of the offered options." in page.get_data(as_text=True)
    assert audit_count() == before and Appointment.get_by_id(booked.id).status == "booked"
    page = desk.post(f"/reception/appointments/{booked.id}/status", data={"status": "confirmed"})
    assert page.status_code == 302
    assert Appointment.get_by_id(booked.id).status == "confirmed"


def test_checking_in_from_today_goes_back_to_today(booked, client_for):
    desk = client_for("receptionist")
    url = f"/reception/appointments/{booked.id}/status?back=today"
    page = desk.post(url, data={"status": "arrived"})
    assert page.status_code == 302 and page.headers["Location"].endswith("/reception/today")


def test_a_cancel_reason_too_long_keeps_what_was_typed(booked, client_for):
    desk = client_for("receptionist")
    before = audit_count()
    reason = "Unwell " + "x" * 600
    page = desk.post(
        f"/reception/appointments/{booked.id}/cancel", data={"reason": reason, "scope": "one"}
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    assert 'id="reason-error">Use at most 500 characters.' in text
    assert f'value="{reason}"' in text
    assert audit_count() == before and Appointment.get_by_id(booked.id).status == "booked"


def test_a_cancel_without_a_reason_or_with_an_odd_scope_is_refused(booked, client_for):
    desk = client_for("receptionist")
    url = f"/reception/appointments/{booked.id}/cancel"
    empty = desk.post(url, data={"reason": "  "})
    assert empty.status_code == 422 and 'id="reason-error">Fill this in.' in empty.text
    odd = desk.post(url, data={"reason": "Unwell", "scope": "everything"})
    assert odd.status_code == 422 and "Choose one of the offered options." in odd.text
    assert Appointment.get_by_id(booked.id).status == "booked"
    done = desk.post(url, data={"reason": "Unwell"})
    assert done.status_code == 302
    assert Appointment.get_by_id(booked.id).status == "cancelled"


def test_a_new_account_with_slips_comes_back_as_typed(app, client_for):
    admin = client_for("owner")
    before = (audit_count(), Staff.select().count())
    form = {
        "full_name": "Priya Shah",
        "username": "priya.s",
        "email": "p" * 201,
        "phone": "98450 12345",
        "roles": ["receptionist", "billing"],
        "password": "",
    }
    page = admin.post("/admin/staff/new", data=form)
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    assert 'id="email-error">Use at most 200 characters.' in text
    assert 'id="password-error">Fill this in.' in text
    assert 'value="Priya Shah"' in text and 'value="98450 12345"' in text
    assert text.count("checked") == 2 and 'value="billing" checked' in text
    assert (audit_count(), Staff.select().count()) == before
    api = admin.post("/api/v1/staff", json={**form, "password": None})
    assert api.status_code == 422 and set(api.get_json()["fields"]) == {"email", "password"}
    created = admin.post(
        "/admin/staff/new", data={**form, "email": "", "password": "a long temporary one"}
    )
    assert created.status_code == 302
    assert sorted(Staff.get(Staff.username == "priya.s").role_codes) == ["billing", "receptionist"]


def test_staff_roles_and_password_refusals_stay_on_the_page(app, client_for, make_staff):
    admin = client_for("owner")
    peer = make_staff("receptionist")
    before = audit_count()
    roles = admin.post(f"/admin/staff/{peer.id}/roles", data={"roles": ["billing", "x" * 50]})
    text = roles.get_data(as_text=True)
    assert roles.status_code == 422 and 'id="roles-error">' in text
    assert 'value="billing" checked' in text and 'value="receptionist" checked' not in text
    password = admin.post(f"/admin/staff/{peer.id}/password", data={"password": "p" * 300})
    assert password.status_code == 422
    assert 'id="password-error">Use at most 256 characters.' in password.get_data(as_text=True)
    active = admin.post(f"/admin/staff/{peer.id}/active", data={"active": "maybe"})
    assert active.status_code == 422 and 'id="active-error">' in active.get_data(as_text=True)
    assert audit_count() == before and Staff.get_by_id(peer.id).active
    assert Staff.get_by_id(peer.id).role_codes == ["receptionist"]
