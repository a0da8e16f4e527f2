"""Tests for the clash engine: examples for each rule, and properties against a brute-force model.

The brute-force model works minute by minute on integers, sharing no code with the engine, so a
property failure points at a real disagreement rather than a shared bug.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings, target
from hypothesis import strategies as st

from physioez.reception.services.clash import (
    Booking,
    Clash,
    ClashPolicy,
    GroupClass,
    Interval,
    Resource,
    Rule,
    Schedule,
    Severity,
)
from physioez.reception.services.clash_engine import check, check_many, hard_clashes

DAY = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
ALL_BLOCK = ClashPolicy.all_block()


def at(hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return DAY + timedelta(hours=hours, minutes=minutes)


def iv(start: str, end: str) -> Interval:
    return Interval(at(start), at(end))


def bk(
    id: str,
    start: str,
    end: str,
    *,
    pr: str = "dr-rao",
    pt: str | None = None,
    res: Sequence[str] = (),
    cls: str | None = None,
    label: str = "",
) -> Booking:
    return Booking(id, pr, pt or f"pt-{id}", at(start), at(end), tuple(res), cls, label)


def schedule(bookings: Sequence[Booking] = (), **kwargs) -> Schedule:
    """A schedule where everyone works all day, unless the test says otherwise."""
    all_day = [iv("00:00", "23:59")]
    kwargs.setdefault("availability", {p: all_day for p in ("dr-rao", "dr-lee", "p1", "p2", "p3")})
    return Schedule(bookings=bookings, **kwargs)


def rules(clashes: Iterable[Clash]) -> list[tuple[Rule, str | None]]:
    return [(c.rule, c.resource_id or c.conflicting_id) for c in clashes]


# --- examples: practitioner and patient ----------------------------------------------------------


def test_no_clash_on_an_empty_day() -> None:
    assert check(bk("new", "10:00", "10:30"), schedule(), ALL_BLOCK) == []


def test_practitioner_busy_names_the_conflicting_booking() -> None:
    old = bk("a1", "10:00", "10:45", label="Asha Menon with Dr Rao, Mon 10:00")
    clashes = check(bk("new", "10:30", "11:00"), schedule([old]))
    assert rules(clashes) == [(Rule.PRACTITIONER_BUSY, "a1")]
    assert "Asha Menon with Dr Rao" in clashes[0].message
    assert clashes[0].severity is Severity.BLOCK


def test_back_to_back_does_not_clash() -> None:
    """Half-open intervals: one appointment ending at 10:30 frees the practitioner at 10:30."""
    room = {"r1": Resource("r1", "Room 1", 1)}
    old = bk("a1", "10:00", "10:30", pt="asha", res=["r1"])
    before = bk("b0", "09:30", "10:00", pt="asha", res=["r1"])
    after = bk("b1", "10:30", "11:00", pt="asha", res=["r1"])
    assert check(before, schedule([old], resources=room), ALL_BLOCK) == []
    assert check(after, schedule([old], resources=room), ALL_BLOCK) == []


def test_one_clash_per_conflicting_booking_in_start_then_id_order() -> None:
    old = [bk("z", "10:00", "11:00"), bk("b", "09:00", "10:15"), bk("a", "10:00", "10:30")]
    clashes = check(bk("new", "09:45", "10:45"), schedule(old))
    assert rules(clashes) == [
        (Rule.PRACTITIONER_BUSY, "b"),
        (Rule.PRACTITIONER_BUSY, "a"),
        (Rule.PRACTITIONER_BUSY, "z"),
    ]


def test_patient_busy_with_another_practitioner() -> None:
    old = bk("a1", "10:00", "11:00", pr="dr-lee", pt="asha")
    clashes = check(bk("new", "10:30", "11:30", pt="asha"), schedule([old]))
    assert rules(clashes) == [(Rule.PATIENT_BUSY, "a1")]


def test_reschedule_ignores_the_booking_itself() -> None:
    room = {"r1": Resource("r1", "Room 1", 1)}
    old = bk("a1", "10:00", "11:00", pt="asha", res=["r1"])
    moved = bk("a1", "10:30", "11:30", pt="asha", res=["r1"])
    assert check(moved, schedule([old], resources=room), ALL_BLOCK) == []


def test_seats_of_one_class_do_not_make_the_practitioner_busy() -> None:
    classes = {"pilates": GroupClass("pilates", 5, "dr-rao")}
    seat = bk("s1", "10:00", "11:00", cls="pilates")
    other_class = bk("s2", "10:00", "11:00", cls="yoga")
    new_seat = bk("new", "10:00", "11:00", cls="pilates")
    assert check(new_seat, schedule([seat], classes=classes)) == []
    clashes = check(new_seat, schedule([seat, other_class], classes=classes))
    assert rules(clashes) == [(Rule.PRACTITIONER_BUSY, "s2")]


def test_a_one_to_one_clashes_with_each_class_seat() -> None:
    seats = [bk("s1", "10:00", "11:00", cls="pilates"), bk("s2", "10:00", "11:00", cls="pilates")]
    clashes = check(bk("new", "10:30", "11:00"), schedule(seats))
    assert rules(clashes) == [(Rule.PRACTITIONER_BUSY, "s1"), (Rule.PRACTITIONER_BUSY, "s2")]


# --- examples: resources -------------------------------------------------------------------------


def test_three_way_overlap_fills_a_capacity_two_room() -> None:
    """a and c never overlap each other, but each overlaps b; the peak inside the candidate is 2."""
    gym = {"gym": Resource("gym", "Gym", 2)}
    old = [
        bk("a", "10:00", "10:30", pr="p1", res=["gym"]),
        bk("b", "10:15", "11:15", pr="p2", res=["gym"]),
        bk("c", "10:45", "11:30", pr="p3", res=["gym"]),
    ]
    clashes = check(bk("new", "10:00", "11:30", res=["gym"]), schedule(old, resources=gym))
    assert rules(clashes) == [(Rule.RESOURCE_FULL, "gym")]
    assert clashes[0].conflicting_id in {"a", "b", "c"}
    assert "Gym" in clashes[0].message
    # Only one at a time in 11:15-11:30, so a short appointment then fits.
    assert check(bk("late", "11:15", "11:30", res=["gym"]), schedule(old, resources=gym)) == []


def test_pairwise_overlap_alone_would_over_report() -> None:
    """Two bookings overlap the candidate but never each other: capacity 2 is never exceeded."""
    gym = {"gym": Resource("gym", "Gym", 2)}
    old = [
        bk("a", "10:00", "10:30", pr="p1", res=["gym"]),
        bk("b", "10:30", "11:00", pr="p2", res=["gym"]),
    ]
    assert check(bk("new", "10:00", "11:00", res=["gym"]), schedule(old, resources=gym)) == []


def test_class_seats_use_a_room_once() -> None:
    studio = {"studio": Resource("studio", "Studio", 1)}
    classes = {"pilates": GroupClass("pilates", 8, "dr-rao")}
    seats = [bk(f"s{i}", "10:00", "11:00", cls="pilates", res=["studio"]) for i in range(3)]
    new_seat = bk("new", "10:00", "11:00", cls="pilates", res=["studio"])
    assert check(new_seat, schedule(seats, resources=studio, classes=classes)) == []
    # A different class (another practitioner) in the same room fills it.
    intruder = bk("x", "10:30", "11:30", pr="dr-lee", res=["studio"])
    clashes = check(intruder, schedule(seats, resources=studio, classes=classes))
    assert rules(clashes) == [(Rule.RESOURCE_FULL, "studio")]


def test_one_class_counts_once_against_a_room_for_others() -> None:
    gym = {"gym": Resource("gym", "Gym", 2)}
    seats = [bk(f"s{i}", "10:00", "11:00", cls="pilates", res=["gym"]) for i in range(3)]
    new = bk("new", "10:00", "11:00", pr="dr-lee", res=["gym"])
    assert check(new, schedule(seats, resources=gym), ALL_BLOCK) == []


def test_a_new_seat_is_not_blamed_for_a_room_already_overfull() -> None:
    """A seat joining its class adds no use of the room, even where old rows overfill it."""
    studio = {"studio": Resource("studio", "Studio", 1)}
    classes = {"pilates": GroupClass("pilates", 8, "dr-rao")}
    old = [
        bk("s0", "10:00", "11:00", cls="pilates", res=["studio"]),
        bk("x", "10:00", "11:00", pr="dr-lee", res=["studio"]),  # booked before the room shrank
    ]
    day = schedule(old, resources=studio, classes=classes)
    assert check(bk("new", "10:00", "11:00", cls="pilates", res=["studio"]), day) == []
    late_seat = bk("late", "10:30", "11:30", cls="pilates", res=["studio"])
    assert check(late_seat, day) == []  # 11:00-11:30: the class alone (via this seat)
    one_to_one = bk("p", "10:00", "11:00", pr="p1", res=["studio"])
    assert rules(check(one_to_one, day)) == [(Rule.RESOURCE_FULL, "studio")]


def test_unknown_resource_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"resource 'ghost' is not in schedule\.resources"):
        check(bk("new", "10:00", "11:00", res=["ghost"]), schedule())


# --- examples: availability, leave, classes ------------------------------------------------------


def test_adjacent_availability_intervals_merge() -> None:
    hours = {"dr-rao": [iv("12:00", "13:00"), iv("09:00", "12:00")]}
    assert check(bk("new", "11:30", "12:30"), schedule(availability=hours), ALL_BLOCK) == []
    gap = {"dr-rao": [iv("09:00", "11:45"), iv("12:00", "13:00")]}
    clashes = check(bk("new", "11:30", "12:30"), schedule(availability=gap))
    assert rules(clashes) == [(Rule.OUTSIDE_AVAILABILITY, None)]


def test_unknown_practitioner_hours_are_outside_availability() -> None:
    clashes = check(bk("new", "10:00", "11:00", pr="dr-new"), schedule())
    assert rules(clashes) == [(Rule.OUTSIDE_AVAILABILITY, None)]
    assert "No working hours" in clashes[0].message


def test_policy_decides_warn_or_block() -> None:
    outside = bk("new", "18:00", "19:00")
    hours = {"dr-rao": [iv("09:00", "17:00")]}
    default = check(outside, schedule(availability=hours))
    assert [c.severity for c in default] == [Severity.WARN]
    assert hard_clashes(default) == []
    strict = check(outside, schedule(availability=hours), ClashPolicy(outside_availability="block"))
    assert hard_clashes(strict) == strict
    relaxed = ClashPolicy(practitioner_busy=Severity.WARN)
    busy = check(bk("n", "10:00", "11:00"), schedule([bk("a", "10:00", "11:00")]), relaxed)
    assert [c.severity for c in busy] == [Severity.WARN]
    with pytest.raises(ValueError, match="not a severity"):
        ClashPolicy(on_leave="maybe")  # type: ignore[arg-type]


def test_on_leave() -> None:
    leave = {"dr-rao": [iv("12:00", "13:00")]}
    clashes = check(bk("new", "12:45", "13:15"), schedule(leave=leave))
    assert rules(clashes) == [(Rule.ON_LEAVE, None)]
    assert check(bk("new", "13:00", "13:30"), schedule(leave=leave)) == []


def test_class_full() -> None:
    classes = {"pilates": GroupClass("pilates", 2, "dr-rao")}
    seats = [bk("s1", "10:00", "11:00", cls="pilates"), bk("s2", "10:00", "11:00", cls="pilates")]
    new_seat = bk("new", "10:00", "11:00", cls="pilates")
    clashes = check(new_seat, schedule(seats, classes=classes))
    assert rules(clashes) == [(Rule.CLASS_FULL, None)]
    assert "2 of 2" in clashes[0].message
    # Moving an existing seat is not a new seat.
    assert check(bk("s2", "10:00", "11:00", cls="pilates"), schedule(seats, classes=classes)) == []


def test_unknown_class_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"class_id 'ghost' is not in schedule\.classes"):
        check(bk("new", "10:00", "11:00", cls="ghost"), schedule())


def test_seat_under_another_practitioner_is_a_value_error() -> None:
    classes = {"pilates": GroupClass("pilates", 5, "dr-lee")}
    with pytest.raises(ValueError, match="does not run class"):
        check(bk("new", "10:00", "11:00", cls="pilates"), schedule(classes=classes))


def test_results_are_ordered_by_rule() -> None:
    room = {"r1": Resource("r1", "Room 1", 1)}
    classes = {"c": GroupClass("c", 1, "dr-rao")}
    old = [
        bk("p", "10:00", "11:00", pt="asha"),
        bk("r", "10:00", "11:00", pr="dr-lee", res=["r1"]),
        bk("s", "09:00", "09:30", cls="c"),
    ]
    new = bk("new", "10:30", "11:30", pt="asha", res=["r1"], cls="c")
    hours = {"dr-rao": [iv("09:00", "11:00")]}
    leave = {"dr-rao": [iv("11:15", "12:00")]}
    clashes = check(new, Schedule(old, room, hours, leave, classes))
    assert rules(clashes) == [
        (Rule.PRACTITIONER_BUSY, "p"),
        (Rule.RESOURCE_FULL, "r1"),
        (Rule.PATIENT_BUSY, "p"),
        (Rule.OUTSIDE_AVAILABILITY, None),
        (Rule.ON_LEAVE, None),
        (Rule.CLASS_FULL, None),
    ]


# --- examples: validation and series -------------------------------------------------------------


def test_naive_datetime_is_rejected_with_a_hint() -> None:
    with pytest.raises(ValueError, match="naive; pass an aware datetime"):
        Booking("a", "p", "q", datetime(2025, 3, 3, 10), datetime(2025, 3, 3, 11))
    with pytest.raises(ValueError, match="naive"):
        Interval(at("10:00"), datetime(2025, 3, 3, 11))


def test_end_must_be_after_start() -> None:
    with pytest.raises(ValueError, match="must be after start"):
        bk("a", "10:00", "10:00")
    with pytest.raises(ValueError, match="must be after start"):
        iv("11:00", "10:00")


def test_bad_data_is_rejected() -> None:
    with pytest.raises(ValueError, match="appears more than once"):
        schedule([bk("a", "10:00", "11:00"), bk("a", "12:00", "13:00")])
    with pytest.raises(ValueError, match="listed twice"):
        bk("a", "10:00", "11:00", res=["r1", "r1"])
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        Resource("r1", "Room 1", 0)


def test_check_many_catches_a_series_clashing_with_itself() -> None:
    """A 90-minute slot repeated every hour: each occurrence overlaps the one before."""
    series = [bk(f"w{i}", f"{9 + i}:00", f"{10 + i}:30", pt="asha") for i in range(3)]
    results = check_many(series, schedule(), ALL_BLOCK)
    assert list(results) == ["w0", "w1", "w2"]
    assert results["w0"] == []
    assert rules(results["w1"]) == [(Rule.PRACTITIONER_BUSY, "w0"), (Rule.PATIENT_BUSY, "w0")]
    assert rules(results["w2"]) == [(Rule.PRACTITIONER_BUSY, "w1"), (Rule.PATIENT_BUSY, "w1")]


def test_check_many_against_schedule_and_rescheduled_series() -> None:
    old_series = [bk("w0", "09:00", "10:00"), bk("w1", "10:00", "11:00")]
    other = bk("x", "11:30", "12:00", label="Ravi Iyer with Dr Rao")
    # Move the series 30 minutes later: w0 now sits where old w1 was (replaced, not a clash).
    moved = [bk("w0", "09:30", "10:30"), bk("w1", "11:00", "12:00")]
    results = check_many(moved, schedule([*old_series, other]), ALL_BLOCK)
    assert results["w0"] == []
    assert rules(results["w1"]) == [(Rule.PRACTITIONER_BUSY, "x")]
    with pytest.raises(ValueError, match="unique"):
        check_many([moved[0], moved[0]], schedule())


def test_check_many_counts_earlier_seats_of_a_class() -> None:
    classes = {"c": GroupClass("c", 1, "dr-rao")}
    seats = [bk("s1", "10:00", "11:00", cls="c"), bk("s2", "10:00", "11:00", cls="c")]
    results = check_many(seats, schedule(classes=classes), ALL_BLOCK)
    assert results["s1"] == []
    assert rules(results["s2"]) == [(Rule.CLASS_FULL, None)]


# --- the brute-force model -----------------------------------------------------------------------

SLOT = 15  # minutes
SLOTS = 16  # 08:00 to 12:00, small enough that random bookings collide often
OPEN = 8 * 60


def minute(value: datetime) -> int:
    return int((value - DAY).total_seconds()) // 60


def minutes(start: datetime, end: datetime) -> range:
    return range(minute(start), minute(end))


def units_at(bookings: Iterable[Booking], resource_id: str, m: int) -> tuple[int, set[str]]:
    """Uses of a resource at minute m: ordinary bookings one each, each class once."""
    singles, class_ids = 0, set()
    for b in bookings:
        if resource_id in b.resource_ids and m in minutes(b.start, b.end):
            if b.class_id is None:
                singles += 1
            else:
                class_ids.add(b.class_id)
    return singles + len(class_ids), class_ids


def covered(intervals: Sequence[Interval] | None, m: int) -> bool:
    return intervals is not None and any(m in minutes(i.start, i.end) for i in intervals)


def brute_force(candidate: Booking, sched: Schedule) -> set[tuple[Rule, str | None]]:
    """The clashes of one candidate, computed the slow, obvious way."""
    others = [b for b in sched.bookings if b.id != candidate.id]
    mine = set(minutes(candidate.start, candidate.end))
    found: set[tuple[Rule, str | None]] = set()
    for b in others:
        shared = bool(mine & set(minutes(b.start, b.end)))
        same_class = candidate.class_id is not None and b.class_id == candidate.class_id
        if shared and b.practitioner_id == candidate.practitioner_id and not same_class:
            found.add((Rule.PRACTITIONER_BUSY, b.id))
        if shared and b.patient_id == candidate.patient_id:
            found.add((Rule.PATIENT_BUSY, b.id))
    for resource_id in candidate.resource_ids:
        for m in mine:
            units, class_ids = units_at(others, resource_id, m)
            if candidate.class_id in class_ids:
                continue  # the candidate's class already holds the room: it adds nothing
            if units + 1 > sched.resources[resource_id].capacity:
                found.add((Rule.RESOURCE_FULL, resource_id))
    hours = sched.availability.get(candidate.practitioner_id)
    if not all(covered(hours, m) for m in mine):
        found.add((Rule.OUTSIDE_AVAILABILITY, None))
    if any(covered(sched.leave.get(candidate.practitioner_id, ()), m) for m in mine):
        found.add((Rule.ON_LEAVE, None))
    if candidate.class_id is not None:
        seats = {b.id for b in others if b.class_id == candidate.class_id}
        if len(seats) + 1 > sched.classes[candidate.class_id].capacity:
            found.add((Rule.CLASS_FULL, None))
    return found


def brute_force_violations(accepted: Sequence[Booking], sched: Schedule) -> list[str]:
    """Every hard conflict inside a finished calendar, checked globally, not per candidate."""
    problems = []
    for i, a in enumerate(accepted):
        for b in accepted[i + 1 :]:
            if not set(minutes(a.start, a.end)) & set(minutes(b.start, b.end)):
                continue
            same_class = a.class_id is not None and a.class_id == b.class_id
            if a.practitioner_id == b.practitioner_id and not same_class:
                problems.append(f"practitioner double-booked: {a.id} {b.id}")
            if a.patient_id == b.patient_id:
                problems.append(f"patient double-booked: {a.id} {b.id}")
    for resource in sched.resources.values():
        for m in range(OPEN, OPEN + SLOTS * SLOT):
            units, _ = units_at(accepted, resource.id, m)
            if units > resource.capacity:
                problems.append(f"{resource.id} holds {units} at minute {m}")
    for group in sched.classes.values():
        seats = [a for a in accepted if a.class_id == group.id]
        if len(seats) > group.capacity:
            problems.append(f"class {group.id} has {len(seats)} seats")
    for a in accepted:
        span = minutes(a.start, a.end)
        if not all(covered(sched.availability.get(a.practitioner_id), m) for m in span):
            problems.append(f"{a.id} outside availability")
        if any(covered(sched.leave.get(a.practitioner_id, ()), m) for m in span):
            problems.append(f"{a.id} on leave")
    return problems


# --- strategies ----------------------------------------------------------------------------------


def slot_time(slot: int) -> datetime:
    return DAY + timedelta(minutes=OPEN + slot * SLOT)


@st.composite
def spans(draw: st.DrawFn, max_slots: int = 6) -> tuple[datetime, datetime]:
    start = draw(st.integers(0, SLOTS - 1))
    length = draw(st.integers(1, min(max_slots, SLOTS - start)))
    return slot_time(start), slot_time(start + length)


@st.composite
def working_hours(draw: st.DrawFn) -> list[Interval]:
    """The day cut into pieces, some dropped, shuffled: appointments often span adjacent pieces."""
    cuts = draw(st.lists(st.integers(1, SLOTS - 1), max_size=4))
    points = sorted({0, SLOTS, *cuts})
    pieces = [Interval(slot_time(a), slot_time(b)) for a, b in pairwise(points)]
    kept = [piece for piece in pieces if draw(st.integers(0, 3))]
    return draw(st.permutations(kept))


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Schedule, Callable[[int], st.SearchStrategy[Booking]]]:
    """A schedule with no bookings yet, and bookings (up to n slots long) fitting its people, rooms.

    Dense on purpose, so that the rare shapes occur: rooms shared by three bookings, class seats
    sharing their class's room and time (or straying from it), working hours cut into adjacent
    pieces, and practitioners with no recorded hours at all.
    """
    practitioners = [f"pr{i}" for i in range(draw(st.integers(1, 3)))]
    patients = [f"pt{i}" for i in range(draw(st.integers(1, 6)))]
    resources = {
        f"r{i}": Resource(f"r{i}", f"Room {i}", draw(st.integers(1, 3)))
        for i in range(draw(st.integers(1, 3)))
    }
    room_sets = st.lists(st.sampled_from(sorted(resources)), max_size=2, unique=True)
    classes: dict[str, GroupClass] = {}
    homes: dict[str, tuple[tuple[datetime, datetime], list[str]]] = {}
    for i in range(draw(st.integers(0, 2))):
        practitioner = draw(st.sampled_from(practitioners))
        classes[f"c{i}"] = GroupClass(f"c{i}", draw(st.integers(1, 3)), practitioner)
        homes[f"c{i}"] = (draw(spans()), draw(room_sets))
    availability: dict[str, list[Interval]] = {}
    leave: dict[str, list[Interval]] = {}
    for p in practitioners:
        if draw(st.integers(0, 5)):  # now and then nobody recorded this practitioner's hours
            availability[p] = draw(working_hours())
        leave[p] = [Interval(s, e) for s, e in draw(st.lists(spans(max_slots=3), max_size=2))]
    counter = iter(range(10**6))

    @st.composite
    def bookings(draw_booking: st.DrawFn, max_slots: int) -> Booking:
        class_id = draw_booking(st.sampled_from([None, *classes]))
        if class_id is not None:
            practitioner = classes[class_id].practitioner_id
        else:
            practitioner = draw_booking(st.sampled_from(practitioners))
        if class_id is not None and draw_booking(st.integers(0, 3)):  # usually the class's slot
            (start, end), used = homes[class_id]
        else:
            (start, end), used = draw_booking(spans(max_slots)), draw_booking(room_sets)
        return Booking(
            id=f"b{next(counter)}",
            practitioner_id=practitioner,
            patient_id=draw_booking(st.sampled_from(patients)),
            start=start,
            end=end,
            resource_ids=tuple(used),
            class_id=class_id,
        )

    sched = Schedule((), resources, availability, leave, classes)
    return sched, bookings


def with_bookings(sched: Schedule, bookings: Sequence[Booking]) -> Schedule:
    return Schedule(bookings, sched.resources, sched.availability, sched.leave, sched.classes)


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_calendar_built_by_the_engine_has_no_hard_conflicts(data: st.DataObject) -> None:
    """Offer bookings one by one, accept those without hard clashes: the result must be clean."""
    sched, bookings = data.draw(worlds())
    offers = data.draw(st.lists(bookings(6), min_size=1, max_size=25))
    accepted: list[Booking] = []
    for offer in offers:
        if not hard_clashes(check(offer, with_bookings(sched, accepted), ALL_BLOCK)):
            accepted.append(offer)
    assert brute_force_violations(accepted, sched) == []


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_engine_agrees_with_brute_force(data: st.DataObject) -> None:
    """Random (possibly already overfull) schedules, random candidate: the same findings."""
    sched, bookings = data.draw(worlds())
    existing = data.draw(st.lists(bookings(4), max_size=15))
    # Long candidates span several bookings that follow each other in a room: only a sweep
    # (not pairwise overlap, nor starts counted before ends) gets those right.
    candidate = data.draw(bookings(SLOTS))
    if existing and data.draw(st.booleans()):  # sometimes a reschedule of an existing booking
        old = data.draw(st.sampled_from(existing))
        candidate = replace(candidate, id=old.id)
    full = with_bookings(sched, existing)
    clashes = check(candidate, full, ALL_BLOCK)

    assert set(rules(clashes)) == brute_force(candidate, full)
    assert len(clashes) == len(set(rules(clashes)))
    assert hard_clashes(clashes) == clashes
    by_id = {b.id: b for b in existing}
    for clash in clashes:
        if clash.rule is Rule.RESOURCE_FULL:  # it names a real user of that resource
            filler = by_id[clash.conflicting_id]
            assert clash.resource_id in filler.resource_ids
            assert filler.start < candidate.end and candidate.start < filler.end
    # Order of the loaded rows must not matter.
    assert check(candidate, with_bookings(sched, existing[::-1]), ALL_BLOCK) == clashes


@st.composite
def one_room_days(draw: st.DrawFn) -> tuple[Schedule, Booking]:
    """One shared room, everyone else distinct and always available: only the room can clash.

    Short bookings and a long candidate make the shapes that separate a sweep from pairwise
    counting: several uses that each overlap the candidate but not each other, and uses that end
    exactly when the next starts. Seats mostly share their class's time, as real seats do, so a
    new seat often joins its class in a room that others have filled.
    """
    room = Resource("gym", "Gym", draw(st.integers(2, 3)))
    classes = {c: GroupClass(c, 20, f"pr-{c}") for c in ("c0", "c1")}
    homes = {c: draw(spans(3)) for c in classes}

    def booking(id: str, max_slots: int) -> Booking:
        class_id = draw(st.sampled_from([None, None, "c0", "c1"]))
        if class_id is not None and draw(st.integers(0, 3)):  # usually the class's own time
            start, end = homes[class_id]
        else:
            start, end = draw(spans(max_slots))
        practitioner = f"pr-{class_id or id}"
        return Booking(id, practitioner, f"pt-{id}", start, end, ("gym",), class_id)

    existing = [booking(f"b{i}", 3) for i in range(draw(st.integers(0, 8)))]
    candidate = booking("new", SLOTS)
    everyone = {b.practitioner_id for b in [*existing, candidate]}
    hours = {p: [Interval(slot_time(0), slot_time(SLOTS))] for p in everyone}
    return Schedule(existing, {"gym": room}, hours, {}, classes), candidate


@settings(max_examples=200, deadline=None)
@given(one_room_days())
def test_room_occupancy_is_a_sweep(day: tuple[Schedule, Booking]) -> None:
    """The room rule alone, against the minute-by-minute count."""
    sched, candidate = day
    # Steer towards many uses overlapping the candidate but few at once: pairwise counting and
    # endpoint-order bugs only show there.
    touching = [b for b in sched.bookings if b.start < candidate.end and candidate.start < b.end]
    uses = sum(b.class_id is None for b in touching) + len({b.class_id for b in touching} - {None})
    peak = max(units_at(touching, "gym", m)[0] for m in minutes(candidate.start, candidate.end))
    target(float(uses - peak))
    assert set(rules(check(candidate, sched, ALL_BLOCK))) == brute_force(candidate, sched)
