"""A room's week: which bookings use it, how much of its capacity is taken, and its page."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from physioez.reception.services import appointments, book_queries, daybook
from physioez.reception.services.slots import Slot
from tests.reception_fixtures import MONDAY, ZONE, at

TUESDAY = MONDAY + timedelta(days=1)
WEDNESDAY = MONDAY + timedelta(days=2)
THURSDAY = MONDAY + timedelta(days=3)


def book(
    clinic, actor, patient, practitioner, day, clock, *, type_=None, resources=None, override=""
):
    """A booking; ``resources`` replaces the type's own rooms (the gym instead of Room 1)."""
    return appointments.book(
        actor,
        Slot(
            patient_id=patient.id,
            practitioner_id=practitioner.id,
            type_id=(type_ or clinic.physio).id,
            start=at(day, clock),
            resource_ids=None if resources is None else tuple(r.id for r in resources),
        ),
        ZONE,
        override_reason=override,
    )


def gym_week(clinic) -> daybook.ResourceWeek:
    start, _ = book_queries.local_day_span(MONDAY, ZONE)
    _, end = book_queries.local_day_span(MONDAY + timedelta(days=6), ZONE)
    return daybook.build_resource_week(
        MONDAY,
        ZONE,
        clinic.gym.id,
        clinic.gym.capacity,
        book_queries.entries_between(start, end),
    )


def cell(week: daybook.ResourceWeek, day, clock: str) -> daybook.ResourceCell:
    row = next(i for i, t in enumerate(week.times) if f"{t:%H:%M}" == clock)
    return week.cells[row][week.days.index(day)]


def names(found: daybook.ResourceCell) -> list[str]:
    return [entry.patient.full_name for use in found.starting for entry in use]


def test_use_is_counted_per_quarter_hour_up_to_the_capacity(clinic, system_actor):
    # The gym holds two: Rao 10:00-10:45 and Iyer 10:30-11:15 fill it from 10:30 to 10:45.
    book(clinic, system_actor, clinic.asha, clinic.rao, MONDAY, "10:00", resources=[clinic.gym])
    book(clinic, system_actor, clinic.ravi, clinic.iyer, MONDAY, "10:30", resources=[clinic.gym])
    week = gym_week(clinic)
    assert week.capacity == 2
    uses = {
        clock: (cell(week, MONDAY, clock).in_use, cell(week, MONDAY, clock).full)
        for clock in ("09:45", "10:00", "10:15", "10:30", "10:45", "11:00", "11:15")
    }
    assert uses == {
        "09:45": (0, False),
        "10:00": (1, False),
        "10:15": (1, False),
        "10:30": (2, True),
        "10:45": (1, False),  # Rao's ends at 10:45: back to back is not together
        "11:00": (1, False),
        "11:15": (0, False),
    }
    assert names(cell(week, MONDAY, "10:00")) == ["Asha Test"]
    assert names(cell(week, MONDAY, "10:30")) == ["Ravi Test"]
    assert names(cell(week, MONDAY, "10:15")) == []  # a booking is listed where it starts
    assert cell(week, TUESDAY, "10:30").in_use == 0  # each day is its own column


def test_two_bookings_in_one_quarter_hour_but_never_together_use_one_place(clinic, system_actor):
    # 10:05-10:50 then 10:50-11:35: both in the 10:45 row, back to back, never together.
    book(clinic, system_actor, clinic.asha, clinic.rao, WEDNESDAY, "10:05", resources=[clinic.gym])
    book(clinic, system_actor, clinic.ravi, clinic.iyer, WEDNESDAY, "10:50", resources=[clinic.gym])
    week = gym_week(clinic)
    quarter = cell(week, WEDNESDAY, "10:45")
    assert (quarter.in_use, quarter.full) == (1, False)
    assert names(quarter) == ["Ravi Test"]
    assert names(cell(week, WEDNESDAY, "10:00")) == ["Asha Test"]


def test_a_group_class_uses_the_room_once_however_many_seats(clinic, system_actor):
    for patient in (clinic.asha, clinic.ravi, clinic.meena):
        book(clinic, system_actor, patient, clinic.rao, TUESDAY, "10:00", type_=clinic.class_type)
    week = gym_week(clinic)
    ten = cell(week, TUESDAY, "10:00")
    assert len(ten.starting) == 1  # one card for the class, its seats inside
    assert sorted(names(ten)) == ["Asha Test", "Meena Test", "Ravi Test"]
    assert (ten.in_use, ten.full) == (1, False)
    assert cell(week, TUESDAY, "10:45").in_use == 1 and cell(week, TUESDAY, "11:00").in_use == 0


def test_bookings_of_other_rooms_and_cancelled_ones_are_left_out(clinic, system_actor):
    book(clinic, system_actor, clinic.asha, clinic.rao, MONDAY, "12:00")  # Room 1, its type's
    cancelled = book(
        clinic, system_actor, clinic.ravi, clinic.iyer, THURSDAY, "10:00", resources=[clinic.gym]
    )
    appointments.cancel(system_actor, cancelled, "patient unwell", 24)
    both = book(
        clinic,
        system_actor,
        clinic.meena,
        clinic.rao,
        THURSDAY,
        "12:00",
        resources=[clinic.room1, clinic.gym],
    )
    week = gym_week(clinic)
    listed = [
        e.appointment.id
        for row in week.cells
        for found in row
        for use in found.starting
        for e in use
    ]
    assert listed == [both.id]  # the one using the gym among others is in
    assert all(
        found.in_use == 0 for found in (cell(week, MONDAY, "12:00"), cell(week, THURSDAY, "10:00"))
    )
    assert cell(week, THURSDAY, "12:00").in_use == 1


def test_a_no_show_is_listed_but_frees_the_room(clinic, system_actor):
    missed = book(
        clinic, system_actor, clinic.asha, clinic.rao, THURSDAY, "11:00", resources=[clinic.room1]
    )
    appointments.set_status(system_actor, missed, "no_show")
    start, _ = book_queries.local_day_span(MONDAY, ZONE)
    _, end = book_queries.local_day_span(MONDAY + timedelta(days=6), ZONE)
    week = daybook.build_resource_week(
        MONDAY, ZONE, clinic.room1.id, 1, book_queries.entries_between(start, end)
    )
    eleven = cell(week, THURSDAY, "11:00")
    assert names(eleven) == ["Asha Test"]
    assert (eleven.in_use, eleven.full) == (0, False)  # the clash engine lets it be booked again


def test_the_rows_widen_to_show_an_early_booking_on_any_day(clinic, system_actor):
    week = gym_week(clinic)
    assert f"{week.times[0]:%H:%M}" == "08:00" and f"{week.times[-1]:%H:%M}" == "19:45"
    book(
        clinic,
        system_actor,
        clinic.asha,
        clinic.rao,
        WEDNESDAY,
        "06:40",
        resources=[clinic.gym],
        override="before clinic hours",
    )
    week = gym_week(clinic)
    assert f"{week.times[0]:%H:%M}" == "06:00"
    assert names(cell(week, WEDNESDAY, "06:30")) == ["Asha Test"]
    assert cell(week, WEDNESDAY, "07:15").in_use == 1 and cell(week, MONDAY, "07:15").in_use == 0


# --- the page ---------------------------------------------------------------------------------


def room_week_url(resource=None, start=MONDAY) -> str:
    url = f"/reception/week?view=rooms&start={start.isoformat()}"
    return url + (f"&resource_id={resource.id}" if resource else "")


def slot_links(page: str) -> dict[str, str]:
    """Each booking link of a free cell: its spoken label -> where it goes."""
    return {
        label: html.unescape(href)
        for href, label in re.findall(
            r'<a class="slot-link" href="([^"]+)" aria-label="([^"]+)"', page
        )
    }


def test_room_week_page_shows_the_rooms_bookings_and_books_a_free_cell(
    clinic, client_for, system_actor
):
    book(clinic, system_actor, clinic.asha, clinic.rao, MONDAY, "10:00", resources=[clinic.gym])
    book(clinic, system_actor, clinic.ravi, clinic.iyer, MONDAY, "10:30", resources=[clinic.gym])
    book(clinic, system_actor, clinic.meena, clinic.rao, MONDAY, "12:00")  # Room 1
    desk = client_for("receptionist")

    answer = desk.get(room_week_url(clinic.gym))
    assert answer.status_code == 200
    page = answer.data.decode()
    assert "Gym: week of 16 Nov 2026" in page and "data-live-region" in page
    assert "Asha Test" in page and "Ravi Test" in page and "Meena Test" not in page
    assert "2 of 2 in use · full" in page and "1 of 2 in use" in page
    links = slot_links(page)
    assert "Book Gym on Mon 16 Nov at 10:30" not in links  # full: nothing to offer
    assert links["Book Gym on Mon 16 Nov at 10:15"]  # one place left
    free = links["Book Gym on Tue 17 Nov at 11:15"]
    assert free == "/reception/appointments/new?date=2026-11-17&time=11:15"
    form = desk.get(free).data.decode()
    assert 'name="date" type="date" value="2026-11-17"' in form
    assert 'name="time" type="time" step="300" value="11:15"' in form

    # The switch back, and the room list in the chooser (the gym chosen).
    assert f'href="/reception/week?start={MONDAY.isoformat()}">By practitioner</a>' in page
    assert re.search(rf'<option value="{clinic.gym.id}" selected>Gym \(2 at once\)', page)

    room1 = desk.get(room_week_url(clinic.room1)).data.decode()
    assert "Meena Test" in room1 and "Asha Test" not in room1


def test_room_week_page_picks_the_first_room_and_refuses_an_unknown_one(clinic, client_for):
    desk = client_for("receptionist")
    first = desk.get(room_week_url()).data.decode()
    assert "Gym: week of" in first  # rooms before equipment, each by name
    assert (
        desk.get(room_week_url().replace("view=rooms", "view=rooms&resource_id=nope")).status_code
        == 404
    )


def test_the_practitioner_week_and_the_room_day_switch_to_the_room_week(clinic, client_for):
    desk = client_for("receptionist")
    week = desk.get(f"/reception/week?start={MONDAY.isoformat()}&practitioner_id={clinic.rao.id}")
    assert f'href="/reception/week?start={MONDAY.isoformat()}&amp;view=rooms">By room</a>' in (
        week.data.decode()
    )
    day = desk.get(f"/reception/book?day={MONDAY.isoformat()}&view=rooms").data.decode()
    assert f'href="/reception/week?start={MONDAY.isoformat()}&amp;view=rooms">Week</a>' in day


@pytest.mark.parametrize("role", ["therapist", "receptionist"])
def test_room_week_is_readable_by_whoever_reads_the_book(clinic, client_for, role):
    answer = client_for(role).get(room_week_url(clinic.gym))
    assert answer.status_code == 200
    # Only a role that may book is offered the booking links.
    assert ("slot-link" in answer.data.decode()) == (role == "receptionist")
