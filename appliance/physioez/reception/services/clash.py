"""What the clash engine (``clash_engine``) reads and returns: bookings, rooms and equipment,
group classes, working hours and leave, the clinic's policy, and the clashes found.

Times are half-open intervals ``[start, end)`` of timezone-aware datetimes (the book stores UTC),
so back-to-back appointments never clash; every value checks itself when built, so a loader's
mistake (a naive time, a duplicated row) fails loudly instead of deciding a booking wrongly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum

__all__ = [
    "Booking",
    "Clash",
    "ClashPolicy",
    "GroupClass",
    "Interval",
    "Resource",
    "Rule",
    "Schedule",
    "Severity",
]


class Severity(StrEnum):
    """BLOCK forbids the booking; WARN lets the desk book it after seeing the message."""

    BLOCK = "block"
    WARN = "warn"


class Rule(StrEnum):
    """What was violated. The declaration order is the order clashes are reported in."""

    PRACTITIONER_BUSY = "practitioner_busy"
    RESOURCE_FULL = "resource_full"
    PATIENT_BUSY = "patient_busy"
    OUTSIDE_AVAILABILITY = "outside_availability"
    ON_LEAVE = "on_leave"
    CLASS_FULL = "class_full"


def _validate_span(what: str, start: datetime, end: datetime) -> None:
    """Reject what would silently compare wrongly: naive times mix up clinic and UTC time."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime):
            raise TypeError(f"{what}: {name} must be a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{what}: {name}={value.isoformat()} is naive; pass an aware datetime "
                "(e.g. datetime(..., tzinfo=UTC) or clinic_time.astimezone(UTC))"
            )
    if end <= start:
        raise ValueError(f"{what}: end {end.isoformat()} must be after start {start.isoformat()}")


@dataclass(frozen=True)
class Interval:
    """A half-open span of time ``[start, end)``: working hours, leave."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _validate_span("Interval", self.start, self.end)


@dataclass(frozen=True)
class Booking:
    """One appointment, or one seat in a group class (seats share a ``class_id``)."""

    id: str
    practitioner_id: str
    patient_id: str
    start: datetime
    end: datetime
    resource_ids: tuple[str, ...] = ()
    class_id: str | None = None
    label: str = ""

    def __post_init__(self) -> None:
        _validate_span(f"Booking {self.id!r}", self.start, self.end)
        # A list from a query result would make the booking unhashable; accept it, store a tuple.
        if not isinstance(self.resource_ids, tuple):
            object.__setattr__(self, "resource_ids", tuple(self.resource_ids))
        seen: set[str] = set()
        for resource_id in self.resource_ids:
            if resource_id in seen:
                # Counting it twice would fill a room with one booking; ignoring it would hide a
                # loader bug that may also double other rows.
                raise ValueError(f"Booking {self.id!r}: resource {resource_id!r} is listed twice")
            seen.add(resource_id)

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)

    def describe(self) -> str:
        """What the desk sees in a message: the label if the caller gave one."""
        return self.label or f"booking {self.id}"


@dataclass(frozen=True)
class Resource:
    """A room or piece of equipment; ``capacity`` bookings may use it at the same instant."""

    id: str
    name: str
    capacity: int

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"Resource {self.id!r}: capacity must be >= 1, got {self.capacity}")


@dataclass(frozen=True)
class GroupClass:
    """A group session: up to ``capacity`` seats, all run by one practitioner."""

    id: str
    capacity: int
    practitioner_id: str

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"GroupClass {self.id!r}: capacity must be >= 1, got {self.capacity}")


@dataclass(frozen=True)
class ClashPolicy:
    """How hard each rule is. Clinics differ: some let the desk book outside hours, some don't.

    Values may be given as strings ("warn"/"block") so a policy can come straight from settings.
    """

    practitioner_busy: Severity = Severity.BLOCK
    resource_full: Severity = Severity.BLOCK
    patient_busy: Severity = Severity.BLOCK
    outside_availability: Severity = Severity.WARN
    on_leave: Severity = Severity.BLOCK
    class_full: Severity = Severity.BLOCK

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            try:
                object.__setattr__(self, f.name, Severity(value))
            except ValueError:
                allowed = ", ".join(repr(s.value) for s in Severity)
                raise ValueError(
                    f"ClashPolicy.{f.name}: {value!r} is not a severity ({allowed})"
                ) from None

    @classmethod
    def all_block(cls) -> ClashPolicy:
        """The strictest policy: every rule forbids the booking."""
        return cls(**{rule.value: Severity.BLOCK for rule in Rule})

    def severity(self, rule: Rule) -> Severity:
        return getattr(self, Rule(rule).value)


@dataclass(frozen=True)
class Clash:
    """One reason the candidate conflicts, with what it conflicts with (when that is a booking)."""

    rule: Rule
    severity: Severity
    message: str
    conflicting_id: str | None
    resource_id: str | None = None


@dataclass(frozen=True)
class Schedule:
    """What the caller loaded for the time window around the candidate(s).

    ``bookings`` are the active (not cancelled, not no-show) bookings overlapping the window; it
    may contain the candidate itself when rescheduling, which is ignored by id.
    ``availability`` maps a practitioner to working intervals already expanded for the dates
    concerned; a practitioner missing from it has no known hours, so everything is outside them.
    """

    bookings: Sequence[Booking] = ()
    resources: Mapping[str, Resource] = field(default_factory=dict)
    availability: Mapping[str, Sequence[Interval]] = field(default_factory=dict)
    leave: Mapping[str, Sequence[Interval]] = field(default_factory=dict)
    classes: Mapping[str, GroupClass] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A duplicated row (e.g. from a join) would double-count a room; fail loudly instead.
        seen: set[str] = set()
        for booking in self.bookings:
            if booking.id in seen:
                raise ValueError(f"Schedule: booking id {booking.id!r} appears more than once")
            seen.add(booking.id)
        for name, mapping in (("resources", self.resources), ("classes", self.classes)):
            for key, value in mapping.items():
                if key != value.id:
                    raise ValueError(f"Schedule.{name}: key {key!r} holds id {value.id!r}")
