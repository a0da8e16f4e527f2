"""Patients: registration, MRNs, duplicate check, search, consents, documents, merging.

Registration has to be quick at a busy desk, so the rules here are few and their messages
say exactly what to fix; everything else (the person's history) hangs off the patient row.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor, record_read
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput, NotFound
from physioez.core.kernel.events import bus
from physioez.core.kernel.node import current_node
from physioez.core.platform.attachments import (
    check_upload,
    read_encrypted,
    safe_filename,
    store_encrypted,
    stored_path,
)
from physioez.core.platform.crypto import Keyring
from physioez.reception.events import PatientRegistered, PatientsMerged
from physioez.reception.models import (
    CONSENT_KINDS,
    DOCUMENT_KINDS,
    SEXES,
    Patient,
    PatientConsent,
    PatientDocument,
)
from physioez.reception.services.scope import require_document_access

# --- input ---------------------------------------------------------------------------------


@dataclass
class PatientDetails:
    """What the registration form and the API collect; validated by :func:`clean`."""

    first_name: str
    last_name: str = ""
    sex: str = "unknown"
    date_of_birth: date | None = None
    age_years: int | None = None
    phone: str = ""
    phone_alt: str = ""
    email: str = ""
    address: str = ""
    emergency_name: str = ""
    emergency_phone: str = ""
    emergency_relation: str = ""
    referral_source: str = ""
    referring_doctor: str = ""
    alerts: list[str] = field(default_factory=list)
    consents: dict[str, bool] = field(default_factory=dict)


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def phone_key(raw: str) -> str:
    """The part of a phone number that identifies it: its last ten digits.

    '+91 98450 12345', '098450 12345' and '9845012345' are the same phone at the desk.
    """
    digits = re.sub(r"\D", "", raw)
    return digits[-10:]


def clean(details: PatientDetails, today: date) -> tuple[dict, dict[str, bool]]:
    """Validate and normalise; returns (patient columns, consents)."""
    first = " ".join(details.first_name.split())
    last = " ".join(details.last_name.split())
    if not first:
        raise InvalidInput("Enter the patient's first name.", field="first_name")
    if len(first) > 80 or len(last) > 80:
        raise InvalidInput("Names can have at most 80 characters.", field="first_name")
    if details.sex not in SEXES:
        raise InvalidInput("Choose female, male, other or unknown.", field="sex")
    dob, estimated = details.date_of_birth, False
    if dob is None and details.age_years is not None:
        if not 0 <= details.age_years <= 120:
            raise InvalidInput("Age must be between 0 and 120 years.", field="age_years")
        # Only an age is known: keep the year, and say so wherever the date is shown.
        dob, estimated = date(today.year - details.age_years, 1, 1), True
    if dob is not None and (dob > today or dob.year < today.year - 120):
        raise InvalidInput(
            "The date of birth is in the future or too long ago.", field="date_of_birth"
        )
    phone = details.phone.strip()
    key = phone_key(phone)
    if len(key) < 7:
        raise InvalidInput("Enter a phone number with at least 7 digits.", field="phone")
    email = details.email.strip()
    if email and not EMAIL_RE.match(email):
        raise InvalidInput("The email address does not look right.", field="email")
    unknown = sorted(set(details.consents) - set(CONSENT_KINDS))
    if unknown:
        raise InvalidInput(f"Unknown consent: {', '.join(unknown)}.", field="consents")
    alerts = [" ".join(a.split()) for a in details.alerts if a.strip()]
    if any(len(a) > 200 for a in alerts):
        raise InvalidInput("Keep each alert under 200 characters.", field="alerts")
    columns = {
        "first_name": first,
        "last_name": last,
        "sex": details.sex,
        "date_of_birth": dob,
        "dob_estimated": estimated,
        "phone": phone,
        "phone_key": key,
        "phone_alt": details.phone_alt.strip(),
        "email": email,
        "address": details.address.strip(),
        "emergency_name": details.emergency_name.strip(),
        "emergency_phone": details.emergency_phone.strip(),
        "emergency_relation": details.emergency_relation.strip(),
        "referral_source": details.referral_source.strip(),
        "referring_doctor": details.referring_doctor.strip(),
        "alerts": alerts,
    }
    return columns, dict(details.consents)


# --- MRN -----------------------------------------------------------------------------------


def next_mrn(branch_id: str) -> str:
    """Take the branch's next record number inside the caller's write transaction."""
    cursor = database.execute_sql(
        "INSERT INTO mrn_sequence (branch, last_number) VALUES (?, 1) "
        "ON CONFLICT (branch) DO UPDATE SET last_number = last_number + 1 "
        "RETURNING last_number",
        (branch_id,),
    )
    number = cursor.fetchone()[0]
    return f"{branch_id}-{number:06d}"


# --- registration and changes --------------------------------------------------------------


def register(actor: Actor, details: PatientDetails, today: date) -> Patient:
    columns, consents = clean(details, today)
    branch = current_node().branch_id
    with write_transaction():
        patient = records.create(Patient, actor, mrn=next_mrn(branch), **columns)
        for kind, given in sorted(consents.items()):
            records.create(
                PatientConsent,
                actor,
                patient=patient.id,
                kind=kind,
                given=given,
                captured_by=actor.staff_id,
            )
        bus.publish(PatientRegistered(branch=branch, payload={"patient_id": patient.id}))
    return patient


def update_details(actor: Actor, patient: Patient, details: PatientDetails, today: date) -> Patient:
    columns, consents = clean(details, today)
    with write_transaction():
        records.update(patient, actor, **columns)
        current = current_consents(patient)
        for kind, given in sorted(consents.items()):
            held = current.get(kind)
            if held is None or held.given != given:
                records.create(
                    PatientConsent,
                    actor,
                    patient=patient.id,
                    kind=kind,
                    given=given,
                    captured_by=actor.staff_id,
                )
    return patient


def set_consent(
    actor: Actor, patient: Patient, kind: str, given: bool, note: str = ""
) -> PatientConsent:
    if kind not in CONSENT_KINDS:
        raise InvalidInput(f"Unknown consent: {kind}.", field="kind")
    return records.create(
        PatientConsent,
        actor,
        patient=patient.id,
        kind=kind,
        given=given,
        captured_by=actor.staff_id,
        note=note.strip()[:500],
    )


def current_consents(patient: Patient) -> dict[str, PatientConsent | None]:
    """The latest answer per consent kind (None: never asked)."""
    latest: dict[str, PatientConsent | None] = dict.fromkeys(CONSENT_KINDS)
    rows = (
        PatientConsent.live()
        .where(PatientConsent.patient == patient.id)
        .order_by(PatientConsent.created_at, PatientConsent.id)
    )
    for row in rows:
        latest[row.kind] = row
    return latest


def get_patient(patient_id: str) -> Patient:
    patient = Patient.get_or_none(Patient.id == patient_id)
    if patient is None:
        raise NotFound("No such patient.")
    return patient


# --- duplicates and search -----------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateMatch:
    patient: Patient
    reasons: tuple[str, ...]


def _name_key(first: str, last: str) -> str:
    text = unicodedata.normalize("NFKD", f"{first} {last}".lower())
    return " ".join("".join(c for c in text if c.isalnum() or c.isspace()).split())


def find_duplicates(
    *,
    phone: str = "",
    first_name: str = "",
    last_name: str = "",
    date_of_birth: date | None = None,
    exclude_id: str | None = None,
    limit: int = 5,
) -> list[DuplicateMatch]:
    """Patients who may be this person: the same phone, or a similar name born the same day."""
    found: dict[str, list[str]] = {}
    key = phone_key(phone)
    if len(key) >= 7:
        for patient in Patient.live().where(Patient.phone_key == key).limit(20):
            found.setdefault(patient.id, []).append("same phone number")
    wanted = _name_key(first_name, last_name)
    if date_of_birth is not None and wanted:
        for patient in Patient.live().where(Patient.date_of_birth == date_of_birth).limit(200):
            similarity = difflib.SequenceMatcher(
                None, wanted, _name_key(patient.first_name, patient.last_name)
            ).ratio()
            if similarity >= 0.8:
                found.setdefault(patient.id, []).append("similar name, same date of birth")
    if exclude_id is not None:
        found.pop(exclude_id, None)
    if not found:
        return []
    patients = {p.id: p for p in Patient.select().where(Patient.id.in_(list(found)))}
    matches = [
        DuplicateMatch(patients[pid], tuple(reasons))
        for pid, reasons in found.items()
        if pid in patients and patients[pid].merged_into_id is None
    ]
    matches.sort(key=lambda m: (-len(m.reasons), m.patient.last_name, m.patient.first_name))
    return matches[:limit]


def duplicates_of(details: PatientDetails, exclude_id: str | None = None) -> list[DuplicateMatch]:
    """Possible duplicates of someone about to be registered (phone, or name + birthday)."""
    return find_duplicates(
        phone=details.phone,
        first_name=details.first_name,
        last_name=details.last_name,
        date_of_birth=details.date_of_birth,
        exclude_id=exclude_id,
    )


MRN_RE = re.compile(r"^[A-Za-z0-9]{2,8}-\d{1,9}$")


def search(query: str, limit: int = 50) -> list[Patient]:
    """Find patients by name (any word's beginning), phone digits or MRN."""
    text = query.strip()
    if not text:
        return []
    live = Patient.live().where(Patient.merged_into.is_null())
    if MRN_RE.match(text):
        branch, _, number = text.upper().partition("-")
        return list(live.where(Patient.mrn == f"{branch}-{int(number):06d}"))
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 4 and len(digits) >= len(text.replace(" ", "")) - 1:
        expression = f'phones:"{digits[-10:]}"*'
    else:
        words = re.findall(r"\w+", unicodedata.normalize("NFKC", text))
        if not words:
            return []
        expression = " AND ".join(f'name:"{word}"*' for word in words[:6])
    rows = database.execute_sql(
        "SELECT patient_id FROM patient_search WHERE patient_search MATCH ? ORDER BY rank LIMIT ?",
        (expression, limit * 2),
    ).fetchall()
    ids = [row[0] for row in rows]
    if not ids:
        return []
    found = {p.id: p for p in live.where(Patient.id.in_(ids))}
    return [found[pid] for pid in ids if pid in found][:limit]


# --- merging -------------------------------------------------------------------------------


def merge(actor: Actor, duplicate: Patient, keep: Patient) -> Patient:
    """Fold ``duplicate`` into ``keep``: its history moves over, its row stays as a pointer."""
    if duplicate.id == keep.id:
        raise InvalidInput("Choose two different patients to merge.", field="keep_id")
    if duplicate.merged_into_id or keep.merged_into_id:
        raise Conflict("One of these records was already merged into another.")
    with write_transaction():
        for consent in PatientConsent.select().where(PatientConsent.patient == duplicate.id):
            records.update(consent, actor, action="patient_consent.moved_by_merge", patient=keep.id)
        for document in PatientDocument.select().where(PatientDocument.patient == duplicate.id):
            records.update(
                document, actor, action="patient_document.moved_by_merge", patient=keep.id
            )
        alerts = list(dict.fromkeys([*keep.alerts, *duplicate.alerts]))
        records.update(keep, actor, action="patient.merge_kept", alerts=alerts)
        records.update(duplicate, actor, action="patient.merged_away", merged_into=keep.id)
        records.soft_delete(duplicate, actor)
        bus.publish(
            PatientsMerged(
                branch=current_node().branch_id, payload={"kept": keep.id, "merged": duplicate.id}
            )
        )
    return keep


# --- documents -----------------------------------------------------------------------------


def document_path(documents_dir: Path, document_id: str) -> Path:
    return stored_path(documents_dir, document_id)


def add_document(
    actor: Actor,
    patient: Patient,
    *,
    kind: str,
    filename: str,
    data: bytes,
    max_bytes: int,
    keyring: Keyring,
    documents_dir: Path,
) -> PatientDocument:
    if kind not in DOCUMENT_KINDS:
        raise InvalidInput("Choose what kind of document this is.", field="kind")
    content_type = check_upload(data, max_bytes)
    safe_name = safe_filename(filename)
    document = PatientDocument(patient=patient.id)  # For its id only: the row is made below.
    path = store_encrypted(keyring, documents_dir, document.id, data)
    try:
        return records.create(
            PatientDocument,
            actor,
            id=document.id,
            patient=patient.id,
            kind=kind,
            filename=safe_name,
            content_type=content_type,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            uploaded_by=actor.staff_id,
        )
    except Exception:
        path.unlink(missing_ok=True)
        raise


def documents_dir(settings) -> Path:
    """Where patient documents are kept (encrypted), under the box's data folder."""
    return settings.paths.data_dir / "documents"


def open_document(
    actor: Actor, patient_id: str, document_id: str, keyring: Keyring, documents_dir: Path
) -> tuple[PatientDocument, bytes]:
    """One of a patient's documents and its content, for someone who opened it (audited)."""
    document = PatientDocument.get_or_none(
        (PatientDocument.id == document_id) & (PatientDocument.patient == patient_id)
    )
    if document is None or document.deleted_at is not None:
        raise NotFound("No such document for this patient.")
    return document, read_document(actor, document, keyring, documents_dir)


def read_document(
    actor: Actor, document: PatientDocument, keyring: Keyring, documents_dir: Path
) -> bytes:
    """Decrypt a document for someone who opened it; the opening is audited."""
    require_document_access(actor, document)
    data = read_encrypted(keyring, documents_dir, document.id)
    record_read(actor, "patient_document", document.id, purpose="opened at the front desk")
    return data


def missing_documents(patient: Patient, required: Iterable[str]) -> list[str]:
    have = {
        kind
        for (kind,) in PatientDocument.live()
        .select(PatientDocument.kind)
        .where(PatientDocument.patient == patient.id)
        .tuples()
    }
    return [kind for kind in required if kind not in have]
