"""Access scoped inside a permission: whose appointments a person may change, and which of a
patient's documents they may open.

A route's permission says what kind of thing a person may do (check patients in, read
patients); these rules say to which records. They live here, under the services, so pages,
the API and anything else calling a service obey them alike. The appliance itself (CLI,
scheduled jobs) is unbounded, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable

from physioez.core.kernel.audit import Actor
from physioez.core.kernel.errors import Forbidden
from physioez.core.kernel.identity import actor_permissions
from physioez.core.kernel.models import fetch_by_id
from physioez.reception.models import DOCUMENT_KINDS, PatientDocument, Practitioner

ANY_PRACTITIONER = "reception.appointments.any_practitioner"

# Documents that are more than paperwork: an identity scan is for confirming who the patient
# is (the desk), a report or a referral letter carries clinical findings (the clinicians).
# Kinds not named here (consent forms, insurance cards, other) open with patients.read alone.
DOCUMENT_PERMISSIONS = {
    "id": "reception.documents.identity.read",
    "report": "reception.documents.clinical.read",
    "referral_letter": "reception.documents.clinical.read",
}


def own_diaries(actor: Actor) -> frozenset[str] | None:
    """Ids of the practitioners whose appointments ``actor`` may change; None: everyone's.

    Without the any-practitioner permission that is the practitioner the person is in the
    book as (``Practitioner.staff_id``), or nobody when they are not in the book.
    """
    held = actor_permissions(actor)
    if held is None or ANY_PRACTITIONER in held:
        return None
    return frozenset(
        practitioner_id
        for (practitioner_id,) in Practitioner.select(Practitioner.id)
        .where(Practitioner.staff_id == actor.staff_id, Practitioner.deleted_at.is_null())
        .tuples()
    )


def diary_check(actor: Actor) -> Callable[[str], bool]:
    """``may_change(practitioner_id)`` for a page that draws many appointments' buttons."""
    allowed = own_diaries(actor)
    if allowed is None:
        return lambda _practitioner_id: True
    return allowed.__contains__


def require_own_diary(actor: Actor, *practitioner_ids: str) -> None:
    """Refuse a change to an appointment in a diary that is not the person's own."""
    allowed = own_diaries(actor)
    if allowed is None:
        return
    for practitioner_id in practitioner_ids:
        if practitioner_id not in allowed:
            practitioner = fetch_by_id(Practitioner, practitioner_id)
            whose = f"{practitioner.display_name}'s" if practitioner else "another practitioner's"
            raise Forbidden(
                f"This is {whose} diary: you can change only appointments with you. "
                "Ask the front desk to do it."
            )


def document_check(actor: Actor) -> Callable[[str], bool]:
    """``may_open(kind)`` for a page listing a patient's documents."""
    held = actor_permissions(actor)
    if held is None:
        return lambda _kind: True

    def may_open(kind: str) -> bool:
        needed = DOCUMENT_PERMISSIONS.get(kind)
        return needed is None or needed in held

    return may_open


def require_document_access(actor: Actor, document: PatientDocument) -> None:
    if document_check(actor)(document.kind):
        return
    label = DOCUMENT_KINDS.get(document.kind, document.kind).lower()
    holders = "the front desk" if document.kind == "id" else "the patient's therapist"
    raise Forbidden(
        f"Your role cannot open a patient's {label}: it is listed so you know it is on file. "
        f"Ask {holders} if you need what it says."
    )
