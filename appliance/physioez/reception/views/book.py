"""The appointment book pages: the day grid, booking (single and series), an appointment,
and the today board. Times in forms are the branch's local wall-clock times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from physioez.core.kernel.bounds import BookingStart, Day, local_moment
from physioez.core.kernel.errors import InvalidInput, NotFound, ServiceError
from physioez.core.web.access import can, current_actor, requires
from physioez.core.web.boundary import bounds, parse_form, validate_value
from physioez.core.web.branch import branch_timezone, branch_today, current_settings
from physioez.reception.api import schemas
from physioez.reception.models import (
    APPOINTMENT_STATUSES,
    AppointmentType,
    Resource,
)
from physioez.reception.services import (
    appointments,
    daybook,
    patients,
    schedule_setup,
    scope,
    series,
)
from physioez.reception.services.appointments import ClashRefused
from physioez.reception.views import bp


def _day_arg(name: str = "day") -> date:
    text = request.args.get(name, "")
    return validate_value(Day, text, name) if text else branch_today()


def local_start(day_text: str, time_text: str) -> datetime:
    """A date and time typed at the desk, as an aware datetime in the branch's zone, held to
    the bookings window."""
    moment = local_moment(day_text, time_text, bounds())
    return validate_value(BookingStart, moment, "date")


def _types() -> list[AppointmentType]:
    return list(
        AppointmentType.live()
        .where(AppointmentType.active == True)  # noqa: E712
        .order_by(AppointmentType.name)
    )


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
    start, end = appointments.local_day_span(day, branch_timezone())
    entries = [
        e for e in appointments.entries_between(start, end) if e.appointment.status != "cancelled"
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
        for e in appointments.entries_between(start, end, [practitioner.id])
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
            appointments.entries_between(start, end),
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
    start, _ = appointments.local_day_span(monday, branch_timezone())
    _, end = appointments.local_day_span(monday + timedelta(days=6), branch_timezone())
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


def _booking_form(
    values,
    *,
    error: ServiceError | None = None,
    clashes=(),
    needs_override=False,
    preview=None,
    status: int = 200,
):
    query = values.get("q", "")
    chosen = None
    if values.get("patient_id"):
        try:
            chosen = patients.get_patient(values["patient_id"])
        except ServiceError:
            chosen = None
    return render_template(
        "reception/booking_form.html",
        values=values,
        found=patients.search(query, limit=10) if query and not chosen else [],
        chosen=chosen,
        practitioners=_changeable_practitioners(),
        types=_types(),
        error=error.message if error else None,
        problems=error.fields if error else {},
        clashes=clashes,
        needs_override=needs_override,
        preview=preview,
        weekdays=list(
            zip(("MO", "TU", "WE", "TH", "FR", "SA", "SU"), schedule_setup.WEEKDAYS, strict=True)
        ),
        today=branch_today(),
    ), status


def _changeable_practitioners() -> list:
    """The practitioners whose diaries the person may book into or move appointments to."""
    may_change = scope.diary_check(current_actor())
    return [p for p in schedule_setup.active_practitioners() if may_change(p.id)]


@bp.route("/appointments/new", methods=["GET", "POST"])
@requires("reception.appointments.write")
def booking_new():
    values = request.values
    if request.method == "GET":
        return _booking_form(values)
    try:
        if not values.get("patient_id"):
            raise InvalidInput("Find and choose the patient first.", field="patient_id")
        override = values.get("override_reason", "")
        if values.get("repeat") == "weekly":
            wanted = parse_form(schemas.SeriesIn)
            slot, rule = wanted.slot(), wanted.rule(branch_timezone())
            if values.get("step") != "confirm_series":
                return _booking_form(values, preview=series.preview(slot, rule))
            booked = series.book_series(
                current_actor(), slot, rule, skip=wanted.skip, override_reason=override
            )
            flash(f"Series booked: {len(booked)} sessions.", "success")
            return redirect(url_for("reception.appointment_detail", appointment_id=booked[0].id))
        appointment = appointments.book(
            current_actor(),
            parse_form(schemas.BookingIn).slot(),
            branch_timezone(),
            override_reason=override,
        )
    except ClashRefused as refused:
        return _booking_form(
            values,
            error=refused,
            clashes=refused.clashes,
            needs_override=refused.needs_override,
            status=409,
        )
    except ServiceError as exc:
        return _booking_form(values, error=exc, status=exc.status)
    flash("Appointment booked.", "success")
    return redirect(
        url_for(
            "reception.day_book",
            day=appointment.start_at.astimezone(ZoneInfo(branch_timezone())).date().isoformat(),
        )
    )


def _appointment_page(
    appointment,
    *,
    error: ServiceError | None = None,
    clashes=(),
    needs_override=False,
    moving: bool = False,
    status: int = 200,
):
    """The appointment's page; ``moving``: a refused move, its form as typed, its problems
    at their boxes."""
    zone = ZoneInfo(branch_timezone())
    return render_template(
        "reception/appointment_detail.html",
        appointment=appointment,
        may_change=scope.diary_check(current_actor())(appointment.practitioner_id),
        local_start=appointment.start_at.astimezone(zone),
        local_end=appointment.end_at.astimezone(zone),
        statuses=APPOINTMENT_STATUSES,
        next_statuses=appointments.next_statuses(appointment),
        practitioners=_changeable_practitioners(),
        error=error.message if error else None,
        move_values=request.form if moving else {},
        move_problems=error.fields if moving and error else {},
        clashes=clashes,
        needs_override=needs_override,
        today=branch_today(),
    ), status


@bp.get("/appointments/<appointment_id>")
@requires("reception.appointments.read")
def appointment_detail(appointment_id: str):
    return _appointment_page(appointments.get_appointment(appointment_id))


@bp.post("/appointments/<appointment_id>/status")
@requires("reception.attendance.write")
def appointment_status(appointment_id: str):
    appointment = appointments.get_appointment(appointment_id)
    try:
        appointments.set_status(current_actor(), appointment, request.form.get("status", ""))
    except ServiceError as exc:
        return _appointment_page(appointment, error=exc, status=exc.status)
    flash(
        f"{appointment.patient.full_name}: {APPOINTMENT_STATUSES[appointment.status]}.", "success"
    )
    if request.form.get("back") == "today":
        return redirect(url_for("reception.today"))
    return redirect(url_for("reception.appointment_detail", appointment_id=appointment.id))


@bp.post("/appointments/<appointment_id>/cancel")
@requires("reception.appointments.write")
def appointment_cancel(appointment_id: str):
    appointment = appointments.get_appointment(appointment_id)
    hours = current_settings().reception.late_cancel_hours
    try:
        if request.form.get("scope") == "following":
            count = series.cancel_following(
                current_actor(), appointment, request.form.get("reason", ""), hours
            )
            flash(f"{count} sessions of the series cancelled.", "success")
        else:
            appointments.cancel(current_actor(), appointment, request.form.get("reason", ""), hours)
            flash(
                "Appointment cancelled" + (" (late)." if appointment.late_cancel else "."),
                "success",
            )
    except ServiceError as exc:
        return _appointment_page(appointment, error=exc, status=exc.status)
    return redirect(url_for("reception.appointment_detail", appointment_id=appointment.id))


@bp.post("/appointments/<appointment_id>/reschedule")
@requires("reception.appointments.write")
def appointment_reschedule(appointment_id: str):
    appointment = appointments.get_appointment(appointment_id)
    try:
        wanted = parse_form(schemas.RescheduleIn)
        appointments.reschedule(
            current_actor(),
            appointment,
            start=wanted.start,
            practitioner_id=wanted.practitioner_id,
            timezone=branch_timezone(),
            override_reason=wanted.override_reason,
        )
    except ClashRefused as refused:
        return _appointment_page(
            appointment,
            error=refused,
            clashes=refused.clashes,
            needs_override=refused.needs_override,
            moving=True,
            status=409,
        )
    except ServiceError as exc:
        return _appointment_page(appointment, error=exc, moving=True, status=exc.status)
    flash("Appointment moved.", "success")
    return redirect(url_for("reception.appointment_detail", appointment_id=appointment.id))


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
    start, end = appointments.local_day_span(day, branch_timezone())
    entries = appointments.entries_between(start, end)
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
