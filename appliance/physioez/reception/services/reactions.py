"""What the front desk does when the book changes: offer freed slots, drop stale reminders.

Subscribed to the core event bus, so these run after the change committed, in their own
transactions; a failure here is logged and never undoes the booking that caused it.
"""

from __future__ import annotations

from physioez.core.kernel.audit import Actor
from physioez.core.kernel.events import DomainEvent, bus
from physioez.core.kernel.models import parse_utc
from physioez.core.kernel.node import current_node
from physioez.reception.events import AppointmentCancelled
from physioez.reception.models import Appointment
from physioez.reception.services import reminders, waitlist

ACTOR = Actor.system("reception:reactions")


def offer_freed_slot(event: DomainEvent) -> None:
    payload = event.payload
    entries = waitlist.matches(
        parse_utc(payload["start_at"]),
        payload["practitioner_id"],
        payload["type_id"],
        current_node().timezone,
    )
    waitlist.offer(ACTOR, entries, parse_utc(payload["start_at"]))


def drop_stale_reminders(event: DomainEvent) -> None:
    appointment = Appointment.get_or_none(Appointment.id == event.payload["appointment_id"])
    if appointment is not None:
        reminders.cancel_for(ACTOR, appointment)


def subscribe() -> None:
    bus.subscribe(AppointmentCancelled, offer_freed_slot)
    bus.subscribe(AppointmentCancelled, drop_stale_reminders)
