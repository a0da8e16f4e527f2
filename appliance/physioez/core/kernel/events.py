"""In-process domain events, delivered after the transaction that raised them commits.

Modules never import each other; one publishes a fact and another subscribes to it through
this bus, by the event's stable name (``bus.subscribe("appointment.attended", handler)``): the
publishing module declares its event types (``Module(events=...)``) and the name is all the
subscriber needs, so it never imports the publisher. A name also matches the events derived
from it (``appointment.changed`` matches ``appointment.attended``). Delivery after commit means
a subscriber never sees a change that was rolled back.
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

# Every declared event type by its name: the kernel's own below, and the modules'.
DECLARED: dict[str, type[DomainEvent]] = {}


def register(*event_types: type[DomainEvent]) -> None:
    for event_type in event_types:
        held = DECLARED.get(event_type.name)
        if held is not None and held is not event_type:
            raise ValueError(f"Two event types are named {event_type.name!r}.")
        DECLARED[event_type.name] = event_type


def unregister(*event_types: type[DomainEvent]) -> None:
    for event_type in event_types:
        DECLARED.pop(event_type.name, None)


_NAMES: dict[type[DomainEvent], frozenset[str]] = {}


def names_of(event_type: type[DomainEvent]) -> frozenset[str]:
    """The names a subscriber may use for this type: its own and its ancestors'."""
    names = _NAMES.get(event_type)
    if names is None:
        names = frozenset(
            klass.name
            for klass in event_type.__mro__
            if isinstance(klass, type) and issubclass(klass, DomainEvent)
        )
        _NAMES[event_type] = names
    return names


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type[DomainEvent] | str, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, event: type[DomainEvent] | str, handler: Handler) -> None:
        """Call ``handler`` for each event of this type, or of this name (see the module's
        docstring); a name no installed module declares is refused, so a typo cannot leave a
        subscriber that never hears anything."""
        if isinstance(event, str) and event not in DECLARED:
            raise KeyError(f"No installed module declares the event {event!r}.")
        with self._lock:
            self._handlers[event].append(handler)

    def unsubscribe_all(self) -> None:
        with self._lock:
            self._handlers.clear()

    def publish(self, event: DomainEvent) -> None:
        """Deliver now, or after commit when called inside a write transaction."""
        if not after_commit(lambda: self._deliver(event)):
            self._deliver(event)

    def _deliver(self, event: DomainEvent) -> None:
        with self._lock:
            names = names_of(type(event))
            handlers = [
                handler
                for key, registered in self._handlers.items()
                if (key in names if isinstance(key, str) else isinstance(event, key))
                for handler in registered
            ]
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                # The change is committed already; one failing subscriber must not stop others.
                log.exception("event handler %r failed for %s", handler, event.name)


bus = EventBus()


# --- background jobs (core.background): progress of one person's export. Payload: job_id,
# state, done, total, note, error; sent with audience_staff = the person who started it. -----


@dataclass(frozen=True)
class JobProgressed(DomainEvent):
    name: ClassVar[str] = "job.progress"


register(StaffChanged, RolesChanged, PoliciesChanged, JobProgressed)
