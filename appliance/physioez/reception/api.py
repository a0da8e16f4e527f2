"""The front-desk API: patients (appointments and inquiries join as they are built)."""

from __future__ import annotations

from flask import jsonify

from physioez.core.web.access import current_actor
from physioez.core.web.api import Api
from physioez.reception import schemas
from physioez.reception.services import patients
from physioez.reception.views.patients import branch_today

api = Api("reception", tag="Reception")


@api.route(
    "/patients",
    "GET",
    permission="reception.patients.read",
    summary="Find patients by name, phone or MRN",
    query=schemas.PatientSearchQuery,
    response=schemas.PatientList,
)
def search_patients(query: schemas.PatientSearchQuery):
    found = patients.search(query.q, limit=query.limit)
    return schemas.PatientList(patients=[schemas.PatientOut.of(p) for p in found])


@api.route(
    "/patients",
    "POST",
    permission="reception.patients.write",
    summary="Register a patient (409 with the matches when a duplicate is likely)",
    body=schemas.PatientCreateIn,
    response=schemas.PatientOut,
    status=201,
)
def register_patient(body: schemas.PatientCreateIn):
    details = body.details()
    if not body.allow_duplicate:
        matches = patients.find_duplicates(
            phone=details.phone,
            first_name=details.first_name,
            last_name=details.last_name,
            date_of_birth=details.date_of_birth,
        )
        if matches:
            answer = schemas.DuplicateList(matches=[schemas.DuplicateOut.of(m) for m in matches])
            return jsonify(
                error="This may be a patient already registered. Open the match, or send "
                "allow_duplicate: true to register anyway.",
                fields={},
                **answer.model_dump(mode="json"),
            ), 409
    patient = patients.register(current_actor(), details, branch_today())
    return schemas.PatientOut.of(patient)


@api.route(
    "/patients/duplicates",
    "GET",
    permission="reception.patients.read",
    summary="Possible duplicates while registering",
    query=schemas.DuplicateQuery,
    response=schemas.DuplicateList,
)
def patient_duplicates(query: schemas.DuplicateQuery):
    matches = patients.find_duplicates(
        phone=query.phone,
        first_name=query.first_name,
        last_name=query.last_name,
        date_of_birth=query.date_of_birth,
    )
    return schemas.DuplicateList(matches=[schemas.DuplicateOut.of(m) for m in matches])


@api.route(
    "/patients/<patient_id>",
    "GET",
    permission="reception.patients.read",
    summary="One patient",
    response=schemas.PatientOut,
)
def get_patient(patient_id: str):
    return schemas.PatientOut.of(patients.get_patient(patient_id))


@api.route(
    "/patients/<patient_id>",
    "PUT",
    permission="reception.patients.write",
    summary="Replace a patient's details",
    body=schemas.PatientIn,
    response=schemas.PatientOut,
)
def update_patient(patient_id: str, body: schemas.PatientIn):
    patient = patients.update_details(
        current_actor(), patients.get_patient(patient_id), body.details(), branch_today()
    )
    return schemas.PatientOut.of(patient)


def _consents_out(patient) -> schemas.ConsentList:
    return schemas.ConsentList(
        consents=[
            schemas.ConsentOut(
                kind=kind,
                given=row.given if row else None,
                captured_by=row.captured_by if row else None,
                captured_at=row.created_at if row else None,
            )
            for kind, row in patients.current_consents(patient).items()
        ]
    )


@api.route(
    "/patients/<patient_id>/consents",
    "GET",
    permission="reception.patients.read",
    summary="Current consents",
    response=schemas.ConsentList,
)
def get_consents(patient_id: str):
    return _consents_out(patients.get_patient(patient_id))


@api.route(
    "/patients/<patient_id>/consents",
    "POST",
    permission="reception.patients.write",
    summary="Record a consent answer (kept as history)",
    body=schemas.ConsentIn,
    response=schemas.ConsentList,
    status=201,
)
def record_consent(patient_id: str, body: schemas.ConsentIn):
    patient = patients.get_patient(patient_id)
    patients.set_consent(current_actor(), patient, body.kind, body.given, body.note)
    return _consents_out(patient)


@api.route(
    "/patients/<patient_id>/merge",
    "POST",
    permission="reception.patients.merge",
    summary="Fold a duplicate record into this patient",
    body=schemas.MergeIn,
    response=schemas.PatientOut,
)
def merge_patient(patient_id: str, body: schemas.MergeIn):
    keep = patients.get_patient(patient_id)
    merged = patients.merge(current_actor(), patients.get_patient(body.duplicate_id), keep)
    return schemas.PatientOut.of(merged)
