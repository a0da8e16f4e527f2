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
so back-to-back appointments never clash. The values it reads and returns are in ``clash``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta

from physioez.reception.services.clash import (
    Booking,
    Clash,
    ClashPolicy,
    GroupClass,
    Resource,
    Rule,
    Schedule,
    Severity,
)

__all__ = ["check", "check_many", "hard_clashes"]

_RULE_ORDER = {rule: index for index, rule in enumerate(Rule)}


def _overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open overlap: touching ends (10:00-10:30 then 10:30-11:00) do not overlap."""
    return a_start < b_end and b_start < a_end


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
