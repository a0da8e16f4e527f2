"""The day and week grids, and the pages built on them."""

from __future__ import annotations

from datetime import timedelta

from physioez.reception.services import appointments, book_queries, daybook, schedule_setup
from physioez.reception.services.slots import Slot
from tests.reception_fixtures import MONDAY, ZONE, at


def book(c, actor, patient, when, day=MONDAY, practitioner=None, **kw):
    return appointments.book(
        actor,
        Slot(
            patient_id=patient.id,
            practitioner_id=(practitioner or c.rao).id,
            type_id=c.physio.id,
            start=at(day, when),
            **kw,
        ),
        ZONE,
        override_reason=kw.pop("override", "") if kw else "",
    )


def entries(day=MONDAY):
    start, end = book_queries.local_day_span(day, ZONE)
    return book_queries.entries_between(start, end)


def test_day_grid_spans_rows_and_merges_overlaps(clinic, system_actor):
    schedule_setup.set_clash_rule(system_actor, "practitioner_busy", "warn")
    book(clinic, system_actor, clinic.asha, "10:00")
    appointments.book(
        system_actor,
        Slot(
            patient_id=clinic.ravi.id,
            practitioner_id=clinic.rao.id,
            type_id=clinic.physio.id,
            start=at(MONDAY, "10:30"),
            resource_ids=(),
        ),
        ZONE,
        override_reason="squeeze in",
    )
    hours = schedule_setup.hours_between([clinic.rao.id], MONDAY, MONDAY, ZONE)
    grid = daybook.build_grid(
        MONDAY, ZONE, [(clinic.rao.id, "Rao")], entries(), availability=hours.availability
    )
    column = grid.columns[0]
    row = next(i for i, t in enumerate(grid.times) if t == at(MONDAY, "10:00"))
    kind, block = grid.cell(column, row)
    # 10:00-10:45 and 10:30-11:15 overlap: one cell from 10:00 to 11:15 (5 rows).
    assert kind == "block" and block.rows == 5 and len(block.entries) == 2
    assert grid.cell(column, row + 1)[0] == "covered"
    assert grid.cell(column, row + 5)[0] == "free"
    lunch = next(i for i, t in enumerate(grid.times) if t == at(MONDAY, "13:15"))
    assert grid.cell(column, lunch)[0] == "off"


def test_week_grid_puts_each_day_in_its_column(clinic, system_actor):
    book(clinic, system_actor, clinic.asha, "10:00")
    book(clinic, system_actor, clinic.asha, "15:00", day=MONDAY + timedelta(days=2))
    start, _ = book_queries.local_day_span(MONDAY, ZONE)
    _, end = book_queries.local_day_span(MONDAY + timedelta(days=6), ZONE)
    found = book_queries.entries_between(start, end, [clinic.rao.id])
    hours = schedule_setup.hours_between([clinic.rao.id], MONDAY, MONDAY + timedelta(days=6), ZONE)
    grid = daybook.build_week(MONDAY, ZONE, found, hours.availability[clinic.rao.id])
    assert [c.key for c in grid.columns][:3] == [
        MONDAY.isoformat(),
        (MONDAY + timedelta(days=1)).isoformat(),
        (MONDAY + timedelta(days=2)).isoformat(),
    ]
    placed = {
        c.key: [
            b.entries[0].appointment.start_at.astimezone(grid.times[0].tzinfo).strftime("%H:%M")
            for b in c.blocks.values()
        ]
        for c in grid.columns
    }
    assert placed[MONDAY.isoformat()] == ["10:00"]
    assert placed[(MONDAY + timedelta(days=2)).isoformat()] == ["15:00"]
    saturday = grid.columns[5]
    ten = next(i for i, t in enumerate(grid.times) if t.strftime("%H:%M") == "10:00")
    assert grid.cell(saturday, ten)[0] == "off"


def test_book_pages(clinic, client_for, system_actor):
    book(clinic, system_actor, clinic.asha, "10:00")
    desk = client_for("receptionist")
    day = desk.get(f"/reception/book?day={MONDAY.isoformat()}").data
    assert b"Asha Test" in day and b"data-live-region" in day and b'rowspan="3"' in day
    rooms = desk.get(f"/reception/book?day={MONDAY.isoformat()}&view=rooms").data
    assert b"Room 1" in rooms and b"Asha Test" in rooms
    week = desk.get(
        f"/reception/week?start={MONDAY.isoformat()}&practitioner_id={clinic.rao.id}"
    ).data
    assert b"Asha Test" in week and MONDAY.strftime("%a %d %b").encode() in week
    assert desk.get("/reception/book?day=not-a-date").status_code == 422


def test_today_board_lanes(clinic, client_for, system_actor):
    from physioez.reception.views.patients import branch_today

    with client_for("receptionist").application.app_context():
        today = branch_today()
    schedule_setup.add_exception(
        system_actor, clinic.rao, day=today, kind="extra", start_time="00:00", end_time="23:55"
    )
    waiting = book(clinic, system_actor, clinic.asha, "00:05", day=today, resource_ids=())
    appointments.set_status(system_actor, waiting, "arrived")
    book(clinic, system_actor, clinic.ravi, "01:00", day=today, resource_ids=())
    board = client_for("receptionist").get("/reception/today").data.decode()
    arrived_lane = board.split('id="lane-arrived"')[1].split("</section>")[0]
    expected_lane = board.split('id="lane-expected"')[1].split("</section>")[0]
    assert "Asha Test" in arrived_lane and "Ravi Test" in expected_lane
    assert "Late" in expected_lane and "Check in" in expected_lane
