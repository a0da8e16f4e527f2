"""Front-desk queries. The team directory answers the desk's daily question: who is in?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from physioez.core.kernel import directory
from physioez.core.kernel.directory import PatientCard, PractitionerCard
from physioez.core.kernel.models import Staff, fetch_by_id
from physioez.reception.models import Patient, Practitioner
from physioez.reception.services import patients

# The order a receptionist scans the directory in: clinicians first, then the office.
DIRECTORY_GROUPS = (
    ("Therapists", ("therapist", "junior_therapist")),
    ("Front desk", ("receptionist",)),
    ("Accounts", ("billing",)),
    ("Management", ("owner", "branch_manager", "clinic_admin")),
)


@dataclass(frozen=True)
class DirectoryGroup:
    title: str
    members: list[Staff]


def team_directory() -> list[DirectoryGroup]:
    staff = list(Staff.live().where(Staff.active == True).order_by(Staff.full_name))  # noqa: E712
    groups = []
    for title, roles in DIRECTORY_GROUPS:
        members = [member for member in staff if set(member.role_codes) & set(roles)]
        if members:
            groups.append(DirectoryGroup(title, members))
    return groups


# --- what other modules may know of our patients and practitioners (through core.directory) --


def _patient_card(patient: Patient) -> PatientCard:
    return PatientCard(
        id=patient.id,
        name=patient.full_name,
        mrn=patient.mrn,
        phone=patient.phone,
        alerts=tuple(patient.alerts or ()),
        merged_into=patient.merged_into_id,
    )


def patient_cards(ids: Sequence[str]) -> dict[str, PatientCard]:
    found: dict[str, PatientCard] = {}
    if len(ids) <= 3:
        # A checkout or a receipt names one patient: a keyed read, no query to build.
        for patient_id in ids:
            patient = fetch_by_id(Patient, patient_id)
            if patient is not None:
                found[patient.id] = _patient_card(patient)
        return found
    # SQLite allows 999 parameters per statement; a day-end report can name more patients.
    for first in range(0, len(ids), 500):
        chunk = list(ids[first : first + 500])
        for patient in Patient.select().where(Patient.id.in_(chunk)):
            found[patient.id] = _patient_card(patient)
    return found


def find_patient_cards(query: str, limit: int) -> list[PatientCard]:
    return [_patient_card(patient) for patient in patients.search(query, limit)]


def practitioner_cards(ids: Sequence[str]) -> dict[str, PractitionerCard]:
    return {
        row.id: PractitionerCard(row.id, row.display_name, row.staff_id)
        for row in Practitioner.select().where(Practitioner.id.in_(list(ids)))
    }


def provide_directory() -> None:
    directory.provide(
        patients=patient_cards, search=find_patient_cards, practitioners=practitioner_cards
    )
