"""The appointment book: booking with the clash check, moving, cancelling, attendance.

Booking is the front desk's hottest write, so the check reads only what can clash (bookings
overlapping the slot, that day's hours) with plain SQL, and runs inside the same write
transaction as the insert: between the check and the commit nobody else can book the slot.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput, NotFound
from physioez.core.kernel.events import bus
from physioez.core.kernel.models import fetch_by_id, format_utc, utcnow
from physioez.core.kernel.node import current_node
from physioez.reception.events import (
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentNoShow,
    PatientArrived,
    SessionAttended,
)
from physioez.reception.models import Appointment, AppointmentType, Patient, Practitioner
from physioez.reception.services import clash, clash_engine, reminders
from physioez.reception.services.schedule_setup import get_type
from physioez.reception.services.scope import require_own_diary
from physioez.reception.services.slots import ClashRefused, Slot, check_slot, validate_slot


def _decide(clashes: list[clash.Clash], override_reason: str) -> None:
    if clash_engine.hard_clashes(clashes):
        raise ClashRefused(clashes)
    if clashes and not override_reason.strip():
        raise ClashRefused(clashes)


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
