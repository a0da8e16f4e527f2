"""One boundary for pages and the API: the same model, the same bounds, the same answers."""

from __future__ import annotations

import io
from datetime import date, timedelta
from urllib.parse import unquote

import pytest
from pydantic import TypeAdapter, ValidationError

from physioez.core.kernel.bounds import (
    BirthDate,
    BookingDay,
    Bounds,
    LimitsSettings,
    Money,
    clean_text,
)
from physioez.core.kernel.models import AuditEvent
from physioez.reception.api.schemas import PatientIn
from physioez.reception.models import Appointment, Patient, PatientDocument
from tests.reception_fixtures import MONDAY

TODAY = date(2026, 12, 6)
BOUNDS = Bounds(TODAY, LimitsSettings())


def check(kind, value, **context):
    return TypeAdapter(kind).validate_python(value, context={"bounds": BOUNDS, **context})


def refusal(kind, value, **context) -> str:
    with pytest.raises(ValidationError) as caught:
        check(kind, value, **context)
    return str(caught.value.errors()[0]["ctx"]["error"])


def test_dates_keep_to_their_window_and_four_digit_years():
    assert check(BookingDay, "2027-01-04") == date(2027, 1, 4)
    assert refusal(BookingDay, "0202-01-01").startswith("The year 0202 looks mistyped")
    assert refusal(BookingDay, "9999-12-31") == (
        "The appointment date must be between 06 Dec 2024 and 05 Dec 2028."
    )
    assert check(BirthDate, "1900-01-01") == date(1900, 1, 1)
    assert "01 Jan 1900 and 06 Dec 2026" in refusal(BirthDate, "1899-12-31")
    assert "between" in refusal(BirthDate, (TODAY + timedelta(days=1)).isoformat())


def test_money_is_capped_with_the_cap_named_and_forms_type_whole_units():
    assert check(Money, 125050) == 125050
    assert check(Money, "1,250.50", form=True) == 125050
    assert refusal(Money, 10**15) == "Amounts are at most 1,00,00,000 INR; check the number."
    assert refusal(Money, "99999999999999999", form=True).startswith("Amounts are at most")
    assert "decimal places" in refusal(Money, "1.234", form=True)


def test_text_loses_nul_and_bidirectional_controls():
    assert clean_text("As\x00ha\u202e \u2066Menon\u2069\u200f") == "Asha Menon"
    patient = PatientIn.model_validate(
        {"first_name": " \u202eAsha\x00 ", "phone": "98450 12345", "alerts": ["Falls\u200e risk"]}
    )
    assert patient.first_name == "Asha" and patient.alerts == ["Falls risk"]


def booking(clinic, day: str, time: str = "10:00") -> dict:
    return {
        "patient_id": clinic.asha.id,
        "practitioner_id": clinic.rao.id,
        "type_id": clinic.physio.id,
        "date": day,
        "time": time,
    }


@pytest.mark.parametrize(
    ("day", "message"),
    [("0202-01-01", "four-digit year"), ("9999-12-31", "The appointment date must be between")],
)
def test_a_slip_in_the_year_is_a_422_on_the_page_and_the_api(clinic, client_for, day, message):
    desk = client_for("receptionist")
    events = AuditEvent.select().count()
    page = desk.post("/reception/appointments/new", data=booking(clinic, day))
    assert page.status_code == 422 and message in page.get_data(as_text=True)
    form = booking(clinic, day)
    body = {k: v for k, v in form.items() if k not in ("date", "time")}
    api = desk.post("/api/v1/appointments", json={**body, "start": f"{day}T10:00:00+05:30"})
    assert api.status_code == 422 and message in api.get_json()["fields"]["start"]
    assert Appointment.select().count() == 0 and AuditEvent.select().count() == events
    assert desk.get(f"/reception/book?day={day}").status_code == 422
    assert desk.get(f"/api/v1/appointments?day={day}").status_code == 422


def test_the_page_books_through_the_apis_model(clinic, client_for):
    desk = client_for("receptionist")
    response = desk.post("/reception/appointments/new", data=booking(clinic, MONDAY.isoformat()))
    assert response.status_code == 302 and Appointment.select().count() == 1
    bad_time = desk.post(
        "/reception/appointments/new", data=booking(clinic, MONDAY.isoformat(), "25:00")
    )
    assert bad_time.status_code == 422 and b"24-hour clock" in bad_time.data


def test_an_unknown_room_is_named(clinic, client_for, system_actor):
    desk = client_for("receptionist")
    body = {
        "patient_id": clinic.asha.id,
        "practitioner_id": clinic.rao.id,
        "type_id": clinic.physio.id,
        "start": f"{MONDAY.isoformat()}T10:00:00+05:30",
        "resource_ids": [clinic.room1.id, "no-such-room"],
    }
    response = desk.post("/api/v1/appointments", json=body)
    assert response.status_code == 422
    assert "'no-such-room'" in response.get_json()["fields"]["resource_ids"]
    assert Appointment.select().count() == 0


def test_json_nested_too_deep_is_a_400(app, client_for):
    desk = client_for("receptionist")
    deep = "[" * 5000 + "]" * 5000
    response = desk.post(
        "/api/v1/patients", data=f'{{"alerts": {deep}}}', content_type="application/json"
    )
    assert response.status_code == 400 and "32 levels" in response.get_json()["error"]
    # Brackets inside text are not nesting.
    text = '{"first_name": "Asha", "phone": "98450 12345", "address": "' + "[" * 100 + '"}'
    ok = desk.post("/api/v1/patients", data=text, content_type="application/json")
    assert ok.status_code == 201, ok.get_json()


def test_birth_dates_from_1900_to_today_on_the_form(app, client_for):
    desk = client_for("receptionist")
    form = {"first_name": "Asha", "phone": "98450 12345", "sex": "female"}
    response = desk.post("/reception/patients/new", data={**form, "date_of_birth": "1899-12-31"})
    assert response.status_code == 422 and b"01 Jan 1900" in response.data
    response = desk.post("/reception/patients/new", data={**form, "first_name": "A\u202esha\x00"})
    assert response.status_code == 302
    assert Patient.get().first_name == "Asha"


@pytest.mark.parametrize("name", ["रिपोर्ट.pdf", "ವರದಿ.pdf"])
def test_a_document_named_in_any_script_downloads(app, client_for, name):
    desk = client_for("receptionist")
    patient = desk.post(
        "/api/v1/patients", json={"first_name": "Asha", "phone": "98450 12345"}
    ).get_json()
    pdf = b"%PDF-1.7\n" + b"%" * 100
    page_url = f"/reception/patients/{patient['id']}/documents"
    response = desk.post(
        page_url,
        data={"kind": "consent_form", "file": (io.BytesIO(pdf), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    api_url = f"/api/v1/patients/{patient['id']}/documents"
    response = desk.post(
        api_url,
        data={"kind": "consent_form", "file": (io.BytesIO(pdf), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    first, second = PatientDocument.select().order_by(PatientDocument.created_at)
    for fetched, disposition in (
        (desk.get(f"{page_url}/{first.id}"), "inline"),
        (desk.get(f"{api_url}/{second.id}/content"), "attachment"),
    ):
        header = fetched.headers["Content-Disposition"]
        header.encode("ascii")  # a server can send it as it is
        assert header.startswith(disposition) and fetched.data == pdf
        assert unquote(header.split("filename*=UTF-8''")[1]) == name
