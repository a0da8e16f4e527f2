"""The appointment book: booking with the clash check, moving, cancelling, attendance.

Booking is the front desk's hottest write, so the check reads only what can clash (bookings
overlapping the slot, that day's hours) with plain SQL, and runs inside the same write
transaction as the insert: between the check and the commit nobody else can book the slot.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput, NotFound
from physioez.core.kernel.events import bus
from physioez.core.kernel.models import fetch_by_id, format_utc, parse_utc, utcnow
from physioez.core.kernel.node import current_node
from physioez.reception.events import (
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentNoShow,
    PatientArrived,
    SessionAttended,
)
from physioez.reception.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentType,
    Patient,
    Practitioner,
)
from physioez.reception.services import clash, reminders
from physioez.reception.services.schedule_setup import (
    clash_policy,
    get_practitioner,
    get_type,
    hours_between,
    known_resources,
)
from physioez.reception.services.scope import require_own_diary

# The longest appointment a type allows; bounds the index scan for overlapping bookings.
LONGEST = timedelta(minutes=480)


class ClashRefused(Conflict):
    """The slot conflicts: ``clashes`` says with what; ``needs_override`` if only warnings."""

    def __init__(self, clashes: Sequence[clash.Clash]) -> None:
        self.clashes = list(clashes)
        self.needs_override = not clash.hard_clashes(self.clashes)
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
    return candidate, clash.check(candidate, schedule, clash_policy())


def _decide(clashes: list[clash.Clash], override_reason: str) -> None:
    if clash.hard_clashes(clashes):
        raise ClashRefused(clashes)
    if clashes and not override_reason.strip():
        raise ClashRefused(clashes)


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


# --- booking and changes ----------------------------------------------------------------------


def _event_payload(
    appointment: Appointment, appointment_type: AppointmentType | None = None
) -> dict:
    # Billing prices an attended session by its service code; reception owns the type.
    if appointment_type is None or appointment_type.id != appointment.type_id:
        appointment_type = fetch_by_id(AppointmentType, appointment.type_id)
    return {
        "appointment_id": appointment.id,
        "patient_id": appointment.patient_id,
        "practitioner_id": appointment.practitioner_id,
        "type_id": appointment.type_id,
        "service_code": appointment_type.service_code if appointment_type else "",
        "start_at": format_utc(appointment.start_at),
        "attended_at": format_utc(appointment.completed_at) if appointment.completed_at else None,
        "status": appointment.status,
    }


def _publish(
    event_type: type[AppointmentChanged],
    appointment: Appointment,
    appointment_type: AppointmentType | None = None,
) -> None:
    """``appointment_type``: the appointment's type when the caller already holds it."""
    node = current_node()
    extra: dict = {}
    if event_type is PatientArrived:
        # The practitioner hears it personally, wherever they are in the app.
        practitioner = Practitioner.get_by_id(appointment.practitioner_id)
        patient = Patient.get_by_id(appointment.patient_id)
        local = appointment.start_at.astimezone(ZoneInfo(node.timezone))
        extra = {
            "notify_staff": (practitioner.staff_id,),
            "notice": f"{patient.full_name} has arrived for {local:%H:%M}.",
        }
    payload = _event_payload(appointment, appointment_type)
    bus.publish(event_type(branch=node.branch_id, payload=payload, **extra))


def book(
    actor: Actor,
    slot: Slot,
    timezone: str,
    override_reason: str = "",
    series_id: str | None = None,
    series_index: int | None = None,
) -> Appointment:
    """Put an appointment in the book, or raise :class:`ClashRefused` naming the clash."""
    validate_slot(slot)
    require_own_diary(actor, slot.practitioner_id)
    # Read what cannot change under us before taking the write lock: the lock is the queue.
    appointment_type = get_type(slot.type_id)
    with write_transaction():
        candidate, clashes = check_slot(slot, timezone, appointment_type=appointment_type)
        _decide(clashes, override_reason)
        appointment = records.create(
            Appointment,
            actor,
            patient=slot.patient_id,
            practitioner=slot.practitioner_id,
            type=slot.type_id,
            start_at=candidate.start.astimezone(UTC),
            end_at=candidate.end.astimezone(UTC),
            status="booked",
            resource_ids=list(candidate.resource_ids),
            class_id=candidate.class_id,
            notes=slot.notes.strip(),
            override_reason=_override_text(clashes, override_reason),
            series=series_id,
            series_index=series_index,
        )
        _publish(AppointmentChanged, appointment, appointment_type)
    return appointment


def _override_text(clashes: list[clash.Clash], reason: str) -> str:
    if not clashes:
        return ""
    rules = ", ".join(sorted({c.rule.value for c in clashes}))
    return f"{reason.strip()[:500]} [overrode: {rules}]"


def get_appointment(appointment_id: str) -> Appointment:
    found = Appointment.get_or_none(Appointment.id == appointment_id)
    if found is None or found.deleted_at is not None:
        raise NotFound("No such appointment.")
    return found


def reschedule(
    actor: Actor,
    appointment: Appointment,
    *,
    start: datetime,
    practitioner_id: str | None = None,
    timezone: str,
    override_reason: str = "",
) -> Appointment:
    practitioner_id = practitioner_id or appointment.practitioner_id
    # Out of someone else's diary, or into it: either way a change to their diary.
    require_own_diary(actor, appointment.practitioner_id, practitioner_id)
    if appointment.status not in ("booked", "confirmed"):
        raise Conflict(f"A {appointment.status.replace('_', ' ')} appointment cannot be moved.")
    slot = Slot(
        patient_id=appointment.patient_id,
        practitioner_id=practitioner_id,
        type_id=appointment.type_id,
        start=start,
        resource_ids=tuple(appointment.resource_ids),
    )
    validate_slot(slot)
    with write_transaction():
        candidate, clashes = check_slot(slot, timezone, exclude_id=appointment.id)
        _decide(clashes, override_reason)
        records.update(
            appointment,
            actor,
            action="appointment.rescheduled",
            practitioner=slot.practitioner_id,
            start_at=candidate.start.astimezone(UTC),
            end_at=candidate.end.astimezone(UTC),
            class_id=candidate.class_id,
            override_reason=_override_text(clashes, override_reason) or appointment.override_reason,
        )
        # Reminders were for the old time; the next queue run makes new ones.
        reminders.cancel_for(actor, appointment)
        _publish(AppointmentChanged, appointment)
    return appointment


# Which status may follow which: the desk's day, in order. Cancelling is separate.
TRANSITIONS = {
    "booked": {"confirmed", "arrived", "no_show"},
    "confirmed": {"arrived", "no_show", "booked"},
    "arrived": {"in_session", "booked"},  # booked again: checked in by mistake
    "in_session": {"completed"},
    "completed": set(),
    "no_show": {"booked"},  # they turned up after all
    "cancelled": set(),
}
STATUS_EVENTS = {
    "arrived": PatientArrived,
    "completed": SessionAttended,
    "no_show": AppointmentNoShow,
}


# A patient is checked in, and their session started, on the appointment's day, not before.
ON_THE_DAY = frozenset({"arrived", "in_session"})


def _is_later_day(appointment: Appointment, now: datetime) -> bool:
    zone = ZoneInfo(current_node().timezone)
    return appointment.start_at.astimezone(zone).date() > now.astimezone(zone).date()


def next_statuses(appointment: Appointment) -> list[str]:
    """The statuses ``set_status`` would accept for ``appointment`` now, for a page's buttons."""
    allowed = TRANSITIONS.get(appointment.status, set())
    if _is_later_day(appointment, utcnow()):
        allowed = allowed - ON_THE_DAY
    return sorted(allowed)


def set_status(actor: Actor, appointment: Appointment, status: str) -> Appointment:
    require_own_diary(actor, appointment.practitioner_id)
    if status == "cancelled":
        raise InvalidInput("Cancel with a reason instead.", field="status")
    allowed = TRANSITIONS.get(appointment.status, set())
    if status not in allowed:
        raise Conflict(
            f"A {appointment.status.replace('_', ' ')} appointment cannot become "
            f"{status.replace('_', ' ')}."
        )
    now = utcnow()
    if status in ON_THE_DAY and _is_later_day(appointment, now):
        raise Conflict("This appointment is on a later day: check the patient in on the day.")
    changes: dict = {
        "status": status,
        "status_changed_at": now,
        "status_changed_by": actor.staff_id,
    }
    if status == "arrived":
        changes["arrived_at"] = now
    elif status == "in_session":
        changes["started_at"] = now
    elif status == "completed":
        changes["completed_at"] = now
    elif status == "booked":
        changes.update(arrived_at=None, started_at=None)
    with write_transaction():
        records.update(appointment, actor, action=f"appointment.{status}", **changes)
        _publish(STATUS_EVENTS.get(status, AppointmentChanged), appointment)
    return appointment


def cancel(
    actor: Actor, appointment: Appointment, reason: str, late_cancel_hours: int
) -> Appointment:
    require_own_diary(actor, appointment.practitioner_id)
    if appointment.status not in ("booked", "confirmed"):
        raise Conflict(f"A {appointment.status.replace('_', ' ')} appointment cannot be cancelled.")
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say why the appointment is cancelled.", field="reason")
    now = utcnow()
    late = appointment.start_at - now < timedelta(hours=late_cancel_hours)
    with write_transaction():
        records.update(
            appointment,
            actor,
            action="appointment.cancelled",
            status="cancelled",
            cancel_reason=reason[:500],
            late_cancel=late,
            status_changed_at=now,
            status_changed_by=actor.staff_id,
        )
        _publish(AppointmentCancelled, appointment)
    return appointment


def mark_day_no_shows(actor: Actor, day: date, timezone: str) -> int:
    """Day end: booked or confirmed patients who never arrived become no-shows."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, datetime.min.time(), zone)
    end = start + timedelta(days=1)
    missed = Appointment.live().where(
        Appointment.status.in_(("booked", "confirmed")),
        Appointment.start_at >= start.astimezone(UTC),
        Appointment.start_at < end.astimezone(UTC),
    )
    count = 0
    for appointment in missed:
        set_status(actor, appointment, "no_show")
        count += 1
    return count


# --- reading the book ------------------------------------------------------------------------


@dataclass(frozen=True)
class BookEntry:
    appointment: Appointment
    patient: Patient
    practitioner: Practitioner
    type: AppointmentType


def entries_between(
    start: datetime,
    end: datetime,
    practitioner_ids: Sequence[str] = (),
    include_inactive: bool = True,
) -> list[BookEntry]:
    # Only the columns the book shows from the joined tables: turning rows into model objects
    # is most of the cost of a busy day, so nothing is loaded that nobody reads.
    query = (
        Appointment.select(
            Appointment.id,
            Appointment.patient,
            Appointment.practitioner,
            Appointment.type,
            Appointment.start_at,
            Appointment.end_at,
            Appointment.status,
            Appointment.resource_ids,
            Appointment.class_id,
            Patient.id,
            Patient.first_name,
            Patient.last_name,
            Patient.alerts,
            Practitioner.id,
            Practitioner.display_name,
            Practitioner.staff_id,
            AppointmentType.id,
            AppointmentType.name,
            AppointmentType.duration_minutes,
            AppointmentType.group_capacity,
        )
        .join(Patient, on=(Appointment.patient == Patient.id))
        .switch(Appointment)
        .join(Practitioner, on=(Appointment.practitioner == Practitioner.id))
        .switch(Appointment)
        .join(AppointmentType, on=(Appointment.type == AppointmentType.id))
        .where(
            Appointment.deleted_at.is_null(),
            Appointment.start_at >= start.astimezone(UTC) - LONGEST,
            Appointment.start_at < end.astimezone(UTC),
            Appointment.end_at > start.astimezone(UTC),
        )
        .order_by(Appointment.start_at, Practitioner.display_name)
    )
    if practitioner_ids:
        query = query.where(Appointment.practitioner.in_(list(practitioner_ids)))
    if not include_inactive:
        query = query.where(Appointment.status.in_(ACTIVE_STATUSES))
    return [BookEntry(a, a.patient, a.practitioner, a.type) for a in query]


def appointments_between(
    start: datetime, end: datetime, practitioner_ids: Sequence[str] = ()
) -> list[Appointment]:
    """The appointments alone (the API's day list): no joined rows to build."""
    query = (
        Appointment.select()
        .where(
            Appointment.deleted_at.is_null(),
            Appointment.start_at >= start.astimezone(UTC) - LONGEST,
            Appointment.start_at < end.astimezone(UTC),
            Appointment.end_at > start.astimezone(UTC),
        )
        .order_by(Appointment.start_at)
    )
    if practitioner_ids:
        query = query.where(Appointment.practitioner.in_(list(practitioner_ids)))
    return list(query)


def local_day_span(day: date, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, datetime.min.time(), zone)
    return start, datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
