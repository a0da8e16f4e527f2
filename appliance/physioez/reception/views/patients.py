"""Patient pages: find, register (with the duplicate check), view, edit, documents, merge."""

from __future__ import annotations

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import MultiDict

from physioez.core.kernel.errors import InvalidInput, ServiceError
from physioez.core.web.access import can, current_actor, requires
from physioez.core.web.boundary import parse_form
from physioez.core.web.branch import branch_today, current_settings
from physioez.core.web.files import send_bytes
from physioez.core.web.security import allows_upload
from physioez.reception.api import schemas
from physioez.reception.models import CONSENT_KINDS, DOCUMENT_KINDS, SEXES, PatientDocument
from physioez.reception.services import patients, scope
from physioez.reception.views import bp


def _form_page(
    template: str,
    values: MultiDict,
    *,
    error: ServiceError | None = None,
    duplicates=(),
    patient=None,
    status: int = 200,
):
    return render_template(
        template,
        values=values,
        sexes=SEXES,
        consent_kinds=CONSENT_KINDS,
        error=error.message if error else None,
        field=error.field if error else None,
        duplicates=duplicates,
        patient=patient,
        today=branch_today(),
    ), status


@bp.get("/patients")
@requires("reception.patients.read")
def patient_list():
    query = request.args.get("q", "")[:100]
    found = patients.search(query) if query else []
    return render_template(
        "reception/patient_list.html", query=query, found=found, today=branch_today()
    )


@bp.route("/patients/new", methods=["GET", "POST"])
@requires("reception.patients.write")
def patient_new():
    if request.method == "GET":
        return _form_page("reception/patient_form.html", MultiDict(request.args))
    form = request.form
    try:
        wanted = parse_form(schemas.PatientCreateIn)
        details = wanted.details()
        if not wanted.allow_duplicate:
            matches = patients.duplicates_of(details)
            if matches:
                return _form_page(
                    "reception/patient_form.html", form, duplicates=matches, status=409
                )
        patient = patients.register(current_actor(), details, branch_today())
    except ServiceError as exc:
        return _form_page("reception/patient_form.html", form, error=exc, status=exc.status)
    flash(f"{patient.full_name} is registered as {patient.mrn}.", "success")
    return redirect(url_for("reception.patient_detail", patient_id=patient.id))


def _patient_page(
    patient,
    *,
    error: ServiceError | None = None,
    status: int = 200,
    values: MultiDict | None = None,
):
    settings = current_settings()
    if patient.merged_into_id:
        flash(f"This record was merged into {patient.merged_into.mrn}.", "info")
    return render_template(
        "reception/patient_detail.html",
        patient=patient,
        today=branch_today(),
        consents=patients.current_consents(patient),
        consent_kinds=CONSENT_KINDS,
        documents=list(
            PatientDocument.live()
            .where(PatientDocument.patient == patient.id)
            .order_by(PatientDocument.created_at.desc())
        ),
        document_kinds=DOCUMENT_KINDS,
        may_open=scope.document_check(current_actor()),
        missing=patients.missing_documents(patient, settings.reception.required_documents),
        max_document_mb=settings.reception.max_document_mb,
        error=error.message if error else None,
        field=error.field if error else None,
        values=values if values is not None else MultiDict(),
    ), status


@bp.get("/patients/<patient_id>")
@requires("reception.patients.read")
def patient_detail(patient_id: str):
    return _patient_page(patients.get_patient(patient_id))


@bp.route("/patients/<patient_id>/edit", methods=["GET", "POST"])
@requires("reception.patients.write")
def patient_edit(patient_id: str):
    patient = patients.get_patient(patient_id)
    if request.method == "GET":
        values = MultiDict(
            {
                **{
                    name: getattr(patient, name) or ""
                    for name in (
                        "first_name",
                        "last_name",
                        "sex",
                        "phone",
                        "phone_alt",
                        "email",
                        "address",
                        "emergency_name",
                        "emergency_phone",
                        "emergency_relation",
                        "referral_source",
                        "referring_doctor",
                    )
                },
                "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else "",
                "alerts": "\n".join(patient.alerts),
            }
        )
        return _form_page("reception/patient_form.html", values, patient=patient)
    try:
        patients.update_details(
            current_actor(), patient, parse_form(schemas.PatientIn).details(), branch_today()
        )
    except ServiceError as exc:
        return _form_page(
            "reception/patient_form.html",
            request.form,
            error=exc,
            patient=patient,
            status=exc.status,
        )
    flash("Changes saved.", "success")
    return redirect(url_for("reception.patient_detail", patient_id=patient.id))


@bp.post("/patients/<patient_id>/consents")
@requires("reception.patients.write")
def patient_consent(patient_id: str):
    patient = patients.get_patient(patient_id)
    try:
        wanted = parse_form(schemas.ConsentIn)
        patients.set_consent(current_actor(), patient, wanted.kind, wanted.given, wanted.note)
    except ServiceError as exc:
        return _patient_page(patient, error=exc, status=exc.status, values=request.form)
    flash("Consent recorded with your name and the time.", "success")
    return redirect(url_for("reception.patient_detail", patient_id=patient.id) + "#consents")


def _document_limit() -> int:
    return current_settings().reception.max_document_mb * 1024 * 1024


@bp.post("/patients/<patient_id>/documents")
@requires("reception.patients.write")
@allows_upload(lambda: _document_limit() + 64 * 1024)  # The file plus the form around it.
def patient_document_upload(patient_id: str):
    patient = patients.get_patient(patient_id)
    limit = _document_limit()
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise InvalidInput("Choose a file to upload.", field="file")
        patients.add_document(
            current_actor(),
            patient,
            kind=parse_form(schemas.DocumentForm).kind,
            filename=upload.filename,
            data=upload.read(limit + 1),
            max_bytes=limit,
            keyring=current_app.extensions["physioez_keyring"],
            documents_dir=patients.documents_dir(current_settings()),
        )
    except ServiceError as exc:
        return _patient_page(patient, error=exc, status=exc.status)
    flash("Document stored (encrypted on this box).", "success")
    return redirect(url_for("reception.patient_detail", patient_id=patient.id) + "#documents")


@bp.get("/patients/<patient_id>/documents/<document_id>")
@requires("reception.patients.read")
def patient_document(patient_id: str, document_id: str):
    document, data = patients.open_document(
        current_actor(),
        patient_id,
        document_id,
        current_app.extensions["physioez_keyring"],
        patients.documents_dir(current_settings()),
    )
    response = send_bytes(data, document.filename, document.content_type, inline=True)
    # A scanned PDF must not run anything even if it tries.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route("/patients/<patient_id>/merge", methods=["GET", "POST"])
@requires("reception.patients.merge")
def patient_merge(patient_id: str):
    keep = patients.get_patient(patient_id)
    query = request.values.get("q", "")[:100]
    candidates = [p for p in patients.search(query) if p.id != keep.id] if query else []
    error, status = None, 200
    if request.method == "POST":
        try:
            duplicate = patients.get_patient(parse_form(schemas.MergeIn).duplicate_id)
            patients.merge(current_actor(), duplicate, keep)
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            flash(f"{duplicate.mrn} is merged into {keep.mrn}; its history is now here.", "success")
            return redirect(url_for("reception.patient_detail", patient_id=keep.id))
    suggested = patients.find_duplicates(
        phone=keep.phone,
        first_name=keep.first_name,
        last_name=keep.last_name,
        date_of_birth=keep.date_of_birth,
        exclude_id=keep.id,
    )
    return render_template(
        "reception/patient_merge.html",
        keep=keep,
        query=query,
        candidates=candidates,
        suggested=suggested,
        error=error,
        can_merge=can("reception.patients.merge"),
        today=branch_today(),
    ), status
