"""In-process domain events, delivered after the transaction that raised them commits.

Modules never import each other; one publishes a fact (``StaffChanged``) and another
subscribes to it through this bus. Delivery after commit means a subscriber never sees a
change that was rolled back.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from physioez.core.kernel.db import after_commit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event; ``name`` is stable and used on the wire (Socket.IO)."""

    name: ClassVar[str] = "event"
    branch: str
    payload: dict[str, Any] = field(default_factory=dict)
    # Roles whose live screens care about this event; empty means everyone in the branch.
    audience_roles: tuple[str, ...] = ()
    # Staff to alert personally (an in-app toast and a browser notification), and the words.
    notify_staff: tuple[str, ...] = ()
    notice: str = ""
    # Set for events about one person's own things (their export's progress): only these
    # staff members' screens get the event, not their roles' or the branch's.
    audience_staff: tuple[str, ...] = ()


@dataclass(frozen=True)
class StaffChanged(DomainEvent):
    name: ClassVar[str] = "staff.changed"


@dataclass(frozen=True)
class RolesChanged(DomainEvent):
    name: ClassVar[str] = "roles.changed"


@dataclass(frozen=True)
class PoliciesChanged(DomainEvent):
    """Head office's chain policies changed (core.policies): settings are rebuilt."""

    name: ClassVar[str] = "policies.changed"


Handler = Callable[[DomainEvent], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type[DomainEvent], list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, event_type: type[DomainEvent], handler: Handler) -> None:
        with self._lock:
            self._handlers[event_type].append(handler)

    def unsubscribe_all(self) -> None:
        with self._lock:
            self._handlers.clear()

    def publish(self, event: DomainEvent) -> None:
        """Deliver now, or after commit when called inside a write transaction."""
        if not after_commit(lambda: self._deliver(event)):
            self._deliver(event)

    def _deliver(self, event: DomainEvent) -> None:
        with self._lock:
            handlers = [
                handler
                for event_type, registered in self._handlers.items()
                if isinstance(event, event_type)
                for handler in registered
            ]
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                # The change is committed already; one failing subscriber must not stop others.
                log.exception("event handler %r failed for %s", handler, event.name)


bus = EventBus()


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


# --- background jobs (core.background): progress of one person's export. Payload: job_id,
# state, done, total, note, error; sent with audience_staff = the person who started it. -----


@dataclass(frozen=True)
class JobProgressed(DomainEvent):
    name: ClassVar[str] = "job.progress"
