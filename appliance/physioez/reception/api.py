"""The front-desk API: patients (appointments and inquiries join as they are built)."""

from __future__ import annotations

from flask import current_app, jsonify, request

from physioez.core.kernel.errors import InvalidInput, NotFound
from physioez.core.platform import attachments
from physioez.core.web.access import current_actor
from physioez.core.web.api import Api, ErrorOut
from physioez.core.web.branch import branch_today
from physioez.core.web.files import send_bytes
from physioez.reception import schemas
from physioez.reception.models import PatientDocument
from physioez.reception.services import appointments, clash, patients, schedule_setup, series
from physioez.reception.services.appointments import ClashRefused

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
    return current_app.config["PHYSIOEZ"].reception.max_document_mb * 1024 * 1024


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
    required = current_app.config["PHYSIOEZ"].reception.required_documents
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
        documents_dir=patients.documents_dir(_settings()),
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
    document = PatientDocument.get_or_none(
        (PatientDocument.id == document_id) & (PatientDocument.patient == patient_id)
    )
    if document is None or document.deleted_at is not None:
        raise NotFound("No such document for this patient.")
    data = patients.read_document(
        current_actor(),
        document,
        current_app.extensions["physioez_keyring"],
        patients.documents_dir(_settings()),
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


# --- the appointment book --------------------------------------------------------------------


def _settings():
    return current_app.config["PHYSIOEZ"]


def _clashes_out(found) -> list[schemas.ClashOut]:
    return [
        schemas.ClashOut(
            rule=c.rule.value,
            severity=c.severity.value,
            message=c.message,
            conflicting_id=c.conflicting_id,
            resource_id=c.resource_id,
        )
        for c in found
    ]


def clash_refusal(refused: ClashRefused):
    """The 409 for a slot that clashes, for every route that books."""
    answer = schemas.ClashRefusedOut(
        error=refused.message,
        fields=refused.fields,
        needs_override=refused.needs_override,
        clashes=_clashes_out(refused.clashes),
    )
    return jsonify(answer.model_dump(mode="json")), 409


@api.route(
    "/appointments",
    "GET",
    permission="reception.appointments.read",
    summary="A day of the appointment book",
    query=schemas.DayQuery,
    response=schemas.AppointmentList,
)
def list_appointments(query: schemas.DayQuery):
    start, end = appointments.local_day_span(query.day, _settings().branch.timezone)
    wanted = [query.practitioner_id] if query.practitioner_id else []
    found = appointments.appointments_between(start, end, wanted)
    return schemas.AppointmentList(appointments=[schemas.AppointmentOut.of(a) for a in found])


@api.route(
    "/appointments/check",
    "POST",
    permission="reception.appointments.read",
    summary="What a slot would clash with, without booking it",
    body=schemas.SlotIn,
    response=schemas.CheckOut,
    errors=(404,),
)
def check_appointment(body: schemas.SlotIn):
    _, found = appointments.check_slot(body.slot(), _settings().branch.timezone)
    hard = clash.hard_clashes(found)
    return schemas.CheckOut(
        clashes=_clashes_out(found), bookable=not found, needs_override=bool(found) and not hard
    )


@api.route(
    "/appointments",
    "POST",
    permission="reception.appointments.write",
    summary="Book (409 with the clashes; warnings need override_reason)",
    body=schemas.BookingIn,
    response=schemas.AppointmentOut,
    status=201,
    errors={404: ErrorOut, 409: schemas.ClashRefusedOut},
)
def book_appointment(body: schemas.BookingIn):
    try:
        booked = appointments.book(
            current_actor(),
            body.slot(),
            _settings().branch.timezone,
            override_reason=body.override_reason,
        )
    except ClashRefused as refused:
        return clash_refusal(refused)
    return schemas.AppointmentOut.of(booked)


@api.route(
    "/appointments/series/preview",
    "POST",
    permission="reception.appointments.read",
    summary="Every occurrence of a weekly series with its clashes",
    body=schemas.SeriesIn,
    response=schemas.SeriesPreviewOut,
    errors=(404,),
)
def preview_series(body: schemas.SeriesIn):
    lines = series.preview(body.slot(), body.rule(_settings().branch.timezone))
    return schemas.SeriesPreviewOut(
        occurrences=[
            schemas.SeriesPreviewLine(
                index=line.occurrence.index,
                start=line.occurrence.start_utc,
                clashes=_clashes_out(line.clashes),
            )
            for line in lines
        ]
    )


@api.route(
    "/appointments/series",
    "POST",
    permission="reception.appointments.write",
    summary="Book a weekly series, all or nothing",
    body=schemas.SeriesIn,
    response=schemas.AppointmentList,
    status=201,
    errors={404: ErrorOut, 409: schemas.ClashRefusedOut},
)
def book_series(body: schemas.SeriesIn):
    try:
        booked = series.book_series(
            current_actor(),
            body.slot(),
            body.rule(_settings().branch.timezone),
            skip=body.skip,
            override_reason=body.override_reason,
        )
    except ClashRefused as refused:
        return clash_refusal(refused)
    return schemas.AppointmentList(appointments=[schemas.AppointmentOut.of(a) for a in booked])


@api.route(
    "/appointments/<appointment_id>",
    "GET",
    permission="reception.appointments.read",
    summary="One appointment",
    response=schemas.AppointmentOut,
)
def get_appointment(appointment_id: str):
    return schemas.AppointmentOut.of(appointments.get_appointment(appointment_id))


@api.route(
    "/appointments/<appointment_id>/status",
    "PUT",
    permission="reception.attendance.write",
    summary="Confirm, check in, start, complete or mark a no-show",
    body=schemas.StatusIn,
    response=schemas.AppointmentOut,
    errors=(409,),
)
def set_appointment_status(appointment_id: str, body: schemas.StatusIn):
    appointment = appointments.set_status(
        current_actor(), appointments.get_appointment(appointment_id), body.status
    )
    return schemas.AppointmentOut.of(appointment)


@api.route(
    "/appointments/<appointment_id>/cancel",
    "POST",
    permission="reception.appointments.write",
    summary="Cancel with a reason (this one, or this and following)",
    body=schemas.CancelIn,
    response=schemas.AppointmentOut,
    errors=(409,),
)
def cancel_appointment(appointment_id: str, body: schemas.CancelIn):
    appointment = appointments.get_appointment(appointment_id)
    hours = _settings().reception.late_cancel_hours
    if body.scope == "following":
        series.cancel_following(current_actor(), appointment, body.reason, hours)
        appointment = appointments.get_appointment(appointment_id)
    else:
        appointments.cancel(current_actor(), appointment, body.reason, hours)
    return schemas.AppointmentOut.of(appointment)


@api.route(
    "/appointments/<appointment_id>/reschedule",
    "POST",
    permission="reception.appointments.write",
    summary="Move to another time or practitioner",
    body=schemas.RescheduleIn,
    response=schemas.AppointmentOut,
    errors={409: (ErrorOut, schemas.ClashRefusedOut)},
)
def reschedule_appointment(appointment_id: str, body: schemas.RescheduleIn):
    appointment = appointments.get_appointment(appointment_id)
    try:
        appointments.reschedule(
            current_actor(),
            appointment,
            start=body.start,
            practitioner_id=body.practitioner_id,
            timezone=_settings().branch.timezone,
            override_reason=body.override_reason,
        )
    except ClashRefused as refused:
        return clash_refusal(refused)
    return schemas.AppointmentOut.of(appointment)


# --- availability ----------------------------------------------------------------------------


@api.route(
    "/practitioners",
    "GET",
    permission="reception.appointments.read",
    summary="Who can be booked",
    response=schemas.PractitionerList,
)
def list_practitioners():
    return schemas.PractitionerList(
        practitioners=[
            schemas.PractitionerOut(
                id=p.id, staff_id=p.staff_id, display_name=p.display_name, active=p.active
            )
            for p in schedule_setup.active_practitioners()
        ]
    )


@api.route(
    "/availability",
    "GET",
    permission="reception.appointments.read",
    summary="A practitioner's working hours and leave, day by day",
    query=schemas.AvailabilityQuery,
    response=schemas.AvailabilityOut,
    errors=(404,),
)
def get_availability(query: schemas.AvailabilityQuery):
    if query.end_day < query.start_day or (query.end_day - query.start_day).days > 62:
        raise InvalidInput("Ask for at most 62 days, end after start.", field="end_day")
    practitioner = schedule_setup.get_practitioner(query.practitioner_id)
    hours = schedule_setup.hours_between(
        [practitioner.id], query.start_day, query.end_day, _settings().branch.timezone
    )

    def spans(items):
        return [schemas.IntervalOut(start=i.start, end=i.end) for i in items]

    return schemas.AvailabilityOut(
        practitioner_id=practitioner.id,
        working=spans(hours.availability.get(practitioner.id, [])),
        leave=spans(hours.leave.get(practitioner.id, [])),
    )


@api.route(
    "/practitioners/<practitioner_id>/hours",
    "POST",
    permission="reception.schedule.manage",
    summary="Add weekly working hours",
    body=schemas.WeeklyHoursIn,
    response=schemas.CreatedOut,
    status=201,
)
def add_hours(practitioner_id: str, body: schemas.WeeklyHoursIn):
    rule = schedule_setup.add_weekly_hours(
        current_actor(),
        schedule_setup.get_practitioner(practitioner_id),
        body.weekday,
        body.start_time,
        body.end_time,
    )
    return schemas.CreatedOut(id=rule.id)


@api.route(
    "/practitioners/<practitioner_id>/exceptions",
    "POST",
    permission="reception.schedule.manage",
    summary="Add leave or an extra shift",
    body=schemas.ExceptionIn,
    response=schemas.CreatedOut,
    status=201,
)
def add_exception(practitioner_id: str, body: schemas.ExceptionIn):
    found = schedule_setup.add_exception(
        current_actor(),
        schedule_setup.get_practitioner(practitioner_id),
        day=body.day,
        kind=body.kind,
        start_time=body.start_time,
        end_time=body.end_time,
        reason=body.reason,
    )
    return schemas.CreatedOut(id=found.id)
