"""A slot asked for in the book, and whether it may go in: what a booking needs before the clash
engine, and the reads that gather only what can clash with it (bookings near the slot, that day's
hours) with plain SQL, so the check is cheap enough to run inside the booking's write transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from physioez.core.kernel.db import database
from physioez.core.kernel.errors import Conflict, InvalidInput
from physioez.core.kernel.models import format_utc, parse_utc
from physioez.reception.models import AppointmentType
from physioez.reception.services import clash, clash_engine
from physioez.reception.services.schedule_setup import (
    clash_policy,
    get_practitioner,
    get_type,
    hours_between,
    known_resources,
)

# The longest appointment a type allows; bounds the index scan for overlapping bookings.
LONGEST = timedelta(minutes=480)


class ClashRefused(Conflict):
    """The slot conflicts: ``clashes`` says with what; ``needs_override`` if only warnings."""

    def __init__(self, clashes: Sequence[clash.Clash]) -> None:
        self.clashes = list(clashes)
        self.needs_override = not clash_engine.hard_clashes(self.clashes)
        first = self.clashes[0].message
        if self.needs_override:
            message = f"{first}. Book anyway by giving a reason for the override."
        else:
            message = f"This slot cannot be booked: {first}."
        super().__init__(message, field="start")


@dataclass(frozen=True)
class Slot:
    """What is asked for: validated by :func:`book` against the book."""

    patient_id: str
    practitioner_id: str
    type_id: str
    start: datetime  # aware
    resource_ids: tuple[str, ...] | None = None  # None: the type's own
    notes: str = ""


# --- loading what can clash -------------------------------------------------------------------


def _label(row_patient: str, row_practitioner: str, start: datetime, zone: ZoneInfo) -> str:
    return f"{row_patient} with {row_practitioner} at {start.astimezone(zone):%a %d %b %H:%M}"


# Who a booking can clash with: its practitioner's bookings, its patient's, and those sharing one
# of its rooms or machines. Each part reads its own index, so the cost follows what is near the
# candidate, not how busy the whole clinic is at that hour.
_NEAR_PRACTITIONER = "SELECT id FROM appointment WHERE practitioner_id = ? AND {window}"
_NEAR_PATIENT = "SELECT id FROM appointment WHERE patient_id = ? AND {window}"
_NEAR_RESOURCES = (
    "SELECT id FROM appointment WHERE {window} AND resource_ids != '[]' AND EXISTS "
    "(SELECT 1 FROM json_each(resource_ids) AS used WHERE used.value IN ({marks}))"
)
_WINDOW = (
    "deleted_at IS NULL AND start_at >= ? AND start_at < ? AND end_at > ? "
    "AND status IN ('booked', 'confirmed', 'arrived', 'in_session', 'completed')"
)


def load_schedule(
    candidate: clash.Booking, timezone: str, exclude_id: str | None = None
) -> clash.Schedule:
    """Everything the clash engine needs to judge ``candidate``, and nothing more."""
    zone = ZoneInfo(timezone)
    window = (
        format_utc(candidate.start - LONGEST),
        format_utc(candidate.end),
        format_utc(candidate.start),
    )
    parts = [_NEAR_PRACTITIONER.format(window=_WINDOW), _NEAR_PATIENT.format(window=_WINDOW)]
    params: list = [candidate.practitioner_id, *window, candidate.patient_id, *window]
    wanted = list(candidate.resource_ids)
    marks = ",".join("?" * len(wanted))
    if wanted:
        parts.append(_NEAR_RESOURCES.format(window=_WINDOW, marks=marks))
        params += [*window, *wanted]
    rows = database.execute_sql(
        "SELECT a.id, a.practitioner_id, a.patient_id, a.start_at, a.end_at, a.resource_ids, "  # noqa: S608
        "a.class_id, p.first_name || ' ' || p.last_name, pr.display_name "
        f"FROM appointment a JOIN ({' UNION '.join(parts)}) AS near ON near.id = a.id "
        "JOIN patient p ON p.id = a.patient_id "
        "JOIN practitioner pr ON pr.id = a.practitioner_id",
        params,
    ).fetchall()
    bookings = []
    for aid, pid, patient, s, e, resources, class_id, patient_name, practitioner_name in rows:
        if aid == exclude_id:
            continue
        begin = parse_utc(s)
        bookings.append(
            clash.Booking(
                id=aid,
                practitioner_id=pid,
                patient_id=patient,
                start=begin,
                end=parse_utc(e),
                resource_ids=tuple(json.loads(resources)),
                class_id=class_id,
                label=_label(patient_name.strip(), practitioner_name, begin, zone),
            )
        )
    resources = {}
    if wanted:
        resources = {
            rid: clash.Resource(rid, name, capacity)
            for rid, name, capacity in database.execute_sql(
                "SELECT id, name, capacity FROM resource "  # noqa: S608
                f"WHERE deleted_at IS NULL AND active = 1 AND id IN ({marks})",
                wanted,
            ).fetchall()
        }
    first_day = candidate.start.astimezone(zone).date() - timedelta(days=1)
    last_day = candidate.end.astimezone(zone).date()
    hours = hours_between([candidate.practitioner_id], first_day, last_day, timezone)
    return clash.Schedule(
        bookings=bookings,
        resources=resources,
        availability=hours.availability,
        leave=hours.leave,
        classes={},
    )


def class_id_for(practitioner_id: str, type_id: str, start: datetime) -> str:
    """Seats of one group session share this key: same practitioner, type and start."""
    return f"{practitioner_id}:{type_id}:{format_utc(start)}"


def _candidate(slot: Slot, appointment_type: AppointmentType, candidate_id: str) -> clash.Booking:
    end = slot.start + timedelta(minutes=appointment_type.duration_minutes)
    resources = (
        tuple(appointment_type.resource_ids)
        if slot.resource_ids is None
        else tuple(known_resources(slot.resource_ids))
    )
    class_id = (
        class_id_for(slot.practitioner_id, appointment_type.id, slot.start)
        if appointment_type.group_capacity > 1
        else None
    )
    return clash.Booking(
        id=candidate_id,
        practitioner_id=slot.practitioner_id,
        patient_id=slot.patient_id,
        start=slot.start,
        end=end,
        resource_ids=resources,
        class_id=class_id,
    )


def check_slot(
    slot: Slot,
    timezone: str,
    exclude_id: str | None = None,
    candidate_id: str = "candidate",
    appointment_type: AppointmentType | None = None,
) -> tuple[clash.Booking, list[clash.Clash]]:
    """Clashes of a slot, without booking it (the booking page's live check uses this)."""
    appointment_type = appointment_type or get_type(slot.type_id)
    candidate = _candidate(slot, appointment_type, exclude_id or candidate_id)
    schedule = load_schedule(candidate, timezone, exclude_id=exclude_id)
    if candidate.class_id:
        schedule = clash.Schedule(
            bookings=schedule.bookings,
            resources=schedule.resources,
            availability=schedule.availability,
            leave=schedule.leave,
            classes={
                candidate.class_id: clash.GroupClass(
                    candidate.class_id, appointment_type.group_capacity, slot.practitioner_id
                )
            },
        )
    return candidate, clash_engine.check(candidate, schedule, clash_policy())


_LIVE_PATIENT = "SELECT 1 FROM patient WHERE id = ? AND deleted_at IS NULL"


def validate_slot(slot: Slot) -> None:
    """What a booking needs before the clash engine: a time on the grid and a live patient
    and practitioner."""
    if slot.start.tzinfo is None:
        raise InvalidInput("The start time needs a time zone.", field="start")
    if slot.start.second or slot.start.microsecond or slot.start.minute % 5:
        raise InvalidInput("Appointments start on a 5-minute mark.", field="start")
    if len(slot.notes) > 1000:
        raise InvalidInput("Keep notes under 1000 characters.", field="notes")
    # Only whether the patient is on file: a whole Patient row costs more to build than to read.
    if database.execute_sql(_LIVE_PATIENT, (slot.patient_id,)).fetchone() is None:
        raise InvalidInput("Choose a patient.", field="patient_id")
    practitioner = get_practitioner(slot.practitioner_id)
    if not practitioner.active:
        raise InvalidInput(
            f"{practitioner.display_name} is not taking appointments.", field="practitioner_id"
        )
