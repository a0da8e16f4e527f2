"""The front-desk API: patients, their documents and consents."""

from __future__ import annotations

from flask import current_app, jsonify, request

from physioez.core.kernel.errors import InvalidInput
from physioez.core.platform import attachments
from physioez.core.web.access import current_actor
from physioez.core.web.branch import branch_today, current_settings
from physioez.core.web.files import send_bytes
from physioez.reception.api import api, schemas
from physioez.reception.models import PatientDocument
from physioez.reception.services import patients


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
    errors={409: schemas.DuplicateRefusedOut},
)
def register_patient(body: schemas.PatientCreateIn):
    details = body.details()
    if not body.allow_duplicate:
        conflict = duplicate_conflict(
            details, "Open the match, or send allow_duplicate: true to register anyway."
        )
        if conflict is not None:
            return conflict
    patient = patients.register(current_actor(), details, branch_today())
    return schemas.PatientOut.of(patient)


def duplicate_conflict(details: patients.PatientDetails, advice: str):
    """A 409 listing possible duplicates, or None when there are none."""
    matches = patients.duplicates_of(details)
    if not matches:
        return None
    answer = schemas.DuplicateRefusedOut(
        error=f"This may be a patient already registered. {advice}",
        fields={},
        matches=[schemas.DuplicateOut.of(m) for m in matches],
    )
    return jsonify(answer.model_dump(mode="json")), 409


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


def _document_limit() -> int:
    return current_settings().reception.max_document_mb * 1024 * 1024


@api.route(
    "/patients/<patient_id>/documents",
    "GET",
    permission="reception.patients.read",
    summary="A patient's documents, and which required ones are missing",
    response=schemas.DocumentList,
)
def list_documents(patient_id: str):
    patient = patients.get_patient(patient_id)
    found = PatientDocument.live().where(PatientDocument.patient == patient.id)
    required = current_settings().reception.required_documents
    return schemas.DocumentList(
        documents=[schemas.DocumentOut.of(d) for d in found.order_by(PatientDocument.created_at)],
        missing=patients.missing_documents(patient, required),
    )


@api.route(
    "/patients/<patient_id>/documents",
    "POST",
    permission="reception.patients.write",
    summary="Upload a PDF, JPEG or PNG (checked by content, stored encrypted)",
    form=schemas.DocumentForm,
    files=("file",),
    response=schemas.DocumentOut,
    status=201,
    upload_limit=lambda: _document_limit() + 64 * 1024,
)
def upload_document(patient_id: str, form: schemas.DocumentForm):
    patient = patients.get_patient(patient_id)
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("Send the document as the multipart field 'file'.", field="file")
    limit = _document_limit()
    document = patients.add_document(
        current_actor(),
        patient,
        kind=form.kind,
        filename=upload.filename or "document",
        data=upload.read(limit + 1),
        max_bytes=limit,
        keyring=current_app.extensions["physioez_keyring"],
        documents_dir=patients.documents_dir(current_settings()),
    )
    return schemas.DocumentOut.of(document)


@api.route(
    "/patients/<patient_id>/documents/<document_id>/content",
    "GET",
    permission="reception.patients.read",
    summary="The document itself (the reading is audited)",
    produces=attachments.ACCEPTED_TYPES,
)
def document_content(patient_id: str, document_id: str):
    document, data = patients.open_document(
        current_actor(),
        patient_id,
        document_id,
        current_app.extensions["physioez_keyring"],
        patients.documents_dir(current_settings()),
    )
    return send_bytes(data, document.filename, document.content_type)


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
    errors=(409,),
)
def merge_patient(patient_id: str, body: schemas.MergeIn):
    keep = patients.get_patient(patient_id)
    merged = patients.merge(current_actor(), patients.get_patient(body.duplicate_id), keep)
    return schemas.PatientOut.of(merged)
