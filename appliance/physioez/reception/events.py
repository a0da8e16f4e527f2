"""The front desk's domain events: facts other modules act on (billing consumes sessions,
clinical opens notes, screens redraw). Subscribers name them (``"appointment.attended"``)
and never import this module; the module's declaration registers them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from physioez.core.kernel.events import DomainEvent

# --- the appointment book: facts other modules act on (billing consumes sessions, clinical
# opens notes). Payload: appointment_id, patient_id, practitioner_id, type_id, service_code,
# start_at (UTC ISO), status. ---------------------------------------------------------------


@dataclass(frozen=True)
class AppointmentChanged(DomainEvent):
    """Booked, moved, confirmed or otherwise edited: front-desk screens redraw."""

    name: ClassVar[str] = "appointment.changed"


@dataclass(frozen=True)
class PatientArrived(AppointmentChanged):
    name: ClassVar[str] = "appointment.arrived"


@dataclass(frozen=True)
class SessionAttended(AppointmentChanged):
    name: ClassVar[str] = "appointment.attended"


@dataclass(frozen=True)
class AppointmentNoShow(AppointmentChanged):
    name: ClassVar[str] = "appointment.no_show"


@dataclass(frozen=True)
class AppointmentCancelled(AppointmentChanged):
    name: ClassVar[str] = "appointment.cancelled"


@dataclass(frozen=True)
class PatientRegistered(DomainEvent):
    name: ClassVar[str] = "patient.registered"


@dataclass(frozen=True)
class PatientsMerged(DomainEvent):
    name: ClassVar[str] = "patient.merged"


@dataclass(frozen=True)
class InquiryChanged(DomainEvent):
    """Taken, moved along the pipeline or converted: open inquiry lists offer a refresh."""

    name: ClassVar[str] = "inquiry.changed"


EVENTS = (
    AppointmentChanged,
    PatientArrived,
    SessionAttended,
    AppointmentNoShow,
    AppointmentCancelled,
    PatientRegistered,
    PatientsMerged,
    InquiryChanged,
)
