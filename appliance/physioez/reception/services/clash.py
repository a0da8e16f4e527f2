"""The clash engine: may this appointment go into the book?

It is the heart of the appointment book, so it is pure Python over data the caller already
loaded (no database, no Flask): the caller runs it inside the write transaction that inserts the
booking, which makes "check, then insert" atomic, and the same function can be tested exhaustively
against a brute-force model.

It checks the three-way clash (practitioner, room/equipment, patient) plus the practitioner's
working hours, leave and group-class capacity. Every finding is returned, each with a severity
taken from a `ClashPolicy`, so the desk can see all the reasons at once; `hard_clashes` picks out
the ones that forbid the booking.

Times are half-open intervals ``[start, end)`` of timezone-aware datetimes (the book stores UTC),
so back-to-back appointments never clash.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
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
    "check",
    "check_many",
    "hard_clashes",
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


_RULE_ORDER = {rule: index for index, rule in enumerate(Rule)}


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


def _overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open overlap: touching ends (10:00-10:30 then 10:30-11:00) do not overlap."""
    return a_start < b_end and b_start < a_end


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


# --- the engine ---------------------------------------------------------------------------------


class _Index:
    """Bookings sorted by start, so those overlapping an interval are found by bisection.

    Overlapping ``[s, e)`` means ``start < e`` and ``end > s``; with bookings sorted by start and
    the longest duration known, only starts in ``(s - longest, e)`` can qualify.
    """

    def __init__(self, bookings: Iterable[Booking]) -> None:
        self._bookings = sorted(bookings, key=lambda b: (b.start, b.id))
        self._starts = [b.start for b in self._bookings]
        self._longest = max((b.end - b.start for b in self._bookings), default=timedelta(0))
        self.seats: dict[str, set[str]] = defaultdict(set)
        for booking in self._bookings:
            if booking.class_id is not None:
                self.seats[booking.class_id].add(booking.id)

    def overlapping(self, start: datetime, end: datetime) -> Iterator[Booking]:
        lo = bisect.bisect_right(self._starts, start - self._longest)
        hi = bisect.bisect_left(self._starts, end)
        for booking in self._bookings[lo:hi]:
            if booking.end > start:
                yield booking


def _merge(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Union of half-open spans; touching spans join (09:00-12:00 + 12:00-13:00 = 09:00-13:00)."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


_SortKey = tuple[int, datetime, str]


def _busy_clashes(
    candidate: Booking, near: Sequence[Booking], policy: ClashPolicy
) -> list[tuple[_SortKey, Clash]]:
    """Practitioner and patient double-booking: one finding per conflicting booking."""
    found: list[tuple[_SortKey, Clash]] = []
    for other in near:
        if other.practitioner_id == candidate.practitioner_id and not (
            candidate.class_id is not None and other.class_id == candidate.class_id
        ):
            # Seats of one class are one session for the practitioner, not a double booking.
            rule = Rule.PRACTITIONER_BUSY
            message = f"The practitioner is already booked: {other.describe()}"
            found.append(
                (
                    (_RULE_ORDER[rule], other.start, other.id),
                    Clash(rule, policy.severity(rule), message, other.id),
                )
            )
        if other.patient_id == candidate.patient_id:
            rule = Rule.PATIENT_BUSY
            message = f"The patient already has an appointment then: {other.describe()}"
            found.append(
                (
                    (_RULE_ORDER[rule], other.start, other.id),
                    Clash(rule, policy.severity(rule), message, other.id),
                )
            )
    return found


def _resource_clash(
    candidate: Booking, resource: Resource, users: Sequence[Booking], policy: ClashPolicy
) -> tuple[_SortKey, Clash] | None:
    """Would the candidate push ``resource`` over capacity at any instant of its interval?

    A sweep over interval endpoints, not pairwise overlap: three bookings may each overlap the
    candidate without overlapping each other, so only the count at each instant is meaningful.
    Each ordinary booking is one unit of use; all seats of a group class together are one unit
    (the class uses the room once), over the union of those seats' times. Where the candidate's
    own class already holds the resource, the candidate adds nothing, so it cannot overfill it.
    """
    events: list[tuple[datetime, int, int]] = []  # (time, change in units, change in own-class)
    class_spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for other in users:
        span = (max(other.start, candidate.start), min(other.end, candidate.end))
        if other.class_id is None:
            events += [(span[0], 1, 0), (span[1], -1, 0)]
        elif other.class_id == candidate.class_id:
            events += [(span[0], 0, 1), (span[1], 0, -1)]
        else:
            class_spans[other.class_id].append(span)
    for spans in class_spans.values():
        for start, end in _merge(spans):
            events += [(start, 1, 0), (end, -1, 0)]
    events.sort(key=lambda event: event[0])

    units = own_class = 0
    index = 0
    while index < len(events):
        instant = events[index][0]
        while index < len(events) and events[index][0] == instant:  # all changes at this instant
            units += events[index][1]
            own_class += events[index][2]
            index += 1
        if own_class == 0 and units + 1 > resource.capacity and instant < candidate.end:
            return _resource_finding(candidate, resource, users, policy, instant, units)
    return None


def _resource_finding(
    candidate: Booking,
    resource: Resource,
    users: Sequence[Booking],
    policy: ClashPolicy,
    instant: datetime,
    units: int,
) -> tuple[_SortKey, Clash]:
    """Name one booking filling the resource at the first over-capacity instant (a linear pass)."""
    filling = min(
        (
            other
            for other in users
            if other.start <= instant < other.end
            and (other.class_id is None or other.class_id != candidate.class_id)
        ),
        key=lambda other: (other.start, other.id),
    )
    more = f" and {units - 1} other use(s) at the same time" if units > 1 else ""
    message = (
        f"{resource.name} is full (capacity {resource.capacity}): "
        f"already in use by {filling.describe()}{more}"
    )
    rule = Rule.RESOURCE_FULL
    clash = Clash(rule, policy.severity(rule), message, filling.id, resource_id=resource.id)
    return (_RULE_ORDER[rule], instant, resource.id), clash


def _availability_clashes(
    candidate: Booking, schedule: Schedule, policy: ClashPolicy
) -> list[tuple[_SortKey, Clash]]:
    """Working hours must cover the whole appointment; leave must not touch any of it."""
    found: list[tuple[_SortKey, Clash]] = []
    key_suffix = (candidate.start, "")
    hours = schedule.availability.get(candidate.practitioner_id)
    covered = hours is not None and any(
        start <= candidate.start and candidate.end <= end
        # After merging, a covering union means one merged span covers it all.
        for start, end in _merge((i.start, i.end) for i in hours)
    )
    if not covered:
        rule = Rule.OUTSIDE_AVAILABILITY
        message = (
            "No working hours are recorded for the practitioner at this time"
            if hours is None
            else "The appointment is not fully inside the practitioner's working hours"
        )
        clash = Clash(rule, policy.severity(rule), message, None)
        found.append(((_RULE_ORDER[rule], *key_suffix), clash))
    leave = schedule.leave.get(candidate.practitioner_id, ())
    if any(_overlaps(candidate.start, candidate.end, i.start, i.end) for i in leave):
        rule = Rule.ON_LEAVE
        message = "The practitioner is on leave during this appointment"
        found.append(
            ((_RULE_ORDER[rule], *key_suffix), Clash(rule, policy.severity(rule), message, None))
        )
    return found


def _check(
    candidate: Booking,
    near: Sequence[Booking],
    seats: set[str],
    schedule: Schedule,
    policy: ClashPolicy,
) -> list[Clash]:
    """All findings for ``candidate``, given the bookings overlapping it and its class's seats."""
    group: GroupClass | None = None
    if candidate.class_id is not None:
        group = schedule.classes.get(candidate.class_id)
        if group is None:
            raise ValueError(
                f"Booking {candidate.id!r}: class_id {candidate.class_id!r} is not in "
                "schedule.classes; load the GroupClass for every class a candidate joins"
            )
        if group.practitioner_id != candidate.practitioner_id:
            raise ValueError(
                f"Booking {candidate.id!r}: practitioner {candidate.practitioner_id!r} does not "
                f"run class {group.id!r} (its practitioner is {group.practitioner_id!r})"
            )
    for resource_id in candidate.resource_ids:
        if resource_id not in schedule.resources:
            raise ValueError(
                f"Booking {candidate.id!r}: resource {resource_id!r} is not in schedule.resources"
            )

    near = [b for b in near if b.id != candidate.id]  # a reschedule does not clash with itself
    found = _busy_clashes(candidate, near, policy)

    wanted = set(candidate.resource_ids)
    users: dict[str, list[Booking]] = defaultdict(list)
    for other in near:
        for resource_id in other.resource_ids:
            if resource_id in wanted:
                users[resource_id].append(other)
    for resource_id in candidate.resource_ids:
        finding = _resource_clash(
            candidate, schedule.resources[resource_id], users[resource_id], policy
        )
        if finding is not None:
            found.append(finding)

    found += _availability_clashes(candidate, schedule, policy)

    if group is not None:
        taken = len(seats - {candidate.id})
        if taken + 1 > group.capacity:
            rule = Rule.CLASS_FULL
            message = f"The group class is full ({taken} of {group.capacity} seats taken)"
            clash = Clash(rule, policy.severity(rule), message, None)
            found.append(((_RULE_ORDER[rule], candidate.start, ""), clash))

    found.sort(key=lambda item: item[0])
    return [clash for _, clash in found]


def check(candidate: Booking, schedule: Schedule, policy: ClashPolicy | None = None) -> list[Clash]:
    """Every clash of ``candidate`` with ``schedule``, ordered by rule, then start, then id.

    An empty list means the booking fits. Raises ValueError for data the engine cannot judge
    (an unknown class or resource, a seat booked under another practitioner than its class's).
    O(n log n) in the bookings given.
    """
    policy = policy or ClashPolicy()
    index = _Index(schedule.bookings)
    near = list(index.overlapping(candidate.start, candidate.end))
    seats = index.seats.get(candidate.class_id, set()) if candidate.class_id else set()
    return _check(candidate, near, seats, schedule, policy)


def check_many(
    candidates: Sequence[Booking], schedule: Schedule, policy: ClashPolicy | None = None
) -> dict[str, list[Clash]]:
    """Check a recurring series: each occurrence against the schedule and the earlier occurrences.

    Earlier occurrences count whether or not they clash themselves (the series is judged as a
    whole, so it cannot clash with itself). Bookings in ``schedule`` that share an id with a
    candidate are the series' old times being rescheduled, so they are replaced, not checked.
    """
    policy = policy or ClashPolicy()
    ids = [c.id for c in candidates]
    if len(set(ids)) != len(ids):
        raise ValueError("check_many: candidate ids must be unique within the series")
    replaced = set(ids)
    index = _Index(b for b in schedule.bookings if b.id not in replaced)
    results: dict[str, list[Clash]] = {}
    for position, candidate in enumerate(candidates):
        earlier = candidates[:position]  # a series is short (weeks), so a linear pass is fine
        near = list(index.overlapping(candidate.start, candidate.end))
        near += [e for e in earlier if _overlaps(e.start, e.end, candidate.start, candidate.end)]
        seats: set[str] = set()
        if candidate.class_id is not None:
            seats = set(index.seats.get(candidate.class_id, ()))
            seats |= {e.id for e in earlier if e.class_id == candidate.class_id}
        results[candidate.id] = _check(candidate, near, seats, schedule, policy)
    return results


def hard_clashes(clashes: Iterable[Clash]) -> list[Clash]:
    """The clashes that forbid the booking (severity BLOCK); the rest are warnings to show."""
    return [clash for clash in clashes if clash.severity == Severity.BLOCK]
