"""The appointment book pages: the day grid, the week (by practitioner or by room) and the today
board. Booking and one appointment's page are in ``appointment``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import redirect, render_template, request, url_for
from markupsafe import Markup, escape

from physioez.core.kernel.bounds import Day
from physioez.core.kernel.errors import NotFound
from physioez.core.web.access import can, current_actor, requires
from physioez.core.web.boundary import validate_value
from physioez.core.web.branch import branch_timezone, branch_today
from physioez.reception.models import APPOINTMENT_STATUSES, Resource
from physioez.reception.services import book_queries, daybook, schedule_setup, scope
from physioez.reception.views import bp


def _day_arg(name: str = "day") -> date:
    text = request.args.get(name, "")
    return validate_value(Day, text, name) if text else branch_today()


def _active_resources() -> list[Resource]:
    """Rooms first, then equipment, each by name: the order of the by-room views."""
    return list(
        Resource.live()
        .where(Resource.active == True)  # noqa: E712
        .order_by(Resource.kind.desc(), Resource.name)
    )


@bp.get("/book")
@requires("reception.appointments.read")
def day_book():
    day = _day_arg()
    by_room = request.args.get("view") == "rooms"
    can_book = can("reception.appointments.write")
    may_change = scope.diary_check(current_actor())
    start, end = book_queries.local_day_span(day, branch_timezone())
    entries = [
        e for e in book_queries.entries_between(start, end) if e.appointment.status != "cancelled"
    ]
    if by_room:
        rooms = _active_resources()
        columns = [(r.id, f"{r.name} ({r.capacity})" if r.capacity > 1 else r.name) for r in rooms]
        # An appointment shows under the first room or equipment it uses.
        column_of = {
            e.appointment.id: e.appointment.resource_ids[0]
            for e in entries
            if e.appointment.resource_ids
        }
        grid = daybook.build_grid(
            day,
            branch_timezone(),
            columns,
            [e for e in entries if e.appointment.id in column_of],
            column_of=column_of,
        )
    else:
        practitioners = schedule_setup.active_practitioners()
        hours = schedule_setup.hours_between(
            [p.id for p in practitioners], day, day, branch_timezone()
        )
        grid = daybook.build_grid(
            day,
            branch_timezone(),
            [(p.id, p.display_name) for p in practitioners],
            entries,
            availability=hours.availability,
        )
    return render_template(
        "reception/day_book.html",
        grid=grid,
        day=day,
        by_room=by_room,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        today=branch_today(),
        statuses=APPOINTMENT_STATUSES,
        can_book=can_book,
        may_change=may_change,
        empty_cell=_empty_cells(
            grid, day, linkable=lambda key: can_book and not by_room and may_change(key)
        ),
    )


def _empty_cells(grid: daybook.DayGrid, day: date, *, linkable: Callable[[str], bool]):
    """A function drawing one free or off-hours cell, its HTML prepared once per column;
    ``linkable(column key)``: whether that column's free cells offer a booking link.

    A busy branch's day has well over a thousand empty cells; drawing each with template
    expressions was most of the page's time.
    """
    shapes = {}
    for column in grid.columns:
        key = escape(column.key)
        if linkable(column.key):
            url = escape(
                url_for("reception.booking_new", practitioner_id=column.key, date=day.isoformat())
            )
            link = (
                f'<a class="slot-link" href="{url}&amp;time={{clock}}" '
                f'aria-label="Book {escape(column.title)} at {{clock}}">+</a>'
            )
        else:
            link = ""
        for kind, css in (("free", "free"), ("off", "off-hours")):
            shapes[(column.key, kind)] = (
                f'<td class="{css}" data-slot="{key} {{clock}}">{link}</td>'
            )

    def draw(column: daybook.Column, kind: str, clock: str) -> Markup:
        return Markup(shapes[(column.key, kind)].format(clock=clock))  # noqa: S704 - escaped above

    return draw


@bp.get("/week")
@requires("reception.appointments.read")
def week_book():
    day = _day_arg("start")
    monday = day - timedelta(days=day.weekday())
    if request.args.get("view") == "rooms":
        return _resource_week(monday)
    practitioners = schedule_setup.active_practitioners()
    if not practitioners:
        return redirect(url_for("reception.day_book"))
    chosen_id = request.args.get("practitioner_id") or practitioners[0].id
    practitioner = schedule_setup.get_practitioner(chosen_id)
    start, end = _week_span(monday)
    entries = [
        e
        for e in book_queries.entries_between(start, end, [practitioner.id])
        if e.appointment.status != "cancelled"
    ]
    hours = schedule_setup.hours_between(
        [practitioner.id], monday, monday + timedelta(days=6), branch_timezone()
    )
    grid = daybook.build_week(
        monday, branch_timezone(), entries, hours.availability.get(practitioner.id, [])
    )
    values = _week_page_values(monday)
    values["can_book"] = values["can_book"] and scope.diary_check(current_actor())(practitioner.id)
    return render_template(
        "reception/week_book.html",
        by_room=False,
        grid=grid,
        practitioner=practitioner,
        practitioners=practitioners,
        **values,
    )


def _resource_week(monday: date):
    """One room's or machine's week, for ``week_book?view=rooms&resource_id=…``."""
    resources = _active_resources()
    wanted = request.args.get("resource_id")
    resource = next((r for r in resources if r.id == wanted), None) if wanted else None
    if wanted and resource is None:
        raise NotFound("No such room or equipment.")
    resource = resource or (resources[0] if resources else None)
    week = None
    if resource is not None:
        start, end = _week_span(monday)
        # The whole branch's week, filtered by the grid: the book has no by-resource read.
        week = daybook.build_resource_week(
            monday,
            branch_timezone(),
            resource.id,
            resource.capacity,
            book_queries.entries_between(start, end),
        )
    return render_template(
        "reception/week_book.html",
        by_room=True,
        week=week,
        zone=ZoneInfo(branch_timezone()),
        resource=resource,
        resources=resources,
        **_week_page_values(monday),
    )


def _week_span(monday: date) -> tuple[datetime, datetime]:
    start, _ = book_queries.local_day_span(monday, branch_timezone())
    _, end = book_queries.local_day_span(monday + timedelta(days=6), branch_timezone())
    return start, end


def _week_page_values(monday: date) -> dict:
    """What both week pages show around their grid."""
    return {
        "monday": monday,
        "previous_week": monday - timedelta(days=7),
        "next_week": monday + timedelta(days=7),
        "statuses": APPOINTMENT_STATUSES,
        "can_book": can("reception.appointments.write"),
    }


# The board's columns, in the order a patient moves through the day.
BOARD = (
    ("expected", "Expected", ("booked", "confirmed")),
    ("arrived", "Arrived, waiting", ("arrived",)),
    ("in_session", "In session", ("in_session",)),
    ("done", "Done", ("completed", "no_show")),
)


@bp.get("/today")
@requires("reception.appointments.read")
def today():
    day = branch_today()
    start, end = book_queries.local_day_span(day, branch_timezone())
    entries = book_queries.entries_between(start, end)
    now = datetime.now(ZoneInfo(branch_timezone()))
    lanes = []
    for key, title, wanted in BOARD:
        lane = [e for e in entries if e.appointment.status in wanted]
        lanes.append((key, title, lane))
    late = {
        e.appointment.id
        for e in entries
        if e.appointment.status in ("booked", "confirmed") and e.appointment.start_at < now
    }
    return render_template(
        "reception/today.html",
        lanes=lanes,
        late=late,
        day=day,
        zone=ZoneInfo(branch_timezone()),
        statuses=APPOINTMENT_STATUSES,
        may_change=scope.diary_check(current_actor()),
    )
