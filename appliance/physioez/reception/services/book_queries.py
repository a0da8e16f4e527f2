"""Reading the book: who is booked with whom between two times, for the day and week pages,
the API's day list and the reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from physioez.reception.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentType,
    Patient,
    Practitioner,
)
from physioez.reception.services.slots import LONGEST


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
