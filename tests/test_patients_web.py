"""Patient pages and API as the front desk uses them."""

from __future__ import annotations

import io

from physioez.core.kernel.models import AuditEvent
from physioez.reception.models import Patient, PatientDocument

FORM = {
    "first_name": "Asha",
    "last_name": "Menon",
    "sex": "female",
    "date_of_birth": "1988-04-12",
    "phone": "98450 12345",
    "consent_treatment": "yes",
    "consent_reminders_sms": "no",
}
JSON = {
    "first_name": "Asha",
    "last_name": "Menon",
    "sex": "female",
    "date_of_birth": "1988-04-12",
    "phone": "98450 12345",
}


def register(client, **overrides):
    response = client.post("/api/v1/patients", json={**JSON, **overrides})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_register_through_the_form(app, client_for):
    desk = client_for("receptionist")
    page = desk.get("/reception/patients/new")
    assert page.status_code == 200 and b"data-duplicate-check" in page.data
    response = desk.post("/reception/patients/new", data=FORM)
    assert response.status_code == 302
    patient = Patient.get()
    assert response.location == f"/reception/patients/{patient.id}"
    detail = desk.get(response.location)
    assert b"TEST-000001" in detail.data and b"is registered as TEST-000001" in detail.data
    assert b"Missing: Identity document, Signed consent form" in detail.data


def test_form_offers_the_existing_patient_before_making_a_duplicate(app, client_for):
    desk = client_for("receptionist")
    desk.post("/reception/patients/new", data=FORM)
    again = desk.post("/reception/patients/new", data={**FORM, "first_name": "Aasha"})
    assert again.status_code == 409
    assert b"This may be someone already registered" in again.data
    assert b"same phone number" in again.data and b"Register anyway" in again.data
    assert Patient.select().count() == 1
    confirmed = desk.post(
        "/reception/patients/new", data={**FORM, "first_name": "Aasha", "confirm_new": "1"}
    )
    assert confirmed.status_code == 302 and Patient.select().count() == 2


def test_form_errors_keep_what_was_typed(app, client_for):
    desk = client_for("receptionist")
    response = desk.post("/reception/patients/new", data={**FORM, "phone": "12"})
    assert response.status_code == 422
    assert b'value="Menon"' in response.data and b"at least 7 digits" in response.data
    assert b'id="phone-error"' in response.data
    response = desk.post("/reception/patients/new", data={**FORM, "date_of_birth": "12/04/88"})
    assert response.status_code == 422 and b"YYYY-MM-DD" in response.data


def test_alert_banner_on_the_patient_page(app, client_for):
    desk = client_for("receptionist")
    desk.post("/reception/patients/new", data={**FORM, "alerts": "Pacemaker\n\nDiabetic"})
    patient = Patient.get()
    page = desk.get(f"/reception/patients/{patient.id}").data
    assert b'class="alert-banner"' in page and b"Pacemaker" in page and b"Diabetic" in page


def test_search_page(app, client_for):
    desk = client_for("receptionist")
    register(desk)
    page = desk.get("/reception/patients?q=asha").data
    assert b"Asha Menon" in page and b"TEST-000001" in page
    page = desk.get("/reception/patients?q=zzz").data
    assert b"No patient matches" in page and b"register a new patient" in page


def test_api_register_duplicate_conflict_and_override(app, client_for):
    desk = client_for("receptionist")
    first = register(desk)
    assert first["mrn"] == "TEST-000001" and first["phone"] == "98450 12345"
    response = desk.post("/api/v1/patients", json={**JSON, "first_name": "Aasha"})
    assert response.status_code == 409
    body = response.get_json()
    assert body["matches"][0]["patient"]["id"] == first["id"]
    assert "allow_duplicate" in body["error"]
    second = register(desk, first_name="Aasha", allow_duplicate=True)
    assert second["mrn"] == "TEST-000002"


def test_api_bad_input_writes_nothing(app, client_for):
    desk = client_for("receptionist")
    events = AuditEvent.select().count()
    response = desk.post(
        "/api/v1/patients", json={"first_name": "", "phone": "1", "sex": "robot", "age_years": 500}
    )
    assert response.status_code == 422
    assert {"first_name", "sex", "age_years"} <= set(response.get_json()["fields"])
    response = desk.post("/api/v1/patients", json={**JSON, "phone": "12-3"})
    assert response.status_code == 422
    assert response.get_json()["fields"] == {
        "phone": "Enter a phone number with at least 7 digits."
    }
    assert Patient.select().count() == 0 and AuditEvent.select().count() == events


def test_api_read_update_consents(app, client_for):
    desk = client_for("receptionist")
    patient = register(desk, consents={"treatment": True})
    pid = patient["id"]
    assert client_for("therapist").get(f"/api/v1/patients/{pid}").status_code == 200
    response = desk.put(f"/api/v1/patients/{pid}", json={**JSON, "last_name": "Nair"})
    assert response.status_code == 200 and response.get_json()["version"] == 2
    response = desk.post(
        f"/api/v1/patients/{pid}/consents", json={"kind": "reminders_whatsapp", "given": True}
    )
    assert response.status_code == 201
    consents = {c["kind"]: c for c in response.get_json()["consents"]}
    assert consents["reminders_whatsapp"]["given"] is True
    assert consents["reminders_whatsapp"]["captured_by"] == desk.staff.id
    assert consents["data_sharing"]["given"] is None
    found = desk.get("/api/v1/patients?q=nair").get_json()["patients"]
    assert [p["id"] for p in found] == [pid]
    assert desk.get("/api/v1/patients?q=").status_code == 422


def test_permissions_on_patient_routes(app, client_for):
    desk = client_for("receptionist")
    patient = register(desk)
    billing = client_for("billing")
    assert billing.get(f"/api/v1/patients/{patient['id']}").status_code == 200
    assert billing.post("/api/v1/patients", json=JSON).status_code == 403
    dup = register(desk, first_name="Aasha", allow_duplicate=True)
    merge = {"duplicate_id": dup["id"]}
    assert desk.post(f"/api/v1/patients/{patient['id']}/merge", json=merge).status_code == 403
    admin = client_for("clinic_admin")
    response = admin.post(f"/api/v1/patients/{patient['id']}/merge", json=merge)
    assert response.status_code == 200
    assert desk.get(f"/api/v1/patients/{dup['id']}").get_json()["merged_into"] == patient["id"]


def test_merge_page_suggests_duplicates_and_confirms(app, client_for):
    admin = client_for("clinic_admin")
    keep = register(admin)
    dup = register(admin, first_name="Aasha", allow_duplicate=True)
    page = admin.get(f"/reception/patients/{keep['id']}/merge").data
    assert b"Likely duplicates" in page and dup["mrn"].encode() in page
    assert b"data-confirm=" in page
    response = admin.post(
        f"/reception/patients/{keep['id']}/merge", data={"duplicate_id": dup["id"]}
    )
    assert response.status_code == 302
    assert b"history is now here" in admin.get(response.location).data


def test_document_upload_download_and_refusals(app, client_for):
    desk = client_for("receptionist")
    patient = register(desk)
    url = f"/reception/patients/{patient['id']}/documents"
    pdf = b"%PDF-1.7\n" + b"%" * 5000
    response = desk.post(
        url,
        data={"kind": "id", "file": (io.BytesIO(pdf), "aadhaar.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    document = PatientDocument.get()
    fetched = desk.get(f"{url}/{document.id}")
    assert fetched.data == pdf and fetched.mimetype == "application/pdf"
    assert "sandbox" in fetched.headers["Content-Security-Policy"]
    response = desk.post(
        url,
        data={"kind": "id", "file": (io.BytesIO(b"<script>"), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and b"PDF, JPEG or PNG" in response.data
    big = b"\x89PNG\r\n\x1a\n" + b"0" * (11 * 1024 * 1024)
    response = desk.post(
        url,
        data={"kind": "id", "file": (io.BytesIO(big), "scan.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    # Between the two limits: larger than a form, within the document limit.
    medium = b"\x89PNG\r\n\x1a\n" + b"0" * (3 * 1024 * 1024)
    response = desk.post(
        url,
        data={"kind": "insurance", "file": (io.BytesIO(medium), "c.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert PatientDocument.select().count() == 2
    assert desk.get(f"{url}/nope").status_code == 404


def test_documents_over_the_api(app, client_for):
    desk = client_for("receptionist")
    patient = register(desk)
    url = f"/api/v1/patients/{patient['id']}/documents"
    pdf = b"%PDF-1.7\n" + b"%" * 3000
    response = desk.post(
        url,
        data={"kind": "insurance", "file": (io.BytesIO(pdf), "card.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    document = response.get_json()
    assert document["content_type"] == "application/pdf" and document["size_bytes"] == len(pdf)
    listing = desk.get(url).get_json()
    assert [d["id"] for d in listing["documents"]] == [document["id"]]
    assert listing["missing"] == ["id", "consent_form"]
    content = desk.get(f"{url}/{document['id']}/content")
    assert content.data == pdf and "attachment" in content.headers["Content-Disposition"]
    bad = desk.post(
        url,
        data={"kind": "passport", "file": (io.BytesIO(pdf), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "kind" in bad.get_json()["fields"]
    fake = desk.post(
        url,
        data={"kind": "id", "file": (io.BytesIO(b"MZ..."), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert fake.status_code == 422 and "PDF, JPEG or PNG" in fake.get_json()["error"]
    missing = desk.post(url, data={"kind": "id"}, content_type="multipart/form-data")
    assert missing.status_code == 422 and missing.get_json()["fields"] == {
        "file": "Send the document as the multipart field 'file'."
    }
    big = b"\x89PNG\r\n\x1a\n" + b"0" * (3 * 1024 * 1024)  # beyond forms, within documents
    response = desk.post(
        url,
        data={"kind": "insurance", "file": (io.BytesIO(big), "c.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    assert (
        client_for("billing")
        .post(url, data={"kind": "id"}, content_type="multipart/form-data")
        .status_code
        == 403
    )


def test_openapi_describes_the_upload(app, anon):
    document = anon.get("/api/v1/openapi.json").get_json()
    upload = document["paths"]["/api/v1/patients/{patient_id}/documents"]["post"]
    schema = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["file"] == {"type": "string", "format": "binary"}
    assert set(schema["required"]) == {"kind", "file"}
    content = document["paths"]["/api/v1/patients/{patient_id}/documents/{document_id}/content"][
        "get"
    ]
    assert set(content["responses"]["200"]["content"]) == {
        "application/pdf",
        "image/jpeg",
        "image/png",
    }
